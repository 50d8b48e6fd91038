//! GitHub-flavoured Markdown, ready to paste into a pull request or a CI job summary: the
//! shared sections under `##`/`###` headings, GFM tables, the environment folded away.

use std::fmt::Write;

use super::Renderer;
use super::document::{Block, Cell, Document, Section, Span, Table, Text, Tone};
use super::sections;
use crate::compare::Comparison;
use crate::gate::GateVerdict;
use crate::report::RunReport;

/// The Markdown renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Renderer for Markdown {
    fn run(&self, report: &RunReport, gate: Option<&GateVerdict>) -> String {
        write(&sections::run(report, gate).into_document())
    }

    fn comparison(&self, comparison: &Comparison) -> Option<String> {
        Some(write(&sections::comparison(comparison)))
    }

    fn gate(&self, verdict: &GateVerdict) -> String {
        write(&sections::gate_document(verdict))
    }
}

/// Headings start at `##`: the page a report is pasted into has its own title.
fn write(document: &Document) -> String {
    let mut out = String::new();
    let mut level = 2;
    if let Some(title) = &document.title {
        let _ = writeln!(
            out,
            "## scan-bench: {}{}\n",
            escape(title),
            suffix(document.passed)
        );
        level = 3;
    }
    for s in &document.sections {
        section(&mut out, s, level);
    }
    out
}

fn section(out: &mut String, section: &Section, level: usize) {
    if section.reference {
        let title = section.title.as_deref().unwrap_or("Details");
        let _ = writeln!(out, "<details><summary>{}</summary>\n", escape(title));
    } else if let Some(title) = &section.title {
        let hashes = "#".repeat(level);
        let _ = writeln!(
            out,
            "{hashes} {}{}\n",
            escape(title),
            suffix(section.passed)
        );
    }
    for b in &section.blocks {
        block(out, b);
    }
    if section.reference {
        let _ = writeln!(out, "</details>");
    }
}

fn block(out: &mut String, block: &Block) {
    match block {
        Block::Paragraph(t) => {
            let _ = writeln!(out, "{}\n", text(t));
        }
        Block::Fact { label, text: t, .. } => {
            let _ = writeln!(out, "**{label}**: {}\n", text(t));
        }
        Block::Alert(t) => {
            let _ = writeln!(out, "> ⚠️ {}\n", text(t));
        }
        Block::List(items) => {
            for item in items {
                let _ = writeln!(out, "- {}", text(item));
            }
            out.push('\n');
        }
        Block::Warnings(warnings) => {
            out.push_str("**Warnings**\n\n");
            for w in warnings {
                let _ = writeln!(out, "- ⚠️ {}", escape(w));
            }
            out.push('\n');
        }
        Block::Verdict { text, .. } => {
            let _ = writeln!(out, "**{}**\n", escape(text));
        }
        Block::Table(t) => table(out, t),
    }
}

/// ` ✅` or ` ❌`, when something was judged.
fn suffix(passed: Option<bool>) -> String {
    passed.map_or(String::new(), |p| format!(" {}", mark(p)))
}

fn mark(passed: bool) -> &'static str {
    if passed { "✅" } else { "❌" }
}

/// A GFM table; number columns are right-aligned, and marked rows get a column of marks.
fn table(out: &mut String, table: &Table) {
    let marked = table.marked();
    let mut head: Vec<String> = table.columns.iter().map(|c| cell(&c.title)).collect();
    let mut align: Vec<&str> = table
        .columns
        .iter()
        .map(|c| if c.numeric { "---:" } else { "---" })
        .collect();
    if marked {
        head.insert(0, String::new());
        align.insert(0, "---");
    }
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}|", align.join("|"));
    for row in &table.rows {
        let mut cells: Vec<String> = row.cells.iter().map(table_cell).collect();
        if marked {
            cells.insert(0, row.passed.map_or("", mark).to_owned());
        }
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

fn table_cell(c: &Cell) -> String {
    let text = if c.code {
        format!("`{}`", cell(&c.text))
    } else {
        cell(&c.text)
    };
    match c.tone {
        Tone::Better => format!("🟢 {text}"),
        Tone::Worse => format!("🔴 {text}"),
        Tone::Neutral => text,
    }
}

fn text(text: &Text) -> String {
    text.0
        .iter()
        .map(|span| match span {
            Span::Plain(s) => escape(s),
            Span::Code(s) => format!("`{s}`"),
            Span::Strong(s) => format!("**{}**", escape(s)),
        })
        .collect()
}

/// A Markdown table cell: pipes escaped, line breaks flattened.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Text outside code spans: characters Markdown would read as markup are escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
