//! The consultation's units of work: each opens the clinic's transaction, does one thing,
//! writes its one audit event and commits (see `domain::clinic`). Every visit page, vitals
//! form and list names a patient, so every unit here is audited but the code search, which
//! reads only the shared code set.
//!
//! Actions taken from the visit screen carry the note as it is on screen (`NoteSave`), saved
//! in the same transaction: without JavaScript nothing typed is lost by pressing "Add
//! diagnosis" or "Sign".

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::model::{
    Amendment, Diagnosis, DiagnosisInput, Problem, Visit, VisitError, VisitSummary,
};
use super::repo;
use super::service::{self, NoteSave};
use super::templates::{NoteTemplate, TemplateInput};
use super::vitals::{Vitals, VitalsInput};
use crate::domain::audit::action;
use crate::domain::clinic::{Clinic, Unit};
use crate::domain::codes::{self, Code};
use crate::domain::patients::{self, Patient};
use crate::domain::prescriptions;
use crate::domain::scheduling::{self, Appointment, Status};

pub(crate) async fn tz(u: &mut Unit<'_>) -> sqlx::Result<Tz> {
    scheduling::clinic_tz(u).await
}

/// Starts the visit of an appointment ("Start" on Today or the queue), or finds the one
/// started already. Returns the visit's id.
pub async fn start(c: &Clinic, appointment: i64) -> Result<i64, VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (id, patient, created) =
        service::start(&mut u, tz, appointment, c.user_id(), c.at()).await?;
    if !created {
        // Nothing changed or was shown: the visit page audits its own reading.
        u.rollback().await?;
        return Ok(id);
    }
    let ev = u
        .event(action::VISIT_STARTED)
        .resource("visit", id)
        .patient(patient)
        .details(serde_json::json!({ "appointment": appointment }));
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// A visit without an appointment, from the chart.
pub async fn start_for_patient(c: &Clinic, patient: i64) -> Result<i64, VisitError> {
    let mut u = c.begin().await?;
    let id = service::start_for_patient(&mut u, patient, c.user_id(), c.at()).await?;
    let ev = u
        .event(action::VISIT_STARTED)
        .resource("visit", id)
        .patient(patient);
    u.audit_and_commit(ev).await?;
    Ok(id)
}

/// Everything the visit screen shows.
pub struct VisitRecord {
    pub visit: Visit,
    pub patient: Patient,
    pub vitals: Vec<Vitals>,
    pub diagnoses: Vec<Diagnosis>,
    pub amendments: Vec<Amendment>,
    pub problems: Vec<Problem>,
    pub tz: Tz,
    pub today: NaiveDate,
    /// The patient's age in whole years today, for reference ranges.
    pub age: Option<u32>,
    /// Codes found for `code_query`.
    pub codes: Vec<Code>,
    /// The prescription's lines.
    pub rx: Vec<prescriptions::Item>,
    /// For an unsigned visit: the clinic's active drugs, and the clinician's favourites and sets.
    pub drugs: Vec<prescriptions::Drug>,
    pub sets: Vec<prescriptions::SetSummary>,
    /// The documents added from this visit.
    pub documents: crate::domain::documents::work::OfChart,
}

async fn record(
    u: &mut Unit<'_>,
    v: Visit,
    code_query: Option<&str>,
) -> Result<VisitRecord, VisitError> {
    let c = u.clinic();
    let tz = tz(u).await?;
    let today = scheduling::local_date(tz, c.at());
    let patient = patients::repo::get(u, v.patient_id)
        .await?
        .ok_or(VisitError::NotFound)?;
    let vitals = repo::vitals_of_visit(u, v.id, v.appointment_id).await?;
    let diagnoses = repo::diagnoses(u, v.id).await?;
    let amendments = repo::amendments(u, v.id).await?;
    let problems = repo::problems(u, v.patient_id).await?;
    let codes = match code_query {
        Some(q) => find_codes(u, q, 15).await?,
        None => Vec::new(),
    };
    let rx = prescriptions::repo::items(u, v.id).await?;
    let documents = crate::domain::documents::work::of_visit(u, v.id).await?;
    let (drugs, sets) = if v.signed() {
        (Vec::new(), Vec::new())
    } else {
        let sets = match c.user_id() {
            Some(me) => prescriptions::repo::sets(u, me).await?,
            None => Vec::new(),
        };
        (prescriptions::repo::drugs(u, false).await?, sets)
    };
    Ok(VisitRecord {
        documents,
        age: service::age_years(patient.birth_date, today),
        visit: v,
        patient,
        vitals,
        diagnoses,
        amendments,
        problems,
        tz,
        today,
        codes,
        rx,
        drugs,
        sets,
    })
}

