//! Follow-up events waiting their turn: each generator schedules an entity's next event a number
//! of events ahead, so a stream interleaves new entities with the progress of earlier ones.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Items due at an event index, earliest first; ties go in scheduling order, so a seed always
/// gives the same stream.
pub struct FollowUps<T> {
    heap: BinaryHeap<Reverse<Scheduled<T>>>,
}

impl<T> Default for FollowUps<T> {
    fn default() -> Self {
        Self { heap: BinaryHeap::new() }
    }
}

impl<T> FollowUps<T> {
    /// Schedules `item` for event index `due`; `sequence` (unique, increasing) breaks ties.
    pub fn push(&mut self, due: u64, sequence: u64, item: T) {
        self.heap.push(Reverse(Scheduled { due, sequence, item }));
    }

    /// The earliest item due at or before event index `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<T> {
        if self.heap.peek().is_none_or(|next| next.0.due > now) {
            return None;
        }
        self.heap.pop().map(|Reverse(next)| next.item)
    }
}

struct Scheduled<T> {
    due: u64,
    sequence: u64,
    item: T,
}

impl<T> PartialEq for Scheduled<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.sequence) == (other.due, other.sequence)
    }
}

impl<T> Eq for Scheduled<T> {}

impl<T> PartialOrd for Scheduled<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Scheduled<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.sequence).cmp(&(other.due, other.sequence))
    }
}
