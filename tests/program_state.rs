//! What a program does to its own state that forkmon must live with: it
//! closes or replaces forkmon's descriptors, has children or timers at a
//! checkpoint, changes its root. The tests' host program
//! (tests/programs/host.c) does each case's steps.

use forkmon_test_support as common;

use std::time::{Duration, Instant};

use common::{DEADLINE, Launch, LuaApp, Save, Scratch, Session, host_program, save};

/// The host program with forkmon preloaded, watching `*.txt`, in `dir`,
/// doing `steps`.
fn host(dir: &Scratch, steps: &[&str]) -> Launch {
    let mut launch = Launch::preloaded(host_program(), "%.txt$").dir(&dir.0);
    for step in steps {
        launch = launch.arg(step);
    }
    launch
}

/// Waits until the watcher sleeps with nothing to do (in poll(2) with no
/// timeout): the next registration then rings its doorbell. Read from
/// /proc/<pid>/syscall (x86-64 numbers: poll is 7, ppoll 271).
fn wait_watcher_idle(session: &Session) {
    let start = Instant::now();
    loop {
        let watcher = session
            .live()
            .into_iter()
            .find(|p| p.name == "forkmon-watch");
        let idle = watcher.is_some_and(|w| {
            let call =
                std::fs::read_to_string(format!("/proc/{}/syscall", w.pid)).unwrap_or_default();
            let fields: Vec<&str> = call.split_whitespace().collect();
            matches!(
                fields.as_slice(),
                ["7", _, _, "0xffffffff", ..] | ["271", _, _, "0x0", ..]
            )
        });
        if idle {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "the watcher never went idle:\n{}",
            session.output()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

const SOCKET_REPLACED: &str = "[forkmon] the program closed or replaced descriptor 4, forkmon's \
                               socket to its watcher; the program runs on without new checkpoints";

/// Reads a.txt, does `between`, then (once the test says go, with the
/// watcher asleep) reads b.txt and waits.
fn closing_program(dir: &Scratch, between: &[&str], after: &[&str]) -> Session {
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut steps = vec!["read", "a.txt"];
    steps.extend_from_slice(between);
    steps.extend_from_slice(&["line", "read", "b.txt"]);
    steps.extend_from_slice(after);
    steps.extend_from_slice(&["print", "ready", "wait"]);
    let session = host(dir, &steps).start();
    session.wait_for(&format!("watch '{}'", dir.path("a.txt").display()));
    wait_watcher_idle(&session);
    session.type_text("go\n");
    session.wait_for("ready");
    session
}

#[test]
fn a_program_that_closed_forkmons_descriptors_is_never_signalled_as_a_holder() {
    let dir = Scratch::new("state-closefds");
    let mut session = closing_program(&dir, &["closefds"], &[]);
    // b.txt has no checkpoint: its edit is nothing to forkmon. a.txt's
    // holder still has its descriptors: its edit resumes. Edits are seen
    // in order, so a resume for b.txt would come first or be named with a.
    save(&dir.path("b.txt"), "b=2\n", Save::InPlace);
    save(&dir.path("a.txt"), "a=2\n", Save::InPlace);
    session.wait_for("a=2");
    let output = session.output();
    assert!(!output.contains("program ended by"), "{output}");
    let resumes: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("changed, resuming"))
        .collect();
    assert_eq!(resumes.len(), 1, "{output}");
    assert!(!resumes[0].contains("b.txt"), "{output}");
    assert_eq!(
        session.count(SOCKET_REPLACED),
        1,
        "said once in the first run:\n{output}"
    );
    let b = format!("watch '{}'", dir.path("b.txt").display());
    assert!(!output.contains(&b), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn no_byte_is_written_into_a_socket_of_the_program_at_forkmons_number() {
    let dir = Scratch::new("state-reused");
    let mut session = closing_program(&dir, &["closefds", "socketpair"], &["stray"]);
    let output = session.output();
    assert!(output.contains("sockets 3 4\n"), "{output}");
    assert!(output.contains("stray bytes: 0\n"), "{output}");
    assert_eq!(session.count(SOCKET_REPLACED), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_descriptor_of_forkmon_dup2ed_over_is_named_and_not_used() {
    // /dev/null at forkmon's inotify number: b.txt's new directory would
    // be watched through it.
    let dir = Scratch::new("state-dup2");
    dir.write("a.txt", "a=1\n");
    dir.write("sub/b.txt", "b=1\n");
    let mut session = host(
        &dir,
        &[
            "read",
            "a.txt",
            "dup2",
            "3",
            "read",
            "sub/b.txt",
            "print",
            "ready",
            "wait",
        ],
    )
    .start();
    session.wait_for("ready");
    session.wait_for(
        "[forkmon] the program closed or replaced descriptor 3, forkmon's inotify instance; \
         the program runs on without new checkpoints",
    );
    let output = session.output();
    assert_eq!(session.program_output(), "a=1\nb=1\nready\n", "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn forkmons_lines_stay_out_of_a_file_the_program_opened_at_descriptor_2() {
    // A daemon closes its stderr and its next open gets number 2: forkmon's
    // lines go to the stderr it was started with, not into that file.
    let dir = Scratch::new("state-stderr-reused");
    dir.write("a.txt", "a=1\n");
    let mut session = host(
        &dir,
        &[
            "reopen", "2", "data.db", "read", "a.txt", "print", "ready", "exit", "0",
        ],
    )
    .start();
    session.wait_for("[forkmon] program exited with status 0; waiting for a change");
    let output = session.output();
    assert_eq!(session.program_output(), "a=1\nready\n", "{output}");
    assert!(output.contains("[forkmon] watch '"), "{output}");
    let data = std::fs::read_to_string(dir.path("data.db")).expect("data.db");
    assert_eq!(data, "", "forkmon wrote into the program's file");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_program_started_with_stdin_closed_finds_it_closed_after_its_checkpoints() {
    // forkmon's inotify instance and socket took descriptor 0 (and 1).
    let dir = Scratch::new("state-stdin-closed");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let host = host_program();
    let mut session = Launch::preloaded("sh", "%.txt$")
        .arg("-c")
        .arg("exec \"$0\" read a.txt read b.txt fd 0 print ready wait <&-")
        .arg(host)
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    save(&dir.path("b.txt"), "b=2\n", Save::InPlace);
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert_eq!(session.count("fd 0: closed"), 2, "{output}");
    assert_eq!(session.count("fd 0: open"), 0, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn each_resumed_run_finds_the_terminal_as_it_was_at_its_checkpoint() {
    // The run a save kills had turned echo off (a line editor does while it
    // reads a line): the new run goes on from where it was on.
    let dir = Scratch::new("state-terminal");
    dir.write("a.txt", "a=1\n");
    let mut session = host(
        &dir,
        &["read", "a.txt", "echo", "noecho", "print", "ready", "wait"],
    )
    .start();
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::InPlace);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
    save(&dir.path("a.txt"), "a=3\n", Save::RenameOver);
    session.wait_for_count("ready", 3);
    let output = session.output();
    assert_eq!(session.count("echo on"), 3, "{output}");
    assert_eq!(session.count("echo off"), 0, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_program_writing_into_a_pager_leaves_the_terminal_to_it() {
    // `program | less`: the pager sets the terminal's modes after the
    // checkpoint; a resume must not set the checkpoint's back over them.
    let dir = Scratch::new("state-terminal-pager");
    dir.write("a.txt", "a=1\n");
    let mut session = Launch::preloaded("sh", "%.txt$")
        .arg("-c")
        .arg("\"$0\" read a.txt wait | cat")
        .arg(host_program())
        .dir(&dir.0)
        .start();
    session.wait_for("a=1");
    session.set_terminal_echo(false);
    save(&dir.path("a.txt"), "a=2\n", Save::InPlace);
    session.wait_for("a=2");
    assert!(!session.terminal_echoes(), "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

/// The line said once when a checkpoint is skipped for `what` at `path`.
fn skipped(what: &str, path: &std::path::Path, lost: &str) -> String {
    format!(
        "[forkmon] the program has {what} at '{}': a resumed copy {lost}, so no checkpoint is \
         made while it has any; files read meanwhile are tied to the last checkpoint (said once a run)",
        path.display()
    )
}

/// Runs `steps` (which read a.txt, then b.txt, then print "ready" and wait),
/// edits b.txt and waits for the second "ready": the resume.
fn edit_b_and_resume(dir: &Scratch, steps: &[&str]) -> Session {
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let session = host(dir, steps).start();
    session.wait_for("ready");
    session.wait_for(&format!("watch '{}'", dir.path("b.txt").display()));
    save(&dir.path("b.txt"), "b=2\n", Save::InPlace);
    session.wait_for_count("ready", 2);
    session
}

#[test]
fn a_child_started_before_a_checkpoint_skips_it_and_is_still_waited_for() {
    // io.popen before a require, :close() after it.
    let dir = Scratch::new("state-popen");
    let mut session = edit_b_and_resume(
        &dir,
        &[
            "read", "a.txt", "popen", "echo hi", "read", "b.txt", "pclose", "print", "ready",
            "wait",
        ],
    );
    let output = session.output();
    assert_eq!(
        session.program_output(),
        "a=1\nb=1\npclose: ok\nready\na=1\nb=2\npclose: ok\nready\n",
        "{output}"
    );
    let line = skipped(
        "1 child process of its own",
        &dir.path("b.txt"),
        "could not wait for it",
    );
    assert_eq!(session.count(&line), 2, "once in each run:\n{output}");
    let from_a = format!("changed, resuming from '{}'", dir.path("a.txt").display());
    assert!(output.contains(&from_a), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_file_read_while_a_child_runs_before_any_checkpoint_is_said_not_watched() {
    // No checkpoint comes before a.txt: an edit of it cannot resume.
    let dir = Scratch::new("state-popen-first");
    let mut session = edit_b_and_resume(
        &dir,
        &[
            "popen", "echo hi", "read", "a.txt", "pclose", "read", "b.txt", "print", "ready",
            "wait",
        ],
    );
    let output = session.output();
    let line = format!(
        "[forkmon] the program has 1 child process of its own at '{}': a resumed copy could not \
         wait for it, so no checkpoint is made while it has any; there is no checkpoint before \
         it yet, so files read meanwhile are not watched: their edits are not seen (said once a run)",
        dir.path("a.txt").display()
    );
    assert_eq!(session.count(&line), 1, "{output}");
    assert_eq!(
        session.count(&format!("watch '{}'", dir.path("a.txt").display())),
        0,
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_child_started_before_a_require_is_still_waited_for_in_the_lua_module() {
    let app = common::LuaApp::new(
        "state-popen-lua",
        &["first"],
        "local p = io.popen('true')\nrequire 'a'\nprint('close', p:close())",
    );
    app.dir.write("a.lua", "print('a=1')\n");
    let mut session = app.launch_module().start();
    session.wait_for("done first");
    save(&app.module("a"), "print('a=2')\n", Save::InPlace);
    session.wait_for("done 1");
    let output = session.output();
    assert!(
        session.program_output().ends_with(
            "a=1\nclose\ttrue\texit\t0\ndone first\nfirst=1\na=2\nclose\ttrue\texit\t0\ndone 1\n"
        ),
        "{output}"
    );
    let line = skipped(
        "1 child process of its own",
        &app.module("a"),
        "could not wait for it",
    );
    assert_eq!(session.count(&line), 2, "once in each run:\n{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn interval_timers_and_alarms_tick_on_in_every_new_child() {
    // Ticks every 20 ms, from before the first checkpoint; an alarm too.
    let dir = Scratch::new("state-itimer");
    let mut session = edit_b_and_resume(
        &dir,
        &[
            "alarm", "1", "read", "a.txt", "ticks", "1", "itimer", "20", "read", "b.txt", "ticks",
            "6", "print", "ready", "wait",
        ],
    );
    let output = session.output();
    assert_eq!(
        session.program_output(),
        "a=1\nticks 1\nb=1\nticks 6\nready\nb=2\nticks 6\nready\n",
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_posix_timer_skips_the_checkpoint_with_one_line() {
    let dir = Scratch::new("state-posix-timer");
    let mut session = edit_b_and_resume(
        &dir,
        &[
            "read",
            "a.txt",
            "posixtimer",
            "read",
            "b.txt",
            "print",
            "ready",
            "wait",
        ],
    );
    let output = session.output();
    assert_eq!(
        session.program_output(),
        "a=1\nb=1\nready\na=1\nb=2\nready\n",
        "{output}"
    );
    let line = skipped(
        "1 POSIX timer (timer_create)",
        &dir.path("b.txt"),
        "would not have it",
    );
    assert_eq!(session.count(&line), 2, "once in each run:\n{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn files_read_after_a_chroot_are_not_taken_for_removed_ones() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: chroot needs root");
        return;
    }
    let dir = Scratch::new("state-chroot");
    dir.write("a.txt", "a=1\n");
    dir.write("jail/b.txt", "b=1\n");
    let mut session = host(
        &dir,
        &[
            "read", "a.txt", "chroot", "jail", "read", "/b.txt", "print", "ready", "wait",
        ],
    )
    .start();
    session.wait_for(
        "[forkmon] the program changed its root directory (chroot): files it reads from now on \
         are not watched; the program runs on without new checkpoints",
    );
    session.wait_for("ready");
    // a.txt's checkpoint, made before the chroot, still resumes.
    save(&dir.path("a.txt"), "a=2\n", Save::InPlace);
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert_eq!(
        session.program_output(),
        "a=1\nb=1\nready\na=2\nb=1\nready\n",
        "{output}"
    );
    assert!(!output.contains("was removed"), "{output}");
    assert!(!output.contains("'/b.txt'"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A program that made itself a child subreaper before its checkpoint is
/// one in each run (a fork's child is not), as it would be alone.
#[test]
fn a_child_subreaper_stays_one_in_each_run() {
    let dir = Scratch::new("state-subreaper");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut session = host(
        &dir,
        &[
            "subreaper",
            "read",
            "a.txt",
            "reaper",
            "sleep",
            "50",
            "read",
            "b.txt",
            "reaper",
            "print",
            "ready",
            "sleep",
            "60000",
        ],
    )
    .env("FORKMON_MIN_WORK", "0")
    .start();
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
    save(&dir.path("b.txt"), "b=2\n", Save::RenameOver);
    session.wait_for("b=2");
    session.wait_for_count("ready", 3);
    let output = session.output();
    assert_eq!(session.count("subreaper 1"), 5, "{output}");
    assert_eq!(session.count("subreaper 0"), 0, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// Bytes waiting in a pipe at a checkpoint are read by one run only: said
/// once, at the checkpoint.
#[test]
fn input_waiting_in_a_pipe_at_a_checkpoint_is_said_once() {
    let dir = Scratch::new("state-pipe-input");
    dir.write("a.txt", "a=1\n");
    let mut session = host(
        &dir,
        &[
            "pipe", "read", "a.txt", "drain", "print", "ready", "sleep", "60000",
        ],
    )
    .start();
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
    let output = session.output();
    let line = format!(
        "[forkmon] at the checkpoint of '{}' the program has 5 bytes waiting in descriptor 3 \
         (a pipe): the run going on now reads it, the runs resumed from there will not find it \
         (said once)",
        dir.path("a.txt").display()
    );
    assert_eq!(session.count(&line), 1, "{output}");
    assert_eq!(session.count("drained 5"), 1, "{output}");
    assert_eq!(session.count("drained 0"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A copy the program forks by itself before its first checkpoint reads a
/// watched file: not watched, and said (it was silent).
#[test]
fn a_file_read_by_a_forked_copy_before_any_checkpoint_is_said_not_watched() {
    let dir = Scratch::new("state-forked-copy-first");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut session = host(
        &dir,
        &[
            "forkread", "a.txt", "read", "b.txt", "print", "ready", "sleep", "60000",
        ],
    )
    .start();
    session.wait_for("ready");
    let output = session.output();
    let line = format!(
        "'{}' was read by a process the program forked (pid ",
        dir.path("a.txt").display()
    );
    assert_eq!(session.count(&line), 1, "{output}");
    assert!(
        output.contains("before its first checkpoint: forkmon follows only the program's own"),
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

/// vfork's child shares the program's memory until it execs or exits: a
/// watched file it opens (a redirection before the exec) must not mark
/// the program itself as a copy, which left every later read unwatched,
/// silently, before the first checkpoint and after it.
#[test]
fn a_vfork_child_opening_a_watched_file_leaves_the_program_watched() {
    let dir = Scratch::new("state-vfork");
    for name in ["a.txt", "b.txt", "c.txt"] {
        dir.write(name, &format!("{}=1\n", &name[..1]));
    }
    let mut session = host(
        &dir,
        &[
            "vforkread",
            "b.txt",
            "read",
            "a.txt",
            "vforkread",
            "b.txt",
            "read",
            "c.txt",
            "print",
            "ready",
            "sleep",
            "60000",
        ],
    )
    .start();
    session.wait_for("ready");
    save(&dir.path("c.txt"), "c=2\n", Save::RenameOver);
    session.wait_for("c=2");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    let output = session.output();
    assert!(
        output.contains(&format!("watch '{}'", dir.path("c.txt").display())),
        "{output}"
    );
    assert_eq!(session.count("changed, resuming"), 2, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// The program's own output not read yet by a slow reader of its pipe is
/// no input waiting (the writing end of a pipe counts its bytes too).
#[test]
fn output_a_slow_reader_has_not_read_is_not_said_to_be_waiting_input() {
    let dir = Scratch::new("state-pipe-output");
    dir.write("a.txt", "a=1\n");
    let host = host_program();
    let mut session = Launch::plain("sh")
        .env("LD_PRELOAD", common::library())
        .env("FORKMON_FILTER", "%.txt$")
        .args([
            "-c",
            &format!(
                "'{}' print before read a.txt print ready sleep 60000 | (sleep 1; cat)",
                host.display()
            ),
        ])
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    let output = session.output();
    assert!(!output.contains("waiting in descriptor"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// An fcntl lock is the process's: one the program holds at a checkpoint
/// stays with the holder, and its runs lack it (an upgrade in a run waited
/// forever, silently). Said once; a flock lock, which forks share, is not.
#[test]
fn an_fcntl_lock_held_at_a_checkpoint_is_said_once() {
    let dir = Scratch::new("state-fcntl-lock");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut session = host(
        &dir,
        &[
            "lock",
            "shared.lock",
            "keep",
            "x.lock",
            "fcntl",
            "read",
            "a.txt",
            "read",
            "b.txt",
            "print",
            "ready",
            "sleep",
            "60000",
        ],
    )
    .start();
    session.wait_for("ready");
    save(&dir.path("b.txt"), "b=2\n", Save::RenameOver);
    session.wait_for("b=2");
    let output = session.output();
    let line = format!(
        "the program holds an fcntl lock on '{}' at the checkpoint of '{}'",
        dir.path("x.lock").display(),
        dir.path("a.txt").display()
    );
    assert_eq!(session.count(&line), 1, "{output}");
    assert!(!output.contains("shared.lock'"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_file_on_stdin_is_read_again_from_where_the_checkpoint_was() {
    // The runs share stdin's open file, and its offset: the killed run had
    // read it to the end, so the next one found nothing to read.
    let dir = Scratch::new("state-stdin-file");
    dir.write("a.txt", "a=1\n");
    dir.write("input.lines", "one\ntwo\n");
    let mut session = Launch::preloaded("sh", "%.txt$")
        .arg("-c")
        .arg("exec \"$0\" read a.txt input input print ready wait < input.lines")
        .arg(host_program())
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert_eq!(
        session.program_output(),
        "a=1\ngot one\ngot two\nready\na=2\ngot one\ngot two\nready\n",
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_run_finds_stdins_flags_as_they_were_at_its_checkpoint() {
    // O_NONBLOCK is the open file's: the killed run set it on the terminal,
    // and the next run's first read of it failed at once.
    let dir = Scratch::new("state-nonblock");
    dir.write("a.txt", "a=1\n");
    let mut session = host(
        &dir,
        &[
            "read", "a.txt", "flags", "nonblock", "print", "ready", "wait",
        ],
    )
    .start();
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for_count("ready", 2);
    let output = session.output();
    assert_eq!(session.count("stdin blocking"), 2, "{output}");
    assert_eq!(session.count("stdin nonblocking"), 0, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn an_epoll_instance_made_before_a_checkpoint_is_said_once() {
    let dir = Scratch::new("state-epoll");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut session = host(
        &dir,
        &[
            "epoll", "read", "a.txt", "read", "b.txt", "print", "ready", "wait",
        ],
    )
    .start();
    session.wait_for("ready");
    let output = session.output();
    let said = "[forkmon] the program has an epoll instance (descriptor ";
    assert_eq!(session.count(said), 1, "{output}");
    assert!(
        output.contains("/a.txt': a fork shares it, so each run from this checkpoint finds the descriptors the runs before it added (epoll_ctl ADD fails with EEXIST)"),
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

/// Lua's `os.clock()` after 0.3 s of work before a checkpoint, then after
/// an edit resumed from there (printed as "clock OK" or "clock X").
fn os_clock_counts_the_work_before_the_checkpoint(test: &str, module_way: bool) {
    let app = LuaApp::new(
        test,
        &[],
        "local t = os.clock() while os.clock() - t < 0.3 do end\n\
         require \"a\"\n\
         local c = os.clock()\n\
         print(c >= 0.3 and \"clock OK\" or (\"clock \" .. c))",
    );
    app.dir.write("a.lua", "print(\"a=1\")\n");
    let launch = if module_way {
        app.launch_module()
    } else {
        app.launch()
    };
    let mut session = launch.start();
    session.wait_for("done first");
    save(&app.module("a"), "print(\"a=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    let output = session.output();
    assert_eq!(session.count("clock OK"), 2, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn os_clock_under_the_preload_counts_the_program_from_its_start() {
    // A fork's child counts its processor time from zero: a start-up timer
    // printed 0.00 s after a second of start-up.
    os_clock_counts_the_work_before_the_checkpoint("state-clock-preload", false);
}

#[test]
fn os_clock_under_the_lua_module_counts_the_program_from_its_start() {
    os_clock_counts_the_work_before_the_checkpoint("state-clock-module", true);
}

#[test]
fn clock_counts_from_zero_in_a_copy_the_program_forks() {
    // The run's clock() counts the work before its checkpoint; a child the
    // program forks counts its own, from zero, as alone.
    let dir = Scratch::new("state-clock-fork");
    dir.write("a.txt", "a=1\n");
    let mut session = host(
        &dir,
        &[
            "burn",
            "300",
            "read",
            "a.txt",
            "clock",
            "forkclock",
            "print",
            "ready",
            "wait",
        ],
    )
    .start();
    session.wait_for("ready");
    let output = session.output();
    assert!(output.contains("clock 0.3\n"), "{output}");
    assert!(output.contains("child clock 0.0\n"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_program_that_points_its_output_elsewhere_lets_its_starters_pipe_end() {
    // A daemon's start: it points descriptors 1 and 2 at files of its own,
    // and `out=$(start)` ends. forkmon must not keep the pipe open.
    use std::io::Read;
    let dir = Scratch::new("state-output-elsewhere");
    dir.write("a.txt", "a=1\n");
    // Both on the pipe, as `2>&1` (closed on exec: the other tests' children
    // must not hold it).
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
    let mut child = std::process::Command::new(host_program())
        .args([
            "reopen", "1", "o.log", "reopen", "2", "e.log", "read", "a.txt",
        ])
        .args(["print", "ready", "wait"])
        .env("LD_PRELOAD", common::library())
        .env("FORKMON_FILTER", "%.txt$")
        .env("FORKMON_MIN_WORK", "0")
        .current_dir(&dir.0)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::from(
            write_end.try_clone().expect("dup"),
        ))
        .stderr(std::process::Stdio::from(write_end))
        .spawn()
        .expect("start the host");
    let mut pipe = std::fs::File::from(read_end);
    let (sender, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = pipe.read_to_end(&mut rest);
        let _ = sender.send(rest);
    });
    let said = ended.recv_timeout(DEADLINE);
    // The program goes on below its checkpoint, into its own file.
    let start = Instant::now();
    while !std::fs::read_to_string(dir.path("o.log")).is_ok_and(|log| log.contains("ready")) {
        assert!(
            start.elapsed() < DEADLINE,
            "the program did not get to its wait"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let root = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(root, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
    assert_eq!(said.expect("the pipe ended"), b"");
}
