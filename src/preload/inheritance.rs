//! Which processes get forkmon. A process keeps forkmon in `LD_PRELOAD`
//! until its first checkpoint, so the program a launcher (`sh`, `env`, a
//! luarocks wrapper) execs is watched; from that checkpoint on, the programs
//! it starts run without it (only forkmon's own entries leave).
//!
//! The first process that loads forkmon writes its pid into
//! [`FIRST_PID`]; `exec` keeps the pid, so that process and every program
//! it execs are "the process the user started", and a launcher's helpers
//! (`realpath`, a `$(...)` subshell: other pids) are not.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::OnceLock;

use crate::paths::{AbsolutePath, CAPACITY, OwnedPath};

pub const PRELOAD: &str = "LD_PRELOAD";
pub const FIRST_PID: &str = "FORKMON_FIRST_PID";
/// Set once the options' names were checked for typos (and said).
pub const OPTIONS_CHECKED: &str = "FORKMON_OPTIONS_CHECKED";

/// The `LD_PRELOAD` entries that name this library, as they were written
/// when it was loaded (a relative one may not resolve after a chdir).
static OWN_ENTRIES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();

/// Whether `LD_PRELOAD` names this library (found at `own_path`), and
/// remembers how, for [`leave`].
pub fn preloaded(own_path: &Path) -> bool {
    let Some(preload) = crate::sys::env_var(PRELOAD) else {
        return false;
    };
    let own = own_entries(&preload, own_path);
    let found = !own.is_empty();
    let _ = OWN_ENTRIES.set(own);
    found
}

/// Takes this library out of `LD_PRELOAD` (other entries stay) and forgets
/// the first pid: the programs this process starts from now on run without
/// forkmon.
///
/// # Safety
/// The process has one thread: nothing reads the environment meanwhile.
pub unsafe fn leave() {
    let own = OWN_ENTRIES.get().map_or(&[][..], Vec::as_slice);
    if let Some(preload) = crate::sys::env_var(PRELOAD) {
        let others = without(&preload, own);
        if others.is_empty() {
            // SAFETY: single-threaded, per this function's contract.
            unsafe { std::env::remove_var(PRELOAD) };
        } else if others != preload {
            // SAFETY: as above.
            unsafe { std::env::set_var(PRELOAD, others) };
        }
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var(FIRST_PID) };
}

/// Whether this process is the one the user started (or a program it
/// exec'd), as the environment tells.
pub enum FirstProcess {
    /// The first to load forkmon: it marks its pid for the others (with
    /// [`mark_first_process`]).
    Unmarked,
    /// Marked by the first process.
    Marked { first: bool },
}

impl FirstProcess {
    pub fn now() -> FirstProcess {
        match crate::sys::env_var(FIRST_PID).and_then(|v| v.to_str()?.parse::<u32>().ok()) {
            Some(first) => FirstProcess::Marked {
                first: first == std::process::id(),
            },
            None => FirstProcess::Unmarked,
        }
    }

    pub fn is_first(&self) -> bool {
        matches!(
            self,
            FirstProcess::Unmarked | FirstProcess::Marked { first: true }
        )
    }
}

/// Marks this process as the first, for the programs it starts.
///
/// # Safety
/// The process has one thread (a library constructor).
pub unsafe fn mark_first_process() {
    // SAFETY: single-threaded, per this function's contract.
    unsafe { std::env::set_var(FIRST_PID, std::process::id().to_string()) };
}

/// Whether this process is busted told to run under another Lua
/// (`busted --lua=lua5.4`; Debian's busted starts under Lua 5.1 or 5.2):
/// busted then loads its command line, runs itself again under that Lua
/// (`--ignore-lua`) and waits for it. That run is the program to watch.
pub fn runs_busted_again_under_another_lua() -> bool {
    std::fs::read("/proc/self/cmdline").is_ok_and(|line| {
        let args: Vec<&[u8]> = line.split(|&b| b == 0).collect();
        busted_switches_lua(&args)
    })
}

