//! One consistent view of the database for a backup: a REPEATABLE READ transaction whose
//! snapshot is exported to every `pg_dump`, and in which the manifest's row counts and
//! checksums are computed — so the manifest describes exactly what the dumps contain.

use sqlx::{PgConnection, Postgres, Transaction};

use super::manifest::TableStat;

/// Text forms that do not depend on the session (dates, floats, bytea), so that a checksum
/// taken at backup time and one taken after a restore agree. Transaction-local.
pub async fn stable_settings(conn: &mut PgConnection) -> sqlx::Result<()> {
    // One prepared statement (`raw_sql` futures are not `Send` enough for a spawned task).
    sqlx::query(
        "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),
                set_config('IntervalStyle', 'postgres', true),
                set_config('extra_float_digits', '3', true), set_config('bytea_output', 'hex', true)",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The backup's transaction. Dropped on an early return (a failed dump, a full disk), it rolls
/// back like any other transaction, so the pooled connection goes back clean.
pub struct Snapshot {
    tx: Transaction<'static, Postgres>,
    pub id: String,
}

impl Snapshot {
    pub async fn begin(pool: &sqlx::PgPool) -> sqlx::Result<Self> {
        let mut tx =
            crate::db::begin_with(pool, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        // The exporting transaction waits, idle, while pg_dump reads its snapshot.
        sqlx::query("SELECT set_config('idle_in_transaction_session_timeout', '0', true)")
            .execute(&mut *tx)
            .await?;
        stable_settings(&mut tx).await?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *tx)
            .await?;
        Ok(Self { tx, id })
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn end(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Row count and checksum of every table of `schema`, read as `role` (clinic tables are
/// readable only by the clinic's role). `conn` must be inside a transaction with
/// [`STABLE_SETTINGS`].
pub async fn table_stats(
    conn: &mut PgConnection,
    schema: &str,
    role: Option<&str>,
) -> sqlx::Result<Vec<TableStat>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    if let Some(r) = role {
        sqlx::query("SELECT set_config('role', $1, true)")
            .bind(r)
            .execute(&mut *conn)
            .await?;
    }
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        // md5 of each row's text, sorted: independent of physical order, sensitive to every
        // value.
        let (rows, checksum): (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '')
               FROM (SELECT md5(t::text) AS h FROM {}.{} t) s",
            quote_ident(schema),
            quote_ident(&t)
        ))
        .fetch_one(&mut *conn)
        .await?;
        out.push(TableStat {
            schema: schema.to_owned(),
            table: t,
            rows,
            checksum,
        });
    }
    if role.is_some() {
        sqlx::query("SELECT set_config('role', 'none', true)")
            .execute(&mut *conn)
            .await?;
    }
    Ok(out)
}
