//! The payments generator's master data, drawn once from the seed: customers with realistic
//! names, and merchants.

use rand::Rng;

/// Given names and family names, separated by spaces.
const FIRST_NAMES: &str = "\
    Olivia Liam Emma Noah Amelia Oliver Sophia Elijah Isabella James Mia William Charlotte Lucas Harper \
    Henry Evelyn Alexander Hannah Mateo Lena Jonas Clara Felix Sofia Leon Chloe Ethan Aisha Arjun Priya \
    Kenji Yuki Camila Diego Zoe Samuel Grace Omar Nora";

const LAST_NAMES: &str = "\
    Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Wilson Anderson Taylor \
    Thomas Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker Young Müller Schmidt \
    Schneider Fischer Weber Patel Sharma Tanaka Suzuki Silva Santos Dubois Rossi O'Brien Nguyen";

const MERCHANT_NAMES: &[&str] = &[
    "Northwind Grocers",
    "Blue Harbor Coffee",
    "Atlas Electronics",
    "Cedar & Pine Furniture",
    "Urban Threads",
    "Summit Outdoor Gear",
    "Bright Smile Dental",
    "Metro Transit",
    "Golden Wok",
    "PageTurner Books",
    "Velocity Fitness",
    "Sunrise Pharmacy",
    "Harbor View Hotel",
    "Pixel Games",
    "Green Leaf Market",
    "Copper Kettle Bakery",
    "Skyline Airlines",
    "CityFuel Stations",
    "Nimbus Cloud Services",
    "Riverbend Vet Clinic",
    "Luma Cosmetics",
    "Orbit Mobile",
    "Fresh Basket Delivery",
    "Crafted Home Decor",
];

/// Customers in the pool.
const CUSTOMER_COUNT: usize = 5_000;

#[derive(Debug, Clone)]
pub struct Customer {
    /// CUS-NNNNNN.
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Merchant {
    /// MER-NNNNN.
    pub id: String,
    pub name: &'static str,
}

/// Customers and merchants of one seed.
#[derive(Debug, Clone)]
pub struct MasterData {
    pub customers: Vec<Customer>,
    pub merchants: Vec<Merchant>,
}

impl MasterData {
    pub fn generate(rng: &mut impl Rng) -> Self {
        let first_names: Vec<&str> = FIRST_NAMES.split_whitespace().collect();
        let last_names: Vec<&str> = LAST_NAMES.split_whitespace().collect();
        let first_customer = rng.random_range(100_000..400_000);
        let customers = (0..CUSTOMER_COUNT)
            .map(|index| {
                let first = first_names[rng.random_range(0..first_names.len())];
                let last = last_names[rng.random_range(0..last_names.len())];
                Customer { id: format!("CUS-{:06}", first_customer + index), name: format!("{first} {last}") }
            })
            .collect();
        let merchants =
            MERCHANT_NAMES.iter().enumerate().map(|(index, name)| Merchant { id: format!("MER-{:05}", 10_001 + index * 7), name }).collect();
        Self { customers, merchants }
    }
}
