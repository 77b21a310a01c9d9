pub mod account;
pub mod api;
pub mod auth;
pub mod clinic;
pub mod console;
pub mod health;
pub mod settings;
