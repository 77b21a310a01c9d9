//! Registering and changing patient records.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::model::{Patient, PatientData, PatientInput, PatientSummary};
use super::repo;
use crate::domain::validation::Errors;

#[derive(Debug, thiserror::Error)]
pub enum PatientError {
    #[error("invalid input")]
    Invalid(Errors),
    /// Possible duplicates exist; the caller must confirm it is a different person.
    #[error("possible duplicates")]
    PossibleDuplicates(Vec<PatientSummary>),
    #[error("{}", crate::i18n::en("invalid.edit_conflict"))]
    Conflict,
    #[error("no such patient")]
    NotFound,
    /// A body that does not describe a patient (the API's JSON).
    #[error("{0}")]
    Malformed(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Registers a patient. Unless `confirm_duplicate`, possible duplicates (same name and birth
/// date, or the same phone) are returned instead of saving.
pub async fn register(
    conn: &mut PgConnection,
    input: &PatientInput,
    confirm_duplicate: bool,
    by: Option<i64>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Patient, PatientError> {
    let data = input.validate(today).map_err(PatientError::Invalid)?;
    if !confirm_duplicate {
        let dups = repo::duplicates(conn, &data, None).await?;
        if !dups.is_empty() {
            return Err(PatientError::PossibleDuplicates(dups));
        }
    }
    Ok(repo::insert(conn, &data, by, now).await?)
}

/// Replaces a record's fields. `version` (from the form or API) must match the stored one, so
/// two people editing at once cannot silently overwrite each other. Returns the new record and
/// the names of the fields that changed.
pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    data: &PatientData,
    version: Option<i32>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(Patient, Vec<&'static str>), PatientError> {
    let current = repo::get_for_update(conn, id)
        .await?
        .ok_or(PatientError::NotFound)?;
    if current.deleted {
        return Err(PatientError::NotFound);
    }
    if version.is_some_and(|v| v != current.version) {
        return Err(PatientError::Conflict);
    }
    let changed = current.data().changed_fields(data);
    if changed.is_empty() {
        return Ok((current, changed));
    }
    let p = repo::update(conn, id, data, by, now).await?;
    Ok((p, changed))
}

/// Marks a record deleted (it stays in the database and in the audit log) or restores it.
pub async fn set_deleted(
    conn: &mut PgConnection,
    id: i64,
    deleted: bool,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), PatientError> {
    if repo::get(conn, id).await?.is_none() {
        return Err(PatientError::NotFound);
    }
    if repo::set_deleted(conn, id, deleted, by, now).await? {
        Ok(())
    } else {
        Err(PatientError::Conflict)
    }
}

/// MRN prefixes: up to 8 of A-Z, 0-9 and '-'.
pub fn parse_mrn_prefix(s: &str) -> Result<String, &'static str> {
    let p = s.trim().to_uppercase();
    if p.len() <= 8
        && p.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(p)
    } else {
        Err("invalid.mrn_prefix")
    }
}
