//! Clinic settings for admins: staff accounts, roles (read-only), security, audit log; the
//! clinic's time zone and MRN prefix, opening hours, appointment types and providers' hours.

pub mod audit;
pub mod clinic;
pub mod hours;
pub mod index;
pub mod providers;
pub mod roles;
pub mod security;
pub mod types;
pub mod users;
mod week;
