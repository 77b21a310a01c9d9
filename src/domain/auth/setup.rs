//! The web installer: while no operator exists, `serve` (or `clinicbox operator setup-link`)
//! makes a single-use link that lets the first operator create their account in the browser.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};

/// How long a setup link works.
pub const TTL_HOURS: i64 = 24;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

pub async fn operators_exist(pool: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM clinicbox.operators) AS "v!""#)
        .fetch_one(pool)
        .await
}

/// A new setup token, or `None` when an operator already exists (the link is then pointless).
pub async fn create_token(pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<Option<String>> {
    if operators_exist(pool).await? {
        return Ok(None);
    }
    let token = data_encoding::BASE32_NOPAD
        .encode(&crate::ops::secrets::random_bytes::<20>()?)
        .to_lowercase();
    sqlx::query!("INSERT INTO clinicbox.setup_tokens (token_hash, created_at, expires_at) VALUES ($1, $2, $3)", hash(&token), now, now + Duration::hours(TTL_HOURS))
    .execute(pool)
    .await?;
    Ok(Some(token))
}

/// Whether the token may be used now: known, unused, unexpired, and still no operator.
pub async fn is_valid(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM clinicbox.setup_tokens
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)
            AND NOT EXISTS (SELECT 1 FROM clinicbox.operators) AS "v!""#,
        hash(token),
        now
    )
    .fetch_one(conn)
    .await
}

/// Marks the token used (and every other outstanding one void); `false` if it was not valid.
pub async fn consume(
    conn: &mut PgConnection,
    token: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    // Serialises two browsers racing with the same link.
    sqlx::query!("LOCK TABLE clinicbox.setup_tokens IN EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await?;
    if !is_valid(conn, token, now).await? {
        return Ok(false);
    }
    sqlx::query!(
        "UPDATE clinicbox.setup_tokens SET used_at = $1 WHERE used_at IS NULL",
        now
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// Where `serve` leaves the current setup link for install.sh (`<data_dir>/setup-link.txt`).
pub fn link_file(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("setup-link.txt")
}

/// Removes the setup link file once an operator exists, so that nobody is shown a used link.
pub fn forget_link_file(data_dir: &std::path::Path) {
    match std::fs::remove_file(link_file(data_dir)) {
        Ok(()) => tracing::info!("removed the setup link file: an operator account exists"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(error = %e, "could not remove the setup link file"),
    }
}
