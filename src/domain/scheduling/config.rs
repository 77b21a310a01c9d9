//! A clinic's scheduling configuration as units of work (see `domain::clinic`): time zone, MRN
//! prefix and slot length; opening hours and holidays; appointment types; each provider's hours
//! and leave. Reading it names no patient; every change writes one `settings.scheduling` event.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::model::{AppointmentType, Provider};
use super::repo::{self, Absence, Holiday, WeekRows};
use super::service::{clinic_tz, local_date};
use crate::domain::audit::action;
use crate::domain::clinic::{Clinic, Unit};
use crate::domain::patients::repo as patients;
use crate::domain::settings::keys;

/// The clinic-wide settings of the "Clinic" page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClinicSettings {
    pub timezone: Tz,
    pub mrn_prefix: String,
    pub slot_minutes: i64,
    /// How far ahead appointments may be booked, in months.
    pub horizon_months: i64,
    /// The diagnosis code set the visit screen searches (one of those loaded).
    pub code_system: String,
    /// The largest document upload, in MiB.
    pub max_upload_mb: i64,
}

/// The clinic settings and what they may be set to (the code sets loaded).
pub struct ClinicSettingsPage {
    pub settings: ClinicSettings,
    pub code_systems: Vec<crate::domain::codes::CodeSystem>,
}

pub async fn clinic_settings(c: &Clinic) -> sqlx::Result<ClinicSettingsPage> {
    let mut u = c.begin().await?;
    let settings = ClinicSettings {
        timezone: clinic_tz(&mut u).await?,
        mrn_prefix: patients::mrn_prefix(&mut u).await?,
        slot_minutes: repo::slot_minutes(&mut u).await?,
        horizon_months: repo::horizon_months(&mut u).await?,
        code_system: crate::domain::visits::service::code_system(&mut u).await?,
        max_upload_mb: (crate::domain::documents::work::max_file(&mut u).await? >> 20) as i64,
    };
    let code_systems = crate::domain::codes::repo::systems(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(ClinicSettingsPage {
        settings,
        code_systems,
    })
}

/// Why clinic settings were refused.
#[derive(Debug, thiserror::Error)]
pub enum ClinicSettingsError {
    /// No code set of that name is loaded.
    #[error("no such code set")]
    NoCodeSystem,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Saves what changed; returns the names of the settings that did.
pub async fn save_clinic_settings(
    c: &Clinic,
    new: &ClinicSettings,
) -> Result<Vec<&'static str>, ClinicSettingsError> {
    let mut u = c.begin().await?;
    let mut changed = Vec::new();
    // Empty: the form had no code set to offer (none loaded); keep what is set.
    if !new.code_system.is_empty()
        && crate::domain::visits::service::code_system(&mut u).await? != new.code_system
    {
        if crate::domain::codes::repo::system(&mut u, &new.code_system)
            .await?
            .is_none()
        {
            return Err(ClinicSettingsError::NoCodeSystem);
        }
        keys::CODE_SYSTEM
            .set(&mut u, &new.code_system, c.at())
            .await?;
        changed.push("code_system");
    }
    if clinic_tz(&mut u).await? != new.timezone {
        keys::TIMEZONE
            .set(&mut u, &new.timezone.name().to_owned(), c.at())
            .await?;
        changed.push("timezone");
    }
    if patients::mrn_prefix(&mut u).await? != new.mrn_prefix {
        patients::set_mrn_prefix(&mut u, &new.mrn_prefix, c.at()).await?;
        changed.push("mrn_prefix");
    }
    if repo::slot_minutes(&mut u).await? != new.slot_minutes {
        keys::SLOT_MINUTES
            .set(&mut u, &new.slot_minutes, c.at())
            .await?;
        changed.push("slot_minutes");
    }
    if repo::horizon_months(&mut u).await? != new.horizon_months {
        keys::HORIZON_MONTHS
            .set(&mut u, &new.horizon_months, c.at())
            .await?;
        changed.push("horizon_months");
    }
    if (crate::domain::documents::work::max_file(&mut u).await? >> 20) as i64 != new.max_upload_mb {
        keys::MAX_UPLOAD_MB
            .set(&mut u, &new.max_upload_mb, c.at())
            .await?;
        changed.push("max_upload_mb");
    }
    if changed.is_empty() {
        u.finish_without_clinical_data().await?;
    } else {
        changed_settings(u, "clinic", serde_json::json!({ "changed": changed })).await?;
    }
    Ok(changed)
}

async fn changed_settings(u: Unit<'_>, what: &str, details: serde_json::Value) -> sqlx::Result<()> {
    let ev = u
        .event(action::SCHEDULING_SETTINGS)
        .resource("settings", what)
        .details(details);
    u.audit_and_commit(ev).await
}

/// The clinic's opening hours and its holidays from today on.
pub async fn opening_hours(c: &Clinic) -> sqlx::Result<(WeekRows, Vec<Holiday>)> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let rows = repo::clinic_hours(&mut u).await?;
    let holidays = repo::holidays(&mut u, local_date(tz, c.at())).await?;
    u.finish_without_clinical_data().await?;
    Ok((rows, holidays))
}

pub async fn save_opening_hours(c: &Clinic, rows: &WeekRows) -> sqlx::Result<()> {
    let mut u = c.begin().await?;
    repo::replace_clinic_hours(&mut u, rows).await?;
    changed_settings(
        u,
        "clinic_hours",
        serde_json::json!({ "ranges": rows.len() }),
    )
    .await
}

