//! The holder of a checkpoint: a process frozen just before a file is read.
//! It waits for its child to end (and says so once) or for the watcher's
//! order to resume, and then replaces the child's whole subtree with a fresh
//! child forked from this point.
//!
//! The signals that end or stop a program alone must do so under forkmon
//! too, with the program's own handlers run to their end: a holder takes
//! them with sigwaitinfo, passes on those the terminal did not send to the
//! whole group (`kill <root pid>` reaches the program through each holder's
//! own, not yet reaped, child), and then ends as its child ends, so that the
//! tree ends after the program and with its status. It stops when its child
//! stops (Ctrl+Z), so that the shell sees the job stop.

use nix::sys::signal::{Signal, kill};
use nix::unistd::{ForkResult, Pid};

use super::end_requests::{EndRequests, Request, Verdict};
use super::shared_descriptors::SharedDescriptors;
use super::standby::{self, LeftAlive, Standby, Waited};
use super::trace::{self, ResumeTrace};
use crate::channel::journal::{Journal, WatcherState};
use crate::channel::resume_order::ResumeOrder;
use crate::sys::procfs;
use crate::sys::signals::{self, Received, SavedSignals, held_signals};
use crate::sys::terminal::TerminalModes;
use crate::sys::wait::{self, ChildStatus, signal_name};
use crate::{info, sys, warn};

/// How long after an ending signal a resume order waits for the child to
/// end by it (see [`Holder::let_an_ending_child_end`]).
const ENDING_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the line of a program's end waits for the watcher's lines of
/// the files the run read.
const HANDLED_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Holder {
    child: Option<Pid>,
    /// Where the watcher's pid is told: the first holder forks the watcher
    /// after it became a holder.
    journal: Journal,
    signals: SavedSignals,
    /// The holder above this one (none for the first holder, whose parent
    /// is the shell): a signal from it was passed down, not sent anew.
    parent: Option<Pid>,
    /// An ending signal came while the child ran: this holder ends as the
    /// child ends, instead of waiting for a change.
    ending: bool,
    /// The ending signals that came from outside the chain of holders
    /// while the child ran: a second one soon after the first ends the run
    /// (the program ignored or survived the first, and the user means it).
    asked_to_end: EndRequests,
    /// When the last ending signal came while the child ran.
    ending_since: Option<std::time::Instant>,
    /// The latest program signal passed down (see `pass_down`): a child
    /// that dies of it ends the tree.
    passed_down: Option<i32>,
    /// The program's parent at this checkpoint (for the first holder, the
    /// program's starter), and whether a signal it sent came as it died
    /// (the program's parent-death signal): then the program's end ends
    /// the tree, as nobody is left to see the next run.
    starter: i32,
    starter_gone: bool,
    /// A SIGHUP taken for a reload was passed to the child: if the child
    /// dies of it (no handler, or a holder below with no program left),
    /// the tree ends by it, as the program alone would be gone.
    reload_passed: bool,
    /// No watcher could be started: no resume will come, and the holder
    /// ends as its child ends, as if forkmon were not there.
    passing_through: bool,
    /// `FORKMON_TRACE=1`: say how long each phase of a resume took.
    trace: bool,
    standby: Standby,
    /// The terminal's modes at the checkpoint: each resumed run starts
    /// with them, whatever the run it replaces left.
    terminal: Option<TerminalModes>,
    /// The offsets and flags of the program's descriptors at the checkpoint.
    descriptors: Option<SharedDescriptors>,
}

impl Holder {
    pub fn new(
        child: Pid,
        journal: Journal,
        signals: SavedSignals,
        parent: Option<Pid>,
        passing_through: bool,
    ) -> Holder {
        // No checkpoint is made while the program has children of its own
        // (see `unforked`): every child of a holder but the watcher belongs
        // to the run a resume replaces. (Listing them here instead raced
        // with a program that forked and exited within the watcher's start
        // delay: its orphan, re-parented here, was taken for an older child
        // and outlived every resume.)
        Holder {
            child: Some(child),
            journal,
            signals,
            parent,
            ending: false,
            asked_to_end: EndRequests::default(),
            ending_since: None,
            reload_passed: false,
            passed_down: None,
            starter: 0,
            starter_gone: false,
            passing_through,
            trace: trace::enabled(),
            // With no watcher no resume comes: no standby either.
            standby: Standby::new(!passing_through),
            terminal: None,
            descriptors: None,
        }
    }

