//! Settings of the built-in stream generators other than purchase orders (`generators:`); pace,
//! seed, calendar and output come from `producer:`, shared by every generator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Countries a payment can come from, with the ISO 4217 currency it is paid in (ISO 3166-1
/// alpha-2 codes).
pub const COUNTRY_CURRENCIES: &[(&str, &str)] = &[
    ("AU", "AUD"),
    ("BR", "BRL"),
    ("CA", "CAD"),
    ("CH", "CHF"),
    ("DE", "EUR"),
    ("ES", "EUR"),
    ("FR", "EUR"),
    ("GB", "GBP"),
    ("IN", "INR"),
    ("IT", "EUR"),
    ("JP", "JPY"),
    ("MX", "MXN"),
    ("NL", "EUR"),
    ("SE", "SEK"),
    ("SG", "SGD"),
    ("US", "USD"),
];

/// The currency of `country`, if it is one of [`COUNTRY_CURRENCIES`].
pub fn currency_of(country: &str) -> Option<&'static str> {
    COUNTRY_CURRENCIES.iter().find(|(code, _)| *code == country).map(|(_, currency)| *currency)
}

/// Every built-in generator's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorsConfig {
    /// The payment-transaction generator (`medallion produce --stream payments`).
    pub payments: PaymentsGeneratorConfig,
}

/// How a payment is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    CreditCard,
    DebitCard,
    BankTransfer,
    DigitalWallet,
    Crypto,
}

impl PaymentMethod {
    /// The value on the wire, e.g. `CREDIT_CARD`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::CreditCard => "CREDIT_CARD",
            Self::DebitCard => "DEBIT_CARD",
            Self::BankTransfer => "BANK_TRANSFER",
            Self::DigitalWallet => "DIGITAL_WALLET",
            Self::Crypto => "CRYPTO",
        }
    }

    /// Paid with a card: the event carries a card brand and the card's last four digits.
    pub fn is_card(self) -> bool {
        matches!(self, Self::CreditCard | Self::DebitCard)
    }
}

/// The shape of generated amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmountDistribution {
    /// Normal with `mean` (default: the middle of the range) and `stddev` (default: a sixth of
    /// the range), redrawn until inside `[min, max]`.
    Normal,
    /// Uniform over `[min, max]`.
    Uniform,
    /// `min` plus an exponential whose mean is `mean - min` (default `mean`: `min` plus a tenth
    /// of the range), redrawn until inside `[min, max]`.
    Exponential,
}

/// The amounts of generated payments, in the payment's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmountsConfig {
    /// Smallest amount (at least 0.01).
    pub min: f64,
    /// Largest amount.
    pub max: f64,
    /// `normal`, `uniform` or `exponential`.
    pub distribution: AmountDistribution,
    /// Mean of `normal` and `exponential` (see [`AmountDistribution`] for the default).
    pub mean: Option<f64>,
    /// Standard deviation of `normal` (see [`AmountDistribution`] for the default).
    pub stddev: Option<f64>,
}

impl Default for AmountsConfig {
    fn default() -> Self {
        Self { min: 1.0, max: 10_000.0, distribution: AmountDistribution::Exponential, mean: Some(120.0), stddev: None }
    }
}

impl AmountsConfig {
    /// The mean the distribution is drawn with.
    pub fn effective_mean(&self) -> f64 {
        let range = self.max - self.min;
        match self.distribution {
            AmountDistribution::Normal => self.mean.unwrap_or(self.min + range / 2.0),
            AmountDistribution::Uniform => self.min + range / 2.0,
            AmountDistribution::Exponential => self.mean.unwrap_or(self.min + range / 10.0),
        }
    }

    /// The standard deviation the distribution is drawn with (before redrawing outside the range).
    pub fn effective_stddev(&self) -> f64 {
        let range = self.max - self.min;
        match self.distribution {
            AmountDistribution::Normal => self.stddev.unwrap_or(range / 6.0),
            AmountDistribution::Uniform => range / 12f64.sqrt(),
            AmountDistribution::Exponential => self.effective_mean() - self.min,
        }
    }
}

