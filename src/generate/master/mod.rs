//! Retail master data: the one source of truth every retail generator and the dimension tables
//! use. Deterministic and self-contained (no database, no network): the same version always
//! holds the same 500 products, 13 locations, 8 channels and 10,000 customers.
//!
//! Products are priced for what they are ([`products`]); customers fall into segments that
//! shape their baskets and discounts ([`customers`]); channels have their hours, weekdays and the
//! months' seasonality ([`places`]).

mod customers;
mod places;
mod products;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use customers::{Customer, SEGMENTS, Segment};
pub use places::{CHANNELS, Channel, LOCATIONS, Location, MONTH_FACTORS, REGION_WAREHOUSES};
pub use products::{Product, VENDORS, Vendor, band_of};

/// The master data's version: changing what it generates (or the dimensions' columns) changes
/// this, and the dimension tables are written once per version. 2: products carry the
/// purchase-order `product_id`; vendors have names.
pub const VERSION: u32 = 2;
/// The seed version [`VERSION`] is drawn from.
const SEED: u64 = 0x6d65_6461_6c6c_696f;

pub const PRODUCTS: usize = 500;
pub const CUSTOMERS: usize = 10_000;

/// Every product, location, channel and customer.
#[derive(Debug, Clone, PartialEq)]
pub struct MasterData {
    pub version: u32,
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    pub locations: &'static [Location],
    pub channels: &'static [Channel],
    pub vendors: &'static [Vendor],
}

impl MasterData {
    /// The master data of [`VERSION`].
    pub fn current() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        let products = products::products(&mut rng, PRODUCTS);
        let customers = customers::customers(&mut rng, CUSTOMERS);
        Self { version: VERSION, products, customers, locations: &LOCATIONS, channels: &CHANNELS, vendors: &VENDORS }
    }

    /// The master data of [`VERSION`], built once per process: what generators and dimension
    /// tables share.
    pub fn shared() -> &'static Self {
        static SHARED: std::sync::OnceLock<MasterData> = std::sync::OnceLock::new();
        SHARED.get_or_init(Self::current)
    }

    /// A fingerprint of everything it holds (FNV-1a over its debug text): two builds that
    /// generate different master data under one [`VERSION`] are told apart.
    pub fn fingerprint(&self) -> u64 {
        format!("{self:?}").bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
    }

    pub fn product(&self, sku: &str) -> Option<&Product> {
        let index: usize = sku.strip_prefix("SKU-")?.parse().ok()?;
        self.products.get(index.checked_sub(1)?)
    }

    pub fn customer(&self, customer_id: &str) -> Option<&Customer> {
        let index: usize = customer_id.strip_prefix("CUST-")?.parse().ok()?;
        self.customers.get(index.checked_sub(1)?)
    }

    pub fn vendor(&self, vendor_id: &str) -> Option<&Vendor> {
        self.vendors.iter().find(|v| v.vendor_id == vendor_id)
    }

    /// The warehouse that ships to customers of `store` (a `STORE-NN`), by the store's region.
    pub fn warehouse_for(&self, store: &str) -> Option<&Location> {
        let region = self.locations.iter().find(|l| l.location_id == store)?.region;
        let (_, warehouse) = REGION_WAREHOUSES.iter().find(|(r, _)| *r == region)?;
        self.locations.iter().find(|l| l.location_id == *warehouse)
    }

    pub fn stores(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.kind == "store")
    }

    pub fn warehouses(&self) -> impl Iterator<Item = &Location> {
        self.locations.iter().filter(|l| l.kind == "warehouse")
    }
}

#[cfg(test)]
mod tests;
