//! A holder's standby (a copy of the checkpoint forked ahead of time,
//! released by a resume) keeps the program's view: its resume count and
//! FORKMON_RESTART_TICKS are the new resume's, it reads stdin, it never runs
//! ahead of the file it waits to read, every save style gives one resume,
//! and Ctrl+C ends it with the rest of the tree.

use forkmon_test_support as common;

use common::{ALL_SAVES, Launch, Process, STANDBY, Save, Scratch, module_path, save};

/// A program that prints a line after its checkpoint, before reading the
/// watched `b.lua` (so a standby running ahead would print it), then what
/// it sees of itself after the resume, then asks for a name on stdin.
const MAIN: &str = r#"io.stdout:setvbuf("line")
local forkmon = require "forkmon"
print("main begins")
local b = require "b"
local pid = io.open("/proc/self/stat"):read("n")
local name = io.open("/proc/self/comm"):read("l")
print(string.format("run ticks=%s resumes=%d pid=%d name=%s b=%s",
  os.getenv("FORKMON_RESTART_TICKS") or "none", forkmon.resumes(), pid, name, b))
print("name?")
print("hello " .. io.read("l"))
"#;

fn module(value: &str) -> String {
    format!("print(\"reading b={value}\")\nreturn \"{value}\"\n")
}

/// The parked standby of the checkpoint of `b.lua`, whose holder is the
/// root.
fn parked_standby(processes: &[Process], root: i32) -> Option<i32> {
    processes
        .iter()
        .find(|p| p.ppid == root && p.state != 'Z' && p.name == STANDBY)
        .map(|p| p.pid)
}

