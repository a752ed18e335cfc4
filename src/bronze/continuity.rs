//! Does a partition continue where the table ends? Checked once after every assignment or seek,
//! on the first message, or on the first sign that the partition has no message to give: the
//! broker reporting its end (partition EOF), or (after a few silent seconds) its fetch responses
//! showing a log that ends before the table's position. A broker answers a fetch beyond the log
//! end with OFFSET_OUT_OF_RANGE (librdkafka then resets to the earliest offset, and the first
//! message shows it) or, like the dev broker, with an empty response: only the log end shows that.
//!
//! A discontinuity stops the worker ([`BronzeError::Discontinuity`]) or, with
//! `bronze.on_offset_reset: accept`, the partition is taken from the broker's offsets and the
//! next commit records the decision. Counted either way (`medallion_offset_resets_total`).

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use rdkafka::Offset;
use rdkafka::consumer::{Consumer, StreamConsumer};

use super::BronzeError;
use super::assignment::BronzeContext;
use super::worker::Worker;
use crate::config::OffsetResetPolicy;

/// How long a partition may deliver neither a message nor its end before its log end is compared
/// with the table's position.
const SILENCE: Duration = Duration::from_secs(5);
/// Log ends reported this soon after an assignment may predate it.
const STATISTICS_SETTLE: Duration = Duration::from_secs(2);

/// How a partition's first message after an assignment or seek relates to the table's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discontinuity {
    /// The broker offered an offset at or below the table's last one: the topic was recreated,
    /// or its log truncated (a failover, an unclean leader election).
    Below { position: i64, offered: i64 },
    /// The broker's earliest offset is past the table's next one: retention deleted messages
    /// bronze never read.
    Gap { position: i64, offered: i64, low_watermark: i64 },
}

impl Discontinuity {
    /// Compares the first `offered` offset with the table's `position` (its last offset).
    /// `low_watermark` is asked only after a jump forward, which is harmless when the offsets
    /// skipped are transaction markers or compacted away (the log still starts before them).
    pub fn check<E>(position: Option<i64>, offered: i64, low_watermark: impl FnOnce() -> Result<i64, E>) -> Result<Option<Self>, E> {
        let Some(position) = position else { return Ok(None) };
        if offered <= position {
            return Ok(Some(Self::Below { position, offered }));
        }
        if offered == position + 1 {
            return Ok(None);
        }
        let low_watermark = low_watermark()?;
        Ok((low_watermark > position + 1).then_some(Self::Gap { position, offered, low_watermark }))
    }
}

/// The text of [`BronzeError::Discontinuity`]: what happened, and how to go on.
pub fn message(topic: &str, partition: i32, table: &str, discontinuity: &Discontinuity) -> String {
    let cause = match *discontinuity {
        Discontinuity::Below { position, offered } => format!(
            "the broker's next offset for it is {offered} but the table already holds offsets up to {position}: the topic was recreated or its log truncated (a failover)"
        ),
        Discontinuity::Gap { position, offered, low_watermark } => format!(
            "the table holds offsets up to {position} but the broker's log now starts at {low_watermark} (first offset offered {offered}): messages {}..={} were deleted by retention before bronze read them",
            position + 1,
            low_watermark - 1
        ),
    };
    format!(
        "{topic} partition {partition} does not continue the bronze table {table}: {cause}. Nothing was written for it. To take the partition from the broker's offsets (recorded in the commit), run once with bronze.on_offset_reset: accept (MEDALLION_BRONZE__ON_OFFSET_RESET=accept)"
    )
}