/// [`runs_busted_again_under_another_lua`] for the arguments `args`: a
/// script named `busted` (run by its interpreter, so among the first two)
/// given `--lua` and not `--ignore-lua`.
fn busted_switches_lua(args: &[&[u8]]) -> bool {
    let is_busted = |arg: &&[u8]| arg.rsplit(|&b| b == b'/').next() == Some(b"busted");
    let Some(script) = args.iter().take(2).position(is_busted) else {
        return false;
    };
    let options = &args[script + 1..];
    options
        .iter()
        .any(|arg| *arg == b"--lua" || arg.starts_with(b"--lua="))
        && !options.iter().any(|arg| *arg == b"--ignore-lua")
}

/// Commands, besides shells, that run another program and wait for it:
/// the program they start is the one to watch, not a helper of theirs.
/// Build tools and the interpreters of other languages count among them
/// (`cargo run`, `npm start`, a Python script that starts your Lua
/// program): a process of theirs that has read no watched file yet and
/// starts one that does is most likely a launcher. A program in C, or in
/// Lua, is not: what it starts before its first checkpoint is its helper.
const RUNNERS: &[&str] = &[
    "timeout",
    "time",
    "env",
    "nice",
    "nohup",
    "stdbuf",
    "setsid",
    "flock",
    "xargs",
    "taskset",
    "ionice",
    "chrt",
    "strace",
    "ltrace",
    "valgrind",
    "script",
    "sudo",
    "doas",
    "su",
    "runuser",
    "unshare",
    "chroot",
    "firejail",
    "bwrap",
    "watch",
    "make",
    "gmake",
    "entr",
    "rlwrap",
    "unbuffer",
    "expect",
    "gdb",
    "perf",
    "hyperfine",
    "parallel",
    "tini",
    "dumb-init",
    "catchsegv",
    "setpriv",
    "prlimit",
    "systemd-run",
    "forkmon",
    "tmux",
    "screen",
    "cargo",
    "go",
    "zig",
    "ninja",
    "meson",
    "cmake",
    "bazel",
    "just",
    "task",
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "bun",
    "deno",
    "node",
    "nodejs",
    "ruby",
    "perl",
    "php",
    "java",
    "dotnet",
    "bundle",
    "rake",
    "poetry",
    "uv",
    "pipenv",
    "watchexec",
    "reflex",
    "coreutils",
    "tclsh",
    "rr",
    "lldb",
    "dbus-run-session",
    "systemd-inhibit",
    "bmake",
    "nodemon",
];

/// Executable names that start with these are runners too (`python3.11`).
const RUNNER_PREFIXES: &[&str] = &["python", "pypy"];

/// This process, started after the process the user started (`first`)
/// and about to make the first checkpoint: if it was started by a program
/// (not through shells and commands like `timeout` alone), or is a tool
/// (`grep`, `cat`: [`TOOLS`]), it is a helper, named with its starter ("cat (pid 12), which app (pid
/// 10) started before it made a checkpoint"). An ancestor that cannot be
/// looked at counts as a launcher.
pub fn started_by_a_program(first: u32) -> Option<String> {
    let me = std::process::id();
    if me == first {
        return None;
    }
    let own = || executable_name(me as i32).unwrap_or_else(|| "a process".to_owned());
    let parent = crate::sys::procfs::parent_of(me as i32)?;
    // `$(cat VERSION)` in a launcher, `io.popen`: what the starter reads
    // the output of is its helper, whatever the starter is.
    if reads_my_output(parent) {
        let name = executable_name(parent).unwrap_or_else(|| "its starter".to_owned());
        return Some(format!(
            "{} (pid {me}), whose output {name} (pid {parent}) reads",
            own()
        ));
    }
    if let Some((name, pid)) = program_above(parent, first) {
        return Some(format!(
            "{} (pid {me}), which {name} (pid {pid}) started before its own first checkpoint",
            own()
        ));
    }
    // Started through launchers alone: `grep -q 1 VERSION`, `cat VERSION |
    // tr`, `cp` in a launcher, a tool it runs on its files and waits for,
    // under the command's default filter, which matches such files too (a
    // filter the user gave says what is the program's: `-f '%.awk$'`).
    crate::sys::env_var(crate::config::DEFAULT_FILTER)?;
    let tool = tool_name(me as i32)?;
    let starter = executable_name(parent).unwrap_or_else(|| "its starter".to_owned());
    Some(format!(
        "{tool} (pid {me}), a tool {starter} (pid {parent}) ran"
    ))
}

