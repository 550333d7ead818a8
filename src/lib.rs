//! Botper: a Webex bot and integration that keeps a person's tasks and meetings.
//!
//! Hexagonal layout: `domain` (pure rules), `ports` (traits the core needs), `app` (use cases
//! over ports), `adapters` (Webex over HTTP, the database, HTTP ingress), and `startup`, the
//! composition root that wires adapters to ports for `main` and for the tests.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod ports;
pub mod startup;
pub mod telemetry;
