//! SQL for documents (inside a clinic transaction).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::model::Document;

macro_rules! documents {
    ($tail:literal $(, $arg:expr)*) => {
        sqlx::query_as!(
            Document,
            r#"SELECT d.id, d.patient_id, d.visit_id, d.category, d.title, d.media_type,
                      d.file_name, d.size_bytes, d.sha256, d.storage_key, d.thumb_bytes,
                      d.width, d.height, d.uploaded_by, u.display_name AS "uploaded_by_name?",
                      d.uploaded_at
                 FROM documents d LEFT JOIN users u ON u.id = d.uploaded_by "# + $tail
            $(, $arg)*
        )
    };
}

/// The patient's documents, newest first (deleted ones are not listed).
pub async fn of_patient(conn: &mut PgConnection, patient: i64) -> sqlx::Result<Vec<Document>> {
    documents!(
        "WHERE d.patient_id = $1 AND d.deleted_at IS NULL ORDER BY d.uploaded_at DESC, d.id DESC",
        patient
    )
    .fetch_all(conn)
    .await
}

pub async fn of_visit(conn: &mut PgConnection, visit: i64) -> sqlx::Result<Vec<Document>> {
    documents!(
        "WHERE d.visit_id = $1 AND d.deleted_at IS NULL ORDER BY d.uploaded_at, d.id",
        visit
    )
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Document>> {
    documents!("WHERE d.id = $1 AND d.deleted_at IS NULL", id)
        .fetch_optional(conn)
        .await
}

/// Bytes the clinic's documents take (files and thumbnails; deleted ones no longer count).
pub async fn used_bytes(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(size_bytes + COALESCE(thumb_bytes, 0)), 0)::bigint AS "used!"
             FROM documents WHERE deleted_at IS NULL"#
    )
    .fetch_one(conn)
    .await
}

/// Uploads of one clinic take their turn: the quota check and the insert see each other.
pub async fn lock_uploads(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query!("LOCK TABLE documents IN SHARE ROW EXCLUSIVE MODE")
        .execute(conn)
        .await?;
    Ok(())
}

pub struct NewDocument<'a> {
    pub patient_id: i64,
    pub visit_id: Option<i64>,
    pub category: &'a str,
    pub title: &'a str,
    pub media_type: &'a str,
    pub file_name: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub storage_key: &'a str,
    pub thumb_bytes: Option<i32>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub uploaded_by: Option<i64>,
    pub uploaded_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut PgConnection, d: &NewDocument<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO documents (patient_id, visit_id, category, title, media_type, file_name,
                                size_bytes, sha256, storage_key, thumb_bytes, width, height,
                                uploaded_by, uploaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        d.patient_id,
        d.visit_id,
        d.category,
        d.title,
        d.media_type,
        d.file_name,
        d.size_bytes,
        d.sha256,
        d.storage_key,
        d.thumb_bytes,
        d.width,
        d.height,
        d.uploaded_by,
        d.uploaded_at
    )
    .fetch_one(conn)
    .await
}

/// Marks the document deleted; `false` if there is no such (undeleted) document.
pub async fn soft_delete(
    conn: &mut PgConnection,
    id: i64,
    by: Option<i64>,
    reason: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "UPDATE documents SET deleted_at = $3, deleted_by = $2, delete_reason = $4
          WHERE id = $1 AND deleted_at IS NULL RETURNING patient_id",
        id,
        by,
        at,
        reason
    )
    .fetch_optional(conn)
    .await
}
