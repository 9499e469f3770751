//! Hook discipline (issue 8.5) seen from C programs with the real library
//! preloaded: no allocation for unwatched opens (malloc counted by the
//! program itself), `errno` exactly as libc set it for every kind of
//! success and failure, and a signal handler that opens files, arriving
//! at any moment (inside the hooks too), is safe.

use forkmon_test_support as common;

use common::{Launch, Scratch};

/// Runs `program` in `dir` without forkmon and returns what it printed.
fn plain_output(program: &std::path::Path, dir: &Scratch) -> String {
    let mut session = Launch::plain(program).dir(&dir.0).start();
    let status = session.wait_exit();
    assert!(status.success(), "plain run failed:\n{}", session.output());
    session.program_output()
}

/// Runs `program` in `dir` with forkmon preloaded (it watches files, so
/// forkmon waits after it ends: Ctrl+C ends the tree) and returns what the
/// program printed and the whole output.
fn preloaded_output(program: &std::path::Path, dir: &Scratch, filter: &str) -> (String, String) {
    preloaded_output_after(program, dir, filter, &[])
}

/// As [`preloaded_output`], once the output also holds each of `needles`
/// (the watcher says its `watch` lines when it has read the registrations,
/// maybe after the program's end).
fn preloaded_output_after(
    program: &std::path::Path,
    dir: &Scratch,
    filter: &str,
    needles: &[&str],
) -> (String, String) {
    let mut session = Launch::preloaded(program, filter).dir(&dir.0).start();
    session.wait_for("waiting for a change");
    for needle in needles {
        session.wait_for(needle);
    }
    let result = (session.program_output(), session.output());
    session.interrupt();
    session.assert_all_gone();
    result
}

// --- allocations ---------------------------------------------------------------

#[test]
fn unwatched_opens_allocate_nothing_in_the_preloaded_library() {
    let scratch = Scratch::new("counting");
    // The program reaches its files as ../counting/data too.
    let dir = Scratch(scratch.path("counting"));
    std::fs::create_dir_all(dir.path("data")).expect("mkdir");
    let program = dir.compile_program("count_malloc");
    dir.write("data/u.txt", "u");
    dir.write("data/w.lua", "w");

    let plain = plain_output(&program, &dir);
    assert!(plain.contains("failures: 0\nend\n"), "{plain}");
    assert!(plain.contains("watched open: nothing\n"), "{plain}");
    let (preloaded, output) = preloaded_output(&program, &dir, "%.lua$");
    // The same count as without forkmon (fopen's own buffers), phase by
    // phase: the hooks add none, not even on their first call.
    let phases = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains("allocations") || l.starts_with("failures"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(phases(&preloaded), phases(&plain), "{output}");
    // Positive control: the counter sees forkmon's own allocations.
    assert!(
        preloaded.contains("watched open: allocates\n"),
        "a checkpoint allocates and is counted:\n{output}"
    );
}

// --- errno ---------------------------------------------------------------------

#[test]
fn errno_after_each_hooked_call_is_what_libc_set() {
    let scratch = Scratch::new("errno");
    let program = scratch.compile_program("errno");
    for name in [
        "w1.lua", "w2.lua", "w3.lua", "w4.lua", "w5.lua", "w6.lua", "f.lua", "u.txt",
    ] {
        scratch.write(name, "x\n");
    }
    std::fs::create_dir(scratch.path("dir.lua")).expect("mkdir");
    std::os::unix::fs::symlink("loop.lua", scratch.path("loop.lua")).expect("symlink");

    let plain = plain_output(&program, &scratch);
    // The program meets each failure it means to.
    for (label, result) in [
        ("open new", "ok errno=kept"),
        ("freopen", "ok errno=kept"),
        ("write tied", "ok errno=kept"),
        ("missing", "fail errno=ENOENT"),
        ("fopen missing", "fail errno=ENOENT"),
        ("not a dir", "fail errno=ENOTDIR"),
        ("loop", "fail errno=ELOOP"),
        ("write a dir", "fail errno=EISDIR"),
        ("O_DIRECTORY", "fail errno=ENOTDIR"),
        ("exists", "fail errno=EEXIST"),
        ("long name", "fail errno=ENAMETOOLONG"),
        ("long path", "fail errno=ENAMETOOLONG"),
        ("bad dirfd", "fail errno=EBADF"),
        ("null path", "fail errno=EFAULT"),
        ("empty path", "fail errno=ENOENT"),
        ("bad flags", "fail errno=EINVAL"),
    ] {
        let expected = format!("{label:<16} {result}\n");
        assert!(plain.contains(&expected), "{expected:?} in:\n{plain}");
    }
    assert!(plain.ends_with("end\n"), "{plain}");

    let (preloaded, output) =
        preloaded_output_after(&program, &scratch, "%.lua$", &["w1.lua'", "w6.lua'"]);
    assert_eq!(preloaded, plain, "{output}");
    // The new files were really watched (checkpoints, the watcher's
    // registration): errno survived all of that.
    let said = |name: &str| {
        output
            .lines()
            .any(|l| l.starts_with("[forkmon] watch") && l.contains(name))
    };
    assert!(said("w1.lua") && said("w6.lua"), "{output}");
}

// --- signals -------------------------------------------------------------------

#[test]
fn a_signal_handler_that_opens_files_at_any_moment_is_safe() {
    let scratch = Scratch::new("signals");
    let program = scratch.compile_program("signals");
    scratch.write("sig.lua", "s");
    scratch.write("sig_new.lua", "n");
    scratch.write("sig.txt", "t");
    scratch.write("u.txt", "u");
    for i in 0..10 {
        scratch.write(&format!("m{i}.lua"), "m");
    }
    let expected = "handled many, inside calls yes, failures 0\nend\n";
    let plain = plain_output(&program, &scratch);
    assert!(plain.ends_with(expected), "{plain}");

    // The deadline of wait_for catches a deadlock; the checks catch a
    // wrong read or errno; a crash would leave no "end".
    let mut session = Launch::preloaded(&program, "%.lua$")
        .dir(&scratch.0)
        .start();
    session.wait_for("waiting for a change");
    let output = session.output();
    assert!(session.program_output().ends_with(expected), "{output}");
    // The checkpoint made inside the handler resumes: the new child goes
    // back into the handler, then into the main loop, and runs to its end.
    common::save(&scratch.path("sig_new.lua"), "n2", common::Save::InPlace);
    session.wait_for_count("\nend\n", 2);
    let output = session.output();
    assert!(
        output.contains(&format!(
            "'{}' changed, resuming from it",
            scratch.path("sig_new.lua").display()
        )),
        "{output}"
    );
    assert_eq!(
        session.program_output().matches(expected).count(),
        2,
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}
