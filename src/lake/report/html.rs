//! `medallion report --html FILE`: the report as one self-contained page. Charts are inline SVG
//! drawn here, so the page needs no script, font or network to be read. Every mark carries its
//! figure (`data-series`, `data-label`, `data-value`, and a `<title>` tooltip): the numbers of
//! `report --json`'s `charts`, which the tests compare in a browser.

use std::fmt::Write as _;

use super::charts::{Charts, Point, Series};
use super::{Report, StreamReport, percent};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
/// Room for the axis labels: left, right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (84.0, 16.0, 12.0, 56.0);
/// One colour per series, in order (layers, verdicts).
const COLOURS: [&str; 4] = ["#3b6ea5", "#4f9d69", "#d08c2b", "#c4453c"];

/// The whole page.
pub fn render(report: &Report, lake: &str, generated_at: &str) -> String {
    let mut page = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>medallion report</title>\n");
    page.push_str(STYLE);
    page.push_str("</head>\n<body>\n<h1>medallion report</h1>\n");
    let _ = writeln!(page, "<p class=\"meta\">Lake <code>{}</code>, read at {}.</p>", escape(lake), escape(generated_at));
    for stream in &report.streams {
        page.push_str(&stream_section(stream));
    }
    page.push_str("</body>\n</html>\n");
    page
}