    /// The program's parent at the checkpoint (see `starter_gone`).
    pub fn with_starter(mut self, starter: Pid) -> Holder {
        self.starter = starter.as_raw();
        self
    }

    pub fn with_descriptors(mut self, descriptors: SharedDescriptors) -> Holder {
        self.descriptors = Some(descriptors);
        self
    }

    pub fn with_terminal(mut self, terminal: Option<TerminalModes>) -> Holder {
        self.terminal = terminal;
        self
    }

    /// Sets back what the runs share with the checkpoint: the terminal's
    /// modes, the offsets and flags of the program's descriptors. After the
    /// old run is killed: it can no longer change them.
    fn restore_shared_state(&self) {
        if let Some(terminal) = &self.terminal {
            terminal.restore();
        }
        if let Some(descriptors) = &self.descriptors {
            descriptors.restore();
        }
    }

    /// Holds until told to resume; returns the order, in the new child
    /// only. `missed`: the ending and stopping signals pending here after
    /// the fork; `raised_in_child`: those the child was given at its start
    /// (pending before the fork).
    /// The engine made this process a child subreaper before the fork, so
    /// orphans of the run are re-parented here, to be killed and reaped.
    pub fn hold(mut self, missed: Vec<Received>, raised_in_child: &[i32]) -> ResumeOrder {
        let waited = held_signals();
        for mut signal in missed {
            // Pending at the fork, the child has it already (raised in it
            // at its start, see `Engine::checkpoint`): here it only makes
            // the tree end (or stop) as the program does. One that came
            // just after the fork is passed on as any other.
            if raised_in_child.contains(&signal.signal) {
                signal.from_kernel = true;
            }
            self.on_signal(&signal);
        }
        loop {
            self.reap();
            let received = match self.standby.wait(&waited) {
                Ok(Waited::Released(value)) => {
                    self.signals.restore();
                    return ResumeOrder::from_value(value);
                }
                Ok(Waited::Signal(received)) => Ok(received),
                Err(error) => Err(error),
            };
            match received {
                Ok(received) if self.is_resume_order(&received) => {
                    // Ctrl+C, then a save before the program ended: the
                    // program's end ends the tree, as it would have alone.
                    self.let_an_ending_child_end();
                    let order = ResumeOrder::from_value(received.value);
                    let number = order.number;
                    let mut trace = ResumeTrace::start(self.trace);
                    self.standby.resumed();
                    let released = self.release_standby(order, trace.as_mut());
                    if !released {
                        self.end_run(trace.as_mut());
                        self.restore_shared_state();
                    }
                    self.ending = false;
                    self.ending_since = None;
                    self.asked_to_end.forget();
                    self.reload_passed = false;
                    self.passed_down = None;
                    self.journal.set_ending(false);
                    if released {
                        continue;
                    }
                    sys::flush_stdio();
                    // SAFETY: a holder is a copy of the program at a
                    // checkpoint, made only while it had one thread.
                    #[allow(unsafe_code)]
                    let forked = unsafe { sys::fork() };
                    match forked {
                        Ok(ForkResult::Child) => {
                            self.signals.restore();
                            if let Some(trace) = trace.as_mut() {
                                trace.mark("fork");
                                trace.say("new child", number);
                            }
                            return order;
                        }
                        Ok(ForkResult::Parent { child }) => {
                            self.child = Some(child);
                            if let Some(trace) = trace.as_mut() {
                                trace.mark("fork");
                                trace.say("holder", number);
                            }
                        }
                        Err(error) => warn!(
                            "cannot resume: fork failed ({error}); waiting for the next change"
                        ),
                    }
                }
                Ok(received) => self.on_signal(&received),
                Err(error) => {
                    warn!("a checkpoint stopped waiting ({error}); ending the program");
                    self.end_run(None);
                    sys::exit_now(1);
                }
            }
        }
    }

    fn on_signal(&mut self, received: &Received) {
        if signals::is_a_program_signal(received.signal) {
            self.pass_down(received);
            return;
        }
        match Signal::try_from(received.signal) {
            Ok(Signal::SIGTSTP) => self.on_stop_request(received),
            Ok(signal) if signals::ENDING.contains(&signal) => {
                self.on_ending_signal(signal, received)
            }
            // SIGCHLD (reaped before each wait), or a resume signal not
            // from the watcher.
            _ => {}
        }
    }

