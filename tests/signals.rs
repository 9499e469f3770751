//! The program's own signals under forkmon (the tests' host program,
//! tests/programs/host.c, does each case's steps).

use forkmon_test_support as common;

use common::{Launch, Save, Scratch, host_program, save};
use nix::sys::signal::Signal;

#[test]
fn the_host_program_reads_a_file_and_reads_it_again_after_an_edit() {
    let dir = Scratch::new("host-smoke");
    let file = dir.write("a.txt", "a=1\n");
    let session = Launch::preloaded(host_program(), "%.txt$")
        .arg("read")
        .arg(&file)
        .arg("print")
        .arg("ready")
        .arg("wait")
        .start();
    session.wait_for("ready");
    save(&file, "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
}

/// Waits until `path` exists (the program wrote it).
fn wait_for_file(path: &std::path::Path, session: &common::Session) -> String {
    let start = std::time::Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            start.elapsed() < common::DEADLINE,
            "waited for {}; output:\n{}",
            path.display(),
            session.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `host STEPS...` under forkmon, watching `*.txt`.
fn host(steps: &[&std::ffi::OsStr]) -> Launch {
    steps.iter().fold(
        Launch::preloaded(host_program(), "%.txt$"),
        |launch, step| launch.arg(step),
    )
}

macro_rules! steps {
    ($($step:expr),* $(,)?) => { host(&[$(std::ffi::OsStr::new(&$step)),*]) };
}

#[test]
fn ctrl_c_runs_the_programs_handler_to_its_end_and_the_tree_ends_with_its_status() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Scratch::new("ctrl-c-handler");
    let (a, b) = (dir.write("a.txt", "a=1\n"), dir.write("b.txt", "b=1\n"));
    let saved = dir.path("saved");
    let mut session = steps!(
        "on", "INT", "save", saved, "3", "read", a, "read", b, "print", "ready", "wait"
    )
    .start();
    session.wait_for("ready");
    session.interrupt();
    let status = session.wait_exit();
    assert_eq!(status.code(), Some(3), "{status:?}\n{}", session.output());
    assert_eq!(wait_for_file(&saved, &session), "saved\n");
    // Only the program's lines: a [forkmon] line may come in between.
    let output = session.program_output();
    assert!(output.contains("saving...\nsaved\n"), "{output}");
    assert_eq!(status.signal(), None);
    session.assert_all_gone();
}

#[test]
fn sigterm_to_the_root_reaches_the_program_whose_handler_reaps_its_own_child() {
    let dir = Scratch::new("sigterm-handler");
    let (a, b) = (dir.write("a.txt", "a=1\n"), dir.write("b.txt", "b=1\n"));
    let saved = dir.path("saved");
    let mut session = steps!(
        "read", a, "read", b, "spawn", "on", "TERM", "save", saved, "4", "print", "ready", "wait"
    )
    .start();
    session.wait_for("ready");
    session.signal_root(Signal::SIGTERM);
    let status = session.wait_exit();
    assert_eq!(status.code(), Some(4), "{status:?}\n{}", session.output());
    assert_eq!(wait_for_file(&saved, &session), "saved\n");
    // The program's own child was reaped by its handler: nothing is left.
    session.assert_all_gone();
}

#[test]
fn a_program_ended_by_ctrl_c_ends_the_tree_by_the_same_signal() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Scratch::new("ctrl-c-default");
    let a = dir.write("a.txt", "a=1\n");
    let mut session = steps!("read", a, "print", "ready", "wait").start();
    session.wait_for("ready");
    session.interrupt();
    let status = session.wait_exit();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    session.assert_all_gone();
}

#[test]
fn a_program_that_ignores_ctrl_c_runs_on_and_a_second_ctrl_c_ends_the_tree() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Scratch::new("ctrl-c-ignored");
    let a = dir.write("a.txt", "a=1\n");
    let mut session = steps!(
        "ignore", "INT", "read", a, "print", "ready", "input", "input"
    )
    .start();
    session.wait_for("ready");
    session.interrupt();
    // Two Ctrl+C the root has not taken yet would make one pending signal.
    wait_signal_taken(&session, session.pid(), libc::SIGINT);
    session.type_text("still here\n");
    session.wait_for("got still here");
    session.interrupt();
    let status = session.wait_exit();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    session.assert_all_gone();
}