/// The first process from `parent` up to the process the user started
/// (`first`) that is no launcher, with its executable's name. An ancestor
/// that cannot be looked at counts as a launcher.
fn program_above(parent: i32, first: u32) -> Option<(String, i32)> {
    let mut pid = parent;
    // A bound, in case /proc changes under the walk.
    for _ in 0..64 {
        if pid <= 1 {
            return None;
        }
        let name = executable_name(pid)?;
        if !is_launcher(pid, &name) {
            return Some((name, pid));
        }
        if pid as u32 == first {
            return None;
        }
        pid = crate::sys::procfs::parent_of(pid)?;
    }
    None
}

/// The name of the tool `pid` runs, if it is one of [`TOOLS`], by its
/// executable or its process name (busybox and coreutils' multicall binary
/// run all of them from one executable).
fn tool_name(pid: i32) -> Option<String> {
    let is_tool = |name: &str| TOOLS.contains(&name);
    if let Some(name) = executable_name(pid).filter(|name| is_tool(name)) {
        return Some(name);
    }
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let comm = comm.trim_end_matches('\n');
    is_tool(comm).then(|| comm.to_owned())
}

/// Tools that read files for a launcher (a test, a copy, a checksum, a
/// version): started by a launcher, they are not the program to watch,
/// whose holder would wait for a change and the launcher for it, forever.
/// The process the user started still is (`forkmon awk -f report.awk`).
#[rustfmt::skip]
const TOOLS: &[&str] = &[
    "grep", "egrep", "fgrep", "rg", "cat", "tac", "head", "tail", "cut", "paste",
    "tr", "wc", "sort", "uniq", "comm", "join", "fold", "nl", "md5sum", "sha1sum", "sha224sum",
    "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "cmp", "diff", "patch", "stat",
    "file", "od", "xxd", "hexdump", "base64", "strings", "cp", "mv", "ln", "install", "rsync",
    "touch", "dd", "tee", "tar", "gzip", "zcat", "xz", "zip", "unzip", "ls", "find", "du", "jq",
    "git", "sed", "awk", "gawk", "mawk", "nawk",
];

/// Whether this process's standard output is a pipe that `parent` holds
/// too: `parent` reads what it writes (a command substitution, `popen`).
/// A shell closes its copies of a pipeline's pipes, so `app | tee log`
/// in a launcher is not taken for that.
fn reads_my_output(parent: i32) -> bool {
    let Ok(output) = std::fs::read_link("/proc/self/fd/1") else {
        return false;
    };
    if !output.as_os_str().as_encoded_bytes().starts_with(b"pipe:") {
        return false;
    }
    // Both ends of a pipe have one inode: the parent must hold the end that
    // reads (a launcher whose own output goes into the same pipe, `| tee`,
    // holds the writing end).
    let parent = nix::unistd::Pid::from_raw(parent);
    crate::sys::procfs::descriptors(parent)
        .into_iter()
        .any(|(fd, target)| target == output && crate::sys::procfs::descriptor_reads(parent, fd))
}

fn executable_name(pid: i32) -> Option<String> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(exe.file_name()?.to_string_lossy().into_owned())
}

/// Whether `pid`, running the executable `name`, starts the program to
/// watch rather than being it: a shell, a runner, or busted switching to
/// another Lua.
fn is_launcher(pid: i32, name: &str) -> bool {
    is_launcher_name(name)
        || std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|line| {
            let args: Vec<&[u8]> = line.split(|&b| b == 0).collect();
            busted_switches_lua(&args)
        })
}

