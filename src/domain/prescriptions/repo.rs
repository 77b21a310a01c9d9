//! SQL for the drug list, prescriptions, sets and prints (inside a clinic transaction).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::model::{Drug, Item, ItemData, SetSummary};

pub async fn drugs(conn: &mut PgConnection, all: bool) -> sqlx::Result<Vec<Drug>> {
    sqlx::query_as!(
        Drug,
        "SELECT id, generic_name, brand_names, strength, form, drug_class, pack_ml, active
           FROM drugs WHERE $1 OR active
          ORDER BY active DESC, lower(generic_name), lower(strength), form",
        all
    )
    .fetch_all(conn)
    .await
}

pub async fn drug(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Drug>> {
    sqlx::query_as!(
        Drug,
        "SELECT id, generic_name, brand_names, strength, form, drug_class, pack_ml, active
           FROM drugs WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await
}

/// Inserts or (with `id`) updates a drug; `None` if the name, strength and form exist already.
pub async fn save_drug(
    conn: &mut PgConnection,
    id: Option<i64>,
    d: &Drug,
) -> sqlx::Result<Option<i64>> {
    let r = match id {
        None => {
            sqlx::query_scalar!(
                "INSERT INTO drugs (generic_name, brand_names, strength, form, drug_class, pack_ml, active)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT DO NOTHING RETURNING id",
                d.generic_name,
                d.brand_names,
                d.strength,
                d.form,
                d.drug_class,
                d.pack_ml,
                d.active
            )
            .fetch_optional(&mut *conn)
            .await
        }
        Some(id) => {
            sqlx::query_scalar!(
                "UPDATE drugs SET generic_name = $2, brand_names = $3, strength = $4, form = $5,
                        drug_class = $6, pack_ml = $7, active = $8
                  WHERE id = $1 RETURNING id",
                id,
                d.generic_name,
                d.brand_names,
                d.strength,
                d.form,
                d.drug_class,
                d.pack_ml,
                d.active
            )
            .fetch_optional(&mut *conn)
            .await
        }
    };
    match r {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
        other => other,
    }
}

pub async fn items(conn: &mut PgConnection, visit: i64) -> sqlx::Result<Vec<Item>> {
    sqlx::query_as!(
        Item,
        "SELECT id, drug_id, drug, form, dose, route, timing, days, quantity, quantity_unit,
                instructions, allergy_override
           FROM prescription_items WHERE visit_id = $1 ORDER BY id",
        visit
    )
    .fetch_all(conn)
    .await
}

pub async fn add_item(
    conn: &mut PgConnection,
    visit: i64,
    d: &ItemData,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO prescription_items (visit_id, drug_id, drug, form, dose, route, timing, days,
                quantity, quantity_unit, instructions, allergy_override, added_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        visit,
        d.drug_id,
        d.drug,
        d.form,
        d.dose,
        d.route,
        d.timing,
        d.days,
        d.quantity,
        d.quantity_unit,
        d.instructions,
        d.allergy_override,
        now
    )
    .fetch_one(conn)
    .await
}

pub async fn remove_item(conn: &mut PgConnection, visit: i64, item: i64) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM prescription_items WHERE visit_id = $1 AND id = $2",
        visit,
        item
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn sets(conn: &mut PgConnection, owner: i64) -> sqlx::Result<Vec<SetSummary>> {
    sqlx::query_as!(
        SetSummary,
        "SELECT s.id, s.name, (SELECT count(*) FROM prescription_set_items i WHERE i.set_id = s.id) AS \"items!\"
           FROM prescription_sets s WHERE s.owner_id = $1 ORDER BY lower(s.name)",
        owner
    )
    .fetch_all(conn)
    .await
}

/// A set's lines as they were saved, with the quantity only where it was typed.
pub struct SetLine {
    pub drug_id: Option<i64>,
    pub drug: String,
    pub form: String,
    pub dose: String,
    pub route: String,
    pub timing: String,
    pub days: Option<i16>,
    pub quantity: Option<i32>,
    pub instructions: String,
}

pub async fn set_lines(
    conn: &mut PgConnection,
    owner: i64,
    set: i64,
) -> sqlx::Result<Option<Vec<SetLine>>> {
    let found = sqlx::query_scalar!(
        "SELECT id FROM prescription_sets WHERE id = $1 AND owner_id = $2",
        set,
        owner
    )
    .fetch_optional(&mut *conn)
    .await?;
    if found.is_none() {
        return Ok(None);
    }
    let lines = sqlx::query_as!(
        SetLine,
        "SELECT drug_id, drug, form, dose, route, timing, days, quantity, instructions
           FROM prescription_set_items WHERE set_id = $1 ORDER BY id",
        set
    )
    .fetch_all(conn)
    .await?;
    Ok(Some(lines))
}

/// Saves `lines` as the owner's set `name` (replacing one of that name). Returns its id.
pub async fn save_set(
    conn: &mut PgConnection,
    owner: i64,
    name: &str,
    lines: &[SetLine],
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let id = sqlx::query_scalar!(
        "INSERT INTO prescription_sets (owner_id, name, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (owner_id, name) DO UPDATE SET created_at = EXCLUDED.created_at
         RETURNING id",
        owner,
        name,
        now
    )
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM prescription_set_items WHERE set_id = $1", id)
        .execute(&mut *conn)
        .await?;
    for l in lines {
        sqlx::query!(
            "INSERT INTO prescription_set_items (set_id, drug_id, drug, form, dose, route, timing,
                    days, quantity, instructions)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            id,
            l.drug_id,
            l.drug,
            l.form,
            l.dose,
            l.route,
            l.timing,
            l.days,
            l.quantity,
            l.instructions
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub async fn delete_set(conn: &mut PgConnection, owner: i64, set: i64) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "DELETE FROM prescription_sets WHERE id = $1 AND owner_id = $2",
        set,
        owner
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records a print of the visit's prescription; its copy number (1 = the original).
pub async fn record_print(
    conn: &mut PgConnection,
    visit: i64,
    paper: &str,
    language: &str,
    by: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<i32> {
    // The visit row is locked by the caller: copies of one visit are numbered one at a time.
    sqlx::query_scalar!(
        "INSERT INTO prescription_prints (visit_id, copy, paper, language, printed_at, printed_by)
         SELECT $1, coalesce(max(copy), 0) + 1, $2, $3, $4, $5
           FROM prescription_prints WHERE visit_id = $1
         RETURNING copy",
        visit,
        paper,
        language,
        now,
        by
    )
    .fetch_one(conn)
    .await
}

/// What a prescription prints under the doctor's name.
pub struct Prescriber {
    pub display_name: String,
    pub qualification: Option<String>,
    pub registration_no: Option<String>,
}

pub async fn prescriber(conn: &mut PgConnection, user: i64) -> sqlx::Result<Option<Prescriber>> {
    sqlx::query_as!(
        Prescriber,
        "SELECT display_name, qualification, registration_no FROM users WHERE id = $1",
        user
    )
    .fetch_optional(conn)
    .await
}

pub async fn save_prescriber(
    conn: &mut PgConnection,
    user: i64,
    qualification: Option<&str>,
    registration_no: Option<&str>,
) -> sqlx::Result<bool> {
    let r = sqlx::query!(
        "UPDATE users SET qualification = $2, registration_no = $3
          WHERE id = $1 AND role IN ('doctor', 'nurse')",
        user,
        qualification,
        registration_no
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}
