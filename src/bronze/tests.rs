//! The worker's buffers and the writer's "the table moved past this part" rejection, on real
//! Delta tables in temporary directories.

use std::collections::HashMap;

use super::batch::{BronzeBatchBuilder, KafkaMessage, PARTITION_COLUMN};
use super::buffer::{Buffers, PartitionBuffer};
use super::writer::{CommitJob, CommitOutcome, JobPart, try_commit};
use super::{DecoderFactory, app_id};
use crate::config::Config;
use crate::table::StageTable;

const TOPIC: &str = "orders";

fn builder() -> BronzeBatchBuilder {
    BronzeBatchBuilder::new(DecoderFactory::from_config(&Config::default()).decoder().unwrap()).unwrap()
}

fn message(partition: i32, offset: i64, payload: &[u8]) -> KafkaMessage<'_> {
    KafkaMessage { topic: TOPIC, partition, offset, timestamp_ms: None, key: None, headers: &[], payload: Some(payload) }
}

#[test]
fn the_totals_follow_every_way_rows_enter_and_leave() {
    let mut buffers = Buffers::default();
    buffers.insert(0, PartitionBuffer::new(builder(), None, 1));
    buffers.insert(1, PartitionBuffer::new(builder(), Some(9), 1));
    assert!(!buffers.push(&message(7, 0, b"not owned")), "a partition not owned is not buffered");
    for offset in 0..3 {
        assert!(buffers.push(&message(0, offset, b"abcd")));
    }
    buffers.push(&message(1, 10, b"xy"));
    assert_eq!((buffers.messages(), buffers.bytes()), (4, 14));
    assert!(buffers.oldest().is_some());

    // A rejected commit drops the partition's rows; it continues from the table's position.
    assert_eq!(buffers.discard(1, Some(12)), Some((1, 1)));
    assert_eq!((buffers.messages(), buffers.bytes()), (3, 12));
    assert_eq!(buffers.get(1).unwrap().position, Some(12));
    assert_eq!(buffers.discard(5, None), None);

    let parts = buffers.take_parts().unwrap();
    assert_eq!(parts.len(), 1, "only partition 0 holds rows");
    assert_eq!((parts[0].partition, parts[0].expected, parts[0].last, parts[0].batches[0].num_rows()), (0, None, 2, 3));
    assert_eq!((buffers.messages(), buffers.bytes(), buffers.oldest()), (0, 0, None));
    assert_eq!(buffers.get(0).unwrap().position, Some(2), "the next part continues from what was handed on");

    // A revoked partition takes its rows with it.
    buffers.push(&message(0, 3, b"abcd"));
    buffers.push(&message(1, 13, b"xyz"));
    assert_eq!(buffers.retain(|partition, _| partition == 1), 1);
    assert_eq!((buffers.messages(), buffers.bytes()), (1, 3));
    assert!(!buffers.contains(0));

    // Messages of another stream on a shared topic: no rows, but the position moves past them.
    buffers.take_parts().unwrap();
    assert!(buffers.skip(1, 14) && buffers.skip(1, 15));
    assert_eq!((buffers.messages(), buffers.bytes()), (2, 0));
    let parts = buffers.take_parts().unwrap();
    assert_eq!((parts.len(), parts[0].expected, parts[0].last, parts[0].batches.len()), (1, Some(13), 15, 0));
    assert_eq!(buffers.messages(), 0);
    assert!(buffers.take_parts().unwrap().is_empty(), "nothing new: no part");
}

fn part(partition: i32, expected: Option<i64>, offsets: std::ops::RangeInclusive<i64>) -> JobPart {
    let mut builder = builder();
    for offset in offsets.clone() {
        builder.push(&message(partition, offset, b"\x00garbage"));
    }
    JobPart { partition, expected, last: *offsets.end(), batches: vec![builder.finish(chrono::Utc::now()).unwrap()], accepted: None }
}

#[tokio::test]
async fn a_part_the_table_moved_past_is_rejected_and_the_others_commit() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("bronze").display().to_string();
    let mut table = StageTable::open_or_create(&location, HashMap::new(), builder().schema(), &[PARTITION_COLUMN]).await.unwrap();
    let mut outcome = CommitOutcome::default();
    try_commit(&mut table, TOPIC, &mut CommitJob { parts: vec![part(0, None, 0..=4)] }, &mut outcome).await.unwrap();
    assert_eq!(outcome.committed, vec![(0, 4, 5, 0)], "five undecodable rows committed");

    // Another worker's view: partition 0 still empty (stale), partition 1 new.
    let mut stale = StageTable::open_or_create(&location, HashMap::new(), builder().schema(), &[PARTITION_COLUMN]).await.unwrap();
    let mut outcome = CommitOutcome::default();
    let job = &mut CommitJob { parts: vec![part(0, None, 0..=2), part(1, None, 0..=1)] };
    try_commit(&mut stale, TOPIC, job, &mut outcome).await.unwrap();
    assert_eq!(outcome.rejected, vec![(0, Some(4))], "partition 0 is re-read from the table's position");
    assert_eq!(outcome.committed, vec![(1, 1, 2, 0)]);

    let reopened = StageTable::open_or_create(&location, HashMap::new(), builder().schema(), &[PARTITION_COLUMN]).await.unwrap();
    assert_eq!(reopened.position(&app_id(TOPIC, 0)).await.unwrap(), Some(4));
    assert_eq!(reopened.position(&app_id(TOPIC, 1)).await.unwrap(), Some(1));
    let rows = reopened.read_all(&builder().schema()).await.unwrap();
    assert_eq!(rows.num_rows(), 7, "5 + 2 rows, none of the rejected part's");
}
