//! The payments generator: a pure, seeded state machine that emits payment-transaction events,
//! shaped by `generators.payments` (method and country weights, the amount distribution, decline
//! and refund rates).
//!
//! A payment is AUTHORIZED, or DECLINED by the issuer, in its first event. An authorised payment
//! is CAPTURED a few events later, and a share of captured payments is REFUNDED much later, each
//! in an event with the same `transaction_id`, a fresh `event_id` and a later `event_time`.
//! Times follow the calendar of [`EventClock`] (business hours, quieter weekends). A share of
//! events carries one [`PaymentDefect`].

mod defects;
mod master;
mod record;

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, Normal};

pub use defects::PaymentDefect;
pub use master::MasterData;
pub use record::PaymentTransaction;

use super::{Cents, EventClock, FollowUps, GeneratorSettings, random_uuid};
use crate::config::{AmountDistribution, AmountsConfig, PaymentMethod, PaymentsGeneratorConfig, currency_of};

const CHANNELS: [(&str, f64); 4] = [("ONLINE", 0.45), ("MOBILE_APP", 0.25), ("IN_STORE", 0.25), ("PHONE", 0.05)];
const CARD_BRANDS: [(&str, f64); 4] = [("VISA", 0.5), ("MASTERCARD", 0.3), ("AMEX", 0.12), ("DISCOVER", 0.08)];
const DECLINE_REASONS: [&str; 4] = ["INSUFFICIENT_FUNDS", "SUSPECTED_FRAUD", "EXPIRED_CARD", "DO_NOT_HONOR"];
/// Events between authorisation and capture, and between capture and a refund.
const CAPTURE_DELAY: std::ops::Range<u64> = 1..400;
const REFUND_DELAY: std::ops::Range<u64> = 500..20_000;
/// Draws of a normal or exponential amount outside the range before the range's edge is taken.
const MAX_REDRAWS: usize = 1_000;

/// One generated event and the defect it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedPayment {
    pub payment: PaymentTransaction,
    pub defect: Option<PaymentDefect>,
}

/// The draws a configuration stands for, built once per configuration.
struct Shape {
    methods: Vec<PaymentMethod>,
    method_index: WeightedIndex<f64>,
    countries: Vec<(String, &'static str)>,
    country_index: WeightedIndex<f64>,
    amounts: AmountsConfig,
    invalid_ratio: f64,
    decline_rate: f64,
    refund_rate: f64,
}

impl Shape {
    /// The draws of `config`, or its problems (see [`PaymentsGeneratorConfig::problems`]).
    fn new(config: &PaymentsGeneratorConfig) -> Result<Self, InvalidShape> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(InvalidShape { problems });
        }
        let (method_weights, country_weights) = (config.methods(), config.country_weights());
        let methods: Vec<PaymentMethod> = method_weights.keys().copied().collect();
        let method_index = weighted_index(method_weights.values().copied())?;
        // Every country has a currency: `problems` checked it.
        let countries = country_weights.keys().filter_map(|c| currency_of(c).map(|currency| (c.clone(), currency))).collect();
        let country_index = weighted_index(country_weights.values().copied())?;
        Ok(Self {
            methods,
            method_index,
            countries,
            country_index,
            amounts: config.amounts.clone(),
            invalid_ratio: config.invalid_ratio,
            decline_rate: config.decline_rate,
            refund_rate: config.refund_rate,
        })
    }
}

/// Weighted draws over `weights` (which [`PaymentsGeneratorConfig::problems`] checked).
fn weighted_index(weights: impl IntoIterator<Item = f64>) -> Result<WeightedIndex<f64>, InvalidShape> {
    WeightedIndex::new(weights).map_err(|e| InvalidShape { problems: vec![e.to_string()] })
}

/// Why a configuration was not taken.
#[derive(Debug, thiserror::Error)]
#[error("invalid payments generator configuration:\n{}", .problems.join("\n"))]
pub struct InvalidShape {
    pub problems: Vec<String>,
}

/// The generator's state.
pub struct PaymentGenerator {
    rng: ChaCha8Rng,
    master: MasterData,
    clock: EventClock,
    shape: Shape,
    channel_index: WeightedIndex<f64>,
    brand_index: WeightedIndex<f64>,
    /// Events emitted so far.
    emitted: u64,
    /// Follow-ups of earlier payments, earliest due first.
    scheduled: FollowUps<PaymentTransaction>,
}

impl PaymentGenerator {
    /// A generator of `config`'s payments, with the seed and calendar of `settings` (its
    /// `invalid_ratio` is the config's).
    pub fn new(settings: &GeneratorSettings, config: &PaymentsGeneratorConfig) -> Result<Self, InvalidShape> {
        let shape = Shape::new(config)?;
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let master = MasterData::generate(&mut rng);
        let weights = |table: &[(&str, f64)]| weighted_index(table.iter().map(|(_, w)| *w));
        Ok(Self {
            rng,
            master,
            clock: EventClock::new(settings.start_time, settings.rate, settings.time_scale),
            shape,
            channel_index: weights(&CHANNELS)?,
            brand_index: weights(&CARD_BRANDS)?,
            emitted: 0,
            scheduled: FollowUps::default(),
        })
    }

    /// Applies a new configuration from the next event on (payments in flight keep theirs). An
    /// invalid one is refused with its problems and the current one stays.
    pub fn reconfigure(&mut self, config: &PaymentsGeneratorConfig) -> Result<(), InvalidShape> {
        self.shape = Shape::new(config)?;
        Ok(())
    }

