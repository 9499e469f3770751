//! A directory the program listed is an input too: a file added to it or
//! removed from it resumes from the checkpoint before the listing, when the
//! filter matches the directory's path with a trailing '/'.

use forkmon_test_support as common;

use common::{Launch, Save, Scratch, save};

const LISTER: &str = r#"
local lfs = require "lfs"
print("startup")
local log = assert(io.open("launches.log", "a")); log:write("ran\n"); log:close()
local names = {}
for name in lfs.dir("spec") do
  if name:match("%.lua$") then names[#names + 1] = name end
end
table.sort(names)
print("listed " .. table.concat(names, ","))
"#;

/// `path` as a Lua pattern that matches it literally.
fn escaped(path: &std::path::Path) -> String {
    path.display()
        .to_string()
        .chars()
        .flat_map(|c| {
            let magic = "^$()%.[]*+-?".contains(c);
            magic.then_some('%').into_iter().chain([c])
        })
        .collect()
}

/// `lua5.4 main.lua` in `dir`, watching every file below it and its
/// folders' listings.
fn lua_in(dir: &Scratch) -> Launch {
    let filter = format!("^{}/", escaped(&dir.0));
    Launch::preloaded("lua5.4", &filter)
        .arg("main.lua")
        .dir(&dir.0)
}

fn runs(dir: &Scratch) -> usize {
    std::fs::read_to_string(dir.path("launches.log"))
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn a_file_added_to_or_removed_from_a_listed_directory_resumes_before_the_listing() {
    let dir = Scratch::new("listing-lfs");
    dir.write("main.lua", LISTER);
    dir.write("spec/a.lua", "");
    dir.write("spec/b.lua", "");
    let mut session = lua_in(&dir).start();
    session.wait_for("listed a.lua,b.lua\n");
    session.wait_for("waiting for a change");
    dir.write("spec/c.lua", "");
    session.wait_for("listed a.lua,b.lua,c.lua\n");
    std::fs::remove_file(dir.path("spec/a.lua")).expect("remove a.lua");
    session.wait_for("listed b.lua,c.lua\n");
    let output = session.output();
    assert_eq!(session.count("startup"), 1, "{output}");
    assert_eq!(runs(&dir), 1, "{output}");
    // An editor's save of a listed file is no change of the listing.
    save(&dir.path("spec/b.lua"), "-- edited\n", Save::RenameOver);
    session.wait_for_count("waiting for a change", 3);
    assert_eq!(session.count("listed "), 3, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

const C_LISTER: &str = r#"
#include <dirent.h>
#include <stdio.h>

int main(void) {
    printf("startup\n");
    DIR *dir = opendir("data");
    int count = 0;
    for (struct dirent *entry; dir && (entry = readdir(dir));)
        if (entry->d_name[0] != '.') count++;
    if (dir) closedir(dir);
    printf("entries %d\n", count);
    return 0;
}
"#;

#[test]
fn a_c_program_that_lists_with_opendir_resumes_when_a_file_is_added() {
    let dir = Scratch::new("listing-c");
    let program = dir.compile_c("lister", C_LISTER);
    dir.write("data/one.txt", "1");
    let filter = format!("^{}/data/", escaped(&dir.0));
    let mut session = Launch::preloaded(&program, &filter).dir(&dir.0).start();
    session.wait_for("entries 1\n");
    session.wait_for("waiting for a change");
    dir.write("data/two.txt", "2");
    session.wait_for("entries 2\n");
    assert_eq!(session.count("startup"), 1, "{}", session.output());
    session.interrupt();
    session.assert_all_gone();
}

const C_SCANDIR_AND_GLOB: &str = r#"
#include <dirent.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

static int conf(const struct dirent *entry) {
    return strstr(entry->d_name, ".conf") != NULL;
}

int main(int argc, char **argv) {
    int count = 0;
    if (strcmp(argv[1], "scandir") == 0) {
        struct dirent **names;
        count = scandir("plugins", &names, conf, alphasort);
    } else {
        glob_t found;
        if (glob("plugins/*.conf", 0, NULL, &found) == 0) count = (int)found.gl_pathc;
    }
    printf("plugins %d\n", count);
    return 0;
}
"#;

#[test]
fn scandir_and_glob_listings_resume_when_a_file_is_added() {
    // glibc lists with its own opendir there, which the detour of opendir
    // does not see: a plugin added was never run.
    for way in ["scandir", "glob"] {
        let dir = Scratch::new(&format!("listing-{way}"));
        let program = dir.compile_c("lister", C_SCANDIR_AND_GLOB);
        dir.write("plugins/a.conf", "a");
        let filter = format!("^{}/plugins/", escaped(&dir.0));
        let mut session = Launch::preloaded(&program, &filter)
            .arg(way)
            .dir(&dir.0)
            .start();
        session.wait_for("plugins 1\n");
        session.wait_for("waiting for a change");
        dir.write("plugins/b.conf", "b");
        session.wait_for("plugins 2\n");
        session.interrupt();
        session.assert_all_gone();
    }
}

#[test]
fn listing_a_folder_that_is_not_there_leaves_the_rest_watched() {
    // The program probes an optional folder: its watch failed, and forkmon
    // stopped watching anything for the rest of the run.
    let dir = Scratch::new("listing-missing");
    let program = dir.compile_c("lister", C_LISTER_THEN_READER);
    dir.write("a.txt", "a=1\n");
    let filter = format!("^{}/", escaped(&dir.0));
    let mut session = Launch::preloaded(&program, &filter).dir(&dir.0).start();
    session.wait_for("waiting for a change");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for("read a=2");
    assert!(
        !session.output().contains("cannot watch"),
        "{}",
        session.output()
    );
    session.interrupt();
    session.assert_all_gone();
}

const C_LISTER_THEN_READER: &str = r#"
#include <dirent.h>
#include <stdio.h>

int main(void) {
    DIR *dir = opendir("plugins");
    if (dir) closedir(dir);
    char line[64] = "";
    FILE *file = fopen("a.txt", "r");
    if (file && fgets(line, sizeof line, file)) printf("read %s", line);
    if (file) fclose(file);
    return 0;
}
"#;

#[test]
fn a_resume_from_a_listing_names_the_listed_folder() {
    // A listing's checkpoint has no stamp, as one made before the lookup of
    // a missing file: it was named a lookup.
    let dir = Scratch::new("listing-named");
    let program = dir.compile_c("lister", C_LISTER_THEN_READER);
    dir.write("plugins/one.conf", "1");
    dir.write("a.txt", "a=1\n");
    let filter = format!("^{}/", escaped(&dir.0));
    let mut session = Launch::preloaded(&program, &filter)
        .env_remove("FORKMON_MIN_WORK")
        .dir(&dir.0)
        .start();
    session.wait_for("waiting for a change");
    save(&dir.path("a.txt"), "a=2\n", Save::RenameOver);
    session.wait_for("read a=2");
    let output = session.output();
    let from_the_listing = format!(
        "'{}' changed, resuming from '{}/' (resume #1",
        dir.path("a.txt").display(),
        dir.path("plugins").display()
    );
    assert!(output.contains(&from_the_listing), "{output}");
    session.interrupt();
    session.assert_all_gone();
}

#[test]
fn busted_runs_a_spec_file_created_while_forkmon_waits() {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v busted"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: busted is not installed (CI installs lua-busted)");
        return;
    }
    let dir = Scratch::new("listing-busted");
    let spec = |name: &str| {
        format!(
            "describe('{name}', function() it('runs', function() print('running {name}') end) end)\n"
        )
    };
    dir.write("spec/s1_spec.lua", &spec("s1"));
    dir.write("spec/s2_spec.lua", &spec("s2"));
    dir.write(
        "helper.lua",
        "local log = assert(io.open('launches.log', 'a')); log:write('ran\\n'); log:close()\n",
    );
    // Through LD_PRELOAD, busted is resumed as any program: from before it
    // listed spec/ (`forkmon busted` has its own loop: tests/busted_loop.rs).
    let mut session = Launch::preloaded("busted", "%.lua$;/spec/$")
        .arg("--helper=helper.lua")
        .arg("-o")
        .arg("plainTerminal")
        .arg("spec")
        .dir(&dir.0)
        .start();
    session.wait_for("2 successes");
    session.wait_for("waiting for a change");
    dir.write("spec/s3_spec.lua", &spec("s3"));
    session.wait_for("3 successes");
    let output = session.output();
    assert!(output.contains("running s3"), "{output}");
    assert_eq!(runs(&dir), 1, "busted started again:\n{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// busted's way: list spec/, then read each file listed. Deleting one of
/// them changes the listing too: it resumes from before the listing (it
/// said "removed; waits for it to come back" and nothing ran).
#[test]
fn a_listed_file_that_was_read_and_then_deleted_resumes_before_the_listing() {
    let dir = Scratch::new("listing-read-deleted");
    dir.write(
        "main.lua",
        &format!("{LISTER}for _, name in ipairs(names) do dofile('spec/' .. name) end\nprint('read all')\n"),
    );
    dir.write("spec/a.lua", "print('a ran')\n");
    dir.write("spec/b.lua", "print('b ran')\n");
    let mut session = lua_in(&dir).start();
    session.wait_for("read all");
    session.wait_for("waiting for a change");
    std::fs::remove_file(dir.path("spec/b.lua")).expect("remove b.lua");
    session.wait_for("listed a.lua\n");
    session.wait_for_count("read all", 2);
    let output = session.output();
    assert_eq!(session.count("b ran"), 1, "{output}");
    assert_eq!(session.count("was removed"), 0, "{output}");
    assert_eq!(runs(&dir), 1, "{output}");
    session.interrupt();
    session.assert_all_gone();
}

/// A C program that lists data/, prints how many entries it found, then
/// runs `after_listing`.
fn lister_then(after_listing: &str) -> String {
    format!(
        r#"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(void) {{
    DIR *dir = opendir("data");
    int count = 0;
    for (struct dirent *entry; dir && (entry = readdir(dir));)
        if (entry->d_name[0] != '.') count++;
    if (dir) closedir(dir);
    printf("entries %d\n", count);
{after_listing}
    return 0;
}}
"#
    )
}

/// Reads data/later.txt, then makes two files in data/ itself.
const READS_LATER_THEN_WRITES: &str = r#"
    char text[64] = "";
    FILE *later = fopen("data/later.txt", "r");
    if (later) { fgets(text, sizeof text, later); fclose(later); }
    printf("later %s\n", text);
    FILE *log = fopen("data/run.log", "w");
    if (log) { fputs("done\n", log); fclose(log); }
    int made = creat("data/made.log", 0644);
    if (made >= 0) close(made);
"#;

#[test]
fn a_file_the_program_makes_in_a_folder_it_listed_is_no_change_of_the_listing() {
    let dir = Scratch::new("listing-own-file");
    let program = dir.compile_c("lister", &lister_then(READS_LATER_THEN_WRITES));
    let folder = escaped(&dir.0);
    // Everything below the folder (the command's default), and the
    // listing and later.txt but not the log.
    for filter in [format!("^{folder}/"), format!("^{folder}/data.*[^g]$")] {
        let _ = std::fs::remove_file(dir.path("data/run.log"));
        let _ = std::fs::remove_file(dir.path("data/made.log"));
        dir.write("data/later.txt", "one");
        // A checkpoint for later.txt too, after the listing's.
        let launch = Launch::preloaded(&program, &filter).env("FORKMON_MIN_WORK", "0");
        let mut session = launch.dir(&dir.0).start();
        session.wait_for("later one\n");
        session.wait_for("waiting for a change");
        // The watcher sees the log made before this edit: a resume for it
        // would list again, before or with the edit's.
        save(&dir.path("data/later.txt"), "two", Save::RenameOver);
        session.wait_for("later two\n");
        session.wait_for_count("waiting for a change", 2);
        let output = session.output();
        assert_eq!(session.count("entries "), 1, "{filter}: {output}");
        assert_eq!(session.count("changed, resuming"), 1, "{filter}: {output}");
        session.interrupt();
        session.assert_all_gone();
    }
}

/// Appends to data/kept.log, which is there before the program runs.
const APPENDS: &str = r#"
    FILE *log = fopen("data/kept.log", "a");
    if (log) { fputs("run\n", log); fclose(log); }
"#;

#[test]
fn a_file_the_program_appends_to_in_a_folder_it_listed_still_counts_when_removed() {
    let dir = Scratch::new("listing-appended");
    let program = dir.compile_c("lister", &lister_then(APPENDS));
    dir.write("data/kept.log", "");
    dir.write("data/one.txt", "1");
    let filter = format!("^{}/", escaped(&dir.0));
    let mut session = Launch::preloaded(&program, &filter).dir(&dir.0).start();
    session.wait_for("entries 2\n");
    session.wait_for("waiting for a change");
    // The program made no name there by appending to its log: the log
    // deleted by hand is a change of the listing.
    std::fs::remove_file(dir.path("data/kept.log")).expect("remove the log");
    session.wait_for("entries 1\n");
    session.interrupt();
    session.assert_all_gone();
}

/// `sed -i` and emacs make scratch files beside the file they edit, in a
/// folder the program listed: no change of the listing, so a save resumes
/// from the file's own checkpoint, not from before the listing.
#[test]
fn an_editors_scratch_file_in_a_listed_folder_is_no_change_of_the_listing() {
    let dir = Scratch::new("listing-scratch");
    dir.write(
        "main.lua",
        &format!(
            "{LISTER}\nlocal t = os.clock() while os.clock() - t < 0.05 do end\n\
             print('a says ' .. dofile('spec/a.lua'))\n"
        ),
    );
    dir.write("spec/a.lua", "return 'a1'\n");
    let mut session = lua_in(&dir).start();
    session.wait_for("a says a1");
    session.wait_for("waiting for a change");
    let sed = std::process::Command::new("sed")
        .args(["-i", "s/a1/a2/", "spec/a.lua"])
        .current_dir(&dir.0)
        .status()
        .expect("sed");
    assert!(sed.success());
    session.wait_for("a says a2");
    let output = session.output();
    assert_eq!(
        session.count("listed a.lua"),
        1,
        "resumed from before the listing:\n{output}"
    );
    session.interrupt();
    session.assert_all_gone();
}