/// The payment-transaction generator: what payments look like. A SIGHUP re-reads this section
/// and applies it without a restart when it is valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsGeneratorConfig {
    /// Topic the payments go to (`--topic` with `--stream payments`).
    pub topic: String,
    /// Schema version written (a `schemas/payment_transaction.v<N>.avsc`; `--schema-version`
    /// with `--stream payments`).
    pub schema_version: u32,
    /// Payments per second; `producer.rate` when unset (`--rate` with `--stream payments`).
    pub rate: Option<u32>,
    /// Weight of each payment method (`credit_card`, `debit_card`, `bank_transfer`,
    /// `digital_wallet`, `crypto`); the weights sum to 1. A map given replaces the default
    /// (credit_card 0.55, debit_card 0.25, bank_transfer 0.08, digital_wallet 0.12) whole.
    pub payment_methods: Option<BTreeMap<PaymentMethod, f64>>,
    /// Amounts: range and distribution.
    pub amounts: AmountsConfig,
    /// Weight of each country (ISO 3166-1 alpha-2, one of [`COUNTRY_CURRENCIES`]); the weights
    /// sum to 1. The currency follows the country. A map given replaces the default (US 0.5,
    /// GB 0.2, DE 0.2, CA 0.1) whole.
    pub countries: Option<BTreeMap<String, f64>>,
    /// Share of events (0–1) that carry one injected defect (`--invalid-ratio` with
    /// `--stream payments`).
    pub invalid_ratio: f64,
    /// Share of payments the issuer declines (0–1).
    pub decline_rate: f64,
    /// Share of captured payments refunded later (0–1).
    pub refund_rate: f64,
}

const DEFAULT_METHODS: [(PaymentMethod, f64); 4] =
    [(PaymentMethod::CreditCard, 0.55), (PaymentMethod::DebitCard, 0.25), (PaymentMethod::BankTransfer, 0.08), (PaymentMethod::DigitalWallet, 0.12)];
const DEFAULT_COUNTRIES: [(&str, f64); 4] = [("US", 0.5), ("GB", 0.2), ("DE", 0.2), ("CA", 0.1)];

// The weight maps default to `None`: the configuration's layers merge maps key by key, and a
// user's map must replace the default one, not add to it.
impl Default for PaymentsGeneratorConfig {
    fn default() -> Self {
        Self {
            topic: "payments".to_owned(),
            schema_version: 2,
            rate: None,
            payment_methods: None,
            amounts: AmountsConfig::default(),
            countries: None,
            invalid_ratio: 0.05,
            decline_rate: 0.06,
            refund_rate: 0.04,
        }
    }
}

/// How far weights may sum from 1 (they are typed by hand as decimals).
const WEIGHT_TOLERANCE: f64 = 1e-6;

impl PaymentsGeneratorConfig {
    /// The payment-method weights in effect.
    pub fn methods(&self) -> BTreeMap<PaymentMethod, f64> {
        self.payment_methods.clone().unwrap_or_else(|| DEFAULT_METHODS.into_iter().collect())
    }

    /// The country weights in effect.
    pub fn country_weights(&self) -> BTreeMap<String, f64> {
        self.countries.clone().unwrap_or_else(|| DEFAULT_COUNTRIES.into_iter().map(|(code, weight)| (code.to_owned(), weight)).collect())
    }

    /// Every problem of the section, each naming its key under `generators.payments`.
    pub fn problems(&self) -> Vec<String> {
        let key = |name: &str| format!("generators.payments.{name}");
        let mut problems = Vec::new();
        check_weights(&key("payment_methods"), self.methods().into_values(), &mut problems);
        let countries = self.country_weights();
        check_weights(&key("countries"), countries.values().copied(), &mut problems);
        for country in countries.keys().filter(|country| currency_of(country).is_none()) {
            let known: Vec<&str> = COUNTRY_CURRENCIES.iter().map(|(code, _)| *code).collect();
            problems.push(format!("{}: `{country}` is not a known country (one of {})", key("countries"), known.join(", ")));
        }
        for (name, share) in [("invalid_ratio", self.invalid_ratio), ("decline_rate", self.decline_rate), ("refund_rate", self.refund_rate)] {
            if !(0.0..=1.0).contains(&share) {
                problems.push(format!("{}: {share} must be between 0 and 1", key(name)));
            }
        }
        self.check_amounts(&key("amounts"), &mut problems);
        problems
    }

