//! Signals: what forkmon's own processes block and take over from the
//! program, and the resume order a holder waits for.

use std::io;

use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

/// The mask of a holder (and of the watcher): every signal. The program's
/// handlers, its timers' SIGALRM and signals sent to the whole foreground
/// group (SIGWINCH, SIGUSR1…) must not run in a frozen copy of it; the
/// signals that end or stop the tree are taken with [`wait_signal`]
/// (see [`held_signals`]), so that the program alone decides what they do
/// to it, and its holders follow.
pub fn blocked_signals() -> SigSet {
    SigSet::all()
}

/// The signals that end a program alone (Ctrl+C, Ctrl+\\, `kill`, a
/// closed terminal): a holder passes them on and ends as the program ends.
pub const ENDING: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// The signals a holder passes on to its child: the ending ones and
/// SIGTSTP.
pub fn passed_on_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTSTP);
    for signal in ENDING {
        set.add(signal);
    }
    set
}

/// `si_code` of tgkill (asm-generic/siginfo.h); the libc crate does not
/// name it.
const SI_TKILL: i32 = -6;

/// Signals a program is sent by another process to handle for itself (a
/// log rotation's SIGUSR1 to the pid in its pidfile) or to die of: a holder
/// that gets one passes it down to the run.
const PROGRAM_SIGNALS: [Signal; 10] = [
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
    Signal::SIGPIPE,
    Signal::SIGPROF,
    Signal::SIGVTALRM,
    Signal::SIGURG,
    Signal::SIGIO,
    Signal::SIGXCPU,
];

/// Whether a holder passes `signal`, sent to it by a process, down to the
/// run: [`PROGRAM_SIGNALS`] and the real-time signals but forkmon's own.
pub fn is_a_program_signal(signal: i32) -> bool {
    PROGRAM_SIGNALS.iter().any(|s| *s as i32 == signal)
        || (signal > resume_signal() && signal <= libc::SIGRTMAX())
}

/// Signals a holder takes with sigwaitinfo rather than by handler: its
/// children's ends and stops, the resume order, the ending signals,
/// Ctrl+Z's SIGTSTP and the program's own.
pub fn held_signals() -> SigSet {
    let mut set = passed_on_signals();
    set.add(Signal::SIGCHLD);
    for signal in PROGRAM_SIGNALS {
        set.add(signal);
    }
    // nix's Signal has no real-time signals: added by number.
    let mut set = with_realtime(set, resume_signal());
    for signal in resume_signal() + 1..=libc::SIGRTMAX() {
        set = with_realtime(set, signal);
    }
    set
}

fn with_realtime(set: SigSet, signal: i32) -> SigSet {
    let mut raw: libc::sigset_t = *set.as_ref();
    // SAFETY: `raw` is a valid, initialised sigset_t and `signal` a valid
    // signal number (SIGRTMIN).
    unsafe { libc::sigaddset(&mut raw, signal) };
    // SAFETY: `raw` was initialised from a valid SigSet and sigaddset.
    unsafe { SigSet::from_sigset_t_unchecked(raw) }
}

