//! What happened to each watched file, and when a save has settled enough
//! to resume.

use std::time::{Duration, Instant};

use super::chain::WatchedFile;
use super::{FileEvent, Outcome, Resume, Watchlist};

/// How long a watched file deleted from a directory the program listed may
/// stay away before the listing counts as changed: an editor that deletes
/// and writes the file anew brings it back well within this.
const GONE_FROM_LISTING_WAIT: Duration = Duration::from_millis(100);

/// A save in progress on one file, as its events tell: whether a writer
/// still has it open, whether it is gone, and when the last event came.
/// (`forkmon.each` settles its tasks' files with it too.)
#[derive(Debug)]
pub struct Change {
    pub(crate) writing: bool,
    pub(crate) gone: bool,
    pub(super) gone_reported: bool,
    pub(crate) last: Instant,
}

impl Change {
    pub fn new(now: Instant) -> Change {
        Change {
            writing: false,
            gone: false,
            gone_reported: false,
            last: now,
        }
    }

    /// Takes in one event of the file, at `now`.
    pub fn record(&mut self, event: FileEvent, now: Instant) {
        self.last = now;
        match event {
            FileEvent::Written | FileEvent::Created => {
                self.writing = true;
                self.gone = false;
            }
            FileEvent::Closed => self.writing = false,
            FileEvent::MovedIn => {
                self.writing = false;
                self.gone = false;
            }
            FileEvent::Removed => {
                self.writing = false;
                self.gone = true;
            }
            FileEvent::Touched => {}
        }
    }
}

impl Watchlist {
    pub fn file_event(&mut self, dir_watch: i32, name: &[u8], event: FileEvent, now: Instant) {
        if self.ignore_until.is_some_and(|until| now < until) {
            return;
        }
        // The directory of an ended watch is gone from its path (a folder
        // above it moved away): what its watch still tells happens under
        // another name, until the path is watched again.
        if self.ended.contains(&dir_watch) {
            return;
        }
        if event == FileEvent::Closed {
            self.own_writes.closed(dir_watch, name);
        }
        let names = self.index.by_event.get(&dir_watch);
        let (place, event) = match names.and_then(|names| names.get(name)) {
            Some(&place) => (place, event),
            None => match names.and_then(|names| names.get(&b""[..])) {
                // A name came or went in a directory the program listed
                // (tied as "dir/"): its listing changed, whatever the file
                // holds. Editors' scratch names are no such change.
                // What the program made there itself is not.
                Some(&place)
                    if changes_listing(name, event)
                        && !self.own_entries.contains(dir_watch, name) =>
                {
                    (place, FileEvent::MovedIn)
                }
                _ => return,
            },
        };
        let (depth, n) = place;
        let writer_wait = self.timing.writer_wait;
        let Some(file) = self.file_mut(depth, n) else {
            return;
        };
        if let Some(since) = file.own_write {
            if now.saturating_duration_since(since) < writer_wait {
                file.own_write = (event != FileEvent::Closed).then_some(now);
                return;
            }
            file.own_write = None;
        }
        if event == FileEvent::Closed && file.change.is_none() {
            // Opened for writing and closed without a write: nothing changed.
            return;
        }
        file.change
            .get_or_insert_with(|| Change::new(now))
            .record(event, now);
    }

