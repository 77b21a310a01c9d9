//! Prescription units of work: each opens the clinic transaction, does one thing, writes its
//! one audit event and commits. Lines are added to an unsigned visit with the note on screen
//! saved in the same transaction (as every action of the visit screen).

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::dose::PatientLang;
use super::model::{Drug, DrugInput, Item, ItemData, ItemInput, SetSummary};
use super::repo::{self, Prescriber, SetLine};
use crate::domain::audit::action;
use crate::domain::clinic::Clinic;
use crate::domain::patients::{self, Patient};
use crate::domain::validation::Errors;
use crate::domain::visits::service::NoteSave;
use crate::domain::visits::work::{tz, with_note};
use crate::domain::visits::{Diagnosis, Visit, VisitError};
use crate::domain::{scheduling, visits};

async fn drug_of(
    u: &mut crate::domain::clinic::Unit<'_>,
    input: &ItemInput,
) -> Result<Option<Drug>, VisitError> {
    let id = input.drug_id.trim();
    if id.is_empty() {
        return Ok(None);
    }
    match id.parse::<i64>() {
        Ok(id) => match repo::drug(u, id).await? {
            Some(d) => Ok(Some(d)),
            None => Err(VisitError::Invalid(Errors::with(
                "rx_drug",
                "invalid.rx_drug",
            ))),
        },
        Err(_) => Err(VisitError::Invalid(Errors::with(
            "rx_drug",
            "invalid.rx_drug",
        ))),
    }
}

