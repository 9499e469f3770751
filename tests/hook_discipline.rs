//! Hook discipline (issue 8.5), inside this process: the hooks allocate
//! nothing, touch no lock and keep `errno` for a path that is not watched.
//!
//! The library's hooks (`open`, `fopen`, ... exported under libc's names)
//! are linked into this test executable, so its own libc calls go through
//! them, exactly as in a program with forkmon preloaded: the test checks
//! that first. It then switches forkmon on with a filter (the engine itself
//! is never started here, so no checkpoint can fork the test) and:
//!
//! - counts the Rust allocations made on the calling thread while it opens
//!   unwatched files in every way (relative, absolute, `..`, openat, fopen,
//!   kernel files, missing files, writes): zero. A filter whose pattern
//!   runs out of budget makes the gate allocate (its warning): the counter
//!   sees that, so it would see an allocation in the hooks too;
//! - puts hardware watchpoints (perf_event_open, on this thread) on every
//!   byte of the engine's lock (`forkmon::engine::ENGINE`, found in the
//!   executable's symbol table) while it opens unwatched files: not one
//!   access. Opening a watched path does touch it: the watchpoints work.
//!
//! The C allocations of the real library under LD_PRELOAD are counted in
//! `tests/hook_programs.rs`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use forkmon::config;

// --- counting allocator ------------------------------------------------------

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: forwards every call to the system allocator unchanged; the
// counting touches only const-initialised thread-locals without
// destructors (no allocation, no re-entry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: the caller's layout, as GlobalAlloc requires.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Rust allocations made by this thread while `work` runs.
fn allocations(work: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    work();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

// --- set-up ------------------------------------------------------------------

/// Watched: `.lua` files; the second pattern backtracks catastrophically on
/// a long run of 'a's (and nowhere else here), which makes the gate say so.
const FILTER: &str = "%.lua$;a-a-a-a-a-a-a-a-#";

struct Files {
    dir: PathBuf,
}

/// Forkmon on (options published, the engine not started) and a directory
/// of files, once for all tests of this executable.
fn setup() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        assert_hooks_are_linked();
        let dir = std::env::temp_dir().join(format!("forkmon-hooks-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).expect("scratch dir");
        for name in ["a.txt", "sub/b.txt", "watched.lua"] {
            std::fs::write(dir.join(name), name).expect("write file");
        }
        let long = dir.join(format!("{}.txt", "a".repeat(200)));
        std::fs::write(long, "long").expect("write file");
        let env = |var: &str| (var == config::FILTER).then(|| FILTER.into());
        let options = config::load(&env, false, None).expect("valid options");
        config::publish(options);
        Files { dir }
    })
}