    /// Decides, at `now`, whether to resume. `size` tells a file's size now,
    /// or `None` if it is not there (a removed file may have come back
    /// unseen). A file found empty waits like one a writer still has open:
    /// it is most likely truncated by a save whose write is still to come.
    pub fn settle(&mut self, now: Instant, size: impl Fn(&[u8]) -> Option<u64>) -> Outcome {
        let mut outcome = Outcome::default();
        let pending = || {
            self.checkpoints
                .iter()
                .flat_map(|c| c.files.iter())
                .filter_map(|f| f.change.as_ref())
        };
        let Some(latest) = pending().map(|c| c.last).max() else {
            return outcome;
        };
        let quiet_from = latest + self.timing.restart_delay;
        if now < quiet_from {
            outcome.next = Some(quiet_from);
            return outcome;
        }
        let unfinished = |file: &WatchedFile, change: &Change| {
            change.writing || (!change.gone && size(&file.path) == Some(0))
        };
        let writer_deadline = self
            .checkpoints
            .iter()
            .flat_map(|c| c.files.iter())
            .filter_map(|f| f.change.as_ref().filter(|c| unfinished(f, c)))
            .map(|c| c.last + self.timing.writer_wait)
            .filter(|deadline| now < *deadline)
            .min();
        if writer_deadline.is_some() {
            outcome.next = writer_deadline;
            return outcome;
        }
        if let Some(deadline) = self.take_files_gone_from_listings(now, &size) {
            outcome.next = Some(deadline);
            return outcome;
        }
        let mut earliest = None;
        for (depth, checkpoint) in self.checkpoints.iter_mut().enumerate() {
            let (link, from, skips, looked_for) = (
                checkpoint.link,
                checkpoint.path().to_vec(),
                checkpoint.skips,
                checkpoint.looked_for,
            );
            for file in &mut checkpoint.files {
                let Some(change) = file.change.as_mut() else {
                    continue;
                };
                if change.gone && size(&file.path).is_none() {
                    if !change.gone_reported && !file.missing_when_tied {
                        change.gone_reported = true;
                        outcome.gone.push(file.path.clone());
                    }
                    continue;
                }
                earliest.get_or_insert(depth);
                let resume = outcome.resume.get_or_insert_with(|| Resume {
                    holder: link.holder,
                    depth,
                    number: 0,
                    from: from.clone(),
                    from_looked_for: looked_for,
                    changed: Vec::new(),
                    skips,
                });
                resume.changed.push(file.path.clone());
                file.change = None;
            }
        }
        if let Some(depth) = earliest {
            self.start_resume(depth, now, &mut outcome);
        }
        outcome
    }

    /// A watched file deleted from a directory the program listed (tied as
    /// "dir/"), which is still there, changed that listing: once it has
    /// stayed away for [`GONE_FROM_LISTING_WAIT`], it counts as changed
    /// itself (not as gone, which waits for it to come back), and so does
    /// the listing. Returns when to look again while such a file may still
    /// come back.
    fn take_files_gone_from_listings(
        &mut self,
        now: Instant,
        size: &impl Fn(&[u8]) -> Option<u64>,
    ) -> Option<Instant> {
        let mut deadline: Option<Instant> = None;
        let mut listings = Vec::new();
        for checkpoint in &mut self.checkpoints {
            for file in &mut checkpoint.files {
                let Some(change) = file.change.as_mut().filter(|c| c.gone) else {
                    continue;
                };
                let Some(&listing) = self
                    .index
                    .by_event
                    .get(&file.dir_watch)
                    .and_then(|names| names.get(&b""[..]))
                else {
                    continue;
                };
                // The listing itself, or a file of a directory that is gone
                // too: they wait for the directory to come back.
                let dir = crate::paths::split_parent(&file.path).0;
                if file.missing_when_tied
                    || file.path.ends_with(b"/")
                    || size(&file.path).is_some()
                    || size(dir).is_none()
                {
                    continue;
                }
                let until = change.last + GONE_FROM_LISTING_WAIT;
                if now < until {
                    deadline = Some(deadline.map_or(until, |d| d.min(until)));
                } else {
                    change.gone = false;
                    listings.push(listing);
                }
            }
        }
        for (depth, n) in listings {
            if let Some(listing) = self.file_mut(depth, n) {
                listing
                    .change
                    .get_or_insert_with(|| Change::new(now))
                    .record(FileEvent::MovedIn, now);
            }
        }
        deadline
    }
}

/// Whether `event` on `name` changes what a listing of its directory shows:
/// a name that comes or goes, not an editor's backup (`name~`), hidden swap
/// file (`.name.swp`) or vim's write test (`4913`).
fn changes_listing(name: &[u8], event: FileEvent) -> bool {
    matches!(
        event,
        FileEvent::Created | FileEvent::MovedIn | FileEvent::Removed
    ) && !name.is_empty()
        && !name.starts_with(b".")
        && !name.ends_with(b"~")
        && name != b"4913"
        && !is_sed_scratch(name)
        && !(name.starts_with(b"#") && name.ends_with(b"#"))
}

/// `sed -i`'s scratch file: "sed" and six letters or digits, renamed over
/// the file it edits.
fn is_sed_scratch(name: &[u8]) -> bool {
    name.len() == 9 && name.starts_with(b"sed") && name[3..].iter().all(u8::is_ascii_alphanumeric)
}
