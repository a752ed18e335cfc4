//! Event timestamps: the wall clock, or a simulated calendar whose pace follows business hours,
//! weekdays and the season, so a backfill looks like a real year of orders.

use chrono::{DateTime, Datelike, Timelike, Utc};
use rand::Rng;

/// Relative order intensity by hour of day (UTC): quiet nights, busy business hours.
const HOUR_WEIGHT: [f64; 24] = [
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.8, 1.3, 1.7, 1.9, 1.9, //
    1.6, 1.8, 1.9, 1.8, 1.6, 1.2, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2,
];
const WEEKEND_WEIGHT: f64 = 0.45;

/// Where event times come from.
#[derive(Debug, Clone)]
pub enum EventClock {
    /// Each event is stamped with the current time.
    Wall,
    /// A calendar advanced per event by a random step whose mean is `mean_step_micros` divided
    /// by the intensity of the moment: events bunch up in business hours, and the months follow
    /// the master data's seasonality (November 1.3×, December 1.5×, January 0.7×).
    Simulated { now_micros: i64, mean_step_micros: f64 },
}

impl EventClock {
    /// `rate` events per real second, each real second standing for `time_scale` simulated ones.
    pub fn new(start: Option<DateTime<Utc>>, rate: u32, time_scale: f64) -> Self {
        match start {
            None => Self::Wall,
            Some(start) => Self::Simulated { now_micros: start.timestamp_micros(), mean_step_micros: mean_step_micros(rate, time_scale) },
        }
    }

    /// The time of the next event, in microseconds since the epoch.
    pub fn next_event_time(&mut self, rng: &mut impl Rng) -> i64 {
        match self {
            Self::Wall => Utc::now().timestamp_micros(),
            Self::Simulated { now_micros, mean_step_micros } => {
                let exponential = -(1.0 - rng.random::<f64>()).ln();
                let step = *mean_step_micros * exponential / intensity(*now_micros);
                *now_micros += step.round() as i64;
                *now_micros
            }
        }
    }
}

/// Simulated microseconds per event at `rate` events per real second, each real second standing
/// for `time_scale` simulated ones; an unlimited rate (0) paces the calendar as 1,000 a second.
pub(crate) fn mean_step_micros(rate: u32, time_scale: f64) -> f64 {
    let rate = if rate == 0 { 1_000.0 } else { f64::from(rate) };
    1e6 * time_scale / rate
}

/// How busy ordering is at this instant, around 1 on average.
fn intensity(micros: i64) -> f64 {
    let Some(time) = DateTime::from_timestamp_micros(micros) else { return 1.0 };
    let weekday = if time.weekday().number_from_monday() >= 6 { WEEKEND_WEIGHT } else { 1.0 };
    HOUR_WEIGHT[time.hour() as usize] * super::master::MONTH_FACTORS[time.month0() as usize] * weekday
}

/// Fiscal quarter of a date, with the fiscal year starting on 1 July (FY2026 = Jul 2025 – Jun 2026).
pub fn fiscal_quarter(date: chrono::NaiveDate) -> String {
    let (year, month) = (date.year(), date.month());
    let (fiscal_year, quarter) = if month >= 7 { (year + 1, (month - 7) / 3 + 1) } else { (year, (month - 1) / 3 + 3) };
    format!("FY{fiscal_year}-Q{quarter}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn fiscal_year_starts_in_july() {
        let quarter = |y, m| fiscal_quarter(NaiveDate::from_ymd_opt(y, m, 15).unwrap());
        assert_eq!(quarter(2026, 2), "FY2026-Q3");
        assert_eq!(quarter(2026, 5), "FY2026-Q4");
        assert_eq!(quarter(2026, 7), "FY2027-Q1");
        assert_eq!(quarter(2026, 12), "FY2027-Q2");
    }

    #[test]
    fn simulated_calendar_favours_business_hours() {
        let start = "2026-03-02T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        // 100 events/s at 3600x: 36 simulated seconds per event on average.
        let mut clock = EventClock::new(Some(start), 100, 3600.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut by_hour = [0u32; 24];
        let mut previous = start.timestamp_micros();
        for _ in 0..20_000 {
            let time = clock.next_event_time(&mut rng);
            assert!(time >= previous, "time never goes backwards");
            previous = time;
            by_hour[DateTime::from_timestamp_micros(time).unwrap().hour() as usize] += 1;
        }
        assert!(by_hour[10] > 5 * by_hour[3], "10:00 busier than 03:00: {by_hour:?}");
    }
}
