//! Odd files: names with spaces, non-UTF-8 bytes and 255-byte names,
//! symbolic links, a file deleted for good, a directory renamed away, an
//! unreadable file. None crashes or hangs; each does what the README says.

use forkmon_test_support as common;

use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use common::{Launch, LuaApp, Save, Scratch, contents_watched, host_program, save};

/// A path in the app's directory from raw bytes (not necessarily UTF-8).
fn raw_path(app: &LuaApp, name: &[u8]) -> PathBuf {
    app.dir.0.join(std::ffi::OsStr::from_bytes(name))
}

#[test]
fn names_with_spaces_non_utf8_bytes_and_255_bytes_are_watched_and_resume() {
    let long = "l".repeat(251) + ".lua";
    let app = LuaApp::new(
        "odd-names",
        &[],
        &format!(
            "dofile('sub dir/sp ace.lua')\ndofile('sub dir/\\255\\254.lua')\ndofile('{long}')"
        ),
    );
    std::fs::create_dir(app.dir.path("sub dir")).expect("mkdir");
    app.dir.write("sub dir/sp ace.lua", "print('space=1')\n");
    std::fs::write(
        raw_path(&app, b"sub dir/\xff\xfe.lua"),
        "print('bytes=1')\n",
    )
    .expect("write");
    app.dir.write(&long, "print('long=1')\n");
    let session = app.launch().start();
    session.wait_for("done first");
    // The watcher says what it watches once it has read the registrations.
    session.wait_for_count("[forkmon] watch", 4);
    save(
        &raw_path(&app, b"sub dir/\xff\xfe.lua"),
        "print('bytes=2')\n",
        Save::RenameOver,
    );
    session.wait_for("done 1");
    save(
        &app.dir.path("sub dir/sp ace.lua"),
        "print('space=2')\n",
        Save::InPlace,
    );
    session.wait_for("done 2");
    // (A 255-byte name leaves no room for an editor's backup suffix.)
    save(&app.dir.path(&long), "print('long=2')\n", Save::InPlace);
    session.wait_for("done 3");
    let program = session.program_output();
    let output = session.output();
    assert!(
        program.contains("space=2\nbytes=2\nlong=1\ndone 2\n"),
        "{output}"
    );
    assert!(program.contains("done 2\nlong=2\ndone 3"), "{output}");
}

#[test]
fn an_edit_of_a_symbolic_link_target_resumes() {
    let app = LuaApp::new("odd-symlink", &[], "dofile('link.lua')");
    app.dir.write("real/target.lua", "print('target=1')\n");
    std::os::unix::fs::symlink(app.dir.path("real/target.lua"), app.dir.path("link.lua"))
        .expect("symlink");
    let session = app.launch().start();
    session.wait_for("done first");
    // The watcher watches the target from when it says so.
    let target = std::fs::canonicalize(app.dir.path("real/target.lua")).expect("target");
    session.wait_for(&format!("watch '{}'", target.display()));
    // The link stays; its target, in another directory, is edited.
    save(
        &app.dir.path("real/target.lua"),
        "print('target=2')\n",
        Save::RenameOver,
    );
    session.wait_for("target=2");
    session.wait_for("done 1");
}

/// Points the symbolic link `link` at `target` as `ln -sfn` does: a new
/// link renamed over the old one.
fn repoint(link: &std::path::Path, target: &str) {
    let fresh = link.with_extension("new-link");
    std::os::unix::fs::symlink(target, &fresh).expect("symlink");
    std::fs::rename(&fresh, link).expect("rename over the link");
}

#[test]
fn a_symbolic_link_pointed_elsewhere_has_its_new_target_watched() {
    // Work first, so that the link gets a checkpoint of its own: a resume
    // from it re-reads the link without tying it anew.
    let app = LuaApp::new(
        "odd-symlink-repointed",
        &[],
        "local t = os.clock() while os.clock() - t < 0.05 do end\ndofile('link.lua')",
    );
    app.dir.write("real/one.lua", "print('one=1')\n");
    app.dir.write("real/two.lua", "print('two=1')\n");
    repoint(&app.dir.path("link.lua"), "real/one.lua");
    let session = app.launch().start();
    session.wait_for("done first");
    // Pointed elsewhere once the watcher watches the first target (before,
    // its look would find the second one already).
    let one = std::fs::canonicalize(app.dir.path("real/one.lua")).expect("one");
    session.wait_for(&format!("watch '{}'", one.display()));
    let two = std::fs::canonicalize(app.dir.path("real/two.lua")).expect("two");
    repoint(&app.dir.path("link.lua"), "real/two.lua");
    session.wait_for("two=1");
    let from_the_link = format!("resuming from '{}'", app.dir.path("link.lua").display());
    let output = session.output();
    assert!(
        output.contains("changed, resuming from it") || output.contains(&from_the_link),
        "{output}"
    );
    // The run its change started looked at the link again.
    session.wait_for(&format!("watch '{}'", two.display()));
    save(
        &app.dir.path("real/two.lua"),
        "print('two=2')\n",
        Save::RenameOver,
    );
    session.wait_for("two=2");
    session.wait_for("done 2");
}

