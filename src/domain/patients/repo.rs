//! SQL for `patients` (inside a clinic transaction).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::model::{Allergy, EmergencyContact, Patient, PatientData, PatientSummary, Phone, Sex};
use crate::domain::settings::keys;

#[derive(sqlx::FromRow)]
struct PatientRow {
    id: i64,
    mrn: String,
    given_name: String,
    middle_name: Option<String>,
    family_name: String,
    sex: String,
    birth_date: Option<NaiveDate>,
    birth_date_estimated: bool,
    phones: Json<Vec<Phone>>,
    email: Option<String>,
    address: Option<String>,
    national_id: Option<String>,
    insurance_id: Option<String>,
    emergency_contact: Option<Json<EmergencyContact>>,
    preferred_language: Option<String>,
    allergies: Json<Vec<Allergy>>,
    alerts: Option<String>,
    notes: Option<String>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

impl From<PatientRow> for Patient {
    fn from(r: PatientRow) -> Self {
        let phones = r.phones.0;
        Patient {
            id: r.id,
            mrn: r.mrn,
            given_name: r.given_name,
            middle_name: r.middle_name,
            family_name: r.family_name,
            sex: Sex::parse(&r.sex).unwrap_or(Sex::Unknown),
            birth_date: r.birth_date,
            birth_date_estimated: r.birth_date_estimated,
            phone: phones.first().map(|p| p.number.clone()),
            phones,
            email: r.email,
            address: r.address,
            national_id: r.national_id,
            insurance_id: r.insurance_id,
            emergency_contact: r.emergency_contact.map(|j| j.0),
            preferred_language: r.preferred_language,
            allergies: r.allergies.0,
            alerts: r.alerts,
            notes: r.notes,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted: r.deleted_at.is_some(),
        }
    }
}

/// Patient rows: `$head` + the columns + `$tail` (string literals), fetched with `$fetch`.
macro_rules! patient_rows {
    ($conn:expr, $fetch:ident, $head:tt, $tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            PatientRow,
            $head + r#"id, mrn, given_name, middle_name, family_name, sex, birth_date,
                birth_date_estimated, phones AS "phones: Json<Vec<Phone>>", email, address,
                national_id, insurance_id,
                emergency_contact AS "emergency_contact: Json<EmergencyContact>",
                preferred_language, allergies AS "allergies: Json<Vec<Allergy>>", alerts, notes,
                version, created_at, updated_at, deleted_at"# + $tail $(, $arg)*
        )
        .$fetch($conn)
        .await
    };
}

pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Patient>> {
    let row = patient_rows!(
        conn,
        fetch_optional,
        "SELECT ",
        " FROM patients WHERE id = $1",
        id
    )?;
    Ok(row.map(Patient::from))
}

