//! Runs real programs under forkmon in a pseudo-terminal of their own (so
//! Ctrl+C, hang-up and stdin behave as in a shell), edits files the way
//! editors do, and finds every process of the tree through /proc.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Generous: a loaded 2-core machine may be slow, and a deadline only bounds
/// a failing test.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// The library under test, as `cargo test` built it for this run: beside
/// the test executable in target/<profile>/deps (cargo only copies it up to
/// target/<profile> on `cargo build`).
pub fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let lib = exe
        .parent()
        .expect("target/<profile>/deps")
        .join("libforkmon.so");
    assert!(
        lib.exists(),
        "{} is missing: run the tests with cargo test",
        lib.display()
    );
    lib
}

/// A `LUA_CPATH` that finds the library under test as `forkmon.so` (the
/// name Lua's require looks for), in a directory of its own.
pub fn module_path() -> String {
    let dir = library().parent().expect("deps dir").join("lua-module");
    let module = dir.join("forkmon.so");
    fs::create_dir_all(&dir).expect("module dir");
    // A symbolic link, so that it is the very file cargo test built.
    if fs::read_link(&module).ok() != Some(library()) {
        let _ = fs::remove_file(&module);
        let _ = std::os::unix::fs::symlink(library(), &module);
    }
    format!("{}/?.so", dir.display())
}

/// A fresh directory under /tmp, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("forkmon-test-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent");
        }
        fs::write(&path, content).expect("write file");
        path
    }

    /// Compiles the test program `tests/programs/<name>.c`.
    pub fn compile_program(&self, name: &str) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../programs")
            .join(format!("{name}.c"));
        let text = fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("read {}: {e}", source.display()));
        self.compile_c(name, &text)
    }

    /// Compiles a C program from `source` with the system compiler.
    pub fn compile_c(&self, name: &str, source: &str) -> PathBuf {
        let src = self.write(&format!("{name}.c"), source);
        let exe = self.path(name);
        let status = Command::new("cc")
            .args(["-O1", "-pthread", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("run cc");
        assert!(status.success(), "cc failed on {name}.c");
        exe
    }
}

/// The tests' host program (tests/programs/host.c: steps given on its
/// command line, one case a line), compiled once per version of its source
/// and shared by every test binary: beside the library under test, named by
/// a hash of the source, compiled under a temporary name and renamed into
/// place so that test binaries running at once never see half a file.
pub fn host_program() -> PathBuf {
    use std::hash::{Hash, Hasher};
    static HOST: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        const SOURCE: &str = include_str!("../../programs/host.c");
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        SOURCE.hash(&mut hasher);
        let dir = library().parent().expect("deps dir").join("programs");
        fs::create_dir_all(&dir).expect("programs dir");
        let exe = dir.join(format!("host-{:016x}", hasher.finish()));
        if !exe.exists() {
            let scratch = Scratch::new("host-program");
            let built = scratch.compile_c("host", SOURCE);
            let temporary = dir.join(format!("host.{}.tmp", std::process::id()));
            fs::copy(&built, &temporary).expect("copy the host program");
            fs::rename(&temporary, &exe).expect("put the host program in place");
        }
        exe
    })
    .clone()
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The ways editors save a file.
#[derive(Clone, Copy, Debug)]
pub enum Save {
    /// `>` in a shell, most simple editors: open with O_TRUNC, write, close.
    InPlace,
    /// Truncate through one open handle, then write through another.
    TruncateThenWrite,
    /// Write a temporary file and rename it over (emacs, IDEs, atomic saves).
    RenameOver,
    /// vim's default: rename the original to a backup, write a new file,
    /// delete the backup.
    VimBackup,
    /// Delete, then create anew.
    DeleteRecreate,
}

pub const ALL_SAVES: [Save; 5] = [
    Save::InPlace,
    Save::TruncateThenWrite,
    Save::RenameOver,
    Save::VimBackup,
    Save::DeleteRecreate,
];

