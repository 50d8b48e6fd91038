//! The documents scan-bench shows, as format-neutral data: sections of paragraphs, labelled
//! figures, alerts, lists and tables. [`super::sections`] builds them once; the terminal,
//! Markdown and HTML renderers each write them in their own syntax.

/// A whole document: a run, runs compared, a gate's verdict.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// What it is about (the scenario, `runs compared`); `None` when its first section says.
    pub title: Option<String>,
    /// Whether it passed, for a mark beside the title.
    pub passed: Option<bool>,
    pub sections: Vec<Section>,
}

/// A part of a document, under an optional heading.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Section {
    pub title: Option<String>,
    /// Whether what the section judges passed, for a mark beside its title.
    pub passed: Option<bool>,
    /// Reference material (the environment): Markdown folds it away and the terminal's
    /// summary leaves it out.
    pub reference: bool,
    pub blocks: Vec<Block>,
}

impl Section {
    /// A section without a heading.
    pub fn untitled(blocks: Vec<Block>) -> Self {
        Self {
            title: None,
            passed: None,
            reference: false,
            blocks,
        }
    }

    /// A section under a heading.
    pub fn titled(title: impl Into<String>, blocks: Vec<Block>) -> Self {
        Self {
            title: Some(title.into()),
            ..Self::untitled(blocks)
        }
    }
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A sentence or two.
    Paragraph(Text),
    /// A figure line: `label` in documents (`Load generator`), `short` in the terminal's
    /// column of labels (`loadgen`).
    Fact {
        label: &'static str,
        short: &'static str,
        text: Text,
    },
    /// What a reader must not miss: most scans failed, the load generator was overloaded.
    Alert(Text),
    /// Items, one a line.
    List(Vec<Text>),
    /// Reasons to doubt the figures.
    Warnings(Vec<String>),
    /// The gate's conclusion.
    Verdict {
        passed: bool,
        text: String,
    },
    Table(Table),
}

/// Inline text: plain runs, code (names, expressions) and emphasis.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Text(pub Vec<Span>);

/// A run of inline text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Span {
    Plain(String),
    /// A name or expression as written: a metric, a URL, a pointer.
    Code(String),
    Strong(String),
}

impl Text {
    /// Followed by plain text.
    pub fn plain(mut self, text: impl Into<String>) -> Self {
        self.0.push(Span::Plain(text.into()));
        self
    }

    /// Followed by a name or expression.
    pub fn code(mut self, text: impl Into<String>) -> Self {
        self.0.push(Span::Code(text.into()));
        self
    }

    /// Followed by emphasised text.
    pub fn strong(mut self, text: impl Into<String>) -> Self {
        self.0.push(Span::Strong(text.into()));
        self
    }

    /// The texts one after the other, `separator` between them.
    pub fn join(texts: impl IntoIterator<Item = Text>, separator: &str) -> Self {
        let mut joined = Text::default();
        for (i, text) in texts.into_iter().enumerate() {
            if i > 0 {
                joined = joined.plain(separator);
            }
            joined.0.extend(text.0);
        }
        joined
    }

    /// The text without markup, as a terminal shows it.
    pub fn to_plain(&self) -> String {
        self.0
            .iter()
            .map(|span| match span {
                Span::Plain(s) | Span::Code(s) | Span::Strong(s) => s.as_str(),
            })
            .collect()
    }
}

/// A table. Rows that carry a pass/fail mark show it in a column of marks (Markdown, HTML)
/// or in front of their last cell (terminal).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// Pass/fail rows that a terminal writes as check lines, k6's way:
    /// `✓ sse_ttfb p(95)<8000 (observed 154.3)`, the last column named in the parentheses.
    pub checklist: bool,
}

impl Table {
    /// A table of these columns, without rows yet.
    pub fn new(columns: impl IntoIterator<Item = Column>) -> Self {
        Self {
            columns: columns.into_iter().collect(),
            rows: Vec::new(),
            checklist: false,
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: impl IntoIterator<Item = Cell>) {
        self.rows.push(Row {
            passed: None,
            cells: cells.into_iter().collect(),
        });
    }

    /// Adds a row that passed or failed.
    pub fn marked_row(&mut self, passed: bool, cells: impl IntoIterator<Item = Cell>) {
        self.rows.push(Row {
            passed: Some(passed),
            cells: cells.into_iter().collect(),
        });
    }

    /// Whether the rows carry marks.
    pub fn marked(&self) -> bool {
        self.rows.iter().any(|r| r.passed.is_some())
    }
}

/// A column's heading and alignment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub title: String,
    /// Numbers, aligned right.
    pub numeric: bool,
}

impl Column {
    /// A column of words.
    pub fn text(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            numeric: false,
        }
    }

    /// A column of numbers.
    pub fn number(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            numeric: true,
        }
    }
}

/// A row of cells, with its mark when it passed or failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub passed: Option<bool>,
    pub cells: Vec<Cell>,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cell {
    pub text: String,
    /// A name or expression, shown as code.
    pub code: bool,
    pub tone: Tone,
}

/// How a value reads against a reference: comparisons colour their deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Neutral,
    Better,
    Worse,
}

impl Cell {
    /// A name or expression.
    pub fn code(text: impl Into<String>) -> Self {
        Self {
            code: true,
            ..Self::from(text.into())
        }
    }

    /// A value marked better or worse.
    pub fn toned(text: String, tone: Tone) -> Self {
        Self {
            tone,
            ..Self::from(text)
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Self {
            text,
            code: false,
            tone: Tone::Neutral,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Self::from(text.to_owned())
    }
}
