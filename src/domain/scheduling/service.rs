//! Booking rules: where an appointment may go, what happens on a clash, the status flow and
//! the walk-in queue.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use sqlx::PgConnection;

use super::model::{Appointment, Status};
use super::repo;
use super::slots::{self, bookable, free_slots, within};
use crate::domain::validation::Errors;

/// The clinic's time zone (setting `timezone`), UTC if unset or unknown.
pub async fn clinic_tz(conn: &mut PgConnection) -> sqlx::Result<Tz> {
    let v = crate::domain::settings::keys::TIMEZONE.get(conn).await?;
    Ok(v.and_then(|s| s.parse().ok()).unwrap_or(Tz::UTC))
}

pub fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// How far ahead free slots are looked for after a clash.
const SEARCH_DAYS: i64 = 21;

/// Free starts for one provider and local day.
pub async fn slots_for(
    conn: &mut PgConnection,
    tz: Tz,
    provider: i64,
    date: NaiveDate,
    duration: Duration,
    now: DateTime<Utc>,
    except: Option<i64>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let step = Duration::minutes(repo::slot_minutes(conn).await?);
    let rules = repo::day_rules(conn, provider, date).await?;
    let intervals = bookable(tz, date, &rules);
    let (day_start, day_end) = slots::day_bounds(tz, date);
    let busy = repo::busy(conn, provider, day_start, day_end, except).await?;
    Ok(free_slots(&intervals, &busy, duration, step, now))
}

