use std::collections::{HashMap, HashSet};

use super::*;

fn settings(seed: u64) -> GeneratorSettings {
    GeneratorSettings { seed, invalid_ratio: 0.05, start_time: Some("2026-01-05T00:00:00Z".parse().unwrap()), rate: 1_000, time_scale: 60.0 }
}

fn events(settings: &GeneratorSettings, n: usize) -> Vec<GeneratedEvent> {
    let mut generator = Generator::new(settings);
    (0..n).map(|_| generator.next_event()).collect()
}

#[test]
fn same_seed_and_start_time_give_the_same_stream() {
    assert_eq!(events(&settings(7), 2_000), events(&settings(7), 2_000));
    assert_ne!(events(&settings(7), 50), events(&settings(8), 50));
}

#[test]
fn invalid_share_follows_the_ratio_and_covers_every_kind() {
    let stream = events(&settings(11), 40_000);
    let invalid = stream.iter().filter(|e| e.defect.is_some()).count() as f64 / stream.len() as f64;
    assert!((0.045..=0.055).contains(&invalid), "invalid share {invalid}");
    let kinds: HashSet<_> = stream.iter().filter_map(|e| e.defect).collect();
    assert_eq!(kinds.len(), DefectKind::ALL.len());
}

#[test]
fn clean_events_are_consistent() {
    for event in events(&settings(3), 20_000).into_iter().filter(|e| e.defect.is_none()) {
        let item = &event.item;
        let (quantity, price) = (item.quantity.unwrap(), item.unit_price.unwrap());
        assert_eq!(item.total_amount, Some(Cents(price.0 * i64::from(quantity))));
        assert!((1..=1000).contains(&quantity) && price.0 > 0 && price.0 <= 5_000_000, "{item:?}");
        let order_id = item.order_id.as_deref().unwrap();
        assert!(order_id.len() == 10 && order_id.starts_with("ORD-") && order_id[4..].bytes().all(|b| b.is_ascii_digit()));
        let product_id = item.product_id.as_deref().unwrap();
        assert!(product_id.len() == 6 && product_id.starts_with("PRD"));
        assert_eq!(event.key(), Some(order_id.as_bytes()));
        let (status, payment) = (item.order_status.as_deref().unwrap(), item.payment_status.as_deref().unwrap());
        if status == "DELIVERED" {
            assert_eq!(payment, "PAID");
        }
        if status == "CANCELLED" {
            assert!(["REFUNDED", "FAILED", "PENDING"].contains(&payment));
        }
        assert!(item.created_at <= item.event_time);
        assert!(item.discount_amount.is_none_or(|d| d < item.total_amount.unwrap()));
    }
}

#[test]
fn lines_progress_through_their_lifecycle_in_order() {
    let rank = |s: &str| ["NEW", "PROCESSING", "SHIPPED", "DELIVERED"].iter().position(|x| *x == s);
    let mut last: HashMap<(String, i32), (i64, usize)> = HashMap::new();
    let mut follow_ups = 0;
    let clean = GeneratorSettings { invalid_ratio: 0.0, ..settings(5) };
    for event in events(&clean, 30_000) {
        let item = event.item;
        let key = (item.order_id.clone().unwrap(), item.line_number);
        let status = item.order_status.as_deref().unwrap();
        if let Some((time, previous_rank)) = last.get(&key) {
            follow_ups += 1;
            assert!(item.event_time > *time, "later events carry later times");
            if let Some(rank) = rank(status) {
                assert!(rank > *previous_rank, "{key:?} went back to {status}");
            }
        } else {
            assert_eq!(status, "NEW", "a line starts as NEW");
        }
        last.insert(key, (item.event_time, rank(status).unwrap_or(usize::MAX)));
    }
    assert!(follow_ups > 10_000, "most events are follow-ups once the stream runs: {follow_ups}");
}

#[test]
fn wall_clock_mode_stamps_now() {
    let mut settings = settings(1);
    settings.start_time = None;
    let before = Utc::now().timestamp_micros();
    let event = Generator::new(&settings).next_event();
    assert!(event.item.event_time >= before);
}
