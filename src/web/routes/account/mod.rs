//! The signed-in person's own account: overview, password, second factor, API tokens.

pub mod mfa;
pub mod password;
pub mod show;
pub mod tokens;