    fn check_amounts(&self, key: &str, problems: &mut Vec<String>) {
        let amounts = &self.amounts;
        if !(amounts.min >= 0.01 && amounts.max.is_finite() && amounts.max > amounts.min) {
            problems.push(format!("{key}: min {} and max {} must satisfy 0.01 <= min < max", amounts.min, amounts.max));
            return;
        }
        if amounts.max >= 1e10 {
            problems.push(format!("{key}.max: {} does not fit the schema's decimal(12, 2)", amounts.max));
        }
        let (mean, stddev) = (amounts.effective_mean(), amounts.effective_stddev());
        match amounts.distribution {
            AmountDistribution::Uniform if amounts.mean.is_some() || amounts.stddev.is_some() => {
                problems.push(format!("{key}: a uniform distribution takes no mean or stddev (it follows min and max)"));
            }
            AmountDistribution::Exponential if amounts.stddev.is_some() => {
                problems.push(format!("{key}.stddev: an exponential distribution's spread follows its mean; remove stddev"));
            }
            AmountDistribution::Normal | AmountDistribution::Exponential if !(mean > amounts.min && mean < amounts.max) => {
                problems.push(format!("{key}.mean: {mean} must lie between min {} and max {}", amounts.min, amounts.max));
            }
            AmountDistribution::Normal if !(stddev > 0.0 && stddev.is_finite()) => {
                problems.push(format!("{key}.stddev: {stddev} must be more than 0"));
            }
            _ => {}
        }
    }
}

/// Weights are at least 0 and sum to 1.
fn check_weights(key: &str, weights: impl Iterator<Item = f64>, problems: &mut Vec<String>) {
    let weights: Vec<f64> = weights.collect();
    if weights.is_empty() {
        problems.push(format!("{key}: list at least one with a weight"));
        return;
    }
    if let Some(negative) = weights.iter().find(|w| !(**w >= 0.0 && w.is_finite())) {
        problems.push(format!("{key}: weight {negative} must be 0 or more"));
        return;
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > WEIGHT_TOLERANCE {
        problems.push(format!("{key}: the weights sum to {sum:.4}, not 1"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(PaymentsGeneratorConfig::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn every_problem_names_its_key() {
        let mut config = PaymentsGeneratorConfig::default();
        config.payment_methods = Some(config.methods().into_iter().chain([(PaymentMethod::Crypto, 0.1)]).collect());
        config.countries = Some(config.country_weights().into_iter().chain([("ZZ".to_owned(), 0.0)]).collect());
        config.decline_rate = 1.5;
        config.amounts = AmountsConfig { min: 5.0, max: 100.0, distribution: AmountDistribution::Normal, mean: Some(200.0), stddev: None };
        let problems = config.problems();
        let expected = [
            "generators.payments.payment_methods: the weights sum to 1.1",
            "generators.payments.countries: `ZZ` is not a known country",
            "generators.payments.decline_rate: 1.5 must be between 0 and 1",
            "generators.payments.amounts.mean: 200 must lie between min 5 and max 100",
        ];
        for start in expected {
            assert!(problems.iter().any(|p| p.starts_with(start)), "no `{start}` in {problems:#?}");
        }
        assert_eq!(problems.len(), expected.len(), "{problems:#?}");
    }

    #[test]
    fn an_inverted_range_is_reported_once() {
        let mut config = PaymentsGeneratorConfig::default();
        config.amounts.min = 50.0;
        config.amounts.max = 10.0;
        assert_eq!(config.problems(), ["generators.payments.amounts: min 50 and max 10 must satisfy 0.01 <= min < max"]);
    }
}
