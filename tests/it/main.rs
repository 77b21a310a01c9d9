//! One integration-test binary: real PostgreSQL, real HTTP over loopback.

mod helpers;

mod config_cli;
mod http;
mod isolation;
mod migrations;
mod readiness;
mod tenants;
