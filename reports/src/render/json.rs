//! JSON: the report, comparison or verdict itself, pretty-printed.

use super::Renderer;
use crate::compare::Comparison;
use crate::gate::GateVerdict;
use crate::report::RunReport;

/// The JSON renderer. A run renders as the report alone (the `report.json` file); its gate
/// verdict, if any, renders on its own through [`Renderer::gate`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

fn pretty<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("reports serialize to JSON");
    text.push('\n');
    text
}

impl Renderer for Json {
    fn run(&self, report: &RunReport, _gate: Option<&GateVerdict>) -> String {
        pretty(report)
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        Some(pretty(comparison))
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        pretty(verdict)
    }
}