    /// A signal for the program (SIGUSR1, a real-time one...) that a process
    /// sent to this holder: to the first holder's pid, the program's own as
    /// the world knows it (a pidfile written before the first checkpoint, a
    /// supervisor that started it), or down from the holder above. The run
    /// gets it, as the program would alone; if it dies of it, the tree ends
    /// as the program did. What the kernel sends to the terminal's group,
    /// the run has itself; what the run sends to its parent is not for it.
    fn pass_down(&mut self, received: &Received) {
        // The kernel sends some in a process's own name (SIGPIPE of its own
        // write, a parent-death signal: then the parent's).
        let me = nix::unistd::getpid().as_raw();
        if !received.by_a_process
            || received.sender <= 0
            || received.sender == me
            || procfs::has_ancestor(received.sender, me)
        {
            return;
        }
        // Only the first holder has the program's pid as the world knows
        // it; below it, what the holder above passes down, queued in its
        // sender's name (a group's signal comes by kill, and to a pid, not
        // a group, by sigqueue). (A signal to the whole group reaches every
        // holder: each passed its own copy down, and the run had it once
        // per holder.)
        let from_above = received.queued
            || self
                .parent
                .is_some_and(|parent| parent.as_raw() == received.sender);
        if self.parent.is_some() && !from_above {
            return;
        }
        let starter_gone =
            received.sender == self.starter && sys::parent_pid().as_raw() != self.starter;
        self.starter_gone |= starter_gone;
        let Some(child) = self.child else {
            // Its parent-death signal while the program waits for a change:
            // nobody is left to see another run.
            if starter_gone {
                self.end_run(None);
                sys::exit_now(0);
            }
            return;
        };
        // In the sender's name: a program that answers `si_pid` answers it,
        // not this holder (which would take the answer for the run's own).
        let value = if received.queued { received.value } else { 0 };
        let sender = (received.sender, received.sender_uid);
        let sent = signals::pass_on_as(child, received.signal, value, sender).is_ok();
        if sent {
            self.passed_down = Some(received.signal);
        }
    }

    /// Resumes by the standby, if one is parked: the old run is killed but
    /// not waited for (see `standby`). Returns whether it did.
    fn release_standby(&mut self, order: ResumeOrder, mut trace: Option<&mut ResumeTrace>) -> bool {
        let Some(parked) = self.standby.take() else {
            return false;
        };
        let mut roots: Vec<Pid> = self.child.take().into_iter().collect();
        roots.extend(self.run_children(Some(parked.pid())));
        standby::kill_run(&roots, trace.as_deref_mut());
        self.restore_shared_state();
        let Some(child) = parked.release(order.value()) else {
            return false;
        };
        self.child = Some(child);
        if let Some(trace) = trace {
            trace.mark("release");
            trace.say("holder, by its standby", order.number);
        }
        true
    }

    /// The children of this holder that belong to the run (not the
    /// watcher, not `besides`).
    fn run_children(&self, besides: Option<Pid>) -> Vec<Pid> {
        let watcher = self.watcher();
        procfs::children()
            .unwrap_or_default()
            .into_iter()
            .filter(|pid| Some(*pid) != watcher && Some(*pid) != besides)
            .collect()
    }

    /// Only the watcher's queued signal is an order to resume.
    fn is_resume_order(&self, received: &Received) -> bool {
        received.signal == signals::resume_signal()
            && received.queued
            && Some(Pid::from_raw(received.sender)) == self.watcher()
    }

    fn watcher(&self) -> Option<Pid> {
        match self.journal.watcher() {
            WatcherState::Running(pid) => Some(pid),
            WatcherState::Starting | WatcherState::CouldNotStart => None,
        }
    }

