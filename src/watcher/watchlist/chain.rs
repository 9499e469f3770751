//! The chain of checkpoints and the files tied to each: registrations
//! from the journal, the index from inotify's names to files, and the
//! chain cut short by a resume or a holder that is gone.

use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::changes::Change;
use super::{Outcome, Resume, Stale, Watchlist};
use crate::channel::protocol::{Kind, Link, Registration};
use crate::stamp::FileStamp;

/// A file whose change resumes from its checkpoint.
#[derive(Debug)]
pub(super) struct WatchedFile {
    pub(super) dir_watch: i32,
    pub(super) path: Vec<u8>,
    pub(super) change: Option<Change>,
    /// The program itself is writing the file: its events are no edit until
    /// it closes it (or stays silent for `writer_wait`). The time of the
    /// last such event.
    pub(super) own_write: Option<Instant>,
    /// The generation of its checkpoint's run that tied it (the holder's
    /// child then): one a resume has since replaced when it differs.
    pub(super) tied_by: u64,
    /// The file as the program read it, until its directory's contents are
    /// watched and it was compared with the file then.
    pub(super) unverified: Option<FileStamp>,
    /// The program looked for it and did not find it: that it is not there
    /// is no news to tell.
    pub(super) missing_when_tied: bool,
}

impl WatchedFile {
    pub(super) fn name(&self) -> &[u8] {
        crate::paths::split_parent(&self.path).1
    }
}

/// A holder and the files tied to it: the one read at the checkpoint first,
/// then any the program attached later (`forkmon.watch`).
#[derive(Debug)]
pub(super) struct Checkpoint {
    pub(super) link: Link,
    pub(super) files: Vec<WatchedFile>,
    /// The program's start-up work before this checkpoint.
    pub(super) skips: Duration,
    /// Its file was not there when the checkpoint was made (before a
    /// lookup: Lua's `require` probes paths that are not there).
    pub(super) looked_for: bool,
}

impl Checkpoint {
    pub(super) fn path(&self) -> &[u8] {
        self.files
            .first()
            .map(|f| f.path.as_slice())
            .unwrap_or_default()
    }
}

/// Where each watched file is, as (checkpoint, file) positions: a program
/// may watch 10,000 files, and a scan per registration or event would grow
/// with their square.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// By what inotify reports: the directory's watch and the name. The
    /// earliest checkpoint a file is tied to takes its events. Fx, not
    /// SipHash: every record of the journal is looked up here (the paths
    /// come from the program, not from an attacker).
    pub(super) by_event: FxHashMap<i32, FxHashMap<Vec<u8>, (usize, usize)>>,
    pub(super) by_path: FxHashMap<Vec<u8>, Vec<(usize, usize)>>,
}

impl Index {
    pub(super) fn add(&mut self, at: (usize, usize), file: &WatchedFile) {
        self.by_event
            .entry(file.dir_watch)
            .or_default()
            .entry(file.name().to_vec())
            .or_insert(at);
        self.by_path.entry(file.path.clone()).or_default().push(at);
    }

    /// Forgets the files of `dropped`, the checkpoints from depth `kept` on.
    fn remove(&mut self, kept: usize, dropped: &[Checkpoint]) {
        for file in dropped.iter().flat_map(|c| c.files.iter()) {
            if let Some(names) = self.by_event.get_mut(&file.dir_watch) {
                if names
                    .get(file.name())
                    .is_some_and(|&(depth, _)| depth >= kept)
                {
                    names.remove(file.name());
                }
            }
            if let Some(places) = self.by_path.get_mut(&file.path) {
                places.retain(|&(depth, _)| depth < kept);
                if places.is_empty() {
                    self.by_path.remove(&file.path);
                }
            }
        }
    }

    pub(super) fn of(checkpoints: &[Checkpoint]) -> Index {
        let mut index = Index::default();
        for (depth, checkpoint) in checkpoints.iter().enumerate() {
            for (n, file) in checkpoint.files.iter().enumerate() {
                index.add((depth, n), file);
            }
        }
        index
    }
}

impl Watchlist {
    /// How many checkpoints are alive.
    pub fn len(&self) -> usize {
        self.checkpoints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.checkpoints.is_empty()
    }

    /// Drops the checkpoints of the run the last resume replaced.
    pub fn drop_replaced(&mut self) {
        if let Some(kept) = self.replaced_from.take() {
            self.truncate(kept);
        }
    }