/// The next `count` free starts at or after `from`.
pub async fn next_free(
    conn: &mut PgConnection,
    tz: Tz,
    provider: i64,
    from: DateTime<Utc>,
    duration: Duration,
    count: usize,
    except: Option<i64>,
) -> sqlx::Result<Vec<DateTime<Utc>>> {
    let mut out = Vec::new();
    let mut date = local_date(tz, from);
    for _ in 0..SEARCH_DAYS {
        for s in slots_for(conn, tz, provider, date, duration, from, except).await? {
            out.push(s);
            if out.len() >= count {
                return Ok(out);
            }
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
pub struct Booking {
    pub patient_id: i64,
    pub provider_id: i64,
    pub type_id: i64,
    pub starts_at: DateTime<Utc>,
    pub reason: Option<String>,
    /// Book even outside the provider's hours or the clinic's (a deliberate exception).
    pub outside_hours: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("invalid input")]
    Invalid(Errors),
    #[error("the provider already has an appointment at that time")]
    Clash { next: Vec<DateTime<Utc>> },
    #[error("outside the provider's working hours or the clinic's opening hours")]
    OutsideHours { next: Vec<DateTime<Utc>> },
    #[error("no such appointment")]
    NotFound,
    #[error("only a booked appointment can be moved")]
    NotMovable,
    /// No start time, or one that is not `HH:MM`.
    #[error("{}", crate::i18n::en("invalid.choose_time"))]
    NoTime,
    /// A walk-in for a patient who is already booked or waiting today (an i18n message).
    #[error("{}", crate::i18n::en_message(.0))]
    AlreadyToday(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

fn is_clash(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("appointments_no_overlap"))
}

async fn patient_ok(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM patients WHERE id = $1 AND deleted_at IS NULL) AS "v!""#,
        id
    )
    .fetch_one(conn)
    .await
}

/// The message for a start later than the clinic's booking horizon (a typo such as 2099).
async fn beyond_horizon(
    conn: &mut PgConnection,
    starts: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<String>> {
    let months = repo::horizon_months(conn).await?;
    let limit = now
        .checked_add_months(chrono::Months::new(months as u32))
        .unwrap_or(now);
    Ok(
        (starts > limit)
            .then(|| crate::i18n::msg("invalid.beyond_horizon", &[("months", &months)])),
    )
}

/// Books an appointment. The database's exclusion constraint is the judge of double booking;
/// on a clash the next free starts are returned.
pub async fn book(
    conn: &mut PgConnection,
    tz: Tz,
    b: &Booking,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Appointment, BookingError> {
    let mut e = Errors::new();
    if !patient_ok(conn, b.patient_id).await? {
        e.add("patient_id", "invalid.no_patient");
    }
    if repo::provider(conn, b.provider_id).await?.is_none() {
        e.add("provider_id", "invalid.provider");
    }
    let ty = repo::appointment_type(conn, b.type_id)
        .await?
        .filter(|t| t.active);
    if ty.is_none() {
        e.add("type_id", "invalid.appointment_type");
    }
    if b.starts_at < now - Duration::minutes(5) {
        e.add("starts_at", "invalid.past");
    }
    if let Some(m) = beyond_horizon(conn, b.starts_at, now).await? {
        e.add("starts_at", m);
    }
    if let Some(r) = &b.reason
        && r.chars().count() > 500
    {
        e.add("reason", "invalid.max_500");
    }
    let Some(ty) = ty.filter(|_| e.is_empty()) else {
        return Err(BookingError::Invalid(e));
    };
    let duration = Duration::minutes(i64::from(ty.duration_minutes));
    let ends = b.starts_at + duration;
    check_hours(
        conn,
        tz,
        b.provider_id,
        b.starts_at,
        ends,
        b.outside_hours,
        duration,
        now,
        None,
    )
    .await?;

    let mut sp = crate::db::savepoint(&mut *conn).await?;
    let inserted = repo::insert(
        &mut sp,
        b.patient_id,
        Some(b.provider_id),
        Some(ty.id),
        b.starts_at,
        ends,
        Status::Booked,
        false,
        b.reason.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        by,
        now,
    )
    .await;
    match inserted {
        Ok(id) => {
            sp.commit().await?;
            repo::appointment(conn, id)
                .await?
                .ok_or(BookingError::NotFound)
        }
        Err(err) if is_clash(&err) => {
            sp.rollback().await?;
            let next = next_free(conn, tz, b.provider_id, b.starts_at, duration, 5, None).await?;
            Err(BookingError::Clash { next })
        }
        Err(err) => Err(err.into()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn check_hours(
    conn: &mut PgConnection,
    tz: Tz,
    provider: i64,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    outside_hours: bool,
    duration: Duration,
    now: DateTime<Utc>,
    except: Option<i64>,
) -> Result<(), BookingError> {
    if outside_hours {
        return Ok(());
    }
    let date = local_date(tz, starts);
    let rules = repo::day_rules(conn, provider, date).await?;
    if !within(&bookable(tz, date, &rules), starts, ends) {
        let next = next_free(conn, tz, provider, starts.max(now), duration, 5, except).await?;
        return Err(BookingError::OutsideHours { next });
    }
    Ok(())
}

/// Moves a booked appointment to another time (and provider).
pub async fn reschedule(
    conn: &mut PgConnection,
    tz: Tz,
    id: i64,
    provider: i64,
    starts: DateTime<Utc>,
    outside_hours: bool,
    now: DateTime<Utc>,
) -> Result<Appointment, BookingError> {
    let (status, walk_in) = repo::lock(conn, id).await?.ok_or(BookingError::NotFound)?;
    if status != Status::Booked || walk_in {
        return Err(BookingError::NotMovable);
    }
    let current = repo::appointment(conn, id)
        .await?
        .ok_or(BookingError::NotFound)?;
    if repo::provider(conn, provider).await?.is_none() {
        return Err(BookingError::Invalid(Errors::with(
            "provider_id",
            "invalid.provider",
        )));
    }
    if starts < now - Duration::minutes(5) {
        return Err(BookingError::Invalid(Errors::with(
            "starts_at",
            "invalid.past",
        )));
    }
    if let Some(m) = beyond_horizon(conn, starts, now).await? {
        return Err(BookingError::Invalid(Errors::with("starts_at", m)));
    }
    let duration = current.ends_at - current.starts_at;
    let ends = starts + duration;
    check_hours(
        conn,
        tz,
        provider,
        starts,
        ends,
        outside_hours,
        duration,
        now,
        Some(id),
    )
    .await?;
    let mut sp = crate::db::savepoint(&mut *conn).await?;
    match repo::move_to(&mut sp, id, provider, starts, ends, now).await {
        Ok(()) => {
            sp.commit().await?;
            repo::appointment(conn, id)
                .await?
                .ok_or(BookingError::NotFound)
        }
        Err(err) if is_clash(&err) => {
            sp.rollback().await?;
            let next = next_free(conn, tz, provider, starts, duration, 5, Some(id)).await?;
            Err(BookingError::Clash { next })
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no such appointment")]
    NotFound,
    #[error("an appointment that is {from} cannot become {to}")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
    #[error("give a reason for the cancellation")]
    ReasonRequired,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Moves an appointment along the status flow; check-in gives it the day's next queue number,
/// and a walk-in booked for "next free clinician" gets the clinician who starts the
/// consultation (`by`, when that is an active doctor or nurse).
pub async fn change_status(
    conn: &mut PgConnection,
    tz: Tz,
    id: i64,
    to: Status,
    cancel_reason: Option<&str>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(Status, Appointment), StatusError> {
    let (from, _) = repo::lock(conn, id).await?.ok_or(StatusError::NotFound)?;
    if !from.can_become(to) {
        return Err(StatusError::NotAllowed {
            from: from.as_str(),
            to: to.as_str(),
        });
    }
    let reason = cancel_reason.map(str::trim).filter(|s| !s.is_empty());
    if to == Status::Cancelled && reason.is_none_or(|r| r.chars().count() > 500) {
        return Err(StatusError::ReasonRequired);
    }
    let queue = if to == Status::Arrived {
        let (s, e) = slots::day_bounds(tz, local_date(tz, now));
        Some(repo::next_queue_number(conn, s, e).await?)
    } else {
        None
    };
    repo::set_status(conn, id, to, queue, reason, now).await?;
    if to == Status::InConsultation
        && let Some(by) = by
        && repo::provider(conn, by).await?.is_some()
    {
        repo::assign_provider_if_none(conn, id, by).await?;
    }
    let a = repo::appointment(conn, id)
        .await?
        .ok_or(StatusError::NotFound)?;
    Ok((from, a))
}

/// A patient who came without an appointment joins today's queue (status arrived).
pub async fn walk_in(
    conn: &mut PgConnection,
    tz: Tz,
    patient: i64,
    provider: Option<i64>,
    type_id: Option<i64>,
    reason: Option<&str>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Appointment, BookingError> {
    let mut e = Errors::new();
    if !patient_ok(conn, patient).await? {
        e.add("patient_id", "invalid.no_patient");
        return Err(BookingError::Invalid(e));
    }
    let (day_start, day_end) = slots::day_bounds(tz, local_date(tz, now));
    if let Some(other) = repo::active_of_patient_between(conn, patient, day_start, day_end).await? {
        // The queue would show the patient twice: check in the booking, or they are waiting.
        let key = if other.status() == Status::Booked {
            "invalid.walk_in_booked_today"
        } else {
            "invalid.walk_in_already_queued"
        };
        let at = other
            .starts_at
            .with_timezone(&tz)
            .format("%H:%M")
            .to_string();
        let number = other
            .queue_number
            .map(|n| n.to_string())
            .unwrap_or_default();
        return Err(BookingError::AlreadyToday(crate::i18n::msg(
            key,
            &[("time", &at), ("number", &number)],
        )));
    }
    if let Some(p) = provider
        && repo::provider(conn, p).await?.is_none()
    {
        e.add("provider_id", "invalid.provider");
    }
    if reason.is_some_and(|r| r.trim().chars().count() > 500) {
        e.add("reason", "invalid.max_500");
    }
    let minutes = match type_id {
        Some(t) => match repo::appointment_type(conn, t).await?.filter(|t| t.active) {
            Some(t) => i64::from(t.duration_minutes),
            None => {
                e.add("type_id", "invalid.appointment_type");
                15
            }
        },
        None => 15,
    };
    if !e.is_empty() {
        return Err(BookingError::Invalid(e));
    }
    let queue = repo::next_queue_number(conn, day_start, day_end).await?;
    let id = repo::insert(
        conn,
        patient,
        provider,
        type_id,
        now,
        now + Duration::minutes(minutes),
        Status::Arrived,
        true,
        reason.map(str::trim).filter(|s| !s.is_empty()),
        by,
        now,
    )
    .await?;
    repo::set_status(conn, id, Status::Arrived, Some(queue), None, now).await?;
    repo::appointment(conn, id)
        .await?
        .ok_or(BookingError::NotFound)
}
