//! Deterministic master data: products (with names, prices and vendors), customers (with segments
//! that shape their baskets and payment habits), currencies and the warehouses serving them.

use rand::Rng;
use rand::distr::weighted::WeightedIndex;
use rand::prelude::Distribution;

use super::record::Cents;

/// A currency, its rate against USD, and the warehouses that ship orders paid in it.
#[derive(Debug)]
pub struct Currency {
    pub code: &'static str,
    pub per_usd: f64,
    pub warehouses: &'static [&'static str],
    /// Share of customers paying in this currency.
    pub share: f64,
}

pub const CURRENCIES: &[Currency] = &[
    Currency { code: "USD", per_usd: 1.0, warehouses: &["US-SEA-01", "US-DAL-02", "US-ATL-03", "US-CHI-04", "US-NJ-05"], share: 0.65 },
    Currency { code: "EUR", per_usd: 0.92, warehouses: &["NL-RTM-01", "DE-FRA-02"], share: 0.18 },
    Currency { code: "GBP", per_usd: 0.79, warehouses: &["UK-LON-01"], share: 0.10 },
    Currency { code: "CAD", per_usd: 1.36, warehouses: &["CA-TOR-01"], share: 0.07 },
];

pub const PAYMENT_METHODS: [&str; 4] = ["CREDIT_CARD", "DEBIT_CARD", "BANK_TRANSFER", "DIGITAL_WALLET"];
pub const SALES_CHANNELS: [(&str, f64); 4] = [("WEB", 0.55), ("MOBILE_APP", 0.25), ("MARKETPLACE", 0.12), ("PHONE", 0.08)];

/// How a kind of customer buys.
#[derive(Debug)]
pub struct Segment {
    pub name: &'static str,
    /// Share of the customer base.
    pub share: f64,
    /// How often such a customer orders, relative to a regular one.
    pub order_frequency: f64,
    pub lines_per_order: (u32, u32),
    pub units_per_line: (i32, i32),
    /// Chance that a line carries a discount.
    pub discount_chance: f64,
    /// Weights of [`PAYMENT_METHODS`].
    pub payment_weights: [f64; 4],
}

pub const SEGMENTS: &[Segment] = &[
    Segment {
        name: "VIP",
        share: 0.05,
        order_frequency: 4.0,
        lines_per_order: (3, 8),
        units_per_line: (5, 40),
        discount_chance: 0.35,
        payment_weights: [0.35, 0.05, 0.5, 0.1],
    },
    Segment {
        name: "Premium",
        share: 0.15,
        order_frequency: 2.5,
        lines_per_order: (2, 6),
        units_per_line: (3, 25),
        discount_chance: 0.2,
        payment_weights: [0.45, 0.1, 0.3, 0.15],
    },
    Segment {
        name: "Loyal",
        share: 0.25,
        order_frequency: 2.0,
        lines_per_order: (2, 5),
        units_per_line: (2, 15),
        discount_chance: 0.15,
        payment_weights: [0.45, 0.2, 0.15, 0.2],
    },
    Segment {
        name: "Regular",
        share: 0.40,
        order_frequency: 1.0,
        lines_per_order: (1, 4),
        units_per_line: (1, 10),
        discount_chance: 0.05,
        payment_weights: [0.4, 0.3, 0.1, 0.2],
    },
    Segment {
        name: "New",
        share: 0.15,
        order_frequency: 0.7,
        lines_per_order: (1, 2),
        units_per_line: (1, 5),
        discount_chance: 0.1,
        payment_weights: [0.45, 0.2, 0.05, 0.3],
    },
];

struct Category {
    items: &'static [&'static str],
    /// Unit price range in USD.
    price_usd: (f64, f64),
}

const CATEGORIES: &[Category] = &[
    Category {
        items: &["Copy Paper A4", "Stapler", "Ballpoint Pens", "Sticky Notes", "Ring Binder", "Desk Organizer", "Whiteboard Markers", "Envelopes"],
        price_usd: (2.0, 80.0),
    },
    Category {
        items: &["Laptop 14\"", "Monitor 27\"", "Wireless Mouse", "Mechanical Keyboard", "USB-C Dock", "Headset", "Webcam", "Tablet"],
        price_usd: (20.0, 2500.0),
    },
    Category {
        items: &["Cordless Drill", "Angle Grinder", "Air Compressor", "Hydraulic Jack", "Welding Helmet", "Torque Wrench"],
        price_usd: (30.0, 4000.0),
    },
    Category { items: &["Office Chair", "Standing Desk", "Filing Cabinet", "Bookshelf", "Conference Table"], price_usd: (80.0, 2000.0) },
    Category { items: &["Safety Gloves", "Hard Hat", "Safety Glasses", "Hi-Vis Vest", "First Aid Kit", "Ear Protection"], price_usd: (3.0, 250.0) },
    Category { items: &["Shipping Boxes", "Packing Tape", "Bubble Wrap", "Pallet Wrap", "Shipping Labels"], price_usd: (1.0, 90.0) },
];

