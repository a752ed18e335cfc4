use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::config::{AmountDistribution, AmountsConfig, PaymentMethod, PaymentsGeneratorConfig};

fn settings(seed: u64) -> GeneratorSettings {
    let start = chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00Z").map(|t| t.to_utc()).ok();
    GeneratorSettings { seed, invalid_ratio: 0.0, start_time: start, rate: 1_000, time_scale: 60.0 }
}

fn clean(config: PaymentsGeneratorConfig) -> PaymentsGeneratorConfig {
    PaymentsGeneratorConfig { invalid_ratio: 0.0, ..config }
}

/// The first event of each of `payments` payments (the event that draws method, country, amount).
fn new_payments(config: &PaymentsGeneratorConfig, payments: usize) -> Vec<PaymentTransaction> {
    let mut generator = PaymentGenerator::new(&settings(7), config).expect("valid");
    let mut firsts = Vec::with_capacity(payments);
    while firsts.len() < payments {
        let event = generator.next_event().payment;
        if matches!(event.status.as_deref(), Some("AUTHORIZED" | "DECLINED")) {
            firsts.push(event);
        }
    }
    firsts
}

fn amounts(payments: &[PaymentTransaction]) -> Vec<f64> {
    payments.iter().map(|p| p.amount.expect("amount").0 as f64 / 100.0).collect()
}

fn mean_and_stddev(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
    (mean, variance.sqrt())
}

#[test]
fn method_shares_follow_the_weights_within_one_percent() {
    let mut config = clean(PaymentsGeneratorConfig::default());
    config.payment_methods = Some([(PaymentMethod::CreditCard, 0.6), (PaymentMethod::DebitCard, 0.3), (PaymentMethod::BankTransfer, 0.1)].into());
    let payments = new_payments(&config, 100_000);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for payment in &payments {
        *counts.entry(payment.payment_method.as_deref().expect("method")).or_default() += 1;
    }
    for (method, weight) in &config.methods() {
        let share = counts.get(method.wire_name()).copied().unwrap_or(0) as f64 / payments.len() as f64;
        assert!((share - weight).abs() <= 0.01, "{method:?}: share {share:.4}, weight {weight}");
    }
    assert_eq!(counts.len(), 3, "{counts:?}");
}

#[test]
fn amounts_stay_in_range_with_the_distributions_mean_and_spread() {
    let cases = [
        AmountsConfig { min: 1.0, max: 10_000.0, distribution: AmountDistribution::Normal, mean: None, stddev: None },
        AmountsConfig { min: 5.0, max: 500.0, distribution: AmountDistribution::Normal, mean: Some(80.0), stddev: Some(15.0) },
        AmountsConfig { min: 1.0, max: 10_000.0, distribution: AmountDistribution::Uniform, mean: None, stddev: None },
        AmountsConfig { min: 1.0, max: 10_000.0, distribution: AmountDistribution::Exponential, mean: Some(120.0), stddev: None },
    ];
    for amounts_config in cases {
        let config = clean(PaymentsGeneratorConfig { amounts: amounts_config.clone(), ..PaymentsGeneratorConfig::default() });
        let values = amounts(&new_payments(&config, 100_000));
        assert!(values.iter().all(|v| (amounts_config.min..=amounts_config.max).contains(v)), "{amounts_config:?}");
        let (mean, stddev) = mean_and_stddev(&values);
        let (theory_mean, theory_stddev) = (amounts_config.effective_mean(), amounts_config.effective_stddev());
        assert!((mean / theory_mean - 1.0).abs() <= 0.05, "{amounts_config:?}: mean {mean:.2}, theory {theory_mean:.2}");
        assert!((stddev / theory_stddev - 1.0).abs() <= 0.05, "{amounts_config:?}: stddev {stddev:.2}, theory {theory_stddev:.2}");
    }
}

#[test]
fn currency_follows_the_country() {
    for payment in new_payments(&clean(PaymentsGeneratorConfig::default()), 2_000) {
        let country = payment.country.as_deref().expect("country");
        assert_eq!(payment.currency.as_deref(), crate::config::currency_of(country), "{payment:?}");
    }
}

