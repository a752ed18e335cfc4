//! The worker's buffers and the writer's "the table moved past this part" rejection, on real
//! Delta tables in temporary directories.

use std::collections::HashMap;

use super::batch::{BronzeBatchBuilder, KafkaMessage, PARTITION_COLUMN};
use super::buffer::{Buffers, PartitionBuffer};
use super::rows::CHUNK_ROWS;
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
    let mut buffers = Buffers::new(builder());
    buffers.insert(0, PartitionBuffer::new(None, 1));
    buffers.insert(1, PartitionBuffer::new(Some(9), 1));
    assert!(!buffers.push(&message(7, 0, b"not owned")).unwrap(), "a partition not owned is not buffered");
    for offset in 0..3 {
        assert!(buffers.push(&message(0, offset, b"abcd")).unwrap());
    }
    buffers.push(&message(1, 10, b"xy")).unwrap();
    assert_eq!((buffers.messages(), buffers.bytes()), (4, 14));
    assert!(buffers.oldest().is_some());

    // A rejected commit drops the partition's rows; it continues from the table's position.
    assert_eq!(buffers.discard(1, Some(12)), Some((1, 1)));
    assert_eq!((buffers.messages(), buffers.bytes()), (3, 12));
    assert_eq!(buffers.get(1).unwrap().position, Some(12));
    assert_eq!(buffers.discard(5, None), None);

    let job = buffers.take_job().unwrap();
    assert_eq!(job.parts.len(), 1, "only partition 0 holds rows");
    assert_eq!((job.parts[0].partition, job.parts[0].expected, job.parts[0].last, job.parts[0].rows), (0, None, 2, 3));
    assert_eq!(offsets(&job.batches), vec![(0, 0), (0, 1), (0, 2)], "the discarded partition's row is left out");
    assert_eq!((buffers.messages(), buffers.bytes(), buffers.oldest()), (0, 0, None));
    assert_eq!(buffers.get(0).unwrap().position, Some(2), "the next part continues from what was handed on");

    // A revoked partition takes its rows with it.
    buffers.push(&message(0, 3, b"abcd")).unwrap();
    buffers.push(&message(1, 13, b"xyz")).unwrap();
    assert_eq!(buffers.retain(|partition, _| partition == 1), 1);
    assert_eq!((buffers.messages(), buffers.bytes()), (1, 3));
    assert!(!buffers.contains(0));

    // Messages of another stream on a shared topic: no rows, but the position moves past them.
    assert_eq!(offsets(&buffers.take_job().unwrap().batches), vec![(1, 13)], "the revoked partition's row is left out");
    assert!(buffers.skip(1, 14) && buffers.skip(1, 15));
    assert_eq!((buffers.messages(), buffers.bytes()), (2, 0));
    let job = buffers.take_job().unwrap();
    assert_eq!((job.parts.len(), job.parts[0].expected, job.parts[0].last, job.parts[0].rows), (1, Some(13), 15, 0));
    assert!(job.batches.is_empty());
    assert_eq!(buffers.messages(), 0);
    assert!(buffers.take_job().unwrap().parts.is_empty(), "nothing new: no part");
}

#[test]
fn rows_dropped_mid_chunk_leave_the_rows_after_them() {
    let mut buffers = Buffers::new(builder());
    buffers.insert(0, PartitionBuffer::new(None, 1));
    buffers.insert(1, PartitionBuffer::new(None, 1));
    // Partition 1 fills more than a chunk, is discarded, then continues from its table position.
    let rows = CHUNK_ROWS as i64 + 5;
    for offset in 0..rows {
        buffers.push(&message(1, offset, b"x")).unwrap();
        buffers.push(&message(0, offset, b"y")).unwrap();
    }
    assert_eq!(buffers.discard(1, Some(99)), Some((rows as u64, 1)));
    buffers.push(&message(1, 100, b"z")).unwrap();
    let job = buffers.take_job().unwrap();
    let kept = offsets(&job.batches);
    assert_eq!(kept.len(), rows as usize + 1, "partition 0's rows and the one after the discard");
    assert!(kept.iter().filter(|(partition, _)| *partition == 1).eq([&(1, 100)]), "only the row after the discard");
    let decoded = job.parts.iter().find(|p| p.partition == 1).map(|p| (p.expected, p.last, p.rows));
    assert_eq!(decoded, Some((Some(99), 100, 1)));
}

/// (partition, offset) of every row of `batches`, in order.
fn offsets(batches: &[arrow::record_batch::RecordBatch]) -> Vec<(i32, i64)> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Int32Type, Int64Type};
    batches
        .iter()
        .flat_map(|batch| {
            let partitions = batch.column_by_name("kafka_partition").unwrap().as_primitive::<Int32Type>().clone();
            let offsets = batch.column_by_name("kafka_offset").unwrap().as_primitive::<Int64Type>().clone();
            partitions.values().iter().copied().zip(offsets.values().iter().copied()).collect::<Vec<_>>()
        })
        .collect()
}

fn job(parts: &[(i32, Option<i64>, std::ops::RangeInclusive<i64>)]) -> CommitJob {
    let mut builder = builder();
    let mut job_parts = Vec::new();
    for (partition, expected, offsets) in parts {
        for offset in offsets.clone() {
            builder.push(&message(*partition, offset, b"\x00garbage"));
        }
        let rows = offsets.clone().count() as u64;
        job_parts.push(JobPart { partition: *partition, expected: *expected, last: *offsets.end(), rows, decoded: 0, accepted: None });
    }
    CommitJob { parts: job_parts, batches: vec![builder.finish(chrono::Utc::now()).unwrap()] }
}

#[tokio::test]
async fn a_part_the_table_moved_past_is_rejected_and_the_others_commit() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("bronze").display().to_string();
    let mut table = StageTable::open_or_create(&location, HashMap::new(), builder().schema(), &[PARTITION_COLUMN]).await.unwrap();
    let mut outcome = CommitOutcome::default();
    try_commit(&mut table, TOPIC, &mut job(&[(0, None, 0..=4)]), &mut outcome).await.unwrap();
    assert_eq!(outcome.committed, vec![(0, 4, 5, 0)], "five undecodable rows committed");

    // Another worker's view: partition 0 still empty (stale), partition 1 new.
    let mut stale = StageTable::open_or_create(&location, HashMap::new(), builder().schema(), &[PARTITION_COLUMN]).await.unwrap();
    let mut outcome = CommitOutcome::default();
    try_commit(&mut stale, TOPIC, &mut job(&[(0, None, 0..=2), (1, None, 0..=1)]), &mut outcome).await.unwrap();
    assert_eq!(outcome.rejected, vec![(0, Some(4))], "partition 0 is re-read from the table's position");
    assert_eq!(outcome.committed, vec![(1, 1, 2, 0)]);

    let reopened = StageTable::open_or_create(&location, HashMap::new(), builder().schema(), &[PARTITION_COLUMN]).await.unwrap();
    assert_eq!(reopened.position(&app_id(TOPIC, 0)).await.unwrap(), Some(4));
    assert_eq!(reopened.position(&app_id(TOPIC, 1)).await.unwrap(), Some(1));
    let rows = reopened.read_all(&builder().schema()).await.unwrap();
    assert_eq!(rows.num_rows(), 7, "5 + 2 rows, none of the rejected part's");
}
