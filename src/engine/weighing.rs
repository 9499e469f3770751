//! Where a checkpoint is worth what it costs.
//!
//! A checkpoint saves a resume the program's work since the one before. It
//! costs the run its fork and, after the fork, a copy-on-write fault for
//! each page the program writes that its holder still shares: Lua's
//! collector marks every object of the heap in each cycle, so most of the
//! heap is copied again after each checkpoint. On the 2-core VM a fault
//! costs about 2.5 µs: at 10,000 small modules (a 5 MB heap) 150 to 1,000
//! faults follow a checkpoint, up to five times its fork; with 20 MB of
//! small tables, a checkpoint per 20 ms of work made a run twice as long
//! as a plain one.
//!
//! So the faults are counted: the process's minor faults since the
//! checkpoint (its own counter starts at its fork), at most as many as the
//! pages it had then. Those are the heap's copies, and the program's code
//! and libraries mapped again (a fork does not copy the page tables of
//! file mappings). Faults beyond that are fresh memory, which a program
//! without checkpoints fills as well. Counting the file pages too gave
//! the re-run of 10,000 modules 6 checkpoints instead of 8, and 0.05 of
//! its 1.3 times the plain run's time back.

// Pure weighing, and counters read through safe wrappers.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use crate::sys::procfs;

/// Checkpoints may cost at most this share of the program's work: 1/20,
/// counted as their forks and the faults after them.
const CHECKPOINT_SHARE: u32 = 20;

/// What the weighing counts of a checkpoint, its fork and the faults after
/// it in the program, is about half of what it costs in all: perf over
/// re-runs of 2,000 modules of 150 lines (2026-12-07) found as much again
/// in its standby's fork, the exits of its holder and standby, and the
/// code pages each fork's child faults in again. Weighed at what was
/// counted, checkpoints took 12% of such a re-run instead of 1/20 (1.24
/// times a plain run; 1.07 times with the counts doubled).
const WHOLE_COST_PER_COUNTED: u32 = 2;

/// After this many times `FORKMON_MIN_WORK` of work since the last
/// checkpoint (30 ms by default), one counted at most 1/`OVERDUE_SHARE`
/// of that work (2 ms) is made whatever the share above says: a resume
/// re-runs no more than that where checkpoints are cheap. (At 10,000 small
/// modules the first edit of the last one re-ran up to 50 ms of work
/// without it; a checkpoint per 20 ms whatever it cost made the 20 MB heap
/// of small tables run twice as long.)
const MAX_GAP_IN_MIN_WORKS: u32 = 6;
const OVERDUE_SHARE: u32 = 15;

/// What one copy-on-write fault costs, as measured on the 2-core VM (2.4 to
/// 2.6 µs for a 4 KiB page; about 1 µs on bare metal, where checkpoints
/// then come a little less often than they could).
const FAULT_COST: Duration = Duration::from_nanos(2_500);

/// What a checkpoint itself costs the program: the processor time of its
/// own work and of the fork. Not the wall time: a checkpoint that waited
/// for a processor on a busy machine (its first, with the watcher to
/// start, or a fork's child scheduled late) weighed as dear as 30 ms of
/// work, and the run made no checkpoint after it.
pub struct CheckpointClock {
    cpu_at_start: Duration,
    before_fork: Option<(Duration, Instant)>,
}

impl CheckpointClock {
    pub fn start() -> CheckpointClock {
        CheckpointClock {
            cpu_at_start: thread_cpu(),
            before_fork: None,
        }
    }

    /// Just before the fork.
    pub fn forking(&mut self) {
        self.before_fork = Some((thread_cpu(), Instant::now()));
    }

    /// In the parent, after the fork: its processor time since the start
    /// (the fork's page tables are copied in the parent).
    pub fn in_parent(&self) -> Duration {
        thread_cpu().saturating_sub(self.cpu_at_start)
    }

    /// In the child, whose processor clock starts again at the fork: the
    /// work before the fork, and the fork as the child saw it, less the
    /// time the child waited for a processor.
    pub fn in_child(&self) -> Duration {
        let Some((cpu_before, wall_before)) = self.before_fork else {
            return Duration::ZERO;
        };
        let waited = procfs::runqueue_wait().unwrap_or(Duration::ZERO);
        cpu_before.saturating_sub(self.cpu_at_start) + wall_before.elapsed().saturating_sub(waited)
    }
}

/// This thread's processor time so far (user and system): the program's
/// one thread at a checkpoint.
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or(Duration::ZERO)
}

/// What the checkpoints above a process cost it; a child inherits its
/// parent's copy at the fork.
#[derive(Debug)]
pub struct Costs {
    /// The checkpoints before the latest one, all their costs.
    earlier: Duration,
    /// The latest checkpoint's own part (its fork above all), and the
    /// pages the program had then (the faults after it are counted up to
    /// that many).
    latest: Duration,
    pages_at_fork: u64,
    /// No new look before then: a look reads the fault counter, and a
    /// program that reads many files weighs once per file.
    next_look: Option<Instant>,
}

