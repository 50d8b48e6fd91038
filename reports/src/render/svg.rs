//! SVG charts for the HTML report, drawn by hand: line charts over time or over percentiles
//! and stacked horizontal bars. Plain inline SVG: no script, no font file, no external
//! resource, so the report renders offline and from a CI artifact.
//!
//! [`LineChart`] (built with [`LineChart::new`] and its methods), [`Ticks`] and
//! [`CHART_STYLE`] are public, for pages drawn outside this crate (`scan-bench reproduce`'s
//! dashboards) in the same style as the run report's charts.

use std::fmt::Write;

use super::{escape_html, ms};

/// A colour-blind-safe palette (Okabe and Ito).
pub(crate) const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999",
];

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 40.0;
const LEFT: f64 = 64.0;
/// The height of each legend row after the first.
const LEGEND_ROW: f64 = 16.0;

/// The CSS the charts' text classes need (title, ticks, legend, axis titles, band labels):
/// a page that shows a [`LineChart`] puts it in its `<style>`, as the run report's page does.
/// Kept apart from the SVG so a page with many charts carries it once.
pub const CHART_STYLE: &str = "
svg.chart { width: 100%; height: auto; border: 1px solid #eee; border-radius: 6px; background: #fff; }
svg .title { font-size: 14px; font-weight: 600; }
svg .tick, svg .legend, svg .axis { font-size: 11px; fill: #444; }
svg .label { font-size: 12px; fill: #222; }
svg .inbar { font-size: 11px; fill: #fff; }
svg .marked { font-size: 11px; fill: #555; }
";

/// How an axis labels its ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ticks {
    /// Milliseconds (`250µs`, `12.3ms`, `1.50s`).
    Ms,
    /// Plain numbers.
    Number,
    /// Seconds of a run (`30s`).
    Seconds,
    /// "Nines" of a percentile: 0 is 0 %, 1 is 90 %, 2 is 99 %, 3 is 99.9 %.
    Nines,
}

impl Ticks {
    fn label(self, v: f64) -> String {
        match self {
            Ticks::Ms => ms(v),
            Ticks::Number if v.abs() >= 1000.0 || v == v.trunc() => format!("{v:.0}"),
            Ticks::Number => format!("{v:.1}"),
            Ticks::Seconds => format!("{v:.0}s"),
            Ticks::Nines => {
                let p = 100.0 * (1.0 - 10f64.powf(-v));
                let digits = (v - 2.0).max(0.0).ceil() as usize;
                format!("{p:.digits$}%")
            }
        }
    }
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub name: String,
    pub color: &'static str,
    /// (x, y); `None` leaves a gap.
    pub points: Vec<(f64, Option<f64>)>,
    /// Plotted against the right axis.
    pub right: bool,
    pub dashed: bool,
}

/// A line chart with one or two y axes, written as one inline `<svg>` element.
///
/// Outside this crate it is built with [`LineChart::new`] and its methods: one left axis, lines
/// coloured in turn from a colour-blind-safe palette, and optionally an x range marked as a
/// shaded, labelled band (the part of a run a published figure was read from).
///
/// ```
/// use reports::render::{LineChart, Ticks};
///
/// let svg = LineChart::new("Active Connections")
///     .x_axis(Ticks::Seconds, "seconds since the load's start")
///     .y_axis(Ticks::Number, "connections")
///     .line("active", [(0.0, 0.0), (15.0, 7.0), (30.0, 10.0)])
///     .mark_x(0.0, 20.0, "published window")
///     .svg();
/// assert!(svg.starts_with("<svg") && svg.contains("published window"));
/// ```
#[derive(Debug, Clone)]
pub struct LineChart {
    pub(crate) title: String,
    pub(crate) x_ticks: Ticks,
    pub(crate) x_label: String,
    pub(crate) y_ticks: Ticks,
    pub(crate) y_label: String,
    /// The right axis, when some series use it.
    pub(crate) y2: Option<(Ticks, String)>,
    /// Logarithmic left axis (latency distributions span decades).
    pub(crate) log_y: bool,
    pub(crate) series: Vec<Series>,
    /// An x range shaded behind the lines, with its label.
    pub(crate) marked: Option<Marked>,
}

/// An x range of a chart shaded behind its lines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marked {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

impl LineChart {
    /// An empty chart under `title`: plain-number axes without titles, no lines yet.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            x_ticks: Ticks::Number,
            x_label: String::new(),
            y_ticks: Ticks::Number,
            y_label: String::new(),
            y2: None,
            log_y: false,
            series: Vec::new(),
            marked: None,
        }
    }

    /// How the x axis labels its ticks, and its title.
    pub fn x_axis(mut self, ticks: Ticks, label: impl Into<String>) -> Self {
        self.x_ticks = ticks;
        self.x_label = label.into();
        self
    }

    /// How the (left) y axis labels its ticks, and its title.
    pub fn y_axis(mut self, ticks: Ticks, label: impl Into<String>) -> Self {
        self.y_ticks = ticks;
        self.y_label = label.into();
        self
    }

    /// Adds a solid line of `(x, y)` points, named in the legend, in the palette's next
    /// colour. Non-finite values leave a gap.
    pub fn line(
        mut self,
        name: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Self {
        let color = PALETTE[self.series.len() % PALETTE.len()];
        self.series.push(Series {
            name: name.into(),
            color,
            points: points
                .into_iter()
                .map(|(x, y)| (x, y.is_finite().then_some(y)))
                .collect(),
            right: false,
            dashed: false,
        });
        self
    }

    /// Shades the x range `from..=to` behind the lines and writes `label` at its top; the x
    /// axis widens to show all of it.
    pub fn mark_x(mut self, from: f64, to: f64, label: impl Into<String>) -> Self {
        self.marked = Some(Marked {
            from: from.min(to),
            to: from.max(to),
            label: label.into(),
        });
        self
    }

    /// The chart as an `<svg class="chart">` element, its text escaped; [`CHART_STYLE`]
    /// styles it.
    pub fn svg(&self) -> String {
        let right_margin = if self.y2.is_some() { 64.0 } else { 24.0 };
        let entries: Vec<_> = self
            .series
            .iter()
            .map(|s| (s.name.as_str(), s.color, s.dashed))
            .collect();
        // A legend too wide for one row takes more, and the chart grows by them.
        let extra = legend_extra_height(&entries);
        let height = HEIGHT + extra;
        let plot = Rect {
            x: LEFT,
            y: TOP + extra,
            w: WIDTH - LEFT - right_margin,
            h: HEIGHT - TOP - BOTTOM,
        };
        let axes = self.axes();
        let mut out = open_svg(&self.title, height);
        self.ticks(&mut out, &plot, &axes);
        if let Some(marked) = &self.marked {
            band(&mut out, marked, &plot, &axes.x);
        }
        self.axis_titles(&mut out, &plot, height);
        for s in &self.series {
            let y_axis = match (&axes.y2, s.right) {
                (Some(y2), true) => y2,
                _ => &axes.y,
            };
            line(&mut out, s, &plot, &axes.x, y_axis);
        }
        legend(&mut out, &entries);
        out.push_str("</svg>\n");
        out
    }

    /// The axes the series span.
    fn axes(&self) -> Axes {
        let marked = self.marked.iter().flat_map(|m| [m.from, m.to]);
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(marked);
        let (x_min, x_max) = bounds(xs).unwrap_or((0.0, 1.0));
        let x = if self.x_ticks == Ticks::Nines {
            // The curve ends where the sample count stops resolving percentiles.
            let top = x_max.max(1.0);
            Axis::linear(0.0, top, (0..=top.floor() as i32).map(f64::from).collect())
        } else {
            Axis::nice(x_min.min(0.0), x_max)
        };
        let ys = |right: bool| {
            self.series
                .iter()
                .filter(move |s| s.right == right)
                .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        };
        let y = match bounds(ys(false)) {
            Some((lo, hi)) if self.log_y => Axis::log(lo, hi),
            Some((_, hi)) => Axis::nice(0.0, hi),
            None => Axis::nice(0.0, 1.0),
        };
        let y2 = self
            .y2
            .as_ref()
            .map(|_| Axis::nice(0.0, bounds(ys(true)).map_or(1.0, |b| b.1)));
        Axes { x, y, y2 }
    }

    /// The grid with the left ticks, the right ticks, the x ticks and the plot's frame.
    fn ticks(&self, out: &mut String, plot: &Rect, axes: &Axes) {
        for &t in &axes.y.ticks {
            let y = plot.y + plot.h - axes.y.fraction(t) * plot.h;
            let _ = writeln!(
                out,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
                plot.x,
                plot.x + plot.w,
                plot.x - 6.0,
                y + 4.0,
                escape_html(&self.y_ticks.label(t))
            );
        }
        if let (Some(axis), Some((ticks, _))) = (&axes.y2, &self.y2) {
            for &t in &axis.ticks {
                let y = plot.y + plot.h - axis.fraction(t) * plot.h;
                let _ = writeln!(
                    out,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="start" class="tick">{}</text>"#,
                    plot.x + plot.w + 6.0,
                    y + 4.0,
                    escape_html(&ticks.label(t))
                );
            }
        }
        for &t in &axes.x.ticks {
            let x = plot.x + axes.x.fraction(t) * plot.w;
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#666"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
                plot.y + plot.h,
                plot.y + plot.h + 4.0,
                plot.y + plot.h + 16.0,
                escape_html(&self.x_ticks.label(t))
            );
        }
        let _ = writeln!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/>"##,
            plot.x, plot.y, plot.w, plot.h
        );
    }

    fn axis_titles(&self, out: &mut String, plot: &Rect, height: f64) {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
            plot.x + plot.w / 2.0,
            height - 6.0,
            escape_html(&self.x_label)
        );
        let _ = writeln!(
            out,
            r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
            plot.y + plot.h / 2.0,
            escape_html(&self.y_label)
        );
        if let Some((_, label)) = &self.y2 {
            let _ = writeln!(
                out,
                r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" class="axis">{}</text>"#,
                WIDTH - 10.0,
                plot.y + plot.h / 2.0,
                escape_html(label)
            );
        }
    }
}

