//! Renderers: one module per output format, each a function from a report to text.

mod terminal;

pub use terminal::terminal;

/// Milliseconds as text, with a unit a reader takes in at a glance.
pub(crate) fn ms(value: f64) -> String {
    if value >= 10_000.0 {
        format!("{:.2}s", value / 1000.0)
    } else if value >= 100.0 {
        format!("{value:.0}ms")
    } else if value >= 1.0 {
        format!("{value:.1}ms")
    } else {
        format!("{:.0}µs", value * 1000.0)
    }
}

/// A fraction as a percentage.
pub(crate) fn pct(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}
