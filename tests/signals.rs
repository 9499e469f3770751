//! The program's own signals under forkmon (the tests' host program,
//! tests/programs/host.c, does each case's steps).

use forkmon_test_support as common;

use common::{Launch, Save, Scratch, host_program, save};

#[test]
fn the_host_program_reads_a_file_and_reads_it_again_after_an_edit() {
    let dir = Scratch::new("host-smoke");
    let file = dir.write("a.txt", "a=1\n");
    let session = Launch::preloaded(host_program(), "%.txt$")
        .arg("read")
        .arg(&file)
        .arg("print")
        .arg("ready")
        .arg("wait")
        .start();
    session.wait_for("ready");
    save(&file, "a=2\n", Save::RenameOver);
    session.wait_for("a=2");
    session.wait_for_count("ready", 2);
}
