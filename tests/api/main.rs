//! The integration-test binary (one, so the crate links once).

mod support;

mod binary;
mod browser;
mod calendar;
mod cards;
mod cli;
mod commands;
mod fake_files;
mod fake_socket;
mod faults;
mod grants;
mod group_meetings;
mod health;
mod home;
mod load_tool;
mod meetings;
mod oauth_flow;
mod privacy;
mod reminders;
mod scheduler_contract;
mod socket;
mod store_contract;
mod webhook;
