//! SQL for scheduling (inside a clinic transaction).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sqlx::PgConnection;

use super::model::{Appointment, AppointmentType, Provider, Status};
use super::slots::LocalRange;

pub async fn providers(conn: &mut PgConnection) -> sqlx::Result<Vec<Provider>> {
    sqlx::query_as!(
        Provider,
        "SELECT id, display_name, role FROM users
          WHERE role IN ('doctor', 'nurse') AND status = 'active'
          ORDER BY lower(display_name), id",
    )
    .fetch_all(conn)
    .await
}

pub async fn provider(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Provider>> {
    sqlx::query_as!(
        Provider,
        "SELECT id, display_name, role FROM users
          WHERE id = $1 AND role IN ('doctor', 'nurse') AND status = 'active'",
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn types(conn: &mut PgConnection, all: bool) -> sqlx::Result<Vec<AppointmentType>> {
    sqlx::query_as!(
        AppointmentType,
        "SELECT id, name, duration_minutes, color, active, note_template_id FROM appointment_types
          WHERE $1 OR active ORDER BY active DESC, lower(name)",
        all
    )
    .fetch_all(conn)
    .await
}

pub async fn appointment_type(
    conn: &mut PgConnection,
    id: i64,
) -> sqlx::Result<Option<AppointmentType>> {
    sqlx::query_as!(
        AppointmentType,
        "SELECT id, name, duration_minutes, color, active, note_template_id FROM appointment_types
          WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

pub async fn insert_type(
    conn: &mut PgConnection,
    name: &str,
    minutes: i32,
    color: &str,
    template: Option<i64>,
) -> sqlx::Result<AppointmentType> {
    sqlx::query_as!(
        AppointmentType,
        "INSERT INTO appointment_types (name, duration_minutes, color, note_template_id)
         VALUES ($1, $2, $3, $4)
         RETURNING id, name, duration_minutes, color, active, note_template_id",
        name,
        minutes,
        color,
        template
    )
    .fetch_one(conn)
    .await
}

pub async fn update_type(
    conn: &mut PgConnection,
    id: i64,
    name: &str,
    minutes: i32,
    color: &str,
    active: bool,
    template: Option<i64>,
) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "UPDATE appointment_types SET name = $2, duration_minutes = $3, color = $4, active = $5,
                note_template_id = $6
          WHERE id = $1",
        id,
        name,
        minutes,
        color,
        active,
        template
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Rows of `(weekday, start, end)`.
pub type WeekRows = Vec<(i16, NaiveTime, NaiveTime)>;

pub async fn clinic_hours(conn: &mut PgConnection) -> sqlx::Result<WeekRows> {
    sqlx::query!("SELECT weekday, opens, closes FROM clinic_hours ORDER BY weekday, opens")
        .map(|r| (r.weekday, r.opens, r.closes))
        .fetch_all(conn)
        .await
}

pub async fn replace_clinic_hours(conn: &mut PgConnection, rows: &WeekRows) -> sqlx::Result<()> {
    sqlx::query!("DELETE FROM clinic_hours")
        .execute(&mut *conn)
        .await?;
    for &(w, s, e) in rows {
        sqlx::query!(
            "INSERT INTO clinic_hours (weekday, opens, closes) VALUES ($1, $2, $3)",
            w,
            s,
            e
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn provider_hours(conn: &mut PgConnection, provider: i64) -> sqlx::Result<WeekRows> {
    sqlx::query!("SELECT weekday, starts, ends FROM provider_hours WHERE provider_id = $1 ORDER BY weekday, starts", provider)
    .map(|r| (r.weekday, r.starts, r.ends))
    .fetch_all(conn)
    .await
}

pub async fn replace_provider_hours(
    conn: &mut PgConnection,
    provider: i64,
    rows: &WeekRows,
) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM provider_hours WHERE provider_id = $1",
        provider
    )
    .execute(&mut *conn)
    .await?;
    for (w, s, e) in rows {
        sqlx::query!("INSERT INTO provider_hours (provider_id, weekday, starts, ends) VALUES ($1, $2, $3, $4)", provider, w, s, e)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct Holiday {
    pub day: NaiveDate,
    pub name: String,
}

pub async fn holidays(conn: &mut PgConnection, from: NaiveDate) -> sqlx::Result<Vec<Holiday>> {
    sqlx::query_as!(
        Holiday,
        "SELECT day, name FROM clinic_holidays WHERE day >= $1 ORDER BY day",
        from
    )
    .fetch_all(conn)
    .await
}

pub async fn add_holiday(conn: &mut PgConnection, day: NaiveDate, name: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO clinic_holidays (day, name) VALUES ($1, $2)
         ON CONFLICT (day) DO UPDATE SET name = EXCLUDED.name",
        day,
        name
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_holiday(conn: &mut PgConnection, day: NaiveDate) -> sqlx::Result<bool> {
    Ok(
        sqlx::query!("DELETE FROM clinic_holidays WHERE day = $1", day)
            .execute(conn)
            .await?
            .rows_affected()
            == 1,
    )
}

#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct Absence {
    pub id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub reason: Option<String>,
}

pub async fn absences(
    conn: &mut PgConnection,
    provider: i64,
    from: NaiveDate,
) -> sqlx::Result<Vec<Absence>> {
    sqlx::query_as!(
        Absence,
        "SELECT id, starts_on, ends_on, reason FROM provider_absences
          WHERE provider_id = $1 AND ends_on >= $2 ORDER BY starts_on",
        provider,
        from
    )
    .fetch_all(conn)
    .await
}

pub async fn add_absence(
    conn: &mut PgConnection,
    provider: i64,
    from: NaiveDate,
    to: NaiveDate,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!("INSERT INTO provider_absences (provider_id, starts_on, ends_on, reason) VALUES ($1, $2, $3, $4)", provider, from, to, reason)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove_absence(conn: &mut PgConnection, provider: i64, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query!(
        "DELETE FROM provider_absences WHERE id = $1 AND provider_id = $2",
        id,
        provider
    )
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Everything the slot computation needs for one provider and day, in one round trip.
pub async fn day_rules(
    conn: &mut PgConnection,
    provider: i64,
    date: NaiveDate,
) -> sqlx::Result<super::slots::DayRules> {
    struct Row {
        starts: Vec<NaiveTime>,
        ends: Vec<NaiveTime>,
        opens: Vec<NaiveTime>,
        closes: Vec<NaiveTime>,
        has_clinic_hours: bool,
        holiday: bool,
        absent: bool,
    }
    let weekday = chrono::Datelike::weekday(&date).number_from_monday() as i16;
    let row: Row =
        sqlx::query_as!(Row, "SELECT
                coalesce((SELECT array_agg(starts ORDER BY starts) FROM provider_hours WHERE provider_id = $1 AND weekday = $2), '{}') AS \"starts!\",
                coalesce((SELECT array_agg(ends ORDER BY starts) FROM provider_hours WHERE provider_id = $1 AND weekday = $2), '{}') AS \"ends!\",
                coalesce((SELECT array_agg(opens ORDER BY opens) FROM clinic_hours WHERE weekday = $2), '{}') AS \"opens!\",
                coalesce((SELECT array_agg(closes ORDER BY opens) FROM clinic_hours WHERE weekday = $2), '{}') AS \"closes!\",
                EXISTS (SELECT 1 FROM clinic_hours) AS \"has_clinic_hours!\",
                EXISTS (SELECT 1 FROM clinic_holidays WHERE day = $3) AS \"holiday!\",
                EXISTS (SELECT 1 FROM provider_absences WHERE provider_id = $1 AND $3 BETWEEN starts_on AND ends_on) AS \"absent!\"", provider, weekday, date)
        .fetch_one(conn)
        .await?;
    let zip = |a: Vec<NaiveTime>, b: Vec<NaiveTime>| -> Vec<LocalRange> {
        a.into_iter().zip(b).collect()
    };
    Ok(super::slots::DayRules {
        provider: zip(row.starts, row.ends),
        clinic: row.has_clinic_hours.then(|| zip(row.opens, row.closes)),
        holiday: row.holiday,
        absent: row.absent,
    })
}

/// Times the provider is taken between `from` and `to` (appointments that still count).
pub async fn busy(
    conn: &mut PgConnection,
    provider: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<i64>,
) -> sqlx::Result<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    sqlx::query!(
        "SELECT starts_at, ends_at FROM appointments
          WHERE provider_id = $1 AND starts_at < $3 AND ends_at > $2
            AND status NOT IN ('cancelled', 'no_show') AND NOT walk_in
            AND ($4::bigint IS NULL OR id <> $4)
          ORDER BY starts_at",
        provider,
        from,
        to,
        except
    )
    .map(|r| (r.starts_at, r.ends_at))
    .fetch_all(conn)
    .await
}

/// The appointment with what lists show about it; `$tail` is the WHERE/ORDER part (a literal).
macro_rules! appointments {
    ($tail:tt $(, $arg:expr)*) => {
        sqlx::query_as!(
            Appointment,
            "SELECT a.id, a.patient_id, p.mrn AS patient_mrn,
        concat_ws(' ', p.given_name, p.middle_name, p.family_name) AS \"patient_name!\",
        a.provider_id, u.display_name AS \"provider_name?\", a.type_id, t.name AS \"type_name?\",
        a.starts_at, a.ends_at, a.status, a.walk_in, a.queue_number, a.reason, a.cancel_reason,
        a.arrived_at
   FROM appointments a
   JOIN patients p ON p.id = a.patient_id
   LEFT JOIN users u ON u.id = a.provider_id
   LEFT JOIN appointment_types t ON t.id = a.type_id" + " " + $tail
            $(, $arg)*
        )
    };
}

pub async fn appointment(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Appointment>> {
    appointments!("WHERE a.id = $1", id)
        .fetch_optional(conn)
        .await
}

/// Appointments starting in `[from, to)`, optionally of one provider, by time; a deleted
/// patient's are left out (they stay on the record, which can be restored).
pub async fn between(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    provider: Option<i64>,
) -> sqlx::Result<Vec<Appointment>> {
    appointments!(
        "WHERE a.starts_at >= $1 AND a.starts_at < $2
           AND ($3::bigint IS NULL OR a.provider_id = $3)
           AND p.deleted_at IS NULL
         ORDER BY a.starts_at, a.id",
        from,
        to,
        provider
    )
    .fetch_all(conn)
    .await
}

pub async fn of_patient(conn: &mut PgConnection, patient: i64) -> sqlx::Result<Vec<Appointment>> {
    appointments!(
        "WHERE a.patient_id = $1 ORDER BY a.starts_at DESC, a.id DESC LIMIT 200",
        patient
    )
    .fetch_all(conn)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn insert(
    conn: &mut PgConnection,
    patient: i64,
    provider: Option<i64>,
    type_id: Option<i64>,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    status: Status,
    walk_in: bool,
    reason: Option<&str>,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO appointments (patient_id, provider_id, type_id, starts_at, ends_at, status,
                                   walk_in, reason, created_by, created_at, updated_at,
                                   arrived_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10,
                 CASE WHEN $6 = 'arrived' THEN $10::timestamptz END)
         RETURNING id",
        patient,
        provider,
        type_id,
        starts,
        ends,
        status.as_str(),
        walk_in,
        reason,
        by,
        now
    )
    .fetch_one(conn)
    .await
}

pub async fn lock(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<(Status, bool)>> {
    let row = sqlx::query!(
        "SELECT status, walk_in FROM appointments WHERE id = $1 FOR UPDATE",
        id
    )
    .map(|r| (r.status, r.walk_in))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(s, w)| (Status::parse(&s).unwrap_or(Status::Cancelled), w)))
}

/// The patient's first appointment that still counts (booked, arrived or in consultation)
/// starting in `[from, to)`.
pub async fn active_of_patient_between(
    conn: &mut PgConnection,
    patient: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Option<Appointment>> {
    appointments!(
        "WHERE a.patient_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3
           AND a.status IN ('booked', 'arrived', 'in_consultation')
         ORDER BY a.starts_at, a.id LIMIT 1",
        patient,
        from,
        to
    )
    .fetch_optional(conn)
    .await
}

/// Gives a walk-in booked for "next free clinician" the clinician who saw the patient.
pub async fn assign_provider_if_none(
    conn: &mut PgConnection,
    id: i64,
    provider: i64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE appointments SET provider_id = $2 WHERE id = $1 AND provider_id IS NULL",
        id,
        provider
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    to: Status,
    queue_number: Option<i32>,
    cancel_reason: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE appointments SET status = $2, updated_at = $3,
                queue_number = coalesce($4, queue_number),
                arrived_at = CASE WHEN $2 = 'arrived' THEN $3 ELSE arrived_at END,
                started_at = CASE WHEN $2 = 'in_consultation' THEN $3 ELSE started_at END,
                completed_at = CASE WHEN $2 = 'completed' THEN $3 ELSE completed_at END,
                cancelled_at = CASE WHEN $2 = 'cancelled' THEN $3 ELSE cancelled_at END,
                cancel_reason = coalesce($5, cancel_reason)
          WHERE id = $1",
        id,
        to.as_str(),
        now,
        queue_number,
        cancel_reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn move_to(
    conn: &mut PgConnection,
    id: i64,
    provider: i64,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE appointments SET provider_id = $2, starts_at = $3, ends_at = $4, updated_at = $5
          WHERE id = $1",
        id,
        provider,
        starts,
        ends,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The next queue number of the local day `[day_start, day_end)`. Serialised per clinic by an
/// advisory lock held to the end of the transaction.
pub async fn next_queue_number(
    conn: &mut PgConnection,
    day_start: DateTime<Utc>,
    day_end: DateTime<Utc>,
) -> sqlx::Result<i32> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.queue'))")
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar!(
        r#"SELECT coalesce(max(queue_number), 0) + 1 AS "n!" FROM appointments
          WHERE arrived_at >= $1 AND arrived_at < $2"#,
        day_start,
        day_end
    )
    .fetch_one(conn)
    .await
}

/// Months ahead that may be booked.
pub const HORIZON_RANGE: std::ops::RangeInclusive<i64> = 1..=60;

pub async fn horizon_months(conn: &mut PgConnection) -> sqlx::Result<i64> {
    Ok(crate::domain::settings::keys::HORIZON_MONTHS
        .get(conn)
        .await?
        .filter(|m| HORIZON_RANGE.contains(m))
        .unwrap_or(24))
}

pub async fn slot_minutes(conn: &mut PgConnection) -> sqlx::Result<i64> {
    Ok(crate::domain::settings::keys::SLOT_MINUTES
        .get(conn)
        .await?
        .filter(|m| (5..=120).contains(m))
        .unwrap_or(15))
}
