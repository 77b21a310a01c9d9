//! Business rules. Nothing in here knows about HTTP or HTML.

pub mod audit;
pub mod auth;
pub mod billing;
pub mod clinic;
pub mod codes;
pub mod console;
pub mod documents;
pub mod patients;
pub mod prescriptions;
pub mod reports;
pub mod scheduling;
pub mod settings;
pub mod tenants;
pub mod validation;
pub mod visits;
