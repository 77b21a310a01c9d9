//! SQL for the ACME account, certificates, challenges and the order log (control schema).

use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct CertRow {
    pub hostname: String,
    pub directory_url: Option<String>,
    #[serde(skip)]
    pub chain_pem: Option<String>,
    #[serde(skip)]
    pub key_enc: Option<Vec<u8>>,
    pub issuer: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub renew_after: Option<DateTime<Utc>>,
    pub ari_next_check: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub failures: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_challenge: Option<String>,
    pub last_error: Option<String>,
    pub force_renew: bool,
    pub updated_at: DateTime<Utc>,
}

/// Certificate rows: the columns of `clinicbox.certificates`, then `$tail` (a string literal).
macro_rules! cert_rows {
    ($pool:expr, $fetch:ident, $tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            CertRow,
            "SELECT hostname, directory_url, chain_pem, key_enc, issuer, not_before, not_after,
                    renew_after, ari_next_check, issued_at, next_attempt_at, failures,
                    last_attempt_at, last_challenge, last_error, force_renew, updated_at
               FROM clinicbox.certificates " + $tail $(, $arg)*
        )
        .$fetch($pool)
        .await
    };
}

pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<CertRow>> {
    cert_rows!(pool, fetch_all, "ORDER BY hostname")
}

pub async fn one(pool: &PgPool, host: &str) -> sqlx::Result<Option<CertRow>> {
    cert_rows!(pool, fetch_optional, "WHERE hostname = $1", host)
}

/// Rows for hosts seen for the first time, due at once.
pub async fn ensure_rows(pool: &PgPool, hosts: &[String], now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO clinicbox.certificates (hostname, next_attempt_at, updated_at)
         SELECT h, $2, $2 FROM unnest($1::text[]) AS h
         ON CONFLICT (hostname) DO NOTHING",
        hosts,
        now
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub struct Issued<'a> {
    pub host: &'a str,
    pub directory_url: &'a str,
    pub chain_pem: &'a str,
    pub key_enc: &'a [u8],
    pub issuer: &'a str,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub renew_after: DateTime<Utc>,
    pub challenge: &'a str,
}

