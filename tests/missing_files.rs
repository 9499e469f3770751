//! A file the program looked for and did not find is watched: once it
//! appears, the program resumes from the checkpoint before the lookup. Both
//! ways in: the preload sees the open fail with ENOENT, the Lua module's
//! searcher knows the paths require probes.

use forkmon_test_support as common;

use common::{Launch, LuaApp, Save, Scratch, save};

/// `main.lua` prints "startup", requires `a`, then `x`, which is missing.
fn app_missing_x(test: &str) -> LuaApp {
    LuaApp::new(test, &["a"], "print('x=' .. require 'x')")
}

fn resumes_once_x_appears(app: &LuaApp, mut session: common::Session) {
    session.wait_for("module 'x' not found");
    session.wait_for("program exited with status 1; waiting for a change");
    save(&app.dir.path("x.lua"), "return 42\n", Save::RenameOver);
    session.wait_for("done 1");
    let output = session.output();
    assert!(output.contains("x=42\n"), "{output}");
    assert_eq!(session.count("startup"), 1, "{output}");
    // From the checkpoint before the lookup: a's, the latest one.
    assert!(
        output.contains(&format!(
            "resuming from '{}'",
            app.dir.path("a.lua").display()
        )),
        "{output}"
    );
    assert!(
        !output.contains("watch '/usr/share/lua/5.4/x.lua'"),
        "a missing file has no watch line:\n{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_missing_module_required_under_the_preload_resumes_once_it_appears() {
    let app = app_missing_x("missing-preload");
    let session = app.launch().start();
    resumes_once_x_appears(&app, session);
}

#[test]
fn a_missing_module_required_under_the_lua_module_resumes_once_it_appears() {
    let app = app_missing_x("missing-module");
    let session = app.launch_module().start();
    resumes_once_x_appears(&app, session);
}

#[test]
fn a_missing_config_file_makes_the_first_checkpoint_and_resumes_once_it_appears() {
    let dir = Scratch::new("missing-config");
    dir.write(
        "main.lua",
        "print('startup')\n\
         local file = io.open('config.txt')\n\
         print(file and ('config ' .. file:read('a')) or 'no config')\n",
    );
    let mut session = Launch::preloaded("lua5.4", "%.txt$")
        .arg("main.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("no config");
    session.wait_for("waiting for a change");
    save(&dir.path("config.txt"), "level=3\n", Save::InPlace);
    session.wait_for("config level=3");
    let output = session.output();
    assert_eq!(session.count("startup"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// `forkmon app.lua` before app.lua is written: its coming resumes, and so
/// does each save after it, in place too (only names were watched where it
/// was missing, and its writes went unseen).
#[test]
fn a_script_written_after_the_start_resumes_at_each_save() {
    let dir = Scratch::new("missing-script");
    let mut session = Launch::preloaded("lua5.4", "%.lua$")
        .arg("app.lua")
        .dir(&dir.0)
        .start();
    session.wait_for("cannot open app.lua");
    session.wait_for("waiting for a change");
    save(&dir.path("app.lua"), "print('v1')\n", Save::RenameOver);
    session.wait_for("v1");
    session.wait_for(&format!("watch '{}'", dir.path("app.lua").display()));
    for n in 2..=3 {
        session.wait_for_count("program exited with status 0", n - 1);
        save(
            &dir.path("app.lua"),
            &format!("print('v{n}')\n"),
            Save::InPlace,
        );
        session.wait_for(&format!("v{n}"));
    }
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_resume_from_before_a_lookup_names_the_lookup() {
    // busted's first watched open is `require 'lfs'` probing ./lfs.lua: a
    // resume from there named a file that is not there, as if it were.
    let dir = Scratch::new("missing-first-lookup");
    dir.write("a.txt", "a=1\n");
    let mut session = Launch::preloaded(common::host_program(), "%.txt$")
        .env_remove("FORKMON_MIN_WORK")
        .args([
            "open",
            "probe.txt",
            "read",
            "a.txt",
            "print",
            "ready",
            "wait",
        ])
        .dir(&dir.0)
        .start();
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for_count("ready", 2);
    let output = session.output();
    let from_the_lookup = format!(
        "'{}' changed, resuming from the lookup of '{}' (resume #1",
        dir.path("a.txt").display(),
        dir.path("probe.txt").display()
    );
    assert!(output.contains(&from_the_lookup), "{output}");
    session.interrupt();
    session.assert_all_gone();
}
