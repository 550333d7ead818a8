//! The pure core of Botper: tasks, command parsing, reply rendering and the rules that link
//! meetings to tasks.
//!
//! Nothing in here waits on anything: no async, no runtime, no HTTP and no database crate
//! (`tests/architecture.rs` enforces it). "Now", randomness and ids come in as arguments.

pub mod access;
pub mod agenda;
pub mod calendar;
pub mod card;
pub mod command;
pub mod export;
pub mod grant;
pub mod ids;
pub mod markdown;
pub mod meeting;
pub mod mention;
pub mod polling;
pub mod rate;
pub mod recurrence;
pub mod reply;
pub mod task;
pub mod when;

pub use command::{Command, ParseError};
pub use ids::{MessageId, PersonId, RoomId};
pub use reply::Reply;
pub use task::{Task, TaskNumber, TaskOp, TaskOutcome, TaskTitle};

#[cfg(test)]
mod proptests;
