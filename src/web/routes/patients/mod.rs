//! The patient registry pages.

pub mod chart;
pub mod edit;
pub mod list;
pub mod new;
pub mod trend;

use chrono::NaiveDate;

use crate::domain::patients::{AllergyInput, EmergencyContact, PatientInput, Phone, Severity, Sex};
use crate::web::forms::Pairs;
use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;

/// Blank rows offered for phones and allergies beyond those already filled in.
pub const SPARE_ROWS: usize = 2;

/// The patient form's fields (repeated `phone_*` and `allergy_*` rows) as domain input.
pub fn input_from_form(f: &Pairs) -> PatientInput {
    let phones = f
        .all("phone_number")
        .into_iter()
        .zip(
            f.all("phone_label")
                .into_iter()
                .chain(std::iter::repeat(String::new())),
        )
        .map(|(number, label)| Phone { label, number })
        .collect();
    let substances = f.all("allergy_substance");
    let reactions = f.all("allergy_reaction");
    let severities = f.all("allergy_severity");
    let allergies = substances
        .into_iter()
        .enumerate()
        .map(|(i, substance)| AllergyInput {
            substance,
            reaction: reactions.get(i).cloned().unwrap_or_default(),
            severity: severities.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    PatientInput {
        given_name: f.one("given_name"),
        middle_name: f.opt("middle_name"),
        family_name: f.one("family_name"),
        sex: f.one("sex"),
        birth_date: f.opt("birth_date"),
        birth_date_estimated: Some(f.flag("birth_date_estimated")),
        estimated_age: f.opt("estimated_age"),
        phones,
        email: f.opt("email"),
        address: f.opt("address"),
        national_id: f.opt("national_id"),
        insurance_id: f.opt("insurance_id"),
        emergency_contact: Some(EmergencyContact {
            name: f.one("emergency_name"),
            relation: f.one("emergency_relation"),
            phone: f.one("emergency_phone"),
        }),
        preferred_language: f.opt("preferred_language"),
        allergies,
        alerts: f.opt("alerts"),
        notes: f.opt("notes"),
    }
}

/// What the shared form template needs.
pub struct FormView {
    pub input: PatientInput,
    pub phones: Vec<Phone>,
    pub allergies: Vec<AllergyInput>,
    pub emergency: EmergencyContact,
    pub sexes: Vec<Sex>,
    pub severities: Vec<Severity>,
    pub today: NaiveDate,
}

impl FormView {
    pub fn new(input: PatientInput, today: NaiveDate) -> Self {
        use crate::domain::patients::model::{MAX_ALLERGIES, MAX_PHONES};
        let mut phones = input.phones.clone();
        let rows = (phones.len() + SPARE_ROWS)
            .min(MAX_PHONES)
            .max(phones.len());
        phones.resize(rows, Phone::default());
        let mut allergies = input.allergies.clone();
        let rows = (allergies.len() + SPARE_ROWS)
            .min(MAX_ALLERGIES)
            .max(allergies.len());
        allergies.resize(rows, AllergyInput::default());
        Self {
            emergency: input.emergency_contact.clone().unwrap_or_default(),
            phones,
            allergies,
            input,
            sexes: Sex::ALL.to_vec(),
            severities: Severity::ALL.to_vec(),
            today,
        }
    }

    pub fn opt(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
}

/// The registry's routes.
pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{PatientsRead, PatientsWrite};
    vec![
        Route::get("/patients", Needs(PatientsRead), list::page),
        Route::get("/patients/search", Needs(PatientsRead), list::partial),
        Route::get("/patients/new", Needs(PatientsWrite), new::show),
        Route::post("/patients/new", Needs(PatientsWrite), new::create),
        Route::get("/patients/{id}", Needs(PatientsRead), chart::show),
        Route::get("/patients/{id}/edit", Needs(PatientsWrite), edit::show),
        Route::post("/patients/{id}/edit", Needs(PatientsWrite), edit::save),
        Route::get(
            "/patients/{id}/delete",
            Needs(PatientsWrite),
            edit::confirm_delete,
        ),
        Route::post("/patients/{id}/delete", Needs(PatientsWrite), edit::delete),
        Route::post(
            "/patients/{id}/restore",
            Needs(PatientsWrite),
            edit::restore,
        ),
    ]
}
