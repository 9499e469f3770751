//! What the program sees of itself as it would alone, where a fork makes
//! it otherwise: its processor time (a fork's child counts from zero) and
//! its parent (a run's is a holder). The `clock` and `getppid` detours and
//! Lua's `os.clock` ask here.

#![forbid(unsafe_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::sys;

/// The parent the program has as it would alone: the first holder's (the
/// process the user started), in a run below a checkpoint; `None` elsewhere
/// (before the first checkpoint, in a copy the program forked).
pub fn program_parent() -> Option<i32> {
    let first_holder = super::first_holder_of_this_run()?;
    // Read again at most every 50 ms: a program may ask in a loop, and
    // /proc costs a hundred times a getppid.
    static LATEST: Mutex<Option<(Instant, i32, i32)>> = Mutex::new(None);
    let mut latest = LATEST
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((at, holder, parent)) = *latest
        && holder == first_holder
        && at.elapsed() < Duration::from_millis(50)
    {
        return Some(parent);
    }
    let parent = sys::procfs::parent_of(first_holder)?;
    *latest = Some((Instant::now(), first_holder, parent));
    Some(parent)
}

/// The processor time the program had used when this process was forked
/// from its checkpoint, in microseconds: a fork's child starts its own
/// count at zero, and `clock()` (Lua's `os.clock`) adds this back.
static CPU_BEFORE_THIS_PROCESS: AtomicU64 = AtomicU64::new(0);

/// The fork count ([`sys::forks`]) of the process the count above is
/// for: a copy the program forks by itself counts from zero, as alone.
static CPU_COUNTED_FOR: AtomicU64 = AtomicU64::new(0);

/// The program's processor time so far, as it would be alone: this
/// process's, and what the program used before its checkpoint's fork.
pub fn program_cpu_time() -> Duration {
    cpu_before_this_process() + sys::processor_time().unwrap_or_default()
}

/// What the checkpoints added to `clock()`'s count in this process
/// (nothing in a copy the program forked by itself).
pub fn cpu_before_this_process() -> Duration {
    if CPU_COUNTED_FOR.load(Ordering::Relaxed) != sys::forks() {
        return Duration::ZERO;
    }
    Duration::from_micros(CPU_BEFORE_THIS_PROCESS.load(Ordering::Relaxed))
}

pub(super) fn set_cpu_before_this_process(cpu: Duration) {
    let micros = u64::try_from(cpu.as_micros()).unwrap_or(u64::MAX);
    CPU_BEFORE_THIS_PROCESS.store(micros, Ordering::Relaxed);
    CPU_COUNTED_FOR.store(sys::forks(), Ordering::Relaxed);
}