#[test]
fn lifecycles_are_consistent() {
    let mut generator = PaymentGenerator::new(&settings(3), &clean(PaymentsGeneratorConfig::default())).expect("valid");
    let mut history: HashMap<String, Vec<PaymentTransaction>> = HashMap::new();
    for _ in 0..60_000 {
        let payment = generator.next_event().payment;
        history.entry(payment.transaction_id.clone().expect("id")).or_default().push(payment);
    }
    let (mut declined, mut refunded, mut payments) = (0usize, 0usize, 0usize);
    for events in history.values() {
        let statuses: Vec<&str> = events.iter().filter_map(|e| e.status.as_deref()).collect();
        let lifecycle_ok =
            matches!(statuses.as_slice(), ["DECLINED"] | ["AUTHORIZED"] | ["AUTHORIZED", "CAPTURED"] | ["AUTHORIZED", "CAPTURED", "REFUNDED"]);
        assert!(lifecycle_ok, "{statuses:?}");
        assert!(events.windows(2).all(|pair| pair[0].event_time <= pair[1].event_time && pair[0].amount == pair[1].amount));
        for event in events {
            let captured = matches!(event.status.as_deref(), Some("CAPTURED" | "REFUNDED"));
            assert_eq!(event.captured_at.is_some(), captured, "{event:?}");
            assert!(event.captured_at.is_none_or(|at| Some(at) >= event.authorized_at));
            assert_eq!(event.decline_reason.is_some(), event.status.as_deref() == Some("DECLINED"));
            let card = matches!(event.payment_method.as_deref(), Some("CREDIT_CARD" | "DEBIT_CARD"));
            assert_eq!(event.card_last4.as_ref().map(String::len), card.then_some(4));
        }
        payments += 1;
        declined += usize::from(statuses[0] == "DECLINED");
        refunded += usize::from(statuses.last() == Some(&"REFUNDED"));
    }
    let decline_share = declined as f64 / payments as f64;
    assert!((decline_share - 0.06).abs() < 0.01, "decline share {decline_share}");
    assert!(refunded > 0, "no refund in {payments} payments");
}

#[test]
fn defects_come_at_the_configured_share_and_every_kind_appears() {
    let config = PaymentsGeneratorConfig { invalid_ratio: 0.05, ..PaymentsGeneratorConfig::default() };
    let mut generator = PaymentGenerator::new(&settings(5), &config).expect("valid");
    let mut kinds: BTreeMap<PaymentDefect, usize> = BTreeMap::new();
    let events = 40_000;
    for _ in 0..events {
        if let Some(kind) = generator.next_event().defect {
            *kinds.entry(kind).or_default() += 1;
        }
    }
    let share = kinds.values().sum::<usize>() as f64 / events as f64;
    assert!((share - 0.05).abs() < 0.005, "defect share {share}");
    assert_eq!(kinds.len(), PaymentDefect::ALL.len(), "{kinds:?}");
}

#[test]
fn a_new_configuration_changes_the_shares_and_an_invalid_one_is_refused() {
    let mut generator = PaymentGenerator::new(&settings(9), &clean(PaymentsGeneratorConfig::default())).expect("valid");
    let mut only_transfers = clean(PaymentsGeneratorConfig::default());
    only_transfers.payment_methods = Some([(PaymentMethod::BankTransfer, 1.0)].into());
    generator.reconfigure(&only_transfers).expect("valid");
    let mut invalid = only_transfers.clone();
    invalid.payment_methods = Some([(PaymentMethod::Crypto, 0.5)].into());
    let refused = generator.reconfigure(&invalid).expect_err("weights sum to 0.5");
    assert!(refused.problems[0].starts_with("generators.payments.payment_methods"), "{:?}", refused.problems);
    for _ in 0..2_000 {
        let payment = generator.next_event().payment;
        if matches!(payment.status.as_deref(), Some("AUTHORIZED" | "DECLINED")) {
            assert_eq!(payment.payment_method.as_deref(), Some("BANK_TRANSFER"));
        }
    }
}
