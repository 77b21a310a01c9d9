//! The registry's units of work: each opens the clinic's transaction, does one thing, writes
//! its audit event and commits (see `domain::clinic`).

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::model::{Patient, PatientInput, PatientSummary};
use super::service::{self, PatientError};
use super::{repo, search as finder};
use crate::domain::audit::action;
use crate::domain::clinic::{Clinic, Unit};
use crate::domain::scheduling::{self, Appointment, AppointmentType, Provider};

/// The clinic's date today, for forms (a settings read: no audit event).
pub async fn today(c: &Clinic) -> sqlx::Result<NaiveDate> {
    let mut u = c.begin().await?;
    let tz = scheduling::clinic_tz(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(scheduling::local_date(tz, c.at()))
}

/// Searches (an empty query reads nothing and is not audited). Returns the clinic's date too.
pub async fn search(
    c: &Clinic,
    q: &str,
    limit: i64,
) -> sqlx::Result<(Vec<PatientSummary>, NaiveDate)> {
    let mut u = c.begin().await?;
    let tz = scheduling::clinic_tz(&mut u).await?;
    let today = scheduling::local_date(tz, c.at());
    if q.trim().is_empty() {
        u.finish_without_clinical_data().await?;
        return Ok((Vec::new(), today));
    }
    let results = finder::search(&mut u, q, limit).await?;
    let ev = u.event(action::PATIENT_SEARCH).details(serde_json::json!({
        "results": results.len(),
        "matched": results.first().map(|p| p.matched.clone()),
    }));
    u.audit_and_commit(ev).await?;
    Ok((results, today))
}

/// Registers a patient (see `service::register`); refusals are not audited (nothing was
/// stored or shown but the possible duplicates' summaries, which the search shows too).
pub async fn register(
    c: &Clinic,
    input: &PatientInput,
    confirm_duplicate: bool,
) -> Result<Patient, PatientError> {
    let mut u = c.begin().await?;
    let tz = scheduling::clinic_tz(&mut u).await?;
    let today = scheduling::local_date(tz, c.at());
    let p = match service::register(&mut u, input, confirm_duplicate, c.user_id(), today, c.at())
        .await
    {
        Ok(p) => p,
        Err(PatientError::PossibleDuplicates(d)) => {
            let ev = u
                .event(action::PATIENT_SEARCH)
                .details(serde_json::json!({ "results": d.len(), "for": "duplicates" }));
            u.audit_and_commit(ev).await?;
            return Err(PatientError::PossibleDuplicates(d));
        }
        Err(e) => return Err(e),
    };
    let ev = u
        .event(action::PATIENT_CREATED)
        .resource("patient", p.id)
        .patient(p.id)
        .details(serde_json::json!({ "duplicate_confirmed": confirm_duplicate }));
    u.audit_and_commit(ev).await?;
    Ok(p)
}

/// What the record is read for, in its audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewFor {
    /// The record itself (the API).
    Record,
    /// The edit form: deleted records are not found.
    Edit,
}

/// One record, with the clinic's date.
pub async fn view(
    c: &Clinic,
    id: i64,
    purpose: ViewFor,
) -> sqlx::Result<Option<(Patient, NaiveDate)>> {
    let mut u = c.begin().await?;
    let p = repo::get(&mut u, id)
        .await?
        .filter(|p| purpose != ViewFor::Edit || !p.deleted);
    let Some(p) = p else {
        u.rollback().await?;
        return Ok(None);
    };
    let tz = scheduling::clinic_tz(&mut u).await?;
    let mut ev = u
        .event(action::PATIENT_VIEW)
        .resource("patient", id)
        .patient(id);
    if purpose == ViewFor::Edit {
        ev = ev.details(serde_json::json!({ "for": "edit" }));
    }
    u.audit_and_commit(ev).await?;
    Ok(Some((p, scheduling::local_date(tz, c.at()))))
}

/// The chart: the record, and (if `with_appointments`) its upcoming and past appointments.
pub struct Chart {
    pub patient: Patient,
    pub tz: Tz,
    pub today: NaiveDate,
    /// Soonest first.
    pub upcoming: Vec<Appointment>,
    /// Newest first.
    pub past: Vec<Appointment>,
    pub providers: Vec<Provider>,
    pub types: Vec<AppointmentType>,
    /// Visits, problems and vitals, for those who may read them.
    pub clinical: Option<Clinical>,
    /// The documents (newest first), for those who may read them.
    pub documents: Option<crate::domain::documents::work::OfChart>,
    /// The patient's balance and the clinic's currency, for those who see invoices.
    pub balance: Option<(
        crate::domain::billing::repo::Balance,
        crate::domain::billing::money::Currency,
    )>,
}

/// The chart's clinical part.
pub struct Clinical {
    /// Newest first, the last 50.
    pub visits: Vec<crate::domain::visits::VisitSummary>,
    pub visit_count: i64,
    pub problems: Vec<crate::domain::visits::Problem>,
    /// Oldest first, the last 100 sets (the trend).
    pub vitals: Vec<crate::domain::visits::Vitals>,
}

/// What of the chart the reader may see (by their permissions).
#[derive(Clone, Copy, Debug, Default)]
pub struct ChartFor {
    pub appointments: bool,
    pub clinical: bool,
    pub documents: bool,
    /// What the patient owes and their credit (staff who see invoices).
    pub billing: bool,
}

