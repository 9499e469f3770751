//! The program's interval timers (`setitimer`, and `alarm`, which is
//! `ITIMER_REAL`): a forked child starts with none, so each new child of a
//! checkpoint arms again what was left of them at the checkpoint.

/// The three interval timers, as `getitimer` reads them.
#[derive(Clone, Copy)]
pub struct IntervalTimers([(i32, libc::itimerval); 3]);

const WHICH: [i32; 3] = [libc::ITIMER_REAL, libc::ITIMER_VIRTUAL, libc::ITIMER_PROF];

const DISARMED: libc::itimerval = libc::itimerval {
    it_interval: libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    },
    it_value: libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    },
};

impl IntervalTimers {
    /// What is left of each timer now.
    pub fn read() -> IntervalTimers {
        IntervalTimers(WHICH.map(|which| {
            let mut value = DISARMED;
            // SAFETY: getitimer writes one itimerval into the owned `value`.
            if unsafe { libc::getitimer(which, &mut value) } != 0 {
                value = DISARMED;
            }
            (which, value)
        }))
    }

    /// Arms each timer that was armed with what was left of it (one
    /// system call per armed timer; none when the program has none).
    pub fn arm(&self) {
        for (which, value) in &self.0 {
            let armed = value.it_value.tv_sec != 0 || value.it_value.tv_usec != 0;
            if armed {
                // SAFETY: setitimer reads one valid itimerval; the old value
                // is not asked for.
                unsafe { libc::setitimer(*which, value, std::ptr::null_mut()) };
            }
        }
    }
}
