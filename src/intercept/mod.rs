//! What both ways in share, below both: the decision per open (is this the
//! first read of a watched file? [`gate`]), the tie to the last checkpoint
//! ([`recent`]), the current directory kept between opens ([`cwd`]), the
//! re-entry guard ([`guard`]), the line said when nothing matched
//! ([`nothing_matched`]) and the table two copies of forkmon in one
//! process share ([`shared`]). The preload's libc detours and the Lua
//! module both call in here; neither calls the other.

pub mod cwd;
pub mod gate;
pub mod guard;
pub mod nothing_matched;
pub mod recent;
pub mod shared;

/// Where the opened path is relative to.
#[derive(Clone, Copy)]
pub enum Base {
    CurrentDir,
    Directory(i32),
}