/// The visit screen (an audited read), with the codes found for `code_query` if given.
pub async fn open(
    c: &Clinic,
    id: i64,
    code_query: Option<&str>,
) -> Result<VisitRecord, VisitError> {
    let mut u = c.begin().await?;
    let v = repo::get(&mut u, id).await?.ok_or(VisitError::NotFound)?;
    let r = record(&mut u, v, code_query).await?;
    let ev = u
        .event(action::VISIT_VIEW)
        .resource("visit", id)
        .patient(r.visit.patient_id);
    u.audit_and_commit(ev).await?;
    Ok(r)
}

/// Saves the note (the form, autosave or the API). Returns the version now stored.
pub async fn save(c: &Clinic, id: i64, note: &NoteSave, autosave: bool) -> Result<i32, VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let v = service::editable(&mut u, id).await?;
    let (version, changed) = service::save_note(&mut u, tz, &v, note, c.user_id(), c.at()).await?;
    let ev = u
        .event(action::VISIT_UPDATED)
        .resource("visit", id)
        .patient(v.patient_id)
        .details(serde_json::json!({ "changed": changed, "autosave": autosave }));
    u.audit_and_commit(ev).await?;
    Ok(version)
}

/// Saves the note on screen (if any) with another change to an unsigned visit; the fields
/// that changed, for the event.
pub(crate) async fn with_note(
    u: &mut Unit<'_>,
    tz: Tz,
    id: i64,
    note: Option<&NoteSave>,
) -> Result<(Visit, Vec<&'static str>), VisitError> {
    let c = u.clinic();
    let v = service::editable(u, id).await?;
    let changed = match note {
        Some(n) => {
            service::save_note(u, tz, &v, n, c.user_id(), c.at())
                .await?
                .1
        }
        None => Vec::new(),
    };
    Ok((v, changed))
}

/// Where vitals are recorded: in a visit, or at triage (for an appointment, or the patient).
#[derive(Clone, Copy, Debug)]
pub enum VitalsFor {
    Visit(i64),
    Patient {
        patient: i64,
        appointment: Option<i64>,
    },
}

/// Records a set of vitals. Returns the patient's id.
pub async fn record_vitals(
    c: &Clinic,
    target: VitalsFor,
    input: &VitalsInput,
    note: Option<&NoteSave>,
) -> Result<(i64, i64), VisitError> {
    let data = input.validate().map_err(VisitError::Invalid)?;
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (patient, appointment, visit, changed) = match target {
        VitalsFor::Visit(id) => {
            let (v, changed) = with_note(&mut u, tz, id, note).await?;
            (v.patient_id, v.appointment_id, Some(id), changed)
        }
        VitalsFor::Patient {
            patient,
            appointment,
        } => {
            match patients::repo::get(&mut u, patient).await? {
                Some(p) if !p.deleted => {}
                _ => return Err(VisitError::NotFound),
            }
            let mut visit = None;
            if let Some(a) = appointment {
                let appt = scheduling::repo::appointment(&mut u, a).await?;
                if appt.is_none_or(|x| x.patient_id != patient) {
                    return Err(VisitError::NotFound);
                }
                // Taken after the doctor started: they belong to the visit (unless signed).
                if let Some(vid) = repo::of_appointment(&mut u, a).await? {
                    service::editable(&mut u, vid).await?;
                    visit = Some(vid);
                }
            }
            (patient, appointment, visit, Vec::new())
        }
    };
    let id = repo::insert_vitals(
        &mut u,
        patient,
        appointment,
        visit,
        &data,
        c.user_id(),
        c.at(),
    )
    .await?;
    let ev = u
        .event(action::VITALS_RECORDED)
        .resource("vitals", id)
        .patient(patient)
        .details(serde_json::json!({ "visit": visit, "appointment": appointment, "note_changed": changed }));
    u.audit_and_commit(ev).await?;
    Ok((id, patient))
}

/// Adds a diagnosis (and, if chronic, a problem on the chart).
pub async fn add_diagnosis(
    c: &Clinic,
    id: i64,
    input: &DiagnosisInput,
    note: Option<&NoteSave>,
) -> Result<i64, VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (v, changed) = with_note(&mut u, tz, id, note).await?;
    let (code, title) = service::diagnosis(&mut u, input).await?;
    let code_ref = code.as_ref().map(|(s, c)| (s.as_str(), c.as_str()));
    let dx = repo::add_diagnosis(&mut u, id, code_ref, &title, input.primary, c.at()).await?;
    let problem = if input.chronic {
        let day = scheduling::local_date(tz, c.at());
        Some(repo::add_problem(&mut u, v.patient_id, code_ref, &title, day, c.user_id()).await?)
    } else {
        None
    };
    let ev = u
        .event(action::DIAGNOSIS_ADDED)
        .resource("visit", id)
        .patient(v.patient_id)
        .details(serde_json::json!({
            "diagnosis": dx, "code": code.as_ref().map(|c| &c.1), "primary": input.primary,
            "problem": problem, "note_changed": changed,
        }));
    u.audit_and_commit(ev).await?;
    Ok(dx)
}

