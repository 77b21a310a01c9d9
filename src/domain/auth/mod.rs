//! Accounts and authentication: clinic staff and operators, passwords, lockout, TOTP, API
//! tokens, and the role/permission matrix.

pub mod breached;
pub mod model;
pub mod password;
pub mod realm;
pub mod repo;
pub mod service;
pub mod setup;
pub mod signin;
pub mod tokens;
pub mod totp;
pub mod work;

pub use model::{AccountStatus, Email, MfaPolicy, Permission, Role, TokenScope};
pub use repo::{AccountRow, Accounts, TokenRow};
