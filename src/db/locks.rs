//! Session-level advisory locks for background singletons (certificate renewal, backups):
//! whoever holds the lock does the work, other nodes on the same database skip it.

use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;

pub const TLS_RENEWAL: i64 = 0x6362_782d_746c_7372;
pub const BACKUP: i64 = 0x6362_782d_6261_636b;
/// Held shared by every running server; a whole-installation restore needs it exclusively.
pub const SERVE: i64 = 0x6362_782d_7365_7276;

/// A held lock. `release` unlocks and returns the connection to the pool; dropping it without
/// `release` closes the connection, which ends the lock as well (never a pooled connection
/// that still holds it).
pub struct Held {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

pub async fn try_acquire(pool: &PgPool, key: i64) -> sqlx::Result<Option<Held>> {
    let mut conn = pool.acquire().await?;
    let got: bool = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock($1) AS "got!""#, key)
        .fetch_one(&mut *conn)
        .await?;
    Ok(got.then_some(Held {
        conn: Some(conn),
        key,
    }))
}

impl Held {
    pub async fn release(mut self) -> sqlx::Result<()> {
        if let Some(mut conn) = self.conn.take() {
            let r = sqlx::query_scalar!("SELECT pg_advisory_unlock($1)", self.key)
                .fetch_one(&mut *conn)
                .await;
            if r.is_err() {
                drop(conn.detach());
            }
            r?;
        }
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

/// Holds `key` in shared mode on a connection of its own for as long as the returned
/// connection lives (a running server, so that a restore cannot start under it). `None` when
/// someone holds it exclusively (a restore is running).
pub async fn hold_shared(
    opts: &sqlx::postgres::PgConnectOptions,
    key: i64,
) -> sqlx::Result<Option<sqlx::PgConnection>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect_with(opts).await?;
    let got: bool = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock_shared($1) AS "got!""#, key)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(conn))
}