    /// SIGINT, SIGTERM, SIGHUP or SIGQUIT: the program gets it as it would
    /// alone (from the terminal it has it already; from anyone else this
    /// holder passes it to its child); the tree then ends as the program
    /// does.
    fn on_ending_signal(&mut self, signal: Signal, received: &Received) {
        let passed_down = !received.from_kernel
            && self
                .parent
                .is_some_and(|parent| parent.as_raw() == received.sender);
        let Some(child) = self.child else {
            // Waiting for a change: no program to clean up, and nohup's
            // ignored SIGHUP is ignored here too.
            if signal == Signal::SIGHUP && self.signals.ignored(signal) {
                return;
            }
            self.end_run(None);
            wait::die_by(signal as i32);
        };
        let ignored = signal == Signal::SIGHUP && self.signals.ignored(signal);
        let reload = signal == Signal::SIGHUP && self.is_a_reload(received, passed_down);
        self.reload_passed |= reload;
        let verdict = if ignored || reload {
            Verdict::Repeat
        } else {
            let request = Request {
                signal: signal as i32,
                sender: received.sender,
                from_kernel: received.from_kernel,
                passed_down,
            };
            self.asked_to_end.take(request, std::time::Instant::now())
        };
        // Told before the signal goes down: a holder below decides by it.
        if verdict == Verdict::PassOn {
            self.ending = true;
            self.ending_since = Some(std::time::Instant::now());
            self.journal.set_ending(true);
        }
        if !received.from_kernel || (signal == Signal::SIGHUP && is_session_leader()) {
            // Not reaped yet, so this pid is still the child's.
            let _ = kill(child, signal);
        }
        if verdict == Verdict::EndAll {
            self.end_run(None);
            wait::die_by(signal as i32);
        }
    }

    /// Whether a SIGHUP a process sent asks the program to reload (`kill
    /// -HUP`, a service manager, a supervisor that started it): the program
    /// has it, and goes on (or ends) as it would alone, and forkmon as
    /// after any end of the program. A closed terminal's comes from the
    /// kernel, or from the shell as it exits, once the terminal has hung
    /// up: it ends the tree. One passed down by the holder above is what
    /// that holder took it for.
    fn is_a_reload(&self, received: &Received, passed_down: bool) -> bool {
        if received.from_kernel {
            return false;
        }
        if passed_down {
            return !self.journal.is_ending();
        }
        !sys::terminal::has_hung_up()
    }

    /// A resume order came while the child was taking an ending signal
    /// (a program that saves files as it runs, or one stuck resuming
    /// itself, when the user pressed Ctrl+C): the child gets up to
    /// [`ENDING_GRACE`] from the signal to end, and if it does, the tree
    /// ends with it (`reap` does not come back). One that is still
    /// running then survived the signal, as a program may, and is
    /// replaced by the resume.
    fn let_an_ending_child_end(&mut self) {
        let Some(since) = self.ending_since.filter(|_| self.ending) else {
            return;
        };
        while self.child.is_some() && since.elapsed() < ENDING_GRACE {
            std::thread::sleep(std::time::Duration::from_millis(2));
            self.reap();
        }
    }

    /// SIGTSTP (Ctrl+Z, or `kill -TSTP`): the program decides whether it
    /// stops, and this holder stops when it does (see `reap`). With no
    /// program running, the holder stops at once, so that the shell gets
    /// the terminal back.
    fn on_stop_request(&mut self, received: &Received) {
        match self.child {
            None => self.stop(),
            Some(child) if !received.from_kernel => {
                let _ = kill(child, Signal::SIGTSTP);
            }
            Some(_) => {}
        }
    }

    /// Stops this holder, and first the watcher if this holder started it:
    /// a watcher that ran on would print its lines over the shell's prompt.
    /// `fg` continues the whole process group, the watcher with it. Only
    /// the watcher's parent signals it: its pid cannot be another
    /// process's until this holder has reaped it.
    fn stop(&self) {
        let me = nix::unistd::getpid().as_raw();
        if let Some(watcher) = self.watcher()
            && procfs::parent_of(watcher.as_raw()) == Some(me)
        {
            let _ = kill(watcher, Signal::SIGSTOP);
        }
        wait::stop_self();
    }

    /// Reaps every ended child; says once how the program ended, or ends
    /// this holder as it ended. Stops this holder when its child stopped.
    fn reap(&mut self) {
        while let Some((pid, status)) = wait::try_wait_any() {
            let ended = !matches!(status, ChildStatus::Stopped(_) | ChildStatus::Continued);
            if ended && self.standby.ended(pid) {
                continue;
            }
            if Some(pid) == self.child {
                match status {
                    // The job stops, up to the first holder, which the shell
                    // waits for; `fg` continues the whole group.
                    ChildStatus::Stopped(_) => self.stop(),
                    ChildStatus::Continued => {}
                    ended => {
                        self.child = None;
                        self.child_ended(ended);
                    }
                }
            } else if Some(pid) == self.watcher()
                && !matches!(status, ChildStatus::Stopped(_) | ChildStatus::Continued)
            {
                warn!("the watcher process ended; ending the program");
                self.end_run(None);
                sys::exit_now(1);
            }
        }
    }

