//! SQL for visits, vitals, diagnoses, problems and amendments (inside a clinic transaction).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use super::model::{Amendment, Diagnosis, NoteData, Problem, Visit, VisitSummary};
use super::templates::NoteTemplate;
use super::templates::{Layout, Values};
use super::vitals::{Vitals, VitalsData};

macro_rules! visits {
    ($tail:tt $(, $arg:expr)*) => {
        sqlx::query_as!(
            Visit,
            "SELECT v.id, v.patient_id, v.appointment_id, v.clinician_id,
        c.display_name AS clinician_name, v.started_at, v.complaint, v.history, v.examination,
        v.assessment, v.plan, v.follow_up_on,
        v.template AS \"template: sqlx::types::Json<Layout>\",
        v.template_values AS \"template_values: sqlx::types::Json<Values>\", v.version, v.updated_at, v.signed_at, v.signed_by,
        s.display_name AS \"signed_by_name?\"
   FROM visits v
   JOIN users c ON c.id = v.clinician_id
   LEFT JOIN users s ON s.id = v.signed_by" + " " + $tail
            $(, $arg)*
        )
    };
}

macro_rules! summaries {
    ($tail:tt $(, $arg:expr)*) => {
        sqlx::query_as!(
            VisitSummary,
            "SELECT v.id, v.patient_id,
        concat_ws(' ', p.given_name, p.middle_name, p.family_name) AS \"patient_name!\",
        p.mrn AS patient_mrn, c.display_name AS clinician_name, v.started_at, v.complaint,
        (SELECT concat_ws(' ', d.code, d.title) FROM visit_diagnoses d WHERE d.visit_id = v.id
          ORDER BY d.is_primary DESC, d.id LIMIT 1) AS diagnosis,
        v.signed_at
   FROM visits v
   JOIN patients p ON p.id = v.patient_id
   JOIN users c ON c.id = v.clinician_id" + " " + $tail
            $(, $arg)*
        )
    };
}

macro_rules! vitals_rows {
    ($tail:tt $(, $arg:expr)*) => {
        sqlx::query_as!(
            Vitals,
            "SELECT x.id, x.patient_id, x.appointment_id, x.visit_id, x.taken_at, x.taken_by,
        u.display_name AS \"taken_by_name?\", x.systolic, x.diastolic, x.pulse,
        x.temperature_dc, x.respiratory_rate, x.spo2, x.weight_g, x.height_mm, x.glucose_mg_dl,
        x.pain, x.note
   FROM vitals x
   LEFT JOIN users u ON u.id = x.taken_by" + " " + $tail
            $(, $arg)*
        )
    };
}

pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Visit>> {
    visits!("WHERE v.id = $1", id).fetch_optional(conn).await
}

/// The visit, locked for a change.
pub async fn lock(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Visit>> {
    visits!("WHERE v.id = $1 FOR UPDATE OF v", id)
        .fetch_optional(conn)
        .await
}

pub async fn of_appointment(
    conn: &mut PgConnection,
    appointment: i64,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM visits WHERE appointment_id = $1",
        appointment
    )
    .fetch_optional(conn)
    .await
}

/// The visits of these appointments: (appointment, visit).
pub async fn of_appointments(
    conn: &mut PgConnection,
    appointments: &[i64],
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query!(
        r#"SELECT appointment_id AS "appointment!", id FROM visits WHERE appointment_id = ANY($1)"#,
        appointments
    )
    .map(|r| (r.appointment, r.id))
    .fetch_all(conn)
    .await
}

