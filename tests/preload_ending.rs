//! Ending the tree and keeping the terminal: every way a user stops the
//! program ends every process; the running program can read stdin.

use forkmon_test_support as common;

use common::{LuaApp, Save, chain, save};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn app(test: &str, tail: &str) -> LuaApp {
    LuaApp::new(test, &["a", "b"], tail)
}

#[test]
fn ctrl_c_while_waiting_for_a_change_ends_the_whole_tree() {
    let app = app("ctrl-c-waiting", "");
    let mut session = app.launch().start();
    session.wait_for("waiting for a change");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn ctrl_c_while_the_program_runs_ends_the_whole_tree() {
    let app = app("ctrl-c-running", "print('reading'); io.read('l')");
    let mut session = app.launch().start();
    session.wait_for("reading");
    // A Ctrl+C between the print and the read would leave Lua (alone as
    // under forkmon) blocked in the read, its interrupt hook not yet run.
    // (The watcher has its name once it said the files: the chain passes
    // it over.)
    session.wait_for_count("[forkmon] watch", 3);
    let program = *chain(&session.processes(), session.pid())
        .last()
        .expect("the program");
    wait_reading_stdin(program);
    session.interrupt();
    session.assert_all_gone();
}

/// Waits until `pid` is blocked in a read of its stdin.
fn wait_reading_stdin(pid: i32) {
    let reading = format!("{} 0x0 ", libc::SYS_read);
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/{pid}/syscall"))
        .unwrap_or_default()
        .starts_with(&reading)
    {
        assert!(start.elapsed() < common::DEADLINE, "{pid} never read stdin");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn sigterm_to_the_program_ends_the_whole_tree() {
    let app = app("sigterm", "");
    let mut session = app.launch().start();
    session.wait_for("waiting for a change");
    session.signal_root(Signal::SIGTERM);
    session.assert_all_gone();
}

#[test]
fn sighup_ends_the_whole_tree() {
    let app = app("sighup", "");
    let mut session = app.launch().start();
    session.wait_for("waiting for a change");
    session.signal_root(Signal::SIGHUP);
    session.assert_all_gone();
}

#[test]
fn closing_the_terminal_ends_the_whole_tree() {
    let app = app("hang-up", "print('reading'); io.read('l')");
    let mut session = app.launch().start();
    session.wait_for("reading");
    session.hang_up();
    session.assert_all_gone();
}

#[test]
fn sigkill_of_the_root_leaves_no_orphan() {
    let app = app("kill-root", "print('reading'); io.read('l')");
    let mut session = app.launch().start();
    session.wait_for("reading");
    session.signal_root(Signal::SIGKILL);
    session.assert_all_gone();
}

#[test]
fn sigkill_of_a_holder_in_the_middle_ends_what_was_below_it_and_the_rest_works() {
    let app = app("kill-middle", "print('reading'); io.read('l')");
    let mut session = app.launch().start();
    session.wait_for("reading");
    // root (main.lua), holder of a.lua, holder of b.lua, the program.
    let holders = chain(&session.processes(), session.pid());
    assert_eq!(holders.len(), 4, "{:#?}", session.processes());
    kill(Pid::from_raw(holders[1]), Signal::SIGKILL).expect("kill the holder of a.lua");
    session.wait_for_processes("the holder and everything below it to end", |processes| {
        holders[1..]
            .iter()
            .all(|pid| processes.iter().all(|p| p.pid != *pid || p.state == 'Z'))
    });
    session.wait_for("program ended by SIGKILL; waiting for a change");
    // The first checkpoint still works: an edit of a.lua resumes from the
    // nearest live checkpoint before it.
    save(&app.module("a"), "print(\"a=2\")\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for("reading");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn sigkill_of_the_watcher_ends_the_whole_tree() {
    let app = app("kill-watcher", "print('reading'); io.read('l')");
    let mut session = app.launch().start();
    session.wait_for("reading");
    let watcher = session
        .processes()
        .into_iter()
        .find(|p| p.name == "forkmon-watch")
        .expect("a watcher");
    kill(Pid::from_raw(watcher.pid), Signal::SIGKILL).expect("kill the watcher");
    session.wait_for("the watcher process ended");
    session.assert_all_gone();
}

#[test]
fn the_program_reads_the_terminal_also_after_a_resume() {
    let app = app("stdin", "print('name?'); print('hello ' .. io.read('l'))");
    let session = app.launch().start();
    session.wait_for("name?");
    session.type_text("ada\n");
    session.wait_for("hello ada");
    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for_count("name?", 2);
    session.type_text("grace\n");
    session.wait_for("hello grace");
}

#[test]
fn the_end_of_each_run_is_said_once_with_its_status() {
    let app = app(
        "exit-status",
        "if require('b') == nil then end; os.exit(tonumber(os.getenv('FORKMON_RESTART_TICKS') or '0') + 3)",
    );
    let session = app.launch().start();
    session.wait_for("program exited with status 3; waiting for a change");
    save(&app.module("b"), "error('boom')\n", Save::InPlace);
    session.wait_for("program exited with status 1; waiting for a change");
    save(&app.module("b"), "os.exit(7)\n", Save::InPlace);
    session.wait_for("program exited with status 7; waiting for a change");
    save(&app.module("b"), "print('b=4')\n", Save::InPlace);
    session.wait_for("program exited with status 6; waiting for a change");
    assert_eq!(session.count("program exited"), 4, "{}", session.output());
    assert_eq!(session.count("boom"), 1);
}
