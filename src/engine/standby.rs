//! A holder's standby: a copy of the checkpoint forked ahead of time, parked
//! inside forkmon until a resume releases it (as Android's zygote keeps
//! pre-forked app processes).
//!
//! A resume then costs neither the fork (its page-table copy grows with the
//! heap: 74 ms at 4 GB) nor waiting for the old run's memory to be torn down
//! (76 ms at 4 GB): the old run is killed, the holder waits only until each
//! of its processes has begun to exit (so none of them writes anything after
//! the new run starts), and those that held what the new run may need (a
//! socket's address, a lock: see `given_back`) have ended, and releases the
//! standby. The old run is reaped later, as its processes end. The next
//! standby is forked once the tree has been quiet for [`STANDBY_DELAY`].
//!
//! The standby changes nothing the program sees: it waits blocked in a read
//! of its own pipe, with the holder's signal mask, away from the terminal;
//! the resume number, `FORKMON_RESTART_TICKS` and the program's signal
//! handlers are set only after its release, as in a child forked then; its
//! pid is its own, as a fresh child's would be; its process name reads
//! `forkmon-standby` while it is parked, the program's again once released. Its memory is the holder's,
//! shared copy-on-write (PSS: nothing); its own cost is its page tables
//! (2 MB per GB of heap).

// The standby's fork is the engine's third, allowed where it stands.
#![deny(unsafe_code)]

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::unistd::{ForkResult, Pid};
use rustc_hash::FxHashSet;

use super::given_back;
use super::trace::ResumeTrace;
use crate::sys;
use crate::sys::procfs;
use crate::sys::signals::{self, Received};
use crate::warn;

/// How long a holder waits, after it started holding and after each
/// resume, before it forks its standby: the fork (tens of ms for a big
/// heap) then stays off a short start-up's way, and out of the first
/// moments of a resumed run.
pub const STANDBY_DELAY: Duration = Duration::from_millis(100);

/// A parked standby's process name (`comm`).
pub const STANDBY_NAME: &std::ffi::CStr = c"forkmon-standby";

/// How long a resume waits for a killed process of the old run to begin
/// its exit: one that waits in the kernel (a hung network mount, a
/// device) may take longer, and the new run then starts beside it.
const EXIT_START_LIMIT: Duration = Duration::from_secs(1);

/// The old run's processes a resume could not end: those forkmon may not
/// signal (they run as another user: a setuid program such as `sudo` the
/// run started), and those that had not begun to exit by
/// [`EXIT_START_LIMIT`]. They are said, and never waited for.
#[derive(Default)]
pub struct LeftAlive {
    not_permitted: Vec<Pid>,
    slow: Vec<Pid>,
}

impl LeftAlive {
    /// Sends SIGKILL to `pid`; whether it may be waited for.
    pub fn kill(&mut self, pid: Pid) -> bool {
        match kill(pid, Signal::SIGKILL) {
            Err(nix::errno::Errno::EPERM) => {
                self.not_permitted.push(pid);
                false
            }
            _ => true,
        }
    }

    pub fn contains(&self, pid: Pid) -> bool {
        self.not_permitted.contains(&pid) || self.slow.contains(&pid)
    }

    /// One line for what was left, if anything.
    pub fn say(&self) {
        let name = |pid: Pid| procfs::command_name(pid).unwrap_or_else(|| "a process".to_owned());
        if let Some(&pid) = self.not_permitted.first() {
            warn!(
                "{} (pid {pid}) of the old run cannot be ended by forkmon: it runs as another user \
                 (a setuid program, such as sudo, that the run started); the new run starts beside it",
                name(pid)
            );
        }
        if let Some(&pid) = self.slow.first() {
            warn!(
                "{} (pid {pid}) of the old run has not begun to exit {} s after it was killed (it \
                 waits in the kernel); the new run starts beside it",
                name(pid),
                EXIT_START_LIMIT.as_secs()
            );
        }
    }
}

/// A holder's standby, or when the next is due./// A holder's standby, or when the next is due.
pub struct Standby {
    parked: Option<Parked>,
    due: Option<Instant>,
}

/// A standby process waiting to be released.
pub struct Parked {
    pid: Pid,
    /// The write end of the pipe it reads its resume number from.
    release: OwnedFd,
}

/// What [`Standby::wait`] returns.
pub enum Waited {
    /// A signal for the holder.
    Signal(Received),
    /// In a standby: it was released with this resume order's value, and
    /// goes on as the program.
    Released(u64),
}

impl Standby {
    /// A holder's standby, first due after the delay; none if not `wanted`.
    pub fn new(wanted: bool) -> Standby {
        Standby {
            parked: None,
            due: wanted.then(|| Instant::now() + STANDBY_DELAY),
        }
    }