/// A line chart's axes: x, the left y, the right y when some series use it.
struct Axes {
    x: Axis,
    y: Axis,
    y2: Option<Axis>,
}

/// The marked x range: a translucent band over the plot's height (drawn after the grid and
/// before the lines, so both stay visible), its label at its top left, its bounds in a
/// tooltip.
fn band(out: &mut String, marked: &Marked, plot: &Rect, x_axis: &Axis) {
    let x = plot.x + x_axis.fraction(marked.from) * plot.w;
    let w = plot.x + x_axis.fraction(marked.to) * plot.w - x;
    let _ = writeln!(
        out,
        r##"<rect class="band" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="#0072B2" fill-opacity="0.08" stroke="#0072B2" stroke-opacity="0.4" stroke-dasharray="4 3"><title>{}: {} to {}</title></rect><text x="{:.1}" y="{:.1}" class="marked">{}</text>"##,
        plot.y,
        plot.h,
        escape_html(&marked.label),
        marked.from,
        marked.to,
        x + 4.0,
        plot.y + 13.0,
        escape_html(&marked.label)
    );
}

/// One series: a polyline per run of points without a gap, a dot for a lone point.
fn line(out: &mut String, s: &Series, plot: &Rect, x_axis: &Axis, y_axis: &Axis) {
    let dash = if s.dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let flush = |run: &mut Vec<(f64, f64)>, out: &mut String| {
        if run.len() > 1 {
            let points: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                out,
                r#"<polyline class="series" fill="none" stroke="{}" stroke-width="2"{dash} points="{}"/>"#,
                s.color,
                points.join(" ")
            );
        } else if let Some((x, y)) = run.first() {
            let _ = writeln!(
                out,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.5" fill="{}"/>"#,
                s.color
            );
        }
        run.clear();
    };
    let mut run = Vec::new();
    for &(x, y) in &s.points {
        match y {
            Some(y) => run.push((
                plot.x + x_axis.fraction(x) * plot.w,
                plot.y + plot.h - y_axis.fraction(y) * plot.h,
            )),
            None => flush(&mut run, out),
        }
    }
    flush(&mut run, out);
}