pub async fn remove_diagnosis(
    c: &Clinic,
    id: i64,
    diagnosis: i64,
    note: Option<&NoteSave>,
) -> Result<(), VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let (v, changed) = with_note(&mut u, tz, id, note).await?;
    if !repo::remove_diagnosis(&mut u, id, diagnosis).await? {
        return Err(VisitError::NotFound);
    }
    let ev = u
        .event(action::DIAGNOSIS_REMOVED)
        .resource("visit", id)
        .patient(v.patient_id)
        .details(serde_json::json!({ "diagnosis": diagnosis, "note_changed": changed }));
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// Signs the visit (saving the note on screen first): from now on it is final.
pub async fn sign(c: &Clinic, id: i64, note: Option<&NoteSave>) -> Result<Visit, VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let by = c.user_id().ok_or(VisitError::NotClinician)?;
    let (v, changed) = with_note(&mut u, tz, id, note).await?;
    service::sign(&mut u, tz, &v, by, c.at()).await?;
    let v = repo::get(&mut u, id).await?.ok_or(VisitError::NotFound)?;
    let ev = u
        .event(action::VISIT_SIGNED)
        .resource("visit", id)
        .patient(v.patient_id)
        .details(serde_json::json!({ "note_changed": changed }));
    u.audit_and_commit(ev).await?;
    Ok(v)
}

/// Corrects a signed visit's section: the original stays, the amendment says who, when, why.
pub async fn amend(
    c: &Clinic,
    id: i64,
    section: &str,
    body: &str,
    reason: &str,
) -> Result<i64, VisitError> {
    let (section, body, reason) =
        service::amendment(section, body, reason).map_err(VisitError::Invalid)?;
    let mut u = c.begin().await?;
    let by = c.user_id().ok_or(VisitError::NotClinician)?;
    let v = repo::lock(&mut u, id).await?.ok_or(VisitError::NotFound)?;
    if !v.signed() {
        return Err(VisitError::NotSigned);
    }
    let a = repo::add_amendment(&mut u, id, section.as_str(), &body, &reason, by, c.at()).await?;
    let ev = u
        .event(action::VISIT_AMENDED)
        .resource("visit", id)
        .patient(v.patient_id)
        .details(serde_json::json!({ "amendment": a, "section": section.as_str() }));
    u.audit_and_commit(ev).await?;
    Ok(a)
}

/// Marks a problem of the patient's list resolved (today).
pub async fn resolve_problem(c: &Clinic, patient: i64, problem: i64) -> Result<(), VisitError> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let day = scheduling::local_date(tz, c.at());
    if !repo::resolve_problem(&mut u, patient, problem, day).await? {
        return Err(VisitError::NotFound);
    }
    let ev = u
        .event(action::PROBLEM_RESOLVED)
        .resource("problem", problem)
        .patient(patient);
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// A patient's visits (the API), newest first; `None` if there is no such patient.
pub async fn of_patient(c: &Clinic, patient: i64) -> sqlx::Result<Option<Vec<VisitSummary>>> {
    let mut u = c.begin().await?;
    if patients::repo::get(&mut u, patient).await?.is_none() {
        u.rollback().await?;
        return Ok(None);
    }
    let list = repo::of_patient(&mut u, patient, 500).await?;
    let ev = u
        .event(action::VISIT_LIST)
        .resource("patient", patient)
        .patient(patient)
        .details(serde_json::json!({ "visits": list.len() }));
    u.audit_and_commit(ev).await?;
    Ok(Some(list))
}

/// One patient waiting for a clinician today.
pub struct Waiting {
    pub appointment: Appointment,
    /// The visit started for it, if any.
    pub visit: Option<i64>,
    /// Vitals were taken for it.
    pub triaged: bool,
}

/// A clinician's day: their queue (checked in or in consultation, theirs or for whoever is
/// free, in arrival order), the patients waiting for triage, and their unsigned visits.
pub struct MyDay {
    pub tz: Tz,
    pub queue: Vec<Waiting>,
    /// Everyone checked in whose vitals are not taken yet, whoever will see them (triage).
    pub triage: Vec<Appointment>,
    pub unsigned: Vec<VisitSummary>,
}

