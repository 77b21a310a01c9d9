//! Scheduling's units of work: each opens the clinic's transaction, does one thing, writes its
//! audit event and commits (see `domain::clinic`). Schedules, appointments and the booking form
//! show patients and are audited; opening hours, appointment types, providers and free times
//! name no patient and are not.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::model::{Appointment, AppointmentType, Provider, Status};
use super::service::{self, Booking, BookingError, StatusError, clinic_tz, local_date};
use super::{repo, slots};
use crate::domain::audit::action;
use crate::domain::auth::Permission;
use crate::domain::billing;
use crate::domain::billing::repo::Dues;
use crate::domain::clinic::{Clinic, Unit};
use crate::domain::patients::{self, Patient};

/// Which schedule is shown (and named in its audit event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The front desk's list of today, every status.
    Today,
    /// The front desk's start page: today's numbers and the waiting queue.
    Home,
    /// One day, a column per provider: active booked appointments.
    Day,
    /// The printable day list: active appointments.
    Print,
    /// Seven days from Monday of one provider (default the first).
    Week { provider: Option<i64> },
    /// The API's list of one day, every status, optionally of one provider.
    Api { provider: Option<i64> },
}

/// A schedule and what its page needs to lay it out.
pub struct Schedule {
    pub tz: Tz,
    /// The day shown (the week's Monday for a week).
    pub date: NaiveDate,
    pub appointments: Vec<Appointment>,
    pub providers: Vec<Provider>,
    /// The week's provider.
    pub provider: Option<Provider>,
    pub opening_hours: repo::WeekRows,
    pub slot_minutes: i64,
    pub types: Vec<AppointmentType>,
    /// Today's list: what its patients owe on issued invoices (the page shows it to those
    /// who may read invoices).
    pub dues: Option<Dues>,
}

/// `date` defaults to today in the clinic. `None`: the week's provider does not exist.
pub async fn schedule(
    c: &Clinic,
    view: View,
    date: Option<NaiveDate>,
) -> sqlx::Result<Option<Schedule>> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let mut date = date.unwrap_or_else(|| local_date(tz, c.at()));
    let providers = repo::providers(&mut u).await?;
    let mut provider = None;
    let (from, to) = match view {
        View::Week { provider: wanted } => {
            date -= Duration::days(i64::from(date.weekday().num_days_from_monday()));
            provider = match wanted {
                None => providers.first().cloned(),
                Some(id) => match providers.iter().find(|p| p.id == id) {
                    Some(p) => Some(p.clone()),
                    None => {
                        u.rollback().await?;
                        return Ok(None);
                    }
                },
            };
            (
                slots::day_bounds(tz, date).0,
                slots::day_bounds(tz, date + Duration::days(6)).1,
            )
        }
        _ => slots::day_bounds(tz, date),
    };
    let only = match view {
        View::Week { .. } => provider.as_ref().map(|p| p.id),
        View::Api { provider } => provider,
        _ => None,
    };
    let mut appointments = match view {
        View::Week { .. } if provider.is_none() => Vec::new(),
        _ => repo::between(&mut u, from, to, only).await?,
    };
    match view {
        View::Day | View::Week { .. } => {
            appointments.retain(|a| a.status().is_active() && !a.walk_in);
        }
        View::Print => appointments.retain(|a| a.status().is_active()),
        View::Today | View::Home | View::Api { .. } => {}
    }
    // What patients owe is read only for those who may see invoices (not doctors or nurses).
    let dues = match view {
        View::Today if u.actor_can(Permission::InvoicesRead).await? => {
            Some(dues_of(&mut u, &appointments).await?)
        }
        _ => None,
    };
    let opening_hours = repo::clinic_hours(&mut u).await?;
    let slot_minutes = repo::slot_minutes(&mut u).await?;
    let types = repo::types(&mut u, true).await?;
    let details = match view {
        View::Week { .. } => serde_json::json!({
            "view": "week", "from": date, "provider": provider.as_ref().map(|p| p.id),
            "appointments": appointments.len(),
        }),
        _ => serde_json::json!({
            "view": match view {
                View::Today => "today",
                View::Home => "home",
                View::Day => "day",
                View::Print => "print",
                _ => "api",
            },
            "date": date, "appointments": appointments.len(),
        }),
    };
    let ev = u.event(action::SCHEDULE_VIEW).details(details);
    u.audit_and_commit(ev).await?;
    Ok(Some(Schedule {
        tz,
        date,
        appointments,
        providers,
        provider,
        opening_hours,
        slot_minutes,
        types,
        dues,
    }))
}

