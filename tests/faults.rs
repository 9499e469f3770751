//! Faults and programs that do their own process work: `kill -9` of the
//! running program, a program that forks by itself, one that calls exec, and
//! a watched file's directory deleted and made anew while its checkpoint
//! waits. Each leaves a working tree or nothing, and Ctrl+C ends it all.

use forkmon_test_support as common;

use common::{Launch, LuaApp, Save, Scratch, chain, forkmon_lines, save};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[test]
fn sigkill_of_the_running_program_is_said_and_an_edit_resumes() {
    let app = LuaApp::new("kill-child", &["a", "b"], "print('reading'); io.read('l')");
    let mut session = app.launch().start();
    session.wait_for("reading");
    // root (main.lua), holder of a.lua, holder of b.lua, the program.
    // (The watcher names itself once it runs: until then it looks like a
    // holder to `chain`.)
    let root = session.pid();
    let snapshot = session.wait_for_processes("three holders and the program", |ps| {
        chain(ps, root).len() == 4 && ps.iter().any(|p| p.name == "forkmon-watch")
    });
    let tree = chain(&snapshot, root);
    let program = tree[3];
    kill(Pid::from_raw(program), Signal::SIGKILL).expect("kill the program");
    session.wait_for("[forkmon] program ended by SIGKILL; waiting for a change");
    // Its holder reaped it: no zombie, and every holder still waits.
    let after = session.wait_for_processes("the program to be reaped", |processes| {
        processes.iter().all(|p| p.pid != program)
    });
    for holder in &tree[..3] {
        assert!(
            after.iter().any(|p| p.pid == *holder && p.state != 'Z'),
            "holder {holder} ended: {after:#?}"
        );
    }
    assert!(after.iter().all(|p| p.state != 'Z'), "{after:#?}");
    // The tree works: an edit resumes, and the new run has the terminal.
    save(&app.module("b"), "print(\"b=2\")\n", Save::RenameOver);
    session.wait_for("b=2");
    session.wait_for_count("reading", 2);
    session.type_text("typed\n");
    session.wait_for("done 1");
    session.wait_for("program exited with status 0; waiting for a change");
    assert_eq!(session.count("a=1"), 1, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_fork_of_the_program_makes_no_checkpoint_and_holds_off_the_programs_next_one() {
    let dir = Scratch::new("forks-by-itself");
    let exe = dir.compile_program("forks_by_itself");
    for name in ["one", "two", "three"] {
        dir.write(&format!("{name}.txt"), &format!("{name}=1\n"));
    }
    let mut session = Launch::preloaded(&exe, "%.txt$").dir(&dir.0).start();
    let watch = |name: &str| format!("[forkmon] watch '{}'", dir.path(name).display());
    // The watcher prints these lines in the order the checkpoints came:
    // two.txt, read before three.txt, would come before it.
    session.wait_for(&watch("three.txt"));
    session.wait_for("program exited with status 0; waiting for a change");
    let output = session.output();
    // Only the process forkmon started makes checkpoints: not the copy.
    let watched: Vec<&str> = forkmon_lines(&output)
        .into_iter()
        .filter(|l| l.starts_with("[forkmon] watch "))
        .collect();
    assert_eq!(watched, [watch("one.txt"), watch("three.txt")], "{output}");
    let copy: i32 = output
        .lines()
        .find_map(|l| {
            l.strip_prefix("copy ")?
                .strip_suffix(" waits")?
                .parse()
                .ok()
        })
        .expect("the copy's pid");
    // The copy is alive when three.txt is read: a resumed child could not
    // wait for it, so three.txt is tied to one.txt's checkpoint, and the
    // copy belongs to the run a resume replaces.
    let skipped = format!(
        "[forkmon] the program has 1 child process of its own at '{}'",
        dir.path("three.txt").display()
    );
    assert_eq!(session.count(&skipped), 1, "{output}");
    save(&dir.path("three.txt"), "three=2\n", Save::InPlace);
    session.wait_for("three.txt:three=2");
    session.wait_for_count("end", 2);
    session.wait_for_processes("the replaced run's copy to end", |processes| {
        !processes.iter().any(|p| p.pid == copy && p.state != 'Z')
    });
    let output = session.output();
    let from_one = format!("changed, resuming from '{}'", dir.path("one.txt").display());
    assert!(output.contains(&from_one), "{output}");
    assert_eq!(session.count("one.txt:one=1"), 2, "{output}");
    assert_eq!(
        session.program_output().matches("copy ").count(),
        2,
        "{output}"
    );
    // What the copy read is not watched, and that is said, once for the
    // tree though the copy read it in both runs.
    let said = format!(
        "[forkmon] '{}' was read by a process the program forked",
        dir.path("two.txt").display()
    );
    assert_eq!(session.count(&said), 1, "{output}");
    assert_eq!(session.count("two.txt'"), 1, "{output}");
    // Ctrl+C reaches the copy too (it is in the terminal's foreground
    // group), and nothing is left.
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_program_that_execs_becomes_the_new_program_and_its_holders_resume() {
    let dir = Scratch::new("execs");
    let exe = dir.compile_program("execs");
    dir.write("one.txt", "one=1\n");
    dir.write("two.txt", "two=1\n");
    let mut session = Launch::preloaded(&exe, "%.txt$").dir(&dir.0).start();
    let watch_one = format!("[forkmon] watch '{}'", dir.path("one.txt").display());
    session.wait_for(&watch_one);
    session.wait_for("two=1");
    let output = session.output();
    // The exec'd shell has no forkmon: cat's read of two.txt is no
    // checkpoint.
    assert!(output.contains("exec ran, LD_PRELOAD=\n"), "{output}");
    assert_eq!(forkmon_lines(&output), [watch_one.as_str()], "{output}");
    // The holder of one.txt stays, and its running child is the shell.
    save(&dir.path("one.txt"), "one=2\n", Save::RenameOver);
    session.wait_for("one.txt:one=2");
    session.wait_for_count("two=1", 2);
    session.type_text("hello\n");
    session.wait_for("got hello");
    session.wait_for("program exited with status 0; waiting for a change");
    assert_eq!(session.count("got "), 1, "{}", session.output());
    assert_eq!(session.count("two.txt'"), 0, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

/// An app that reads a.lua, then lib/sub/m.lua: lib itself holds no
/// watched file, so nothing is watched above lib/sub.
fn app_with_subdirectory(test: &str) -> LuaApp {
    let app = LuaApp::new(test, &["a"], "dofile('lib/sub/m.lua')");
    app.dir.write("lib/sub/m.lua", "print('m=1')\n");
    app
}

/// Deletes `dir` (`lib/sub` or `lib`) while m.lua's checkpoint waits, and
/// makes lib/sub/m.lua anew, printing `m=2`.
fn delete_and_remake(app: &LuaApp, session: &common::Session, dir: &str) {
    std::fs::remove_dir_all(app.dir.path(dir)).expect("delete the directory");
    session.wait_for("was removed; its checkpoint waits for it to come back");
    app.dir.write("lib/sub/m.lua", "print('m=2')\n");
}

// The watch ends with the deleted directory; the watcher looks for the
// path every 50 ms and watches the new directory once it is there.
#[test]
fn a_directory_deleted_and_made_anew_while_its_checkpoint_waits_resumes() {
    let app = app_with_subdirectory("dir-remade");
    let mut session = app.launch().start();
    session.wait_for("done first");
    delete_and_remake(&app, &session, "lib/sub");
    session.wait_for("m=2");
    session.wait_for("done 1");
    // And the new directory is watched from then on.
    save(
        &app.dir.path("lib/sub/m.lua"),
        "print('m=3')\n",
        Save::InPlace,
    );
    session.wait_for("m=3");
    session.wait_for("done 2");
    assert_eq!(session.count("a=1"), 1, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_whole_tree_deleted_and_made_anew_resumes_from_the_file_in_it() {
    let app = app_with_subdirectory("tree-remade");
    let mut session = app.launch().start();
    session.wait_for("done first");
    delete_and_remake(&app, &session, "lib");
    session.wait_for("m=2");
    session.wait_for("done 1");
    assert_eq!(session.count("a=1"), 1, "{}", session.output());
    assert_eq!(session.count("resuming"), 1, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_remade_directory_serves_edits_before_it_and_in_it() {
    let app = app_with_subdirectory("dir-remade-later-edits");
    let mut session = app.launch().start();
    let exited = "program exited with status 0; waiting for a change";
    session.wait_for_count(exited, 1);
    delete_and_remake(&app, &session, "lib/sub");
    session.wait_for("m=2");
    session.wait_for_count(exited, 2);
    // An edit of a file read before the directory: the new run reads m.lua
    // from the new directory again.
    save(&app.module("a"), "print('a=2')\n", Save::InPlace);
    session.wait_for("a=2");
    session.wait_for_count(exited, 3);
    // Then an edit in it resumes from m.lua, not from before it.
    save(
        &app.dir.path("lib/sub/m.lua"),
        "print('m=3')\n",
        Save::InPlace,
    );
    session.wait_for("m=3");
    session.wait_for_count(exited, 4);
    assert_eq!(
        session.count("a=2"),
        1,
        "resumed from m.lua:\n{}",
        session.output()
    );
    assert_eq!(session.count("resuming"), 3, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}
