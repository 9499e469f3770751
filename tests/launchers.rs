//! Programs started through launchers: a `#!/bin/sh` script shaped like
//! Nelua's, a `#!/usr/bin/env lua5.4` script, Debian's busted, a luarocks
//! wrapper, `tcc -run` behind a shell script. forkmon follows the program
//! through `exec` until its first checkpoint; each test edits a file and
//! checks that the launcher's work (which appends a line to `launches.log`)
//! is not done again, and that Ctrl+C leaves nothing behind.

use forkmon_test_support as common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Launch, Save, Scratch, forkmon_lines, save, watcher_count};

fn command() -> Launch {
    Launch::plain(env!("CARGO_BIN_EXE_forkmon")).env("FORKMON_LIBRARY", common::library())
}

fn launches(dir: &Scratch) -> usize {
    std::fs::read_to_string(dir.path("launches.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A launcher like Nelua's: it finds its own folder through `$(...)`
/// subshells running realpath and dirname, logs that it ran, and execs
/// `exec_line` (with `$DIR` its folder).
fn shell_launcher(dir: &Scratch, name: &str, exec_line: &str) -> PathBuf {
    let launcher = dir.write(
        &format!("tool/{name}"),
        &format!(
            "#!/bin/sh\n\
             SCRIPT=$(realpath \"$0\")\n\
             DIR=$(dirname \"$SCRIPT\")\n\
             echo launched >> \"$DIR/../launches.log\"\n\
             {exec_line}\n"
        ),
    );
    make_executable(&launcher);
    launcher
}

/// A Lua program in `tool/` that requires `a` and `b` from the project and
/// runs a subprocess that shows what it inherited.
fn lua_tool(dir: &Scratch) {
    dir.write(
        "tool/main.lua",
        "package.path = arg[1] .. '/?.lua;' .. package.path\n\
         print('startup')\n\
         require 'a'\n\
         require 'b'\n\
         os.execute('echo \"subprocess LD_PRELOAD=[$LD_PRELOAD]\"')\n\
         print('done ' .. (os.getenv('FORKMON_RESTART_TICKS') or 'first'))\n",
    );
    dir.write("project/a.lua", "print('a=1')\n");
    dir.write("project/b.lua", "print('b=1')\n");
}

#[test]
fn a_nelua_shaped_shell_launcher_runs_its_program_watched() {
    let dir = Scratch::new("launch-sh");
    lua_tool(&dir);
    let launcher = shell_launcher(&dir, "run", "exec lua5.4 \"$DIR/main.lua\" \"$@\"");
    // Another preload, by bare name, stays for the subprocesses.
    let preload = format!("{} libm.so.6", common::library().display());
    let mut session = Launch::preloaded(&launcher, "%.lua$")
        .env("LD_PRELOAD", &preload)
        .arg(dir.path("project"))
        .dir(&dir.0)
        .start();
    session.wait_for("done first");
    session.wait_for("waiting for a change");
    let output = session.output();
    assert!(
        output.contains("subprocess LD_PRELOAD=[libm.so.6]"),
        "{output}"
    );
    save(
        &dir.path("project/b.lua"),
        "print('b=2')\n",
        Save::RenameOver,
    );
    session.wait_for("done 1");
    let output = session.output();
    assert!(session.program_output().contains("b=2\n"), "{output}");
    assert_eq!(session.count("startup"), 1, "{output}");
    assert_eq!(launches(&dir), 1, "the launcher ran again:\n{output}");
    // The helpers (realpath, dirname, subshells) started no watcher.
    assert_eq!(watcher_count(&session.processes()), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn an_env_lua_script_runs_watched() {
    let dir = Scratch::new("launch-env");
    dir.write("a.lua", "print('a=1')\n");
    let script = dir.write(
        "app",
        "#!/usr/bin/env lua5.4\n\
         local log = assert(io.open('launches.log', 'a')); log:write('launched\\n'); log:close()\n\
         print('startup')\n\
         require 'a'\n\
         print('done ' .. (os.getenv('FORKMON_RESTART_TICKS') or 'first'))\n",
    );
    make_executable(&script);
    let mut session = Launch::preloaded(&script, "%.lua$").dir(&dir.0).start();
    session.wait_for("done first");
    save(&dir.path("a.lua"), "print('a=2')\n", Save::InPlace);
    session.wait_for("done 1");
    let output = session.output();
    assert!(session.program_output().contains("a=2\n"), "{output}");
    assert_eq!(launches(&dir), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// The name of a library file found through `LD_LIBRARY_PATH`, as the
/// loader finds a bare `LD_PRELOAD` entry.
#[test]
fn a_bare_library_name_in_ld_preload_is_forkmon() {
    let dir = Scratch::new("launch-bare");
    lua_tool(&dir);
    let launcher = shell_launcher(&dir, "run", "exec lua5.4 \"$DIR/main.lua\" \"$@\"");
    let library = common::library();
    let folder = library.parent().expect("library folder");
    let name = library.file_name().expect("library name");
    let mut session = Launch::preloaded(&launcher, "%.lua$")
        .env("LD_PRELOAD", name)
        .env("LD_LIBRARY_PATH", folder)
        .arg(dir.path("project"))
        .dir(&dir.0)
        .start();
    session.wait_for("done first");
    session.wait_for(&format!("watch '{}'", dir.path("project/b.lua").display()));
    // Its own entry left LD_PRELOAD at the first checkpoint.
    assert!(
        session.output().contains("subprocess LD_PRELOAD=[]"),
        "{}",
        session.output()
    );
    save(&dir.path("project/a.lua"), "print('a=2')\n", Save::InPlace);
    session.wait_for("done 1");
    assert_eq!(launches(&dir), 1, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

/// A C program whose message comes from a project header, run by a shell
/// launcher with `tcc -run`.
#[test]
fn tcc_run_behind_a_shell_launcher_recompiles_from_the_changed_header() {
    let dir = Scratch::new("launch-tcc");
    common::write_greeting_project(&dir.path("project"));
    let launcher = shell_launcher(&dir, "run-c", "exec tcc -run \"$@\"");
    let mut session = Launch::preloaded(&launcher, "%.h$;%.c$")
        .arg("main.c")
        .dir(&dir.path("project"))
        .start();
    let output = common::resume_from_a_new_greeting(&session, &dir.path("project"));
    assert_eq!(launches(&dir), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A rock with a `bin` script, installed by `luarocks make` into a tree of
/// its own: luarocks writes the `#!/bin/sh` wrapper that sets package.path
/// and execs lua5.4 on the script.
fn installed_rock(dir: &Scratch) -> PathBuf {
    dir.write(
        "rock/greet-1.0-1.rockspec",
        "package = 'greet'\nversion = '1.0-1'\nsource = { url = 'file:///dev/null' }\n\
         build = { type = 'builtin', modules = { greetmod = 'src/greetmod.lua' },\n\
           install = { bin = { greet = 'bin/greet.lua' } } }\n",
    );
    dir.write("rock/src/greetmod.lua", "return { text = 'hello 1' }\n");
    dir.write(
        "rock/bin/greet.lua",
        "local log = assert(io.open(os.getenv('LAUNCH_LOG'), 'a')); log:write('launched\\n'); log:close()\n\
         print('startup')\n\
         print(require('greetmod').text)\n\
         print('done ' .. (os.getenv('FORKMON_RESTART_TICKS') or 'first'))\n",
    );
    let tree = dir.path("tree");
    let installed = Command::new("luarocks")
        .arg("--lua-version=5.4")
        .arg("make")
        .arg(format!("--tree={}", tree.display()))
        .arg("greet-1.0-1.rockspec")
        .current_dir(dir.path("rock"))
        .output()
        .expect("run luarocks");
    assert!(
        installed.status.success(),
        "luarocks make failed:\n{}{}",
        String::from_utf8_lossy(&installed.stdout),
        String::from_utf8_lossy(&installed.stderr)
    );
    let wrapper = tree.join("bin/greet");
    let text = std::fs::read_to_string(&wrapper).expect("the wrapper luarocks wrote");
    assert!(text.starts_with("#!/bin/sh"), "{text}");
    wrapper
}

#[test]
fn a_luarocks_installed_command_runs_watched_from_its_tree() {
    let dir = Scratch::new("launch-rock");
    let wrapper = installed_rock(&dir);
    let module = dir.path("tree/share/lua/5.4/greetmod.lua");
    for (how, launch) in [
        (
            "LD_PRELOAD",
            Launch::preloaded(&wrapper, "%.lua$").dir(&dir.path("tree")),
        ),
        (
            "forkmon",
            command()
                .arg("-f")
                .arg("%.lua$")
                .arg(&wrapper)
                .dir(&dir.path("tree")),
        ),
    ] {
        let _ = std::fs::remove_file(dir.path("launches.log"));
        std::fs::write(&module, "return { text = 'hello 1' }\n").expect("reset module");
        let mut session = launch.env("LAUNCH_LOG", dir.path("launches.log")).start();
        session.wait_for("done first");
        save(&module, "return { text = 'hello 2' }\n", Save::RenameOver);
        session.wait_for("done 1");
        let output = session.output();
        assert!(output.contains("hello 2"), "{how}: {output}");
        assert_eq!(session.count("startup"), 1, "{how}: {output}");
        assert_eq!(launches(&dir), 1, "{how}: {output}");
        session.interrupt();
        session.assert_all_gone();
    }
}

/// Debian's busted is `#!/usr/bin/env lua`: through `env` to Lua 5.1.
fn busted_installed() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v busted"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: busted is not installed (CI installs lua-busted)");
    }
    found
}

const SPEC: &str = r#"
describe("NAME", function()
  it("runs", function()
    print("running NAME VALUE")
  end)
end)
"#;

fn busted_project(dir: &Scratch) {
    for name in ["s1", "s2"] {
        dir.write(
            &format!("spec/{name}_spec.lua"),
            &SPEC.replace("NAME", name).replace("VALUE", "1"),
        );
    }
    // busted loads a helper once, before the spec files.
    dir.write(
        "helper.lua",
        "local log = assert(io.open('launches.log', 'a')); log:write('launched\\n'); log:close()\n",
    );
}

#[test]
fn debian_busted_runs_watched_through_ld_preload_and_the_command() {
    if !busted_installed() {
        return;
    }
    // Debian's busted starts under Lua 5.1 or 5.2; with --lua it runs
    // itself again under that Lua and waits: that run is watched.
    for how in ["LD_PRELOAD", "LD_PRELOAD --lua", "forkmon"] {
        let dir = Scratch::new("launch-busted");
        busted_project(&dir);
        // Through the command, busted runs its integration (tests/busted_loop.rs),
        // with the module built for the Lua given.
        let launch = match how {
            "LD_PRELOAD" => Launch::preloaded("busted", "%.lua$"),
            "LD_PRELOAD --lua" => Launch::preloaded("busted", "%.lua$").arg("--lua=lua5.4"),
            _ => command()
                .env(
                    "FORKMON_MODULE",
                    PathBuf::from(common::module_path().trim_end_matches("?.so"))
                        .join("forkmon.so"),
                )
                .arg("busted")
                .arg("--lua=lua5.4"),
        };
        let mut session = launch
            .arg("--helper=helper.lua")
            .arg("-o")
            .arg("plainTerminal")
            .arg("spec")
            .dir(&dir.0)
            .start();
        session.wait_for("2 successes");
        save(
            &dir.path("spec/s2_spec.lua"),
            &SPEC.replace("NAME", "s2").replace("VALUE", "2"),
            Save::RenameOver,
        );
        session.wait_for("running s2 2");
        let output = match how {
            // busted resumed from just before it read s2: s2 runs again,
            // and so does every test after that point.
            "LD_PRELOAD" | "LD_PRELOAD --lua" => {
                session.wait_for_count("2 successes", 2);
                let output = session.output();
                assert!(
                    output.contains(&format!(
                        "'{}' changed, resuming from it",
                        dir.path("spec/s2_spec.lua").display()
                    )),
                    "{how}: {output}"
                );
                output
            }
            // Only the spec that read the saved file runs.
            _ => {
                session.wait_for("1 success");
                session.output()
            }
        };
        assert_eq!(launches(&dir), 1, "{how}: busted started again:\n{output}");
        session.interrupt();
        session.assert_all_gone();
    }
}

#[test]
fn the_command_runs_a_shell_launcher_without_a_word_about_it() {
    let dir = Scratch::new("launch-cmd");
    lua_tool(&dir);
    let launcher = shell_launcher(&dir, "run", "exec lua5.4 \"$DIR/main.lua\" \"$@\"");
    let mut session = command()
        .arg(&launcher)
        .arg(dir.path("project"))
        .dir(&dir.path("project"))
        .start();
    session.wait_for("done first");
    save(&dir.path("project/a.lua"), "print('a=2')\n", Save::InPlace);
    session.wait_for("done 1");
    let output = session.output();
    assert!(!output.contains("shell script"), "{output}");
    assert_eq!(session.count("startup"), 1, "{output}");
    assert_eq!(launches(&dir), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn when_nothing_matched_the_process_the_user_started_says_so_once() {
    let dir = Scratch::new("launch-nomatch");
    lua_tool(&dir);
    let launcher = shell_launcher(&dir, "run", "exec lua5.4 \"$DIR/main.lua\" \"$@\"");
    let mut session = Launch::preloaded(&launcher, "%.nothing$")
        .arg(dir.path("project"))
        .dir(&dir.0)
        .start();
    let status = session.wait_exit();
    assert!(status.success(), "{}", session.output());
    let output = session.output();
    assert!(output.contains("done first"), "{output}");
    assert_eq!(
        forkmon_lines(&output),
        ["[forkmon] no opened file matched FORKMON_FILTER='%.nothing$'; nothing was watched"],
        "{output}"
    );
    session.assert_all_gone();
}

#[test]
fn a_bash_script_that_sources_a_watched_file_resumes_from_it() {
    // bash defines its own getenv and setenv: a setenv before its main
    // left every option read as unset (forkmon said it was off).
    let dir = Scratch::new("launch-bash");
    dir.write("settings.conf", "VALUE=1\n");
    let script = dir.write(
        "run",
        "#!/bin/bash\n/bin/true\nx=$(/bin/true)\n. ./settings.conf\necho \"value $VALUE\"\n/bin/true\nexec sleep 1000\n",
    );
    make_executable(&script);
    let mut session = Launch::preloaded(&script, "%.conf$").dir(&dir.0).start();
    session.wait_for("value 1");
    let watch = format!("watch '{}'", dir.path("settings.conf").display());
    session.wait_for(&watch);
    save(&dir.path("settings.conf"), "VALUE=2\n", Save::InPlace);
    session.wait_for("value 2");
    let output = session.output();
    let lines = forkmon_lines(&output);
    assert_eq!(lines.len(), 2, "{output}");
    assert!(lines[0].ends_with(&watch), "{output}");
    assert!(
        lines[1].contains("changed, resuming from it (resume #1"),
        "{output}"
    );
    // Ctrl+C once the run is `sleep`: while bash waits for /bin/true, a
    // Ctrl+C that /bin/true outlives is bash's to ignore (alone too), and
    // the sleep after it would run on.
    session.wait_for_processes("the resumed run to be sleep", |processes| {
        processes
            .iter()
            .any(|p| p.name == "sleep" && p.state == 'S')
    });
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn when_nothing_matched_under_bash_it_is_said_once() {
    // The commands bash starts are not the process the user started.
    let dir = Scratch::new("launch-bash-nomatch");
    let mut session = Launch::preloaded("bash", "%.nothing$")
        .arg("-c")
        .arg("/bin/true; x=$(/bin/true); /bin/true; echo done")
        .dir(&dir.0)
        .start();
    let status = session.wait_exit();
    assert!(status.success(), "{}", session.output());
    let output = session.output();
    assert!(output.contains("done"), "{output}");
    assert_eq!(
        forkmon_lines(&output),
        ["[forkmon] no opened file matched FORKMON_FILTER='%.nothing$'; nothing was watched"],
        "{output}"
    );
    session.assert_all_gone();
}

#[test]
fn when_a_file_was_watched_nothing_is_said_about_the_filter() {
    let dir = Scratch::new("launch-matched");
    lua_tool(&dir);
    let launcher = shell_launcher(&dir, "run", "exec lua5.4 \"$DIR/main.lua\" \"$@\"");
    let mut session = Launch::preloaded(&launcher, "%.lua$")
        .arg(dir.path("project"))
        .dir(&dir.0)
        .start();
    session.wait_for("done first");
    session.wait_for("waiting for a change");
    save(&dir.path("project/b.lua"), "print('b=2')\n", Save::InPlace);
    session.wait_for("done 1");
    session.wait_for_count("waiting for a change", 2);
    session.interrupt();
    session.assert_all_gone();
    assert!(
        !session.output().contains("no opened file matched"),
        "{}",
        session.output()
    );
}

#[test]
fn a_shell_launcher_below_the_current_directory_is_not_a_checkpoint() {
    // The command's default filter (every file below the current
    // directory) matches the launcher too: the shell's read of its own
    // script must not be the first checkpoint, which would take forkmon out
    // of LD_PRELOAD before the shell execs the program.
    let dir = Scratch::new("launch-below");
    lua_tool(&dir);
    let launcher = shell_launcher(&dir, "run", "exec lua5.4 \"$DIR/main.lua\" \"$@\"");
    let mut session = command()
        .arg("./tool/run")
        .arg(dir.path("project"))
        .dir(&dir.0)
        .start();
    session.wait_for("done first");
    session.wait_for(&format!("watch '{}'", dir.path("project/b.lua").display()));
    save(&dir.path("project/a.lua"), "print('a=2')\n", Save::InPlace);
    session.wait_for("done 1");
    let output = session.output();
    assert!(
        !output.contains(&format!("watch '{}'", launcher.display())),
        "{output}"
    );
    assert_eq!(launches(&dir), 1, "{output}");
    assert_eq!(watcher_count(&session.processes()), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A program that starts a helper before it reads a watched file itself
/// (`system("cat a.txt")`, `popen`): the helper inherits forkmon, but is
/// not taken for the program (its holder would wait for a change, and the
/// program for it, forever).
#[test]
fn a_helper_the_program_runs_before_its_first_checkpoint_is_not_the_program() {
    let dir = Scratch::new("launch-helper");
    dir.write("a.txt", "a=1\n");
    dir.write("b.txt", "b=1\n");
    let mut session = Launch::preloaded(common::host_program(), "%.txt$")
        // Their output is not read by the program (that is said otherwise).
        .args([
            "popen",
            "cat a.txt >/dev/null; cat a.txt >/dev/null",
            "pclose",
            "read",
            "b.txt",
        ])
        .args(["print", "ready", "sleep", "60000"])
        .dir(&dir.0)
        .start();
    session.wait_for("pclose: ok");
    session.wait_for("ready");
    session.wait_for("was read by cat (pid ");
    save(&dir.path("b.txt"), "b=2\n", Save::RenameOver);
    session.wait_for("b=2");
    let output = session.output();
    assert!(
        output.contains("which host") && output.contains("started before its own first checkpoint"),
        "{output}"
    );
    assert_eq!(
        session.count("was read by cat"),
        2,
        "one line per helper:\n{output}"
    );
    assert!(
        !output.contains(&format!("watch '{}'", dir.path("a.txt").display())),
        "{output}"
    );
    assert_eq!(session.count("changed, resuming"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// The host program, reading a.txt in `dir` then sleeping, is watched: a
/// save of a.txt resumes it, and Ctrl+C ends everything.
fn the_host_resumes_at_a_save_of_a_txt(mut session: common::Session, dir: &Scratch) {
    session.wait_for("ready");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
    session.interrupt();
    session.assert_all_gone();
}

/// `timeout` starts the program and waits for it: that program is watched.
#[test]
fn a_program_started_by_timeout_is_watched() {
    let dir = Scratch::new("launch-timeout");
    dir.write("a.txt", "a=1\n");
    let session = Launch::preloaded("timeout", "%.txt$")
        .args(["600"])
        .arg(common::host_program())
        .args(["read", "a.txt", "print", "ready", "sleep", "60000"])
        .dir(&dir.0)
        .start();
    the_host_resumes_at_a_save_of_a_txt(session, &dir);
}

/// A Python script that starts the program and waits for it (a dev
/// server's runner, a test harness): that program is watched.
#[test]
fn a_program_started_by_a_python_script_is_watched() {
    let dir = Scratch::new("launch-python");
    dir.write("a.txt", "a=1\n");
    let runner = format!(
        "import subprocess, sys; sys.exit(subprocess.run([{:?}, 'read', 'a.txt', 'print', 'ready', 'sleep', '60000']).returncode)",
        common::host_program().display().to_string()
    );
    // Debian's, not a version manager's shim (a shell script).
    // Python looks for a pybuilddir.txt at its start (missing): that would
    // make Python the program.
    let session = Launch::preloaded("/usr/bin/python3", "/a%.txt$")
        .args(["-c", &runner])
        .dir(&dir.0)
        .start();
    the_host_resumes_at_a_save_of_a_txt(session, &dir);
}

/// A launcher that reads a file below the current directory through a
/// command substitution (`v=$(cat VERSION)`), under the command's default
/// filter: the `cat` is no program (its holder would wait for a change,
/// and the launcher for its output, forever); the program it starts is.
#[test]
fn a_launchers_command_substitution_is_not_the_program() {
    let dir = Scratch::new("launch-substitution");
    dir.write("VERSION", "1.2\n");
    dir.write("app.lua", "print('app ' .. ... .. ' a=1')\n");
    let launcher = dir.write(
        "launch",
        "#!/bin/sh\nv=$(cat VERSION)\necho \"version $v\"\nlua5.4 app.lua \"$v\"\n",
    );
    make_executable(&launcher);
    let mut session = command().arg("./launch").dir(&dir.0).start();
    session.wait_for("app 1.2 a=1");
    save(
        &dir.path("app.lua"),
        "print('app ' .. ... .. ' a=2')\n",
        Save::RenameOver,
    );
    session.wait_for("app 1.2 a=2");
    let output = session.output();
    assert!(
        output.contains("was read by cat (pid ") && output.contains(" reads: not watched"),
        "{output}"
    );
    assert_eq!(session.count("version 1.2"), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A launcher's tools that read a file below the current directory, under
/// the command's default filter, without their output going back to it
/// (`grep -q`, `cat | tr`): no program (the launcher waited for the first
/// forever); the program the launcher execs after them is.
#[test]
fn a_launchers_tools_reading_its_files_are_not_the_program() {
    let dir = Scratch::new("launch-tools");
    dir.write("VERSION", "1.2\n");
    dir.write("app.lua", "print('app a=1')\n");
    let launcher = dir.write(
        "launch",
        "#!/bin/sh\n\
         if grep -q 1 VERSION; then echo has one; fi\n\
         cat VERSION | tr . _\n\
         exec lua5.4 app.lua\n",
    );
    make_executable(&launcher);
    let mut session = command().arg("./launch").dir(&dir.0).start();
    session.wait_for("app a=1");
    save(&dir.path("app.lua"), "print('app a=2')\n", Save::RenameOver);
    session.wait_for("app a=2");
    let output = session.output();
    for tool in ["grep", "cat"] {
        assert!(
            output.contains(&format!("was read by {tool} (pid ")) && output.contains(", a tool "),
            "{output}"
        );
    }
    assert!(
        session.program_output().contains("has one\n1_2\napp a=1\n"),
        "{output}"
    );
    assert!(
        !output.contains(&format!("watch '{}'", dir.path("VERSION").display())),
        "{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}

/// With a filter the user gave, a tool the launcher runs without `exec`
/// (`awk -f prog.awk`) is the program to watch, as the filter says.
#[test]
fn a_launchers_tool_is_the_program_under_a_filter_the_user_gave() {
    let dir = Scratch::new("launch-awk");
    dir.write("prog.awk", "BEGIN { print \"awk v1\" }\n");
    let launcher = dir.write("run", "#!/bin/sh\nawk -f prog.awk\necho launcher done\n");
    make_executable(&launcher);
    let mut session = command()
        .args(["-f", "%.awk$", "./run"])
        .dir(&dir.0)
        .start();
    session.wait_for("awk v1");
    session.wait_for("waiting for a change");
    save(
        &dir.path("prog.awk"),
        "BEGIN { print \"awk v2\" }\n",
        Save::RenameOver,
    );
    session.wait_for("awk v2");
    let output = session.output();
    assert!(!output.contains("a tool"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A launcher whose output goes into a pipe (`forkmon ./launch | cat`)
/// holds the writing end of the pipe its program writes to: the program is
/// no helper whose output the launcher reads.
#[test]
fn a_launchers_program_writing_into_a_pipe_is_watched() {
    let dir = Scratch::new("launch-piped");
    dir.write("app.lua", "print('app a=1')\n");
    let launcher = dir.write(
        "launch",
        "#!/bin/sh\necho launcher start\nlua5.4 app.lua\necho launcher end\n",
    );
    make_executable(&launcher);
    let forkmon = env!("CARGO_BIN_EXE_forkmon");
    let mut session = Launch::plain("sh")
        .env("FORKMON_LIBRARY", common::library())
        .args(["-c", &format!("'{forkmon}' ./launch | cat")])
        .dir(&dir.0)
        .start();
    session.wait_for("app a=1");
    save(&dir.path("app.lua"), "print('app a=2')\n", Save::RenameOver);
    session.wait_for("app a=2");
    let output = session.output();
    assert!(!output.contains("not watched"), "{output}");
    session.interrupt();
    session.assert_all_gone();
}
