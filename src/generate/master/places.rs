//! Where and how retail sales happen: locations (stores and warehouses) and sales channels, each
//! channel with its own shape over the hours of a day and the days of a week.

/// A store or a warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// `STORE-NN` or `WH-NN`, the key facts and `dim_location` share.
    pub location_id: &'static str,
    pub name: &'static str,
    /// `store` or `warehouse`.
    pub kind: &'static str,
    pub region: &'static str,
    pub city: &'static str,
    /// Store format (`flagship`, `mall`, `neighbourhood`, `outlet`), or `distribution` for a
    /// warehouse.
    pub format: &'static str,
}

const fn location(
    location_id: &'static str,
    name: &'static str,
    kind: &'static str,
    region: &'static str,
    city: &'static str,
    format: &'static str,
) -> Location {
    Location { location_id, name, kind, region, city, format }
}

pub const LOCATIONS: [Location; 13] = [
    location("STORE-01", "Seattle Downtown", "store", "West", "Seattle", "flagship"),
    location("STORE-02", "Portland Pearl", "store", "West", "Portland", "neighbourhood"),
    location("STORE-03", "San Jose Valley Fair", "store", "West", "San Jose", "mall"),
    location("STORE-04", "Denver Union Station", "store", "Mountain", "Denver", "neighbourhood"),
    location("STORE-05", "Dallas Galleria", "store", "South", "Dallas", "mall"),
    location("STORE-06", "Atlanta Midtown", "store", "South", "Atlanta", "flagship"),
    location("STORE-07", "Chicago Magnificent Mile", "store", "Midwest", "Chicago", "flagship"),
    location("STORE-08", "Minneapolis Mall", "store", "Midwest", "Bloomington", "mall"),
    location("STORE-09", "Newark Outlets", "store", "Northeast", "Elizabeth", "outlet"),
    location("STORE-10", "Boston Back Bay", "store", "Northeast", "Boston", "neighbourhood"),
    location("WH-01", "Reno Distribution Center", "warehouse", "West", "Reno", "distribution"),
    location("WH-02", "Memphis Distribution Center", "warehouse", "South", "Memphis", "distribution"),
    location("WH-03", "Allentown Distribution Center", "warehouse", "Northeast", "Allentown", "distribution"),
];

/// The warehouse serving each store region (a region without its own is served by a neighbour).
pub const REGION_WAREHOUSES: [(&str, &str); 5] =
    [("West", "WH-01"), ("Mountain", "WH-01"), ("South", "WH-02"), ("Midwest", "WH-02"), ("Northeast", "WH-03")];

/// A way of selling, and when its customers buy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Channel {
    /// The key facts and `dim_channel` share, e.g. `POS`.
    pub channel_id: &'static str,
    pub name: &'static str,
    /// Sold online (web, app, marketplace, ...) rather than in a store or by phone.
    pub online: bool,
    /// Relative activity per hour of the day (local time), 0–23.
    pub hours: [f64; 24],
    /// Relative activity per weekday, Monday first.
    pub weekdays: [f64; 7],
}

/// Stores open 9–21 and are busiest at lunch and after work; weekends are their best days.
const STORE_HOURS: [f64; 24] =
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 0.8, 1.1, 1.5, 1.4, 1.0, 0.9, 1.1, 1.5, 1.7, 1.4, 1.0, 0.6, 0.0, 0.0];
const STORE_WEEK: [f64; 7] = [0.8, 0.8, 0.85, 0.9, 1.1, 1.45, 1.3];
/// Online shopping goes on all day and peaks in the evening; weekends a little busier.
const ONLINE_HOURS: [f64; 24] =
    [0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.5, 0.7, 0.9, 1.0, 1.1, 1.2, 1.1, 1.0, 1.0, 1.1, 1.3, 1.5, 1.8, 2.0, 1.9, 1.3, 0.7];
const ONLINE_WEEK: [f64; 7] = [1.0, 0.95, 0.95, 1.0, 1.0, 1.05, 1.1];
/// Business channels follow office hours and are quiet at weekends.
const OFFICE_HOURS: [f64; 24] =
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 1.0, 1.6, 1.8, 1.7, 1.2, 1.5, 1.7, 1.6, 1.3, 0.8, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0];
const OFFICE_WEEK: [f64; 7] = [1.25, 1.3, 1.3, 1.25, 1.1, 0.15, 0.05];

const fn channel(channel_id: &'static str, name: &'static str, online: bool, hours: [f64; 24], weekdays: [f64; 7]) -> Channel {
    Channel { channel_id, name, online, hours, weekdays }
}

pub const CHANNELS: [Channel; 8] = [
    channel("POS", "In-store point of sale", false, STORE_HOURS, STORE_WEEK),
    channel("WEB", "Web shop", true, ONLINE_HOURS, ONLINE_WEEK),
    channel("MOBILE_APP", "Mobile app", true, ONLINE_HOURS, ONLINE_WEEK),
    channel("MARKETPLACE", "Third-party marketplace", true, ONLINE_HOURS, ONLINE_WEEK),
    channel("CALL_CENTRE", "Call centre", false, OFFICE_HOURS, OFFICE_WEEK),
    channel("SOCIAL", "Social commerce", true, ONLINE_HOURS, ONLINE_WEEK),
    channel("KIOSK", "In-store kiosk", false, STORE_HOURS, STORE_WEEK),
    channel("B2B_PORTAL", "Business portal", true, OFFICE_HOURS, OFFICE_WEEK),
];

/// The base rate's factor in each month: November 1.3×, December 1.5×, January 0.7×.
pub const MONTH_FACTORS: [f64; 12] = [0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.3, 1.5];

impl Channel {
    /// How busy the channel is at `time` relative to its average hour of an average month: the
    /// month's factor × the hour's × the weekday's (each shape averages 1).
    pub fn activity(&self, time: chrono::DateTime<chrono::Utc>) -> f64 {
        use chrono::{Datelike, Timelike};
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
        let hour = self.hours[time.hour() as usize] / mean(&self.hours);
        let weekday = self.weekdays[time.weekday().num_days_from_monday() as usize] / mean(&self.weekdays);
        MONTH_FACTORS[time.month0() as usize] * hour * weekday
    }
}
