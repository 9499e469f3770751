//! The watchlist's rules, one sentence each, without a system call.

use super::*;
use crate::channel::protocol::Link;
use FileEvent::*;

const MS: Duration = Duration::from_millis(1);

fn timing() -> Timing {
    Timing {
        restart_delay: 10 * MS,
        ignore_delay: Duration::ZERO,
        writer_wait: 1000 * MS,
    }
}

/// The holders of the three checkpoints of `three()`, as a lineage.
fn holders_of_three() -> Vec<Link> {
    (100..103)
        .map(|holder| Link {
            holder,
            generation: 0,
        })
        .collect()
}

/// Checkpoints for a.lua, b.lua, c.lua in /app (dir watch 1), holders
/// 100, 101, 102.
fn three() -> Watchlist {
    let mut list = Watchlist::new(timing());
    let mut lineage = Vec::new();
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        lineage.push(Link {
            holder: 100 + i as i32,
            generation: 0,
        });
        let path = format!("/app/{name}.lua").into_bytes();
        list.register(Registration {
            kind: Kind::Checkpoint,
            lineage: lineage.clone(),
            dir_watch: 1,
            path,
            elapsed_micros: 0,
            stamp: None,
        })
        .expect("fresh");
    }
    list
}

/// Every file is there, with content.
fn always(_: &[u8]) -> Option<u64> {
    Some(10)
}

#[test]
fn a_directory_made_anew_is_watched_again_and_its_files_count_as_saved() {
    let mut list = three();
    let t0 = Instant::now();
    assert!(list.directories_to_rewatch().is_empty());
    list.directory_gone(1, t0);
    let gone = list.settle(t0 + 20 * MS, |_| None);
    assert_eq!(gone.gone.len(), 3);
    assert!(gone.resume.is_none());
    // Still missing: looked for again, nothing else happens.
    assert_eq!(list.directories_to_rewatch(), [(1, b"/app".to_vec())]);
    // Back, as watch 7, with only b.lua in it.
    list.rewatched(1, 7, t0 + 30 * MS, |path| path == b"/app/b.lua");
    assert!(list.directories_to_rewatch().is_empty());
    let resume = list.settle(t0 + 50 * MS, |path| (path == b"/app/b.lua").then_some(10));
    let resume = resume.resume.expect("b.lua is back");
    assert_eq!((resume.holder, resume.depth), (101, 1));
    assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
    // As the event loop does once the order is out.
    list.drop_replaced();
    // a.lua still waits, and its events now come from watch 7.
    list.file_event(7, b"a.lua", MovedIn, t0 + 60 * MS);
    let resume = list.settle(t0 + 80 * MS, always).resume.expect("a.lua");
    assert_eq!(resume.changed, vec![b"/app/a.lua".to_vec()]);
}

#[test]
fn write_in_place_resumes_once_after_the_close_and_the_quiet_window() {
    let mut list = three();
    let t0 = Instant::now();
    list.file_event(1, b"b.lua", Written, t0);
    assert_eq!(list.settle(t0 + 5 * MS, always).next, Some(t0 + 10 * MS));
    // Still open for writing: wait for the writer.
    assert!(list.settle(t0 + 20 * MS, always).resume.is_none());
    list.file_event(1, b"b.lua", Closed, t0 + 30 * MS);
    assert!(list.settle(t0 + 35 * MS, always).resume.is_none());
    let resume = list.settle(t0 + 40 * MS, always).resume.expect("settled");
    assert_eq!((resume.holder, resume.depth, resume.number), (101, 1, 1));
    assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
    assert_eq!(list.len(), 3, "dropped only once the order is out");
    list.drop_replaced();
    assert_eq!(list.len(), 2, "checkpoints after b belonged to the old run");
    assert_eq!(list.settle(t0 + 100 * MS, always), Outcome::default());
}

#[test]
fn rename_over_delete_recreate_each_settle_to_one_resume() {
    for events in [
        vec![MovedIn],
        vec![Removed, Created, Written, Closed, Touched],
        vec![Removed, MovedIn],
        vec![Written, Written, Closed],
    ] {
        let mut list = three();
        let t0 = Instant::now();
        for (i, event) in events.iter().enumerate() {
            list.file_event(1, b"c.lua", *event, t0 + i as u32 * MS);
        }
        let resume = list.settle(t0 + 50 * MS, always).resume.expect("settled");
        assert_eq!(resume.depth, 2, "{events:?}");
        assert!(
            list.settle(t0 + 100 * MS, always).resume.is_none(),
            "{events:?}"
        );
    }
}

#[test]
fn a_file_left_empty_waits_for_its_content() {
    let mut list = three();
    let t0 = Instant::now();
    // Truncated and closed; the write comes through a second open.
    list.file_event(1, b"b.lua", Written, t0);
    list.file_event(1, b"b.lua", Closed, t0);
    let empty = |_: &[u8]| Some(0);
    assert_eq!(list.settle(t0 + 20 * MS, empty).next, Some(t0 + 1000 * MS));
    list.file_event(1, b"b.lua", Written, t0 + 30 * MS);
    list.file_event(1, b"b.lua", Closed, t0 + 30 * MS);
    assert!(list.settle(t0 + 45 * MS, always).resume.is_some());
    // A file that stays empty is taken as it is, after the wait.
    list.file_event(1, b"b.lua", Written, t0 + 100 * MS);
    list.file_event(1, b"b.lua", Closed, t0 + 100 * MS);
    assert!(list.settle(t0 + 200 * MS, empty).resume.is_none());
    assert!(list.settle(t0 + 1100 * MS, empty).resume.is_some());
}

