//! Prescriptions: the clinic's drug list, the lines of a visit's prescription with their dose,
//! quantity and the patient's instructions, allergy warnings, each doctor's favourites and
//! sets, and printing (a second print is a reprint).

pub mod dose;
pub mod model;
pub mod repo;
pub mod work;

pub use dose::PatientLang;
pub use model::{Drug, DrugInput, Item, ItemInput, SetSummary};