pub fn save(path: &Path, content: &str, how: Save) {
    let sibling = |suffix: &str| {
        let mut name = path.file_name().expect("file name").to_os_string();
        name.push(suffix);
        path.with_file_name(name)
    };
    match how {
        Save::InPlace => {
            let mut file = File::create(path).expect("open for writing");
            file.write_all(content.as_bytes()).expect("write");
        }
        Save::TruncateThenWrite => {
            OpenOptions::new()
                .write(true)
                .open(path)
                .expect("open")
                .set_len(0)
                .expect("truncate");
            let mut file = OpenOptions::new()
                .write(true)
                .open(path)
                .expect("open again");
            file.write_all(content.as_bytes()).expect("write");
        }
        Save::RenameOver => {
            let temporary = sibling(".tmp~");
            let mut file = File::create(&temporary).expect("create temporary");
            file.write_all(content.as_bytes()).expect("write");
            file.sync_all().expect("sync");
            drop(file);
            fs::rename(&temporary, path).expect("rename over");
        }
        Save::VimBackup => {
            let backup = sibling("~");
            fs::rename(path, &backup).expect("rename to backup");
            let mut file = File::create(path).expect("create new");
            file.write_all(content.as_bytes()).expect("write");
            file.sync_all().expect("sync");
            drop(file);
            fs::remove_file(&backup).expect("remove backup");
        }
        Save::DeleteRecreate => {
            fs::remove_file(path).expect("delete");
            let mut file = File::create(path).expect("re-create");
            file.write_all(content.as_bytes()).expect("write");
        }
    }
}

/// One line of /proc about a process of the tree under test.
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub state: char,
    pub name: String,
    /// When it started, in clock ticks since boot.
    pub started: u64,
}

/// A program started under forkmon in its own terminal.
pub struct Session {
    child: Child,
    terminal: Option<OwnedFd>,
    hung_up: Arc<AtomicBool>,
    output: Arc<(Mutex<Vec<u8>>, Condvar)>,
    /// Set by the reader once the terminal has no writer left.
    closed: Arc<AtomicBool>,
    marker: String,
    reaped: bool,
}

pub struct Launch {
    command: Command,
    marker: String,
}

impl Launch {
    /// `program args...` with forkmon preloaded and `filter`.
    pub fn preloaded(program: impl AsRef<OsStr>, filter: &str) -> Launch {
        let mut launch = Launch::plain(program);
        launch
            .command
            .env("LD_PRELOAD", library())
            .env("FORKMON_FILTER", filter);
        launch
    }

    /// `program` without forkmon options (for tests that set them).
    pub fn plain(program: impl AsRef<OsStr>) -> Launch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let marker = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut command = Command::new(program);
        command
            .env_remove("LD_PRELOAD")
            .env_remove("FORKMON_FILTER")
            .env_remove("FORKMON_QUIET")
            .env_remove("FORKMON_RESTART_DELAY")
            .env_remove("FORKMON_IGNORE_DELAY")
            .env_remove("FORKMON_RESTART_TICKS")
            .env("NO_COLOR", "1")
            // One checkpoint per file, whatever the machine's speed: the
            // tests of the default (5 ms) say so.
            .env("FORKMON_MIN_WORK", "0")
            .env("FORKMON_TEST_MARKER", &marker);
        Launch { command, marker }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.command.arg(arg);
        self
    }

    pub fn args<A: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = A>) -> Launch {
        for arg in args {
            self = self.arg(arg);
        }
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Launch {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Launch {
        self.command.env_remove(key);
        self
    }

    pub fn dir(mut self, dir: &Path) -> Launch {
        self.command.current_dir(dir);
        self
    }

    pub fn start(mut self) -> Session {
        let (master, slave) = open_terminal();
        self.command
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave));
        // SAFETY: between fork and exec the child only makes three system
        // calls, which are async-signal-safe.
        unsafe {
            self.command.pre_exec(|| {
                // The program starts with 0, 1 and 2 only, as from a shell:
                // a descriptor the harness inherited (a build lock held by
                // flock) would shift every number a test counts on.
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                nix::unistd::setsid()?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = self.command.spawn().expect("spawn program");
        let output = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let mut reader = File::from(master.try_clone().expect("dup master"));
        let sink = Arc::clone(&output);
        let hung_up = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&hung_up);
        let closed = Arc::new(AtomicBool::new(false));
        let reader_closed = Arc::clone(&closed);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                // Wakes up now and then so that a hang-up closes this copy
                // of the terminal too.
                let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, PollTimeout::from(50u8));
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if fds[0].revents().is_none_or(|r| r.is_empty()) {
                    continue;
                }
                // Ends with EIO once every holder of the terminal is gone.
                let Ok(n) = reader.read(&mut buffer) else {
                    break;
                };
                if n == 0 {
                    break;
                }
                let (lock, changed) = &*sink;
                lock.lock()
                    .expect("output lock")
                    .extend_from_slice(&buffer[..n]);
                changed.notify_all();
            }
            reader_closed.store(true, Ordering::Release);
            let (lock, changed) = &*sink;
            let _guard = lock.lock().expect("output lock");
            changed.notify_all();
        });
        Session {
            child,
            terminal: Some(master),
            hung_up,
            output,
            closed,
            marker: self.marker,
            reaped: false,
        }
    }
}

