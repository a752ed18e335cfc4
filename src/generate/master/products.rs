//! Products: what they are decides what they cost. Each kind of item has a price band of its
//! own (a mouse sells for tens of dollars, a laptop for a thousand or two), and a product's list
//! price is drawn inside its band, its cost below that.

use rand::Rng;

/// One kind of item and the prices it sells at (USD list price, low and high).
struct Item {
    name: &'static str,
    band: (f64, f64),
}

/// A product category: its items, brands and vendors.
struct Category {
    name: &'static str,
    /// Share of the assortment.
    share: f64,
    items: &'static [Item],
    brands: &'static [&'static str],
    /// Vendor ids (`VEND-NNN`) supplying it.
    vendors: &'static [&'static str],
}

const fn item(name: &'static str, low: f64, high: f64) -> Item {
    Item { name, band: (low, high) }
}

const CATEGORIES: &[Category] = &[
    Category {
        name: "Electronics",
        share: 0.24,
        items: &[
            item("Wireless Mouse", 15.0, 80.0),
            item("Mechanical Keyboard", 50.0, 220.0),
            item("27-inch Monitor", 180.0, 650.0),
            item("Noise-Cancelling Headphones", 80.0, 400.0),
            item("USB-C Hub", 20.0, 90.0),
            item("Laptop", 600.0, 2500.0),
            item("Webcam", 30.0, 160.0),
            item("Portable SSD 1TB", 60.0, 180.0),
        ],
        brands: &["Voltix", "Nordlight", "Kestrel", "Aperture Labs", "Brightwave"],
        vendors: &["VEND-001", "VEND-002", "VEND-003"],
    },
    Category {
        name: "Tools & Safety",
        share: 0.16,
        items: &[
            item("Welding Helmet", 40.0, 320.0),
            item("Cordless Drill", 60.0, 260.0),
            item("Safety Gloves (pair)", 5.0, 30.0),
            item("Socket Set", 25.0, 160.0),
            item("Laser Level", 30.0, 250.0),
            item("Hard Hat", 15.0, 60.0),
        ],
        brands: &["Ironclad", "Forgeway", "SteadyHand", "Torque & Co"],
        vendors: &["VEND-004", "VEND-005"],
    },
    Category {
        name: "Office",
        share: 0.18,
        items: &[
            item("Ergonomic Office Chair", 120.0, 750.0),
            item("Standing Desk", 250.0, 950.0),
            item("Printer Paper (5 reams)", 20.0, 55.0),
            item("Gel Pens (12 pack)", 5.0, 22.0),
            item("Desk Lamp", 18.0, 120.0),
            item("Filing Cabinet", 90.0, 420.0),
        ],
        brands: &["Paperline", "Deskwise", "Ledger & Quill", "Workform"],
        vendors: &["VEND-006", "VEND-007"],
    },
    Category {
        name: "Home & Kitchen",
        share: 0.2,
        items: &[
            item("Drip Coffee Maker", 30.0, 250.0),
            item("High-Speed Blender", 40.0, 420.0),
            item("Cookware Set", 80.0, 520.0),
            item("Chef's Knife", 25.0, 190.0),
            item("Air Fryer", 60.0, 240.0),
            item("Bath Towel Set", 20.0, 90.0),
        ],
        brands: &["Hearthstone", "Copperleaf", "Maison Verte", "Kitchara"],
        vendors: &["VEND-008", "VEND-009"],
    },
    Category {
        name: "Apparel",
        share: 0.14,
        items: &[
            item("Running Shoes", 50.0, 190.0),
            item("Rain Jacket", 40.0, 260.0),
            item("Cotton T-Shirt", 10.0, 40.0),
            item("Wool Sweater", 45.0, 180.0),
            item("Denim Jeans", 35.0, 140.0),
        ],
        brands: &["Trailmark", "Northbound", "Loom & Field"],
        vendors: &["VEND-010"],
    },
    Category {
        name: "Grocery",
        share: 0.08,
        items: &[
            item("Coffee Beans 1kg", 15.0, 42.0),
            item("Olive Oil 1L", 9.0, 30.0),
            item("Green Tea (100 bags)", 6.0, 20.0),
            item("Dark Chocolate (6 bars)", 12.0, 35.0),
        ],
        brands: &["Harvest Row", "Old Mill", "Sunfield"],
        vendors: &["VEND-011", "VEND-012"],
    },
];

