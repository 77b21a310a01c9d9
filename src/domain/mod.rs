//! Business rules. Nothing in here knows about HTTP or HTML.

pub mod settings;
pub mod tenants;