pub async fn save_issued(pool: &PgPool, c: &Issued<'_>, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE clinicbox.certificates
            SET directory_url = $2, chain_pem = $3, key_enc = $4, issuer = $5, not_before = $6,
                not_after = $7, renew_after = $8, ari_next_check = $9, issued_at = $9,
                next_attempt_at = $8, failures = 0, last_attempt_at = $9, last_challenge = $10,
                last_error = NULL, force_renew = false, updated_at = $9
          WHERE hostname = $1",
        c.host,
        c.directory_url,
        c.chain_pem,
        c.key_enc,
        c.issuer,
        c.not_before,
        c.not_after,
        c.renew_after,
        now,
        c.challenge
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A failed or deferred attempt: the error, and when to try again.
pub async fn save_failure(
    pool: &PgPool,
    host: &str,
    error: &str,
    challenge: Option<&str>,
    counts_as_failure: bool,
    next_attempt_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE clinicbox.certificates
            SET failures = failures + CASE WHEN $3 THEN 1 ELSE 0 END,
                last_error = $2, last_challenge = COALESCE($4, last_challenge),
                last_attempt_at = $6, next_attempt_at = $5, force_renew = false, updated_at = $6
          WHERE hostname = $1",
        host,
        error,
        counts_as_failure,
        challenge,
        next_attempt_at,
        now
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A new renewal window (from ARI), and when to ask again.
pub async fn save_schedule(
    pool: &PgPool,
    host: &str,
    renew_after: DateTime<Utc>,
    ari_next_check: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE clinicbox.certificates
            SET renew_after = $2, ari_next_check = $3,
                next_attempt_at = CASE WHEN failures = 0 THEN $2 ELSE next_attempt_at END
          WHERE hostname = $1",
        host,
        renew_after,
        ari_next_check
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// `clinicbox cert renew`: marks hosts for an attempt now. Returns the hosts marked.
pub async fn request_renewal(
    pool: &PgPool,
    host: Option<&str>,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "UPDATE clinicbox.certificates
            SET force_renew = true, next_attempt_at = $2
          WHERE $1::text IS NULL OR hostname = $1
         RETURNING hostname",
        host,
        now
    )
    .fetch_all(pool)
    .await
}

pub async fn log_order(
    pool: &PgPool,
    host: &str,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    outcome: &str,
    challenge: Option<&str>,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!("INSERT INTO clinicbox.acme_orders (hostname, started_at, finished_at, outcome, challenge, error)
         VALUES ($1, $2, $3, $4, $5, $6)", host, started_at, finished_at, outcome, challenge, error)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many orders for `host` ended with `outcome` since `since`.
pub async fn count_orders(
    pool: &PgPool,
    host: &str,
    outcome: &str,
    since: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "v!" FROM clinicbox.acme_orders
          WHERE hostname = $1 AND outcome = $2 AND started_at >= $3"#,
        host,
        outcome,
        since
    )
    .fetch_one(pool)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct OrderRow {
    pub hostname: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: String,
    pub challenge: Option<String>,
    pub error: Option<String>,
}

pub async fn orders(pool: &PgPool, host: Option<&str>, limit: i64) -> sqlx::Result<Vec<OrderRow>> {
    sqlx::query_as!(
        OrderRow,
        "SELECT hostname, started_at, finished_at, outcome, challenge, error
           FROM clinicbox.acme_orders
          WHERE $1::text IS NULL OR hostname = $1
          ORDER BY started_at DESC, id DESC LIMIT $2",
        host,
        limit
    )
    .fetch_all(pool)
    .await
}

pub async fn put_challenge(
    pool: &PgPool,
    token: &str,
    host: &str,
    kind: &str,
    key_authorization: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!("INSERT INTO clinicbox.acme_challenges (token, hostname, kind, key_authorization, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization", token, host, kind, key_authorization, now)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_challenges(pool: &PgPool, host: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM clinicbox.acme_challenges WHERE hostname = $1",
        host
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The HTTP-01 answer for `token` requested on `host`.
pub async fn http_challenge(
    pool: &PgPool,
    host: &str,
    token: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT key_authorization FROM clinicbox.acme_challenges
          WHERE token = $1 AND hostname = $2 AND kind = 'http-01'",
        token,
        host
    )
    .fetch_optional(pool)
    .await
}

/// The newest TLS-ALPN-01 key authorization for `host`.
pub async fn alpn_challenge(pool: &PgPool, host: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT key_authorization FROM clinicbox.acme_challenges
          WHERE hostname = $1 AND kind = 'tls-alpn-01'
          ORDER BY created_at DESC LIMIT 1",
        host
    )
    .fetch_optional(pool)
    .await
}

pub async fn load_account(
    pool: &PgPool,
    directory: &str,
) -> sqlx::Result<Option<(Vec<u8>, Option<String>)>> {
    sqlx::query!(
        "SELECT credentials_enc, contact FROM clinicbox.acme_account WHERE directory_url = $1",
        directory
    )
    .map(|r| (r.credentials_enc, r.contact))
    .fetch_optional(pool)
    .await
}

/// Forgets the stored account of a directory (the CA no longer knows it).
pub async fn delete_account(pool: &PgPool, directory: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM clinicbox.acme_account WHERE directory_url = $1",
        directory
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn save_account(
    pool: &PgPool,
    directory: &str,
    contact: Option<&str>,
    credentials_enc: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO clinicbox.acme_account (directory_url, contact, credentials_enc, created_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (directory_url) DO UPDATE SET contact = EXCLUDED.contact",
        directory,
        contact,
        credentials_enc,
        now
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn set_account_contact(
    pool: &PgPool,
    directory: &str,
    contact: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE clinicbox.acme_account SET contact = $2 WHERE directory_url = $1",
        directory,
        contact
    )
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_challenge(pool: &PgPool, token: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM clinicbox.acme_challenges WHERE token = $1",
        token
    )
    .execute(pool)
    .await?;
    Ok(())
}