pub async fn my_day(c: &Clinic) -> sqlx::Result<MyDay> {
    let mut u = c.begin().await?;
    let tz = tz(&mut u).await?;
    let me = c.user_id();
    let (from, to) = scheduling::slots::day_bounds(tz, scheduling::local_date(tz, c.at()));
    let mut present: Vec<Appointment> = scheduling::repo::between(&mut u, from, to, None)
        .await?
        .into_iter()
        .filter(|a| matches!(a.status(), Status::Arrived | Status::InConsultation))
        .collect();
    present.sort_by_key(|a| (a.arrived_at.unwrap_or(a.starts_at), a.id));
    let ids: Vec<i64> = present.iter().map(|a| a.id).collect();
    let triaged = repo::triaged(&mut u, &ids).await?;
    let triage: Vec<Appointment> = present
        .iter()
        .filter(|a| a.status() == Status::Arrived && !triaged.contains(&a.id))
        .cloned()
        .collect();
    let waiting: Vec<Appointment> = present
        .into_iter()
        .filter(|a| a.provider_id.is_none() || a.provider_id == me)
        .collect();
    // The visits already started for them, in one query rather than one per patient.
    let started = repo::of_appointments(&mut u, &ids).await?;
    let queue: Vec<Waiting> = waiting
        .into_iter()
        .map(|a| Waiting {
            triaged: triaged.contains(&a.id),
            visit: started.iter().find(|(ap, _)| *ap == a.id).map(|(_, v)| *v),
            appointment: a,
        })
        .collect();
    let unsigned = match me {
        Some(me) => repo::unsigned_of(&mut u, me).await?,
        None => Vec::new(),
    };
    let ev = u.event(action::SCHEDULE_VIEW).details(serde_json::json!({
        "view": "my_day", "queue": queue.len(), "triage": triage.len(), "unsigned": unsigned.len(),
    }));
    u.audit_and_commit(ev).await?;
    Ok(MyDay {
        tz,
        queue,
        triage,
        unsigned,
    })
}

async fn find_codes(u: &mut Unit<'_>, q: &str, limit: i64) -> sqlx::Result<Vec<Code>> {
    let system = service::code_system(u).await?;
    let mut found = match codes::code_like(q) {
        Some(prefix) => codes::repo::by_code(u, &system, &prefix, limit).await?,
        None => Vec::new(),
    };
    // A code that matched needs no word search (one round trip less per keystroke).
    if found.is_empty()
        && let Some(words) = codes::prefix_query(q)
    {
        found = codes::repo::by_words(u, &system, &words, limit).await?;
    }
    Ok(found)
}

/// Searches the clinic's code set by code, words or word beginnings ("dia mel"). Reference
/// data only: not audited.
pub async fn search_codes(c: &Clinic, q: &str, limit: i64) -> sqlx::Result<Vec<Code>> {
    let mut u = c.begin().await?;
    let found = if q.trim().is_empty() {
        Vec::new()
    } else {
        find_codes(&mut u, q, limit.clamp(1, 50)).await?
    };
    u.finish_without_clinical_data().await?;
    Ok(found)
}

/// The clinic's note templates (settings, not clinical data).
pub async fn templates(c: &Clinic) -> sqlx::Result<Vec<NoteTemplate>> {
    let mut u = c.begin().await?;
    let list = repo::templates(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(list)
}

pub async fn template(c: &Clinic, id: i64) -> sqlx::Result<Option<NoteTemplate>> {
    let mut u = c.begin().await?;
    let t = repo::template(&mut u, id).await?;
    u.finish_without_clinical_data().await?;
    Ok(t)
}

/// Adds (`id` none) or changes a note template. `Ok(None)`: no such template. Visits already
/// started keep the copy they started with.
pub async fn save_template(
    c: &Clinic,
    id: Option<i64>,
    input: &TemplateInput,
) -> Result<Option<i64>, VisitError> {
    let (name, layout) = input.validate().map_err(VisitError::Invalid)?;
    let mut u = c.begin().await?;
    if let Some(id) = id
        && repo::template(&mut u, id).await?.is_none()
    {
        u.rollback().await?;
        return Ok(None);
    }
    let saved =
        repo::save_template(&mut u, id, &name, &layout, input.is_default, input.active).await?;
    let Some(saved) = saved else {
        u.rollback().await?;
        return Err(VisitError::Invalid(
            crate::domain::validation::Errors::with("name", "invalid.template_name_taken"),
        ));
    };
    let ev = u
        .event(action::NOTE_TEMPLATE_SETTINGS)
        .resource("note_template", saved)
        .details(serde_json::json!({
            "created": id.is_none(),
            "fields": layout.fields.len(),
            "default": input.is_default,
            "active": input.active,
        }));
    u.audit_and_commit(ev).await?;
    Ok(Some(saved))
}