const MODIFIERS: [&str; 6] = ["", "Pro ", "Lite ", "Plus ", "Max ", "Eco "];

/// One product of the assortment.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    /// `SKU-NNNNN`, the key the retail facts and `dim_product` share.
    pub sku: String,
    /// `PRDNNN`, the same product's id in the purchase-order stream (its wire contract), also a
    /// column of `dim_product`.
    pub product_id: String,
    pub name: String,
    pub category: &'static str,
    /// What kind of item it is (its price band's name), e.g. "Wireless Mouse".
    pub item: &'static str,
    pub brand: &'static str,
    /// List price in USD cents.
    pub list_price_cents: i64,
    /// Unit cost in USD cents, below the list price.
    pub cost_cents: i64,
    pub vendor_id: &'static str,
}

/// `count` products, drawn from `rng`.
pub fn products(rng: &mut impl Rng, count: usize) -> Vec<Product> {
    let total_share: f64 = CATEGORIES.iter().map(|c| c.share).sum();
    let mut names = std::collections::HashSet::new();
    (0..count)
        .map(|index| {
            let mut pick = rng.random_range(0.0..total_share);
            let category = CATEGORIES.iter().find(|c| {
                pick -= c.share;
                pick < 0.0
            });
            let category = category.unwrap_or(&CATEGORIES[0]);
            let item = &category.items[rng.random_range(0..category.items.len())];
            let brand = category.brands[rng.random_range(0..category.brands.len())];
            let modifier = MODIFIERS[rng.random_range(0..MODIFIERS.len())];
            let mut name = format!("{brand} {modifier}{}", item.name);
            let mut model = 2;
            while !names.insert(name.clone()) {
                name = format!("{brand} {modifier}{} M{model}", item.name);
                model += 1;
            }
            let list_price_cents = price_in(rng, item.band);
            let cost_cents = (list_price_cents as f64 * rng.random_range(0.45..0.75)).round() as i64;
            Product {
                sku: format!("SKU-{:05}", index + 1),
                product_id: format!("PRD{:03}", index + 1),
                name,
                category: category.name,
                item: item.name,
                brand,
                list_price_cents,
                cost_cents,
                vendor_id: category.vendors[rng.random_range(0..category.vendors.len())],
            }
        })
        .collect()
}

/// A price in `band` (USD), log-uniform (cheap variants are as common as dear ones in ratio),
/// ending in .99.
fn price_in(rng: &mut impl Rng, (low, high): (f64, f64)) -> i64 {
    let dollars = (low.ln() + rng.random::<f64>() * (high.ln() - low.ln())).exp().floor().max(1.0);
    dollars as i64 * 100 - 1
}

/// The price band (USD) of an item kind, for checks.
pub fn band_of(item: &str) -> Option<(f64, f64)> {
    CATEGORIES.iter().flat_map(|c| c.items).find(|i| i.name == item).map(|i| i.band)
}

/// A supplier of products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vendor {
    /// `VEND-NNN`, the key products, purchase orders and `dim_vendor` share.
    pub vendor_id: &'static str,
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country of the vendor's head office.
    pub country: &'static str,
}

const fn vendor(vendor_id: &'static str, name: &'static str, country: &'static str) -> Vendor {
    Vendor { vendor_id, name, country }
}

/// Every vendor the categories name, in id order.
pub const VENDORS: [Vendor; 12] = [
    vendor("VEND-001", "Pacific Circuit Supply", "US"),
    vendor("VEND-002", "Shenzhen Brightway Electronics", "CN"),
    vendor("VEND-003", "Nordic Device Distribution", "SE"),
    vendor("VEND-004", "Midwest Tool & Safety", "US"),
    vendor("VEND-005", "Rhein Werkzeug GmbH", "DE"),
    vendor("VEND-006", "Commonwealth Office Goods", "US"),
    vendor("VEND-007", "Maple Stationers", "CA"),
    vendor("VEND-008", "Lakeside Housewares", "US"),
    vendor("VEND-009", "Lyon Cuisine Import", "FR"),
    vendor("VEND-010", "Threadline Apparel Group", "US"),
    vendor("VEND-011", "Andes Coffee Traders", "CO"),
    vendor("VEND-012", "Mediterra Fine Foods", "IT"),
];
