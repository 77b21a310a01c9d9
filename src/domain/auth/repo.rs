//! SQL for accounts. Clinic staff (`users` in the clinic schema) and operators
//! (`clinicbox.operators`) have the same columns, so one set of queries serves both; the table
//! names come from the fixed [`Accounts`] enum, never from input.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::model::{AccountStatus, Role, TokenScope};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accounts {
    /// Clinic staff; queries run inside the clinic's transaction.
    Staff,
    /// System console operators, in the control schema.
    Operators,
}

impl Accounts {
    fn table(self) -> &'static str {
        match self {
            Self::Staff => "users",
            Self::Operators => "clinicbox.operators",
        }
    }

    fn codes_table(self) -> &'static str {
        match self {
            Self::Staff => "recovery_codes",
            Self::Operators => "clinicbox.operator_recovery_codes",
        }
    }

    fn columns(self) -> &'static str {
        match self {
            Self::Staff => {
                "id, email, display_name, role, password_hash, status, failed_logins, locked_until, \
                 must_change_password, mfa_secret, mfa_pending, mfa_last_step, created_at, last_login_at"
            }
            Self::Operators => {
                "id, email, display_name, NULL::text AS role, password_hash, status, failed_logins, \
                 locked_until, must_change_password, mfa_secret, mfa_pending, mfa_last_step, created_at, \
                 last_login_at"
            }
        }
    }
}

#[derive(Clone, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Option<String>,
    pub password_hash: Option<String>,
    pub status: String,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub must_change_password: bool,
    pub mfa_secret: Option<Vec<u8>>,
    pub mfa_pending: Option<Vec<u8>>,
    pub mfa_last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for AccountRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl AccountRow {
    pub fn role(&self) -> Option<Role> {
        self.role.as_deref().and_then(Role::parse)
    }
    pub fn status(&self) -> AccountStatus {
        AccountStatus::parse(&self.status).unwrap_or(AccountStatus::Disabled)
    }
    pub fn mfa_enabled(&self) -> bool {
        self.mfa_secret.is_some()
    }
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

pub async fn by_email(
    conn: &mut PgConnection,
    kind: Accounts,
    email: &str,
    for_update: bool,
) -> sqlx::Result<Option<AccountRow>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE email = $1{lock}",
        kind.columns(),
        kind.table()
    ))
    .bind(email)
    .fetch_optional(conn)
    .await
}

pub async fn by_id(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    for_update: bool,
) -> sqlx::Result<Option<AccountRow>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE id = $1{lock}",
        kind.columns(),
        kind.table()
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn list(conn: &mut PgConnection, kind: Accounts) -> sqlx::Result<Vec<AccountRow>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM {} ORDER BY lower(display_name), id",
        kind.columns(),
        kind.table()
    ))
    .fetch_all(conn)
    .await
}

pub async fn count(conn: &mut PgConnection, kind: Accounts) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {}", kind.table()))
        .fetch_one(conn)
        .await
}

pub async fn insert(
    conn: &mut PgConnection,
    kind: Accounts,
    email: &str,
    display_name: &str,
    role: Option<Role>,
    password_hash: &str,
    must_change_password: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<AccountRow> {
    let sql = match kind {
        Accounts::Staff => format!(
            "INSERT INTO users (email, display_name, role, password_hash, must_change_password, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {}",
            kind.columns()
        ),
        Accounts::Operators => format!(
            "INSERT INTO clinicbox.operators (email, display_name, password_hash, must_change_password, created_at, updated_at)
             VALUES ($1, $2, $4, $5, $6, $6) RETURNING {}",
            kind.columns()
        ),
    };
    sqlx::query_as(&sql)
        .bind(email)
        .bind(display_name)
        .bind(role.map(Role::as_str))
        .bind(password_hash)
        .bind(must_change_password)
        .bind(now)
        .fetch_one(conn)
        .await
}

pub async fn record_failure(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    failed: i32,
    locked_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {} SET failed_logins = $2, locked_until = coalesce($3, locked_until), updated_at = $4 WHERE id = $1",
        kind.table()
    ))
    .bind(id)
    .bind(failed)
    .bind(locked_until)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn record_success(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {} SET failed_logins = 0, locked_until = NULL, last_login_at = $2, updated_at = $2 WHERE id = $1",
        kind.table()
    ))
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn unlock(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(&format!(
        "UPDATE {} SET failed_logins = 0, locked_until = NULL, updated_at = $2 WHERE id = $1",
        kind.table()
    ))
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn set_password(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    hash: &str,
    must_change: bool,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {} SET password_hash = $2, must_change_password = $3, failed_logins = 0,
                locked_until = NULL, updated_at = $4 WHERE id = $1",
        kind.table()
    ))
    .bind(id)
    .bind(hash)
    .bind(must_change)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_mfa_pending(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    sealed: Option<&[u8]>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {} SET mfa_pending = $2, updated_at = $3 WHERE id = $1",
        kind.table()
    ))
    .bind(id)
    .bind(sealed)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets (or with `None`, removes) the confirmed second factor.
