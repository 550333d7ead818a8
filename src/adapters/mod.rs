//! Adapters: the only code that knows HTTP, Webex's wire format or the database.

pub mod db;
pub mod http;
pub mod metrics;
pub mod webex;
