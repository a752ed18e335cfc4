//! Customers in segments, each segment with its own behaviour: how many items a basket holds and
//! how readily a discount moves them.

use rand::Rng;
use rand::seq::SliceRandom;

use super::places::LOCATIONS;

/// How a kind of customer buys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub name: &'static str,
    /// Share of the customer base.
    pub share: f64,
    /// Items in a basket, fewest and most (inclusive).
    pub basket: (u32, u32),
    /// Chance that a purchase of theirs takes a discount on offer.
    pub discount_sensitivity: f64,
}

pub const SEGMENTS: [Segment; 5] = [
    Segment { name: "VIP", share: 0.05, basket: (3, 8), discount_sensitivity: 0.2 },
    Segment { name: "Premium", share: 0.15, basket: (2, 5), discount_sensitivity: 0.4 },
    Segment { name: "Loyal", share: 0.25, basket: (2, 4), discount_sensitivity: 0.5 },
    Segment { name: "Regular", share: 0.35, basket: (1, 3), discount_sensitivity: 0.7 },
    Segment { name: "New", share: 0.2, basket: (1, 2), discount_sensitivity: 0.9 },
];

const FIRST_NAMES: [&str; 40] = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Amelia",
    "Oliver",
    "Sophia",
    "Elijah",
    "Isabella",
    "James",
    "Mia",
    "William",
    "Charlotte",
    "Lucas",
    "Harper",
    "Henry",
    "Evelyn",
    "Alexander",
    "Hannah",
    "Mateo",
    "Lena",
    "Jonas",
    "Clara",
    "Felix",
    "Sofia",
    "Leon",
    "Chloe",
    "Ethan",
    "Aisha",
    "Arjun",
    "Priya",
    "Kenji",
    "Yuki",
    "Camila",
    "Diego",
    "Zoe",
    "Samuel",
    "Grace",
    "Omar",
    "Nora",
];

const LAST_NAMES: [&str; 40] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Hall",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Patel",
    "Sharma",
    "Tanaka",
    "Suzuki",
    "Silva",
    "Santos",
    "Dubois",
    "Rossi",
    "O'Brien",
    "Nguyen",
];

/// One customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// `CUST-NNNNNN`, the key facts and `dim_customer` share.
    pub customer_id: String,
    pub name: String,
    pub email: String,
    /// Index into [`SEGMENTS`].
    pub segment: usize,
    /// The store nearest to them (`STORE-NN`).
    pub home_store: &'static str,
    /// When they became a customer, days before the master data's reference date.
    pub tenure_days: u32,
}

impl Customer {
    pub fn segment(&self) -> &'static Segment {
        &SEGMENTS[self.segment]
    }
}

/// `count` customers; each segment holds exactly its share (rounded), in a shuffled order.
pub fn customers(rng: &mut impl Rng, count: usize) -> Vec<Customer> {
    let mut segments: Vec<usize> = Vec::with_capacity(count);
    for (index, segment) in SEGMENTS.iter().enumerate() {
        let members = if index + 1 == SEGMENTS.len() { count - segments.len() } else { (segment.share * count as f64).round() as usize };
        segments.extend(std::iter::repeat_n(index, members.min(count - segments.len())));
    }
    segments.shuffle(rng);
    let stores: Vec<&'static str> = LOCATIONS.iter().filter(|l| l.kind == "store").map(|l| l.location_id).collect();
    segments
        .into_iter()
        .enumerate()
        .map(|(index, segment)| {
            let (first, last) = (FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())], LAST_NAMES[rng.random_range(0..LAST_NAMES.len())]);
            let number = index + 1;
            let email = format!("{}.{}{number}@example.com", first.to_lowercase(), last.to_lowercase().replace('\'', ""));
            // New customers joined in the last 90 days; the others up to six years ago.
            let tenure_days = if SEGMENTS[segment].name == "New" { rng.random_range(0..90) } else { rng.random_range(90..2190) };
            Customer {
                customer_id: format!("CUST-{number:06}"),
                name: format!("{first} {last}"),
                email,
                segment,
                home_store: stores[rng.random_range(0..stores.len())],
                tenure_days,
            }
        })
        .collect()
}