    fn child_ended(&mut self, status: ChildStatus) {
        // `app | head -n 3`: the reader of the output has gone, and the
        // program ended (by SIGPIPE, or an error of its write), as the
        // pipeline would alone; every later run's output would go nowhere.
        let reader_gone = matches!(
            status,
            ChildStatus::Signaled { .. } | ChildStatus::Exited(_)
        ) && sys::descriptors::output_has_no_reader();
        let died_of_the_reload = self.reload_passed
            && matches!(
                status,
                ChildStatus::Signaled {
                    signal: libc::SIGHUP,
                    ..
                }
            );
        let died_of_a_passed_signal = matches!(
            (status, self.passed_down),
            (ChildStatus::Signaled { signal, .. }, Some(passed)) if signal == passed
        );
        // A holder made while the program took the signal (in its
        // checkpoint, before this process became a holder) did not get it:
        // the holders above tell through the journal.
        if self.ending
            || self.passing_through
            || self.journal.is_ending()
            || reader_gone
            || died_of_the_reload
            || died_of_a_passed_signal
            || self.starter_gone
        {
            self.end_run(None);
            wait::end_as(status);
        }
        // After the lines of the files the run read (the watcher says
        // them): a short program's end came first.
        if !self.passing_through {
            self.journal.wait_handled(HANDLED_WAIT);
        }
        match status {
            ChildStatus::Exited(code) => {
                info!("program exited with status {code}; waiting for a change")
            }
            ChildStatus::Signaled {
                signal,
                core_dumped,
            } => warn!(
                "program ended by {}{}; waiting for a change",
                signal_name(signal),
                if core_dumped { " (core dumped)" } else { "" }
            ),
            ChildStatus::Stopped(_) | ChildStatus::Continued => {}
        }
    }

    /// Kills and reaps the current run: the child and everything below it,
    /// so no process of the old run is alive when the new one starts.
    fn end_run(&mut self, mut trace: Option<&mut ResumeTrace>) {
        if let Some(child) = self.child.take() {
            // The whole run at once: by parent-death signals alone, each
            // holder below would start to die only once the one above it
            // had torn down its memory (15 ms for 30 holders). A process
            // listed here cannot be reaped and its pid reused before the
            // kill unless it ends by itself in between and the kernel
            // hands out every other pid first.
            for pid in procfs::descendants(child) {
                let _ = kill(pid, Signal::SIGKILL);
            }
            let _ = kill(child, Signal::SIGKILL);
            if let Some(trace) = trace.as_deref_mut() {
                trace.mark("kill");
            }
            let _ = wait::wait_end(child);
            if let Some(trace) = trace.as_deref_mut() {
                trace.mark("reap-child");
            }
        }
        // What was killed above is re-parented here (subreaper) as each
        // level dies; so is anything forked after the tree was read. Each
        // round kills and reaps the children found now.
        let watcher = self.watcher();
        let mut left = LeftAlive::default();
        for _ in 0..10_000 {
            let Ok(children) = procfs::children() else {
                break;
            };
            let mut run: Vec<Pid> = children
                .into_iter()
                .filter(|pid| Some(*pid) != watcher && !left.contains(*pid))
                .collect();
            if run.is_empty() {
                if let Some(trace) = trace {
                    trace.mark("reap-rest");
                }
                break;
            }
            // One forkmon may not signal is reaped as it ends by itself.
            run.retain(|pid| left.kill(*pid));
            for pid in &run {
                let _ = wait::wait_end(*pid);
            }
        }
        left.say();
    }
}

/// A closed terminal sends SIGHUP to the session leader only (a shell,
/// which passes it to its jobs): when the program was started as the
/// leader (`setsid`, a terminal window running it directly), the first
/// holder is, and passes it on as the leader the program would have been.
fn is_session_leader() -> bool {
    nix::unistd::getsid(None).is_ok_and(|sid| sid == nix::unistd::getpid())
}
