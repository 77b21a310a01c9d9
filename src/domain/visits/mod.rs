//! The consultation: visits (encounters) with their note, vitals, diagnoses, signing and
//! amendments, and the chart's problem list.

pub mod model;
pub mod repo;
pub mod service;
pub mod templates;
pub mod vitals;
pub mod work;

pub use model::{
    Amendment, Diagnosis, DiagnosisInput, NoteInput, Problem, Section, Visit, VisitError,
    VisitSummary,
};
pub use vitals::{Flag, Vitals, VitalsInput};
