//! Retail event times: the wall clock, or a simulated calendar paced by a channel's activity
//! (its hours, weekdays and the months' seasonality), so a backfill holds the master data's shapes.

use chrono::{DateTime, Timelike, Utc};
use rand::Rng;

use crate::generate::master::Channel;

const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// Where a retail generator's times come from.
#[derive(Debug, Clone)]
pub enum RetailClock {
    /// Each event is stamped with the current time.
    Wall,
    /// A calendar advanced per event by a random step whose mean is `mean_step_micros` divided by
    /// the channel's activity at that moment; closed hours (no activity) are skipped.
    Simulated { now_micros: i64, mean_step_micros: f64 },
}

impl RetailClock {
    /// Paced like the purchase orders' [`crate::generate::EventClock`]: `rate` events per real
    /// second, each real second standing for `time_scale` simulated ones.
    pub fn new(start: Option<DateTime<Utc>>, rate: u32, time_scale: f64) -> Self {
        let mean_step_micros = crate::generate::clock::mean_step_micros(rate, time_scale);
        start.map_or(Self::Wall, |start| Self::Simulated { now_micros: start.timestamp_micros(), mean_step_micros })
    }

    /// The current time (µs) without advancing: when a follow-up of an earlier event happens.
    pub fn now(&self) -> i64 {
        match self {
            Self::Wall => Utc::now().timestamp_micros(),
            Self::Simulated { now_micros, .. } => *now_micros,
        }
    }

    /// The time (µs) of the next `events` events, which happen together (the lines of one sale).
    pub fn next_time(&mut self, rng: &mut impl Rng, channel: &Channel, events: u32) -> i64 {
        match self {
            Self::Wall => Utc::now().timestamp_micros(),
            Self::Simulated { now_micros, mean_step_micros } => {
                let exponential = -(1.0 - rng.random::<f64>()).ln();
                let mut budget = *mean_step_micros * f64::from(events.max(1)) * exponential;
                // Spend the step at the activity of each hour it crosses: a quiet hour passes
                // quickly in events, a closed one is skipped.
                for _ in 0..24 * 400 {
                    let time = DateTime::from_timestamp_micros(*now_micros).unwrap_or_default();
                    let activity = channel.activity(time);
                    let hour_left = MICROS_PER_HOUR
                        - (i64::from(time.minute()) * 60 + i64::from(time.second())) * 1_000_000
                        - i64::from(time.timestamp_subsec_micros());
                    let needed = budget / activity.max(f64::MIN_POSITIVE);
                    if activity > 0.0 && needed < hour_left as f64 {
                        *now_micros += needed.round() as i64;
                        return *now_micros;
                    }
                    budget -= hour_left as f64 * activity;
                    *now_micros += hour_left;
                }
                *now_micros
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::master::CHANNELS;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn stores_are_closed_at_night_and_busier_in_december() {
        let pos = &CHANNELS[0];
        let start = "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        // About 80 simulated seconds per sale: November 1 to late December.
        let mut clock = RetailClock::new(Some(start), 100, 8_000.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut by_hour, mut by_month) = ([0u32; 24], [0u32; 12]);
        let mut days = std::collections::BTreeSet::new();
        let mut previous = start.timestamp_micros();
        for _ in 0..60_000 {
            let time = clock.next_time(&mut rng, pos, 1);
            assert!(time >= previous);
            previous = time;
            let time = DateTime::from_timestamp_micros(time).unwrap();
            by_hour[time.hour() as usize] += 1;
            by_month[chrono::Datelike::month0(&time) as usize] += 1;
            days.insert(time.date_naive());
        }
        let days_in = |month| days.iter().filter(|d| chrono::Datelike::month(*d) == month).count() as f64;
        let (november, december) = (f64::from(by_month[10]) / days_in(11), f64::from(by_month[11]) / days_in(12));
        assert_eq!(by_hour[3] + by_hour[23], 0, "closed at night: {by_hour:?}");
        assert!(by_hour[18] > by_hour[9], "busier after work: {by_hour:?}");
        assert!((december / november - 1.5 / 1.3).abs() < 0.1, "December 1.5× and November 1.3× a day: {november} {december}");
    }
}
