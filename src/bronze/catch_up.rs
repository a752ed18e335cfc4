//! `--until-caught-up`: when has the whole topic, not just this worker's share, reached the high
//! watermarks seen at start?

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::assignment::{Owned, app_id};
use crate::table::{StageTable, TableError};

/// How often partitions owned by other workers are looked up in the table.
const TABLE_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long to wait for an assignment before saying why nothing happens.
const ASSIGNMENT_PATIENCE: Duration = Duration::from_secs(30);

/// How far an owned partition got since its assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The last offset buffered, in flight or committed, and where the latest fetch response
    /// said the partition's log ends (librdkafka's statistics), once one said so.
    Received { last: Option<i64>, log_end: Option<i64> },
    /// The broker reported the partition's end: past any high watermark seen before.
    AtEnd,
}

/// The targets and what is needed to check them.
pub struct CatchUp {
    /// (low, high) watermarks of every partition when the worker started.
    targets: HashMap<i32, (i64, i64)>,
    topic: String,
    /// A read handle on the table, for the partitions other workers write.
    table: StageTable,
    last_table_check: Option<Instant>,
    /// Per owned partition, the first log end fetch responses reported: raises the target where
    /// the start's ListOffsets answer was low (some brokers, the dev broker among them, answer
    /// ListOffsets with a wrong high watermark while fetch responses carry the right one).
    first_log_ends: HashMap<i32, i64>,
    started: Instant,
    warned_unassigned: bool,
}

impl CatchUp {
    pub fn new(targets: HashMap<i32, (i64, i64)>, topic: String, table: StageTable) -> Self {
        Self { targets, topic, table, last_table_check: None, first_log_ends: HashMap::new(), started: Instant::now(), warned_unassigned: false }
    }

    /// True once every partition reached its target: owned partitions as far as this worker
    /// got (`progress`; `None` until the partition showed that it continues the table), the
    /// others as far as the table records. Stopping then sends the rest and waits for every commit.
    /// Partitions owned by nobody (say, by a killed member the broker has not expired yet) keep
    /// the worker waiting, as they must.
    pub async fn reached(&mut self, owned: &HashMap<i32, Owned>, progress: impl Fn(i32) -> Option<Progress>) -> Result<bool, TableError> {
        self.warn_if_unassigned(owned);
        let done = |last: Option<i64>, (low, high): (i64, i64)| last.map_or(high <= low, |last| last + 1 >= high);
        let mut owned_done = true;
        for &partition in owned.keys() {
            owned_done &= match progress(partition) {
                Some(Progress::AtEnd) => true,
                // Short of the partition's end, only a target a fetch response confirmed counts.
                Some(Progress::Received { last, log_end }) => {
                    let first_end = log_end.map(|end| *self.first_log_ends.entry(partition).or_insert(end));
                    let (low, high) = self.target(partition);
                    first_end.is_some_and(|end| done(last, (low, high.max(end))))
                }
                None => false,
            };
        }
        if !owned_done {
            return Ok(false);
        }
        let others: Vec<i32> = self.targets.keys().copied().filter(|p| !owned.contains_key(p)).collect();
        if others.iter().all(|&p| done(None, self.target(p))) {
            return Ok(true);
        }
        if self.last_table_check.is_some_and(|t| t.elapsed() < TABLE_CHECK_INTERVAL) {
            return Ok(false);
        }
        self.last_table_check = Some(Instant::now());
        self.table.refresh().await?;
        for partition in others {
            if !done(self.table.position(&app_id(&self.topic, partition)).await?, self.target(partition)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn target(&self, partition: i32) -> (i64, i64) {
        self.targets.get(&partition).copied().unwrap_or((0, 0))
    }

    fn warn_if_unassigned(&mut self, owned: &HashMap<i32, Owned>) {
        if owned.is_empty() && !self.warned_unassigned && self.started.elapsed() > ASSIGNMENT_PATIENCE {
            self.warned_unassigned = true;
            tracing::warn!(
                topic = %self.topic,
                waited = ?ASSIGNMENT_PATIENCE,
                "no partitions assigned yet: other members of the group hold them (a member that died keeps its partitions until its session times out)"
            );
        }
    }
}