#[test]
fn a_symbolic_link_to_a_folder_pointed_elsewhere_resumes() {
    let app = LuaApp::new(
        "odd-folder-link",
        &[],
        "dofile('current/mod.lua')\ndofile('current/other.lua')",
    );
    for release in ["1", "2"] {
        app.dir.write(
            &format!("releases/{release}/mod.lua"),
            &format!("print('mod={release}')\n"),
        );
        app.dir.write(
            &format!("releases/{release}/other.lua"),
            &format!("print('other={release}')\n"),
        );
    }
    repoint(&app.dir.path("current"), "releases/1");
    // A checkpoint per file: other.lua's is made by the resumed run.
    let session = app.launch().env("FORKMON_MIN_WORK", "0").start();
    session.wait_for("done first");
    session.wait_for_count("[forkmon] watch", 3);
    // inotify tells only that the name `current` changed in the app's
    // folder: the files below it count as replaced.
    repoint(&app.dir.path("current"), "releases/2");
    session.wait_for("mod=2\nother=2\ndone 1");
    // The new folder is the one watched now, for the file whose checkpoint
    // stayed and for the one the resumed run tied anew.
    for (file, text) in [("other", "other=2b"), ("mod", "mod=2b")] {
        save(
            &app.dir.path(&format!("releases/2/{file}.lua")),
            &format!("print('{text}')\n"),
            Save::InPlace,
        );
        session.wait_for(text);
    }
    session.wait_for("done 3");
}

#[test]
fn a_deleted_file_is_said_once_and_its_checkpoint_waits_for_it() {
    let app = LuaApp::new("odd-deleted", &["a", "b"], "");
    let session = app.launch().start();
    session.wait_for("done first");
    std::fs::remove_file(app.module("b")).expect("delete");
    let gone = format!(
        "'{}' was removed; its checkpoint waits for it to come back",
        app.module("b").display()
    );
    session.wait_for(&gone);
    app.dir.write("b.lua", "print(\"b=back\")\n");
    session.wait_for("done 1");
    let output = session.output();
    assert!(
        session.program_output().contains("b=back\ndone 1"),
        "{output}"
    );
    assert_eq!(session.count(&gone), 1, "{output}");
    assert_eq!(
        session.count("a=1"),
        1,
        "resumed from b's checkpoint:\n{output}"
    );
}

#[test]
fn a_directory_renamed_away_and_back_keeps_working() {
    let app = LuaApp::new("odd-dir-renamed", &[], "dofile('lib/m.lua')");
    app.dir.write("lib/m.lua", "print('m=1')\n");
    let session = app.launch().start();
    session.wait_for("done first");
    std::fs::rename(app.dir.path("lib"), app.dir.path("lib.away")).expect("rename away");
    session.wait_for("was removed; its checkpoint waits for it to come back");
    std::fs::rename(app.dir.path("lib.away"), app.dir.path("lib")).expect("rename back");
    save(&app.dir.path("lib/m.lua"), "print('m=2')\n", Save::InPlace);
    session.wait_for("m=2");
}

