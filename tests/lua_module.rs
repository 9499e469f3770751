//! The Lua way in: `lua5.4 -l forkmon` and `require "forkmon"`, with the
//! hooks on require, dofile, loadfile, io.open and io.lines, the default
//! filter, both ways at once, and the API's checkpoint and watch.

use forkmon_test_support as common;

use common::{Launch, LuaApp, Save, Scratch, chain, module_path, save};

#[test]
fn lua_l_forkmon_resumes_a_required_module_with_no_configuration() {
    let app = LuaApp::new("module-basic", &["a", "b", "c"], "");
    let mut session = app.launch_module().start();
    session.wait_for("done first");
    save(&app.module("b"), "print(\"b=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    assert!(
        session.program_output().contains("b=2\nc=1\ndone 1"),
        "{}",
        session.output()
    );
    assert_eq!(session.count("startup"), 1);
    assert_eq!(session.count("a=1"), 1);
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn require_forkmon_in_the_script_works_the_same() {
    let app = LuaApp::new("module-require", &["a", "b"], "");
    let main = std::fs::read_to_string(app.dir.path("main.lua")).expect("main");
    app.dir.write(
        "main.lua",
        &format!(
            "local forkmon = require \"forkmon\"\n{main}print(\"resumes \" .. forkmon.resumes())\n"
        ),
    );
    let session = Launch::plain("lua5.4")
        .env("LUA_CPATH", module_path())
        .arg("main.lua")
        .dir(&app.dir.0)
        .start();
    session.wait_for("resumes 0");
    save(&app.module("a"), "print(\"a=2\")\n", Save::InPlace);
    session.wait_for("resumes 1");
    assert!(
        session
            .program_output()
            .contains("a=2\nb=1\ndone 1\nresumes 1"),
        "{}",
        session.output()
    );
}

#[test]
fn dofile_loadfile_io_open_and_io_lines_make_checkpoints() {
    let app = LuaApp::new(
        "module-readers",
        &[],
        "dofile('d.lua')\nloadfile('l.lua')()\nlocal f = io.open('data.txt'); print('data=' .. f:read('l')); f:close()\nfor line in io.lines('lines.txt') do print('line=' .. line) end\nlocal w = io.open('out.txt', 'w'); w:write('x'); w:close()",
    );
    app.dir.write("d.lua", "print('d=1')\n");
    app.dir.write("l.lua", "print('l=1')\n");
    app.dir.write("data.txt", "1\n");
    app.dir.write("lines.txt", "1\n");
    let session = app
        .launch_module()
        .env("FORKMON_FILTER", "%.lua$;%.txt$")
        .start();
    session.wait_for("done first");
    for name in ["d.lua", "l.lua", "data.txt", "lines.txt"] {
        // The watcher says it once it has read the registration.
        session.wait_for(&format!("watch '{}'", app.dir.path(name).display()));
        assert_eq!(
            session.count(&format!("watch '{}'", app.dir.path(name).display())),
            1,
            "{name}:\n{}",
            session.output()
        );
    }
    assert!(
        !session.output().contains("out.txt'"),
        "a file opened for writing was watched:\n{}",
        session.output()
    );
    save(&app.dir.path("data.txt"), "2\n", Save::RenameOver);
    session.wait_for("done 1");
    assert!(
        session.program_output().contains("data=2\nline=1\ndone 1"),
        "{}",
        session.output()
    );
    save(&app.dir.path("l.lua"), "print('l=2')\n", Save::InPlace);
    session.wait_for("done 2");
    assert!(
        session
            .program_output()
            .contains("l=2\ndata=2\nline=1\ndone 2"),
        "{}",
        session.output()
    );
    assert_eq!(session.count("d=1"), 1, "{}", session.output());
}

#[test]
fn the_default_filter_skips_modules_outside_the_start_directory() {
    let outside = Scratch::new("module-outside-lib");
    outside.write("shared.lua", "print('shared=1')\n");
    let app = LuaApp::new(
        "module-default-filter",
        &["a"],
        &format!(
            "package.path = package.path .. ';{}/?.lua'\nrequire 'shared'\nrequire 'sub.inner'",
            outside.0.display()
        ),
    );
    app.dir.write("sub/inner.lua", "print('inner=1')\n");
    let session = app.launch_module().start();
    session.wait_for("done first");
    // The watcher says it once it has read the registrations, in order.
    session.wait_for(&format!(
        "watch '{}'",
        app.dir.path("sub/inner.lua").display()
    ));
    let output = session.output();
    assert!(
        !output.contains("shared.lua'"),
        "an installed module was watched:\n{output}"
    );
    assert!(
        !output.contains("main.lua'"),
        "lua.c loads the script itself, before the module:\n{output}"
    );
}

#[test]
fn preloaded_and_required_at_once_is_one_registry_and_one_watcher() {
    let app = LuaApp::new("module-both", &["a", "b"], "");
    let session = app
        .launch_module()
        .env("LD_PRELOAD", common::library())
        .env("FORKMON_FILTER", "%.lua$")
        .start();
    session.wait_for("program exited");
    let output = session.output();
    said_watch_once(&session, &app, &["main", "a", "b"], &output);
    let processes = session.processes();
    assert_eq!(common::watcher_count(&processes), 1, "{processes:#?}");
    // One holder per file: the first is require's probe of
    // /usr/share/lua/5.4/forkmon.lua (for `-l forkmon`, before main.lua),
    // a file looked for and not found.
    assert_eq!(
        chain(&processes, session.pid()).len(),
        4,
        "one holder per file:\n{processes:#?}"
    );
    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("done 1");
}

#[test]
fn watch_ties_a_data_file_to_the_current_point_and_checkpoint_makes_one_here() {
    let app = LuaApp::new(
        "module-api",
        &["a"],
        "local forkmon = require 'forkmon'\n\
         print('level=' .. io.open('level.json'):read('l'))\n\
         print('watch ' .. tostring(forkmon.watch('level.json')))\n\
         print('checkpoint ' .. tostring(forkmon.checkpoint('shader.glsl')))\n\
         print('shader=' .. io.open('shader.glsl'):read('l'))",
    );
    app.dir.write("level.json", "1\n");
    app.dir.write("shader.glsl", "1\n");
    let session = app.launch_module().start();
    session.wait_for("done first");
    let output = session.program_output();
    assert!(
        output.contains("watch true\ncheckpoint true\nshader=1"),
        "{}",
        session.output()
    );
    // level.json is tied to the latest checkpoint (a.lua's) when watch ran.
    save(&app.dir.path("level.json"), "2\n", Save::RenameOver);
    session.wait_for("done 1");
    assert!(
        session
            .program_output()
            .contains("a=1\nlevel=2\nwatch true\ncheckpoint true\nshader=1\ndone 1"),
        "{}",
        session.output()
    );
    save(&app.dir.path("shader.glsl"), "2\n", Save::InPlace);
    session.wait_for("done 2");
    let output = session.program_output();
    assert!(output.contains("shader=2\ndone 2"), "{}", session.output());
    assert_eq!(
        output.matches("a=1").count(),
        2,
        "resumed from shader.glsl's checkpoint:\n{output}"
    );
}

#[test]
fn a_bad_filter_in_module_mode_is_one_line_and_the_script_runs() {
    let app = LuaApp::new("module-bad-filter", &["a"], "");
    let mut session = app.launch_module().env("FORKMON_FILTER", "%").start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    assert!(
        output.contains("[forkmon] FORKMON_FILTER: malformed pattern (ends with '%')"),
        "{output}"
    );
    assert_eq!(session.count("[forkmon]"), 1, "{output}");
    assert!(session.program_output().contains("done first"), "{output}");
}

#[test]
fn when_nothing_matched_in_module_mode_it_is_said_once_at_the_end() {
    let app = LuaApp::new("module-nomatch", &["a"], "");
    let mut session = app
        .launch_module()
        .env("FORKMON_FILTER", "%.nothing$")
        .start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    assert!(session.program_output().contains("done first"), "{output}");
    assert_eq!(
        common::forkmon_lines(&output),
        ["[forkmon] no opened file matched FORKMON_FILTER='%.nothing$'; nothing was watched"],
        "{output}"
    );
}

#[test]
fn the_library_loads_into_programs_without_lua() {
    let status = std::process::Command::new("/bin/true")
        .env("LD_PRELOAD", common::library())
        .env("FORKMON_FILTER", "%.lua$")
        .status()
        .expect("run /bin/true");
    assert_eq!(
        status.code(),
        Some(0),
        "a Lua module preloaded into /bin/true must load"
    );
}

#[test]
fn no_relocation_to_a_lua_symbol_is_bound_eagerly() {
    let output = std::process::Command::new("readelf")
        .args(["-rW"])
        .arg(common::library())
        .output()
        .expect("readelf (binutils)");
    let text = String::from_utf8_lossy(&output.stdout);
    let lua: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" lua_") || l.contains(" luaL_"))
        .collect();
    assert!(
        !lua.is_empty(),
        "the module references the interpreter's lua_* functions"
    );
    let eager: Vec<&&str> = lua
        .iter()
        .filter(|l| !l.contains("R_X86_64_JUMP_SLOT") && !l.contains("R_AARCH64_JUMP_SLOT"))
        .collect();
    assert!(
        eager.is_empty(),
        "eager relocations to lua symbols:\n{eager:#?}"
    );
}