pub async fn set_mfa(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    sealed: Option<&[u8]>,
    last_step: Option<i64>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "UPDATE {} SET mfa_secret = $2, mfa_pending = NULL, mfa_last_step = $3, updated_at = $4 WHERE id = $1",
        kind.table()
    ))
    .bind(id)
    .bind(sealed)
    .bind(last_step)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if sealed.is_none() {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE account_id = $1",
            kind.codes_table()
        ))
        .bind(id)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Records the accepted step; `false` if a newer or equal step was already used (replay).
pub async fn advance_mfa_step(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    step: i64,
) -> sqlx::Result<bool> {
    let n = sqlx::query(&format!(
        "UPDATE {} SET mfa_last_step = $2 WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
        kind.table()
    ))
    .bind(id)
    .bind(step)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn replace_recovery_codes(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    hashes: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "DELETE FROM {} WHERE account_id = $1",
        kind.codes_table()
    ))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO {} (account_id, code_hash) SELECT $1, unnest($2::bytea[])",
        kind.codes_table()
    ))
    .bind(id)
    .bind(hashes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks an unused recovery code as used; `false` if there is none with that hash.
pub async fn use_recovery_code(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    hash: &[u8],
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(&format!(
        "UPDATE {} SET used_at = $3 WHERE id = (
             SELECT id FROM {} WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL
             LIMIT 1 FOR UPDATE)",
        kind.codes_table(),
        kind.codes_table()
    ))
    .bind(id)
    .bind(hash)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn unused_recovery_codes(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {} WHERE account_id = $1 AND used_at IS NULL",
        kind.codes_table()
    ))
    .bind(id)
    .fetch_one(conn)
    .await
}

/// Staff only.
pub async fn update_staff(
    conn: &mut PgConnection,
    id: i64,
    display_name: &str,
    role: Role,
    status: AccountStatus,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET display_name = $2, role = $3, status = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(display_name)
    .bind(role.as_str())
    .bind(status.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn active_admins(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE role = 'clinic_admin' AND status = 'active'",
    )
    .fetch_one(conn)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub fn scope(&self) -> TokenScope {
        TokenScope::parse(&self.scope).unwrap_or(TokenScope::Read)
    }
}

const TOKEN_COLUMNS: &str =
    "id, user_id, name, prefix, scope, created_at, expires_at, last_used_at, revoked_at";

pub async fn insert_token(
    conn: &mut PgConnection,
    user_id: i64,
    name: &str,
    hash: &[u8],
    prefix: &str,
    scope: TokenScope,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<TokenRow> {
    sqlx::query_as(&format!(
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scope, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
    ))
    .bind(user_id)
    .bind(name)
    .bind(hash)
    .bind(prefix)
    .bind(scope.as_str())
    .bind(now)
    .bind(expires_at)
    .fetch_one(conn)
    .await
}

pub async fn tokens_of(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<Vec<TokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id)
    .fetch_all(conn)
    .await
}

pub async fn revoke_token(
    conn: &mut PgConnection,
    user_id: i64,
    token_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(token_id)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn token_by_hash(conn: &mut PgConnection, hash: &[u8]) -> sqlx::Result<Option<TokenRow>> {
    sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(conn)
    .await
}

/// `last_used_at` at most once a minute, so reads do not write on every request.
pub async fn touch_token(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $2
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - interval '1 minute')",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends every session of an account: staff of `tenant`, or an operator when `tenant` is None.
pub async fn end_sessions_of(
    pool: &sqlx::PgPool,
    tenant: Option<i64>,
    account: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM clinicbox.sessions WHERE tenant_id IS NOT DISTINCT FROM $1 AND account_id = $2",
    )
    .bind(tenant)
    .bind(account)
    .execute(pool)
    .await?
    .rows_affected())
}