/// This executable's `open` and `fopen` are the library's hooks, not libc's.
fn assert_hooks_are_linked() {
    // SAFETY: dlopen with RTLD_NOLOAD only looks up the loaded libc.
    let libc = unsafe { libc::dlopen(c"libc.so.6".as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    assert!(!libc.is_null(), "libc.so.6 is loaded");
    for (name, ours) in [
        (c"open", libc::open as *const () as usize),
        (c"openat", libc::openat as *const () as usize),
        (c"fopen", libc::fopen as *const () as usize),
    ] {
        // SAFETY: a valid handle and a NUL-terminated name.
        let theirs = unsafe { libc::dlsym(libc, name.as_ptr()) } as usize;
        assert_ne!(
            ours, theirs,
            "{name:?} in this test executable is libc's: the hooks were not linked in"
        );
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL")
}

/// Opens (and closes) unwatched files in every way the hooks see, checking
/// each result and that `errno` is left as it was on success. Allocates
/// nothing itself: every path is made before.
struct Unwatched {
    absolute: CString,
    relative: CString,
    dotted: CString,
    in_sub: CString,
    dir: CString,
    missing: CString,
    written: CString,
    kernel: CString,
}

impl Unwatched {
    fn new(files: &Files) -> Unwatched {
        let dir = &files.dir;
        let name = dir.file_name().expect("dir name").as_bytes().to_vec();
        let mut dotted = b"../".to_vec();
        dotted.extend_from_slice(&name);
        dotted.extend_from_slice(b"/sub/../a.txt");
        let relative_to_cwd = |path: &Path| {
            // The test's current directory is the crate's: a relative path
            // from it, through '..', to the scratch file.
            let cwd = std::env::current_dir().expect("cwd");
            let ups = cwd.components().count() - 1;
            let mut relative = "../".repeat(ups).into_bytes();
            relative.extend_from_slice(&path.as_os_str().as_bytes()[1..]);
            CString::new(relative).expect("no NUL")
        };
        Unwatched {
            absolute: c_path(&dir.join("a.txt")),
            relative: relative_to_cwd(&dir.join("sub/b.txt")),
            dotted: CString::new(dotted).expect("no NUL"),
            in_sub: CString::new("b.txt").expect("no NUL"),
            dir: c_path(dir),
            missing: c_path(&dir.join("missing.txt")),
            written: c_path(&dir.join("written.txt")),
            kernel: CString::new("/proc/self/status").expect("no NUL"),
        }
    }

    fn open_all(&self, rounds: usize) {
        for _ in 0..rounds {
            set_errno(4242);
            for path in [&self.absolute, &self.relative, &self.kernel] {
                close(unsafe_open(path, libc::O_RDONLY));
            }
            // SAFETY: a NUL-terminated path.
            let dir = unsafe { libc::open(self.dir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            assert!(dir >= 0);
            // SAFETY: a directory descriptor and NUL-terminated paths.
            close(unsafe { libc::openat(dir, self.dotted.as_ptr(), libc::O_RDONLY) });
            let sub = c"sub";
            // SAFETY: as above.
            let sub =
                unsafe { libc::openat(dir, sub.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
            assert!(sub >= 0);
            // SAFETY: as above.
            close(unsafe { libc::openat(sub, self.in_sub.as_ptr(), libc::O_RDONLY) });
            // SAFETY: as above.
            close(unsafe {
                libc::openat64(libc::AT_FDCWD, self.absolute.as_ptr(), libc::O_RDONLY)
            });
            close(sub);
            close(dir);
            // SAFETY: NUL-terminated path and mode.
            let file = unsafe { libc::fopen(self.absolute.as_ptr(), c"r".as_ptr()) };
            assert!(!file.is_null());
            // SAFETY: a stream from fopen, closed once.
            unsafe { libc::fclose(file) };
            // SAFETY: NUL-terminated path.
            close(unsafe { libc::open64(self.relative.as_ptr(), libc::O_RDONLY) });
            let written = unsafe_open(
                &self.written,
                libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            );
            close(written);
            assert_eq!(errno(), 4242, "a successful open changed errno");
            // SAFETY: NUL-terminated path.
            let missing = unsafe { libc::open(self.missing.as_ptr(), libc::O_RDONLY) };
            assert_eq!((missing, errno()), (-1, libc::ENOENT));
        }
    }
}

fn unsafe_open(path: &CStr, flags: i32) -> i32 {
    // SAFETY: a NUL-terminated path; the mode is read only with O_CREAT.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o644) };
    assert!(
        fd >= 0,
        "open {path:?}: {}",
        std::io::Error::last_os_error()
    );
    fd
}

fn close(fd: i32) {
    assert!(fd >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: a descriptor this test opened and closes once.
    unsafe { libc::close(fd) };
}

fn errno() -> i32 {
    nix::errno::Errno::last_raw()
}

fn set_errno(value: i32) {
    nix::errno::Errno::set_raw(value)
}

// --- allocations ---------------------------------------------------------------

#[test]
fn unwatched_opens_allocate_nothing() {
    let files = setup();
    let unwatched = Unwatched::new(files);
    let made = allocations(|| unwatched.open_all(200));
    assert_eq!(made, 0, "the hooks allocated for unwatched paths");
}

#[test]
fn a_fresh_thread_allocates_nothing_in_its_first_hooked_open() {
    // The hooks' thread-local re-entry flag must not allocate when a thread
    // first touches it.
    let files = setup();
    let unwatched = Unwatched::new(files);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let made = allocations(|| unwatched.open_all(1));
                assert_eq!(made, 0, "first open on a new thread allocated");
            })
            .join()
            .expect("thread");
    });
}

#[test]
fn the_allocation_counter_sees_the_gate_allocate() {
    // The one allocation the gate makes for an unwatched path: its warning
    // (said once per process) when a pattern runs out of budget.
    let files = setup();
    let long = c_path(&files.dir.join(format!("{}.txt", "a".repeat(200))));
    let made = allocations(|| close(unsafe_open(&long, libc::O_RDONLY)));
    assert!(made > 0, "the budget warning allocates, and is counted");
    // Said once. What is left is the filter's error value (it holds the
    // pattern as a String), built on every open of such a path: one
    // allocation, and only with a pattern that runs out of budget.
    let again = allocations(|| close(unsafe_open(&long, libc::O_RDONLY)));
    assert!(again <= 1, "{again} allocations the second time");
}

// --- the engine lock -----------------------------------------------------------

/// Where `forkmon::engine::ENGINE` is in this process, and its size, from
/// the executable's symbol table (`nm`) and its load address.
fn engine_lock() -> (usize, usize) {
    let exe = std::env::current_exe().expect("test executable");
    let listing = std::process::Command::new("nm")
        .args(["-S", "--defined-only"])
        .arg(&exe)
        .output()
        .expect("run nm (binutils)");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let symbol = |needle: &str| {
        let found: Vec<(usize, usize)> = listing
            .lines()
            .filter(|line| line.ends_with('E') && line.contains(needle))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let address = usize::from_str_radix(fields.next()?, 16).ok()?;
                let size = usize::from_str_radix(fields.next()?, 16).ok()?;
                Some((address, size))
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one symbol {needle} in {}: update this test if the engine's lock moved",
            exe.display()
        );
        found[0]
    };
    // The load address: where a known function is, less its symbol value.
    let known = forkmon::config::active as *const () as usize;
    let (known_symbol, _) = symbol("7forkmon6config6active17h");
    let base = known - known_symbol;
    let (engine, size) = symbol("7forkmon6engine6ENGINE17h");
    (base + engine, size)
}

/// Hardware watchpoints, for this thread, on up to four 8-byte words.
struct Watchpoints(Vec<i32>);

impl Watchpoints {
    fn new(words: impl Iterator<Item = usize>) -> Watchpoints {
        let mut fds = Vec::new();
        for address in words {
            // SAFETY: an all-zero perf_event_attr is valid; fields set below.
            let mut attr: PerfEventAttr = unsafe { std::mem::zeroed() };
            attr.kind = PERF_TYPE_BREAKPOINT;
            attr.size = size_of::<PerfEventAttr>() as u32;
            attr.flags = EXCLUDE_KERNEL | EXCLUDE_HV;
            attr.bp_type = HW_BREAKPOINT_RW;
            attr.bp_addr = address as u64;
            attr.bp_len = 8;
            // SAFETY: a valid attr; pid 0 and cpu -1: this thread, any CPU.
            let fd =
                unsafe { libc::syscall(libc::SYS_perf_event_open, &attr, 0, -1, -1, 0) } as i32;
            assert!(
                fd >= 0,
                "perf_event_open (a hardware watchpoint): {}; this test needs \
                 perf events (kernel.perf_event_paranoid <= 2 or root)",
                std::io::Error::last_os_error()
            );
            fds.push(fd);
        }
        Watchpoints(fds)
    }

    /// Accesses counted so far, per word.
    fn counts(&self) -> Vec<u64> {
        self.0
            .iter()
            .map(|&fd| {
                let mut count = 0u64;
                // SAFETY: reads 8 bytes into `count` from a perf event fd.
                let n = unsafe { libc::read(fd, (&raw mut count).cast(), 8) };
                assert_eq!(n, 8, "read a perf counter");
                count
            })
            .collect()
    }
}

impl Drop for Watchpoints {
    fn drop(&mut self) {
        for &fd in &self.0 {
            // SAFETY: a descriptor this struct opened.
            unsafe { libc::close(fd) };
        }
    }
}

/// `struct perf_event_attr` up to `bp_len` (PERF_ATTR_SIZE_VER1 is 72).
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    bp_addr: u64,
    bp_len: u64,
}

const PERF_TYPE_BREAKPOINT: u32 = 5;
const HW_BREAKPOINT_RW: u32 = 3;
const EXCLUDE_KERNEL: u64 = 1 << 5;
const EXCLUDE_HV: u64 = 1 << 6;

/// Accesses to the engine lock, word by word, while `work` runs (run once
/// per group of four words: the CPU has four watchpoints).
fn engine_accesses(work: impl Fn()) -> u64 {
    // One test at a time: the CPU's four watchpoints are shared by the
    // test threads (two at once failed with ENOSPC).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (start, size) = engine_lock();
    let first = start & !7;
    let words: Vec<usize> = (first..start + size).step_by(8).collect();
    let mut total = 0;
    for group in words.chunks(4) {
        let watch = Watchpoints::new(group.iter().copied());
        work();
        total += watch.counts().iter().sum::<u64>();
    }
    total
}

#[test]
fn unwatched_opens_do_not_touch_the_engine_lock() {
    let files = setup();
    let unwatched = Unwatched::new(files);
    // Resolve each libc symbol once before counting.
    unwatched.open_all(1);
    let accesses = engine_accesses(|| unwatched.open_all(20));
    assert_eq!(accesses, 0, "unwatched opens touched the engine's lock");
}

#[test]
fn the_watchpoints_see_a_watched_open_take_the_engine_lock() {
    // The engine is not started here: a watched open only tries the lock
    // and finds no engine, so nothing forks.
    let files = setup();
    let watched = c_path(&files.dir.join("watched.lua"));
    let accesses = engine_accesses(|| close(unsafe_open(&watched, libc::O_RDONLY)));
    assert!(accesses > 0, "a watched open reaches the engine's lock");
}