/// Whether the executable `name` is a shell or a runner.
fn is_launcher_name(name: &str) -> bool {
    SHELLS.contains(&name)
        || RUNNERS.contains(&name)
        || RUNNER_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// Shells, by the name of their executable: a shell that runs a script
/// (not `sh -c`) reads it with the same opens as a Lua host reads its own.
const SHELLS: [&str; 9] = [
    "sh", "dash", "bash", "zsh", "ksh", "mksh", "ash", "busybox", "fish",
];

/// The script this process runs, if it is a shell the kernel started for a
/// `#!` script (a launcher), as an absolute path.
pub fn launcher_script() -> Option<OwnedPath> {
    let script = crate::sys::exec_file_name()?;
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_str()?;
    if !SHELLS.contains(&name) || script == exe.as_os_str().as_bytes() {
        return None;
    }
    let mut buffer = [0u8; CAPACITY];
    let base: &[u8] = if script.starts_with(b"/") {
        b"/"
    } else {
        crate::sys::current_dir(&mut buffer)?
    };
    AbsolutePath::resolve(base, script).map(|path| path.to_owned_path())
}

fn entries(preload: &OsStr) -> impl Iterator<Item = &[u8]> {
    preload
        .as_bytes()
        .split(|&b| b == b':' || b == b' ')
        .filter(|e| !e.is_empty())
}

/// The entries of `LD_PRELOAD` (separated by ':' or ' ') that name the
/// library at `own_path`: the same path or file, or, for a bare name the
/// loader looked up in its search path, the same file name.
fn own_entries(preload: &OsStr, own_path: &Path) -> Vec<Vec<u8>> {
    let own = std::fs::metadata(own_path).ok();
    let is_own = |entry: &[u8]| {
        if !entry.contains(&b'/') {
            return own_path.file_name().map(OsStr::as_bytes) == Some(entry);
        }
        let entry = Path::new(OsStr::from_bytes(entry));
        entry == own_path
            || match (&own, std::fs::metadata(entry)) {
                (Some(own), Ok(other)) => own.dev() == other.dev() && own.ino() == other.ino(),
                _ => false,
            }
    };
    entries(preload)
        .filter(|entry| is_own(entry))
        .map(<[u8]>::to_vec)
        .collect()
}

/// `preload` without the entries `own`, joined again with ':'.
fn without(preload: &OsStr, own: &[Vec<u8>]) -> OsString {
    let others: Vec<&[u8]> = entries(preload)
        .filter(|entry| !own.iter().any(|o| o == entry))
        .collect();
    OsString::from_vec(others.join(&b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_library_leaves_ld_preload() {
        let own = Path::new("/opt/forkmon/forkmon.so");
        let preload = OsStr::new("/usr/lib/a.so /opt/forkmon/forkmon.so:/usr/lib/b.so");
        let mine = own_entries(preload, own);
        assert_eq!(mine, [b"/opt/forkmon/forkmon.so".to_vec()]);
        assert_eq!(
            without(preload, &mine),
            OsString::from("/usr/lib/a.so:/usr/lib/b.so")
        );
        let other = OsStr::new("/usr/lib/a.so");
        assert!(own_entries(other, own).is_empty());
        assert_eq!(without(other, &[]), OsString::from("/usr/lib/a.so"));
    }

    #[test]
    fn busted_given_another_lua_is_told_from_the_run_it_starts() {
        let switches = |args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            busted_switches_lua(&args)
        };
        assert!(switches(&[
            "lua",
            "/usr/bin/busted",
            "--lua=lua5.4",
            "spec"
        ]));
        assert!(switches(&[
            "lua5.1",
            "/usr/bin/busted",
            "-o",
            "TAP",
            "--lua",
            "lua5.4"
        ]));
        // The run it starts, and busted without --lua.
        assert!(!switches(&[
            "lua5.4",
            "/usr/bin/busted",
            "--ignore-lua",
            "--lua=lua5.4"
        ]));
        assert!(!switches(&["lua", "/usr/bin/busted", "spec"]));
        // Another script, or --lua given to the program busted runs.
        assert!(!switches(&["lua5.4", "app.lua", "--lua=lua5.4"]));
        assert!(!switches(&["lua5.4", "-e", "x", "busted", "--lua=lua5.4"]));
    }

    #[test]
    fn shells_runners_and_other_languages_launch_and_programs_do_not() {
        for name in [
            "dash",
            "bash",
            "timeout",
            "env",
            "make",
            "cargo",
            "npm",
            "python3.11",
        ] {
            assert!(is_launcher_name(name), "{name}");
        }
        for name in ["lua5.4", "luajit", "cat", "host", "my-game", "tcc", "nelua"] {
            assert!(!is_launcher_name(name), "{name}");
        }
    }

    #[test]
    fn a_bare_name_found_through_the_search_path_is_this_library() {
        let own = Path::new("/opt/forkmon/forkmon.so");
        let preload = OsStr::new("libother.so forkmon.so");
        let mine = own_entries(preload, own);
        assert_eq!(mine, [b"forkmon.so".to_vec()]);
        assert_eq!(without(preload, &mine), OsString::from("libother.so"));
        assert!(own_entries(OsStr::new("libforkmon.so"), own).is_empty());
    }
}