    /// Keeps the first `kept` checkpoints.
    pub(super) fn truncate(&mut self, kept: usize) {
        if kept < self.checkpoints.len() {
            let dropped = self.checkpoints.split_off(kept);
            self.index.remove(kept, &dropped);
        }
    }

    /// Adds a checkpoint at the end of the chain, attaches a file to the last
    /// one, or withdraws the last one. Refuses a message from a process that
    /// is not the end of the current chain: one a resume has replaced (its
    /// holders' generations are old), or a copy the program forked by itself.
    pub fn register(&mut self, registration: Registration) -> Result<(), Stale> {
        self.drop_replaced();
        let Some((&new, parents)) = registration.lineage.split_last() else {
            return Err(Stale);
        };
        let untied = std::mem::take(&mut self.untied);
        let chain_is = |links: &[Link], checkpoints: &[Checkpoint]| {
            checkpoints.len() == links.len()
                && checkpoints.iter().map(|c| c.link).eq(links.iter().copied())
        };
        let name = crate::paths::split_parent(&registration.path).1;
        let own_write = self.own_writes.since(registration.dir_watch, name);
        let file = WatchedFile {
            dir_watch: registration.dir_watch,
            path: registration.path,
            change: None,
            own_write,
            // The generation of the end of the lineage: the holder an attach
            // ties to, or the new holder for a checkpoint's own file (which
            // is never untied).
            tied_by: new.generation,
            unverified: registration.stamp.filter(|_| {
                !self
                    .contents_watched_before_look
                    .contains(&registration.dir_watch)
            }),
            missing_when_tied: registration.kind == Kind::AttachMissing,
        };
        // A checkpoint's file has a stamp unless it was not there (a
        // listing's, `dir/`, has none either).
        let looked_for = registration.stamp.is_none() && !file.path.ends_with(b"/");
        match registration.kind {
            Kind::Checkpoint if chain_is(parents, &self.checkpoints) => {
                let skips = Duration::from_micros(registration.elapsed_micros);
                self.untie_from_replaced_runs(&file.path);
                self.index.add((self.checkpoints.len(), 0), &file);
                self.checkpoints.push(Checkpoint {
                    link: new,
                    files: vec![file],
                    skips,
                    looked_for,
                });
            }
            Kind::Withdraw if chain_is(&registration.lineage, &self.checkpoints) => {
                self.truncate(self.checkpoints.len() - 1);
                self.tie_again(untied);
            }
            // Untied in the run's engine, but perhaps tied here by a run a
            // resume replaced (the run writes again a file it then reads):
            // then that tie's events are the program's too, whatever record
            // comes first.
            Kind::OwnWrite | Kind::OwnWriteUntied
                if chain_is(&registration.lineage, &self.checkpoints) =>
            {
                let now = Instant::now();
                let places = self.index.by_path.get(&file.path).cloned();
                if registration.kind == Kind::OwnWriteUntied {
                    let name = crate::paths::split_parent(&file.path).1;
                    self.own_writes.add(file.dir_watch, name, now);
                }
                if places.is_none() && file.dir_watch != 0 && registration.kind == Kind::OwnWrite {
                    // A new name in a directory the program listed.
                    let name = crate::paths::split_parent(&file.path).1;
                    self.own_entries.add(file.dir_watch, name);
                }
                for (depth, n) in places.into_iter().flatten() {
                    if let Some(watched) = self.file_mut(depth, n) {
                        watched.own_write = Some(now);
                        // The program's own write makes what it read moot.
                        watched.unverified = None;
                        let dir_watch = watched.dir_watch;
                        let name = crate::paths::split_parent(&file.path).1;
                        self.own_writes.add(dir_watch, name, now);
                    }
                }
            }
            Kind::Attach | Kind::AttachMissing
                if chain_is(&registration.lineage, &self.checkpoints) =>
            {
                let depth = self.checkpoints.len() - 1;
                let places = self.index.by_path.get(&file.path).into_iter().flatten();
                // A resumed run attaches again what the replaced run attached:
                // what it read now is what a comparison must start from.
                let known = places.into_iter().find(|&&(d, _)| d == depth).copied();
                // A file that was missing when tied, where only names were
                // watched, is compared (and its writes watched) from now.
                let contents_watched = self.contents_watched.contains(&file.dir_watch);
                match (known, self.checkpoints.last_mut()) {
                    (Some((_, n)), Some(last)) => {
                        if let Some(watched) = last.files.get_mut(n) {
                            if watched.unverified.is_some() || !contents_watched {
                                watched.unverified = file.unverified;
                            }
                            watched.own_write = watched.own_write.or(file.own_write);
                            // Tied by this run now, as it found it.
                            watched.tied_by = file.tied_by;
                            watched.missing_when_tied = file.missing_when_tied;
                        }
                    }
                    (None, Some(last)) => {
                        self.index.add((depth, last.files.len()), &file);
                        last.files.push(file);
                    }
                    (_, None) => {}
                }
            }
            _ => {
                // Not this chain's: the untied ties still wait on the next
                // record of the program.
                self.untied = untied;
                return Err(Stale);
            }
        }
        Ok(())
    }

