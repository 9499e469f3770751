//! The `forkmon` command: scripts, any program, usage errors, and the
//! tcc recipe of the README (`forkmon busted` has tests/busted_loop.rs).

use forkmon_test_support as common;

use common::{Launch, LuaApp, Save, Scratch, save};

fn command() -> Launch {
    Launch::plain(env!("CARGO_BIN_EXE_forkmon")).env("FORKMON_LIBRARY", common::library())
}

#[test]
fn forkmon_app_lua_runs_the_script_with_checkpoints_and_its_arguments() {
    let app = LuaApp::new(
        "cmd-script",
        &["a", "b"],
        "print('args ' .. table.concat(arg, ','))",
    );
    let session = command()
        .arg("main.lua")
        .arg("x")
        .arg("--y")
        .dir(&app.dir.0)
        .start();
    session.wait_for("done first");
    assert!(
        session.output().contains("args x,--y"),
        "{}",
        session.output()
    );
    save(&app.module("b"), "print(\"b=2\")\n", Save::RenameOver);
    session.wait_for("done 1");
    assert_eq!(session.count("startup"), 1, "{}", session.output());
}

#[test]
fn a_program_keeps_its_exit_status_and_stdin() {
    let scratch = Scratch::new("cmd-status");
    let mut session = command()
        .arg("--")
        .arg("sh")
        .arg("-c")
        .arg("read x; echo got $x; exit 3")
        .dir(&scratch.0)
        .start();
    session.type_text("hello\n");
    let status = session.wait_exit();
    assert_eq!(status.code(), Some(3), "{}", session.output());
    assert!(
        session.output().contains("got hello"),
        "{}",
        session.output()
    );
}

#[test]
fn usage_errors_are_one_line_and_exit_status_2() {
    for (args, message) in [
        (
            vec!["--frobnicate", "app.lua"],
            "forkmon: unknown option '--frobnicate' (see forkmon --help)",
        ),
        (
            vec!["-q"],
            "forkmon: no program given: forkmon app.lua, or forkmon -- PROGRAM (see forkmon --help)",
        ),
        (
            vec!["--", "no-such-program-here"],
            "forkmon: cannot find the program 'no-such-program-here' in PATH",
        ),
        (
            vec!["--restart-delay", "-1", "app.lua"],
            "forkmon: --restart-delay='-1' is negative",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkmon"))
            .args(&args)
            .env("FORKMON_LIBRARY", common::library())
            .output()
            .expect("run forkmon");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(message), "{args:?}: {stderr}");
    }
    // The interpreter from FORKMON_LUA: the variable is named.
    let (_, stderr) = forkmon_stderr(
        &["app.lua"],
        &[
            ("FORKMON_LIBRARY", common::library().as_os_str()),
            ("FORKMON_LUA", "no-such-lua-here".as_ref()),
        ],
    );
    assert!(
        stderr.starts_with("forkmon: cannot run 'no-such-lua-here' (given with FORKMON_LUA): "),
        "{stderr}"
    );
    // forkmon's library under another name: require looks for forkmon.so
    // in its folder, and would find another build or none.
    let (_, stderr) = forkmon_stderr(
        &["busted"],
        &[("FORKMON_MODULE", common::library().as_os_str())],
    );
    assert!(
        stderr.ends_with("as the forkmon module: its name must be forkmon.so (the name require looks for in its folder)\n"),
        "{stderr}"
    );
    // A library that is not one: said, rather than the program run
    // unwatched after the loader's warning.
    for (args, library, message) in [
        (
            vec!["--library", "/etc/passwd", "app.lua"],
            None,
            "forkmon: cannot use '/etc/passwd' (given with --library) as forkmon's library: \
             not a shared library (no ELF header)",
        ),
        (
            vec!["app.lua"],
            Some("/nonexistent/forkmon.so"),
            "forkmon: cannot use '/nonexistent/forkmon.so' (given with FORKMON_LIBRARY) as \
             forkmon's library: no such file",
        ),
        (
            vec!["--library", "/tmp", "app.lua"],
            None,
            "forkmon: cannot use '/tmp' (given with --library) as forkmon's library: not a file",
        ),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkmon"))
            .args(&args)
            .env(
                "FORKMON_LIBRARY",
                library.map_or(common::library(), Into::into),
            )
            .output()
            .expect("run forkmon");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(message), "{args:?}: {stderr}");
    }
    // The command itself is an ELF file, but not the library (another
    // library would be preloaded, and the program run unwatched).
    let (_, stderr) = forkmon_stderr(
        &["--library", env!("CARGO_BIN_EXE_forkmon"), "app.lua"],
        &[],
    );
    assert!(
        stderr.ends_with("as forkmon's library: a program, not a shared library\n"),
        "{stderr}"
    );
    // A busted module that is not one: require would search on.
    let (status, stderr) =
        forkmon_stderr(&["busted"], &[("FORKMON_MODULE", "/etc/passwd".as_ref())]);
    assert!(!status.success(), "{stderr}");
    assert_eq!(
        stderr,
        "forkmon: cannot use '/etc/passwd' (given with FORKMON_MODULE) as the forkmon module: \
         not a shared library (no ELF header)\n"
    );
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_forkmon"))
        .arg("--help")
        .output()
        .expect("help");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("forkmon [options] -- PROGRAM"));
}

