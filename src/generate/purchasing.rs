//! How the purchase-order stream buys from the retail master data ([`super::master`]): its
//! products, vendors, customers and warehouses are the master data's, so purchase orders join
//! the same dimensions as the retail facts. What is particular to purchase orders stays here:
//! the currency each customer pays in, units per line and payment habits per segment.

use rand::Rng;
use rand::distr::weighted::WeightedIndex;
use rand::prelude::Distribution;

use super::master::{self, MasterData};
use super::record::Cents;

/// A currency, its rate against USD, and its share of customers.
#[derive(Debug)]
pub struct Currency {
    pub code: &'static str,
    pub per_usd: f64,
    pub share: f64,
}

pub const CURRENCIES: &[Currency] = &[
    Currency { code: "USD", per_usd: 1.0, share: 0.65 },
    Currency { code: "EUR", per_usd: 0.92, share: 0.18 },
    Currency { code: "GBP", per_usd: 0.79, share: 0.10 },
    Currency { code: "CAD", per_usd: 1.36, share: 0.07 },
];

pub const PAYMENT_METHODS: [&str; 4] = ["CREDIT_CARD", "DEBIT_CARD", "BANK_TRANSFER", "DIGITAL_WALLET"];
/// The master-data channels purchase orders come through, and their shares.
pub const SALES_CHANNELS: [(&str, f64); 5] = [("WEB", 0.45), ("B2B_PORTAL", 0.22), ("MOBILE_APP", 0.15), ("MARKETPLACE", 0.1), ("CALL_CENTRE", 0.08)];

/// How a segment's customers fill a purchase order, beside the master data's basket size (the
/// lines of an order) and discount sensitivity (the chance a line is discounted).
#[derive(Debug)]
pub struct Habits {
    pub units_per_line: (i32, i32),
    /// Weights of [`PAYMENT_METHODS`].
    pub payment_weights: [f64; 4],
}

/// Per segment, in the order of [`master::SEGMENTS`].
const HABITS: [Habits; 5] = [
    Habits { units_per_line: (5, 40), payment_weights: [0.35, 0.05, 0.5, 0.1] },
    Habits { units_per_line: (3, 25), payment_weights: [0.45, 0.1, 0.3, 0.15] },
    Habits { units_per_line: (2, 15), payment_weights: [0.45, 0.2, 0.15, 0.2] },
    Habits { units_per_line: (1, 10), payment_weights: [0.4, 0.3, 0.1, 0.2] },
    Habits { units_per_line: (1, 5), payment_weights: [0.45, 0.2, 0.05, 0.3] },
];

/// One customer as purchase orders see them.
#[derive(Debug)]
pub struct Buyer {
    pub customer: &'static master::Customer,
    pub currency: &'static Currency,
    /// The warehouse serving their home store.
    pub warehouse: &'static str,
}

impl Buyer {
    pub fn segment(&self) -> &'static master::Segment {
        self.customer.segment()
    }

    pub fn habits(&self) -> &'static Habits {
        &HABITS[self.customer.segment]
    }
}

/// The master data with what purchase orders add to it.
#[derive(Debug)]
pub struct Purchasing {
    pub master: &'static MasterData,
    pub buyers: Vec<Buyer>,
    /// Draws an index of [`SALES_CHANNELS`].
    pub channel_picker: WeightedIndex<f64>,
    /// Per segment, draws an index of [`PAYMENT_METHODS`] by its habits.
    payment_pickers: Vec<WeightedIndex<f64>>,
}

impl Purchasing {
    /// Every master-data customer as a buyer, currencies drawn from `rng`.
    pub fn new(rng: &mut impl Rng) -> Self {
        let master = MasterData::shared();
        let currency_picker = weighted(CURRENCIES.iter().map(|c| c.share));
        let buyers = master
            .customers
            .iter()
            .map(|customer| Buyer {
                customer,
                currency: &CURRENCIES[currency_picker.sample(rng)],
                warehouse: master.warehouse_for(customer.home_store).map_or("WH-01", |w| w.location_id),
            })
            .collect();
        let channel_picker = weighted(SALES_CHANNELS.iter().map(|c| c.1));
        let payment_pickers = HABITS.iter().map(|habits| weighted(habits.payment_weights)).collect();
        Self { master, buyers, channel_picker, payment_pickers }
    }

    /// A payment method as `buyer`'s segment pays.
    pub fn pick_payment_method(&self, rng: &mut impl Rng, buyer: &Buyer) -> &'static str {
        PAYMENT_METHODS[self.payment_pickers[buyer.customer.segment].sample(rng)]
    }

    /// Index of a buyer, every customer equally likely: a segment's share of orders is its share
    /// of customers.
    pub fn pick_buyer(&self, rng: &mut impl Rng) -> usize {
        rng.random_range(0..self.buyers.len())
    }

    /// `count` distinct product indexes (an order lists a product once).
    pub fn pick_products(&self, rng: &mut impl Rng, count: usize) -> Vec<usize> {
        rand::seq::index::sample(rng, self.master.products.len(), count.min(self.master.products.len())).into_vec()
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
    fn buyers_are_the_master_customers() {
        let a = Purchasing::new(&mut ChaCha8Rng::seed_from_u64(1));
        let b = Purchasing::new(&mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(a.buyers.len(), master::CUSTOMERS);
        for (x, y) in a.buyers.iter().zip(&b.buyers) {
            assert_eq!(
                (x.customer.customer_id.as_str(), x.currency.code, x.warehouse),
                (y.customer.customer_id.as_str(), y.currency.code, y.warehouse)
            );
            assert!(x.warehouse.starts_with("WH-"), "{x:?}");
        }
        let usd = a.buyers.iter().filter(|b| b.currency.code == "USD").count();
        assert!((6_200..=6_800).contains(&usd), "about 65% pay in USD: {usd}");
        assert_eq!(HABITS.len(), master::SEGMENTS.len());
    }
}