/// Adds a line to an unsigned visit's prescription, refusing it (with the allergy named) when
/// it matches one of the patient's recorded allergies and the doctor has not confirmed.
pub async fn add_item(
    c: &Clinic,
    visit: i64,
    input: &ItemInput,
    note: Option<&NoteSave>,
) -> Result<i64, VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (v, changed) = with_note(&mut u, tz, visit, note).await?;
    let drug = drug_of(&mut u, input).await?;
    let patient = patients::repo::get(&mut u, v.patient_id)
        .await?
        .ok_or(VisitError::NotFound)?;
    let data = input
        .validate(drug.as_ref(), &patient.allergies)
        .map_err(VisitError::Invalid)?;
    let id = repo::add_item(&mut u, visit, &data, c.at()).await?;
    let ev = u
        .event(action::RX_ITEM_ADDED)
        .resource("visit", visit)
        .patient(v.patient_id)
        .details(serde_json::json!({
            "item": id, "drug": data.drug_id, "allergy_override": data.allergy_override.is_some(),
            "note_changed": changed,
        }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

pub async fn remove_item(
    c: &Clinic,
    visit: i64,
    item: i64,
    note: Option<&NoteSave>,
) -> Result<(), VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (v, changed) = with_note(&mut u, tz, visit, note).await?;
    if !repo::remove_item(&mut u, visit, item).await? {
        return Err(VisitError::NotFound);
    }
    let ev = u
        .event(action::RX_ITEM_REMOVED)
        .resource("visit", visit)
        .patient(v.patient_id)
        .details(serde_json::json!({ "item": item, "note_changed": changed }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

fn line_of(i: &Item, typed_quantity: bool) -> SetLine {
    SetLine {
        drug_id: i.drug_id,
        drug: i.drug.clone(),
        form: i.form.clone(),
        dose: i.dose.clone(),
        route: i.route.clone(),
        timing: i.timing.clone(),
        days: i.days,
        quantity: typed_quantity.then_some(i.quantity),
        instructions: i.instructions.clone(),
    }
}

/// Saves the visit's prescription (or one line of it, `item`: a favourite) as the doctor's
/// set `name` (replacing their set of that name). Returns the set's id.
pub async fn save_set(
    c: &Clinic,
    visit: i64,
    name: &str,
    item: Option<i64>,
    note: Option<&NoteSave>,
) -> Result<i64, VisitError> {
    let by = c.user_id().ok_or(VisitError::NotClinician)?;
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (v, changed) = with_note(&mut u, tz, visit, note).await?;
    let items: Vec<Item> = repo::items(&mut u, visit)
        .await?
        .into_iter()
        .filter(|i| item.is_none_or(|id| id == i.id))
        .collect();
    if items.is_empty() {
        return Err(match item {
            Some(_) => VisitError::NotFound,
            None => VisitError::Invalid(Errors::with("rx_set_name", "invalid.rx_set_empty")),
        });
    }
    let name = match item {
        // A favourite's own name: the drug and dose, shortened to fit.
        Some(_) if name.trim().is_empty() => format!("★ {} {}", items[0].drug, items[0].dose)
            .chars()
            .take(80)
            .collect(),
        _ => name.trim().to_owned(),
    };
    if name.is_empty() || name.chars().count() > 80 {
        return Err(VisitError::Invalid(Errors::with(
            "rx_set_name",
            "invalid.max_80",
        )));
    }
    // A quantity that the dose and duration give is computed again when the set is applied.
    let lines: Vec<SetLine> = items
        .iter()
        .map(|i| {
            let computed = super::dose::parse(&i.dose)
                .and_then(|d| super::dose::quantity(&d, &i.form, i.days.map(|x| x as u32), None));
            line_of(i, computed.is_none())
        })
        .collect();
    let id = repo::save_set(&mut u, by, &name, &lines, c.at()).await?;
    let ev = u
        .event(action::RX_SET_SAVED)
        .resource("prescription_set", id)
        .patient(v.patient_id)
        .details(
            serde_json::json!({ "visit": visit, "lines": lines.len(), "note_changed": changed }),
        );
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// Adds a set's lines to the visit, each checked as if typed (allergies included). Returns
/// how many were added.
pub async fn apply_set(
    c: &Clinic,
    visit: i64,
    set: i64,
    confirm_allergy: bool,
    note: Option<&NoteSave>,
) -> Result<usize, VisitError> {
    let by = c.user_id().ok_or(VisitError::NotClinician)?;
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (v, changed) = with_note(&mut u, tz, visit, note).await?;
    let lines = repo::set_lines(&mut u, by, set)
        .await?
        .ok_or_else(|| VisitError::Invalid(Errors::with("rx_set", "invalid.rx_set")))?;
    let patient = patients::repo::get(&mut u, v.patient_id)
        .await?
        .ok_or(VisitError::NotFound)?;
    let mut added = Vec::new();
    for l in &lines {
        let drug = match l.drug_id {
            Some(id) => repo::drug(&mut u, id).await?,
            None => None,
        };
        let input = ItemInput {
            drug_id: drug.as_ref().map(|d| d.id.to_string()).unwrap_or_default(),
            other: if drug.is_some() {
                String::new()
            } else {
                l.drug.clone()
            },
            other_form: if drug.is_some() {
                String::new()
            } else {
                l.form.clone()
            },
            dose: l.dose.clone(),
            route: l.route.clone(),
            timing: l.timing.clone(),
            days: l.days.map(|d| d.to_string()).unwrap_or_default(),
            quantity: l.quantity.map(|q| q.to_string()).unwrap_or_default(),
            instructions: l.instructions.clone(),
            confirm_allergy,
        };
        let data: ItemData = input
            .validate(drug.as_ref(), &patient.allergies)
            .map_err(|e| {
                // The set's line is not on screen: its message goes where the set was chosen.
                let msg = e
                    .get("rx_allergy")
                    .or_else(|| e.as_map().values().next())
                    .cloned()
                    .unwrap_or_default();
                let field = if e.get("rx_allergy").is_some() {
                    "rx_allergy"
                } else {
                    "rx_set"
                };
                VisitError::Invalid(Errors::with(field, msg))
            })?;
        added.push(repo::add_item(&mut u, visit, &data, c.at()).await?);
    }
    let ev = u
        .event(action::RX_SET_APPLIED)
        .resource("visit", visit)
        .patient(v.patient_id)
        .details(serde_json::json!({ "set": set, "items": added, "note_changed": changed }));
    u.audit_and_commit(ev).await?;
    Ok(added.len())
}

/// The signed-in doctor's favourites and sets (no patient data).
pub async fn my_sets(c: &Clinic) -> sqlx::Result<Vec<SetSummary>> {
    let mut u = c.begin().await?;
    let sets = match c.user_id() {
        Some(me) => repo::sets(&mut u, me).await?,
        None => Vec::new(),
    };
    u.finish_without_clinical_data().await?;
    Ok(sets)
}

pub async fn delete_set(c: &Clinic, set: i64) -> Result<bool, VisitError> {
    let by = c.user_id().ok_or(VisitError::NotClinician)?;
    let mut u = c.begin().await?;
    if !repo::delete_set(&mut u, by, set).await? {
        u.rollback().await?;
        return Ok(false);
    }
    let ev = u
        .event(action::RX_SET_DELETED)
        .resource("prescription_set", set);
    u.audit_and_commit(ev).await?;
    Ok(true)
}

/// The clinic's drug list (reference data, not audited): active ones, or all.
pub async fn drugs(c: &Clinic, all: bool) -> sqlx::Result<Vec<Drug>> {
    let mut u = c.begin().await?;
    let list = repo::drugs(&mut u, all).await?;
    u.finish_without_clinical_data().await?;
    Ok(list)
}

pub async fn drug(c: &Clinic, id: i64) -> sqlx::Result<Option<Drug>> {
    let mut u = c.begin().await?;
    let d = repo::drug(&mut u, id).await?;
    u.finish_without_clinical_data().await?;
    Ok(d)
}

/// Adds (`id` none) or changes a drug of the list. `Ok(None)`: no such drug.
pub async fn save_drug(
    c: &Clinic,
    id: Option<i64>,
    input: &DrugInput,
) -> Result<Option<i64>, SaveError> {
    let d = input.validate().map_err(SaveError::Invalid)?;
    let mut u = c.begin().await?;
    if let Some(id) = id
        && repo::drug(&mut u, id).await?.is_none()
    {
        u.rollback().await?;
        return Ok(None);
    }
    let Some(saved) = repo::save_drug(&mut u, id, &d).await? else {
        u.rollback().await?;
        return Err(SaveError::Invalid(Errors::with(
            "generic_name",
            "invalid.rx_drug_exists",
        )));
    };
    let ev = u
        .event(action::DRUG_SETTINGS)
        .resource("drug", saved)
        .details(serde_json::json!({ "created": id.is_none(), "active": d.active }));
    u.audit_and_commit(ev).await?;
    Ok(Some(saved))
}

pub async fn prescriber(c: &Clinic, user: i64) -> sqlx::Result<Option<Prescriber>> {
    let mut u = c.begin().await?;
    let p = repo::prescriber(&mut u, user).await?;
    u.finish_without_clinical_data().await?;
    Ok(p)
}

/// Saves what prints under a clinician's name. `Ok(false)`: not a clinician.
pub async fn save_prescriber(
    c: &Clinic,
    user: i64,
    qualification: &str,
    registration_no: &str,
) -> Result<bool, SaveError> {
    let mut e = Errors::new();
    let q = qualification.trim();
    let r = registration_no.trim();
    if q.chars().count() > 200 {
        e.add("qualification", "invalid.max_200");
    }
    if r.chars().count() > 100 {
        e.add(
            "registration_no",
            crate::i18n::msg("invalid.max_chars", &[("max", &100)]),
        );
    }
    if !e.is_empty() {
        return Err(SaveError::Invalid(e));
    }
    let mut u = c.begin().await?;
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    if !repo::save_prescriber(&mut u, user, opt(q).as_deref(), opt(r).as_deref()).await? {
        u.rollback().await?;
        return Ok(false);
    }
    let ev = u.event(action::PRESCRIBER_SETTINGS).resource("user", user);
    u.audit_and_commit(ev).await?;
    Ok(true)
}

/// A settings change refused (field messages) or failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("{0:?}")]
    Invalid(Errors),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

pub use crate::domain::settings::Letterhead;

/// Everything a printed prescription shows.
pub struct PrintRecord {
    pub visit: Visit,
    pub patient: Patient,
    pub diagnoses: Vec<Diagnosis>,
    pub items: Vec<Item>,
    pub prescriber: Prescriber,
    pub letterhead: Letterhead,
    pub tz: Tz,
    pub day: NaiveDate,
    pub age: Option<u32>,
    /// 1 for the original; more is a reprint.
    pub copy: i32,
    pub lang: PatientLang,
}

/// Prints a signed visit's prescription (an audited read that records the print): the
/// first print is the original, every later one a numbered reprint. `lang` overrides the
/// patient's preferred language for the instructions.
pub async fn print(
    c: &Clinic,
    visit: i64,
    paper: &str,
    lang: Option<PatientLang>,
) -> Result<PrintRecord, VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let v = visits::repo::lock(&mut u, visit)
        .await?
        .ok_or(VisitError::NotFound)?;
    if !v.signed() {
        return Err(VisitError::NotSigned);
    }
    let patient = patients::repo::get(&mut u, v.patient_id)
        .await?
        .ok_or(VisitError::NotFound)?;
    let items = repo::items(&mut u, visit).await?;
    let diagnoses = visits::repo::diagnoses(&mut u, visit).await?;
    let prescriber = repo::prescriber(&mut u, v.clinician_id)
        .await?
        .ok_or(VisitError::NotFound)?;
    let letterhead = Letterhead::read(&mut u).await?;
    let lang =
        lang.unwrap_or_else(|| PatientLang::of_patient(patient.preferred_language.as_deref()));
    let copy = repo::record_print(&mut u, visit, paper, lang.code(), c.user_id(), c.at()).await?;
    let day = scheduling::local_date(tz, v.started_at);
    let ev = u
        .event(action::RX_PRINTED)
        .resource("visit", visit)
        .patient(v.patient_id)
        .details(serde_json::json!({ "copy": copy, "paper": paper, "language": lang.code() }));
    u.audit_and_commit(ev).await?;
    Ok(PrintRecord {
        age: visits::service::age_years(patient.birth_date, day),
        visit: v,
        patient,
        diagnoses,
        items,
        prescriber,
        letterhead,
        tz,
        day,
        copy,
        lang,
    })
}

/// A visit's prescription (the API): an audited read.
pub async fn of_visit(c: &Clinic, visit: i64) -> Result<Vec<Item>, VisitError> {
    let mut u = c.begin().await?;
    let v = visits::repo::get(&mut u, visit)
        .await?
        .ok_or(VisitError::NotFound)?;
    let items = repo::items(&mut u, visit).await?;
    let ev = u
        .event(action::RX_VIEW)
        .resource("visit", visit)
        .patient(v.patient_id);
    u.audit_and_commit(ev).await?;
    Ok(items)
}