/// Runs the command with `args` and `env`; its status and what it said.
fn forkmon_stderr(
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> (std::process::ExitStatus, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkmon"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run forkmon");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn tcc_project(name: &str) -> Scratch {
    let project = Scratch::new(name);
    common::write_greeting_project(&project.0);
    project
}

#[test]
fn the_tcc_recipe_recompiles_from_the_changed_header() {
    let project = tcc_project("cmd-tcc");
    let session = command()
        .arg("-f")
        .arg("%.h$;%.c$")
        .arg("--")
        .arg("tcc")
        .arg("-run")
        .arg("main.c")
        .dir(&project.0)
        .start();
    let output = common::resume_from_a_new_greeting(&session, &project.0);
    assert_eq!(session.count("hello 1"), 1, "{output}");
}

#[test]
fn clear_empties_the_screen_before_each_resume() {
    let app = LuaApp::new("cmd-clear", &["a"], "");
    let session = command().arg("-c").arg("main.lua").dir(&app.dir.0).start();
    session.wait_for("done first");
    assert!(!session.output().contains("\x1b[2J"));
    save(&app.module("a"), "print(\"a=2\")\n", Save::InPlace);
    session.wait_for("done 1");
    let output = session.output();
    let clear = output.find("\x1b[2J").expect("a clear before the resume");
    assert!(clear < output.find("a=2").expect("the new run"), "{output}");
}

#[test]
fn without_a_filter_a_program_watches_only_the_project_files() {
    let project = tcc_project("cmd-tcc-default");
    let session = command()
        .arg("--")
        .arg("tcc")
        .arg("-run")
        .arg("main.c")
        .dir(&project.0)
        .start();
    session.wait_for("waiting for a change");
    // The watcher says what it watches once it has read the registrations.
    session.wait_for(&format!("watch '{}'", project.path("greeting.h").display()));
    let watched: Vec<String> = session
        .output()
        .lines()
        .filter(|l| l.starts_with("[forkmon] watch"))
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = ["main.c", "greeting.h"]
        .iter()
        .map(|f| format!("[forkmon] watch '{}'", project.path(f).display()))
        .collect();
    assert_eq!(watched, expected, "{}", session.output());
}

/// `forkmon app.lua | head -n 3`: once head has ended, the program dies of
/// SIGPIPE, and the pipeline ends, as it would alone (forkmon waited for a
/// change, and every resume died the same way).
#[test]
fn a_pipeline_whose_reader_ended_ends() {
    let dir = Scratch::new("command-head");
    dir.write(
        "many.lua",
        "for i = 1, 100000 do print('line ' .. i) end\nprint('done')\n",
    );
    let forkmon = env!("CARGO_BIN_EXE_forkmon");
    let mut session = Launch::plain("bash")
        .env("FORKMON_LIBRARY", common::library())
        .args([
            "-c",
            &format!("set -o pipefail; '{forkmon}' many.lua | head -n 3; echo \"status $?\""),
        ])
        .dir(&dir.0)
        .start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    // forkmon's lines (stderr) may come between.
    assert!(
        output.contains("line 3\n") && output.contains("status 141") && !output.contains("line 4"),
        "{output}"
    );
    session.assert_all_gone();
    // Python ignores SIGPIPE: its write fails, and it exits with status 1.
    dir.write(
        "many.py",
        "for i in range(100000):\n    print('line', i + 1)\n",
    );
    let mut session = Launch::plain("bash")
        .env("FORKMON_LIBRARY", common::library())
        .args([
            "-c",
            &format!(
                "set -o pipefail; '{forkmon}' -- python3 many.py 2>/dev/null | head -n 3; \
                 echo \"status $?\""
            ),
        ])
        .dir(&dir.0)
        .start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    assert!(output.contains("status 1\n"), "{output}");
    session.assert_all_gone();
}

#[test]
fn busted_under_a_lua_without_a_module_is_told_to_use_lua_5_4() {
    // Debian's busted starts under Lua 5.1 or 5.2 (`#!/usr/bin/env lua`);
    // an install of the 5.4 module alone left the user at "build it".
    let dir = Scratch::new("busted-other-lua");
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy(env!("CARGO_BIN_EXE_forkmon"), bin.join("forkmon")).expect("copy forkmon");
    std::fs::copy(common::library(), bin.join("forkmon.so")).expect("copy the module");
    let busted = dir.write("bin/busted", "#!/usr/bin/env lua5.1\nprint('busted')\n");
    std::fs::set_permissions(&busted, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new(bin.join("forkmon"))
        .arg("busted")
        .env("PATH", path)
        .env_remove("FORKMON_MODULE")
        .current_dir(&dir.0)
        .output()
        .expect("run forkmon");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("forkmon: cannot find the forkmon module built for Lua 5.1"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "; or run busted under Lua 5.4, for which it is built: forkmon busted --lua=lua5.4 ...\n"
        ),
        "{stderr}"
    );
}

#[test]
fn nothing_matched_under_the_default_filter_names_no_variable_the_user_did_not_set() {
    let dir = Scratch::new("cmd-nothing-matched");
    let mut session = command()
        .env_remove("FORKMON_FILTER")
        .args(["lua5.4", "-e", "print('no file read')"])
        .dir(&dir.0)
        .start();
    session.wait_exit();
    let output = session.output();
    let lines = common::forkmon_lines(&output);
    assert_eq!(lines.len(), 1, "{output}");
    // The filter is the directory as a Lua pattern ('-' is '%-').
    assert!(
        lines[0].starts_with("[forkmon] no opened file matched the filter '^/tmp/forkmon%-test%-")
            && lines[0].ends_with("/'; nothing was watched"),
        "{output}"
    );
}