pub async fn insert(
    conn: &mut PgConnection,
    patient: i64,
    appointment: Option<i64>,
    clinician: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let template = template_for(&mut *conn, appointment).await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO visits (patient_id, appointment_id, clinician_id, started_at, updated_at, updated_by, template)
         VALUES ($1, $2, $3, $4, $4, $3, $5) RETURNING id",
        patient,
        appointment,
        clinician,
        now,
        template.map(sqlx::types::Json) as _
    )
    .fetch_one(&mut *conn)
    .await?;
    // Vitals taken at triage for the appointment belong to its visit.
    if let Some(a) = appointment {
        sqlx::query!(
            "UPDATE vitals SET visit_id = $1 WHERE appointment_id = $2 AND visit_id IS NULL",
            id,
            a
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub async fn save_note(
    conn: &mut PgConnection,
    id: i64,
    n: &NoteData,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<i32> {
    sqlx::query_scalar!(
        "UPDATE visits SET complaint = $2, history = $3, examination = $4, assessment = $5,
                plan = $6, follow_up_on = $7, template_values = $10, version = version + 1,
                updated_at = $8, updated_by = $9
         WHERE id = $1 RETURNING version",
        id,
        n.complaint,
        n.history,
        n.examination,
        n.assessment,
        n.plan,
        n.follow_up_on,
        now,
        by,
        sqlx::types::Json(&n.fields) as _
    )
    .fetch_one(conn)
    .await
}

pub async fn sign(
    conn: &mut PgConnection,
    id: i64,
    by: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE visits SET signed_at = $2, signed_by = $3, version = version + 1 WHERE id = $1",
        id,
        now,
        by
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A patient's visits, newest first.
pub async fn of_patient(
    conn: &mut PgConnection,
    patient: i64,
    limit: i64,
) -> sqlx::Result<Vec<VisitSummary>> {
    summaries!(
        "WHERE v.patient_id = $1 ORDER BY v.started_at DESC LIMIT $2",
        patient,
        limit
    )
    .fetch_all(conn)
    .await
}

pub async fn count_of_patient(conn: &mut PgConnection, patient: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM visits WHERE patient_id = $1"#,
        patient
    )
    .fetch_one(conn)
    .await
}

/// A clinician's visits not signed yet, oldest first.
pub async fn unsigned_of(
    conn: &mut PgConnection,
    clinician: i64,
) -> sqlx::Result<Vec<VisitSummary>> {
    summaries!(
        "WHERE v.clinician_id = $1 AND v.signed_at IS NULL AND p.deleted_at IS NULL ORDER BY v.started_at",
        clinician
    )
    .fetch_all(conn)
    .await
}

pub async fn insert_vitals(
    conn: &mut PgConnection,
    patient: i64,
    appointment: Option<i64>,
    visit: Option<i64>,
    d: &VitalsData,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO vitals (patient_id, appointment_id, visit_id, taken_at, taken_by, systolic,
                diastolic, pulse, temperature_dc, respiratory_rate, spo2, weight_g, height_mm,
                glucose_mg_dl, pain, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         RETURNING id",
        patient,
        appointment,
        visit,
        now,
        by,
        d.systolic,
        d.diastolic,
        d.pulse,
        d.temperature_dc,
        d.respiratory_rate,
        d.spo2,
        d.weight_g,
        d.height_mm,
        d.glucose_mg_dl,
        d.pain,
        d.note
    )
    .fetch_one(conn)
    .await
}

/// The vitals of a visit, and those taken for its appointment before it started.
pub async fn vitals_of_visit(
    conn: &mut PgConnection,
    visit: i64,
    appointment: Option<i64>,
) -> sqlx::Result<Vec<Vitals>> {
    vitals_rows!(
        "WHERE x.visit_id = $1 OR (x.appointment_id = $2 AND x.visit_id IS NULL) ORDER BY x.taken_at",
        visit,
        appointment
    )
    .fetch_all(conn)
    .await
}

/// A patient's vitals, oldest first (the chart's trend), the last `limit`.
pub async fn vitals_of_patient(
    conn: &mut PgConnection,
    patient: i64,
    limit: i64,
) -> sqlx::Result<Vec<Vitals>> {
    let mut v = vitals_rows!(
        "WHERE x.patient_id = $1 ORDER BY x.taken_at DESC LIMIT $2",
        patient,
        limit
    )
    .fetch_all(conn)
    .await?;
    v.reverse();
    Ok(v)
}

/// Vitals taken for these appointments (triage), by appointment.
pub async fn triaged(conn: &mut PgConnection, appointments: &[i64]) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT appointment_id AS "id!" FROM vitals WHERE appointment_id = ANY($1)"#,
        appointments
    )
    .fetch_all(conn)
    .await
}

pub async fn diagnoses(conn: &mut PgConnection, visit: i64) -> sqlx::Result<Vec<Diagnosis>> {
    sqlx::query_as!(
        Diagnosis,
        "SELECT id, visit_id, code_system, code, title, is_primary FROM visit_diagnoses
         WHERE visit_id = $1 ORDER BY is_primary DESC, id",
        visit
    )
    .fetch_all(conn)
    .await
}

pub async fn add_diagnosis(
    conn: &mut PgConnection,
    visit: i64,
    code: Option<(&str, &str)>,
    title: &str,
    primary: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    if primary {
        sqlx::query!(
            "UPDATE visit_diagnoses SET is_primary = false WHERE visit_id = $1 AND is_primary",
            visit
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query_scalar!(
        "INSERT INTO visit_diagnoses (visit_id, code_system, code, title, is_primary, added_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        visit,
        code.map(|c| c.0),
        code.map(|c| c.1),
        title,
        primary,
        now
    )
    .fetch_one(conn)
    .await
}

/// Removes a diagnosis of the visit; false if it has none with that id.
pub async fn remove_diagnosis(conn: &mut PgConnection, visit: i64, id: i64) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM visit_diagnoses WHERE visit_id = $1 AND id = $2",
        visit,
        id
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn amendments(conn: &mut PgConnection, visit: i64) -> sqlx::Result<Vec<Amendment>> {
    sqlx::query_as!(
        Amendment,
        "SELECT a.id, a.visit_id, a.section, a.body, a.reason, a.amended_by,
                u.display_name AS amended_by_name, a.amended_at
           FROM visit_amendments a JOIN users u ON u.id = a.amended_by
          WHERE a.visit_id = $1 ORDER BY a.amended_at, a.id",
        visit
    )
    .fetch_all(conn)
    .await
}

pub async fn add_amendment(
    conn: &mut PgConnection,
    visit: i64,
    section: &str,
    body: &str,
    reason: &str,
    by: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO visit_amendments (visit_id, section, body, reason, amended_by, amended_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        visit,
        section,
        body,
        reason,
        by,
        now
    )
    .fetch_one(conn)
    .await
}

pub async fn problems(conn: &mut PgConnection, patient: i64) -> sqlx::Result<Vec<Problem>> {
    sqlx::query_as!(
        Problem,
        "SELECT id, patient_id, code_system, code, title, noted_on, resolved_on FROM problems
         WHERE patient_id = $1 ORDER BY resolved_on IS NOT NULL, noted_on, id",
        patient
    )
    .fetch_all(conn)
    .await
}

/// Adds a problem unless the patient has that code (or text) open already; its id either way.
pub async fn add_problem(
    conn: &mut PgConnection,
    patient: i64,
    code: Option<(&str, &str)>,
    title: &str,
    noted_on: NaiveDate,
    by: Option<i64>,
) -> sqlx::Result<i64> {
    if let Some(id) = sqlx::query_scalar!(
        "SELECT id FROM problems WHERE patient_id = $1 AND resolved_on IS NULL
            AND (code IS NOT DISTINCT FROM $2) AND (code IS NOT NULL OR title = $3)",
        patient,
        code.map(|c| c.1),
        title
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok(id);
    }
    sqlx::query_scalar!(
        "INSERT INTO problems (patient_id, code_system, code, title, noted_on, added_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        patient,
        code.map(|c| c.0),
        code.map(|c| c.1),
        title,
        noted_on,
        by
    )
    .fetch_one(conn)
    .await
}

/// Marks a problem resolved; false if the patient has no open problem with that id.
pub async fn resolve_problem(
    conn: &mut PgConnection,
    patient: i64,
    id: i64,
    on: NaiveDate,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE problems SET resolved_on = greatest($3, noted_on)
          WHERE patient_id = $1 AND id = $2 AND resolved_on IS NULL",
        patient,
        id,
        on
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The template a new visit starts with: its appointment type's (if active), else the
/// clinic's default; named as it is now.
pub async fn template_for(
    conn: &mut PgConnection,
    appointment: Option<i64>,
) -> sqlx::Result<Option<Layout>> {
    let row = sqlx::query!(
        r#"SELECT n.name, n.layout AS "layout: sqlx::types::Json<Layout>" FROM note_templates n
            WHERE n.active
              AND (n.is_default OR n.id = (SELECT t.note_template_id FROM appointments a
                                             JOIN appointment_types t ON t.id = a.type_id
                                            WHERE a.id = $1))
            ORDER BY n.is_default LIMIT 1"#,
        appointment
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Layout {
        name: r.name,
        ..r.layout.0
    }))
}

macro_rules! templates {
    ($tail:tt $(, $arg:expr)*) => {
        sqlx::query_as!(
            NoteTemplate,
            "SELECT n.id, n.name, n.layout AS \"layout: sqlx::types::Json<Layout>\", n.is_default,
        n.active, n.updated_at,
        ARRAY(SELECT t.name FROM appointment_types t WHERE t.note_template_id = n.id
               ORDER BY lower(t.name)) AS \"used_by!\"
   FROM note_templates n" + " " + $tail
            $(, $arg)*
        )
    };
}

pub async fn templates(conn: &mut PgConnection) -> sqlx::Result<Vec<NoteTemplate>> {
    templates!("ORDER BY n.is_default DESC, n.active DESC, lower(n.name)")
        .fetch_all(conn)
        .await
}

pub async fn template(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<NoteTemplate>> {
    templates!("WHERE n.id = $1", id).fetch_optional(conn).await
}

/// Adds (`id` none) or changes a template; a new default takes over from the old one.
/// `Ok(None)`: the name is taken.
pub async fn save_template(
    conn: &mut PgConnection,
    id: Option<i64>,
    name: &str,
    layout: &Layout,
    is_default: bool,
    active: bool,
) -> sqlx::Result<Option<i64>> {
    if is_default {
        sqlx::query!(
            "UPDATE note_templates SET is_default = false WHERE is_default AND id IS DISTINCT FROM $1",
            id
        )
        .execute(&mut *conn)
        .await?;
    }
    let layout = sqlx::types::Json(layout);
    let saved = match id {
        None => {
            sqlx::query_scalar!(
            "INSERT INTO note_templates (name, layout, is_default, active) VALUES ($1, $2, $3, $4)
             ON CONFLICT ON CONSTRAINT note_templates_name_key DO NOTHING RETURNING id",
            name,
            layout as _,
            is_default,
            active
        )
            .fetch_optional(conn)
            .await?
        }
        Some(id) => {
            let taken = sqlx::query_scalar!(
                "SELECT id FROM note_templates WHERE name = $1 AND id <> $2",
                name,
                id
            )
            .fetch_optional(&mut *conn)
            .await?;
            if taken.is_some() {
                return Ok(None);
            }
            sqlx::query_scalar!(
                "UPDATE note_templates SET name = $2, layout = $3, is_default = $4, active = $5,
                        updated_at = now()
                  WHERE id = $1 RETURNING id",
                id,
                name,
                layout as _,
                is_default,
                active
            )
            .fetch_optional(conn)
            .await?
        }
    };
    Ok(saved)
}