pub async fn get_for_update(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Patient>> {
    let row = patient_rows!(
        conn,
        fetch_optional,
        "SELECT ",
        " FROM patients WHERE id = $1 FOR UPDATE",
        id
    )?;
    Ok(row.map(Patient::from))
}

/// Writes a patient row: `$head` takes the stored fields of `$d` as `$1`…`$17`, then `$extra`.
macro_rules! write_patient {
    ($conn:expr, $d:expr, $head:tt $(, $extra:expr)* $(,)?) => {
        patient_rows!(
            $conn,
            fetch_one,
            $head,
            "",
            &$d.given_name,
            $d.middle_name.as_deref(),
            &$d.family_name,
            $d.sex.as_str(),
            $d.birth_date,
            $d.birth_date_estimated,
            Json(&$d.phones) as _,
            &$d.phone_keys()[..],
            $d.email.as_deref(),
            $d.address.as_deref(),
            $d.national_id.as_deref(),
            $d.insurance_id.as_deref(),
            $d.emergency_contact.as_ref().map(Json) as _,
            $d.preferred_language.as_deref(),
            Json(&$d.allergies) as _,
            $d.alerts.as_deref(),
            $d.notes.as_deref()
            $(, $extra)*
        )
    };
}

/// Inserts with the next MRN: the clinic's prefix and a sequence number, never reused.
pub async fn insert(
    conn: &mut PgConnection,
    d: &PatientData,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<Patient> {
    let row = write_patient!(
        conn,
        d,
        "INSERT INTO patients (mrn, given_name, middle_name, family_name, sex, birth_date,
             birth_date_estimated, phones, phone_keys, email, address, national_id, insurance_id,
             emergency_contact, preferred_language, allergies, alerts, notes,
             created_at, updated_at, created_by, updated_by)
         VALUES (next_mrn(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $18, $19, $19)
         RETURNING ",
        now,
        by
    )?;
    Ok(row.into())
}

pub async fn update(
    conn: &mut PgConnection,
    id: i64,
    d: &PatientData,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<Patient> {
    let row = write_patient!(
        conn,
        d,
        "UPDATE patients SET given_name = $1, middle_name = $2, family_name = $3, sex = $4,
             birth_date = $5, birth_date_estimated = $6, phones = $7, phone_keys = $8, email = $9,
             address = $10, national_id = $11, insurance_id = $12, emergency_contact = $13,
             preferred_language = $14, allergies = $15, alerts = $16, notes = $17,
             updated_at = $18, updated_by = $19, version = version + 1
         WHERE id = $20
         RETURNING ",
        now,
        by,
        id
    )?;
    Ok(row.into())
}

pub async fn set_deleted(
    conn: &mut PgConnection,
    id: i64,
    deleted: bool,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "UPDATE patients SET deleted_at = CASE WHEN $2 THEN $3::timestamptz END, updated_at = $3,
                updated_by = $4, version = version + 1
          WHERE id = $1 AND (deleted_at IS NULL) = $2",
        id,
        deleted,
        now,
        by
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Search results: the summary columns, `$matched` (an SQL expression, as a string literal) as
/// `matched`, then `FROM patients` and `$tail`.
macro_rules! summary_rows {
    ($conn:expr, $matched:tt, $tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            PatientSummary,
            "SELECT id, mrn, given_name, middle_name, family_name, sex, birth_date,
                    birth_date_estimated, phones -> 0 ->> 'number' AS phone, " + $matched
                + r#" AS "matched!" FROM patients "# + $tail $(, $arg)*
        )
        .fetch_all($conn)
        .await
    };
}
pub(super) use summary_rows;

/// The summary columns, for the one search query that is assembled at run time.
pub const SUMMARY: &str = "id, mrn, given_name, middle_name, family_name, sex, birth_date, \
    birth_date_estimated, phones -> 0 ->> 'number' AS phone";

/// Possible duplicates of `d`: same folded name and birth date, or a shared phone number.
pub async fn duplicates(
    conn: &mut PgConnection,
    d: &PatientData,
    except: Option<i64>,
) -> sqlx::Result<Vec<PatientSummary>> {
    summary_rows!(
        conn,
        "CASE WHEN phone_keys && $4 THEN 'phone' ELSE 'name_and_birth_date' END",
        "WHERE deleted_at IS NULL
            AND ($5::bigint IS NULL OR id <> $5)
            AND ((given_norm = extensions.fold($1) AND family_norm = extensions.fold($2)
                  AND birth_date = $3)
                 OR phone_keys && $4)
          ORDER BY family_norm, given_norm
          LIMIT 10",
        &d.given_name,
        &d.family_name,
        d.birth_date,
        &d.phone_keys()[..],
        except
    )
}

pub async fn mrn_prefix(conn: &mut PgConnection) -> sqlx::Result<String> {
    Ok(keys::MRN_PREFIX.get(conn).await?.unwrap_or_default())
}

pub async fn set_mrn_prefix(
    conn: &mut PgConnection,
    prefix: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    keys::MRN_PREFIX.set(conn, &prefix.to_owned(), now).await
}

/// Name and MRN of each of `ids` that exists (deleted ones too: the audit log names them).
pub async fn labels(
    conn: &mut PgConnection,
    ids: &[i64],
) -> sqlx::Result<std::collections::HashMap<i64, (String, String)>> {
    let rows = sqlx::query!(
        r#"SELECT id, mrn, concat_ws(' ', given_name, middle_name, family_name) AS "name!"
             FROM patients WHERE id = ANY($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, (r.name, r.mrn))).collect())
}
