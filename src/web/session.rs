//! Browser sessions: tower-sessions with a PostgreSQL store in the control schema.
//!
//! The store keeps only a SHA-256 of each session id, and copies the clinic and account out of
//! the session data into columns, so that every session of an account can be ended at once
//! (logout, password reset, role change, disabling). Idle and absolute timeouts are enforced
//! with the injected clock by `web::auth`; the store's own expiry is only a cleanup horizon.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer, cookie::SameSite};

/// Key of our state inside the session record.
const KEY: &str = "cbx";

/// Rows live at most this long after their last save, whatever the clinic's settings.
const STORE_HORIZON_HOURS: i64 = 25;

/// What a browser session holds. Times are unix seconds from the injected clock.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionState {
    /// The clinic this session belongs to; `None` for the console.
    pub tenant: Option<i64>,
    /// The signed-in account (staff user or operator).
    pub account: Option<i64>,
    /// The host the account signed in on: the session is valid there only.
    #[serde(default)]
    pub host: Option<String>,
    pub auth_at: Option<i64>,
    pub seen_at: Option<i64>,
    /// Per-session CSRF token for forms and htmx requests.
    pub csrf: String,
    /// Password accepted, second factor outstanding.
    pub mfa_pending: Option<i64>,
    pub mfa_started: Option<i64>,
    /// A one-line message shown on the next page.
    pub flash: Option<String>,
}

pub fn new_csrf() -> String {
    hex::encode(crate::ops::secrets::random_bytes::<24>().unwrap_or_default())
}

pub async fn load(session: &Session) -> Option<SessionState> {
    session.get::<SessionState>(KEY).await.ok().flatten()
}

pub async fn store(session: &Session, state: &SessionState) -> Result<(), session_store::Error> {
    session
        .insert(KEY, state)
        .await
        .map_err(|e| session_store::Error::Backend(e.to_string()))
}

#[derive(Debug, Clone)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Removes rows past their horizon; run periodically.
    pub async fn delete_expired(&self) -> sqlx::Result<u64> {
        Ok(
            sqlx::query!("DELETE FROM clinicbox.sessions WHERE expires_at < now()")
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}

fn key(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn columns(record: &Record) -> (Option<i64>, Option<i64>, serde_json::Value) {
    let state: Option<SessionState> = record
        .data
        .get(KEY)
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let data = serde_json::to_value(&record.data).unwrap_or_default();
    match state {
        Some(s) => (s.tenant, s.account, data),
        None => (None, None, data),
    }
}

/// Writes a session row; `$conflict` (a string literal) says what happens when the id exists.
macro_rules! upsert_session {
    ($pool:expr, $record:expr, $conflict:tt) => {{
        let (tenant, account, data) = columns($record);
        sqlx::query!(
            "INSERT INTO clinicbox.sessions (id, tenant_id, account_id, data, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(hours => $5)) "
                + $conflict,
            key(&$record.id),
            tenant,
            account,
            data,
            STORE_HORIZON_HOURS as i32
        )
        .execute($pool)
        .await
        .map_err(backend)
    }};
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let inserted =
                upsert_session!(&self.pool, record, "ON CONFLICT (id) DO NOTHING")?.rows_affected();
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        upsert_session!(
            &self.pool,
            record,
            "ON CONFLICT (id) DO UPDATE SET tenant_id = EXCLUDED.tenant_id,
                 account_id = EXCLUDED.account_id, data = EXCLUDED.data,
                 expires_at = EXCLUDED.expires_at"
        )?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(serde_json::Value,)> = sqlx::query!(
            "SELECT data FROM clinicbox.sessions WHERE id = $1 AND expires_at > now()",
            key(id)
        )
        .map(|r| (r.data,))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.and_then(|(data,)| {
            let data: HashMap<String, serde_json::Value> = serde_json::from_value(data).ok()?;
            Some(Record {
                id: *id,
                data,
                expiry_date: time::OffsetDateTime::now_utc()
                    + time::Duration::hours(STORE_HORIZON_HOURS),
            })
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("DELETE FROM clinicbox.sessions WHERE id = $1", key(id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

pub use crate::domain::auth::repo::end_sessions_of;

/// Host-only cookie, HttpOnly, SameSite=Lax; over HTTPS also Secure with the `__Host-` prefix.
/// No Max-Age: the cookie ends with the browser session.
pub fn layer(pool: PgPool, https: bool) -> SessionManagerLayer<PgSessionStore> {
    let name = if https {
        "__Host-clinicbox"
    } else {
        "clinicbox"
    };
    SessionManagerLayer::new(PgSessionStore::new(pool))
        .with_name(name)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnSessionEnd)
}
