//! What a C program sees: every libc read-open is hooked; writes,
//! directories, FIFOs, kernel files and failed opens make no checkpoint;
//! relative paths follow chdir; threads turn checkpoints off.

mod common;

use common::{Launch, Save, Scratch, save};

const READER: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void show(const char *label, int fd) {
    char buffer[256];
    ssize_t n = fd < 0 ? -1 : read(fd, buffer, sizeof buffer - 1);
    buffer[n > 0 ? n : 0] = 0;
    printf("%s:%s", label, buffer);
    fflush(stdout);
    if (fd >= 0) close(fd);
}

int main(void) {
    printf("start\n");
    fflush(stdout);
    /* A relative open before chdir: forkmon keeps the current directory
       between opens, and chdir must make it forget it. */
    close(open("status", O_RDONLY));
    if (chdir("data") != 0) return 2;
    show("one", open("one.txt", O_RDONLY));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    show("two", openat(dir, "sub/../sub/two.txt", O_RDONLY));
    FILE *three = fopen("three.txt", "r");
    char line[256] = "";
    if (three && fgets(line, sizeof line, three)) printf("three:%s", line);
    if (three) fclose(three);
    int written = open("written.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (written >= 0) { write(written, "x", 1); close(written); }
    FILE *appended = fopen("appended.txt", "a");
    if (appended) fclose(appended);
    FILE *updated = fopen("one.txt", "r+");
    if (updated) fclose(updated);
    close(open("folder.txt", O_RDONLY));
    close(open("fifo.txt", O_RDONLY | O_NONBLOCK));
    close(open("/proc/self/status", O_RDONLY));
    close(open("/dev/null", O_RDONLY));
    errno = 0;
    int missing = open("missing.txt", O_RDONLY);
    printf("missing:%d %s\n", missing, strerror(errno));
    printf("end\n");
    return 0;
}
"#;

#[test]
fn only_read_opens_of_existing_regular_watched_files_make_checkpoints() {
    let scratch = Scratch::new("c-reader");
    let program = scratch.compile_c("reader", READER);
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

const THREADED: &str = r#"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *idle(void *unused) { (void)unused; pause(); return NULL; }

int main(void) {
    pthread_t thread;
    pthread_create(&thread, NULL, idle, NULL);
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", i);
        int fd = open(name, O_RDONLY);
        printf("read %s: %s\n", name, fd >= 0 ? "yes" : "no");
        if (fd >= 0) close(fd);
    }
    printf("end\n");
    return 0;
}
"#;

#[test]
fn a_program_with_threads_is_not_forked_and_runs_on() {
    let scratch = Scratch::new("c-threads");
    let program = scratch.compile_c("threaded", THREADED);
    for i in 0..3 {
        scratch.write(&format!("f{i}.txt"), "x");
    }
    let mut session = Launch::preloaded(&program, "%.txt$")
        .dir(&scratch.0)
        .start();
    let status = session.wait_exit();
    let output = session.output();
    assert!(status.success(), "{output}");
    assert!(output.contains("read f2.txt: yes\nend"), "{output}");
    let line = "[forkmon] the program has 2 threads at a checkpoint and forking it is not safe; \
                the program runs on without new checkpoints";
    assert_eq!(session.count(line), 1, "{output}");
    assert_eq!(session.count("[forkmon]"), 1, "{output}");
    session.assert_all_gone();
}