    /// A checkpoint for a file tied above it by a run a resume has since
    /// replaced comes from a run resumed from above that tie, which read
    /// the file anew (the file that changed, see `resume_order`): the
    /// replaced run's tie goes, and the file's changes resume from its own
    /// checkpoint. A tie of the current run stays (a symbolic link's target
    /// the watcher tied, then read by its own name): it is earlier, and its
    /// checkpoint takes the file's changes. Kept until the next record, in
    /// case the new checkpoint is withdrawn.
    fn untie_from_replaced_runs(&mut self, path: &[u8]) {
        let Some(places) = self.index.by_path.get(path) else {
            return;
        };
        // A checkpoint's own file (the first) stays.
        let replaced: Vec<(usize, usize)> = places
            .iter()
            .copied()
            .filter(|&(depth, n)| {
                n > 0
                    && self.checkpoints.get(depth).is_some_and(|checkpoint| {
                        checkpoint
                            .files
                            .get(n)
                            .is_some_and(|file| file.tied_by != checkpoint.link.generation)
                    })
            })
            .collect();
        if replaced.is_empty() {
            return;
        }
        for &(depth, n) in replaced.iter().rev() {
            if let Some(checkpoint) = self.checkpoints.get_mut(depth) {
                if n < checkpoint.files.len() {
                    self.untied.push((depth, checkpoint.files.remove(n)));
                }
            }
        }
        self.index = Index::of(&self.checkpoints);
    }

    /// Puts back the ties a withdrawn checkpoint's record took off.
    fn tie_again(&mut self, untied: Vec<(usize, WatchedFile)>) {
        if untied.is_empty() {
            return;
        }
        for (depth, file) in untied {
            if let Some(checkpoint) = self.checkpoints.get_mut(depth) {
                checkpoint.files.push(file);
            }
        }
        self.index = Index::of(&self.checkpoints);
    }

    pub(super) fn file_mut(&mut self, depth: usize, n: usize) -> Option<&mut WatchedFile> {
        self.checkpoints.get_mut(depth)?.files.get_mut(n)
    }

    pub(super) fn files(&self) -> impl Iterator<Item = &WatchedFile> {
        self.checkpoints.iter().flat_map(|c| c.files.iter())
    }

    /// The holder at `depth` is gone: drop it and the checkpoints after it,
    /// and resume from the one before it, if any.
    pub fn holder_gone(
        &mut self,
        depth: usize,
        changed: Vec<Vec<u8>>,
        now: Instant,
    ) -> Option<Resume> {
        self.drop_replaced();
        self.truncate(depth);
        // The resume that failed reached no run: its number is the next's.
        self.resumes = self.resumes.saturating_sub(1);
        let before = depth.checked_sub(1)?;
        let checkpoint = self.checkpoints.get(before)?;
        let mut outcome = Outcome {
            resume: Some(Resume {
                holder: checkpoint.link.holder,
                depth: before,
                number: 0,
                from: checkpoint.path().to_vec(),
                from_looked_for: checkpoint.looked_for,
                changed,
                skips: checkpoint.skips,
            }),
            ..Outcome::default()
        };
        self.start_resume(before, now, &mut outcome);
        outcome.resume
    }

    pub(super) fn start_resume(&mut self, depth: usize, now: Instant, outcome: &mut Outcome) {
        self.resumes += 1;
        self.own_entries.clear();
        self.own_writes.clear();
        if self.checkpoints.len() > depth + 1 {
            self.replaced_from = Some(depth + 1);
        }
        if let Some(checkpoint) = self.checkpoints.get_mut(depth) {
            checkpoint.link.generation = self.resumes;
        }
        if let Some(resume) = outcome.resume.as_mut() {
            resume.number = self.resumes;
        }
        if !self.timing.ignore_delay.is_zero() {
            self.ignore_until = Some(now + self.timing.ignore_delay);
        }
    }
}
