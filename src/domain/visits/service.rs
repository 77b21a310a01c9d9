//! Visit rules that need SQL: starting one from an appointment, saving the note against its
//! version, signing, amending. On a connection inside the clinic transaction.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use super::model::{DiagnosisInput, NoteInput, Section, Visit, VisitError};
use super::repo;
use crate::domain::codes;
use crate::domain::scheduling::{self, Status, StatusError};
use crate::domain::settings::keys;
use crate::domain::validation::Errors;

fn status_error(e: StatusError) -> VisitError {
    match e {
        StatusError::NotFound => VisitError::NotFound,
        StatusError::NotAllowed { from, .. } => VisitError::AppointmentClosed(from),
        StatusError::ReasonRequired => VisitError::AppointmentClosed("cancelled"),
        StatusError::Sql(e) => VisitError::Sql(e),
    }
}

async fn clinician(conn: &mut PgConnection, user: Option<i64>) -> Result<i64, VisitError> {
    match user {
        Some(u) if scheduling::repo::provider(conn, u).await?.is_some() => Ok(u),
        _ => Err(VisitError::NotClinician),
    }
}

/// Starts the visit of an appointment (or finds the one already started): checks the patient
/// in if they were not, moves the appointment to "in consultation" and records the clinician
/// who sees them (a walk-in for "next free clinician" gets them). `(visit, patient, created)`.
pub async fn start(
    conn: &mut PgConnection,
    tz: Tz,
    appointment: i64,
    user: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(i64, i64, bool), VisitError> {
    let (status, _) = scheduling::repo::lock(conn, appointment)
        .await?
        .ok_or(VisitError::NotFound)?;
    let a = scheduling::repo::appointment(conn, appointment)
        .await?
        .ok_or(VisitError::NotFound)?;
    if let Some(id) = repo::of_appointment(conn, appointment).await? {
        return Ok((id, a.patient_id, false));
    }
    let by = clinician(conn, user).await?;
    let steps: &[Status] = match status {
        Status::Booked => &[Status::Arrived, Status::InConsultation],
        Status::Arrived => &[Status::InConsultation],
        Status::InConsultation => &[],
        other => return Err(VisitError::AppointmentClosed(other.as_str())),
    };
    for to in steps {
        scheduling::service::change_status(conn, tz, appointment, *to, None, Some(by), now)
            .await
            .map_err(status_error)?;
    }
    let id = repo::insert(conn, a.patient_id, Some(appointment), by, now).await?;
    Ok((id, a.patient_id, true))
}

/// A visit without an appointment (started from the chart).
pub async fn start_for_patient(
    conn: &mut PgConnection,
    patient: i64,
    user: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, VisitError> {
    match crate::domain::patients::repo::get(conn, patient).await? {
        Some(p) if !p.deleted => {}
        _ => return Err(VisitError::NotFound),
    }
    let by = clinician(conn, user).await?;
    Ok(repo::insert(conn, patient, None, by, now).await?)
}

/// The visit, locked, refusing a signed one.
pub async fn editable(conn: &mut PgConnection, id: i64) -> Result<Visit, VisitError> {
    let v = repo::lock(conn, id).await?.ok_or(VisitError::NotFound)?;
    if v.signed() {
        return Err(VisitError::Signed);
    }
    Ok(v)
}

/// The note as typed, and the version of the visit the form was opened at.
#[derive(Clone, Debug)]
pub struct NoteSave {
    pub note: NoteInput,
    pub version: i32,
    /// Fields not sent (the API's PATCH): they keep what is stored.
    pub omitted: Vec<&'static str>,
}

impl NoteSave {
    /// The whole note as typed (a form sends every field).
    pub fn all(note: NoteInput, version: i32) -> Self {
        Self {
            note,
            version,
            omitted: Vec::new(),
        }
    }

    fn resolved(&self, v: &Visit) -> NoteInput {
        let stored = v.note();
        let pick = |name: &str, typed: &String, kept: String| {
            if self.omitted.contains(&name) {
                kept
            } else {
                typed.clone()
            }
        };
        NoteInput {
            complaint: pick("complaint", &self.note.complaint, stored.complaint),
            history: pick("history", &self.note.history, stored.history),
            examination: pick("examination", &self.note.examination, stored.examination),
            assessment: pick("assessment", &self.note.assessment, stored.assessment),
            plan: pick("plan", &self.note.plan, stored.plan),
            follow_up_on: pick("follow_up_on", &self.note.follow_up_on, stored.follow_up_on),
            // Fields typed replace those stored; those not sent keep their value.
            fields: {
                let mut f = stored.fields;
                if !self.omitted.contains(&"fields") {
                    f.extend(self.note.fields.clone());
                }
                f
            },
        }
    }
}

/// Saves the note of an unsigned, locked visit. A form opened at an older version is refused
/// when it would change something (another tab or person saved meanwhile); nothing changed is
/// no write. Returns the version now stored and the fields that changed.
pub async fn save_note(
    conn: &mut PgConnection,
    tz: Tz,
    v: &Visit,
    save: &NoteSave,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(i32, Vec<&'static str>), VisitError> {
    let day = scheduling::local_date(tz, v.started_at);
    let data = save
        .resolved(v)
        .validate(day, v.layout())
        .map_err(VisitError::Invalid)?;
    let changed = data.changed_from(v);
    if changed.is_empty() {
        return Ok((v.version, changed));
    }
    if save.version != v.version {
        return Err(VisitError::Conflict(v.version));
    }
    let version = repo::save_note(conn, v.id, &data, by, now).await?;
    Ok((version, changed))
}

/// The clinic's code set.
pub async fn code_system(conn: &mut PgConnection) -> sqlx::Result<String> {
    Ok(keys::CODE_SYSTEM
        .get(conn)
        .await?
        .unwrap_or_else(|| codes::BUILTIN.to_owned()))
}

/// A diagnosis as it will be stored: `(code, title)` of the clinic's code set, or free text.
pub async fn diagnosis(
    conn: &mut PgConnection,
    input: &DiagnosisInput,
) -> Result<(Option<(String, String)>, String), VisitError> {
    let code = input.code.trim();
    if code.is_empty() {
        let text = input.text.trim();
        if text.is_empty() {
            return Err(VisitError::Invalid(Errors::with(
                "diagnosis",
                "invalid.diagnosis_empty",
            )));
        }
        if text.chars().count() > 500 {
            return Err(VisitError::Invalid(Errors::with(
                "diagnosis",
                "invalid.max_500",
            )));
        }
        return Ok((None, text.to_owned()));
    }
    let system = code_system(conn).await?;
    let wanted = codes::code_like(code).unwrap_or_else(|| code.to_owned());
    let found = match codes::repo::get(conn, &system, &wanted).await? {
        Some(c) => Some(c),
        None => codes::repo::get(conn, &system, code).await?,
    };
    match found {
        Some(c) => Ok((Some((c.system, c.code)), c.title)),
        None => Err(VisitError::Invalid(Errors::with(
            "diagnosis",
            crate::i18n::msg("invalid.no_such_code", &[("code", &code)]),
        ))),
    }
}

/// Signs an unsigned, locked visit; completes its appointment if it was in consultation.
pub async fn sign(
    conn: &mut PgConnection,
    tz: Tz,
    v: &Visit,
    by: i64,
    now: DateTime<Utc>,
) -> Result<(), VisitError> {
    repo::sign(conn, v.id, by, now).await?;
    if let Some(a) = v.appointment_id
        && let Some((Status::InConsultation, _)) = scheduling::repo::lock(conn, a).await?
    {
        scheduling::service::change_status(conn, tz, a, Status::Completed, None, Some(by), now)
            .await
            .map_err(status_error)?;
    }
    Ok(())
}

/// An amendment's checked fields.
pub fn amendment(
    section: &str,
    body: &str,
    reason: &str,
) -> Result<(Section, String, String), Errors> {
    let mut e = Errors::new();
    let s = Section::parse(section);
    if s.is_none() {
        e.add("section", "invalid.section");
    }
    let body = body.trim_end().replace("\r\n", "\n");
    if body.trim().is_empty() {
        e.add("body", "invalid.required");
    } else if body.chars().count() > super::model::MAX_SECTION {
        e.add("body", "invalid.max_10000");
    }
    let reason = reason.trim();
    if reason.is_empty() {
        e.add("reason", "invalid.amend_reason");
    } else if reason.chars().count() > 500 {
        e.add("reason", "invalid.max_500");
    }
    match s {
        Some(s) if e.is_empty() => Ok((s, body, reason.to_owned())),
        _ => Err(e),
    }
}

/// Whole years between `birth` and `today`.
pub fn age_years(birth: Option<NaiveDate>, today: NaiveDate) -> Option<u32> {
    let b = birth?;
    today.years_since(b)
}