#[test]
fn the_library_loads_no_other_shared_library_than_the_c_library() {
    // build.rs links the unwinder statically where the C compiler has it:
    // libgcc_s would be one more library (and its CPU probe) in every
    // preloaded process. Where it fell back (it warned), libgcc_s is the
    // one other library.
    let output = std::process::Command::new("readelf")
        .args(["-dW"])
        .arg(common::library())
        .output()
        .expect("readelf (binutils)");
    let text = String::from_utf8_lossy(&output.stdout);
    let needed: Vec<&str> = text.lines().filter(|l| l.contains("(NEEDED)")).collect();
    assert!(!needed.is_empty(), "readelf shows what the library needs");
    let others: Vec<&&str> = needed
        .iter()
        .filter(|l| !l.contains("[libc.so.6]") && !l.contains("[ld-linux"))
        .filter(|l| option_env!("FORKMON_STATIC_UNWINDER").is_some() || !l.contains("[libgcc_s"))
        .collect();
    assert!(others.is_empty(), "the library needs more: {others:#?}");
}

#[test]
fn a_required_copy_of_another_build_hands_over_to_the_preloaded_one() {
    // As a luarocks-installed forkmon.so required under a preloaded
    // target/release/forkmon.so: two files, two copies of the statics.
    let copy = Scratch::new("module-copy-lib");
    std::fs::copy(common::library(), copy.path("forkmon.so")).expect("copy the library");
    let app = LuaApp::new(
        "module-two-copies",
        &["a", "b"],
        "local forkmon = require 'forkmon'\nprint('resumes ' .. forkmon.resumes())\nprint('options ' .. tostring(pcall(forkmon.options)))",
    );
    let session = Launch::plain("lua5.4")
        .env("LD_PRELOAD", common::library())
        .env("FORKMON_FILTER", "%.lua$")
        .env("LUA_CPATH", format!("{}/?.so", copy.0.display()))
        .arg("-l")
        .arg("forkmon")
        .arg("main.lua")
        .dir(&app.dir.0)
        .start();
    session.wait_for("program exited");
    let output = session.output();
    said_watch_once(&session, &app, &["main", "a", "b"], &output);
    assert!(
        session
            .program_output()
            .contains("resumes 0\noptions false"),
        "{output}"
    );
    let processes = session.processes();
    assert_eq!(common::watcher_count(&processes), 1, "{processes:#?}");
    save(&app.module("b"), "print(\"b=2\")\n", Save::InPlace);
    session.wait_for("resumes 1");
}

/// Each module's `watch` line comes once (the watcher says it when it has
/// read the registration).
fn said_watch_once(session: &common::Session, app: &LuaApp, modules: &[&str], output: &str) {
    for module in modules {
        let line = format!(
            "watch '{}'",
            app.dir.path(&format!("{module}.lua")).display()
        );
        session.wait_for(&line);
        assert_eq!(session.count(&line), 1, "{line}:\n{output}");
    }
}