impl Session {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything the terminal showed so far, without carriage returns.
    pub fn output(&self) -> String {
        let bytes = self.output.0.lock().expect("output lock").clone();
        String::from_utf8_lossy(&bytes).replace('\r', "")
    }

    /// What the program itself printed: the output without forkmon's lines.
    pub fn program_output(&self) -> String {
        self.output()
            .lines()
            .filter(|l| !l.starts_with("[forkmon]"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    pub fn count(&self, needle: &str) -> usize {
        self.output().matches(needle).count()
    }

    /// Waits until `needle` was printed at least `times` times.
    pub fn wait_for_count(&self, needle: &str, times: usize) {
        let (lock, changed) = &*self.output;
        let start = Instant::now();
        let mut bytes = lock.lock().expect("output lock");
        loop {
            let text = String::from_utf8_lossy(&bytes).replace('\r', "");
            if text.matches(needle).count() >= times {
                return;
            }
            let left = DEADLINE.saturating_sub(start.elapsed());
            assert!(
                !left.is_zero(),
                "waited {DEADLINE:?} for {times}x {needle:?}; output:\n{text}"
            );
            bytes = changed.wait_timeout(bytes, left).expect("output lock").0;
        }
    }

    pub fn wait_for(&self, needle: &str) {
        self.wait_for_count(needle, 1)
    }

    /// Whether the terminal echoes what is typed (its modes are the
    /// program's side's: a pseudo-terminal's master answers for it).
    pub fn terminal_echoes(&self) -> bool {
        let fd = self.terminal.as_ref().expect("terminal open");
        nix::sys::termios::tcgetattr(fd)
            .expect("terminal modes")
            .local_flags
            .contains(nix::sys::termios::LocalFlags::ECHO)
    }

    /// Sets the terminal's echo, as another program of the job would.
    pub fn set_terminal_echo(&self, on: bool) {
        let fd = self.terminal.as_ref().expect("terminal open");
        let mut modes = nix::sys::termios::tcgetattr(fd).expect("terminal modes");
        modes
            .local_flags
            .set(nix::sys::termios::LocalFlags::ECHO, on);
        nix::sys::termios::tcsetattr(fd, nix::sys::termios::SetArg::TCSANOW, &modes)
            .expect("set terminal modes");
    }

    /// Types into the terminal.
    pub fn type_text(&self, text: &str) {
        let fd = self.terminal.as_ref().expect("terminal open");
        nix::unistd::write(fd, text.as_bytes()).expect("write to terminal");
    }

    /// Ctrl+C at the terminal.
    pub fn interrupt(&self) {
        self.type_text("\x03");
    }

    /// Closes the terminal, as closing its window does.
    pub fn hang_up(&mut self) {
        self.terminal = None;
        self.hung_up.store(true, Ordering::Relaxed);
    }

    pub fn signal_root(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid()), signal).expect("signal the program");
    }

    /// Every process of the tree (forks keep the marker in their original
    /// environment block), zombies included.
    pub fn processes(&self) -> Vec<Process> {
        let needle = format!("FORKMON_TEST_MARKER={}", self.marker);
        let mut found = Vec::new();
        let Ok(entries) = fs::read_dir("/proc") else {
            return found;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(environ) = fs::read(format!("/proc/{pid}/environ")) else {
                continue;
            };
            if !environ
                .split(|&b| b == 0)
                .any(|var| var == needle.as_bytes())
            {
                continue;
            }
            if let Some(process) = stat(pid) {
                found.push(process);
            }
        }
        found
    }

    /// Processes still running (not zombies).
    pub fn live(&self) -> Vec<Process> {
        self.processes()
            .into_iter()
            .filter(|p| p.state != 'Z')
            .collect()
    }

    /// Waits until `ready` holds for the processes of the tree.
    pub fn wait_for_processes(
        &self,
        what: &str,
        ready: impl Fn(&[Process]) -> bool,
    ) -> Vec<Process> {
        let start = Instant::now();
        loop {
            let processes = self.processes();
            if ready(&processes) {
                return processes;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "waited {DEADLINE:?} for {what}; processes: {processes:#?}\noutput:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the whole tree to end: nothing runs, and no zombie is left
    /// unreaped by a live parent. (This machine's PID 1 does not reap, so a
    /// zombie re-parented to it is the machine's, not the tree's.)
    pub fn assert_all_gone(&mut self) {
        let start = Instant::now();
        while !self.reaped {
            if self
                .child
                .try_wait()
                .expect("wait for the program")
                .is_some()
            {
                self.reaped = true;
            } else {
                assert!(
                    start.elapsed() < DEADLINE,
                    "the program did not end:\n{}",
                    self.output()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.wait_for_processes("every process of the tree to end", |processes| {
            processes
                .iter()
                .all(|p| p.state == 'Z' && !is_alive(p.ppid))
        });
    }

    /// The exit status of the root, once it and every other process
    /// holding the terminal ended and all their output was read.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                self.reaped = true;
                self.wait_output_end(start);
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "the program did not end:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Session {
    fn wait_output_end(&self, start: Instant) {
        let (lock, changed) = &*self.output;
        let mut bytes = lock.lock().expect("output lock");
        while !self.closed.load(Ordering::Acquire) {
            let left = DEADLINE.saturating_sub(start.elapsed());
            assert!(
                !left.is_zero(),
                "the terminal stayed open:\n{}",
                String::from_utf8_lossy(&bytes)
            );
            bytes = changed.wait_timeout(bytes, left).expect("output lock").0;
        }
    }
}

/// A new pseudo-terminal: master and slave, both close-on-exec from the
/// start, so that no other program the tests start holds this terminal open.
fn open_terminal() -> (OwnedFd, File) {
    use nix::fcntl::OFlag;
    use std::os::fd::{FromRawFd, IntoRawFd};
    use std::os::unix::fs::OpenOptionsExt;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .expect("posix_openpt");
    nix::pty::grantpt(&master).expect("grantpt");
    nix::pty::unlockpt(&master).expect("unlockpt");
    let name = nix::pty::ptsname_r(&master).expect("ptsname");
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(name)
        .expect("open the terminal");
    // SAFETY: the descriptor was just released by PtyMaster and is owned
    // by nothing else.
    (unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) }, slave)
}

fn is_alive(pid: i32) -> bool {
    pid > 1 && stat(pid).is_some_and(|p| p.state != 'Z')
}

fn stat(pid: i32) -> Option<Process> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 2..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    // Field 22 of stat(5), the 20th after the name.
    let started = rest.nth(17)?.parse().ok()?;
    Some(Process {
        pid,
        ppid,
        state,
        name,
        started,
    })
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed test must not leave its tree behind either.
        for process in self.processes() {
            let _ = kill(Pid::from_raw(process.pid), Signal::SIGKILL);
        }
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The holders of the tree in checkpoint order: the root, then each
/// holder's one child that is not the watcher or its standby, down to the
/// running program. A standby just forked does not bear its name yet, but
/// it is younger than the run it stands by for: the oldest child is taken.
pub fn chain(processes: &[Process], root: i32) -> Vec<i32> {
    let live: Vec<&Process> = processes.iter().filter(|p| p.state != 'Z').collect();
    let mut chain = vec![root];
    let mut seen = HashSet::new();
    while let Some(&last) = chain.last() {
        let next = live
            .iter()
            .filter(|p| {
                p.ppid == last
                    && p.name != "forkmon-watch"
                    && p.name != STANDBY
                    && !seen.contains(&p.pid)
            })
            .min_by_key(|p| (p.started, p.pid));
        match next {
            Some(p) => {
                seen.insert(p.pid);
                chain.push(p.pid);
            }
            None => break,
        }
    }
    chain
}

/// The process name of a holder's parked standby.
pub const STANDBY: &str = "forkmon-standby";

/// How many of `processes` are forkmon's watcher.
pub fn watcher_count(processes: &[Process]) -> usize {
    processes
        .iter()
        .filter(|p| p.name == "forkmon-watch")
        .count()
}

/// Whether forkmon's watcher watches the file contents of directory `dir`
/// (its inotify watch of that inode reports IN_MODIFY), as
/// `/proc/PID/fdinfo` shows the watches of each inotify descriptor.
pub fn contents_watched(session: &Session, dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(inode) = fs::metadata(dir).map(|m| m.ino()) else {
        return false;
    };
    let in_modify = 0x2;
    session
        .live()
        .iter()
        .filter(|p| p.name == "forkmon-watch")
        .any(|watcher| {
            let Ok(entries) = fs::read_dir(format!("/proc/{}/fdinfo", watcher.pid)) else {
                return false;
            };
            entries.flatten().any(|entry| {
                fs::read_to_string(entry.path()).is_ok_and(|info| {
                    info.lines().any(|line| {
                        let field = |name: &str| {
                            line.split_whitespace()
                                .find_map(|f| f.strip_prefix(name))
                                .and_then(|v| u64::from_str_radix(v, 16).ok())
                        };
                        line.starts_with("inotify wd:")
                            && field("ino:") == Some(inode)
                            && field("mask:").is_some_and(|mask| mask & in_modify != 0)
                    })
                })
            })
        })
}

/// Number of inotify descriptors a process holds.
pub fn inotify_fds(pid: i32) -> usize {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy() == "anon_inode:inotify")
        })
        .count()
}

/// A Lua app: `main.lua` prints "startup", requires each module in turn and
/// prints "done <resume count>". Module `name` prints "<name>=<value>".
pub struct LuaApp {
    pub dir: Scratch,
}

impl LuaApp {
    pub fn new(test: &str, modules: &[&str], main_tail: &str) -> LuaApp {
        let dir = Scratch::new(test);
        let requires: String = modules
            .iter()
            .map(|m| format!("require \"{m}\"\n"))
            .collect();
        dir.write(
            "main.lua",
            &format!(
                "print(\"startup\")\n{requires}{main_tail}\nprint(\"done \" .. (os.getenv(\"FORKMON_RESTART_TICKS\") or \"first\"))\n"
            ),
        );
        for module in modules {
            dir.write(
                &format!("{module}.lua"),
                &format!("print(\"{module}=1\")\n"),
            );
        }
        LuaApp { dir }
    }

    pub fn module(&self, name: &str) -> PathBuf {
        self.dir.path(&format!("{name}.lua"))
    }

    /// Runs `lua5.4 -l forkmon main.lua` in the app's directory: the Lua
    /// module way in, with no forkmon options (the module's default filter).
    pub fn launch_module(&self) -> Launch {
        Launch::plain("lua5.4")
            .env("LUA_CPATH", module_path())
            .arg("-l")
            .arg("forkmon")
            .arg("main.lua")
            .dir(&self.dir.0)
    }

    /// Runs `lua5.4 main.lua` in the app's directory with forkmon preloaded
    /// (modules are found through package.path's "./?.lua": relative opens).
    pub fn launch(&self) -> Launch {
        Launch::preloaded("lua5.4", "%.lua$")
            .arg("main.lua")
            .dir(&self.dir.0)
    }
}

impl Launch {
    /// `wrapper... bash -c '<setup> && LD_PRELOAD=<library> exec <command>'`
    /// with `filter`: forkmon is preloaded into `command` only, after the
    /// shell ran `setup` (lowering a limit, say). The wrapper (unshare,
    /// setpriv) and the shell do not get it: only the `exec` does (and
    /// forkmon would follow them through exec).
    pub fn wrapped(wrapper: &[&str], setup: &str, command: &str, filter: &str) -> Launch {
        let script = format!(
            "{setup} && LD_PRELOAD='{}' exec {command}",
            library().display()
        );
        let (program, args) = match wrapper.split_first() {
            Some((program, args)) => (*program, args),
            None => ("bash", &[][..]),
        };
        let mut launch = Launch::plain(program).env("FORKMON_FILTER", filter);
        for arg in args {
            launch = launch.arg(arg);
        }
        if !wrapper.is_empty() {
            launch = launch.arg("bash");
        }
        launch.arg("-c").arg(script)
    }
}

/// The `[forkmon]` lines of an output.
pub fn forkmon_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| l.starts_with("[forkmon]"))
        .collect()
}

/// A C program whose message comes from a project header: `main.c` and
/// `greeting.h` (saying "hello 1") in `dir`, for the `tcc -run` cases.
pub fn write_greeting_project(dir: &Path) {
    fs::create_dir_all(dir).expect("project dir");
    fs::write(
        dir.join("main.c"),
        "#include <stdio.h>\n#include \"greeting.h\"\nint main(void) { printf(\"%s\\n\", GREETING); return 0; }\n",
    )
    .expect("write main.c");
    fs::write(dir.join("greeting.h"), "#define GREETING \"hello 1\"\n").expect("write greeting.h");
}

/// Saves the project's header as "hello 2", waits for the recompiled
/// program to say it, and checks that the run resumed from the header's own
/// checkpoint; returns the output.
pub fn resume_from_a_new_greeting(session: &Session, dir: &Path) -> String {
    session.wait_for("hello 1");
    session.wait_for("waiting for a change");
    let header = dir.join("greeting.h");
    save(&header, "#define GREETING \"hello 2\"\n", Save::RenameOver);
    session.wait_for("hello 2");
    let output = session.output();
    assert!(
        output.contains(&format!("'{}' changed, resuming from it", header.display())),
        "{output}"
    );
    output
}
