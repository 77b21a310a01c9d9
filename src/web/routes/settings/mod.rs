//! Clinic settings for admins: staff accounts, roles (read-only), security, audit log.

pub mod audit;
pub mod index;
pub mod roles;
pub mod scheduling;
pub mod security;
pub mod users;