/// What the patients of `list` owe.
async fn dues_of(u: &mut Unit<'_>, list: &[Appointment]) -> sqlx::Result<Dues> {
    let mut ids: Vec<i64> = list.iter().map(|a| a.patient_id).collect();
    ids.sort_unstable();
    ids.dedup();
    billing::repo::dues(u, &ids).await
}

/// The clinic's appointment types (`all`: inactive ones too). No patient data.
pub async fn types(c: &Clinic, all: bool) -> sqlx::Result<Vec<AppointmentType>> {
    let mut u = c.begin().await?;
    let list = repo::types(&mut u, all).await?;
    u.finish_without_clinical_data().await?;
    Ok(list)
}

/// The clinic's doctors and nurses. No patient data.
pub async fn providers(c: &Clinic) -> sqlx::Result<Vec<Provider>> {
    let mut u = c.begin().await?;
    let list = repo::providers(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(list)
}

/// One appointment, with the clinic's zone and providers (to move it).
pub async fn appointment(
    c: &Clinic,
    id: i64,
) -> sqlx::Result<Option<(Appointment, Tz, Vec<Provider>)>> {
    let mut u = c.begin().await?;
    let Some(a) = repo::appointment(&mut u, id).await? else {
        u.rollback().await?;
        return Ok(None);
    };
    let tz = clinic_tz(&mut u).await?;
    let providers = repo::providers(&mut u).await?;
    let ev = u
        .event(action::APPOINTMENT_VIEW)
        .resource("appointment", id)
        .patient(a.patient_id);
    u.audit_and_commit(ev).await?;
    Ok(Some((a, tz, providers)))
}

/// A status change, and (if asked for) today's list after it, for the front desk's queue.
pub struct StatusChanged {
    pub appointment: Appointment,
    pub tz: Tz,
    pub today: Vec<Appointment>,
    /// What the changed appointment's patient owes, with today's list.
    pub dues: Option<Dues>,
}

pub async fn change_status(
    c: &Clinic,
    id: i64,
    to: Status,
    reason: Option<&str>,
    with_today: bool,
) -> Result<StatusChanged, StatusError> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let (from, appointment) =
        service::change_status(&mut u, tz, id, to, reason, c.user_id(), c.at()).await?;
    let (today, dues) = if with_today {
        let (s, e) = slots::day_bounds(tz, local_date(tz, c.at()));
        let today = repo::between(&mut u, s, e, None).await?;
        let dues = if u.actor_can(Permission::InvoicesRead).await? {
            Some(billing::repo::dues(&mut u, &[appointment.patient_id]).await?)
        } else {
            None
        };
        (today, dues)
    } else {
        (Vec::new(), None)
    };
    let act = if to == Status::Cancelled {
        action::APPOINTMENT_CANCELLED
    } else {
        action::APPOINTMENT_STATUS
    };
    let ev = u
        .event(act)
        .resource("appointment", id)
        .patient(appointment.patient_id)
        .details(serde_json::json!({ "from": from.as_str(), "to": to.as_str() }));
    u.audit_and_commit(ev).await?;
    Ok(StatusChanged {
        appointment,
        tz,
        today,
        dues,
    })
}

/// When a booking or a move starts.
#[derive(Clone, Debug)]
pub enum Start {
    /// An instant (the API, a slot picked in the form).
    At(DateTime<Utc>),
    /// A day (default today) and `HH:MM` in the clinic's zone, as typed.
    Local {
        date: Option<NaiveDate>,
        time: String,
    },
}

