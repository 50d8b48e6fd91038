//! GitHub-flavoured Markdown, ready to paste into a pull request or a CI job summary: the
//! shared sections under `##`/`###` headings, GFM tables, the environment folded away.

use std::fmt::Write;

use super::DocumentFormat;
use super::document::{Block, Cell, Document, Section, Span, Table, Text, Tone};

/// The Markdown renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl DocumentFormat for Markdown {
    /// Headings start at `##`: the page a report is pasted into has its own title.
    fn write(&self, document: &Document) -> String {
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
        let _ = writeln!(out, "{}\n", block(b));
    }
    if section.reference {
        let _ = writeln!(out, "</details>");
    }
}

/// A block's lines (a blank line follows each block).
fn block(block: &Block) -> String {
    match block {
        Block::Paragraph(t) => text(t),
        Block::Fact { label, text: t, .. } => format!("**{label}**: {}", text(t)),
        Block::Alert(t) => format!("> ⚠️ {}", text(t)),
        Block::List(items) => bullets(items.iter().map(text)),
        Block::Warnings(warnings) => {
            let items = warnings.iter().map(|w| format!("⚠️ {}", escape(w)));
            format!("**Warnings**\n\n{}", bullets(items))
        }
        Block::Verdict { text, .. } => format!("**{}**", escape(text)),
        Block::Table(t) => table(t),
    }
}

/// `- item` lines.
fn bullets(items: impl Iterator<Item = String>) -> String {
    items
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// ` ✅` or ` ❌`, when something was judged.
fn suffix(passed: Option<bool>) -> String {
    passed.map_or(String::new(), |p| format!(" {}", mark(p)))
}

fn mark(passed: bool) -> &'static str {
    if passed { "✅" } else { "❌" }
}

/// A GFM table; number columns are right-aligned, and marked rows get a column of marks.
fn table(table: &Table) -> String {
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
    let mut lines = vec![
        format!("| {} |", head.join(" | ")),
        format!("|{}|", align.join("|")),
    ];
    for row in &table.rows {
        let mut cells: Vec<String> = row.cells.iter().map(table_cell).collect();
        if marked {
            cells.insert(0, row.passed.map_or("", mark).to_owned());
        }
        lines.push(format!("| {} |", cells.join(" | ")));
    }
    lines.join("\n")
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
