//! When the files `forkmon.each` watches have settled after a save: no
//! system calls here (the runner feeds it events and the time).
//!
//! A change has settled when no writer has the file open (a write is
//! followed by its close, or a rename put a finished file in place; a
//! writer silent for `writer_wait` counts as done) and no event came for
//! `delay`; a removed file gets `GONE_WAIT` more, for the editors that
//! delete and then write anew.

use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::watcher::watchlist::Change;
pub use crate::watcher::watchlist::FileEvent;

/// How long a removed file may take to come back before its removal counts.
pub const GONE_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct Settle {
    delay: Duration,
    writer_wait: Duration,
    changes: FxHashMap<Vec<u8>, Change>,
}

impl Settle {
    pub fn new(delay: Duration, writer_wait: Duration) -> Settle {
        Settle {
            delay,
            writer_wait,
            changes: FxHashMap::default(),
        }
    }

    pub fn event(&mut self, path: &[u8], event: FileEvent, now: Instant) {
        if event == FileEvent::Closed && !self.changes.contains_key(path) {
            // Opened for writing and closed without a write.
            return;
        }
        self.changes
            .entry(path.to_vec())
            .or_insert_with(|| Change::new(now))
            .record(event, now);
    }

    /// The paths settled by `now` (forgotten here), and when to look again
    /// for the others.
    pub fn settled(&mut self, now: Instant) -> (Vec<Vec<u8>>, Option<Instant>) {
        let mut done = Vec::new();
        let mut next: Option<Instant> = None;
        for (path, change) in &self.changes {
            let wait = if change.writing {
                self.writer_wait
            } else if change.gone {
                self.delay + GONE_WAIT
            } else {
                self.delay
            };
            let due = change.last + wait;
            if now >= due {
                done.push(path.clone());
            } else {
                next = Some(next.map_or(due, |at| at.min(due)));
            }
        }
        for path in &done {
            self.changes.remove(path);
        }
        done.sort();
        (done, next)
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_write_settles_after_its_close_and_the_delay() {
        let start = Instant::now();
        let mut settle = Settle::new(4 * MS, 1000 * MS);
        settle.event(b"/a", FileEvent::Written, start);
        assert_eq!(settle.settled(start + 10 * MS).0.len(), 0);
        settle.event(b"/a", FileEvent::Closed, start + 10 * MS);
        let (done, next) = settle.settled(start + 12 * MS);
        assert!(done.is_empty());
        assert_eq!(next, Some(start + 14 * MS));
        assert_eq!(settle.settled(start + 14 * MS).0, [b"/a".to_vec()]);
        assert!(settle.is_empty());
    }

    #[test]
    fn a_rename_over_the_file_is_finished_at_once() {
        let start = Instant::now();
        let mut settle = Settle::new(4 * MS, 1000 * MS);
        settle.event(b"/a", FileEvent::MovedIn, start);
        assert_eq!(settle.settled(start + 4 * MS).0, [b"/a".to_vec()]);
    }

    #[test]
    fn a_close_without_a_write_is_no_change() {
        let start = Instant::now();
        let mut settle = Settle::new(4 * MS, 1000 * MS);
        settle.event(b"/a", FileEvent::Closed, start);
        assert!(settle.is_empty());
    }

    #[test]
    fn a_removed_file_gets_time_to_come_back() {
        let start = Instant::now();
        let mut settle = Settle::new(4 * MS, 1000 * MS);
        settle.event(b"/a", FileEvent::Removed, start);
        assert!(settle.settled(start + 50 * MS).0.is_empty());
        settle.event(b"/a", FileEvent::Created, start + 60 * MS);
        settle.event(b"/a", FileEvent::Closed, start + 61 * MS);
        assert_eq!(settle.settled(start + 65 * MS).0, [b"/a".to_vec()]);
        settle.event(b"/b", FileEvent::Removed, start);
        assert_eq!(
            settle.settled(start + 4 * MS + GONE_WAIT).0,
            [b"/b".to_vec()]
        );
    }

    #[test]
    fn a_silent_writer_counts_as_done_after_the_writer_wait() {
        let start = Instant::now();
        let mut settle = Settle::new(4 * MS, 1000 * MS);
        settle.event(b"/a", FileEvent::Created, start);
        assert!(settle.settled(start + 999 * MS).0.is_empty());
        assert_eq!(settle.settled(start + 1000 * MS).0.len(), 1);
    }
}