/// The latest checkpoint's faults, read before its successor's fork (the
/// child's counters start again from zero).
pub struct BeforeFork {
    faults: Duration,
    pages_at_fork: u64,
}

impl Costs {
    pub fn new() -> Costs {
        Costs {
            earlier: Duration::ZERO,
            latest: Duration::ZERO,
            pages_at_fork: 0,
            next_look: None,
        }
    }

    /// Read in the process about to fork for a new checkpoint.
    pub fn before_fork(&self) -> BeforeFork {
        BeforeFork {
            faults: self.faults(),
            pages_at_fork: procfs::resident_pages().unwrap_or(0),
        }
    }

    /// In the child of a checkpoint's fork: `own` is what the checkpoint
    /// took in the program (its fork above all).
    pub fn forked(&mut self, before: BeforeFork, own: Duration) {
        self.earlier += self.latest + before.faults;
        self.latest = own;
        self.pages_at_fork = before.pages_at_fork;
        self.next_look = None;
    }

    /// Whether a checkpoint made now is worth it, after `since_last` of work
    /// since the latest one and `work` in all (see [`worth_a_checkpoint`]).
    pub fn worth(
        &mut self,
        now: Instant,
        since_last: Duration,
        work: Duration,
        min_work: Duration,
    ) -> bool {
        if min_work.is_zero() {
            return true;
        }
        if since_last < min_work || self.next_look.is_some_and(|at| now < at) {
            return false;
        }
        let latest = self.latest_cost().saturating_mul(WHOLE_COST_PER_COUNTED);
        let worth = worth_a_checkpoint(&Weighing {
            since_last,
            work,
            spent: self.earlier.saturating_mul(WHOLE_COST_PER_COUNTED) + latest,
            next_cost: latest,
            min_work,
        });
        if !worth {
            self.next_look = Some(now + min_work);
        }
        worth
    }

    /// Whether the file an edit was for is worth a checkpoint of its own
    /// now (see `resume_order`): each next edit of it would skip the
    /// `since_last` of work, and the checkpoint costs the program once, so
    /// its counted cost only has to be less than that (not `FORKMON_MIN_WORK`, which
    /// spaces the checkpoints of a burst of reads; a fork of a big heap can
    /// cost more than the work it would save).
    pub fn worth_for_the_changed_file(&self, since_last: Duration) -> bool {
        since_last >= self.latest_cost()
    }

    /// The latest checkpoint's cost so far: its own part and the faults
    /// since.
    fn latest_cost(&self) -> Duration {
        self.latest + self.faults()
    }

    /// The faults since the latest checkpoint, as time.
    fn faults(&self) -> Duration {
        if self.pages_at_fork == 0 {
            return Duration::ZERO;
        }
        let faults = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
            .map(|usage| u64::try_from(usage.minor_page_faults()).unwrap_or(0))
            .unwrap_or(0);
        FAULT_COST.saturating_mul(u32::try_from(faults.min(self.pages_at_fork)).unwrap_or(u32::MAX))
    }
}

/// What [`worth_a_checkpoint`] weighs.
pub struct Weighing {
    /// The program's work since the last checkpoint, and since its start.
    pub since_last: Duration,
    pub work: Duration,
    /// What the checkpoints so far cost, and what the next one likely will
    /// (as much as the latest), in all: their counts doubled
    /// ([`WHOLE_COST_PER_COUNTED`]).
    pub spent: Duration,
    pub next_cost: Duration,
    /// `FORKMON_MIN_WORK`.
    pub min_work: Duration,
}