/// Why a holiday was not saved.
#[derive(Debug, thiserror::Error)]
pub enum HolidayError {
    /// A day before today (in the clinic's zone): it would be saved and never shown.
    #[error("{}", crate::i18n::en("invalid.holiday_past"))]
    Past,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

pub async fn add_holiday(c: &Clinic, day: NaiveDate, name: &str) -> Result<(), HolidayError> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    if day < local_date(tz, c.at()) {
        u.rollback().await?;
        return Err(HolidayError::Past);
    }
    repo::add_holiday(&mut u, day, name).await?;
    Ok(changed_settings(u, "holiday", serde_json::json!({ "added": day })).await?)
}

/// `false` if there is no such holiday.
pub async fn remove_holiday(c: &Clinic, day: NaiveDate) -> sqlx::Result<bool> {
    let mut u = c.begin().await?;
    if !repo::remove_holiday(&mut u, day).await? {
        u.rollback().await?;
        return Ok(false);
    }
    changed_settings(u, "holiday", serde_json::json!({ "removed": day })).await?;
    Ok(true)
}

/// Why an appointment type was not saved.
#[derive(Debug, thiserror::Error)]
pub enum TypeError {
    #[error("{}", crate::i18n::en("invalid.type_name_taken"))]
    NameTaken,
    #[error("no such appointment type")]
    NotFound,
    #[error("no such note template")]
    NoSuchTemplate,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

fn name_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("appointment_types_name_key"))
}

fn no_template(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.constraint() == Some("appointment_types_note_template_id_fkey"))
}

/// An appointment type as entered (name, minutes, colour), already checked by its form.
pub struct TypeInput {
    pub name: String,
    pub minutes: i32,
    pub color: String,
    /// The note template of its visits (none: the clinic's default).
    pub template: Option<i64>,
}

pub async fn add_type(c: &Clinic, t: &TypeInput) -> Result<AppointmentType, TypeError> {
    let mut u = c.begin().await?;
    let added = match repo::insert_type(&mut u, &t.name, t.minutes, &t.color, t.template).await {
        Ok(a) => a,
        Err(e) if name_taken(&e) => return Err(TypeError::NameTaken),
        Err(e) if no_template(&e) => return Err(TypeError::NoSuchTemplate),
        Err(e) => return Err(e.into()),
    };
    changed_settings(
        u,
        "appointment_type",
        serde_json::json!({ "added": added.id }),
    )
    .await?;
    Ok(added)
}

pub async fn update_type(
    c: &Clinic,
    id: i64,
    t: &TypeInput,
    active: bool,
) -> Result<(), TypeError> {
    let mut u = c.begin().await?;
    match repo::update_type(&mut u, id, &t.name, t.minutes, &t.color, active, t.template).await {
        Ok(true) => {}
        Ok(false) => return Err(TypeError::NotFound),
        Err(e) if name_taken(&e) => return Err(TypeError::NameTaken),
        Err(e) if no_template(&e) => return Err(TypeError::NoSuchTemplate),
        Err(e) => return Err(e.into()),
    }
    changed_settings(u, "appointment_type", serde_json::json!({ "updated": id })).await?;
    Ok(())
}

/// A provider with their working hours and leave from today on.
pub async fn provider(
    c: &Clinic,
    id: i64,
) -> sqlx::Result<Option<(Provider, WeekRows, Vec<Absence>)>> {
    let mut u = c.begin().await?;
    let Some(p) = repo::provider(&mut u, id).await? else {
        u.rollback().await?;
        return Ok(None);
    };
    let tz = clinic_tz(&mut u).await?;
    let rows = repo::provider_hours(&mut u, id).await?;
    let absences = repo::absences(&mut u, id, local_date(tz, c.at())).await?;
    u.finish_without_clinical_data().await?;
    Ok(Some((p, rows, absences)))
}

/// `false` if there is no such provider.
pub async fn save_provider_hours(c: &Clinic, id: i64, rows: &WeekRows) -> sqlx::Result<bool> {
    let mut u = c.begin().await?;
    if repo::provider(&mut u, id).await?.is_none() {
        u.rollback().await?;
        return Ok(false);
    }
    repo::replace_provider_hours(&mut u, id, rows).await?;
    changed_settings(
        u,
        "provider_hours",
        serde_json::json!({ "provider": id, "ranges": rows.len() }),
    )
    .await?;
    Ok(true)
}

/// `false` if there is no such provider.
pub async fn add_absence(
    c: &Clinic,
    id: i64,
    from: NaiveDate,
    to: NaiveDate,
    reason: Option<&str>,
) -> sqlx::Result<bool> {
    let mut u = c.begin().await?;
    if repo::provider(&mut u, id).await?.is_none() {
        u.rollback().await?;
        return Ok(false);
    }
    repo::add_absence(&mut u, id, from, to, reason).await?;
    changed_settings(
        u,
        "provider_absence",
        serde_json::json!({ "provider": id, "from": from, "to": to }),
    )
    .await?;
    Ok(true)
}

/// `false` if the provider has no such absence.
pub async fn remove_absence(c: &Clinic, id: i64, absence: i64) -> sqlx::Result<bool> {
    let mut u = c.begin().await?;
    if !repo::remove_absence(&mut u, id, absence).await? {
        u.rollback().await?;
        return Ok(false);
    }
    changed_settings(
        u,
        "provider_absence",
        serde_json::json!({ "provider": id, "removed": absence }),
    )
    .await?;
    Ok(true)
}
