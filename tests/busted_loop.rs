//! `forkmon busted`: the whole suite first, then each save runs only the
//! spec files that read the saved file (the spec itself, a module under
//! test, a fixture), a new spec file runs and a deleted one is dropped; a
//! change of the helper or of `.busted` runs everything again; a spec that
//! hangs or crashes does not stop the loop. Under Lua 5.1 and Lua 5.4
//! (`--lua=`), each with the forkmon module built for it.

use forkmon_test_support as common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{Launch, Save, Scratch, save};

/// The forkmon module for `lua`: the one this test run built for 5.4; for
/// 5.1 a release build of its own, made once per test run.
fn module(lua: &str) -> PathBuf {
    if lua == "lua5.4" {
        let dir = common::module_path();
        return PathBuf::from(dir.trim_end_matches("?.so")).join("forkmon.so");
    }
    static LUA51: OnceLock<PathBuf> = OnceLock::new();
    LUA51
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let target = root.join("target/lua51");
            let status = std::process::Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--release",
                    "--lib",
                    "--no-default-features",
                    "--features",
                    "lua51",
                ])
                .env("CARGO_TARGET_DIR", &target)
                .current_dir(&root)
                .status()
                .expect("run cargo");
            assert!(status.success(), "the Lua 5.1 build failed");
            let built = target.join("release/libforkmon.so");
            let dir = target.join("release/lua-module");
            std::fs::create_dir_all(&dir).expect("module dir");
            let module = dir.join("forkmon.so");
            std::fs::copy(&built, &module).expect("copy the module");
            module
        })
        .clone()
}

fn busted(project: &Scratch, lua: &str) -> Launch {
    Launch::plain(env!("CARGO_BIN_EXE_forkmon"))
        .env("FORKMON_MODULE", module(lua))
        .arg("busted")
        .arg(format!("--lua={lua}"))
        .dir(&project.0)
}

/// `forkmon busted` with busted's plain output, whose lines the tests read.
fn busted_plain(project: &Scratch, lua: &str) -> Launch {
    busted(project, lua).arg("-o").arg("plainTerminal")
}

/// Three spec files: each loads the module under test (calc); s2 also
/// loads `only`, s3 reads a fixture.
fn project(name: &str) -> Scratch {
    let project = Scratch::new(name);
    project.write(
        "src/calc.lua",
        "return { add = function(a, b) return a + b end }\n",
    );
    project.write("src/only.lua", "return 'o1'\n");
    project.write("spec/fixture.txt", "f1\n");
    project.write("spec/s1_spec.lua", &spec("s1", "calc.add(1, 1)"));
    project.write(
        "spec/s2_spec.lua",
        &spec("s2", "require('only') .. calc.add(0, 0)"),
    );
    project.write(
        "spec/s3_spec.lua",
        &spec("s3", "io.open('spec/fixture.txt'):read('*l')"),
    );
    project
}

fn spec(name: &str, shown: &str) -> String {
    format!(
        "local calc = require 'calc'\ndescribe('{name}', function()\n  it('runs', function()\n    print('running {name} ' .. {shown})\n  end)\nend)\n"
    )
}