impl Worker {
    /// Checks that `offered`, the first offset `partition` gives since its assignment or seek,
    /// continues the table. `seek_on_accept`: the offset was not a message (a log end), so an
    /// accepted reset must seek to the start of the log to read it.
    pub(super) fn check_continuity(
        &mut self,
        consumer: &StreamConsumer<BronzeContext>,
        partition: i32,
        offered: i64,
        seek_on_accept: bool,
    ) -> Result<(), BronzeError> {
        let topic = &self.topic;
        let Some(buffer) = self.buffers.get_mut(partition) else { return Ok(()) };
        buffer.continuity_checked = true;
        let low_watermark = || {
            tokio::task::block_in_place(|| consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)))
                .map(|(low, _)| low)
                .map_err(|source| BronzeError::Watermarks { topic: topic.clone(), partition, source: Box::new(source) })
        };
        let Some(discontinuity) = Discontinuity::check(buffer.position, offered, low_watermark)? else { return Ok(()) };
        let label = crate::telemetry::PartitionLabel { topic: topic.clone(), partition: i64::from(partition) };
        crate::telemetry::metrics().offset_resets.get_or_create(&label).inc();
        let table = &self.summary.table;
        if self.settings.on_offset_reset == OffsetResetPolicy::Stop {
            return Err(BronzeError::Discontinuity { topic: topic.clone(), partition, table: table.clone(), discontinuity });
        }
        tracing::warn!(%topic, partition, %table, ?discontinuity, "accepting the broker's offsets (bronze.on_offset_reset: accept); the next commit records it");
        if !seek_on_accept {
            buffer.accept(discontinuity, offered);
            return Ok(());
        }
        buffer.accept(discontinuity, 0);
        consumer
            .seek(topic, partition, Offset::Beginning, Duration::from_secs(10))
            .map_err(|source| BronzeError::Seek { partition, source: Box::new(source) })
    }

    /// The broker reported the end of `partition`'s log: for a partition not yet checked, where
    /// it ends comes with the next statistics (the consumer has no position before its first
    /// message); for `--until-caught-up`, the partition has reached any earlier high watermark
    /// (which transaction markers or compaction can put past its last record).
    pub(super) fn reached_log_end(&mut self, partition: i32) -> Result<(), BronzeError> {
        self.sync_assignment()?;
        if let Some(buffer) = self.buffers.get_mut(partition) {
            buffer.at_end_since.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Partitions that gave no message since their assignment, compared by their log end: at
    /// their end (EOF), the end is the first offset offered; silent for a while, a log ending
    /// before the table's position means a recreated topic (on a broker that answers fetches
    /// beyond the end with nothing).
    pub(super) fn check_unverified_partitions(&mut self, consumer: &StreamConsumer<BronzeContext>) -> Result<(), BronzeError> {
        self.sync_assignment()?;
        if self.buffers.values().all(|buffer| buffer.continuity_checked) {
            return Ok(());
        }
        let (owned, log_ends) = {
            let shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
            (shared.owned.clone(), shared.log_ends.clone())
        };
        for (partition, owned) in owned {
            let Some(buffer) = self.buffers.get(partition).filter(|b| !b.continuity_checked) else { continue };
            let Some(&(end, reported)) = log_ends.get(&partition) else { continue };
            let at_end = buffer.at_end_since.is_some_and(|since| reported > since);
            let silent = owned.assigned_at.elapsed() >= SILENCE && reported >= owned.assigned_at + STATISTICS_SETTLE;
            let before_table = buffer.position.is_some_and(|position| end <= position);
            if at_end || (silent && before_table) {
                self.check_continuity(consumer, partition, end, true)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Discontinuity;

    fn check(position: Option<i64>, offered: i64, low: i64) -> Option<Discontinuity> {
        Discontinuity::check(position, offered, || Ok::<_, ()>(low)).unwrap()
    }

    #[test]
    fn the_first_offset_must_continue_the_table() {
        assert_eq!(check(None, 17, 17), None, "nothing in the table yet: anything is a start");
        assert_eq!(check(Some(99), 100, 0), None);
        assert_eq!(check(Some(99), 0, 0), Some(Discontinuity::Below { position: 99, offered: 0 }));
        assert_eq!(check(Some(99), 99, 0), Some(Discontinuity::Below { position: 99, offered: 99 }));
        assert_eq!(check(Some(99), 102, 0), None, "skipped offsets the log still covers: markers or compaction");
        assert_eq!(check(Some(99), 500, 500), Some(Discontinuity::Gap { position: 99, offered: 500, low_watermark: 500 }));
    }

    #[test]
    fn the_low_watermark_is_asked_only_after_a_jump() {
        let asked = |position, offered| {
            let mut asked = false;
            let _ = Discontinuity::check(Some(position), offered, || {
                asked = true;
                Ok::<_, ()>(0)
            });
            asked
        };
        assert!(!asked(9, 10) && !asked(9, 3) && asked(9, 12));
    }
}