/// A bar made of segments, e.g. the stages of an average chain.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub label: String,
    /// (name, milliseconds, colour).
    pub segments: Vec<(String, f64, &'static str)>,
}

/// Horizontal stacked bars on one millisecond scale.
#[derive(Debug, Clone)]
pub(crate) struct StackedBars {
    pub title: String,
    pub bars: Vec<Bar>,
}

impl StackedBars {
    pub fn svg(&self) -> String {
        const BAR: f64 = 34.0;
        const GAP: f64 = 18.0;
        let label_width = 110.0;
        let mut entries: Vec<(&str, &str, bool)> = Vec::new();
        for (name, _, color) in self.bars.iter().flat_map(|b| &b.segments) {
            if !entries.iter().any(|n| n.0 == name) {
                entries.push((name, color, false));
            }
        }
        let extra = legend_extra_height(&entries);
        let height = TOP + extra + self.bars.len() as f64 * (BAR + GAP) + BOTTOM;
        let plot = Rect {
            x: label_width,
            y: TOP + extra,
            w: WIDTH - label_width - 24.0,
            h: height - TOP - extra - BOTTOM,
        };
        let mut out = open_svg(&self.title, height);
        let total = |b: &Bar| b.segments.iter().map(|s| s.1.max(0.0)).sum::<f64>();
        let axis = Axis::nice(
            0.0,
            self.bars.iter().map(total).fold(0.0, f64::max).max(1e-3),
        );
        for &t in &axis.ticks {
            let x = plot.x + axis.fraction(t) * plot.w;
            let _ = writeln!(
                out,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e3e3e3"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"##,
                plot.y - 4.0,
                plot.y + plot.h,
                plot.y + plot.h + 16.0,
                escape_html(&ms(t))
            );
        }
        for (i, bar) in self.bars.iter().enumerate() {
            let y = plot.y + i as f64 * (BAR + GAP) + GAP / 2.0;
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="label">{}</text>"#,
                plot.x - 8.0,
                y + BAR / 2.0 + 4.0,
                escape_html(&bar.label)
            );
            let mut x = plot.x;
            for (name, value, color) in &bar.segments {
                let w = axis.fraction(value.max(0.0)) * plot.w;
                let _ = writeln!(
                    out,
                    r##"<rect class="segment" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{BAR}" fill="{color}" stroke="#fff"><title>{}: {}</title></rect>"##,
                    escape_html(name),
                    escape_html(&ms(*value))
                );
                let text = format!("{name} {}", ms(*value));
                if w > text.chars().count() as f64 * 6.6 + 8.0 {
                    let _ = writeln!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="inbar">{}</text>"##,
                        x + w / 2.0,
                        y + BAR / 2.0 + 4.0,
                        escape_html(&text)
                    );
                }
                x += w;
            }
        }
        legend(&mut out, &entries);
        out.push_str("</svg>\n");
        out
    }
}

struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Where values fall on an axis.
struct Axis {
    min: f64,
    max: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl Axis {
    fn linear(min: f64, max: f64, ticks: Vec<f64>) -> Self {
        Self {
            min,
            max,
            log: false,
            ticks,
        }
    }

    /// A linear axis from `min` to at least `max`, on round ticks.
    fn nice(min: f64, max: f64) -> Self {
        let max = if max > min { max } else { min + 1.0 };
        let step = nice_step((max - min) / 5.0);
        let (lo, hi) = ((min / step).floor() * step, (max / step).ceil() * step);
        let ticks = (0..=((hi - lo) / step).round() as usize)
            .map(|i| lo + i as f64 * step)
            .collect();
        Self::linear(lo, hi, ticks)
    }

    /// A logarithmic axis over whole decades.
    fn log(min: f64, max: f64) -> Self {
        let lo = min.max(1e-3).log10().floor();
        let hi = max.max(1e-3).log10().ceil().max(lo + 1.0);
        let ticks = (lo as i32..=hi as i32).map(|e| 10f64.powi(e)).collect();
        Self {
            min: 10f64.powf(lo),
            max: 10f64.powf(hi),
            log: true,
            ticks,
        }
    }

    /// Position from 0 (min) to 1 (max).
    fn fraction(&self, v: f64) -> f64 {
        let f = if self.log {
            (v.max(self.min).log10() - self.min.log10()) / (self.max.log10() - self.min.log10())
        } else {
            (v - self.min) / (self.max - self.min)
        };
        f.clamp(0.0, 1.0)
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let raw = if raw > 0.0 && raw.is_finite() {
        raw
    } else {
        1.0
    };
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * magnitude)
}

fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

fn open_svg(title: &str, height: f64) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{0}\">\n<title>{0}</title>\n<text x=\"{LEFT}\" y=\"18\" class=\"title\">{0}</text>\n",
        escape_html(title)
    )
}