/// Waits until the watcher watches the writes in `dir` (at first it
/// watches only names there: a write made before is found by comparing).
fn wait_contents_watched(session: &common::Session, dir: &std::path::Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !contents_watched(session, dir) {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never watched the contents of {}: {}",
            dir.display(),
            session.output()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `lib/<below>m.lua`, read after some work (a checkpoint of its own),
/// then lib renamed away: a write in the moved copy is no edit of the old
/// path; a new file there is the one change to resume for.
fn a_write_in_a_moved_folder_resumes_nothing(test: &str, below: &str) {
    let module = format!("lib/{below}m.lua");
    let app = LuaApp::new(
        test,
        &[],
        &format!("local t = os.clock() while os.clock() - t < 0.05 do end\ndofile('{module}')"),
    );
    app.dir.write(&module, "print('m=1')\n");
    let session = app.launch().start();
    session.wait_for("done first");
    wait_contents_watched(&session, &app.dir.path(&format!("lib/{below}")));
    std::fs::rename(app.dir.path("lib"), app.dir.path("lib.away")).expect("rename away");
    session.wait_for("was removed; its checkpoint waits for it to come back");
    save(
        &app.dir.path(&format!("lib.away/{below}m.lua")),
        "print('m=away')\n",
        Save::InPlace,
    );
    // Time for a resume from that write (it would come within a few ms);
    // then a new file at the old path.
    std::thread::sleep(std::time::Duration::from_millis(300));
    app.dir.write(&module, "print('m=new')\n");
    session.wait_for("m=new");
    let output = session.output();
    assert_eq!(session.count("changed, resuming"), 1, "{output}");
    assert!(!output.contains("m=away"), "{output}");
}

#[test]
fn a_write_in_a_directory_renamed_away_is_no_edit_of_its_old_path() {
    a_write_in_a_moved_folder_resumes_nothing("odd-dir-away-write", "");
}

#[test]
fn a_write_below_a_folder_moved_away_is_no_edit_of_its_old_path() {
    // lib/sub moves away with lib: only lib's name changes where the
    // watcher sees it.
    a_write_in_a_moved_folder_resumes_nothing("odd-nested-away-write", "sub/");
}

#[test]
fn a_file_the_program_cannot_open_makes_no_checkpoint() {
    // A directory named like a module, then a missing one: both opens fail.
    let app = LuaApp::new(
        "odd-unreadable",
        &["a"],
        "print(pcall(dofile, 'folder.lua'))\nprint(pcall(dofile, 'missing.lua'))",
    );
    std::fs::create_dir(app.dir.path("folder.lua")).expect("mkdir");
    let session = app.launch().start();
    session.wait_for("done first");
    let output = session.output();
    assert!(
        !output.contains("folder.lua'") && !output.contains("missing.lua'"),
        "{output}"
    );
}

/// a.txt and b.txt, and the FIFO f.txt between them.
fn fifo_between_two_files(test: &str) -> Scratch {
    let dir = Scratch::new(test);
    dir.write("a.txt", "a\n");
    dir.write("b.txt", "b\n");
    nix::unistd::mkfifo(
        &dir.path("f.txt"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    dir
}

/// The host program preloaded in `dir`, doing `steps`, with checkpoints
/// far apart: what it reads after a.txt is tied to a.txt's checkpoint.
fn host_doing(dir: &Scratch, steps: &[&str]) -> Launch {
    steps.iter().fold(
        Launch::preloaded(host_program(), "%.txt$")
            .env("FORKMON_MIN_WORK", "60000")
            .dir(&dir.0),
        |launch, step| launch.arg(step),
    )
}

#[test]
fn a_fifo_tied_soon_after_a_checkpoint_is_not_watched() {
    let dir = fifo_between_two_files("odd-fifo");
    // Within FORKMON_MIN_WORK of a.txt's checkpoint: tied after the open.
    let mut session = host_doing(
        &dir,
        &[
            "open", "a.txt", "open", "f.txt", "open", "b.txt", "print", "done",
        ],
    )
    .start();
    session.wait_for("done");
    // Said in the order read: f.txt's line would come before b.txt's.
    session.wait_for(&format!("watch '{}'", dir.path("b.txt").display()));
    let output = session.output();
    assert!(
        session
            .program_output()
            .contains("open a.txt: ok\nopen f.txt: ok\nopen b.txt: ok\n"),
        "{output}"
    );
    assert!(!output.contains("f.txt'"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_fifo_opened_where_the_contents_are_watched_already_is_not_watched() {
    // There the program ties a file without looking at it (no fstat): the
    // watcher leaves out what is not a regular file.
    let dir = fifo_between_two_files("odd-fifo-watched");
    let mut session = host_doing(
        &dir,
        &[
            "open", "a.txt", "line", "open", "f.txt", "open", "b.txt", "print", "done",
        ],
    )
    .start();
    session.wait_for("open a.txt: ok");
    wait_contents_watched(&session, &dir.0);
    session.type_text("go\n");
    session.wait_for("done");
    session.wait_for(&format!("watch '{}'", dir.path("b.txt").display()));
    let output = session.output();
    assert!(
        session
            .program_output()
            .contains("open f.txt: ok\nopen b.txt: ok\n"),
        "{output}"
    );
    assert!(!output.contains("f.txt'"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

const DEEP_READER: &str = r#"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    char name[201];
    memset(name, 'd', 200);
    name[200] = 0;
    /* 25 levels of 200 bytes: the folder's path is past PATH_MAX. */
    for (int i = 0; i < 25; i++)
        if (mkdir(name, 0755) != 0 || chdir(name) != 0) { perror("deep"); return 1; }
    FILE *out = fopen("mod.lua", "w");
    if (!out) { perror("write"); return 1; }
    fputs("return 1\n", out);
    fclose(out);
    FILE *in = fopen("mod.lua", "r");
    printf("read %s\n", in ? "ok" : "failed");
    return 0;
}
"#;

#[test]
fn a_file_whose_full_path_is_too_long_is_said_not_watched() {
    let dir = Scratch::new("odd-deep");
    let program = dir.compile_c("deep", DEEP_READER);
    let mut session = Launch::preloaded(&program, "%.lua$").dir(&dir.0).start();
    assert!(session.wait_exit().success(), "{}", session.output());
    let output = session.output();
    assert!(output.contains("read ok"), "{output}");
    assert_eq!(
        session.count("cannot tell the full path of 'mod.lua'"),
        1,
        "{output}"
    );
    assert!(!output.contains("no opened file matched"), "{output}");
}