#[test]
fn a_program_under_nohup_runs_on_after_the_terminal_is_closed() {
    let dir = Scratch::new("nohup");
    let a = dir.write("a.txt", "a=1\n");
    let after = dir.path("after");
    let mut session = steps!(
        "ignore", "HUP", "read", a, "print", "ready", "input", "sleep", "100", "write", after,
        "ran on"
    )
    .start();
    session.wait_for("ready");
    let root = session.pid();
    session.hang_up();
    assert_eq!(wait_for_file(&after, &session), "ran on\n");
    // Its holders wait on for a change, as nohup asked.
    let processes = session.processes();
    assert!(
        processes.iter().any(|p| p.pid == root && p.state != 'Z'),
        "{processes:#?}"
    );
}

/// Waits until the terminal's last Ctrl+C was sent (it echoes `^C` once
/// it has signalled the group) and `pid` has taken it: no `signal` is
/// pending there.
fn wait_signal_taken(session: &common::Session, pid: i32, signal: i32) {
    session.wait_for_count("^C", session.count("^C").max(1));
    let bit = 1u64 << (signal - 1);
    let start = std::time::Instant::now();
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let pending = status
            .lines()
            .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
            .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
            .fold(0, |all, set| all | set);
        if pending & bit == 0 {
            return;
        }
        assert!(
            start.elapsed() < common::DEADLINE,
            "signal {signal} stays pending in {pid}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn ctrl_z_gives_the_shell_back_and_fg_continues_the_program_whose_edits_resume() {
    let dir = Scratch::new("ctrl-z");
    let a = dir.write("a.txt", "a=1\n");
    let mut session = Launch::plain("bash")
        .arg("--norc")
        .arg("--noprofile")
        .arg("-i")
        .env("PS1", "prompt> ")
        .dir(&dir.0)
        .start();
    session.wait_for("prompt> ");
    session.type_text(&format!(
        "LD_PRELOAD='{}' FORKMON_FILTER='%.txt$' '{}' read a.txt input\n",
        common::library().display(),
        host_program().display()
    ));
    session.wait_for("a=1");
    session.wait_for_processes("the watcher", |processes| {
        common::watcher_count(processes) == 1
    });
    session.type_text("\x1a");
    session.wait_for("Stopped");
    session.wait_for_count("prompt> ", 2);
    // The watcher stops with the job: an edit while it is stopped is not
    // said over the shell's prompt, and resumes once the job goes on.
    session.wait_for_processes("the watcher to stop with the job", |processes| {
        processes
            .iter()
            .any(|p| p.name == "forkmon-watch" && p.state == 'T')
    });
    save(&a, "a=2\n", Save::RenameOver);
    session.type_text("fg\n");
    session.wait_for("a=2");
    session.type_text("typed\n");
    session.wait_for("got typed");
    session.wait_for("waiting for a change");
    session.interrupt();
    session.wait_for_count("prompt> ", 3);
    session.type_text("exit\n");
    session.assert_all_gone();
}

/// The pid in the NT_PRPSINFO note of an ELF core file (x86-64 layout).
fn core_pid(core: &[u8]) -> Option<i32> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(core.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(core.get(at..at + 4)?.try_into().ok()?));
    let u64_at =
        |at: usize| Some(u64::from_le_bytes(core.get(at..at + 8)?.try_into().ok()?) as usize);
    let (headers, size, count) = (u64_at(0x20)?, usize::from(u16_at(0x36)?), u16_at(0x38)?);
    for n in 0..usize::from(count) {
        let header = headers + n * size;
        if u32_at(header)? != 4 {
            continue; // not PT_NOTE
        }
        let (mut at, end) = (
            u64_at(header + 8)?,
            u64_at(header + 8)? + u64_at(header + 32)?,
        );
        while at + 12 <= end {
            let (name, desc, kind) = (
                u32_at(at)? as usize,
                u32_at(at + 4)? as usize,
                u32_at(at + 8)?,
            );
            let desc_at = at + 12 + name.div_ceil(4) * 4;
            if kind == 3 {
                // struct elf_prpsinfo: 4 chars, an 8-byte flag, uid, gid, pid.
                return Some(u32_at(desc_at + 24)? as i32);
            }
            at = desc_at + desc.div_ceil(4) * 4;
        }
    }
    None
}

