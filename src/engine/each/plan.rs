//! Which tasks of `forkmon.each` run next, from what each one read: no
//! system calls here (the stamps of files now are asked through a function).

use rustc_hash::{FxHashMap, FxHashSet};

use crate::stamp::FileStamp;

/// Why a task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first round: every task.
    First,
    /// The task list has it now, not before.
    New,
    /// It read this file, which changed (or is gone).
    Changed(Vec<u8>),
    /// Its round ended (crashed, timed out) before it ran.
    NotRun,
    /// Something the caller read before the call changed.
    Everything,
}

/// How a task's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// `run` raised an error or returned false (or a non-zero status).
    Failed(i32),
    /// Ended by a signal, or exited without reporting its result.
    Crashed,
    TimedOut,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed(_) => "failed",
            Status::Crashed => "crashed",
            Status::TimedOut => "timed out",
        }
    }
}

#[derive(Debug, Default)]
struct Task {
    /// Each watched file its last run opened, as it was then.
    reads: FxHashMap<Vec<u8>, Option<FileStamp>>,
    status: Option<Status>,
}

/// The tasks, what they read, and which of them are to run.
#[derive(Debug, Default)]
pub struct Plan {
    /// In the caller's order.
    order: Vec<Vec<u8>>,
    tasks: FxHashMap<Vec<u8>, Task>,
    /// To run next, each with the first reason found.
    pending: Vec<(Vec<u8>, Reason)>,
    /// Files a task wrote: its own output is no dependency of any task.
    written: FxHashSet<Vec<u8>>,
}

impl Plan {
    /// Every task runs first; a name given twice is one task.
    pub fn new(list: Vec<Vec<u8>>) -> Plan {
        let mut plan = Plan::default();
        for name in list {
            if !plan.tasks.contains_key(&name) {
                plan.tasks.insert(name.clone(), Task::default());
                plan.order.push(name.clone());
                plan.pending.push((name, Reason::First));
            }
        }
        plan
    }

    pub fn count(&self) -> usize {
        self.order.len()
    }