fn saves_run_what_read_the_saved_file(lua: &str) {
    let project = project(&format!("busted-loop-{lua}"));
    let mut session = busted_plain(&project, lua).start();
    session.wait_for("3 of 3 spec files ran: 3 ok; waiting for a change");
    let output = session.output();
    for line in [
        "running s1 2",
        "running s2 o10",
        "running s3 f1",
        "3 successes / 0 failures",
    ] {
        assert!(output.contains(line), "{line:?} missing:\n{output}");
    }

    // The spec file itself.
    save(
        &project.path("spec/s1_spec.lua"),
        &spec("s1", "'again'"),
        Save::RenameOver,
    );
    session.wait_for("running s1 again");
    session.wait_for_count("spec files ran", 2);
    let output = session.output();
    assert!(
        output.contains("running 1 of 3 spec files: 'spec/s1_spec.lua' (changed)"),
        "{output}"
    );
    assert!(output.contains("1 success / 0 failures"), "{output}");
    assert_eq!(session.count("running s2"), 1, "{output}");
    assert_eq!(session.count("running s3"), 1, "{output}");

    // A module only s2 loads.
    save(
        &project.path("src/only.lua"),
        "return 'o2'\n",
        Save::InPlace,
    );
    session.wait_for("running s2 o20");
    session.wait_for_count("spec files ran", 3);
    let output = session.output();
    assert!(
        output.contains("running 1 of 3 spec files: 'spec/s2_spec.lua' (read 'src/only.lua')"),
        "{output}"
    );
    assert_eq!(session.count("running s1"), 2, "{output}");
    assert_eq!(session.count("running s3"), 1, "{output}");

    // A fixture s3 reads.
    save(
        &project.path("spec/fixture.txt"),
        "f2\n",
        Save::TruncateThenWrite,
    );
    session.wait_for("running s3 f2");
    session.wait_for_count("spec files ran", 4);
    assert!(
        session
            .output()
            .contains("running 1 of 3 spec files: 'spec/s3_spec.lua' (read 'spec/fixture.txt')"),
        "{}",
        session.output()
    );

    // The module every spec loads is loaded before the spec files run: its
    // change resumes from there and runs them all.
    save(
        &project.path("src/calc.lua"),
        "return { add = function(a, b) return a * b + 40 end }\n",
        Save::VimBackup,
    );
    session.wait_for("running s2 o240");
    session.wait_for_count("spec files ran", 5);
    let output = session.output();
    assert!(
        output.contains("/src/calc.lua' changed, resuming"),
        "{output}"
    );
    assert!(output.contains("running all 3 spec files"), "{output}");
    assert!(output.contains("running s3 f2"), "{output}");
    assert_eq!(session.count("3 successes"), 2, "{output}");

    // A new spec file runs; a deleted one is dropped.
    project.write("spec/s4_spec.lua", &spec("s4", "'new'"));
    session.wait_for("running s4 new");
    assert!(
        session
            .output()
            .contains("running 1 of 4 spec files: 'spec/s4_spec.lua' (new)"),
        "{}",
        session.output()
    );
    session.wait_for_count("spec files ran", 6);
    std::fs::remove_file(project.path("spec/s2_spec.lua")).expect("delete s2");
    session.wait_for("spec file 'spec/s2_spec.lua' is gone: dropped");

    // A failing spec: busted says so, and so does forkmon's line.
    save(
        &project.path("spec/s1_spec.lua"),
        "describe('s1', function() it('fails', function() assert.are.equal(1, 2) end) end)\n",
        Save::RenameOver,
    );
    session.wait_for("0 successes / 1 failure");
    session.wait_for("1 of 3 spec files ran: 0 ok, 1 failed ('spec/s1_spec.lua')");
    assert_eq!(session.count("running s3"), 3, "{}", session.output());

    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn lua51_saves_run_what_read_the_saved_file() {
    saves_run_what_read_the_saved_file("lua5.1");
}

#[test]
fn lua54_saves_run_what_read_the_saved_file() {
    saves_run_what_read_the_saved_file("lua5.4");
}

fn helper_and_config_changes_run_everything(lua: &str) {
    let project = project(&format!("busted-helper-{lua}"));
    project.write("spec/helper.lua", "print('helper h1')\n");
    project.write(
        ".busted",
        "return { default = { helper = 'spec/helper.lua', output = 'TAP' } }\n",
    );
    let mut session = busted(&project, lua).start();
    session.wait_for("3 of 3 spec files ran");
    let output = session.output();
    assert!(output.contains("helper h1"), "{output}");
    // The watcher's own lines may come between busted's (another process).
    assert!(
        session.program_output().contains("ok 3 - s3 runs\n1..3"),
        "{output}"
    );

    save(
        &project.path("spec/helper.lua"),
        "print('helper h2')\n",
        Save::RenameOver,
    );
    session.wait_for("helper h2");
    session.wait_for_count("3 of 3 spec files ran", 2);
    let output = session.output();
    assert!(
        output.contains("/spec/helper.lua' changed, resuming"),
        "{output}"
    );
    assert_eq!(session.count("1..3"), 2, "{output}");

    // .busted: a filter on test names, as `--filter` would.
    save(
        &project.path(".busted"),
        "return { default = { helper = 'spec/helper.lua', output = 'TAP', filter = 's2' } }\n",
        Save::InPlace,
    );
    session.wait_for("ok 1 - s2 runs\n1..1");
    let output = session.output();
    assert!(
        output
            .lines()
            .any(|l| l.contains("/.busted'") && l.contains("changed, resuming")),
        "{output}"
    );

    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn lua51_helper_and_config_changes_run_everything() {
    helper_and_config_changes_run_everything("lua5.1");
}

#[test]
fn lua54_helper_and_config_changes_run_everything() {
    helper_and_config_changes_run_everything("lua5.4");
}

fn hangs_and_crashes_do_not_stop_the_loop(lua: &str) {
    let project = project(&format!("busted-hang-{lua}"));
    project.write(
        "spec/s2_spec.lua",
        "describe('s2', function() it('hangs', function() os.execute('sleep 1000') end) end)\n",
    );
    let mut session = busted_plain(&project, lua)
        .env("FORKMON_BUSTED_TIMEOUT", "1")
        .start();
    session.wait_for("spec file 'spec/s2_spec.lua' timed out after 1 s: killed");
    // The rest of the round runs in a round of its own.
    session.wait_for("'spec/s3_spec.lua' (not run: its round ended early)");
    session.wait_for("running s3 f1");
    session.wait_for("1 of 3 spec files ran: 1 ok");
    let output = session.output();
    assert!(output.contains("running s1 2"), "{output}");
    assert_eq!(session.count("timed out after"), 1, "{output}");
    // The hanging spec's sleep was killed with it.
    assert!(
        session.live().iter().all(|p| p.name != "sleep"),
        "{:?}",
        session.live()
    );

    save(
        &project.path("spec/s2_spec.lua"),
        &spec("s2", "'fixed'"),
        Save::RenameOver,
    );
    session.wait_for("running s2 fixed");

    save(
        &project.path("spec/s1_spec.lua"),
        "local pid = io.open('/proc/self/stat'):read('*l'):match('^%d+')\ndescribe('s1', function() it('crashes', function() os.execute('kill -SEGV ' .. pid) end) end)\n",
        Save::RenameOver,
    );
    session.wait_for("spec file 'spec/s1_spec.lua' crashed (SIGSEGV)");
    save(
        &project.path("spec/s3_spec.lua"),
        &spec("s3", "'after the crash'"),
        Save::RenameOver,
    );
    session.wait_for("running s3 after the crash");

    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_save_while_a_spec_runs_stops_it_and_runs_it_again_at_once() {
    let project = project("busted-save-while-running");
    project.write(
        "spec/s2_spec.lua",
        "describe('s2', function() it('loops', function() print('running s2 loops') io.stdout:flush() while true do end end) end)\n",
    );
    // A spec before it fails: its failure must not be lost with the stop.
    project.write(
        "spec/s1_spec.lua",
        "describe('s1', function() it('fails', function() print('running s1 failing') assert.are.equal(1, 2) end) end)\n",
    );
    // Past the longest timeout taken: said, and 60 s is used.
    let mut session = busted_plain(&project, "lua5.4")
        .env("FORKMON_BUSTED_TIMEOUT", "1e12")
        .start();
    session.wait_for(
        "FORKMON_BUSTED_TIMEOUT='1e12' is not a number of seconds above 0 and at most 1e9: using 60",
    );
    session.wait_for("running s2 loops");
    save(
        &project.path("spec/s2_spec.lua"),
        &spec("s2", "'fixed'"),
        Save::RenameOver,
    );
    session.wait_for("spec file 'spec/s2_spec.lua' changed while it ran: stopped it");
    session.wait_for("running s2 fixed");
    session.wait_for("running s3 f1");
    session.wait_for(
        "3 of 3 spec files ran: 2 ok, 1 failed ('spec/s1_spec.lua'); waiting for a change",
    );
    assert_eq!(
        session.count("running s1 failing"),
        2,
        "{}",
        session.output()
    );
    // A file the looping spec read stops it too (a fixture: the runner
    // loads the spec files' modules itself, and their change resumes it).
    save(
        &project.path("spec/s2_spec.lua"),
        "describe('s2', function() it('loops', function() print('running s2 loops ' .. io.open('spec/fixture.txt'):read('*l')) io.stdout:flush() while true do end end) end)\n",
        Save::RenameOver,
    );
    session.wait_for("running s2 loops f1");
    save(&project.path("spec/fixture.txt"), "f2\n", Save::InPlace);
    session
        .wait_for("'spec/fixture.txt' changed while spec file 'spec/s2_spec.lua' ran: stopped it");
    session.wait_for("running s2 loops f2");
    let output = session.output();
    assert_eq!(session.count("timed out"), 0, "{output}");

    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_project_without_its_spec_folder_yet_runs_once_it_is_made() {
    let project = Scratch::new("busted-no-spec-yet");
    project.write(
        "src/calc.lua",
        "return { add = function(a, b) return a + b end }\n",
    );
    let mut session = busted_plain(&project, "lua5.4").start();
    session.wait_for("Cannot find file or directory: spec");
    session.wait_for("waiting for a change");
    // Made as `mkdir spec`, then an editor's first save would: the
    // folder, then later the file in it.
    std::fs::create_dir(project.path("spec")).expect("mkdir spec");
    session.wait_for("[forkmon] no spec files in 'spec' yet: waiting for one");
    project.write("spec/s1_spec.lua", &spec("s1", "calc.add(2, 2)"));
    session.wait_for("running s1 4");
    session.wait_for("1 of 1 spec file ran: 1 ok; waiting for a change");
    session.interrupt();
    session.assert_all_gone();
}

/// The module every spec loads is loaded in the runner, at a checkpoint of
/// its own: a save of it resumes a runner that knew the spec files of that
/// moment. Spec files added or deleted since must still run, or not.
#[test]
fn a_resume_of_the_runner_runs_the_spec_files_there_are_now() {
    let project = project("busted-resume-relists");
    let mut session = busted_plain(&project, "lua5.4").start();
    session.wait_for("3 of 3 spec files ran: 3 ok; waiting for a change");
    // Once, so that the runner's checkpoint is surely at calc.lua.
    save(
        &project.path("src/calc.lua"),
        "return { add = function(a, b) return a * b end }\n",
        Save::RenameOver,
    );
    session.wait_for("running s2 o10");
    session.wait_for_count("3 of 3 spec files ran: 3 ok", 2);

    project.write(
        "spec/s4_spec.lua",
        "describe('s4', function() it('fails', function() assert.are.equal(1, 2) end) end)\n",
    );
    session.wait_for("1 of 4 spec files ran: 0 ok, 1 failed ('spec/s4_spec.lua')");
    std::fs::remove_file(project.path("spec/s2_spec.lua")).expect("delete s2");
    session.wait_for("spec file 'spec/s2_spec.lua' is gone: dropped");

    save(
        &project.path("src/calc.lua"),
        "return { add = function(a, b) return a * b + 40 end }\n",
        Save::RenameOver,
    );
    session.wait_for("running s1 41");
    session.wait_for_count("spec files ran", 4);
    let output = session.output();
    assert_eq!(session.count("running all 3 spec files"), 2, "{output}");
    assert_eq!(session.count("'spec/s2_spec.lua' is gone"), 1, "{output}");
    assert!(
        output.contains("3 of 3 spec files ran: 2 ok, 1 failed ('spec/s4_spec.lua')"),
        "{output}"
    );
    assert_eq!(session.count("running s2"), 2, "{output}");
    assert!(!output.contains("cannot open spec/s2_spec.lua"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A spec that starts Lua again as its own interpreter was started (as
/// Penlight's `app.lua()` does, from `arg[-n]`: under `forkmon busted`
/// that is `lua5.4 -l forkmon.busted`) gets a Lua that runs and ends as
/// under plain busted: before, it waited for a change of its own files.
/// One it starts with `-l forkmon` is forkmon's.
#[test]
fn a_spec_that_starts_its_lua_again_gets_a_plain_lua() {
    let project = Scratch::new("busted-nested-lua");
    project.write(
        "src/calc.lua",
        "return { add = function(a, b) return a + b end }\n",
    );
    project.write(
        "tool.lua",
        "package.path = './src/?.lua;' .. package.path\nprint(require('calc').add(2, 3))\n",
    );
    project.write(
        "spec/nested_spec.lua",
        "describe('nested', function()\n  it('runs lua again', function()\n    local first = -1\n    while arg[first - 1] do first = first - 1 end\n    local parts = {}\n    for i = first, -1 do parts[#parts + 1] = arg[i] end\n    local tool = io.popen(table.concat(parts, ' ') .. ' tool.lua 2>&1')\n    print('tool said ' .. tool:read('a'))\n    tool:close()\n    local own = io.popen(parts[1] .. ' -l forkmon -e \"print(1)\" 2>&1')\n    print('own said ' .. own:read('a'))\n    own:close()\n  end)\nend)\n",
    );
    let mut session = busted_plain(&project, "lua5.4")
        .env("FORKMON_BUSTED_TIMEOUT", "10")
        .start();
    session.wait_for("1 of 1 spec file ran:");
    let output = session.output();
    assert!(output.contains("tool said 5\n"), "{output}");
    // A `-l forkmon` of its own is a session of its own, as asked: it says
    // that it watched nothing.
    assert!(
        output.contains("own said 1\n[forkmon] no opened file matched"),
        "{output}"
    );
    assert!(output.contains("1 of 1 spec file ran: 1 ok"), "{output}");
    // The tool's Lua said nothing: only the one of its own did.
    assert_eq!(session.count("nothing was watched"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// Test first: a spec that requires a module not written yet fails, and
/// runs again once the module is there.
#[test]
fn a_spec_runs_again_when_the_module_it_did_not_find_is_written() {
    let project = project("busted-missing-module");
    project.write(
        "spec/fmt_spec.lua",
        "local fmt = require 'fmt'\ndescribe('fmt', function()\n  it('formats', function()\n    print('running fmt ' .. fmt.show(7))\n  end)\nend)\n",
    );
    project.write(
        "spec/pad_spec.lua",
        "local pad = require 'util.pad'\ndescribe('pad', function()\n  it('pads', function()\n    print('running pad ' .. pad.show(7))\n  end)\nend)\n",
    );
    let mut session = busted_plain(&project, "lua5.4").start();
    session.wait_for(
        "5 of 5 spec files ran: 3 ok, 2 failed ('spec/fmt_spec.lua', 'spec/pad_spec.lua')",
    );
    project.write(
        "src/fmt.lua",
        "return { show = function(n) return '<' .. n .. '>' end }\n",
    );
    session.wait_for("running fmt <7>");
    session.wait_for("1 of 5 spec files ran: 1 ok; waiting for a change");
    let output = session.output();
    assert!(
        output.contains("running 1 of 5 spec files: 'spec/fmt_spec.lua' (read 'src/fmt.lua')"),
        "{output}"
    );
    // In a folder that is not there yet.
    project.write(
        "src/util/pad.lua",
        "return { show = function(n) return '[' .. n .. ']' end }\n",
    );
    session.wait_for("running pad [7]");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn lua51_hangs_and_crashes_do_not_stop_the_loop() {
    hangs_and_crashes_do_not_stop_the_loop("lua5.1");
}

#[test]
fn lua54_hangs_and_crashes_do_not_stop_the_loop() {
    hangs_and_crashes_do_not_stop_the_loop("lua5.4");
}

#[test]
fn a_spec_folder_removed_or_moved_away_runs_again_once_it_is_back() {
    let project = project("busted-spec-back");
    let mut session = busted_plain(&project, "lua5.4").start();
    session.wait_for("3 of 3 spec files ran: 3 ok; waiting for a change");
    let spec_folder = project.path("spec");
    std::fs::remove_dir_all(&spec_folder).expect("rm -rf spec");
    session.wait_for("'spec/s3_spec.lua' is gone: dropped");
    // Back as `git checkout spec` makes it: the folder, then its files.
    std::fs::create_dir(&spec_folder).expect("mkdir spec");
    project.write("spec/s1_spec.lua", &spec("s1", "'back'"));
    session.wait_for("running s1 back");
    session.wait_for("1 of 1 spec file ran: 1 ok; waiting for a change");
    project.write("spec/s1_spec.lua", &spec("s1", "'saved'"));
    session.wait_for("running s1 saved");
    session.wait_for_count("1 of 1 spec file ran: 1 ok; waiting for a change", 2);

    // Moved away and back: what was written there meanwhile runs once,
    // when it is back.
    let away = project.path("spec-away");
    std::fs::rename(&spec_folder, &away).expect("mv spec spec-away");
    session.wait_for("'spec/s1_spec.lua' is gone: dropped");
    project.write("spec-away/s1_spec.lua", &spec("s1", "'away'"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::rename(&away, &spec_folder).expect("mv spec-away spec");
    session.wait_for("running s1 away");
    session.wait_for_count("1 of 1 spec file ran: 1 ok; waiting for a change", 3);
    let output = session.output();
    assert_eq!(
        session.count("running s1 away"),
        1,
        "a write in the moved folder ran as a save of spec/:\n{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn a_nested_spec_folder_moved_away_and_copied_back_runs_its_saves() {
    let project = project("busted-spec-nested");
    project.write("spec/unit/s4_spec.lua", &spec("s4", "'v1'"));
    let mut session = busted_plain(&project, "lua5.4").start();
    session.wait_for("4 of 4 spec files ran: 4 ok; waiting for a change");
    // Moved out of the project, then a copy put back (a restore from a
    // backup): the moved spec/unit's watch must not stand for the copy.
    let away = Scratch::new("busted-spec-nested-away");
    std::fs::rename(project.path("spec"), away.path("spec")).expect("mv spec away");
    session.wait_for("'spec/unit/s4_spec.lua' is gone: dropped");
    for name in [
        "s1_spec.lua",
        "s2_spec.lua",
        "s3_spec.lua",
        "fixture.txt",
        "unit/s4_spec.lua",
    ] {
        let text = std::fs::read_to_string(away.path(&format!("spec/{name}"))).expect("read");
        project.write(&format!("spec/{name}"), &text);
    }
    session.wait_for_count("4 of 4 spec files ran: 4 ok; waiting for a change", 2);
    save(
        &project.path("spec/unit/s4_spec.lua"),
        &spec("s4", "'v2'"),
        Save::InPlace,
    );
    session.wait_for("running s4 v2");
    session.interrupt();
    session.assert_all_gone();
}

/// `spec` a symbolic link to the folder of the spec files: its folder is
/// watched through both names, and a save through either runs the spec.
#[test]
fn a_spec_folder_that_is_a_link_runs_its_saves() {
    let project = Scratch::new("busted-spec-link");
    project.write(
        "src/calc.lua",
        "return { add = function(a, b) return a + b end }\n",
    );
    project.write("specs-a/s1_spec.lua", &spec("s1", "'v1'"));
    std::os::unix::fs::symlink("specs-a", project.path("spec")).expect("ln -s");
    let mut session = busted_plain(&project, "lua5.4").start();
    session.wait_for("1 of 1 spec file ran: 1 ok; waiting for a change");
    save(
        &project.path("spec/s1_spec.lua"),
        &spec("s1", "'v2'"),
        Save::InPlace,
    );
    session.wait_for("running s1 v2");
    session.interrupt();
    session.assert_all_gone();
}