/// Queues `signal` to `pid` in the name of `sender` (its pid and uid), with
/// `value`: the receiver's `si_pid` is the process that sent it first, to
/// which a reply goes (rt_sigqueueinfo(2); `si_code` is SI_QUEUE).
pub fn pass_on_as(pid: Pid, signal: i32, value: u64, sender: (i32, u32)) -> io::Result<()> {
    let info = super::pidfd::queued_info_from(signal, value, sender);
    // SAFETY: `info` is a fully initialised siginfo_t the kernel copies.
    let result = unsafe {
        libc::syscall(
            libc::SYS_rt_sigqueueinfo,
            pid.as_raw(),
            signal,
            &info as *const libc::siginfo_t,
        )
    };
    match result {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Sends `signal` with an integer payload (sigqueue(3)).
pub fn send_with_value(pid: Pid, signal: i32, value: u64) -> io::Result<()> {
    let payload = libc::sigval {
        sival_ptr: value as usize as *mut libc::c_void,
    };
    // SAFETY: plain system call on integers; the payload is copied.
    match unsafe { libc::sigqueue(pid.as_raw(), signal, payload) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

/// A signal taken by [`wait_signal`].
pub struct Received {
    pub signal: i32,
    /// The sigqueue payload (meaningful only when `queued`).
    pub value: u64,
    /// Sent with sigqueue(3), not kill(2).
    pub queued: bool,
    /// Sent by the kernel (the terminal's Ctrl+C, Ctrl+Z or hang-up), to
    /// the whole foreground group: the program has it too.
    pub from_kernel: bool,
    /// Sent by a process (kill, sigqueue, tgkill), not by a timer, the
    /// kernel or I/O.
    pub by_a_process: bool,
    /// The sender's user id (with `sender`, for a process's signal).
    pub sender_uid: u32,
    pub sender: i32,
}

/// Waits for one of the blocked signals in `set`.
pub fn wait_signal(set: &SigSet) -> io::Result<Received> {
    loop {
        // SAFETY: siginfo_t is plain data, so all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t and `info` a writable siginfo_t.
        let signal = unsafe { libc::sigwaitinfo(set.as_ref(), &mut info) };
        if signal >= 0 {
            return Ok(received(signal, &info));
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn received(signal: i32, info: &libc::siginfo_t) -> Received {
    // SAFETY: for a signal sent by kill or sigqueue the kernel filled si_pid
    // (and si_value for sigqueue); for others they are not used.
    let (value, sender, sender_uid) = unsafe {
        (
            info.si_value().sival_ptr as usize as u64,
            info.si_pid(),
            info.si_uid(),
        )
    };
    Received {
        signal,
        value,
        queued: info.si_code == libc::SI_QUEUE,
        from_kernel: info.si_code == libc::SI_KERNEL,
        by_a_process: matches!(info.si_code, libc::SI_USER | libc::SI_QUEUE | SI_TKILL),
        sender_uid,
        sender,
    }
}

/// Takes the pending signals of `set` (blocked) without waiting, as
/// [`wait_signal`] would.
pub fn take_pending(set: &SigSet) -> Vec<Received> {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut taken = Vec::new();
    loop {
        // SAFETY: siginfo_t is plain data, so all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid sigset, siginfo and timespec; returns at once.
        let signal = unsafe { libc::sigtimedwait(set.as_ref(), &mut info, &zero) };
        if signal <= 0 {
            return taken;
        }
        taken.push(received(signal, &info));
    }
}

/// The signals not raised again in a run from a checkpoint where they were
/// pending: the holder's own (its children's ends, the resume order), and
/// SIGCONT (a continue that came then is no state of the program's: each
/// resumed run's handler would see it again).
pub fn not_raised_again() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.add(Signal::SIGCONT);
    with_realtime(set, resume_signal())
}

/// `signals` but the ones a holder passes on (see [`passed_on_signals`]).
pub fn without_passed_on(signals: &[i32]) -> Vec<i32> {
    let passed_on = passed_on_signals();
    signals
        .iter()
        .copied()
        .filter(|&signal| {
            Signal::try_from(signal).map_or(true, |signal| !passed_on.contains(signal))
        })
        .collect()
}

/// The signals pending in this process (and its one thread), but those of
/// `besides`.
pub fn pending_besides(besides: &SigSet) -> Vec<i32> {
    // SAFETY: sigset_t is plain data; sigpending fills it.
    let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `pending` is a writable sigset_t.
    if unsafe { libc::sigpending(&mut pending) } != 0 {
        return Vec::new();
    }
    (1..=libc::SIGRTMAX())
        // SAFETY: both sets are valid, and each number a signal number.
        .filter(|&signal| unsafe {
            libc::sigismember(&pending, signal) == 1
                && libc::sigismember(besides.as_ref(), signal) != 1
        })
        .collect()
}

/// Sends each of `signals` to this process's thread: one the program
/// blocks stays pending, as it was at the checkpoint.
pub fn raise_each(signals: &[i32]) {
    for &signal in signals {
        // SAFETY: raise has no preconditions; an invalid number fails.
        unsafe { libc::raise(signal) };
    }
}

/// Takes any pending signals of `set` without waiting (they are blocked).
pub fn discard_pending(set: &SigSet) {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid sigset and timespec; a null siginfo pointer is allowed.
    while unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &zero) } > 0 {}
}

/// The signal a holder is told to resume with (a real-time signal, so it
/// queues and carries the resume number).
pub fn resume_signal() -> i32 {
    libc::SIGRTMIN()
}

/// The signal dispositions and mask of the program, saved while forkmon's
/// own processes (holders, the watcher) use their own.
pub struct SavedSignals {
    actions: Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>,
    mask: SigSet,
}

/// Signals a forkmon process takes back from the program: the ones that end
/// the tree (default action, for a holder to end by one as the program did)
/// and SIGCHLD (so children can be waited for even if the program ignored
/// it).
const TAKEN_OVER: [nix::sys::signal::Signal; 5] = {
    use nix::sys::signal::Signal::*;
    [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD]
};

/// Sets the signals above to their default action and the mask to exactly
/// `blocked`; returns what the program had, to restore in its next child.
pub fn take_over_signals(blocked: &SigSet) -> nix::Result<SavedSignals> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigmaskHow, sigaction};
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    let mut mask = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(blocked), Some(&mut mask))?;
    let mut actions = Vec::with_capacity(TAKEN_OVER.len());
    for signal in TAKEN_OVER {
        // SAFETY: installing SIG_DFL runs no handler code, so no handler can
        // be unsound; the old action is kept to be reinstalled unchanged.
        actions.push((signal, unsafe { sigaction(signal, &default) }?));
    }
    Ok(SavedSignals { actions, mask })
}

impl SavedSignals {
    /// Whether the program ignored `signal` (SIG_IGN) at its checkpoint, as
    /// `nohup` makes it ignore SIGHUP.
    pub fn ignored(&self, signal: Signal) -> bool {
        use nix::sys::signal::SigHandler;
        self.actions
            .iter()
            .any(|(s, action)| *s == signal && matches!(action.handler(), SigHandler::SigIgn))
    }

    /// Puts back the program's dispositions and mask (in a fresh child).
    pub fn restore(&self) {
        use nix::sys::signal::{SigmaskHow, sigaction};
        for (signal, action) in &self.actions {
            // SAFETY: reinstalls exactly the action the program had set, in
            // a copy of the same program's memory.
            let _ = unsafe { sigaction(*signal, action) };
        }
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.mask), None);
    }
}

