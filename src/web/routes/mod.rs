pub mod clinic;
pub mod console;
pub mod health;
