//! The integration-test binary (one, so the crate links once).

mod support;

mod binary;
mod commands;
mod health;
mod store_contract;
mod webhook;