    /// The next event of the stream.
    pub fn next_event(&mut self) -> GeneratedPayment {
        let now = self.clock.next_event_time(&mut self.rng);
        let mut payment = match self.take_due_follow_up(now) {
            Some(payment) => payment,
            None => self.new_payment(now),
        };
        self.schedule_follow_up(&payment);
        self.emitted += 1;
        let defect = (self.shape.invalid_ratio > 0.0 && self.rng.random_bool(self.shape.invalid_ratio)).then(|| {
            let kind = PaymentDefect::pick(&mut self.rng);
            kind.apply(&mut payment, &mut self.rng);
            kind
        });
        GeneratedPayment { payment, defect }
    }

    /// The earliest follow-up, moved to its next status at `now`, if one is due.
    fn take_due_follow_up(&mut self, now: i64) -> Option<PaymentTransaction> {
        let mut payment = self.scheduled.pop_due(self.emitted)?;
        payment.event_id = random_uuid(&mut self.rng);
        payment.event_time = now;
        match payment.status.as_deref() {
            Some("AUTHORIZED") => {
                payment.status = Some("CAPTURED".to_owned());
                payment.captured_at = Some(now);
            }
            _ => payment.status = Some("REFUNDED".to_owned()),
        }
        Some(payment)
    }

    /// Schedules what follows `payment`: its capture, or its refund.
    fn schedule_follow_up(&mut self, payment: &PaymentTransaction) {
        let delay = match payment.status.as_deref() {
            Some("AUTHORIZED") => self.rng.random_range(CAPTURE_DELAY),
            Some("CAPTURED") if self.rng.random_bool(self.shape.refund_rate) => self.rng.random_range(REFUND_DELAY),
            _ => return,
        };
        self.scheduled.push(self.emitted + delay, self.emitted, payment.clone());
    }

    /// A new payment's first event: authorised, or declined.
    fn new_payment(&mut self, now: i64) -> PaymentTransaction {
        let rng = &mut self.rng;
        let shape = &self.shape;
        let method = shape.methods[shape.method_index.sample(rng)];
        let (country, currency) = shape.countries[shape.country_index.sample(rng)].clone();
        let customer = &self.master.customers[rng.random_range(0..self.master.customers.len())];
        // A few merchants take most payments.
        let merchant = &self.master.merchants[(self.master.merchants.len() as f64 * rng.random::<f64>().powi(2)) as usize];
        let declined = rng.random_bool(shape.decline_rate);
        let risk: f64 = if declined { 0.5 + 0.5 * rng.random::<f64>() } else { 0.8 * rng.random::<f64>().powi(3) };
        let card = method.is_card().then(|| (CARD_BRANDS[self.brand_index.sample(rng)].0, format!("{:04}", rng.random_range(0..10_000))));
        PaymentTransaction {
            event_id: random_uuid(rng),
            transaction_id: Some(random_uuid(rng)),
            merchant_id: Some(merchant.id.clone()),
            merchant_name: Some(merchant.name.to_owned()),
            customer_id: Some(customer.id.clone()),
            customer_name: Some(customer.name.clone()),
            payment_method: Some(method.wire_name().to_owned()),
            amount: Some(draw_amount(&shape.amounts, currency, rng)),
            currency: Some(currency.to_owned()),
            country: Some(country),
            status: Some(if declined { "DECLINED" } else { "AUTHORIZED" }.to_owned()),
            event_time: now,
            authorized_at: Some(now),
            captured_at: None,
            channel: Some(CHANNELS[self.channel_index.sample(rng)].0.to_owned()),
            card_brand: card.as_ref().map(|(brand, _)| (*brand).to_owned()),
            card_last4: card.map(|(_, last4)| last4),
            decline_reason: declined.then(|| DECLINE_REASONS[rng.random_range(0..DECLINE_REASONS.len())].to_owned()),
            risk_score: Some((risk * 1e4).round() / 1e4),
        }
    }
}

/// An amount of `amounts`' distribution, in cents (whole units for a currency without minor
/// units).
pub fn draw_amount(amounts: &AmountsConfig, currency: &str, rng: &mut impl Rng) -> Cents {
    let (min, max) = (amounts.min, amounts.max);
    let (mean, stddev) = (amounts.effective_mean(), amounts.effective_stddev());
    let value = match amounts.distribution {
        AmountDistribution::Uniform => rng.random_range(min..=max),
        AmountDistribution::Normal => match Normal::new(mean, stddev) {
            Ok(normal) => redraw_inside(|rng| normal.sample(rng), min, max, rng),
            Err(_) => mean,
        },
        AmountDistribution::Exponential => match Exp::new(1.0 / (mean - min)) {
            Ok(exponential) => redraw_inside(|rng| min + exponential.sample(rng), min, max, rng),
            Err(_) => mean,
        },
    };
    let unit = if currency == "JPY" { 100.0 } else { 1.0 };
    let cents = ((value * 100.0 / unit).round() * unit) as i64;
    Cents(cents.clamp((min * 100.0).ceil() as i64, (max * 100.0).floor() as i64))
}

fn redraw_inside<R: Rng>(draw: impl Fn(&mut R) -> f64, min: f64, max: f64, rng: &mut R) -> f64 {
    for _ in 0..MAX_REDRAWS {
        let value = draw(rng);
        if (min..=max).contains(&value) {
            return value;
        }
    }
    draw(rng).clamp(min, max)
}

#[cfg(test)]
mod tests;
