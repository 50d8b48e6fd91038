//! Renderers: one module per output format, each a [`Renderer`] of the three documents
//! scan-bench shows (a run, a comparison of runs, a gate's verdict).
//!
//! Every section of those documents (the run line and its alerts, the request counts, the
//! latency and stage tables, client against server, thresholds, the gate, the environment,
//! the runs of a comparison) is built once, as format-neutral data (`document`), by
//! `sections`; the terminal, Markdown and HTML renderers each write that data in their own
//! syntax. What only one format has stays in its module: the HTML page's cards and charts
//! (`charts`, drawn by `svg`), JUnit's testcases, JSON's serialized report.
//!
//! For pages drawn elsewhere in the same style, [`LineChart`] (a builder of one inline SVG line
//! chart, with an optional marked x range), its [`Ticks`] and the [`CHART_STYLE`] a page needs
//! for it are public.
//!
//! ```no_run
//! use reports::render::Format;
//!
//! let report = reports::RunReport::read("out/report.json".as_ref())?;
//! let html = Format::Html.renderer().run(&report, None);
//! reports::write_atomic(&std::path::Path::new("out").join(Format::Html.file_name()), html.as_bytes())?;
//! # Ok::<(), reports::ReportError>(())
//! ```

mod charts;
mod document;
mod html;
mod json;
mod junit;
mod markdown;
mod sections;
mod svg;
pub mod sweep;
mod terminal;

pub use html::Html;
pub use json::Json;
pub use junit::Junit;
pub use markdown::{Markdown, cell as markdown_cell};
pub use svg::{CHART_STYLE, LineChart, Ticks};
pub use terminal::Terminal;

use scenarios::Timing;

use crate::compare::{Comparison, Delta, Direction, Unit};
use crate::gate::GateVerdict;
use crate::histogram::Summary;
use crate::report::RunReport;

/// Turns scan-bench's documents into one output format.
pub trait Renderer {
    /// A run's report, with the gate's verdict when the run was gated.
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String;
    /// Runs side by side; `None` when the format has no place for a comparison (JUnit).
    fn comparison(&self, comparison: &Comparison) -> Option<String>;
    /// A gate's verdict on its own.
    fn gate(&self, verdict: &GateVerdict) -> String;
}

/// A format that writes the shared documents and has nothing of its own to add: each of
/// its renderings is [`sections`]' document, written.
trait DocumentFormat {
    /// The document in this format.
    fn write(&self, document: &document::Document) -> String;
}

impl<F: DocumentFormat> Renderer for F {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        self.write(&sections::run(report, gate).into_document())
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        Some(self.write(&sections::comparison(comparison)))
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        self.write(&sections::gate_document(verdict))
    }
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Tables for a terminal, like k6's end-of-test summary.
    Terminal,
    /// GitHub-flavoured Markdown, ready to paste into a pull request.
    Markdown,
    /// One self-contained HTML file with inline SVG charts.
    Html,
    /// JUnit XML: one testcase per threshold and gate check.
    Junit,
    /// JSON: the report, comparison or verdict itself.
    Json,
}

impl Format {
    /// The renderer of this format.
    pub fn renderer(self) -> &'static dyn Renderer {
        match self {
            Format::Terminal => &Terminal,
            Format::Markdown => &Markdown,
            Format::Html => &Html,
            Format::Junit => &Junit,
            Format::Json => &Json,
        }
    }

    /// The file a run's report in this format is written to, beside `report.json`.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Terminal => "report.txt",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
            Format::Junit => "junit.xml",
            Format::Json => "report.json",
        }
    }
}

/// The terminal summary of a run (shorthand for `Format::Terminal.renderer().run(report, None)`).
pub fn terminal(report: &RunReport) -> String {
    Terminal.run(report, None)
}

/// Milliseconds as text, with a unit a reader takes in at a glance.
pub(crate) fn ms(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 {
        "0".into()
    } else if magnitude >= 10_000.0 {
        format!("{:.2}s", value / 1000.0)
    } else if magnitude >= 100.0 {
        format!("{value:.0}ms")
    } else if magnitude >= 1.0 {
        format!("{value:.1}ms")
    } else {
        format!("{:.0}µs", value * 1000.0)
    }
}

/// Milliseconds with a sign.
pub(crate) fn signed_ms(value: f64) -> String {
    if value >= 0.0 {
        format!("+{}", ms(value))
    } else {
        format!("-{}", ms(-value))
    }
}

/// A fraction as a percentage.
pub(crate) fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A fraction as a signed percentage.
pub(crate) fn signed_pct(value: f64) -> String {
    format!("{:+.1}%", value * 100.0)
}

/// A value of a comparison row.
pub(crate) fn value(unit: Unit, value: Option<f64>) -> String {
    match value {
        None => "-".into(),
        Some(v) => match unit {
            Unit::Ms => ms(v),
            Unit::Count => format!("{v:.0}"),
            Unit::Ratio => pct(v),
            Unit::PerSecond => format!("{v:.2}/s"),
        },
    }
}

/// A comparison delta: absolute, relative, and a word for its direction.
pub(crate) fn delta(unit: Unit, d: Option<Delta>) -> String {
    let Some(d) = d else { return "-".into() };
    let absolute = match unit {
        Unit::Ms => signed_ms(d.absolute),
        Unit::Count => format!("{:+.0}", d.absolute),
        Unit::Ratio => format!("{:+.1}pp", d.absolute * 100.0),
        Unit::PerSecond => format!("{:+.2}/s", d.absolute),
    };
    let relative = d
        .relative
        .map(|r| format!(" ({})", signed_pct(r)))
        .unwrap_or_default();
    let word = match d.direction {
        Direction::Better => " better",
        Direction::Worse => " worse",
        Direction::Unchanged => "",
    };
    format!("{absolute}{relative}{word}")
}

/// How a check's interval reads.
pub(crate) fn interval(check: &crate::gate::Check) -> String {
    check.interval.map_or("-".into(), |i| {
        format!("{} .. {}", signed_ms(i.low), signed_ms(i.high))
    })
}

/// A threshold's observed value.
pub(crate) fn observed(value: Option<f64>) -> String {
    value.map_or("no data".into(), |v| {
        if v.abs() >= 100.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.3}")
        }
    })
}

/// A timing's summary, when the run measured any of it.
pub(crate) fn measured(report: &RunReport, timing: Timing) -> Option<Summary> {
    report
        .latency(timing)
        .map(|m| m.summary)
        .filter(|s| s.count > 0)
}

/// Text as HTML or XML character data or an attribute value (the two escape alike): the five
/// markup characters as references, and the control characters XML 1.0 cannot carry at all
/// replaced by U+FFFD.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(ms(0.25), "250µs");
        assert_eq!(ms(12.34), "12.3ms");
        assert_eq!(ms(231.4), "231ms");
        assert_eq!(ms(11_539.0), "11.54s");
        assert_eq!(signed_ms(-12.34), "-12.3ms");
        assert_eq!(signed_ms(0.5), "+500µs");
        assert_eq!(signed_pct(0.1), "+10.0%");
        assert_eq!(value(Unit::Ratio, Some(0.828)), "82.8%");
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape_html("p(95)<8000 & \"x\" 'y'"),
            "p(95)&lt;8000 &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(escape_html("a\u{1}b\tc"), "a\u{fffd}b\tc");
    }
}
