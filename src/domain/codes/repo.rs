//! SQL for the shared code sets (`extensions.codes`, on the search path of every clinic
//! transaction; loaded through the application's own connection).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::{Code, CodeRow, CodeSystem};

pub async fn tables_exist(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT to_regclass('extensions.code_systems') IS NOT NULL AS "exists!""#)
        .fetch_one(conn)
        .await
}

pub async fn system(conn: &mut PgConnection, system: &str) -> sqlx::Result<Option<CodeSystem>> {
    sqlx::query_as!(
        CodeSystem,
        "SELECT system, name, codes, loaded_at FROM extensions.code_systems WHERE system = $1",
        system
    )
    .fetch_optional(conn)
    .await
}

pub async fn systems(conn: &mut PgConnection) -> sqlx::Result<Vec<CodeSystem>> {
    sqlx::query_as!(
        CodeSystem,
        "SELECT system, name, codes, loaded_at FROM extensions.code_systems ORDER BY system"
    )
    .fetch_all(conn)
    .await
}

/// Replaces every code of `system` (inside the caller's transaction).
pub async fn replace(
    conn: &mut PgConnection,
    system: &str,
    name: &str,
    rows: &[CodeRow],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    let count = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    sqlx::query!(
        "INSERT INTO extensions.code_systems (system, name, codes, loaded_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (system) DO UPDATE
         SET name = EXCLUDED.name, codes = EXCLUDED.codes, loaded_at = EXCLUDED.loaded_at",
        system,
        name,
        count,
        now
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM extensions.codes WHERE system = $1", system)
        .execute(&mut *conn)
        .await?;
    for chunk in rows.chunks(10_000) {
        let codes: Vec<&str> = chunk.iter().map(|r| r.code.as_str()).collect();
        let titles: Vec<&str> = chunk.iter().map(|r| r.title.as_str()).collect();
        let billable: Vec<bool> = chunk.iter().map(|r| r.billable).collect();
        sqlx::query!(
            "INSERT INTO extensions.codes (system, code, title, billable)
             SELECT $1, c, t, b FROM unnest($2::text[], $3::text[], $4::bool[]) AS x(c, t, b)",
            system,
            &codes as &[&str],
            &titles as &[&str],
            &billable
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Codes starting with `prefix` (no dot, upper case): those the clinic used most first (`code_usage`),
/// then the shortest (the most general). A range, not `LIKE`, so
/// that the index serves a prepared statement too ('~' sorts after every code character).
pub async fn by_code(
    conn: &mut PgConnection,
    system: &str,
    prefix: &str,
    limit: i64,
) -> sqlx::Result<Vec<Code>> {
    sqlx::query_as!(
        Code,
        r#"SELECT c.system, c.code, c.title, c.billable FROM extensions.codes c
           LEFT JOIN code_usage u ON u.code_system = c.system AND u.code = c.code
           WHERE c.system = $1
             AND replace(c.code, '.', '') COLLATE "C" >= $2
             AND replace(c.code, '.', '') COLLATE "C" < $2 || '~'
           ORDER BY coalesce(u.uses, 0) DESC, length(c.code), c.code
           LIMIT $3"#,
        system,
        prefix,
        limit
    )
    .fetch_all(conn)
    .await
}

/// Codes whose title has a word starting with each word of the search (`query` from
/// `prefix_query`): those the clinic used most first, then the shortest titles (the most
/// general conditions).
pub async fn by_words(
    conn: &mut PgConnection,
    system: &str,
    query: &str,
    limit: i64,
) -> sqlx::Result<Vec<Code>> {
    sqlx::query_as!(
        Code,
        r#"SELECT c.system, c.code, c.title, c.billable FROM extensions.codes c
           LEFT JOIN code_usage u ON u.code_system = c.system AND u.code = c.code
           WHERE c.system = $1 AND c.words @@ to_tsquery('simple', $2)
           ORDER BY coalesce(u.uses, 0) DESC, length(c.title), c.code
           LIMIT $3"#,
        system,
        query,
        limit
    )
    .fetch_all(conn)
    .await
}

/// One code, to check a diagnosis names a real one.
pub async fn get(conn: &mut PgConnection, system: &str, code: &str) -> sqlx::Result<Option<Code>> {
    sqlx::query_as!(
        Code,
        "SELECT system, code, title, billable FROM extensions.codes WHERE system = $1 AND code = $2",
        system,
        code
    )
    .fetch_optional(conn)
    .await
}
