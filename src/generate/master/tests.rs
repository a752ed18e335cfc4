//! The master data's promises: counts, determinism, segment shares, prices that fit the product.

use std::collections::HashSet;

use chrono::TimeZone;

use super::*;

#[test]
fn the_same_version_is_the_same_data() {
    let (a, b) = (MasterData::current(), MasterData::current());
    assert_eq!(a, b);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!((a.products.len(), a.customers.len(), a.locations.len(), a.channels.len()), (500, 10_000, 13, 8));
    assert_eq!((a.stores().count(), a.warehouses().count()), (10, 3));
}

#[test]
fn keys_are_unique_and_resolve() {
    let master = MasterData::current();
    let skus: HashSet<&str> = master.products.iter().map(|p| p.sku.as_str()).collect();
    let names: HashSet<&str> = master.products.iter().map(|p| p.name.as_str()).collect();
    let customers: HashSet<&str> = master.customers.iter().map(|c| c.customer_id.as_str()).collect();
    assert_eq!((skus.len(), names.len(), customers.len()), (500, 500, 10_000));
    assert_eq!(master.product("SKU-00042").map(|p| p.sku.as_str()), Some("SKU-00042"));
    assert_eq!(master.customer("CUST-010000").map(|c| c.customer_id.as_str()), Some("CUST-010000"));
    assert!(master.product("SKU-00000").is_none() && master.product("SKU-00501").is_none() && master.customer("nobody").is_none());
    let stores: HashSet<&str> = master.stores().map(|s| s.location_id).collect();
    assert!(master.customers.iter().all(|c| stores.contains(c.home_store)));
    assert!(master.products.iter().all(|p| master.vendor(p.vendor_id).is_some()), "every product's vendor is a vendor");
    assert!(master.vendors.windows(2).all(|w| w[0].vendor_id < w[1].vendor_id));
    let product_ids: HashSet<&str> = master.products.iter().map(|p| p.product_id.as_str()).collect();
    assert_eq!(product_ids.len(), 500);
    assert!(master.products.iter().all(|p| p.product_id.len() == 6 && p.product_id.starts_with("PRD")), "the purchase-order contract's PRDNNN");
    for store in master.stores() {
        let warehouse = master.warehouse_for(store.location_id).unwrap();
        assert_eq!(warehouse.kind, "warehouse", "{store:?}");
    }
}

#[test]
fn prices_fit_what_the_product_is() {
    let master = MasterData::current();
    for product in &master.products {
        let (low, high) = band_of(product.item).unwrap();
        let price = product.list_price_cents as f64 / 100.0;
        assert!(price >= low - 1.0 && price <= high, "{}: {price} outside {low}..{high}", product.name);
        assert!(product.cost_cents > 0 && product.cost_cents < product.list_price_cents, "{product:?}");
        assert!(product.list_price_cents % 100 == 99, "prices end in .99: {product:?}");
    }
    let mean_price = |item: &str| {
        let prices: Vec<f64> = master.products.iter().filter(|p| p.item == item).map(|p| p.list_price_cents as f64 / 100.0).collect();
        prices.iter().sum::<f64>() / prices.len() as f64
    };
    assert!(mean_price("Wireless Mouse") < 100.0 && mean_price("Laptop") > 800.0);
}

#[test]
fn segments_hold_their_shares() {
    let master = MasterData::current();
    for (index, segment) in SEGMENTS.iter().enumerate() {
        let members = master.customers.iter().filter(|c| c.segment == index).count();
        assert_eq!(members, (segment.share * 10_000.0).round() as usize, "{}", segment.name);
    }
    assert!((SEGMENTS.iter().map(|s| s.share).sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(master.customers.iter().filter(|c| c.segment().name == "New").all(|c| c.tenure_days < 90));
}

#[test]
fn seasonality_and_day_shapes() {
    let pos = CHANNELS.iter().find(|c| c.channel_id == "POS").unwrap();
    let web = CHANNELS.iter().find(|c| c.channel_id == "WEB").unwrap();
    let at = |month, day, hour| chrono::Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap();
    // Same weekday and hour (Tuesdays at 12:00) in October, November, December and January.
    let october = pos.activity(at(10, 13, 12));
    assert!((pos.activity(at(11, 10, 12)) / october - 1.3).abs() < 1e-9);
    assert!((pos.activity(at(12, 8, 12)) / october - 1.5).abs() < 1e-9);
    assert!((pos.activity(chrono::Utc.with_ymd_and_hms(2027, 1, 12, 12, 0, 0).unwrap()) / october - 0.7).abs() < 1e-9);
    // Stores are closed at night, the web shop is not; stores are busiest at weekends.
    assert_eq!(pos.activity(at(10, 13, 3)), 0.0);
    assert!(web.activity(at(10, 13, 3)) > 0.0 && web.activity(at(10, 13, 20)) > web.activity(at(10, 13, 3)));
    assert!(pos.activity(at(10, 17, 12)) > pos.activity(at(10, 13, 12)), "a Saturday beats a Tuesday");
}
