//! One integration-test binary: real PostgreSQL, real HTTP over loopback.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests and their helpers fail loudly"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests set up their data with the wall clock; the server under test reads its own clock"
)]

mod helpers;

mod api;
mod audit;
mod auth_login;
mod auth_mfa;
mod auth_tokens;
mod backups;
mod billing;
mod branding;
mod browser;
mod cancel;
mod check;
mod config_cli;
mod console;
mod cross_clinic;
mod documents;
mod http;
mod isolation;
mod logs;
mod metrics;
mod migrations;
mod openapi;
mod patients;
mod prescriptions;
mod readiness;
mod reports;
mod routes;
mod scheduling;
mod security;
mod setup;
mod systemd;
mod templates;
mod tenants;
mod tls;
mod visits;
