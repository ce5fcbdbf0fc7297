//! Charts as inline SVG, drawn on the server: no script, nothing fetched. Every label goes
//! through maud, which escapes it.

use maud::{Markup, html};

/// Width and height of a chart's drawing area, in SVG units.
const W: f64 = 640.0;
const H: f64 = 160.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 24.0;

/// A stacked bar chart: one bar per `(label, outbound, inbound)`.
pub fn stacked_bars(
    id: &str,
    title: &str,
    bars: &[(String, i64, i64)],
    legend: [&str; 2],
) -> Markup {
    let max = bars.iter().map(|(_, a, b)| a + b).max().unwrap_or(0).max(1) as f64;
    let step = (W - LEFT) / bars.len().max(1) as f64;
    let bar = step * 0.7;
    let y = |v: i64| H - v as f64 / max * H;
    html! {
        svg id=(id) class="chart" viewBox={"0 0 " (W) " " (H + BOTTOM + 18.0)} role="img" aria-label=(title) {
            title { (title) }
            line x1=(LEFT) y1=(H) x2=(W) y2=(H) class="axis" {}
            text x=(LEFT - 4.0) y="10" class="tick" text-anchor="end" { (max as i64) }
            text x=(LEFT - 4.0) y=(H) class="tick" text-anchor="end" { "0" }
            @for (i, (label, out, inb)) in bars.iter().enumerate() {
                @let x = LEFT + step * i as f64 + (step - bar) / 2.0;
                g {
                    title { (label) ": " (legend[0]) " " (out) ", " (legend[1]) " " (inb) }
                    rect class="out" x=(x) y=(y(*out)) width=(bar) height=(H - y(*out)) {}
                    rect class="in" x=(x) y=(y(out + inb)) width=(bar) height=(H - y(*inb)) {}
                }
                @if bars.len() <= 14 || i % 2 == 0 {
                    text x=(x + bar / 2.0) y=(H + 14.0) class="tick" text-anchor="middle" { (label) }
                }
            }
            rect class="out" x=(LEFT) y=(H + BOTTOM) width="10" height="10" {}
            text x=(LEFT + 14.0) y=(H + BOTTOM + 9.0) class="tick" { (legend[0]) }
            rect class="in" x=(LEFT + 120.0) y=(H + BOTTOM) width="10" height="10" {}
            text x=(LEFT + 134.0) y=(H + BOTTOM + 9.0) class="tick" { (legend[1]) }
        }
    }
}

/// One row of the cycle-time chart: a name, median and 90th percentile, and the limit, in
/// days.
pub struct CycleBar {
    /// The deadline's name.
    pub name: String,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// What the agreement allows.
    pub allowed: f64,
}

/// Horizontal bars per deadline: the 90th percentile (light), the median (dark) and the
/// agreement's deadline as a red mark.
pub fn cycle_bars(id: &str, title: &str, rows: &[CycleBar], legend: [&str; 3]) -> Markup {
    let label_w = 200.0;
    let row_h = 22.0;
    let height = row_h * rows.len() as f64 + 30.0;
    let max = rows
        .iter()
        .map(|r| r.p90.max(r.allowed))
        .fold(0.0_f64, f64::max)
        .max(0.1);
    let x = |v: f64| label_w + v / max * (W - label_w - 10.0);
    html! {
        svg id=(id) class="chart" viewBox={"0 0 " (W) " " (height)} role="img" aria-label=(title) {
            title { (title) }
            @for (i, r) in rows.iter().enumerate() {
                @let top = row_h * i as f64;
                g {
                    title { (r.name) ": " (legend[0]) " " (fmt_days(r.p50)) ", " (legend[1]) " " (fmt_days(r.p90)) ", " (legend[2]) " " (fmt_days(r.allowed)) }
                    text x=(label_w - 6.0) y=(top + 15.0) class="tick" text-anchor="end" { (r.name) }
                    rect class="p90" x=(label_w) y=(top + 4.0) width=(x(r.p90) - label_w) height=(row_h - 8.0) {}
                    rect class="p50" x=(label_w) y=(top + 4.0) width=(x(r.p50) - label_w) height=(row_h - 8.0) {}
                    line class="limit" x1=(x(r.allowed)) y1=(top + 1.0) x2=(x(r.allowed)) y2=(top + row_h - 1.0) {}
                }
            }
            @let ly = row_h * rows.len() as f64 + 14.0;
            rect class="p50" x=(label_w) y=(ly - 9.0) width="10" height="10" {}
            text x=(label_w + 14.0) y=(ly) class="tick" { (legend[0]) }
            rect class="p90" x=(label_w + 120.0) y=(ly - 9.0) width="10" height="10" {}
            text x=(label_w + 134.0) y=(ly) class="tick" { (legend[1]) }
            line class="limit" x1=(label_w + 260.0) y1=(ly - 10.0) x2=(label_w + 260.0) y2=(ly + 1.0) {}
            text x=(label_w + 266.0) y=(ly) class="tick" { (legend[2]) }
        }
    }
}

/// Days with one decimal.
pub fn fmt_days(days: f64) -> String {
    format!("{days:.1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_in_the_svg() {
        let svg =
            stacked_bars("c", "<script>", &[("<b>".into(), 1, 2)], ["out&", "in\""]).into_string();
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert!(
            svg.contains("&lt;b&gt;") && svg.contains("out&amp;"),
            "{svg}"
        );
    }
}
