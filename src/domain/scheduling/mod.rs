//! Scheduling: providers' hours, appointment types, booking without double booking, the
//! status flow and the day's queue.

pub mod config;
pub mod defaults;
pub mod model;
pub mod repo;
pub mod service;
pub mod slots;
pub mod work;

pub use model::{Appointment, AppointmentType, Provider, Status};
pub use service::{Booking, BookingError, StatusError, clinic_tz, local_date};