#[test]
fn ctrl_backslash_dumps_the_programs_core_only() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Scratch::new("ctrl-backslash");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let command = format!(
        "'{}' read a.txt read b.txt print ready wait",
        host_program().display()
    );
    let mut session = Launch::wrapped(&[], "ulimit -c unlimited", &command, "%.txt$")
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    // The watcher has its name by then (the chain passes it over).
    session.wait_for_count("[forkmon] watch", 2);
    let chain = common::chain(&session.processes(), session.pid());
    let program = *chain.last().expect("the program");
    assert_eq!(chain.len(), 3, "{:#?}", session.processes());
    session.type_text("\x1c");
    let status = session.wait_exit();
    assert_eq!(status.signal(), Some(libc::SIGQUIT), "{status:?}");
    assert!(!status.core_dumped(), "the first holder dumped core");
    session.assert_all_gone();
    // One core file name for all (core_pattern "core"): the last process
    // to dump would have overwritten the program's.
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.trim() != "core" {
        eprintln!("core_pattern is {pattern:?}, not \"core\": the core file is not looked at");
        return;
    }
    let core = std::fs::read(dir.path("core")).expect("the program's core");
    assert_eq!(core_pid(&core), Some(program));
}

/// Starts `sleep` with pid `pid` (free now), through ns_last_pid: a few
/// tries, as other processes of the machine may take it first.
fn stranger_with_pid(pid: i32) -> Option<std::process::Child> {
    for _ in 0..100 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let mut stranger = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .expect("start sleep");
        if stranger.id() as i32 == pid {
            return Some(stranger);
        }
        let _ = stranger.kill();
        let _ = stranger.wait();
    }
    None
}

#[test]
fn a_killed_holders_pid_taken_by_a_stranger_is_not_signalled_and_the_checkpoint_before_resumes() {
    let dir = Scratch::new("pid-reuse");
    let (a, b) = (dir.write("a.txt", "a=1\n"), dir.write("b.txt", "b=1\n"));
    let session = steps!("read", a, "read", b, "print", "ready", "wait").start();
    session.wait_for("ready");
    session.wait_for(&format!("watch '{}'", b.display()));
    let chain = common::chain(&session.processes(), session.pid());
    assert_eq!(chain.len(), 3, "{:#?}", session.processes());
    let holder_of_b = chain[1];
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(holder_of_b), Signal::SIGKILL)
        .expect("kill the holder of b.txt");
    session.wait_for("program ended by SIGKILL; waiting for a change");
    let Some(mut stranger) = stranger_with_pid(holder_of_b) else {
        panic!("could not start a process with pid {holder_of_b}");
    };
    save(&b, "b=2\n", Save::InPlace);
    session.wait_for("is gone; resuming from the one before it");
    session.wait_for("b=2");
    assert_eq!(session.count("a=1"), 2, "{}", session.output());
    let alive = stranger.try_wait().expect("look at the stranger").is_none();
    let _ = stranger.kill();
    let _ = stranger.wait();
    assert!(
        alive,
        "the stranger with the holder's old pid was signalled"
    );
}

#[test]
fn a_line_to_a_closed_stderr_pipe_does_not_end_the_program_by_sigpipe() {
    let (reader, writer) = nix::unistd::pipe().expect("pipe");
    drop(reader);
    let output = std::process::Command::new(host_program())
        .args(["print", "done", "exit", "0"])
        .env("LD_PRELOAD", common::library())
        .env("FORKMON_MIN_WORK", "soon")
        .stderr(std::process::Stdio::from(writer))
        .output()
        .expect("run the host program");
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
}

