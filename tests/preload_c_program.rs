//! What a C program sees: every libc read-open is hooked; writes,
//! directories, FIFOs, kernel files and failed opens make no checkpoint;
//! relative paths follow chdir; threads turn checkpoints off.

use forkmon_test_support as common;

use common::{Launch, Save, Scratch, save};

#[test]
fn only_read_opens_of_existing_regular_watched_files_make_checkpoints() {
    let scratch = Scratch::new("c-reader");
    let program = scratch.compile_program("reader");
    scratch.write("data/one.txt", "1\n");
    scratch.write("data/sub/two.txt", "2\n");
    scratch.write("data/three.txt", "3\n");
    std::fs::create_dir(scratch.path("data/folder.txt")).expect("mkdir");
    nix::unistd::mkfifo(
        &scratch.path("data/fifo.txt"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .expect("mkfifo");

    let filter = "%.txt$;status$;^/dev/";
    let session = Launch::preloaded(&program, filter).dir(&scratch.0).start();
    session.wait_for("waiting for a change");
    let data = scratch.path("data");
    // The watcher says what it watches once it has read the registrations.
    session.wait_for(&format!("watch '{}'", data.join("three.txt").display()));
    let output = session.output();
    let watched: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("[forkmon] watch"))
        .collect();
    let expected: Vec<String> = ["one.txt", "sub/two.txt", "three.txt"]
        .iter()
        .map(|f| format!("[forkmon] watch '{}'", data.join(f).display()))
        .collect();
    assert_eq!(watched, expected, "{output}");
    assert!(
        output.contains("missing:-1 No such file or directory"),
        "errno as libc set it:\n{output}"
    );

    save(&data.join("sub/two.txt"), "22\n", Save::RenameOver);
    session.wait_for("two:22");
    session.wait_for_count("end", 2);
    assert_eq!(session.count("start\n"), 1, "{}", session.output());
    assert_eq!(session.count("one:1"), 1, "{}", session.output());
}

#[test]
fn a_program_with_threads_is_not_forked_and_runs_on() {
    let scratch = Scratch::new("c-threads");
    let program = scratch.compile_program("threaded");
    for i in 0..3 {
        scratch.write(&format!("f{i}.txt"), "x");
    }
    let mut session = Launch::preloaded(&program, "%.txt$")
        .dir(&scratch.0)
        .start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    assert!(
        session.program_output().contains("read f2.txt: yes\nend"),
        "{output}"
    );
    let line = "[forkmon] the program has 2 threads at a checkpoint and forking it is not safe; \
                the program runs on without new checkpoints";
    assert_eq!(session.count(line), 1, "{output}");
    assert_eq!(session.count("[forkmon]"), 1, "{output}");
    session.assert_all_gone();
}

#[test]
fn a_program_that_reads_and_ends_at_once_has_its_watch_lines_before_its_end() {
    // The watcher says the watch lines; the holder says the end.
    let scratch = Scratch::new("c-quick");
    scratch.write("a.txt", "a=1\n");
    scratch.write("b.txt", "b=1\n");
    let mut session = ["read", "a.txt", "read", "b.txt", "exit", "0"]
        .iter()
        .fold(
            Launch::preloaded(common::host_program(), "%.txt$"),
            |launch, step| launch.arg(step),
        )
        .dir(&scratch.0)
        .start();
    session.wait_for("program exited with status 0");
    let output = session.output();
    let end = output.find("program exited").expect("said");
    for file in ["a.txt", "b.txt"] {
        let watch = format!("watch '{}'", scratch.path(file).display());
        assert!(
            output.find(&watch).is_some_and(|at| at < end),
            "{watch} not before the end:\n{output}"
        );
    }
    session.interrupt();
    session.assert_all_gone();
}
