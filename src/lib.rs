//! ClinicBox: a clinic management server in one binary.

pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod i18n;
pub mod ops;
pub mod tls;
pub mod web;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
