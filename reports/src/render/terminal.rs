//! Terminal text in the spirit of k6's end-of-test summary: the shared sections as lines and
//! tables, thresholds as check lines with pass/fail marks; runs side by side; gate verdicts.

use std::fmt::Write;

use tabled::builder::Builder;
use tabled::settings::Style;

use super::DocumentFormat;
use super::document::{Block, Document, Section, Table};

/// The terminal renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terminal;

impl DocumentFormat for Terminal {
    /// The sections a blank line apart. No title line: the summary follows the command that
    /// named the scenario, and its first line is the run line.
    fn write(&self, document: &Document) -> String {
        let sections: Vec<String> = document
            .sections
            .iter()
            .filter(|s| !s.reference)
            .map(section)
            .collect();
        sections.join("\n")
    }
}

fn section(section: &Section) -> String {
    let mut out = String::new();
    if let Some(title) = &section.title {
        let mark = section
            .passed
            .map_or(String::new(), |p| format!(" {}", mark(p)));
        let _ = writeln!(out, "{title}{mark}");
    }
    for block in &section.blocks {
        match block {
            Block::Paragraph(text) | Block::Alert(text) => {
                let _ = writeln!(out, "{}", text.to_plain());
            }
            // A column of short labels: `requests  400 attempted, ...`.
            Block::Fact { short, text, .. } => {
                let _ = writeln!(out, "{short:<10}{}", text.to_plain());
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "  {}", item.to_plain());
                }
            }
            Block::Warnings(warnings) => {
                out.push_str("warnings\n");
                for w in warnings {
                    let _ = writeln!(out, "  ! {w}");
                }
            }
            Block::Verdict { text, .. } => {
                let _ = writeln!(out, "{text}");
            }
            Block::Table(table) if table.checklist => checklist(&mut out, table),
            Block::Table(table) => {
                let _ = writeln!(out, "{}", grid(table));
            }
        }
    }
    out
}

fn mark(passed: bool) -> &'static str {
    if passed { "✓" } else { "✗" }
}

/// A tabled grid; a marked row's mark leads its last cell (`✓ faster`).
fn grid(table: &Table) -> String {
    let mut b = Builder::default();
    b.push_record(table.columns.iter().map(|c| c.title.clone()));
    for row in &table.rows {
        let last = row.cells.len().saturating_sub(1);
        b.push_record(
            row.cells
                .iter()
                .enumerate()
                .map(|(i, cell)| match row.passed {
                    Some(passed) if i == last => format!("{} {}", mark(passed), cell.text),
                    _ => cell.text.clone(),
                }),
        );
    }
    let mut grid = b.build();
    grid.with(Style::sharp());
    grid.to_string()
}

/// `  ✓ sse_ttfb p(95)<8000 (observed 154.3)`: the mark, the cells, the last one named.
fn checklist(out: &mut String, table: &Table) {
    for row in &table.rows {
        let Some((last, names)) = row.cells.split_last() else {
            continue;
        };
        let names: Vec<&str> = names.iter().map(|c| c.text.as_str()).collect();
        let last_title = table.columns.last().map_or("", |c| c.title.as_str());
        let mark = row
            .passed
            .map_or(String::new(), |p| format!("{} ", mark(p)));
        let _ = writeln!(
            out,
            "  {mark}{} ({last_title} {})",
            names.join(" "),
            last.text
        );
    }
}