#[test]
fn a_resume_by_the_standby_keeps_the_programs_view_and_stdin() {
    let dir = Scratch::new("standby-view");
    dir.write("main.lua", MAIN);
    dir.write("b.lua", &module("0"));
    // The Lua way in: the first checkpoint, at b.lua, is the root's.
    let mut session = Launch::plain("lua5.4")
        .env("LUA_CPATH", module_path())
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("run ticks=none resumes=0 pid=");
    session.wait_for("name?");
    session.type_text("ada\n");
    session.wait_for("hello ada");
    let root = session.pid();

    // Every save style, and a last save as a barrier: a second resume of
    // an earlier save would have printed before it.
    let mut saves: Vec<(Save, String)> = ALL_SAVES
        .iter()
        .map(|how| (*how, format!("{how:?}")))
        .collect();
    saves.push((Save::RenameOver, "last".to_owned()));
    for (n, (how, value)) in saves.iter().enumerate() {
        let number = n + 1;
        session.wait_for_count("program exited with status 0", number);
        // The old run is gone and the standby is parked: it was forked
        // before this save, and printed nothing of what follows its
        // checkpoint.
        let processes = session.wait_for_processes("the standby to be parked", |processes| {
            parked_standby(processes, root).is_some()
        });
        let standby = parked_standby(&processes, root).expect("standby");
        let output = session.output();
        assert_eq!(
            session.count("reading b="),
            number,
            "a standby ran ahead of the file it waits for:\n{output}"
        );

        save(&dir.path("b.lua"), &module(value), *how);
        // The standby is the new run: its own pid, and the new resume's
        // number in the environment and in the Lua API.
        session.wait_for(&format!(
            "run ticks={number} resumes={number} pid={standby} name=lua5.4 b={value}"
        ));
        session.wait_for_count("name?", number + 1);
        let name = format!("name{number}");
        session.type_text(&format!("{name}\n"));
        session.wait_for(&format!("hello {name}"));
    }
    session.wait_for_count("program exited with status 0", saves.len() + 1);

    let output = session.output();
    assert_eq!(
        session.count("changed, resuming"),
        saves.len(),
        "one resume per save:\n{output}"
    );
    assert_eq!(
        session.count("reading b="),
        saves.len() + 1,
        "b.lua read once per run:\n{output}"
    );
    assert_eq!(session.count("main begins"), 1, "{output}");
    for how in ALL_SAVES {
        assert_eq!(
            session.count(&format!("reading b={how:?}\n")),
            1,
            "{how:?}:\n{output}"
        );
    }
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn ctrl_c_ends_the_standby_with_the_tree() {
    let dir = Scratch::new("standby-ctrl-c");
    dir.write("main.lua", MAIN);
    dir.write("b.lua", &module("0"));
    let mut session = Launch::preloaded("lua5.4", "%.lua$")
        .env("LUA_CPATH", module_path())
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("name?");
    // The program waits for stdin; both holders (main.lua's, the root, and
    // b.lua's) get a standby.
    session.wait_for_processes("both standbys", |processes| {
        processes
            .iter()
            .filter(|p| p.state != 'Z' && p.name == STANDBY)
            .count()
            == 2
    });
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn no_line_of_the_old_run_comes_after_the_first_of_the_standby() {
    let dir = Scratch::new("standby-order");
    // The run prints without pause until it is killed.
    dir.write(
        "main.lua",
        r#"io.stdout:setvbuf("line")
require "forkmon"
local b = require "b"
print("run " .. b)
local n = 0
while true do
  n = n + 1
  print("tick " .. b .. " " .. n)
  local t = os.clock() while os.clock() - t < 0.001 do end
end
"#,
    );
    dir.write("b.lua", "return \"0\"\n");
    let mut session = Launch::plain("lua5.4")
        .env("LUA_CPATH", module_path())
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("tick 0 3");
    let root = session.pid();
    session.wait_for_processes("the standby to be parked", |processes| {
        parked_standby(processes, root).is_some()
    });
    save(&dir.path("b.lua"), "return \"1\"\n", Save::RenameOver);
    session.wait_for("tick 1 3");
    let output = session.output();
    let new_run = output.find("run 1\n").expect("the new run's first line");
    assert!(
        !output[new_run..].contains("tick 0 "),
        "the old run wrote after the new one started:\n{}",
        &output[new_run.saturating_sub(200)..]
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_signal_the_parked_standby_got_does_not_reach_the_next_run() {
    let dir = Scratch::new("standby-pending");
    let file = dir.write("a.txt", "a=1\n");
    let saved = dir.path("saved");
    // A program with a SIGUSR1 handler from before its checkpoint.
    let mut session = Launch::preloaded(common::host_program(), "%.txt$")
        .arg("on")
        .arg("USR1")
        .arg("save")
        .arg(&saved)
        .arg("7")
        .arg("read")
        .arg(&file)
        .arg("print")
        .arg("ready")
        .arg("wait")
        .start();
    session.wait_for("ready");
    let root = session.pid();
    let processes = session.wait_for_processes("the standby to be parked", |processes| {
        parked_standby(processes, root).is_some()
    });
    let standby = parked_standby(&processes, root).expect("standby");
    // As a signal to the whole group (a window resize, a kill of the
    // group) would, while the standby is parked: it was for that run.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(standby),
        nix::sys::signal::Signal::SIGUSR1,
    )
    .expect("signal the standby");
    save(&file, "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert!(
        !output.contains("saving"),
        "the standby's pending signal reached the new run:\n{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

/// `steps` after a 256 MB heap and the read of a.txt, in a program whose
/// run is killed and resumed by the standby three times: each run prints
/// `expected` once.
fn each_run_after_a_kill_finds(test: &str, before: &[&str], after: &[&str], expected: &[&str]) {
    let dir = Scratch::new(test);
    let file = dir.write("a.txt", "a=0\n");
    // Its heap, shared with its holder, takes the killed run some
    // milliseconds to tear down before the kernel closes its descriptors.
    let mut session = Launch::preloaded(common::host_program(), "%.txt$")
        .args(["heap", "256"])
        .args(before)
        .arg("read")
        .arg(&file)
        .args(after)
        .args(["print", "ready", "sleep", "60000"])
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    let root = session.pid();
    for n in 1..=3 {
        session.wait_for_processes("the standby to be parked", |processes| {
            parked_standby(processes, root).is_some()
        });
        save(&file, &format!("a={n}\n"), Save::RenameOver);
        session.wait_for(&format!("a={n}"));
        session.wait_for_count("ready", n + 1);
    }
    let output = session.output();
    for line in expected {
        assert_eq!(session.count(line), 4, "{line}:\n{output}");
    }
    session.interrupt();
    session.assert_all_gone();
}

/// A socket and a lock taken after the checkpoint, as a server's port and
/// a second-instance guard would.
#[test]
fn a_resumed_run_finds_the_socket_and_the_lock_of_the_killed_run_given_back() {
    let name = format!("forkmon-test-{}", std::process::id());
    each_run_after_a_kill_finds(
        "standby-given-back",
        &[],
        &["listen", &name, "lock", "app.lock"],
        &[&format!("listening {name}\n"), "locked app.lock\n"],
    );
}

/// A process's fcntl lock, on a file open since before the checkpoint
/// (SQLite's database): the new run has the file, not the lock.
#[test]
fn a_resumed_run_finds_the_fcntl_lock_of_the_killed_run_given_back() {
    each_run_after_a_kill_finds(
        "standby-given-back-fcntl",
        &["keep", "app.db"],
        &["fcntl"],
        &["fcntl locked\n"],
    );
}

/// A run that started a setuid program (`sudo`, here a helper that makes
/// itself root) holds a process forkmon may not kill: the resume says so
/// and starts the new run beside it (it waited for that process to exit,
/// spinning, forever). Needs root, to make the helper setuid root and run
/// the program as nobody.
#[test]
fn a_process_of_the_run_forkmon_may_not_kill_is_said_and_the_resume_goes_on() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root (to make a setuid helper)");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = Scratch::new("not-permitted");
    let mode = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    mode(&dir.0, 0o777);
    let helper = dir.compile_c(
        "root-helper",
        "#include <unistd.h>\n#include <stdio.h>\n\
         int main(void) { if (setuid(0) != 0) return 1; fputs(\"helper is root\\n\", stderr); \
         for (;;) pause(); }\n",
    );
    mode(&helper, 0o4755);
    // Copies the user nobody may run, wherever the build is.
    let host = dir.path("host");
    std::fs::copy(common::host_program(), &host).expect("copy host");
    let library = dir.path("forkmon.so");
    std::fs::copy(common::library(), &library).expect("copy library");
    dir.write("a.conf", "a=1\n");
    let mut session = Launch::preloaded("setpriv", "%.conf$")
        .env("LD_PRELOAD", &library)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&host)
        .args(["read", "a.conf", "popen", "./root-helper", "print", "ready"])
        .args(["sleep", "60000"])
        .dir(&dir.0)
        .start();
    session.wait_for("helper is root");
    session.wait_for("ready");
    save(&dir.path("a.conf"), "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert!(
        output.contains(
            "(a setuid program, such as sudo, that the run started); the new run starts beside it"
        ),
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}