    /// Waits for a signal of `set` (blocked), forking the standby when it
    /// is due. In the standby, returns once it is released.
    pub fn wait(&mut self, set: &SigSet) -> std::io::Result<Waited> {
        loop {
            let Some(due) = self.due.filter(|_| self.parked.is_none()) else {
                return signals::wait_signal(set).map(Waited::Signal);
            };
            let left = due.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                if let Some(received) = signals::wait_signal_for(set, left)? {
                    return Ok(Waited::Signal(received));
                }
                continue;
            }
            self.due = None;
            if let Some(number) = self.fork() {
                return Ok(Waited::Released(number));
            }
        }
    }

    /// The parked standby, if there is one: it is the holder's to release
    /// (or to drop, which ends it).
    pub fn take(&mut self) -> Option<Parked> {
        self.parked.take()
    }

    /// A resume happened: the next standby is due after the delay.
    pub fn resumed(&mut self) {
        self.due = Some(Instant::now() + STANDBY_DELAY);
    }

    /// The holder reaped `pid`: if it was the standby (ended from outside),
    /// another one is due. Returns whether it was.
    pub fn ended(&mut self, pid: Pid) -> bool {
        if self.parked.as_ref().is_some_and(|parked| parked.pid == pid) {
            self.parked = None;
            self.resumed();
            return true;
        }
        false
    }

    fn fork(&mut self) -> Option<u64> {
        // Close-on-exec: nothing the program execs may hold the pipe.
        let (read, release) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ok()?;
        let (read, release) = (
            sys::above_standard_streams(read),
            sys::above_standard_streams(release),
        );
        let holder = nix::unistd::getpid();
        sys::flush_stdio();
        // SAFETY: a holder is a copy of the program at a checkpoint, made
        // only while it had one thread.
        #[allow(unsafe_code)]
        let forked = unsafe { sys::fork() };
        match forked {
            Ok(ForkResult::Child) => {
                drop(release);
                Some(wait_for_release(read, holder))
            }
            Ok(ForkResult::Parent { child }) => {
                drop(read);
                self.parked = Some(Parked {
                    pid: child,
                    release,
                });
                None
            }
            // No standby: resumes fork as before.
            Err(_) => None,
        }
    }
}

impl Parked {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Lets the standby go on as the program with the resume order's
    /// `value`; returns its pid, or `None` if it is gone (the caller
    /// resumes by a fork).
    pub fn release(self, value: u64) -> Option<Pid> {
        match nix::unistd::write(&self.release, &value.to_le_bytes()) {
            Ok(8) => Some(self.pid),
            _ => {
                let _ = kill(self.pid, Signal::SIGKILL);
                None
            }
        }
    }
}

/// In the standby: blocked until the holder writes the resume number. Ends
/// at once if the holder is gone (its pipe end closed, or before the
/// parent-death signal was set).
fn wait_for_release(read: OwnedFd, holder: Pid) -> u64 {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if crate::sys::parent_pid() != holder {
        sys::exit_now(0);
    }
    // Named while parked, so that `ps` (and the tests) tell it from the
    // holder's running child; the program's own name is back before it
    // goes on.
    let name = nix::sys::prctl::get_name().ok();
    let _ = nix::sys::prctl::set_name(STANDBY_NAME);
    let mut number = [0u8; 8];
    loop {
        match nix::unistd::read(&read, &mut number) {
            Ok(8) => break,
            Err(nix::errno::Errno::EINTR) => {}
            _ => sys::exit_now(0),
        }
    }
    // Signals sent to the group while it was parked (Ctrl+Z, a window
    // resize) were for the run then: a freshly forked child has none
    // pending, and neither has the standby when the program's mask is back.
    signals::discard_pending(&SigSet::all());
    if let Some(name) = name {
        let _ = nix::sys::prctl::set_name(&name);
    }
    u64::from_le_bytes(number)
}

/// Ends the old run without waiting for its memory to be freed: SIGKILL to
/// `roots` and everything below them, then waits only until each has begun
/// to exit, when it can no longer write to the terminal or a file, and
/// until those that held a socket's address, a lock or a device have
/// ended.
/// Processes forked meanwhile are found by listing the tree again. The
/// holder reaps them later, as they end.
pub fn kill_run(roots: &[Pid], mut trace: Option<&mut ResumeTrace>) {
    let mut killed: FxHashSet<Pid> = FxHashSet::default();
    let mut left = LeftAlive::default();
    let deadline = Instant::now() + EXIT_START_LIMIT;
    // A bound, in case the run forks faster than it is killed.
    for _ in 0..100 {
        let mut run: Vec<Pid> = Vec::new();
        for root in roots {
            run.push(*root);
            run.extend(procfs::descendants(*root));
        }
        run.retain(|pid| !killed.contains(pid) && !left.contains(*pid));
        if run.is_empty() {
            break;
        }
        run.retain(|pid| left.kill(*pid));
        if let Some(trace) = trace.as_deref_mut() {
            trace.mark("kill");
        }
        for pid in &run {
            while !procfs::has_begun_to_exit(*pid) {
                if Instant::now() >= deadline {
                    left.slow.push(*pid);
                    break;
                }
                std::thread::yield_now();
            }
        }
        if let Some(trace) = trace.as_deref_mut() {
            trace.mark("exiting");
        }
        killed.extend(run.into_iter().filter(|pid| !left.slow.contains(pid)));
    }
    left.say();
    let killed: Vec<Pid> = killed.into_iter().collect();
    let still_holding = given_back::wait_given_back(&killed);
    if let Some(trace) = trace {
        trace.mark("given-back");
    }
    if !still_holding.is_empty() {
        warn!(
            "a process of the old run (pid {}) that holds a socket, a lock or a device has not ended {} s after it was killed; the new run starts beside it",
            still_holding[0],
            given_back::WAIT_LIMIT.as_secs()
        );
    }
}
