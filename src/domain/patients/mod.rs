//! The patient registry: records, duplicate warnings, soft deletion, search.

pub mod model;
pub mod repo;
pub mod search;
pub mod service;
pub mod work;

pub use model::{
    Allergy, AllergyInput, EmergencyContact, Patient, PatientData, PatientInput, PatientSummary,
    Phone, Severity, Sex, age_label,
};
pub use service::PatientError;