#[test]
fn the_programs_own_write_is_no_edit_but_the_next_one_is() {
    let mut list = three();
    let lineage = holders_of_three();
    let path = b"/app/b.lua".to_vec();
    let own = Registration {
        kind: Kind::OwnWrite,
        lineage,
        dir_watch: 0,
        path,
        elapsed_micros: 0,
        stamp: None,
    };
    assert_eq!(list.register(own), Ok(()));
    let t0 = Instant::now();
    list.file_event(1, b"b.lua", Written, t0);
    list.file_event(1, b"b.lua", Closed, t0);
    assert_eq!(list.settle(t0 + 50 * MS, always), Outcome::default());
    list.file_event(1, b"b.lua", MovedIn, t0 + 60 * MS);
    assert!(list.settle(t0 + 80 * MS, always).resume.is_some());
}

#[test]
fn a_close_without_a_write_is_no_change() {
    let mut list = three();
    let t0 = Instant::now();
    list.file_event(1, b"a.lua", Closed, t0);
    assert_eq!(list.settle(t0 + 50 * MS, always), Outcome::default());
}

#[test]
fn changes_together_resume_once_from_the_earliest() {
    let mut list = three();
    let t0 = Instant::now();
    list.file_event(1, b"c.lua", MovedIn, t0);
    list.file_event(1, b"b.lua", MovedIn, t0 + 5 * MS);
    let resume = list.settle(t0 + 15 * MS, always).resume.expect("settled");
    assert_eq!(resume.depth, 1);
    assert_eq!(
        resume.changed,
        vec![b"/app/b.lua".to_vec(), b"/app/c.lua".to_vec()]
    );
    assert!(list.settle(t0 + 100 * MS, always).resume.is_none());
}

#[test]
fn a_deleted_file_is_reported_once_and_waits() {
    let mut list = three();
    let t0 = Instant::now();
    list.file_event(1, b"b.lua", Removed, t0);
    let never = |_: &[u8]| None;
    let first = list.settle(t0 + 20 * MS, never);
    assert_eq!(first.gone, vec![b"/app/b.lua".to_vec()]);
    assert!(first.resume.is_none());
    assert_eq!(list.settle(t0 + 40 * MS, never), Outcome::default());
    list.file_event(1, b"b.lua", MovedIn, t0 + 50 * MS);
    assert_eq!(
        list.settle(t0 + 60 * MS, never).resume.map(|r| r.depth),
        Some(1)
    );
}

#[test]
fn a_writer_that_never_closes_is_taken_as_done_after_the_wait() {
    let mut list = three();
    let t0 = Instant::now();
    list.file_event(1, b"a.lua", Written, t0);
    assert_eq!(list.settle(t0 + 20 * MS, always).next, Some(t0 + 1000 * MS));
    assert!(list.settle(t0 + 1000 * MS, always).resume.is_some());
}

