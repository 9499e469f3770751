//! The one watcher of a process tree: a process of its own, forked by the
//! first holder, with one inotify instance for every watched file. It reads
//! the registrations of the [`channel`](crate::channel), settles editor saves
//! ([`watchlist`], free of system calls) and tells the holder of the
//! earliest changed checkpoint to resume ([`event_loop`]).

#![forbid(unsafe_code)]

mod event_loop;
mod holders;
pub mod watchlist;

pub(crate) use event_loop::file_event;
pub use event_loop::run;