/// A checkpoint is made only after `FORKMON_MIN_WORK` of work since the
/// last, and only while all of them stay within `1/CHECKPOINT_SHARE` of the
/// work so far, or the next one within that share of the work since the
/// last (a program that made costly checkpoints early still gets one now
/// and then), or once `MAX_GAP_IN_MIN_WORKS` times `FORKMON_MIN_WORK` have
/// passed if it is counted at most `1/OVERDUE_SHARE` of them.
/// `FORKMON_MIN_WORK=0` weighs nothing: a checkpoint per file, as the
/// original.
pub fn worth_a_checkpoint(weighing: &Weighing) -> bool {
    if weighing.min_work.is_zero() {
        return true;
    }
    let within_share =
        (weighing.spent + weighing.next_cost).saturating_mul(CHECKPOINT_SHARE) <= weighing.work;
    let next_within_share =
        weighing.next_cost.saturating_mul(CHECKPOINT_SHARE) <= weighing.since_last;
    // Weighed at what is counted of it: the gap a resume may re-run stays
    // as short as it was before the counts were doubled.
    let overdue = weighing.since_last >= weighing.min_work.saturating_mul(MAX_GAP_IN_MIN_WORKS)
        && weighing.next_cost.saturating_mul(OVERDUE_SHARE)
            <= weighing.since_last.saturating_mul(WHOLE_COST_PER_COUNTED);
    weighing.since_last >= weighing.min_work && (within_share || next_within_share || overdue)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_checkpoint_that_waits_costs_only_its_processor_time() {
        // Waiting (for a processor, for the disk) costs the program no
        // work a later checkpoint must be weighed against.
        let mut clock = CheckpointClock::start();
        std::thread::sleep(60 * MS);
        clock.forking();
        std::thread::sleep(60 * MS);
        assert!(clock.in_parent() < 20 * MS, "{:?}", clock.in_parent());
    }

    fn weighing(since_last: u32, work: u32, spent: u32, next_cost: u32, min_work: u32) -> Weighing {
        Weighing {
            since_last: MS * since_last,
            work: MS * work,
            spent: MS * spent,
            next_cost: MS * next_cost,
            min_work: MS * min_work,
        }
    }

    #[test]
    fn no_checkpoint_before_min_work_since_the_last() {
        assert!(!worth_a_checkpoint(&weighing(4, 1000, 0, 0, 5)));
        assert!(worth_a_checkpoint(&weighing(5, 1000, 0, 0, 5)));
    }

    #[test]
    fn checkpoints_stay_within_their_share_of_the_work() {
        // 1 ms spent and a 1 ms checkpoint next: 40 ms of work are needed.
        assert!(!worth_a_checkpoint(&weighing(10, 39, 1, 1, 5)));
        assert!(worth_a_checkpoint(&weighing(10, 40, 1, 1, 5)));
        // A big heap's 10 ms checkpoints: four of them need 800 ms of
        // work, a fifth 1,000 ms (or 75 ms since the last, see below)...
        assert!(!worth_a_checkpoint(&weighing(70, 999, 40, 10, 5)));
        assert!(worth_a_checkpoint(&weighing(70, 1000, 40, 10, 5)));
    }

    #[test]
    fn past_the_share_the_next_checkpoint_comes_once_it_is_cheap_against_the_work_since_the_last() {
        // 1 ms checkpoints after costly early ones: one per 20 ms of
        // work, not one per FORKMON_MIN_WORK.
        assert!(!worth_a_checkpoint(&weighing(19, 100, 40, 1, 5)));
        assert!(worth_a_checkpoint(&weighing(20, 100, 40, 1, 5)));
    }

    #[test]
    fn after_six_min_works_a_checkpoint_counted_at_a_fifteenth_of_them_is_made() {
        // 30 ms since the last: one counted at 2 ms (4 ms in all) is made,
        // one counted at 3 ms is not (it waits for 45 ms, 15 times that).
        assert!(!worth_a_checkpoint(&weighing(29, 100, 40, 4, 5)));
        assert!(worth_a_checkpoint(&weighing(30, 100, 40, 4, 5)));
        assert!(!worth_a_checkpoint(&weighing(30, 100, 40, 6, 5)));
        assert!(worth_a_checkpoint(&weighing(45, 100, 40, 6, 5)));
    }

    #[test]
    fn a_checkpoint_is_weighed_at_twice_what_was_counted_of_it() {
        let now = Instant::now();
        let counted_one_ms = || Costs {
            latest: MS,
            ..Costs::new()
        };
        // Counted at 1 ms, the next one is weighed at 2: 20 ms of work
        // since the last are not enough for it, 40 ms are.
        assert!(!counted_one_ms().worth(now, 20 * MS, 20 * MS, 5 * MS));
        assert!(counted_one_ms().worth(now, 40 * MS, 40 * MS, 5 * MS));
    }

    #[test]
    fn min_work_zero_weighs_nothing() {
        assert!(worth_a_checkpoint(&weighing(0, 1, 100, 100, 0)));
    }

    #[test]
    fn no_more_faults_are_counted_than_the_pages_the_program_had_at_the_checkpoint() {
        let mut costs = Costs::new();
        // No pages at the checkpoint: the faults this test process made
        // are not a checkpoint's.
        assert_eq!(costs.faults(), Duration::ZERO);
        costs.pages_at_fork = 1;
        assert!(costs.faults() <= FAULT_COST);
    }

    #[test]
    fn the_changed_file_gets_its_checkpoint_when_it_costs_less_than_the_work_it_skips() {
        let mut costs = Costs::new();
        costs.latest = 2 * MS;
        assert!(!costs.worth_for_the_changed_file(MS));
        assert!(costs.worth_for_the_changed_file(3 * MS));
    }

    #[test]
    fn a_checkpoint_moves_the_latest_cost_to_the_earlier_ones() {
        let mut costs = Costs::new();
        costs.forked(
            BeforeFork {
                faults: MS,
                pages_at_fork: 10,
            },
            2 * MS,
        );
        costs.forked(
            BeforeFork {
                faults: 3 * MS,
                pages_at_fork: 10,
            },
            MS,
        );
        assert_eq!(costs.earlier, 6 * MS);
        assert_eq!(costs.latest, MS);
    }
}