impl Start {
    fn instant(&self, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::At(t) => Some(*t),
            Self::Local { date, time } => {
                let t = NaiveTime::parse_from_str(time.trim(), "%H:%M").ok()?;
                let d = date.unwrap_or_else(|| local_date(tz, now));
                Some(slots::instant(tz, d, t, true))
            }
        }
    }
}

/// Moves a booked appointment; `provider` defaults to the same one.
pub async fn reschedule(
    c: &Clinic,
    id: i64,
    provider: Option<i64>,
    start: &Start,
    outside_hours: bool,
) -> Result<Appointment, BookingError> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let current = repo::appointment(&mut u, id)
        .await?
        .ok_or(BookingError::NotFound)?;
    let starts = start.instant(tz, c.at()).ok_or(BookingError::NoTime)?;
    let provider = provider.or(current.provider_id).unwrap_or_default();
    let a = service::reschedule(&mut u, tz, id, provider, starts, outside_hours, c.at()).await?;
    let ev = u
        .event(action::APPOINTMENT_MOVED)
        .resource("appointment", id)
        .patient(a.patient_id)
        .details(serde_json::json!({
            "provider_changed": current.provider_id != a.provider_id,
        }));
    u.audit_and_commit(ev).await?;
    Ok(a)
}

/// A patient who came without an appointment joins today's queue.
pub async fn walk_in(
    c: &Clinic,
    patient: i64,
    provider: Option<i64>,
    type_id: Option<i64>,
    reason: Option<&str>,
) -> Result<Appointment, BookingError> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let a = service::walk_in(
        &mut u,
        tz,
        patient,
        provider,
        type_id,
        reason,
        c.user_id(),
        c.at(),
    )
    .await?;
    let ev = u
        .event(action::APPOINTMENT_CREATED)
        .resource("appointment", a.id)
        .patient(patient)
        .details(serde_json::json!({ "walk_in": true, "queue_number": a.queue_number }));
    u.audit_and_commit(ev).await?;
    Ok(a)
}

/// What the booking form asks for; unset ids default to the first provider and type.
#[derive(Clone, Debug, Default)]
pub struct FormQuery {
    pub patient: i64,
    pub provider: Option<i64>,
    pub type_id: Option<i64>,
    pub date: Option<NaiveDate>,
}

/// Everything the booking form shows.
pub struct BookingForm {
    pub tz: Tz,
    pub patient: Patient,
    pub providers: Vec<Provider>,
    pub types: Vec<AppointmentType>,
    pub provider_id: i64,
    pub type_id: i64,
    pub date: NaiveDate,
    pub today: NaiveDate,
    pub slots: Vec<DateTime<Utc>>,
}

/// The free starts for a provider, type and day (defaults as in the form); `None` if a given
/// provider or type does not exist. No patient data.
pub async fn free_slots(
    c: &Clinic,
    provider: Option<i64>,
    type_id: Option<i64>,
    date: Option<NaiveDate>,
) -> sqlx::Result<Option<(Tz, NaiveDate, Duration, Vec<DateTime<Utc>>)>> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let providers = repo::providers(&mut u).await?;
    let types = repo::types(&mut u, false).await?;
    let Some((provider_id, type_id)) = choose(&providers, &types, provider, type_id) else {
        u.rollback().await?;
        return Ok(None);
    };
    let date = date.unwrap_or_else(|| local_date(tz, c.at()));
    let d = minutes_of(&types, type_id);
    let starts = if provider_id > 0 {
        service::slots_for(&mut u, tz, provider_id, date, d, c.at(), None).await?
    } else {
        Vec::new()
    };
    u.finish_without_clinical_data().await?;
    Ok(Some((tz, date, d, starts)))
}