/// Writes `bytes` to stderr in one `write(2)` (more only if the kernel
/// takes part of it) without raising SIGPIPE on a closed pipe: a program
/// that never wrote to a pipe must not die of forkmon's line to it.
/// SIGPIPE is blocked around the write and a SIGPIPE the write raised is
/// taken back; the program's mask, and a SIGPIPE the program itself had
/// pending, stay as they were.
pub fn write_stderr(bytes: &[u8]) {
    let Some(target) = super::original_stderr::target() else {
        return;
    };
    let stderr = target.fd();
    // SAFETY: sigset_t is plain data, initialised by sigemptyset; the mask
    // calls change this thread's mask only and restore it below; write gets
    // a valid buffer and length; sigtimedwait a valid set and timespec (a
    // null siginfo is allowed), and it returns at once.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let had_one = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let mut rest = bytes;
        let mut broken = false;
        while !rest.is_empty() {
            let written = libc::write(stderr, rest.as_ptr().cast(), rest.len());
            match usize::try_from(written) {
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(_) if crate::sys::errno() == libc::EINTR => {}
                Err(_) => {
                    broken = crate::sys::errno() == libc::EPIPE;
                    break;
                }
            }
        }
        if broken && !had_one {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

/// Like [`wait_signal`], but gives up after `timeout` (`Ok(None)`).
pub fn wait_signal_for(set: &SigSet, timeout: std::time::Duration) -> io::Result<Option<Received>> {
    let limit = libc::timespec {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
    };
    // SAFETY: siginfo_t is plain data, so all-zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t, `info` a writable siginfo_t and
    // `limit` a valid timespec.
    let signal = unsafe { libc::sigtimedwait(set.as_ref(), &mut info, &limit) };
    if signal < 0 {
        let error = io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(error),
        };
    }
    Ok(Some(received(signal, &info)))
}
