//! Charts for the reports page, drawn on the server as SVG: no chart library in the browser and
//! nothing for the CSP to allow (presentation attributes only, no inline style or script). Every
//! label is escaped here, since the SVG goes into the page as markup. Each chart is decorative
//! beside a table with the same numbers (`aria-hidden`), which is what assistive technology
//! reads; an empty series draws an empty frame with a note, never a division by zero.

use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
/// Bar charts sit in narrower cards: a narrower drawing keeps their text readable.
const BARS_WIDTH: f64 = 360.0;
const BAR_HEIGHT: f64 = 20.0;
const LABEL_WIDTH: f64 = 120.0;
const COLOURS: [&str; 2] = ["#1f5fbf", "#d2691e"];

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Horizontal bars, one per `(label, value)`.
pub(crate) fn bars(items: &[(String, u64)]) -> String {
    let height = (items.len().max(1) as f64) * (BAR_HEIGHT + 8.0) + 8.0;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {BARS_WIDTH} {height}" width="100%" role="img" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">"#
    );
    if items.is_empty() {
        let _ = write!(svg, r##"<text x="8" y="24" fill="#5b6475" font-size="14">No data in this range.</text>"##);
    }
    let room = BARS_WIDTH - LABEL_WIDTH - 40.0;
    for (i, (label, value)) in items.iter().enumerate() {
        let y = 8.0 + i as f64 * (BAR_HEIGHT + 8.0);
        let w = (*value as f64 / max * room).max(if *value > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{ty}" text-anchor="end" fill="#1d2330" font-size="12">{label}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{BAR_HEIGHT}" rx="3" fill="{c}"/><text x="{vx:.1}" y="{ty}" fill="#1d2330" font-size="12">{value}</text>"##,
            x = LABEL_WIDTH - 8.0,
            ty = y + BAR_HEIGHT - 6.0,
            label = esc(label),
            bx = LABEL_WIDTH,
            c = COLOURS[0],
            vx = LABEL_WIDTH + w + 6.0,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One line per series over the same days; `labels` name the x positions (first, middle and
/// last are printed), `series` are `(name, values)` of equal length.
pub(crate) fn lines(labels: &[String], series: &[(&str, Vec<u64>)]) -> String {
    let (w, h, left, bottom, top) = (WIDTH, 240.0, 44.0, 28.0, 24.0);
    let n = labels.len();
    let max = series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0).max(1) as f64;
    let plot_w = w - left - 12.0;
    let plot_h = h - bottom - top;
    let x = |i: usize| if n <= 1 { left + plot_w / 2.0 } else { left + plot_w * i as f64 / (n - 1) as f64 };
    let y = |v: u64| top + plot_h - plot_h * v as f64 / max;
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">"#
    );
    // Axes and the top value.
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{b}" stroke="#8a93a3"/><line x1="{left}" y1="{b}" x2="{r}" y2="{b}" stroke="#8a93a3"/><text x="{tx}" y="{ty}" text-anchor="end" fill="#5b6475" font-size="12">{max}</text><text x="{tx}" y="{b}" text-anchor="end" fill="#5b6475" font-size="12">0</text>"##,
        b = top + plot_h,
        r = left + plot_w,
        tx = left - 6.0,
        ty = top + 4.0,
        max = max as u64,
    );
    if n == 0 {
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" fill="#5b6475" font-size="14">No data in this range.</text>"##,
            left + 12.0,
            top + 24.0
        );
    }
    for i in [0, n / 2, n.saturating_sub(1)].into_iter().filter(|i| *i < n).collect::<std::collections::BTreeSet<_>>() {
        let anchor = if i == 0 {
            "start"
        } else if i + 1 == n {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{}" text-anchor="{anchor}" fill="#5b6475" font-size="12">{}</text>"##,
            x(i),
            h - 8.0,
            esc(&labels[i])
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let points: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
        let colour = COLOURS[k % COLOURS.len()];
        if points.len() == 1 {
            let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#, x(0), y(values[0]));
        } else if !points.is_empty() {
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            );
        }
        // The legend.
        let lx = left + 12.0 + k as f64 * 140.0;
        let _ = write!(
            svg,
            r##"<rect x="{lx}" y="6" width="12" height="12" fill="{colour}"/><text x="{}" y="16" fill="#1d2330" font-size="12">{}</text>"##,
            lx + 16.0,
            esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn labels_are_escaped_and_empty_charts_draw() {
        let svg = bars(&[("<script>".into(), 3), ("b&c".into(), 0)]);
        assert!(svg.contains("&lt;script&gt;") && svg.contains("b&amp;c") && !svg.contains("<script>"));
        assert!(bars(&[]).contains("No data in this range."));
        assert!(lines(&[], &[("created", vec![])]).contains("No data in this range."));
        let one = lines(&["2026-11-30".into()], &[("created", vec![0])]);
        assert!(one.contains("<circle") && !one.contains("NaN"));
        let two = lines(&["a".into(), "b".into()], &[("created", vec![1, 5]), ("resolved", vec![0, 0])]);
        assert_eq!(two.matches("<polyline").count(), 2);
        assert!(!two.contains("NaN") && !two.contains("inf"));
    }
}