fn choose(
    providers: &[Provider],
    types: &[AppointmentType],
    provider: Option<i64>,
    type_id: Option<i64>,
) -> Option<(i64, i64)> {
    let provider_id = match provider {
        Some(id) => providers.iter().find(|p| p.id == id)?.id,
        None => providers.first().map_or(0, |p| p.id),
    };
    let type_id = match type_id {
        Some(id) => types.iter().find(|t| t.id == id)?.id,
        None => types.first().map_or(0, |t| t.id),
    };
    Some((provider_id, type_id))
}

fn minutes_of(types: &[AppointmentType], type_id: i64) -> Duration {
    Duration::minutes(
        types
            .iter()
            .find(|t| t.id == type_id)
            .map_or(15, |t| i64::from(t.duration_minutes)),
    )
}

/// The booking form for a patient: shows the patient (audited). `None` for ids this clinic
/// does not have.
pub async fn booking_form(c: &Clinic, q: &FormQuery) -> sqlx::Result<Option<BookingForm>> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let patient = patients::repo::get(&mut u, q.patient)
        .await?
        .filter(|p| !p.deleted);
    let providers = repo::providers(&mut u).await?;
    let types = repo::types(&mut u, false).await?;
    let chosen = choose(&providers, &types, q.provider, q.type_id);
    let (Some(patient), Some((provider_id, type_id))) = (patient, chosen) else {
        u.rollback().await?;
        return Ok(None);
    };
    let today = local_date(tz, c.at());
    let date = q.date.unwrap_or(today);
    let d = minutes_of(&types, type_id);
    // Unless one was asked for, the first clinician (alphabetically) with free time that day:
    // not one without working hours, whose form would say "no free time".
    let candidates: Vec<i64> = match q.provider {
        Some(_) => vec![provider_id],
        None => providers.iter().map(|p| p.id).collect(),
    };
    let mut chosen = (provider_id, Vec::new());
    for p in candidates.into_iter().filter(|p| *p > 0) {
        let slots = service::slots_for(&mut u, tz, p, date, d, c.at(), None).await?;
        if !slots.is_empty() {
            chosen = (p, slots);
            break;
        }
    }
    let (provider_id, slots) = chosen;
    let ev = u
        .event(action::APPOINTMENT_FORM)
        .resource("patient", patient.id)
        .patient(patient.id);
    u.audit_and_commit(ev).await?;
    Ok(Some(BookingForm {
        tz,
        patient,
        providers,
        types,
        provider_id,
        type_id,
        date,
        today,
        slots,
    }))
}

/// A booking request; unset provider and type default as in the form.
#[derive(Clone, Debug)]
pub struct BookingRequest {
    pub patient_id: i64,
    pub provider_id: Option<i64>,
    pub type_id: Option<i64>,
    pub start: Start,
    pub reason: Option<String>,
    pub outside_hours: bool,
}

/// Books (the database's exclusion constraint judges double booking).
pub async fn book(c: &Clinic, r: &BookingRequest) -> Result<Appointment, BookingError> {
    let mut u = c.begin().await?;
    let tz = clinic_tz(&mut u).await?;
    let starts_at = r.start.instant(tz, c.at()).ok_or(BookingError::NoTime)?;
    let (provider_id, type_id) = match (r.provider_id, r.type_id) {
        (Some(p), Some(t)) => (p, t),
        (p, t) => {
            let providers = repo::providers(&mut u).await?;
            let types = repo::types(&mut u, false).await?;
            (
                p.unwrap_or_else(|| providers.first().map_or(0, |p| p.id)),
                t.unwrap_or_else(|| types.first().map_or(0, |t| t.id)),
            )
        }
    };
    let booking = Booking {
        patient_id: r.patient_id,
        provider_id,
        type_id,
        starts_at,
        reason: r.reason.clone(),
        outside_hours: r.outside_hours,
    };
    let a = service::book(&mut u, tz, &booking, c.user_id(), c.at()).await?;
    let ev = u
        .event(action::APPOINTMENT_CREATED)
        .resource("appointment", a.id)
        .patient(a.patient_id)
        .details(serde_json::json!({
            "provider": a.provider_id,
            "outside_hours": r.outside_hours,
        }));
    u.audit_and_commit(ev).await?;
    Ok(a)
}
