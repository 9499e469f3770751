//! When the ending signals a holder receives while its program runs
//! (Ctrl+C, SIGTERM, SIGQUIT, a closed terminal's SIGHUP) end the whole
//! tree at once. The program gets each as it would alone, and the tree
//! ends as the program does; a second request, soon after the first, ends
//! it all (the program ignored the first, and the user means it).

// Pure bookkeeping: the holder sends and kills.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

/// The same signal from the same sender within this is one request:
/// `timeout` signals the program's pid, then its process group, and the
/// first holder is both.
const SAME_REQUEST: Duration = Duration::from_millis(50);

/// A second request ends everything only this soon after the one before:
/// later, the program has survived the first (a REPL's Ctrl+C cancels a
/// line), and the next one is the program's again, as alone.
pub const FORCE_WINDOW: Duration = Duration::from_secs(3);

/// What a request means for the tree.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The program has it; the tree ends as the program does.
    PassOn,
    /// The request before, again: nothing more.
    Repeat,
    /// A second request: end everything now.
    EndAll,
}

/// One ending signal as it came.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub signal: i32,
    pub sender: i32,
    pub from_kernel: bool,
    /// Passed down by the holder above: the program has it already.
    pub passed_down: bool,
}

#[derive(Debug, Default)]
pub struct EndRequests {
    last: Option<(Request, Instant)>,
}

impl EndRequests {
    pub fn take(&mut self, request: Request, now: Instant) -> Verdict {
        if request.passed_down {
            return Verdict::PassOn;
        }
        let Some((last, at)) = self.last else {
            self.last = Some((request, now));
            return Verdict::PassOn;
        };
        let since = now.saturating_duration_since(at);
        // A process's, again (the terminal sends one per key press).
        if since < SAME_REQUEST
            && !request.from_kernel
            && last.signal == request.signal
            && last.sender == request.sender
        {
            return Verdict::Repeat;
        }
        self.last = Some((request, now));
        if since <= FORCE_WINDOW {
            Verdict::EndAll
        } else {
            Verdict::PassOn
        }
    }

    /// A resume: the run that was asked to end is gone.
    pub fn forget(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TERM: i32 = 15;
    const INT: i32 = 2;

    fn from(signal: i32, sender: i32) -> Request {
        Request {
            signal,
            sender,
            from_kernel: sender == 0,
            passed_down: false,
        }
    }

    #[test]
    fn a_second_request_soon_after_the_first_ends_all() {
        let t0 = Instant::now();
        let mut requests = EndRequests::default();
        assert_eq!(requests.take(from(INT, 0), t0), Verdict::PassOn);
        let later = t0 + Duration::from_millis(400);
        assert_eq!(requests.take(from(INT, 0), later), Verdict::EndAll);
    }

    #[test]
    fn timeouts_signal_to_the_pid_and_to_the_group_is_one_request() {
        let t0 = Instant::now();
        let mut requests = EndRequests::default();
        assert_eq!(requests.take(from(TERM, 77), t0), Verdict::PassOn);
        let group = t0 + Duration::from_micros(30);
        assert_eq!(requests.take(from(TERM, 77), group), Verdict::Repeat);
        // `timeout -k`'s later SIGKILL is no ending signal; a TERM from
        // someone else is a second request.
        let other = t0 + Duration::from_millis(1);
        assert_eq!(requests.take(from(TERM, 78), other), Verdict::EndAll);
    }

    #[test]
    fn two_ctrl_c_in_quick_succession_are_two_requests() {
        let t0 = Instant::now();
        let mut requests = EndRequests::default();
        assert_eq!(requests.take(from(INT, 0), t0), Verdict::PassOn);
        let soon = t0 + Duration::from_millis(5);
        assert_eq!(requests.take(from(INT, 0), soon), Verdict::EndAll);
    }

    #[test]
    fn a_request_long_after_the_first_is_the_programs_again() {
        let t0 = Instant::now();
        let mut requests = EndRequests::default();
        assert_eq!(requests.take(from(INT, 0), t0), Verdict::PassOn);
        let later = t0 + FORCE_WINDOW + Duration::from_millis(1);
        assert_eq!(requests.take(from(INT, 0), later), Verdict::PassOn);
        let soon = later + Duration::from_millis(500);
        assert_eq!(requests.take(from(INT, 0), soon), Verdict::EndAll);
    }

    #[test]
    fn a_signal_passed_down_by_the_holder_above_is_no_request() {
        let t0 = Instant::now();
        let mut requests = EndRequests::default();
        assert_eq!(requests.take(from(INT, 0), t0), Verdict::PassOn);
        let down = Request {
            passed_down: true,
            ..from(INT, 41)
        };
        assert_eq!(
            requests.take(down, t0 + Duration::from_millis(5)),
            Verdict::PassOn
        );
        requests.forget();
        assert_eq!(
            requests.take(from(INT, 0), t0 + Duration::from_millis(9)),
            Verdict::PassOn
        );
    }
}