pub async fn chart(c: &Clinic, id: i64, parts: ChartFor) -> sqlx::Result<Option<Chart>> {
    let mut u = c.begin().await?;
    let Some(patient) = repo::get(&mut u, id).await? else {
        u.rollback().await?;
        return Ok(None);
    };
    let tz = scheduling::clinic_tz(&mut u).await?;
    let (upcoming, past) = if parts.appointments {
        let all = scheduling::repo::of_patient(&mut u, id).await?;
        let (mut up, past): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| {
            a.ends_at >= c.at()
                && a.status().is_active()
                && a.status() != scheduling::Status::Completed
        });
        up.reverse();
        (up, past)
    } else {
        (Vec::new(), Vec::new())
    };
    let providers = scheduling::repo::providers(&mut u).await?;
    let types = scheduling::repo::types(&mut u, false).await?;
    let clinical = if parts.clinical {
        use crate::domain::visits::repo as visits;
        Some(Clinical {
            visits: visits::of_patient(&mut u, id, 50).await?,
            visit_count: visits::count_of_patient(&mut u, id).await?,
            problems: visits::problems(&mut u, id).await?,
            vitals: visits::vitals_of_patient(&mut u, id, 100).await?,
        })
    } else {
        None
    };
    let documents = if parts.documents {
        Some(crate::domain::documents::work::of_chart(&mut u, id).await?)
    } else {
        None
    };
    let balance = if parts.billing {
        use crate::domain::billing::repo as billing;
        let b = billing::balance(&mut u, id).await?;
        Some((b, billing::config(&mut u).await?.currency))
    } else {
        None
    };
    let ev = u
        .event(action::PATIENT_VIEW)
        .resource("patient", id)
        .patient(id);
    u.audit_and_commit(ev).await?;
    Ok(Some(Chart {
        documents,
        balance,
        clinical,
        patient,
        tz,
        today: scheduling::local_date(tz, c.at()),
        upcoming,
        past,
        providers,
        types,
    }))
}

/// Replaces the record's fields (the edit form). Returns the record and what changed.
pub async fn update(
    c: &Clinic,
    id: i64,
    input: &PatientInput,
    version: Option<i32>,
) -> Result<(Patient, Vec<&'static str>), PatientError> {
    let mut u = c.begin().await?;
    let (p, changed) = apply(&mut u, id, input, version).await?;
    updated(u, id, &changed).await?;
    Ok((p, changed))
}

async fn updated(u: Unit<'_>, id: i64, changed: &[&str]) -> sqlx::Result<()> {
    let ev = u
        .event(action::PATIENT_UPDATED)
        .resource("patient", id)
        .patient(id)
        .details(serde_json::json!({ "changed": changed }));
    u.audit_and_commit(ev).await
}

async fn apply(
    u: &mut Unit<'_>,
    id: i64,
    input: &PatientInput,
    version: Option<i32>,
) -> Result<(Patient, Vec<&'static str>), PatientError> {
    let c = u.clinic();
    let tz = scheduling::clinic_tz(u).await?;
    let data = input
        .validate(scheduling::local_date(tz, c.at()))
        .map_err(PatientError::Invalid)?;
    service::update(u, id, &data, version, c.user_id(), c.at()).await
}

/// Changes only the fields in `patch` (JSON keys of `PatientInput`), the API's PATCH, in one
/// transaction with the record locked.
pub async fn patch(
    c: &Clinic,
    id: i64,
    patch: serde_json::Map<String, serde_json::Value>,
    version: Option<i32>,
) -> Result<Patient, PatientError> {
    let mut u = c.begin().await?;
    let current = repo::get_for_update(&mut u, id)
        .await?
        .filter(|p| !p.deleted)
        .ok_or(PatientError::NotFound)?;
    let mut merged = serde_json::to_value(current.to_input())
        .map_err(|e| PatientError::Malformed(e.to_string()))?;
    if let serde_json::Value::Object(m) = &mut merged {
        m.extend(patch);
    }
    let input = serde_json::from_value::<PatientInput>(merged)
        .map_err(|e| PatientError::Malformed(format!("invalid patient: {e}")))?;
    let (p, changed) = apply(&mut u, id, &input, version).await?;
    updated(u, id, &changed).await?;
    Ok(p)
}

/// Marks a record deleted (it stays, with its audit trail) or restores it.
pub async fn set_deleted(c: &Clinic, id: i64, deleted: bool) -> Result<(), PatientError> {
    let mut u = c.begin().await?;
    service::set_deleted(&mut u, id, deleted, c.user_id(), c.at()).await?;
    let act = if deleted {
        action::PATIENT_DELETED
    } else {
        action::PATIENT_RESTORED
    };
    let ev = u.event(act).resource("patient", id).patient(id);
    u.audit_and_commit(ev).await?;
    Ok(())
}

/// A patient's appointments, newest first; `None` if there is no such patient.
pub async fn appointments(c: &Clinic, id: i64) -> sqlx::Result<Option<Vec<Appointment>>> {
    let mut u = c.begin().await?;
    if repo::get(&mut u, id).await?.is_none() {
        u.rollback().await?;
        return Ok(None);
    }
    let list = scheduling::repo::of_patient(&mut u, id).await?;
    let ev = u
        .event(action::PATIENT_APPOINTMENTS)
        .resource("patient", id)
        .patient(id)
        .details(serde_json::json!({ "appointments": list.len() }));
    u.audit_and_commit(ev).await?;
    Ok(Some(list))
}
