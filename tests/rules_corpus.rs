//! The rules engine against DQX 0.17 on an adversarial corpus (tests/data/dqx/corpus, made by
//! tests/dqx/refresh with DQX itself on local Spark): every supported function with its argument
//! variants, filters, for_each_column and user_metadata, over values at the edges of their types.
//! Every (row, rule) verdict and every message is compared; the disagreements are listed by rule.
#![allow(clippy::unwrap_used)] // tests fail by panicking

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::OutputWithin;
use common::dqx::{Item, RowResult, first_run_time, results};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dqx/corpus");

/// One row's failures by rule name: (criticality, item).
fn by_name(result: &RowResult) -> BTreeMap<&str, (&'static str, &Item)> {
    let (errors, warnings) = result;
    let errors = errors.iter().map(|item| (item.name.as_str(), ("error", item)));
    errors.chain(warnings.iter().map(|item| (item.name.as_str(), ("warn", item)))).collect()
}

/// Disagreements of one rule.
#[derive(Default)]
struct RuleDifferences {
    only_ours: usize,
    only_dqx: usize,
    items_differ: usize,
    example: Option<String>,
}

#[derive(Default)]
struct Comparison {
    verdicts: usize,
    verdicts_agreeing: usize,
    both_failed: usize,
    items_agreeing: usize,
    by_rule: BTreeMap<String, RuleDifferences>,
}

impl Comparison {
    fn of(ours: &BTreeMap<i64, RowResult>, dqx: &BTreeMap<i64, RowResult>) -> Self {
        let ours: BTreeMap<i64, _> = ours.iter().map(|(row, result)| (*row, by_name(result))).collect();
        let dqx: BTreeMap<i64, _> = dqx.iter().map(|(row, result)| (*row, by_name(result))).collect();
        let names: BTreeSet<&str> = ours.values().chain(dqx.values()).flat_map(|failures| failures.keys().copied()).collect();
        let mut comparison = Comparison::default();
        let empty = BTreeMap::new();
        for (row, dqx_failures) in &dqx {
            let our_failures = ours.get(row).unwrap_or(&empty);
            for name in &names {
                comparison.verdicts += 1;
                let (mine, theirs) = (our_failures.get(name), dqx_failures.get(name));
                match (mine, theirs) {
                    (None, None) => comparison.verdicts_agreeing += 1,
                    (Some((a, mine)), Some((b, theirs))) if a == b => {
                        comparison.verdicts_agreeing += 1;
                        comparison.both_failed += 1;
                        if mine == theirs {
                            comparison.items_agreeing += 1;
                        } else {
                            let rule = comparison.by_rule.entry((*name).to_owned()).or_default();
                            rule.items_differ += 1;
                            rule.example.get_or_insert_with(|| format!("row {row}: ours {mine:?}\n      DQX  {theirs:?}"));
                        }
                    }
                    (Some(mine), None) => {
                        let rule = comparison.by_rule.entry((*name).to_owned()).or_default();
                        rule.only_ours += 1;
                        rule.example.get_or_insert_with(|| format!("row {row}: only ours fails: {:?}", mine.1.message));
                    }
                    (mine, theirs) => {
                        let rule = comparison.by_rule.entry((*name).to_owned()).or_default();
                        rule.only_dqx += 1;
                        rule.example.get_or_insert_with(|| format!("row {row}: DQX fails {theirs:?}, ours {mine:?}"));
                    }
                }
            }
        }
        comparison
    }

    fn report(&self) -> String {
        let mut report = format!(
            "verdicts agreeing {}/{} ({:.3}%), messages agreeing {}/{} ({:.3}%)\n",
            self.verdicts_agreeing,
            self.verdicts,
            100.0 * self.verdict_share(),
            self.items_agreeing,
            self.both_failed,
            100.0 * self.message_share()
        );
        for (name, rule) in &self.by_rule {
            report.push_str(&format!(
                "  {name}: only ours {}, only DQX {}, items differ {}\n    {}\n",
                rule.only_ours,
                rule.only_dqx,
                rule.items_differ,
                rule.example.as_deref().unwrap_or_default()
            ));
        }
        report
    }

    fn verdict_share(&self) -> f64 {
        self.verdicts_agreeing as f64 / self.verdicts.max(1) as f64
    }

    fn message_share(&self) -> f64 {
        self.items_agreeing as f64 / self.both_failed.max(1) as f64
    }
}

#[test]
fn every_function_agrees_with_dqx_on_the_adversarial_corpus() {
    let expected = format!("{CORPUS}/dqx_output.parquet");
    // DQX's run time, so clock checks compare with the same "now".
    let run_time = chrono::DateTime::from_timestamp_micros(first_run_time(&expected).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("ours.parquet");
    let run = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .env_remove("MEDALLION_CONFIG")
        .env("MEDALLION_LOG", "warn")
        .args(["rules", "apply", "--rules", &format!("{CORPUS}/checks.yml"), "--input", &format!("{CORPUS}/corpus.parquet"), "--run-time"])
        .arg(run_time.to_rfc3339())
        .arg("--output")
        .arg(&output)
        .output_within();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let ours = results(output.to_str().unwrap(), "row_id");
    let dqx = results(&expected, "row_id");
    assert_eq!(ours.len(), dqx.len());
    let comparison = Comparison::of(&ours, &dqx);
    let report = comparison.report();
    eprintln!("{report}");
    // Every verdict and every result item as DQX gave them, over a comparison with substance.
    assert!(comparison.both_failed > 100_000, "{report}");
    assert!(comparison.verdicts_agreeing == comparison.verdicts && comparison.items_agreeing == comparison.both_failed, "{report}");
}