    /// The tasks, in the caller's order.
    pub fn names(&self) -> &[Vec<u8>] {
        &self.order
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The task list as it is now: a new task is to run; a task no longer
    /// listed is dropped (returned, in the old order).
    pub fn relist(&mut self, list: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let listed: FxHashSet<&Vec<u8>> = list.iter().collect();
        let dropped: Vec<Vec<u8>> = self
            .order
            .iter()
            .filter(|name| !listed.contains(name))
            .cloned()
            .collect();
        for name in &dropped {
            self.drop_task(name);
        }
        let mut order = Vec::with_capacity(list.len());
        for name in list {
            if order.contains(&name) {
                continue;
            }
            if !self.tasks.contains_key(&name) {
                self.tasks.insert(name.clone(), Task::default());
                self.queue(&name, Reason::New);
            }
            order.push(name);
        }
        self.order = order;
        dropped
    }

    fn drop_task(&mut self, name: &[u8]) {
        self.tasks.remove(name);
        self.order.retain(|n| n != name);
        self.pending.retain(|(n, _)| n != name);
    }

    fn queue(&mut self, name: &[u8], reason: Reason) {
        if self.tasks.contains_key(name) && !self.pending.iter().any(|(n, _)| n == name) {
            self.pending.push((name.to_vec(), reason));
        }
    }

    /// Every task is to run (something before the call changed). A task
    /// new to a runner resumed from before it came is one of all, not new
    /// (it ran as new before the resume); one left unrun stays so.
    pub fn queue_all(&mut self) {
        self.pending.retain(|(_, reason)| *reason == Reason::NotRun);
        for name in self.order.clone() {
            self.queue(&name, Reason::Everything);
        }
    }

    /// Queues a task whose round ended before it ran.
    pub fn not_run(&mut self, name: &[u8]) {
        self.queue(name, Reason::NotRun);
    }

    /// The tasks to run now, in the list's order; none is pending after.
    pub fn take_round(&mut self) -> Vec<(Vec<u8>, Reason)> {
        let mut round = std::mem::take(&mut self.pending);
        let position = |name: &[u8]| self.order.iter().position(|n| n == name);
        round.sort_by_key(|(name, _)| position(name));
        round
    }

    /// A task starts a run: what it read before is forgotten (it reads
    /// again).
    pub fn started(&mut self, name: &[u8]) {
        if let Some(task) = self.tasks.get_mut(name) {
            task.reads.clear();
            task.status = None;
        }
    }

    /// `name`'s run opened `path` for reading; the first stamp counts.
    pub fn read(&mut self, name: &[u8], path: &[u8], stamp: Option<FileStamp>) {
        if self.written.contains(path) {
            return;
        }
        if let Some(task) = self.tasks.get_mut(name) {
            task.reads.entry(path.to_vec()).or_insert(stamp);
        }
    }

    /// A task opened `path` for writing: no task depends on it from now on.
    pub fn wrote(&mut self, path: &[u8]) {
        for task in self.tasks.values_mut() {
            task.reads.remove(path);
        }
        self.written.insert(path.to_vec());
    }

    pub fn finished(&mut self, name: &[u8], status: Status) {
        if let Some(task) = self.tasks.get_mut(name) {
            task.status = Some(status);
        }
    }

    /// The files `name`'s last run read, sorted.
    pub fn reads_of(&self, name: &[u8]) -> Vec<Vec<u8>> {
        let mut reads: Vec<Vec<u8>> = self
            .tasks
            .get(name)
            .map(|task| task.reads.keys().cloned().collect())
            .unwrap_or_default();
        reads.sort();
        reads
    }

    /// Whether `name`'s run read `path` as it was not `now`.
    pub fn read_changed(&self, name: &[u8], path: &[u8], now: Option<FileStamp>) -> bool {
        self.tasks
            .get(name)
            .and_then(|task| task.reads.get(path))
            .is_some_and(|read| *read != now)
    }

    /// Every file some task read (to watch).
    pub fn watched(&self) -> FxHashSet<Vec<u8>> {
        self.tasks
            .values()
            .flat_map(|task| task.reads.keys().cloned())
            .collect()
    }

    /// Forgets reads of files that `is_tied` (to a checkpoint before the
    /// call): their change resumes from there, which runs every task.
    pub fn forget_tied(&mut self, is_tied: impl Fn(&[u8]) -> bool) {
        for task in self.tasks.values_mut() {
            task.reads.retain(|path, _| !is_tied(path));
        }
    }

    /// Looks at `paths` (files that may have changed) as they are now
    /// (`stamp_now`): each task that read one whose stamp is not the one it
    /// read is to run, unless the file is the task itself, gone, in a
    /// fixed list: then the task is dropped. Returns the dropped tasks.
    pub fn look_at<'a>(
        &mut self,
        paths: impl IntoIterator<Item = &'a [u8]>,
        stamp_now: impl Fn(&[u8]) -> Option<FileStamp>,
        drop_gone_tasks: bool,
    ) -> Vec<Vec<u8>> {
        let mut dropped = Vec::new();
        for path in paths {
            let now = stamp_now(path);
            let affected: Vec<Vec<u8>> = self
                .order
                .iter()
                .filter(|name| {
                    self.tasks[*name]
                        .reads
                        .get(path)
                        .is_some_and(|read| *read != now)
                })
                .cloned()
                .collect();
            for name in affected {
                if drop_gone_tasks && now.is_none() && name == path {
                    self.drop_task(&name);
                    dropped.push(name);
                } else {
                    self.queue(&name, Reason::Changed(path.to_vec()));
                }
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(size: i64) -> Option<FileStamp> {
        Some(FileStamp {
            device: 1,
            inode: 2,
            size,
            modified: (0, 0),
            changed: (0, 0),
        })
    }

    fn names(round: &[(Vec<u8>, Reason)]) -> Vec<&str> {
        round
            .iter()
            .map(|(n, _)| std::str::from_utf8(n).unwrap())
            .collect()
    }

    fn plan_of(list: &[&str]) -> Plan {
        Plan::new(list.iter().map(|n| n.as_bytes().to_vec()).collect())
    }

    #[test]
    fn every_task_runs_first_once_in_order() {
        let mut plan = plan_of(&["b", "a", "b"]);
        let round = plan.take_round();
        assert_eq!(names(&round), ["b", "a"]);
        assert!(round.iter().all(|(_, r)| *r == Reason::First));
        assert!(plan.take_round().is_empty());
    }

    #[test]
    fn a_change_runs_exactly_the_tasks_that_read_the_file() {
        let mut plan = plan_of(&["a", "b", "c"]);
        plan.take_round();
        plan.read(b"a", b"/m.lua", stamp(1));
        plan.read(b"c", b"/m.lua", stamp(1));
        plan.read(b"b", b"/b.lua", stamp(1));
        // Unchanged stamp: nothing runs.
        plan.look_at([&b"/m.lua"[..]], |_| stamp(1), true);
        assert!(plan.take_round().is_empty());
        plan.look_at([&b"/m.lua"[..]], |_| stamp(2), true);
        let round = plan.take_round();
        assert_eq!(names(&round), ["a", "c"]);
        assert_eq!(round[0].1, Reason::Changed(b"/m.lua".to_vec()));
    }

    #[test]
    fn a_rerun_forgets_the_old_reads() {
        let mut plan = plan_of(&["a"]);
        plan.take_round();
        plan.read(b"a", b"/old.lua", stamp(1));
        plan.started(b"a");
        plan.read(b"a", b"/new.lua", stamp(1));
        assert_eq!(plan.reads_of(b"a"), [b"/new.lua".to_vec()]);
        plan.look_at([&b"/old.lua"[..]], |_| stamp(2), true);
        assert!(plan.take_round().is_empty());
    }

    #[test]
    fn a_relisted_task_runs_and_an_unlisted_one_is_dropped() {
        let mut plan = plan_of(&["a", "b"]);
        plan.take_round();
        plan.read(b"b", b"/m.lua", stamp(1));
        let dropped = plan.relist(vec![b"a".to_vec(), b"c".to_vec()]);
        assert_eq!(dropped, [b"b".to_vec()]);
        let round = plan.take_round();
        assert_eq!(names(&round), ["c"]);
        assert_eq!(round[0].1, Reason::New);
        assert!(plan.watched().is_empty());
    }

    #[test]
    fn a_task_file_gone_from_a_fixed_list_is_dropped() {
        let mut plan = plan_of(&["/s_spec.lua", "/t_spec.lua"]);
        plan.take_round();
        plan.read(b"/s_spec.lua", b"/s_spec.lua", stamp(1));
        plan.read(b"/t_spec.lua", b"/s_spec.lua", stamp(1));
        let dropped = plan.look_at([&b"/s_spec.lua"[..]], |_| None, true);
        assert_eq!(dropped, [b"/s_spec.lua".to_vec()]);
        // The other task read it too: it runs (and will see it gone).
        assert_eq!(names(&plan.take_round()), ["/t_spec.lua"]);
        assert_eq!(plan.count(), 1);
    }

    #[test]
    fn files_a_task_writes_are_nobody_s_dependency() {
        let mut plan = plan_of(&["a", "b"]);
        plan.take_round();
        plan.read(b"a", b"/out.txt", stamp(1));
        plan.wrote(b"/out.txt");
        plan.read(b"b", b"/out.txt", stamp(2));
        assert!(plan.watched().is_empty());
    }

    #[test]
    fn files_tied_before_the_call_are_forgotten() {
        let mut plan = plan_of(&["a"]);
        plan.take_round();
        plan.read(b"a", b"/helper.lua", stamp(1));
        plan.read(b"a", b"/a.lua", stamp(1));
        plan.forget_tied(|path| path == b"/helper.lua");
        assert_eq!(plan.reads_of(b"a"), [b"/a.lua".to_vec()]);
    }

    #[test]
    fn unfinished_and_all_tasks_queue_once() {
        let mut plan = plan_of(&["a", "b"]);
        plan.take_round();
        plan.not_run(b"b");
        plan.queue_all();
        let round = plan.take_round();
        assert_eq!(names(&round), ["a", "b"]);
        assert_eq!(round[1].1, Reason::NotRun);
        assert_eq!(round[0].1, Reason::Everything);
    }

    #[test]
    fn a_new_task_queued_with_all_runs_as_one_of_all() {
        let mut plan = plan_of(&["a"]);
        plan.take_round();
        plan.relist(vec![b"a".to_vec(), b"b".to_vec()]);
        plan.queue_all();
        let round = plan.take_round();
        assert_eq!(names(&round), ["a", "b"]);
        assert!(
            round
                .iter()
                .all(|(_, reason)| *reason == Reason::Everything)
        );
    }
}
