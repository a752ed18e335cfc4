//! `medallion report --html` rendered by headless Chromium (Debian's `chromium`, which `.ci/run`
//! installs): the page loads without network or script errors, every chart's marks in the
//! rendered DOM hold the figures of `report --json`, and a screenshot is taken.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Lake, OutputWithin, unique_topic};

/// The browser; panics with instructions when it is not installed.
fn chromium() -> PathBuf {
    let path = PathBuf::from(std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()));
    assert!(path.exists(), "no Chromium at {}: install Debian's `chromium` (`.ci/run` does), or set CHROMIUM", path.display());
    path
}

/// Chromium, headless, with a profile of its own and nothing that reaches for the network.
fn headless(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// (series, label, value) of every mark of every chart in `dom`, by chart.
fn marks(dom: &str) -> BTreeMap<String, Vec<(String, String, f64)>> {
    let chart = regex::Regex::new(r#"(?s)<svg class="chart" data-chart="([a-z_]+)".*?</svg>"#).unwrap();
    let mark = regex::Regex::new(r#"<(?:rect|circle) class="mark"[^>]*?data-series="([^"]*)" data-label="([^"]*)" data-value="([^"]*)""#).unwrap();
    let mut charts = BTreeMap::new();
    for found in chart.captures_iter(dom) {
        let points = mark
            .captures_iter(&found[0])
            .map(|m| (unescape(&m[1]), unescape(&m[2]), m[3].parse::<f64>().unwrap_or_else(|e| panic!("data-value {:?}: {e}", &m[3]))))
            .collect();
        charts.insert(found[1].to_owned(), points);
    }
    charts
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// The same triples from `report --json`'s charts of one stream.
fn json_marks(charts: &serde_json::Value) -> BTreeMap<String, Vec<(String, String, f64)>> {
    let point = |series: &str, p: &serde_json::Value| (series.to_owned(), p["label"].as_str().unwrap().to_owned(), p["value"].as_f64().unwrap());
    let mut expected = BTreeMap::new();
    for (chart, value) in charts.as_object().unwrap() {
        let values = value.as_array().unwrap();
        let points: Vec<_> = if values.first().is_some_and(|v| v.get("points").is_some()) {
            values
                .iter()
                .flat_map(|s| s["points"].as_array().unwrap().iter().map(|p| point(s["name"].as_str().unwrap(), p)).collect::<Vec<_>>())
                .collect()
        } else {
            values.iter().map(|p| point(chart, p)).collect()
        };
        if !points.is_empty() {
            expected.insert(chart.clone(), points);
        }
    }
    expected
}

#[test]
fn the_html_report_renders_in_chromium_with_the_figures_of_report_json() {
    let (lake, topic, group) = (Lake::new(), unique_topic("report-html"), unique_topic("g"));
    common::produce_and_run(
        &lake,
        "purchase_orders",
        &topic,
        &group,
        6_000,
        &["--seed", "12", "--start-time", "2026-06-01", "--time-scale", "20000"],
    );
    let config = lake.path().join("purchase_orders.yaml").display().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["report", "--config", &config, "--lake", &lake.root(), "--group", &group].map(str::to_owned).to_vec();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let json = common::run_ok(&args(&["--json"]).iter().map(String::as_str).collect::<Vec<_>>());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let page = lake.path().join("report.html");
    common::run_ok(&args(&["--html", &page.display().to_string()]).iter().map(String::as_str).collect::<Vec<_>>());

    let html = std::fs::read_to_string(&page).unwrap();
    for reference in ["src=", "href=", "<script", "@import", "url("] {
        assert!(!html.contains(reference), "the page must need nothing at view time, but it holds {reference}");
    }
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let rendered = headless(profile.path()).arg("--dump-dom").arg(&url).output_within();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let dom = String::from_utf8_lossy(&rendered.stdout);
    let console = String::from_utf8_lossy(&rendered.stderr);
    assert!(!console.contains("Uncaught") && !console.contains("CONSOLE"), "the page logged errors: {console}");
    assert!(dom.contains("data-stream=\"purchase_orders\""), "{dom}");

    let expected = json_marks(&report["streams"][0]["charts"]);
    for chart in ["rows_per_layer", "verdicts_per_day", "top_failing_rules", "lag_per_partition", "order_completion", "sales_by_month"] {
        assert!(expected.contains_key(chart), "report --json has figures for {chart}: {}", report["streams"][0]["charts"]);
    }
    // Stacked bars come day by day, the JSON series by series: compare as sets of marks.
    let sorted = |charts: BTreeMap<String, Vec<(String, String, f64)>>| -> BTreeMap<String, Vec<(String, String, String)>> {
        charts
            .into_iter()
            .map(|(chart, marks)| {
                let mut marks: Vec<_> = marks.into_iter().map(|(series, label, value)| (series, label, value.to_string())).collect();
                marks.sort();
                (chart, marks)
            })
            .collect()
    };
    assert_eq!(sorted(marks(&dom)), sorted(expected.clone()), "the rendered charts hold the figures of report --json");
    let bronze_rows: f64 = expected["rows_per_layer"].iter().filter(|(series, _, _)| series == "bronze").map(|(_, _, v)| v).sum();
    assert_eq!(bronze_rows, 6_000.0, "every message is in the rows-per-layer chart");

    let screenshot = std::env::temp_dir().join(format!("medallion-report-{}.png", std::process::id()));
    let shot =
        headless(profile.path()).arg(format!("--screenshot={}", screenshot.display())).arg("--window-size=1600,2200").arg(&url).output_within();
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a screenshot of the page ({} bytes)", png.len());
    eprintln!("screenshot: {}", screenshot.display());
}
