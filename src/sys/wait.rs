//! Waiting for children, with every way a child can end or stop (nix's
//! `WaitStatus` cannot carry a real-time signal and drops such a status),
//! and ending or stopping this process as a child of it did.

use nix::unistd::Pid;

/// What `waitpid` told about one child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStatus {
    Exited(i32),
    /// Ended by this signal (any number, real-time ones included).
    Signaled {
        signal: i32,
        core_dumped: bool,
    },
    Stopped(i32),
    Continued,
}

/// Reaps (or sees stop) one child without blocking: `None` if none has
/// anything to tell (or there are no children).
pub fn try_wait_any() -> Option<(Pid, ChildStatus)> {
    let mut status = 0;
    loop {
        // SAFETY: plain system call; `status` is a writable int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::WUNTRACED) };
        if pid > 0 {
            return Some((Pid::from_raw(pid), decode(status)));
        }
        if pid < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINTR {
            continue;
        }
        return None;
    }
}

/// Waits until `child` has ended (stops are passed over) and reaps it.
pub fn wait_end(child: Pid) -> Option<ChildStatus> {
    let mut status = 0;
    loop {
        // SAFETY: plain system call; `status` is a writable int.
        let pid = unsafe { libc::waitpid(child.as_raw(), &mut status, 0) };
        if pid == child.as_raw() {
            return Some(decode(status));
        }
        if pid < 0 && nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return None;
        }
    }
}

fn decode(status: i32) -> ChildStatus {
    if libc::WIFEXITED(status) {
        ChildStatus::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        ChildStatus::Signaled {
            signal: libc::WTERMSIG(status),
            core_dumped: libc::WCOREDUMP(status),
        }
    } else if libc::WIFSTOPPED(status) {
        ChildStatus::Stopped(libc::WSTOPSIG(status))
    } else {
        ChildStatus::Continued
    }
}

/// A signal as a user reads it: `SIGTERM`, or `signal 36 (SIGRTMIN+2)` for
/// a real-time one and `signal N` for one without a name.
pub fn signal_name(signal: i32) -> String {
    if let Ok(known) = nix::sys::signal::Signal::try_from(signal) {
        return known.as_str().to_owned();
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    if (min..=max).contains(&signal) {
        let offset = signal - min;
        let name = if offset == 0 {
            "SIGRTMIN".to_owned()
        } else {
            format!("SIGRTMIN+{offset}")
        };
        return format!("signal {signal} ({name})");
    }
    format!("signal {signal}")
}

/// Ends this process as a child of it ended: with the same exit code, or
/// by the same signal (so that a shell reports it as it would the
/// program's), without a core dump of its own.
pub fn end_as(status: ChildStatus) -> ! {
    match status {
        ChildStatus::Exited(code) => super::exit_now(code),
        ChildStatus::Signaled { signal, .. } => die_by(signal),
        ChildStatus::Stopped(_) | ChildStatus::Continued => super::exit_now(1),
    }
}

/// Ends this process by `signal` with its default action, without dumping
/// core (a holder's core is a copy of the program's, not the program's).
pub fn die_by(signal: i32) -> ! {
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // SAFETY: installing SIG_DFL runs no handler code; sigset_t is plain
    // data, initialised by sigemptyset before use.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::kill(libc::getpid(), signal);
        // Pending now; delivered as soon as it is unblocked.
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    // A signal whose default action does not end a process.
    super::exit_now(128 + signal)
}

/// Stops this process (as a stopped child stopped it) until a SIGCONT.
pub fn stop_self() {
    // SAFETY: plain system call; SIGSTOP cannot be caught or blocked, so
    // this process stops before kill returns.
    unsafe { libc::kill(libc::getpid(), libc::SIGSTOP) };
}
