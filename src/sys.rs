//! The few raw system calls that nix does not wrap, and `fork`. Each unsafe
//! block says why it holds; everything above this module is safe Rust.

use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::sys::signal::SigSet;
use nix::unistd::{ForkResult, Pid};

/// Forks the calling process.
///
/// Callers check first that the process has one thread (the engine refuses
/// otherwise), so the child's memory holds no lock another thread owned.
pub fn fork() -> nix::Result<ForkResult> {
    // SAFETY: single-threaded at the call (see above): after fork the child
    // may run any code, as the parent could.
    unsafe { nix::unistd::fork() }
}

/// Ends this process at once, without running the host's atexit handlers or
/// flushing its stdio buffers (a holder or watcher must not print the
/// program's buffered output a second time).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Writes out every C stdio buffer, so that output the program produced
/// before a checkpoint is not copied into each resumed child.
pub fn flush_stdio() {
    // SAFETY: fflush(NULL) flushes all open output streams; it takes the
    // stdio locks itself and the process is single-threaded here.
    unsafe { libc::fflush(std::ptr::null_mut()) };
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
            // SAFETY: for a signal sent by sigqueue the kernel filled
            // si_value and si_pid; for others they are not used.
            let (value, sender) =
                unsafe { (info.si_value().sival_ptr as usize as u64, info.si_pid()) };
            let queued = info.si_code == libc::SI_QUEUE;
            return Ok(Received {
                signal,
                value,
                queued,
                sender,
            });
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
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

pub fn errno() -> i32 {
    nix::errno::Errno::last_raw()
}

pub fn set_errno(value: i32) {
    nix::errno::Errno::set_raw(value)
}

/// The current directory written into `buffer`, without allocating.
pub fn current_dir(buffer: &mut [u8]) -> Option<&[u8]> {
    // SAFETY: getcwd writes at most buffer.len() bytes, NUL included.
    let result = unsafe { libc::getcwd(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result.is_null() {
        return None;
    }
    CStr::from_bytes_until_nul(buffer).ok().map(CStr::to_bytes)
}

/// `fstat(2)` of a descriptor the caller holds open. The kernel's own
/// fstat rather than glibc's, which since 2.33 goes through
/// `fstatat(fd, "", AT_EMPTY_PATH)` and has the kernel look up an empty
/// path: 0.33 µs here against 0.40, on every watched file the program
/// reads (x86-64 has the call; other architectures keep glibc's).
pub fn fstat(fd: std::os::fd::BorrowedFd<'_>) -> Option<libc::stat> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::os::fd::AsRawFd;
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: the descriptor is open (borrowed for this call) and the
        // kernel writes a whole `struct stat` (the libc crate's layout is
        // the kernel's on x86-64) into `stat` when it returns 0.
        let result = unsafe { libc::syscall(libc::SYS_fstat, fd.as_raw_fd(), stat.as_mut_ptr()) };
        // SAFETY: initialised by the successful call above.
        (result == 0).then(|| unsafe { stat.assume_init() })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        nix::sys::stat::fstat(fd).ok()
    }
}

/// The path an open directory descriptor refers to, without allocating.
pub fn fd_path(fd: i32, buffer: &mut [u8]) -> Option<&[u8]> {
    let mut link = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut link[..]);
    std::io::Write::write_fmt(&mut cursor, format_args!("/proc/self/fd/{fd}\0")).ok()?;
    // SAFETY: `link` is NUL-terminated above; readlink writes at most
    // buffer.len() bytes and does not terminate them.
    let len = unsafe {
        libc::readlink(
            link.as_ptr().cast(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    let len = usize::try_from(len).ok()?;
    buffer.get(..len).filter(|path| path.starts_with(b"/"))
}

/// True in a set-user-ID or set-group-ID program (or one with file
/// capabilities), where the dynamic loader runs in secure mode.
pub fn is_secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The file this library was loaded from, as the dynamic loader saw it.
pub fn own_library_path() -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: Dl_info is plain data; dladdr fills it for an address inside
    // a loaded object (this function is one).
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let address = own_library_path as *const libc::c_void;
    // SAFETY: see above; dli_fname is a NUL-terminated string owned by the
    // loader that lives as long as the library stays loaded.
    let name = unsafe {
        if libc::dladdr(address, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        CStr::from_ptr(info.dli_fname)
    };
    Some(std::ffi::OsStr::from_bytes(name.to_bytes()).into())
}

/// How many threads this process has.
///
/// procfs gives `/proc/self/task` one link per thread plus two, so one
/// `stat` tells: it needs no file descriptor, and works also in a program
/// that has used up its open-file limit (reading the directory would fail
/// there with EMFILE).
pub fn thread_count() -> io::Result<usize> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self/task")?.nlink() {
        links @ 3.. => Ok(usize::try_from(links - 2).unwrap_or(usize::MAX)),
        _ => Ok(std::fs::read_dir("/proc/self/task")?.count()),
    }
}

/// The live and not yet reaped children of this (single-threaded) process.
pub fn children() -> io::Result<Vec<Pid>> {
    children_of(nix::unistd::getpid())
}

/// The children made by the main thread of `pid`.
fn children_of(pid: Pid) -> io::Result<Vec<Pid>> {
    let list = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
    Ok(list
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .map(Pid::from_raw)
        .collect())
}

/// Every process below `root` (children of main threads, as holders and
/// the program make them), found now; `root` not included.
pub fn descendants(root: Pid) -> Vec<Pid> {
    let mut found = Vec::new();
    let mut next = vec![root];
    // A bound, in case a pid is reused into a loop while the tree is read.
    while let Some(pid) = next.pop().filter(|_| found.len() < 100_000) {
        let children = children_of(pid).unwrap_or_default();
        found.extend_from_slice(&children);
        next.extend(children);
    }
    found
}

/// The signal dispositions and mask of the program, saved while forkmon's
/// own processes (holders, the watcher) use their own.
pub struct SavedSignals {
    actions: Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>,
    mask: SigSet,
}

/// Signals a forkmon process takes back from the program: the ones that end
/// the tree (default action) and SIGCHLD (so children can be waited for even
/// if the program ignored it).
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

/// The processor time this process has used so far: the work before
/// forkmon was loaded (by exec and the loader, or later by `require`), to
/// the nanosecond. (The start time in /proc counts in 10 ms ticks, which
/// made a short start-up look up to 10 ms longer than it was.)
pub fn processor_time() -> Option<std::time::Duration> {
    let used = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).ok()?;
    Some(std::time::Duration::new(
        u64::try_from(used.tv_sec()).ok()?,
        u32::try_from(used.tv_nsec()).ok()?,
    ))
}

static FORKS_IN_THIS_LINE: AtomicU64 = AtomicU64::new(0);
static FORKS_COUNTED: std::sync::Once = std::sync::Once::new();
static FORKS_ARE_COUNTED: AtomicBool = AtomicBool::new(false);

extern "C" fn count_fork_in_child() {
    FORKS_IN_THIS_LINE.fetch_add(1, Ordering::Relaxed);
}

/// Counts every fork(3) from now on, in the child: the engine tells a copy
/// the program forked by itself without a getpid per watched file (a tenth
/// of a tied open's cost). Returns false if that cannot be done.
pub fn count_forks() -> bool {
    FORKS_COUNTED.call_once(|| {
        // SAFETY: the handler only increments an atomic, which is safe in a
        // child just forked; no prepare or parent handler is given.
        let registered = unsafe { libc::pthread_atfork(None, None, Some(count_fork_in_child)) };
        FORKS_ARE_COUNTED.store(registered == 0, Ordering::Relaxed);
    });
    FORKS_ARE_COUNTED.load(Ordering::Relaxed)
}

/// How many forks made this process, counted since [`count_forks`]: it
/// changes in every child of fork(3) (not of a raw clone or `_Fork`, which
/// run no fork handlers).
pub fn forks() -> u64 {
    FORKS_IN_THIS_LINE.load(Ordering::Relaxed)
}