const MODIFIERS: &[&str] = &["Pro", "Standard", "Heavy-Duty", "Compact", "Premium", "Eco", "XL", "Basic"];
const VENDORS_PER_CATEGORY: usize = 6;
const PRODUCT_COUNT: usize = 240;
const CUSTOMER_COUNT: usize = 4_000;

#[derive(Debug)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub vendor_id: String,
    pub price_usd: Cents,
}

#[derive(Debug)]
pub struct Customer {
    pub id: String,
    pub segment: &'static Segment,
    pub currency: &'static Currency,
}

/// All master data, and how often each customer orders.
#[derive(Debug)]
pub struct Catalog {
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    customer_picker: WeightedIndex<f64>,
}

impl Catalog {
    /// The catalogue drawn from `rng`; the same generator state gives the same catalogue.
    pub fn generate(rng: &mut impl Rng) -> Self {
        let products = (0..PRODUCT_COUNT).map(|i| product(i, rng)).collect();
        let segment_picker = weighted(SEGMENTS.iter().map(|s| s.share));
        let currency_picker = weighted(CURRENCIES.iter().map(|c| c.share));
        let customers: Vec<Customer> = (0..CUSTOMER_COUNT)
            .map(|i| Customer {
                id: format!("CUST-{:06}", i + 1),
                segment: &SEGMENTS[segment_picker.sample(rng)],
                currency: &CURRENCIES[currency_picker.sample(rng)],
            })
            .collect();
        let customer_picker = weighted(customers.iter().map(|c| c.segment.order_frequency));
        Self { products, customers, customer_picker }
    }

    /// Index of a customer, frequent buyers (by segment) more likely.
    pub fn pick_customer(&self, rng: &mut impl Rng) -> usize {
        self.customer_picker.sample(rng)
    }
}

fn product(index: usize, rng: &mut impl Rng) -> Product {
    let category_index = index % CATEGORIES.len();
    let category = &CATEGORIES[category_index];
    let item = category.items[rng.random_range(0..category.items.len())];
    let modifier = MODIFIERS[rng.random_range(0..MODIFIERS.len())];
    let vendor = category_index * VENDORS_PER_CATEGORY + rng.random_range(0..VENDORS_PER_CATEGORY) + 1;
    // Log-uniform prices with retail endings (.99 / .49).
    let (low, high) = category.price_usd;
    let dollars = (low.ln() + rng.random::<f64>() * (high.ln() - low.ln())).exp().floor().max(1.0);
    let ending = if rng.random_bool(0.7) { 99 } else { 49 };
    Product {
        id: format!("PRD{:03}", index + 1),
        name: format!("{modifier} {item}"),
        vendor_id: format!("VEN-{vendor:04}"),
        price_usd: Cents(dollars as i64 * 100 + ending - 100).max(Cents(99)),
    }
}

/// A sampler over positive weights (all constants here, so it cannot fail).
pub fn weighted(weights: impl IntoIterator<Item = f64>) -> WeightedIndex<f64> {
    #[allow(clippy::expect_used)]
    WeightedIndex::new(weights).expect("weights are positive constants")
}

/// A price in another currency, rounded to the cent.
pub fn convert(price_usd: Cents, currency: &Currency) -> Cents {
    Cents(((price_usd.0 as f64) * currency.per_usd).round() as i64).max(Cents(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn catalogue_is_deterministic_and_well_formed() {
        let a = Catalog::generate(&mut ChaCha8Rng::seed_from_u64(1));
        let b = Catalog::generate(&mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(a.products.len(), PRODUCT_COUNT);
        for (x, y) in a.products.iter().zip(&b.products) {
            assert_eq!((&x.id, &x.name, &x.vendor_id, x.price_usd), (&y.id, &y.name, &y.vendor_id, y.price_usd));
            assert!(x.price_usd >= Cents(99) && x.price_usd <= Cents(400_000), "{x:?}");
        }
        assert_eq!(a.products[0].id, "PRD001");
        assert_eq!(a.products[239].id, "PRD240");
        let vip = a.customers.iter().filter(|c| c.segment.name == "VIP").count();
        assert!((100..=300).contains(&vip), "about 5% of 4000 customers are VIP: {vip}");
    }
}
