//! The consultation's pages: the visit screen and its actions, triage vitals, the code search.

pub mod actions;
pub mod codes;
pub mod prescription;
pub mod show;
pub mod triage;

use crate::domain::prescriptions::ItemInput;
use crate::domain::visits::service::NoteSave;
use crate::domain::visits::{NoteInput, VitalsInput};
use crate::web::forms::Pairs;
use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;

/// The form name of a template field is this and its key (`tf.visual_acuity_right_eye`).
pub const FIELD_PREFIX: &str = "tf.";

/// The note fields of the visit form, if the form carried them (every action of the visit
/// screen does).
pub fn note_from_form(f: &Pairs) -> Option<NoteSave> {
    let version = f.one("version").trim().parse::<i32>().ok()?;
    Some(NoteSave::all(
        NoteInput {
            complaint: f.one("complaint"),
            history: f.one("history"),
            examination: f.one("examination"),
            assessment: f.one("assessment"),
            plan: f.one("plan"),
            follow_up_on: f.one("follow_up_on"),
            fields: f
                .0
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(FIELD_PREFIX)?.to_owned(), v.clone())))
                .collect(),
        },
        version,
    ))
}

/// The prescription line being added, as typed.
pub fn rx_from_form(f: &Pairs) -> ItemInput {
    ItemInput {
        drug_id: f.one("rx_drug"),
        other: f.one("rx_other"),
        other_form: f.one("rx_other_form"),
        dose: f.one("rx_dose"),
        route: f.one("rx_route"),
        timing: f.one("rx_timing"),
        days: f.one("rx_days"),
        quantity: f.one("rx_quantity"),
        instructions: f.one("rx_instructions"),
        confirm_allergy: f.flag("rx_confirm_allergy"),
    }
}

pub fn vitals_from_form(f: &Pairs) -> VitalsInput {
    VitalsInput {
        bp: f.one("bp"),
        pulse: f.one("pulse"),
        temperature: f.one("temperature"),
        temperature_unit: f.one("temperature_unit"),
        respiratory_rate: f.one("respiratory_rate"),
        spo2: f.one("spo2"),
        weight: f.one("weight"),
        weight_unit: f.one("weight_unit"),
        height: f.one("height"),
        height_unit: f.one("height_unit"),
        glucose: f.one("glucose"),
        glucose_unit: f.one("glucose_unit"),
        pain: f.one("pain"),
        note: f.one("vitals_note"),
    }
}

pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::{EncountersRead, EncountersSign, EncountersWrite};
    vec![
        Route::post(
            "/appointments/{id}/visit",
            Needs(EncountersWrite),
            actions::start,
        ),
        Route::post(
            "/patients/{id}/visits",
            Needs(EncountersWrite),
            actions::start_for_patient,
        ),
        Route::get(
            "/patients/{id}/vitals",
            Needs(EncountersWrite),
            triage::show,
        )
        .query("appointment={appointment}"),
        Route::post(
            "/patients/{id}/vitals",
            Needs(EncountersWrite),
            triage::save,
        ),
        Route::post(
            "/patients/{id}/problems/resolve",
            Needs(EncountersWrite),
            actions::resolve_problem,
        ),
        Route::get("/visits/{id}", Needs(EncountersRead), show::show),
        Route::post("/visits/{id}", Needs(EncountersWrite), actions::save),
        Route::post("/visits/{id}/sign", Needs(EncountersSign), actions::sign),
        Route::post("/visits/{id}/amend", Needs(EncountersSign), actions::amend),
        Route::get(
            "/visits/{id}/prescription",
            Needs(EncountersRead),
            prescription::print,
        )
        .query("paper=a5"),
        Route::get("/codes", Needs(EncountersRead), codes::search),
    ]
}