/// A legend entry: name, colour, dashed.
type Entry<'a> = (&'a str, &'a str, bool);

/// Where each legend entry goes: its x and row, rows wrapping at the chart's width.
fn legend_layout(entries: &[Entry]) -> Vec<(f64, usize)> {
    let mut x = LEFT;
    let mut row = 0;
    entries
        .iter()
        .map(|(name, ..)| {
            // A stroke, a gap, the name at about 6.6 px a character, a gap to the next.
            let width = 30.0 + name.chars().count() as f64 * 6.6;
            if x > LEFT && x + width > WIDTH {
                x = LEFT;
                row += 1;
            }
            let at = (x, row);
            x += width;
            at
        })
        .collect()
}

/// The height the legend's rows after the first add to a chart.
fn legend_extra_height(entries: &[Entry]) -> f64 {
    let rows = legend_layout(entries).last().map_or(0, |(_, row)| *row);
    rows as f64 * LEGEND_ROW
}

/// The legend under the title, in as many rows as it needs.
fn legend(out: &mut String, entries: &[Entry]) {
    for ((name, color, dashed), (x, row)) in entries.iter().zip(legend_layout(entries)) {
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let y = 32.0 + row as f64 * LEGEND_ROW;
        let _ = writeln!(
            out,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}" class="legend">{}</text>"#,
            x + 18.0,
            x + 22.0,
            y + 4.0,
            escape_html(name)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_and_ticks_are_round() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(45.0), 50.0);
        let axis = Axis::nice(0.0, 231.0);
        assert_eq!(axis.ticks, [0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);
        assert_eq!(
            Axis::log(0.03, 240.0).ticks,
            [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
        );
        assert_eq!(Ticks::Nines.label(0.0), "0%");
        assert_eq!(Ticks::Nines.label(2.0), "99%");
        assert_eq!(Ticks::Nines.label(3.0), "99.9%");
    }

    #[test]
    fn gaps_split_lines() {
        let chart = LineChart {
            title: "t <1>".into(),
            x_ticks: Ticks::Seconds,
            x_label: "s".into(),
            y_ticks: Ticks::Ms,
            y_label: "ms".into(),
            y2: None,
            log_y: false,
            marked: None,
            series: vec![Series {
                name: "a".into(),
                color: PALETTE[0],
                points: vec![
                    (0.0, Some(1.0)),
                    (1.0, Some(2.0)),
                    (2.0, None),
                    (3.0, Some(3.0)),
                    (4.0, Some(1.0)),
                ],
                right: false,
                dashed: false,
            }],
        };
        let svg = chart.svg();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("t &lt;1&gt;"));
    }

    #[test]
    fn a_wide_legend_wraps_and_the_chart_grows() {
        let names: Vec<String> = (0..8).map(|i| format!("series number {i}")).collect();
        let entries: Vec<Entry> = names
            .iter()
            .map(|n| (n.as_str(), PALETTE[0], false))
            .collect();
        let layout = legend_layout(&entries);
        assert_eq!(layout[0], (LEFT, 0));
        let rows = layout.last().unwrap().1;
        assert!(rows >= 1, "{layout:?}");
        for ((name, ..), (x, _)) in entries.iter().zip(&layout) {
            assert!(
                x + 22.0 + name.chars().count() as f64 * 6.6 <= WIDTH,
                "{name} at {x} runs off the chart"
            );
        }
        assert_eq!(legend_extra_height(&entries), rows as f64 * LEGEND_ROW);
        assert_eq!(
            legend_extra_height(&entries[..2]),
            0.0,
            "two fit in one row"
        );
    }

    #[test]
    fn the_builder_colours_lines_in_turn_and_gaps_non_finite_values() {
        let chart = LineChart::new("TTFB Percentiles")
            .x_axis(Ticks::Seconds, "seconds")
            .y_axis(Ticks::Number, "s")
            .line("p50", [(0.0, 1.0), (10.0, 2.0)])
            .line(
                "p95",
                [(0.0, 3.0), (10.0, f64::NAN), (20.0, 4.0), (30.0, 5.0)],
            );
        let svg = chart.svg();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(
            svg.matches("<circle").count(),
            1,
            "the lone p95 point: {svg}"
        );
        assert!(svg.contains(&format!("stroke=\"{}\"", PALETTE[0])), "{svg}");
        assert!(svg.contains(&format!("stroke=\"{}\"", PALETTE[1])), "{svg}");
        assert!(!svg.contains("class=\"band\""), "nothing marked: {svg}");
        assert!(svg.contains(">30s<"), "seconds ticks: {svg}");
    }

    #[test]
    fn a_marked_range_is_a_band_over_its_x_range() {
        // The x axis runs 0..200 on round ticks, so 0..100 is the plot's left half.
        let svg = LineChart::new("t")
            .line("a", [(0.0, 1.0), (200.0, 2.0)])
            .mark_x(100.0, 0.0, "published <window>")
            .svg();
        let plot_w = WIDTH - LEFT - 24.0;
        let band = format!(
            r#"<rect class="band" x="{LEFT:.1}" y="{TOP:.1}" width="{:.1}" height="{:.1}""#,
            plot_w / 2.0,
            HEIGHT - TOP - BOTTOM
        );
        assert!(svg.contains(&band), "{band} in {svg}");
        assert!(
            svg.contains("<title>published &lt;window&gt;: 0 to 100</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("class=\"marked\">published &lt;window&gt;</text>"),
            "{svg}"
        );
        // Drawn under the line.
        assert!(svg.find("class=\"band\"") < svg.find("<polyline"), "{svg}");
    }

    #[test]
    fn the_axis_widens_to_show_all_of_a_marked_range() {
        // Points to 50 only; the band to 200 stretches the axis, so the line ends at a quarter.
        let svg = LineChart::new("t")
            .line("a", [(0.0, 1.0), (50.0, 2.0)])
            .mark_x(0.0, 200.0, "w")
            .svg();
        let plot_w = WIDTH - LEFT - 24.0;
        let end = format!("{:.1},", LEFT + plot_w / 4.0);
        assert!(svg.contains(&end), "{end} in {svg}");
        assert!(svg.contains(&format!(r#"width="{plot_w:.1}""#)), "{svg}");
    }
}
