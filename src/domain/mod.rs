//! Business rules. Nothing in here knows about HTTP or HTML.

pub mod audit;
pub mod auth;
pub mod settings;
pub mod tenants;