#[test]
fn stale_registrations_from_a_replaced_run_are_refused() {
    let mut list = three();
    let t0 = Instant::now();
    list.file_event(1, b"a.lua", MovedIn, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
    assert_eq!(resume.number, 1);
    // The killed run's child of holder 100 still had generation 0.
    let stale = Registration {
        kind: Kind::Checkpoint,
        lineage: vec![
            Link {
                holder: 100,
                generation: 0,
            },
            Link {
                holder: 555,
                generation: 0,
            },
        ],
        dir_watch: 1,
        path: b"/app/b.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    assert_eq!(list.register(stale), Err(Stale));
    let fresh = Registration {
        kind: Kind::Checkpoint,
        lineage: vec![
            Link {
                holder: 100,
                generation: 1,
            },
            Link {
                holder: 556,
                generation: 0,
            },
        ],
        dir_watch: 1,
        path: b"/app/b.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    assert_eq!(list.register(fresh), Ok(()));
    assert_eq!(list.len(), 2);
}

#[test]
fn only_the_end_of_the_chain_may_register_or_withdraw() {
    let mut list = three();
    let link = |holder| Link {
        holder,
        generation: 0,
    };
    let message = |kind, lineage: Vec<Link>| Registration {
        kind,
        lineage,
        dir_watch: 1,
        path: b"/app/x.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    // A copy the program forked by itself after b.lua, not a holder's child.
    let fork = message(Kind::Checkpoint, vec![link(100), link(101), link(900)]);
    assert_eq!(list.register(fork), Err(Stale));
    assert_eq!(list.len(), 3);
    let withdraw = message(Kind::Withdraw, vec![link(100), link(101)]);
    assert_eq!(
        list.register(withdraw),
        Err(Stale),
        "not the last checkpoint"
    );
    let withdraw = message(Kind::Withdraw, vec![link(100), link(101), link(102)]);
    assert_eq!(list.register(withdraw), Ok(()));
    assert_eq!(list.len(), 2);
}

#[test]
fn an_attached_file_resumes_from_its_checkpoint() {
    let mut list = three();
    let lineage = holders_of_three();
    let level = b"/data/level.json".to_vec();
    let attach = Registration {
        kind: Kind::Attach,
        lineage,
        dir_watch: 2,
        path: level,
        elapsed_micros: 0,
        stamp: None,
    };
    assert_eq!(list.register(attach), Ok(()));
    let t0 = Instant::now();
    list.file_event(2, b"level.json", MovedIn, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
    assert_eq!(
        (resume.depth, resume.from.as_slice()),
        (2, &b"/app/c.lua"[..])
    );
    assert_eq!(resume.changed, vec![b"/data/level.json".to_vec()]);
}

#[test]
fn a_file_of_a_replaced_run_is_watched_again_when_the_new_run_reads_it() {
    let mut list = three();
    let attach = |lineage: Vec<Link>| Registration {
        kind: Kind::Attach,
        lineage,
        dir_watch: 1,
        path: b"/app/a.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    // a.lua is tied to a's checkpoint, and again (read later by the
    // run) to c's: a's, the earliest, takes its events.
    assert_eq!(list.register(attach(holders_of_three())), Ok(()));
    let t0 = Instant::now();
    list.file_event(1, b"c.lua", MovedIn, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("c.lua");
    assert_eq!((resume.depth, resume.number), (2, 1));
    list.drop_replaced();
    // b.lua saved: the run from b's checkpoint replaces c's.
    list.file_event(1, b"b.lua", MovedIn, t0 + 30 * MS);
    let resume = list.settle(t0 + 50 * MS, always).resume.expect("b.lua");
    assert_eq!((resume.depth, resume.number), (1, 2));
    list.drop_replaced();
    assert_eq!(list.len(), 2);
    // c.lua, forgotten with its checkpoint, is no longer watched...
    list.file_event(1, b"c.lua", MovedIn, t0 + 60 * MS);
    assert_eq!(list.settle(t0 + 80 * MS, always), Outcome::default());
    // ...until the new run reads it again; a.lua still resumes from a.
    let mut lineage = holders_of_three();
    lineage.truncate(2);
    lineage[1].generation = 2;
    let c = Registration {
        path: b"/app/c.lua".to_vec(),
        ..attach(lineage.clone())
    };
    assert_eq!(list.register(c), Ok(()));
    list.file_event(1, b"c.lua", MovedIn, t0 + 90 * MS);
    let resume = list.settle(t0 + 110 * MS, always).resume.expect("c again");
    assert_eq!(
        (resume.depth, resume.changed),
        (1, vec![b"/app/c.lua".to_vec()])
    );
    list.file_event(1, b"a.lua", MovedIn, t0 + 120 * MS);
    let resume = list.settle(t0 + 140 * MS, always).resume.expect("a.lua");
    assert_eq!(resume.depth, 0);
}

#[test]
fn a_dead_holder_falls_back_to_the_checkpoint_before_it() {
    let mut list = three();
    let t0 = Instant::now();
    let resume = list
        .holder_gone(2, vec![b"/app/c.lua".to_vec()], t0)
        .expect("b remains");
    assert_eq!((resume.holder, resume.depth, resume.number), (101, 1, 1));
    assert_eq!(list.len(), 2);
    assert!(
        Watchlist::new(timing())
            .holder_gone(0, vec![], t0)
            .is_none()
    );
}

#[test]
fn the_ignore_delay_drops_changes_right_after_a_resume() {
    let mut list = Watchlist::new(Timing {
        ignore_delay: 200 * MS,
        ..timing()
    });
    let link = Link {
        holder: 1,
        generation: 0,
    };
    let path = b"/app/a.lua".to_vec();
    list.register(Registration {
        kind: Kind::Checkpoint,
        lineage: vec![link],
        dir_watch: 1,
        path,
        elapsed_micros: 0,
        stamp: None,
    })
    .expect("fresh");
    let t0 = Instant::now();
    list.file_event(1, b"a.lua", MovedIn, t0);
    assert!(list.settle(t0 + 10 * MS, always).resume.is_some());
    list.file_event(1, b"a.lua", MovedIn, t0 + 100 * MS);
    assert!(list.settle(t0 + 150 * MS, always).resume.is_none());
    list.file_event(1, b"a.lua", MovedIn, t0 + 300 * MS);
    assert!(list.settle(t0 + 310 * MS, always).resume.is_some());
}

fn stamp(size: i64) -> FileStamp {
    FileStamp {
        device: 1,
        inode: 2,
        size,
        modified: (3, 4),
        changed: (5, 6),
    }
}

/// a.lua's checkpoint with b.lua attached, both read with size 10, in
/// /app (dir watch 1), whose contents are not watched yet.
fn read_before_the_contents_were_watched() -> Watchlist {
    let mut list = Watchlist::new(timing());
    let lineage = vec![Link {
        holder: 100,
        generation: 0,
    }];
    for (kind, name) in [(Kind::Checkpoint, "a"), (Kind::Attach, "b")] {
        list.register(Registration {
            kind,
            lineage: lineage.clone(),
            dir_watch: 1,
            path: format!("/app/{name}.lua").into_bytes(),
            elapsed_micros: 0,
            stamp: Some(stamp(10)),
        })
        .expect("fresh");
    }
    list
}

/// A resumed run of holder 100 reads b.lua again, with `size`.
fn b_read_again(list: &mut Watchlist, size: i64) {
    list.register(Registration {
        kind: Kind::Attach,
        lineage: vec![Link {
            holder: 100,
            generation: 0,
        }],
        dir_watch: 1,
        path: b"/app/b.lua".to_vec(),
        elapsed_micros: 0,
        stamp: Some(stamp(size)),
    })
    .expect("fresh");
}

/// The files of `read_before_the_contents_were_watched` now: b.lua with
/// `size`, a.lua as it was read.
fn b_sized(size: i64) -> impl Fn(&[u8]) -> Option<FileStamp> + Copy {
    move |path: &[u8]| Some(stamp(if path == b"/app/b.lua" { size } else { 10 }))
}

#[test]
fn a_file_changed_before_its_contents_were_watched_resumes_once() {
    let mut list = read_before_the_contents_were_watched();
    let b_edited = b_sized(12);
    // Not compared while the directory's contents are not watched.
    assert!(list.compare_stamps(b_edited).is_empty());
    assert_eq!(list.directories_to_watch_fully(), [(1, b"/app".to_vec())]);
    list.watching_fully(1);
    assert!(list.directories_to_watch_fully().is_empty());
    assert!(list.awaits_comparison());
    let t0 = Instant::now();
    let compared = list.compare_stamps(b_edited);
    list.apply_comparisons(compared, t0);
    assert!(!list.awaits_comparison());
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("b.lua");
    assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
    // Compared once only.
    let compared = list.compare_stamps(b_edited);
    list.apply_comparisons(compared, t0 + 30 * MS);
    assert_eq!(list.settle(t0 + 60 * MS, always), Outcome::default());
}

#[test]
fn a_file_the_program_wrote_itself_is_not_compared() {
    let mut list = read_before_the_contents_were_watched();
    list.watching_fully(1);
    let written = |_: &[u8]| Some(stamp(99));
    // Looked at before the program's registration was read...
    let compared = list.compare_stamps(written);
    list.register(Registration {
        kind: Kind::OwnWrite,
        lineage: vec![Link {
            holder: 100,
            generation: 0,
        }],
        dir_watch: 0,
        path: b"/app/b.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    })
    .expect("fresh");
    // ...and applied after: only a.lua counts as edited.
    let t0 = Instant::now();
    list.apply_comparisons(compared, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("a.lua");
    assert_eq!(resume.changed, vec![b"/app/a.lua".to_vec()]);
}

#[test]
fn a_file_gone_before_its_contents_were_watched_waits_for_it() {
    let mut list = read_before_the_contents_were_watched();
    list.watching_fully(1);
    let t0 = Instant::now();
    let compared = list.compare_stamps(|path| (path == b"/app/b.lua").then(|| stamp(10)));
    list.apply_comparisons(compared, t0);
    let outcome = list.settle(t0 + 20 * MS, |path| (path == b"/app/b.lua").then_some(10));
    assert_eq!(outcome.gone, vec![b"/app/a.lua".to_vec()]);
    assert!(outcome.resume.is_none());
}

#[test]
fn a_file_read_after_its_contents_were_watched_is_not_compared() {
    let mut list = Watchlist::new(timing());
    list.watching_fully(1);
    let register = |list: &mut Watchlist, holder| {
        list.register(Registration {
            kind: Kind::Checkpoint,
            lineage: (100..=holder)
                .map(|holder| Link {
                    holder,
                    generation: 0,
                })
                .collect(),
            dir_watch: 1,
            path: format!("/app/{holder}.lua").into_bytes(),
            elapsed_micros: 0,
            stamp: Some(stamp(10)),
        })
        .expect("fresh");
    };
    // Registered at the look right after the watch was added: it may
    // have been read just before.
    register(&mut list, 100);
    assert!(list.awaits_comparison());
    list.looked_at_journal();
    let compared = list.compare_stamps(|_| Some(stamp(10)));
    list.apply_comparisons(compared, Instant::now());
    // At a later look: read with the contents watched.
    register(&mut list, 101);
    assert!(!list.awaits_comparison());
}

#[test]
fn a_file_attached_again_is_compared_with_what_was_read_last() {
    let mut list = read_before_the_contents_were_watched();
    // A resumed run reads b.lua again, as it is now (size 12).
    b_read_again(&mut list, 12);
    list.watching_fully(1);
    let t0 = Instant::now();
    let as_read_last = b_sized(12);
    let compared = list.compare_stamps(as_read_last);
    list.apply_comparisons(compared, t0);
    assert_eq!(list.settle(t0 + 20 * MS, always), Outcome::default());
}

#[test]
fn a_file_read_again_after_its_comparison_is_no_edit_of_the_run_that_read_it() {
    let mut list = read_before_the_contents_were_watched();
    list.watching_fully(1);
    // b.lua was saved (size 12); the look compares it with the first read...
    let saved = b_sized(12);
    let compared = list.compare_stamps(saved);
    // ...and the journal of the same look brings the run the save resumed,
    // which read b.lua again as it is now.
    b_read_again(&mut list, 12);
    let t0 = Instant::now();
    list.apply_comparisons(compared, t0);
    assert_eq!(list.settle(t0 + 20 * MS, always), Outcome::default());
    // Compared at the next look with what it read last: a later save shows.
    assert!(list.awaits_comparison());
    let saved_again = b_sized(14);
    let compared = list.compare_stamps(saved_again);
    list.apply_comparisons(compared, t0 + 30 * MS);
    let resume = list.settle(t0 + 60 * MS, always).resume.expect("b.lua");
    assert_eq!(resume.changed, vec![b"/app/b.lua".to_vec()]);
}

#[test]
fn a_file_written_then_tied_takes_the_writes_events_as_the_programs() {
    let t0 = Instant::now();
    for tie in [Kind::Attach, Kind::Checkpoint] {
        let mut list = three();
        let lineage = holders_of_three();
        let record = |kind, lineage: Vec<Link>| Registration {
            kind,
            lineage,
            dir_watch: 1,
            path: b"/app/config.lua".to_vec(),
            elapsed_micros: 0,
            stamp: None,
        };
        // The program writes config.lua, then reads it: both records come
        // before the write's events.
        list.register(record(Kind::OwnWriteUntied, lineage.clone()))
            .expect("fresh");
        let mut tied_by = lineage.clone();
        if tie == Kind::Checkpoint {
            tied_by.push(Link {
                holder: 103,
                generation: 0,
            });
        }
        list.register(record(tie, tied_by)).expect("fresh");
        list.file_event(1, b"config.lua", Written, t0);
        list.file_event(1, b"config.lua", Closed, t0);
        assert_eq!(
            list.settle(t0 + 50 * MS, always),
            Outcome::default(),
            "{tie:?}"
        );
        // A later save is an edit.
        list.file_event(1, b"config.lua", MovedIn, t0 + 60 * MS);
        assert!(
            list.settle(t0 + 100 * MS, always).resume.is_some(),
            "{tie:?}"
        );
    }
}

#[test]
fn a_write_of_a_file_a_replaced_run_tied_is_the_programs_before_the_new_tie() {
    // After a resume, the run writes config.lua again (its engine does not
    // know the replaced run tied it), and the watcher reads the write's
    // events before the record of the read that follows.
    let t0 = Instant::now();
    let mut list = three();
    let lineage = holders_of_three();
    let record = |kind| Registration {
        kind,
        lineage: lineage.clone(),
        dir_watch: 1,
        path: b"/app/config.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    list.register(record(Kind::Attach)).expect("fresh");
    list.register(record(Kind::OwnWriteUntied)).expect("fresh");
    list.file_event(1, b"config.lua", Written, t0);
    list.file_event(1, b"config.lua", Closed, t0);
    assert_eq!(list.settle(t0 + 50 * MS, always), Outcome::default());
    list.register(record(Kind::Attach)).expect("fresh");
    // A later save is an edit.
    list.file_event(1, b"config.lua", MovedIn, t0 + 60 * MS);
    assert!(list.settle(t0 + 100 * MS, always).resume.is_some());
}

/// The system as a test sets it: journal records to hand out, files with
/// their size and stamp, link targets, and the watches it was asked for.
struct FakeIo {
    records: Vec<Registration>,
    files: Vec<(Vec<u8>, FileStamp)>,
    links: Vec<(Vec<u8>, Vec<u8>)>,
    not_files: Vec<Vec<u8>>,
    watched_dirs: Vec<Vec<u8>>,
    /// Directories already watched, with their watch (inotify gives it
    /// again); any other gets a new one.
    known_watches: Vec<(Vec<u8>, i32)>,
    now: Instant,
}

impl FakeIo {
    fn new(now: Instant) -> FakeIo {
        FakeIo {
            records: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
            not_files: Vec::new(),
            watched_dirs: Vec::new(),
            known_watches: Vec::new(),
            now,
        }
    }
}

impl Io for FakeIo {
    fn records(&mut self) -> Vec<Registration> {
        std::mem::take(&mut self.records)
    }
    fn stamp(&self, path: &[u8]) -> Option<FileStamp> {
        self.files.iter().find(|(p, _)| p == path).map(|(_, s)| *s)
    }
    fn size(&self, path: &[u8]) -> Option<u64> {
        self.stamp(path).map(|s| s.size as u64)
    }
    fn watch_directory(&mut self, dir: &[u8]) -> Option<i32> {
        self.watched_dirs.push(dir.to_vec());
        if let Some((_, watch)) = self.known_watches.iter().find(|(known, _)| known == dir) {
            return Some(*watch);
        }
        Some(50 + self.watched_dirs.len() as i32)
    }
    fn watch_replaced(&mut self, _old: i32) {}
    fn look(&mut self, path: &[u8]) -> Found {
        if self.not_files.iter().any(|p| p == path) {
            return Found::NotAFile;
        }
        match self.links.iter().find(|(link, _)| link == path) {
            Some((_, target)) => Found::Link {
                dir_watch: 9,
                target: target.clone(),
            },
            None => Found::File,
        }
    }
    fn now(&self) -> Instant {
        self.now
    }
}

fn checkpoint_record(holder: i32, path: &str, stamp: Option<FileStamp>) -> Registration {
    Registration {
        kind: Kind::Checkpoint,
        lineage: vec![Link {
            holder,
            generation: 0,
        }],
        dir_watch: 1,
        path: path.as_bytes().to_vec(),
        elapsed_micros: 0,
        stamp,
    }
}

/// A file of `kind` tied, without a stamp, to holder 100's checkpoint.
fn attach_record(kind: Kind, path: &str) -> Registration {
    Registration {
        kind,
        ..checkpoint_record(100, path, None)
    }
}

#[test]
fn a_step_registers_the_journal_before_it_applies_the_events_of_the_same_look() {
    let t0 = Instant::now();
    let mut list = Watchlist::new(timing());
    let mut io = FakeIo::new(t0);
    io.files.push((b"/app/a.lua".to_vec(), stamp(10)));
    // The record of a.lua and an edit of it arrive in the same look: the
    // edit must find the file registered.
    io.records.push(checkpoint_record(100, "/app/a.lua", None));
    let events = vec![Event::File(1, b"a.lua".to_vec(), MovedIn)];
    let step = list.step(events, &mut io);
    assert_eq!(step.watched, [b"/app/a.lua".to_vec()]);
    assert!(step.batching);
    assert!(step.outcome.resume.is_none(), "the quiet window first");
    io.now = t0 + 20 * MS;
    let step = list.step(Vec::new(), &mut io);
    let resume = step.outcome.resume.expect("the edit was taken in");
    assert_eq!(resume.holder, 100);
    assert!(!step.batching);
}

#[test]
fn a_file_created_where_only_names_are_watched_resumes_well_before_the_writer_wait() {
    let t0 = Instant::now();
    let mut list = Watchlist::new(timing());
    let mut io = FakeIo::new(t0);
    io.known_watches.push((b"/app".to_vec(), 1));
    // app.lua was looked for and missing; /app's contents are not watched.
    io.records
        .push(checkpoint_record(100, "/app/main.lua", None));
    io.records
        .push(attach_record(Kind::AttachMissing, "/app/app.lua"));
    list.step(Vec::new(), &mut io);
    assert!(io.watched_dirs.is_empty(), "still in the program's burst");
    // `echo 'print(1)' > app.lua`: created, written and closed, of which
    // only the creation shows where names alone are watched.
    io.files.push((b"/app/app.lua".to_vec(), stamp(9)));
    io.now = t0 + 200 * MS;
    let events = vec![Event::File(1, b"app.lua".to_vec(), Created)];
    let step = list.step(events, &mut io);
    assert!(step.outcome.resume.is_none(), "the quiet window first");
    assert_eq!(
        io.watched_dirs,
        [b"/app".to_vec()],
        "contents watched at once"
    );
    io.now = t0 + 220 * MS;
    let step = list.step(Vec::new(), &mut io);
    assert!(
        step.outcome.resume.is_none(),
        "a writer may still be at work"
    );
    io.now = t0 + 310 * MS;
    let step = list.step(Vec::new(), &mut io);
    let resume = step
        .outcome
        .resume
        .expect("app.lua came, well before the writer wait");
    assert_eq!(resume.changed, [b"/app/app.lua".to_vec()]);
    // A writer still at work is seen from then on: its next write waits
    // for its close.
    list.drop_replaced();
    io.now = t0 + 400 * MS;
    let events = vec![Event::File(1, b"app.lua".to_vec(), Written)];
    list.step(events, &mut io);
    io.now = t0 + 500 * MS;
    assert!(list.step(Vec::new(), &mut io).outcome.resume.is_none());
    let events = vec![Event::File(1, b"app.lua".to_vec(), Closed)];
    list.step(events, &mut io);
    io.now = t0 + 520 * MS;
    assert!(list.step(Vec::new(), &mut io).outcome.resume.is_some());
}

#[test]
fn a_step_watches_a_link_target_and_a_directory_read_in_a_burst_once_the_burst_is_over() {
    let t0 = Instant::now();
    let mut list = Watchlist::new(timing());
    let mut io = FakeIo::new(t0);
    io.links
        .push((b"/app/a.lua".to_vec(), b"/src/real.lua".to_vec()));
    io.files.push((b"/app/a.lua".to_vec(), stamp(10)));
    io.records
        .push(checkpoint_record(100, "/app/a.lua", Some(stamp(10))));
    let step = list.step(Vec::new(), &mut io);
    assert_eq!(
        step.watched,
        [b"/app/a.lua".to_vec(), b"/src/real.lua".to_vec()]
    );
    assert!(io.watched_dirs.is_empty(), "still in the program's burst");
    // The next look finds no record: /app's contents are watched now, and
    // a.lua, unchanged, is compared and needs nothing more.
    io.now = t0 + 5 * MS;
    let step = list.step(Vec::new(), &mut io);
    assert_eq!(io.watched_dirs, [b"/app".to_vec()]);
    assert!(step.outcome.resume.is_none());
    io.now = t0 + 30 * MS;
    let step = list.step(Vec::new(), &mut io);
    assert!(step.outcome.resume.is_none(), "{:?}", step.outcome);
    assert!(!list.awaits_comparison());
}

#[test]
fn a_file_a_resumed_run_gives_a_checkpoint_resumes_from_it_not_from_its_tie_above() {
    // a.lua's checkpoint, with b.lua read soon after and tied to it.
    let mut list = Watchlist::new(timing());
    let first = Link {
        holder: 100,
        generation: 0,
    };
    let registration = |kind, lineage: Vec<Link>, path: &[u8]| Registration {
        kind,
        lineage,
        dir_watch: 1,
        path: path.to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    list.register(registration(Kind::Checkpoint, vec![first], b"/app/a.lua"))
        .expect("fresh");
    list.register(registration(Kind::Attach, vec![first], b"/app/b.lua"))
        .expect("fresh");
    let t0 = Instant::now();
    list.file_event(1, b"b.lua", MovedIn, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
    assert_eq!((resume.holder, resume.depth), (100, 0));
    list.drop_replaced();
    // The resumed run reads b.lua again and gives it a checkpoint.
    let resumed = Link {
        holder: 100,
        generation: resume.number,
    };
    let own = Link {
        holder: 200,
        generation: 0,
    };
    list.register(registration(
        Kind::Checkpoint,
        vec![resumed, own],
        b"/app/b.lua",
    ))
    .expect("the resumed run's");
    list.file_event(1, b"b.lua", MovedIn, t0 + 100 * MS);
    let resume = list.settle(t0 + 120 * MS, always).resume.expect("settled");
    assert_eq!((resume.holder, resume.depth), (200, 1));
    assert_eq!(resume.from, b"/app/b.lua".to_vec());
}

/// A checkpoint for a.lua (holder 100) and `attached` tied to it.
fn a_with(attached: &[u8]) -> Watchlist {
    let mut list = Watchlist::new(timing());
    let first = Link {
        holder: 100,
        generation: 0,
    };
    for (kind, path) in [
        (Kind::Checkpoint, &b"/app/a.lua"[..]),
        (Kind::Attach, attached),
    ] {
        list.register(Registration {
            kind,
            lineage: vec![first],
            dir_watch: 1,
            path: path.to_vec(),
            elapsed_micros: 0,
            stamp: None,
        })
        .expect("fresh");
    }
    list
}

#[test]
fn a_tie_of_the_current_run_above_a_checkpoint_of_the_same_file_keeps_its_changes() {
    // The run tied x.lua at a.lua's checkpoint (as the watcher ties a link's
    // target), then read it by its own name and gave it a checkpoint: code
    // after a.lua read it, so its change must resume from a.lua.
    let mut list = a_with(b"/app/x.lua");
    let lineage = vec![
        Link {
            holder: 100,
            generation: 0,
        },
        Link {
            holder: 200,
            generation: 0,
        },
    ];
    list.register(Registration {
        kind: Kind::Checkpoint,
        lineage,
        dir_watch: 1,
        path: b"/app/x.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    })
    .expect("fresh");
    let t0 = Instant::now();
    list.file_event(1, b"x.lua", Written, t0);
    list.file_event(1, b"x.lua", Closed, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
    assert_eq!((resume.holder, resume.depth), (100, 0));
}

#[test]
fn a_withdrawn_checkpoint_gives_back_the_tie_its_record_took() {
    let mut list = a_with(b"/app/b.lua");
    let t0 = Instant::now();
    list.file_event(1, b"b.lua", MovedIn, t0);
    let resume = list.settle(t0 + 20 * MS, always).resume.expect("settled");
    list.drop_replaced();
    let lineage = vec![
        Link {
            holder: 100,
            generation: resume.number,
        },
        Link {
            holder: 200,
            generation: 0,
        },
    ];
    let record = |kind| Registration {
        kind,
        lineage: lineage.clone(),
        dir_watch: 1,
        path: b"/app/b.lua".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    list.register(record(Kind::Checkpoint))
        .expect("resumed run's");
    // Its fork failed: the run goes on from a.lua's checkpoint, with b.lua
    // read after it.
    list.register(record(Kind::Withdraw))
        .expect("resumed run's");
    list.file_event(1, b"b.lua", MovedIn, t0 + 100 * MS);
    let resume = list
        .settle(t0 + 120 * MS, always)
        .resume
        .expect("b.lua is watched");
    assert_eq!((resume.holder, resume.depth), (100, 0));
}

#[test]
fn a_fifo_tied_without_a_look_is_dropped_and_the_files_beside_it_are_watched() {
    let t0 = Instant::now();
    let mut list = Watchlist::new(timing());
    let mut io = FakeIo::new(t0);
    io.records
        .push(checkpoint_record(100, "/app/a.txt", Some(stamp(10))));
    // Read where /app's contents were watched already: no stamps.
    io.records.push(attach_record(Kind::Attach, "/app/f.txt"));
    io.records.push(attach_record(Kind::Attach, "/app/b.txt"));
    io.not_files.push(b"/app/f.txt".to_vec());
    let step = list.step(Vec::new(), &mut io);
    assert_eq!(
        step.watched,
        [b"/app/a.txt".to_vec(), b"/app/b.txt".to_vec()]
    );
    // A write into the FIFO is no edit.
    io.now = t0 + 200 * MS;
    let step = list.step(vec![Event::File(1, b"f.txt".to_vec(), Written)], &mut io);
    io.now = t0 + 400 * MS;
    let later = list.step(Vec::new(), &mut io);
    assert!(step.outcome.resume.is_none() && later.outcome.resume.is_none());
}

#[test]
fn a_deleted_directory_is_said_for_the_files_that_were_there_not_for_lookups() {
    let t0 = Instant::now();
    let mut list = Watchlist::new(timing());
    let mut io = FakeIo::new(t0);
    io.records
        .push(checkpoint_record(100, "/app/a.lua", Some(stamp(10))));
    // Lua's require looked for /app/x.lua before it found a module elsewhere.
    io.records
        .push(attach_record(Kind::AttachMissing, "/app/x.lua"));
    // b.lua was read and deleted before the watcher got to it: it counts.
    io.records.push(attach_record(Kind::Attach, "/app/b.lua"));
    list.step(Vec::new(), &mut io);
    list.directory_gone(1, t0);
    let outcome = list.settle(t0 + 20 * MS, |_| None);
    assert_eq!(
        outcome.gone,
        [b"/app/a.lua".to_vec(), b"/app/b.lua".to_vec()]
    );
    assert!(outcome.resume.is_none());
}

/// A checkpoint per file, each file in the directory watch given with it,
/// by holders 100, 101 and so on.
fn checkpoints_of(files: &[(&str, i32)]) -> Watchlist {
    let mut list = Watchlist::new(timing());
    for (i, &(path, dir_watch)) in files.iter().enumerate() {
        list.register(Registration {
            kind: Kind::Checkpoint,
            lineage: holders(i + 1),
            dir_watch,
            path: path.as_bytes().to_vec(),
            elapsed_micros: 0,
            stamp: None,
        })
        .expect("fresh");
    }
    list
}

/// The first `count` holders of [`checkpoints_of`].
fn holders(count: usize) -> Vec<Link> {
    (0..count)
        .map(|i| Link {
            holder: 100 + i as i32,
            generation: 0,
        })
        .collect()
}

/// main.lua, then a listing of /app/spec (its own checkpoint, as busted's
/// spec folder), then a_spec.lua read from it.
fn listed_spec() -> Watchlist {
    checkpoints_of(&[
        ("/app/main.lua", 1),
        ("/app/spec/", 2),
        ("/app/spec/a_spec.lua", 2),
    ])
}

#[test]
fn a_file_deleted_from_a_listed_directory_resumes_from_the_listing_once_it_stays_away() {
    let t0 = Instant::now();
    let there = |path: &[u8]| (path != b"/app/spec/a_spec.lua").then_some(10);
    let mut list = listed_spec();
    list.file_event(2, b"a_spec.lua", Removed, t0);
    let outcome = list.settle(t0 + 20 * MS, there);
    assert!(outcome.resume.is_none(), "it may still come back");
    assert_eq!(outcome.next, Some(t0 + 100 * MS));
    let resume = list
        .settle(t0 + 100 * MS, there)
        .resume
        .expect("the listing changed");
    assert_eq!((resume.holder, resume.depth), (101, 1));
    // Deleted and written anew within the wait: the file's own change.
    let mut list = listed_spec();
    list.file_event(2, b"a_spec.lua", Removed, t0);
    list.file_event(2, b"a_spec.lua", MovedIn, t0 + 30 * MS);
    let resume = list.settle(t0 + 40 * MS, always).resume.expect("saved");
    assert_eq!((resume.holder, resume.depth), (102, 2));
    // The whole folder gone: its files wait for it, as before.
    let mut list = listed_spec();
    list.directory_gone(2, t0);
    let outcome = list.settle(t0 + 200 * MS, |path: &[u8]| {
        (path == b"/app/main.lua").then_some(10)
    });
    assert!(outcome.resume.is_none());
}

#[test]
fn a_name_the_run_made_in_a_listed_directory_is_no_change_of_the_listing_until_a_resume() {
    let t0 = Instant::now();
    let mut list = listed_spec();
    let own = Registration {
        kind: Kind::OwnWrite,
        lineage: holders(3),
        dir_watch: 2,
        path: b"/app/spec/report.xml".to_vec(),
        elapsed_micros: 0,
        stamp: None,
    };
    assert_eq!(list.register(own), Ok(()));
    list.file_event(2, b"report.xml", Created, t0);
    list.file_event(2, b"report.xml", Closed, t0);
    assert_eq!(list.settle(t0 + 50 * MS, always), Outcome::default());
    // Another name is a change, and the resume forgets the run's names.
    list.file_event(2, b"b_spec.lua", Created, t0 + 60 * MS);
    let resume = list.settle(t0 + 80 * MS, always).resume.expect("listed");
    assert_eq!((resume.holder, resume.depth), (101, 1));
    list.file_event(2, b"report.xml", Removed, t0 + 300 * MS);
    let gone = |path: &[u8]| (path != b"/app/spec/report.xml").then_some(10);
    assert!(list.settle(t0 + 500 * MS, gone).resume.is_some());
}

#[test]
fn a_name_above_tied_folders_that_goes_or_comes_counts_as_those_folders_gone() {
    let mut list = checkpoints_of(&[
        ("/app/main.lua", 1),
        ("/app/current/mod.lua", 2),
        ("/app/current/sub/deep.lua", 3),
        ("/app/currently.lua", 1),
    ]);
    let t0 = Instant::now();
    // A name no tied folder lies below, or a file's own name: nothing.
    list.entries_above_tied_directories(
        &[(1, b"curr".to_vec()), (1, b"currently.lua".to_vec())],
        t0,
    );
    assert!(list.directories_to_rewatch().is_empty());
    // `ln -sfn releases/2 current`: both folders below it are looked for.
    list.entries_above_tied_directories(&[(1, b"current".to_vec())], t0);
    let mut again = list.directories_to_rewatch();
    again.sort();
    assert_eq!(
        again,
        [
            (2, b"/app/current".to_vec()),
            (3, b"/app/current/sub".to_vec())
        ]
    );
}