#[test]
fn a_program_ended_by_a_real_time_signal_is_said_so_and_resumes() {
    let dir = Scratch::new("realtime-end");
    let a = dir.write("a.txt", "a=1\n");
    let session = steps!("read", a, "print", "ready", "wait").start();
    session.wait_for("ready");
    // The watcher has its name by then (the chain passes it over).
    session.wait_for("[forkmon] watch");
    let chain = common::chain(&session.processes(), session.pid());
    let program = *chain.last().expect("the program");
    assert_eq!(chain.len(), 2, "{:#?}", session.processes());
    let sent = std::process::Command::new("kill")
        .args(["-s", "RTMIN+2", &program.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    session.wait_for(&format!(
        "program ended by signal {} (SIGRTMIN+2); waiting for a change",
        libc::SIGRTMIN() + 2
    ));
    save(&a, "a=2\n", Save::InPlace);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
}

#[test]
fn a_ctrl_c_pending_in_the_program_at_a_checkpoint_reaches_the_resumed_side() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Scratch::new("ctrl-c-pending");
    let (a, b) = (dir.write("a.txt", "a=1\n"), dir.write("b.txt", "b=1\n"));
    let mut session = steps!(
        "read", a, "block", "INT", "print", "blocked", "input", "read", b, "unblock", "INT",
        "print", "survived", "wait"
    )
    .start();
    session.wait_for("blocked");
    session.interrupt();
    // Pending in the program (it blocks SIGINT) when it makes b.txt's
    // checkpoint: the process that keeps it becomes the holder, and the
    // program, its child, must still get it when it unblocks SIGINT.
    wait_signal_taken(&session, session.pid(), libc::SIGINT);
    session.type_text("go\n");
    let status = session.wait_exit();
    // Pending in the program from its first instruction after the fork:
    // it dies by it when it unblocks SIGINT, before a word more.
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert!(
        !session.output().contains("survived"),
        "{}",
        session.output()
    );
    session.assert_all_gone();
}

#[test]
fn a_sigterm_pending_at_a_checkpoint_runs_the_programs_handler_as_alone() {
    // `kill -TERM <pid>` while the program blocks SIGTERM: alone, its
    // handler runs when it unblocks it, and it exits with 9.
    let dir = Scratch::new("term-pending");
    let (a, b) = (dir.write("a.txt", "a=1\n"), dir.write("b.txt", "b=1\n"));
    let mut session = steps!(
        "read", a, "mark", "TERM", "block", "TERM", "print", "blocked", "input", "read", b,
        "unblock", "TERM", "marked", "9", "exit", "0"
    )
    .start();
    session.wait_for("blocked");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(session.pid()), Signal::SIGTERM)
        .expect("kill");
    // Passed on by the holder of a.txt to the program, where it waits.
    let bit = 1u64 << (libc::SIGTERM - 1);
    let start = std::time::Instant::now();
    while !session.live().iter().any(|process| {
        std::fs::read_to_string(format!("/proc/{}/status", process.pid))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
            .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
            .any(|set| set & bit != 0)
    }) {
        assert!(start.elapsed() < common::DEADLINE, "SIGTERM never pending");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    session.type_text("go\n");
    let status = session.wait_exit();
    assert_eq!(status.code(), Some(9), "{status:?}\n{}", session.output());
    session.assert_all_gone();
}

#[test]
fn a_signal_blocked_and_pending_at_a_checkpoint_is_pending_in_each_run_from_it() {
    // A fork's child has no pending signals: each run from the checkpoint
    // must have what the program had pending there.
    let dir = Scratch::new("pending-usr1");
    let a = dir.write("a.txt", "a=1\n");
    let mut session = steps!(
        "mark", "USR1", "block", "USR1", "raise", "USR1", "read", a, "unblock", "USR1", "marked",
        "7", "print", "lost", "wait"
    )
    .start();
    session.wait_for("program exited with status 7");
    save(&dir.path("a.txt"), "a=2\n", Save::InPlace);
    session.wait_for("a=2");
    session.wait_for_count("program exited with status 7", 2);
    let output = session.output();
    assert!(!output.contains("lost"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_ctrl_c_the_program_took_just_before_a_checkpoint_still_ends_the_tree() {
    let dir = Scratch::new("ctrl-c-before-checkpoint");
    let (a, b) = (dir.write("a.txt", "a=1\n"), dir.write("b.txt", "b=1\n"));
    // The program's handler notes Ctrl+C, and the program exits for it
    // only after b.txt's checkpoint, whose holder never had the signal.
    let mut session = steps!(
        "read", a, "mark", "INT", "print", "ready", "wait", "input", "read", b, "marked", "6",
        "wait"
    )
    .start();
    session.wait_for("ready");
    session.interrupt();
    wait_signal_taken(&session, session.pid(), libc::SIGINT);
    session.type_text("go\n");
    let status = session.wait_exit();
    assert_eq!(status.code(), Some(6), "{status:?}\n{}", session.output());
    session.assert_all_gone();
}

/// Lists data/, then waits; Ctrl+C makes its handler rename a file there
/// (a change of the listing, as a program that saves its state on the way
/// out makes) and end 100 ms later.
const SAVES_ON_CTRL_C: &str = r#"
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void on_int(int signal) {
    (void)signal;
    rename("data/state.tmp", "data/state.saved");
    usleep(100000);
    _exit(130);
}

int main(void) {
    DIR *dir = opendir("data");
    while (dir && readdir(dir)) {}
    if (dir) closedir(dir);
    signal(SIGINT, on_int);
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
}
"#;

#[test]
fn ctrl_c_ends_the_tree_though_the_programs_handler_changes_a_watched_folder() {
    let dir = Scratch::new("ctrl-c-change");
    let program = dir.compile_c("saver", SAVES_ON_CTRL_C);
    dir.write("data/state.tmp", "{}");
    let folder = dir.0.display().to_string().replace('-', "%-");
    let mut session = Launch::preloaded(&program, &format!("^{folder}/data/"))
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    // The rename's resume order comes while the program is ending by the
    // Ctrl+C: the program's end is the tree's.
    session.interrupt();
    let status = session.wait_exit();
    assert_eq!(status.code(), Some(130), "{status:?}\n{}", session.output());
    assert_eq!(session.count("ready"), 1, "{}", session.output());
    session.assert_all_gone();
}

/// `kill -HUP` asks a server to reload: the program takes it and goes on,
/// as alone. (The second was taken for a second Ctrl+C and ended the tree;
/// the first left it ending at the program's next exit.)
#[test]
fn a_sighup_sent_to_reload_reaches_the_program_and_ends_nothing() {
    let dir = Scratch::new("hup-reload");
    let a = dir.write("a.txt", "a=1\n");
    let mut session = steps!(
        "reload", "HUP", "read", a, "print", "ready", "input", "exit", "0"
    )
    .start();
    session.wait_for("ready");
    // From another process, as `kill -HUP` in another terminal (the
    // test, which started the program, is its shell).
    let reload = |session: &common::Session| {
        let status = std::process::Command::new("kill")
            .args(["-HUP", &session.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    };
    for n in 1..=2 {
        reload(&session);
        session.wait_for_count("reloaded", n);
    }
    session.type_text("go\n");
    session.wait_for("program exited with status 0; waiting for a change");
    save(&a, "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    // From its parent too, as a supervisor's reload (the terminal is there).
    session.signal_root(Signal::SIGHUP);
    session.wait_for_count("reloaded", 3);
    session.type_text("go\n");
    session.wait_for_count("program exited with status 0; waiting for a change", 2);
    session.interrupt();
    session.assert_all_gone();
}

/// `timeout` sends SIGTERM to the program's pid, then to its process
/// group: the first holder gets both, which are one request, not a second
/// that ends the tree while the program's handler still runs.
#[test]
fn sigterm_to_the_pid_and_then_to_the_group_lets_the_handler_finish() {
    for round in 0..3 {
        let dir = Scratch::new("term-twice");
        let a = dir.write("a.txt", "a=1\n");
        let saved = dir.path("saved");
        let mut session = steps!(
            "on", "TERM", "save", saved, "0", "read", a, "print", "ready", "wait"
        )
        .start();
        session.wait_for("ready");
        let root = nix::unistd::Pid::from_raw(session.pid());
        let group = nix::unistd::getpgid(Some(root)).expect("group");
        nix::sys::signal::kill(root, Signal::SIGTERM).expect("pid");
        // On a busy machine, the first holder has taken the first by then.
        std::thread::sleep(std::time::Duration::from_millis(5));
        nix::sys::signal::killpg(group, Signal::SIGTERM).expect("group");
        let status = session.wait_exit();
        let output = session.output();
        assert_eq!(
            status.code(),
            Some(0),
            "round {round}: {status:?}\n{output}"
        );
        assert_eq!(wait_for_file(&saved, &session), "saved\n", "{output}");
        session.assert_all_gone();
    }
}

/// Alone, the program leads its job's process group, where `setsid` fails
/// and `setpgid(0, 0)` changes nothing; a run is the first holder's child,
/// where both took it out of the terminal's foreground group (Ctrl+C no
/// longer reached it; reading the terminal stopped it).
#[test]
fn a_run_tries_to_leave_its_group_as_the_leader_it_would_be_alone() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Scratch::new("setsid");
    let a = dir.write("a.txt", "a=1\n");
    let steps = ["setsid", "setpgid", "print", "ready", "input"];
    let mut alone = Launch::plain(host_program()).args(steps).start();
    alone.wait_for("ready");
    alone.interrupt();
    alone.wait_exit();
    let alone = alone.program_output();
    let mut session = steps!("read", a, "setsid", "setpgid", "print", "ready", "input").start();
    session.wait_for("ready");
    let output = session.program_output();
    // The terminal's session is the program's own here, so setpgid fails
    // too.
    let calls = "setsid: Operation not permitted\nsetpgid: Operation not permitted\n";
    assert!(alone.contains(calls), "{alone}");
    assert!(output.contains(calls), "{output}");
    session.type_text("typed\n");
    session.wait_for("got typed");
    session.interrupt();
    let status = session.wait_exit();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    session.assert_all_gone();
}

/// The holders below one killed with `kill -9` end with it: a save of a
/// file read after it resumes from the checkpoint above them, in one line
/// and one resume number (each dead holder had a line and a number).
#[test]
fn a_save_below_a_killed_holder_resumes_from_the_one_above_in_one_line() {
    let dir = Scratch::new("dead-holders");
    let (a, b, c) = (
        dir.write("a.txt", "a=1\n"),
        dir.write("b.txt", "b=1\n"),
        dir.write("c.txt", "c=1\n"),
    );
    let mut session = steps!("read", a, "read", b, "read", c, "print", "ready", "wait").start();
    session.wait_for("ready");
    session.wait_for(&format!("watch '{}'", c.display()));
    let chain = common::chain(&session.processes(), session.pid());
    assert_eq!(chain.len(), 4, "{:#?}", session.processes());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(chain[1]), Signal::SIGKILL)
        .expect("kill the holder of b.txt");
    session.wait_for("program ended by SIGKILL; waiting for a change");
    save(&c, "c=2\n", Save::InPlace);
    session.wait_for("c=2");
    let output = session.output();
    assert_eq!(
        session.count("is gone; resuming from the one before it"),
        1,
        "{output}"
    );
    assert_eq!(session.count("changed, resuming from"), 1, "{output}");
    assert!(output.contains("(resume #1,"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_signal_sent_to_the_programs_pid_reaches_its_run() {
    // A pidfile written before the first checkpoint names the first
    // holder: `kill -USR1 $(cat app.pid)` (a log rotation) went nowhere.
    let dir = Scratch::new("signals-to-the-pid");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut session = Launch::preloaded(host_program(), "%.txt$")
        .args([
            "whosent", "USR1", "read", "a.txt", "read", "b.txt", "print", "ready",
        ])
        .args(["untilmarked", "sender", "marked", "7"])
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    session.signal_root(Signal::SIGUSR1);
    session.wait_for("[forkmon] program exited with status 7; waiting for a change");
    // In its sender's name, through two holders: an answer to `si_pid`
    // goes to the sender, not to a holder.
    assert!(
        session
            .output()
            .contains(&format!("sent by {}\n", std::process::id())),
        "{}",
        session.output()
    );
    // One the program dies of ends the tree, as it would end alone.
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for_count("ready", 2);
    session.signal_root(Signal::SIGUSR2);
    let status = session.wait_exit();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGUSR2),
        "{}",
        session.output()
    );
    session.assert_all_gone();
}

#[test]
fn a_run_sees_the_parent_the_program_has_alone() {
    // Below a checkpoint the run's parent is a holder: a program that
    // checks getppid() to see its parent go took the holder for it.
    let dir = Scratch::new("signals-ppid");
    dir.write("a.txt", "a=1\n");
    let mut session = Launch::preloaded(host_program(), "%.txt$")
        .args([
            "ppid", "read", "a.txt", "ppid", "rawfork", "print", "ready", "wait",
        ])
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    let parent = format!("parent {}\n", std::process::id());
    assert_eq!(
        session.program_output(),
        // A child made without fork handlers has the run for its parent.
        format!("{parent}a=1\n{parent}raw child's parent is me\nready\n"),
        "{}",
        session.output()
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_program_whose_parent_dies_gets_its_parent_death_signal_and_nothing_is_left() {
    // prctl(PR_SET_PDEATHSIG) before the first checkpoint is the first
    // holder's: its starter's death came to the holder, the program never
    // had it, and the tree waited for a change with nobody left to see it.
    // The starter is an inner shell (killing the terminal's session leader
    // would hang the terminal up as well).
    let dir = Scratch::new("signals-pdeathsig");
    dir.write("a.txt", "a=1\n");
    dir.write(
        "inner.sh",
        "\"$1\" ppid pdeathsig USR1 mark USR1 read a.txt print ready wait marked 9\nsleep 600\n",
    );
    let mut session = Launch::preloaded("sh", "%.txt$")
        .arg("-c")
        .arg("sh inner.sh \"$0\"; sleep 600")
        .arg(host_program())
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    let output = session.output();
    let starter: i32 = output
        .lines()
        .find_map(|line| line.strip_prefix("parent "))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("the starter's pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(starter), Signal::SIGKILL)
        .expect("kill the starter");
    // The program's tree ends by itself; only the outer shell is left.
    session.wait_for_processes("the program's tree to end", |processes| {
        processes
            .iter()
            .all(|p| p.name == "sh" || p.name == "sleep" || p.state == 'Z')
    });
    let output = session.output();
    assert!(!output.contains("waiting for a change"), "{output}");
    session.signal_root(Signal::SIGKILL);
    session.wait_exit();
    session.assert_all_gone();
}

#[test]
fn a_signal_to_the_whole_group_reaches_the_run_once_directly_and_once_through_the_first_holder() {
    // Each holder passed its own copy down as well: with three holders a
    // real-time signal (queued, never merged) came four times.
    let dir = Scratch::new("signals-group");
    for name in ["a", "b", "c"] {
        dir.write(&format!("{name}.txt"), &format!("{name}=1\n"));
    }
    let mut session = Launch::preloaded(host_program(), "%.txt$")
        .args([
            "count", "RTMIN+1", "mark", "RTMIN+2", "read", "a.txt", "read", "b.txt",
        ])
        .args([
            "read",
            "c.txt",
            "print",
            "ready",
            "untilmarked",
            "counted",
            "wait",
        ])
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    // SAFETY: plain system call on integers (the session's group).
    let sent = unsafe { libc::kill(-session.pid(), libc::SIGRTMIN() + 1) };
    assert_eq!(sent, 0);
    // A barrier: a higher real-time signal to the pid comes down the same
    // way, after it (the lower number is taken first at each step).
    // SAFETY: as above.
    let sent = unsafe { libc::kill(session.pid(), libc::SIGRTMIN() + 2) };
    assert_eq!(sent, 0);
    session.wait_for("counted ");
    assert!(
        session.output().contains("counted 2\n"),
        "{}",
        session.output()
    );
    session.interrupt();
    session.assert_all_gone();
}