const STYLE: &str = "<style>
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d2430; margin: 24px auto; max-width: 1600px; padding: 0 16px; }
h1 { font-size: 24px; } h2 { font-size: 20px; border-bottom: 1px solid #d5dae1; padding-bottom: 4px; margin-top: 36px; }
.meta { color: #5b6573; } .grid { display: flex; flex-wrap: wrap; gap: 16px 28px; }
figure { margin: 0; } figcaption { font-weight: 600; margin: 8px 0 4px; } .empty { color: #8a93a0; font-style: italic; }
svg text { font-size: 11px; fill: #3d4654; } .axis { stroke: #9aa3ae; stroke-width: 1; } .grid-line { stroke: #e6e9ee; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eef0f3; }
td:first-child, th:first-child { text-align: left; }
</style>
";

fn stream_section(stream: &StreamReport) -> String {
    let charts: &Charts = &stream.charts;
    let mut html = format!("<section class=\"stream\" data-stream=\"{0}\">\n<h2>Stream {0}</h2>\n<div class=\"grid\">\n", escape(&stream.stream));
    html.push_str(&figure("rows_per_layer", "Rows per layer per hour (UTC)", line_chart("rows_per_layer", &charts.rows_per_layer)));
    html.push_str(&figure("verdicts_per_day", "Pass / warn / fail share per day", stacked_shares("verdicts_per_day", &charts.verdicts_per_day)));
    html.push_str(&figure("top_failing_rules", "Top failing rules (rows)", horizontal_bars("top_failing_rules", &charts.top_failing_rules)));
    html.push_str(&figure("lag_per_partition", "Kafka lag per partition (messages)", vertical_bars("lag_per_partition", &charts.lag_per_partition)));
    if !charts.order_completion.is_empty() {
        html.push_str(&figure("order_completion", "Orders by completion", vertical_bars("order_completion", &charts.order_completion)));
    }
    if !charts.sales_by_month.is_empty() {
        html.push_str(&figure("sales_by_month", "Revenue ordered by month", vertical_bars("sales_by_month", &charts.sales_by_month)));
    }
    html.push_str("</div>\n");
    html.push_str(&tables_and_verdicts(stream));
    html.push_str("</section>\n");
    html
}

fn figure(id: &str, caption: &str, chart: Option<String>) -> String {
    let body = chart.unwrap_or_else(|| format!("<p class=\"empty\" data-chart=\"{id}\" data-empty=\"true\">No data yet.</p>"));
    format!("<figure>\n<figcaption>{}</figcaption>\n{body}\n</figure>\n", escape(caption))
}

/// Rows per table and verdicts, as tables.
fn tables_and_verdicts(stream: &StreamReport) -> String {
    let mut html = String::from("<table class=\"tables\"><tr><th>table</th><th>rows</th><th>version</th></tr>\n");
    for table in &stream.tables {
        let rows = table.rows.map_or_else(|| "-".to_owned(), |r| r.to_string());
        let version = table.version.map_or_else(|| "not created".to_owned(), |v| v.to_string());
        let _ = writeln!(html, "<tr><td>{}</td><td>{rows}</td><td>{version}</td></tr>", escape(&table.table));
    }
    html.push_str("</table>\n<table class=\"verdicts\"><tr><th>verdict</th><th>rows</th><th>share</th></tr>\n");
    let checked: i64 = stream.verdicts.values().sum();
    for (verdict, rows) in &stream.verdicts {
        let _ = writeln!(html, "<tr><td>{}</td><td>{rows}</td><td>{:.1}%</td></tr>", escape(verdict), percent(*rows, checked));
    }
    html.push_str("</table>\n");
    html
}

fn svg_open(id: &str, height: f64) -> String {
    format!(
        "<svg class=\"chart\" data-chart=\"{id}\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    )
}

/// A mark's data attributes and tooltip.
fn data(series: &str, point: &Point) -> String {
    format!(
        "data-series=\"{}\" data-label=\"{}\" data-value=\"{}\"><title>{}: {}</title>",
        escape(series),
        escape(&point.label),
        point.value,
        escape(&point.label),
        number(point.value)
    )
}

/// The largest value, rounded up to a readable scale, and the y of a value under it.
fn scale(max: f64) -> (f64, impl Fn(f64) -> f64) {
    let top = nice_ceiling(max.max(1.0));
    let (_, _, margin_top, margin_bottom) = MARGIN;
    let span = HEIGHT - margin_top - margin_bottom;
    (top, move |value: f64| margin_top + span * (1.0 - value / top))
}

fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|step| step * magnitude).find(|candidate| *candidate >= value).unwrap_or(value)
}

/// Horizontal grid lines with their values, and the x axis.
fn y_axis(top: f64, y: &impl Fn(f64) -> f64) -> String {
    let (left, right, _, _) = MARGIN;
    let mut svg = String::new();
    for step in 0..=4 {
        let value = top * f64::from(step) / 4.0;
        let at = y(value);
        let _ = write!(svg, "<line class=\"grid-line\" x1=\"{left}\" x2=\"{}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>", WIDTH - right);
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", left - 6.0, at + 4.0, number(value));
    }
    let _ = write!(svg, "<line class=\"axis\" x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\"/>", WIDTH - right, y(0.0), y(0.0));
    svg
}

/// A label under the x axis, slanted when there are many.
fn x_label(x: f64, text: &str, many: bool) -> String {
    let y = HEIGHT - MARGIN.3 + 14.0;
    let text = escape(text);
    if many {
        format!("<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" transform=\"rotate(-35 {x:.1} {y:.1})\">{text}</text>")
    } else {
        format!("<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{text}</text>")
    }
}

fn vertical_bars(id: &str, points: &[Point]) -> Option<String> {
    if points.is_empty() {
        return None;
    }
    let (top, y) = scale(points.iter().map(|p| p.value).fold(0.0, f64::max));
    let (left, right, _, _) = MARGIN;
    let slot = (WIDTH - left - right) / points.len() as f64;
    let mut svg = svg_open(id, HEIGHT) + &y_axis(top, &y);
    let many = points.len() > 8;
    for (i, point) in points.iter().enumerate() {
        let x = left + slot * i as f64 + slot * 0.15;
        let (bar_top, base) = (y(point.value.max(0.0)), y(0.0));
        let _ = write!(
            svg,
            "<rect class=\"mark\" x=\"{x:.1}\" y=\"{bar_top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" {}</rect>",
            slot * 0.7,
            base - bar_top,
            COLOURS[0],
            data(id, point)
        );
        svg.push_str(&x_label(x + slot * 0.35, &point.label, many));
    }
    svg.push_str("</svg>");
    Some(svg)
}

fn horizontal_bars(id: &str, points: &[Point]) -> Option<String> {
    if points.is_empty() {
        return None;
    }
    let row = 22.0;
    let height = row * points.len() as f64 + 24.0;
    let label_width = 260.0;
    let max = points.iter().map(|p| p.value).fold(1.0, f64::max);
    let span = WIDTH - label_width - 90.0;
    let mut svg = svg_open(id, height);
    for (i, point) in points.iter().enumerate() {
        let y = 8.0 + row * i as f64;
        let width = span * point.value.max(0.0) / max;
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", label_width - 8.0, y + 13.0, escape(&point.label));
        let _ = write!(
            svg,
            "<rect class=\"mark\" x=\"{label_width}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\" {}</rect>",
            row - 6.0,
            COLOURS[3],
            data(id, point)
        );
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>", label_width + width + 6.0, y + 13.0, number(point.value));
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// One line per series over the union of their labels (sorted: hours sort as text).
fn line_chart(id: &str, series: &[Series]) -> Option<String> {
    let mut labels: Vec<&str> = series.iter().flat_map(|s| s.points.iter().map(|p| p.label.as_str())).collect();
    labels.sort_unstable();
    labels.dedup();
    if labels.is_empty() {
        return None;
    }
    let (top, y) = scale(series.iter().flat_map(|s| s.points.iter().map(|p| p.value)).fold(0.0, f64::max));
    let (left, right, _, _) = MARGIN;
    let step = (WIDTH - left - right) / labels.len() as f64;
    let x = |label: &str| left + step * (labels.iter().position(|l| *l == label).unwrap_or(0) as f64 + 0.5);
    let mut svg = svg_open(id, HEIGHT) + &y_axis(top, &y);
    let every = labels.len().div_ceil(12);
    for (i, label) in labels.iter().enumerate().filter(|(i, _)| i.is_multiple_of(every)) {
        svg.push_str(&x_label(left + step * (i as f64 + 0.5), label, labels.len() > 6));
    }
    let mut legend = String::from("<div class=\"legend\">");
    for (s, line) in series.iter().enumerate() {
        let colour = COLOURS[s % COLOURS.len()];
        let path: Vec<String> = line.points.iter().map(|p| format!("{:.1},{:.1}", x(&p.label), y(p.value))).collect();
        let _ = write!(svg, "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>", path.join(" "));
        for point in &line.points {
            let _ = write!(
                svg,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\" {}</circle>",
                x(&point.label),
                y(point.value),
                data(&line.name, point)
            );
        }
        let _ = write!(legend, "<span><i style=\"background:{colour}\"></i>{}</span>", escape(&line.name));
    }
    svg.push_str("</svg>");
    Some(svg + &legend + "</div>")
}

/// Each label's values as shares of their sum, stacked to 100%.
fn stacked_shares(id: &str, series: &[Series]) -> Option<String> {
    let labels: Vec<&str> = series.first()?.points.iter().map(|p| p.label.as_str()).collect();
    if labels.is_empty() {
        return None;
    }
    let (left, right, _, _) = MARGIN;
    let (_, y) = scale(100.0);
    let slot = (WIDTH - left - right) / labels.len() as f64;
    let mut svg = svg_open(id, HEIGHT) + &y_axis(100.0, &y);
    let mut legend = String::from("<div class=\"legend\">");
    for (i, label) in labels.iter().enumerate() {
        let total: f64 = series.iter().filter_map(|s| s.points.get(i)).map(|p| p.value).sum();
        let x = left + slot * i as f64 + slot * 0.15;
        let mut below = 0.0;
        for (s, line) in series.iter().enumerate() {
            let Some(point) = line.points.get(i) else { continue };
            let share = if total > 0.0 { point.value * 100.0 / total } else { 0.0 };
            let (bar_top, bar_bottom) = (y(below + share), y(below));
            let _ = write!(
                svg,
                "<rect class=\"mark\" x=\"{x:.1}\" y=\"{bar_top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" data-share=\"{share:.2}\" {}</rect>",
                slot * 0.7,
                bar_bottom - bar_top,
                COLOURS[(s + 1) % COLOURS.len()],
                data(&line.name, point)
            );
            below += share;
        }
        svg.push_str(&x_label(x + slot * 0.35, label, labels.len() > 8));
    }
    for (s, line) in series.iter().enumerate() {
        let _ = write!(legend, "<span><i style=\"background:{}\"></i>{}</span>", COLOURS[(s + 1) % COLOURS.len()], escape(&line.name));
    }
    svg.push_str("</svg>");
    Some(svg + &legend + "</div>")
}

/// A figure for people: thousands separated, at most two decimals.
fn number(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    let whole = rounded.trunc().abs() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let fraction = (rounded.abs().fract() * 100.0).round() as u64;
    let sign = if rounded < 0.0 { "-" } else { "" };
    if fraction == 0 { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{fraction:02}") }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_well_and_markup_is_escaped() {
        assert_eq!(number(1_234_567.0), "1,234,567");
        assert_eq!(number(1234.5), "1,234.50");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(escape("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert_eq!(nice_ceiling(180.0), 200.0);
    }

    #[test]
    fn every_mark_carries_its_figure() {
        let points = vec![Point { label: "PENDING".into(), value: 12.0 }, Point { label: "<done>".into(), value: 30.0 }];
        let svg = vertical_bars("order_completion", &points).unwrap();
        assert!(svg.contains("data-label=\"PENDING\" data-value=\"12\""), "{svg}");
        assert!(svg.contains("data-label=\"&lt;done&gt;\" data-value=\"30\""), "{svg}");
        assert_eq!(svg.matches("class=\"mark\"").count(), 2);
        assert!(vertical_bars("empty", &[]).is_none());
    }
}
