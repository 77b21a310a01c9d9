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

/// One query per kind of account, each checked at compile time: `$head` + the table + `$tail`
/// (string literals), run with `$fetch` on `$conn`.
macro_rules! per_kind {
    ($kind:expr, [$staff:tt, $operators:tt], $conn:expr, $fetch:ident,
     $m:ident!($($ty:ident,)? $head:tt, $tail:tt $(, $arg:expr)* $(,)?)) => {
        match $kind {
            Accounts::Staff => sqlx::$m!($($ty,)? $head + $staff + $tail $(, $arg)*).$fetch($conn).await,
            Accounts::Operators => sqlx::$m!($($ty,)? $head + $operators + $tail $(, $arg)*).$fetch($conn).await,
        }
    };
}

/// [`per_kind`] on the accounts table.
macro_rules! on_accounts {
    ($kind:expr, $($rest:tt)*) => { per_kind!($kind, ["users", "clinicbox.operators"], $($rest)*) };
}

/// `UPDATE <accounts table>` + `$set` (a string literal), executed.
macro_rules! update_accounts {
    ($kind:expr, $conn:expr, $set:tt $(, $arg:expr)* $(,)?) => {
        on_accounts!($kind, $conn, execute, query!("UPDATE ", $set $(, $arg)*))
    };
}

/// [`per_kind`] on the recovery codes table.
macro_rules! on_codes {
    ($kind:expr, $($rest:tt)*) => {
        per_kind!($kind, ["recovery_codes", "clinicbox.operator_recovery_codes"], $($rest)*)
    };
}

/// Account rows (`$tail` is what follows the table: WHERE, ORDER BY…). Operators have no role.
macro_rules! account_rows {
    ($kind:expr, $conn:expr, $fetch:ident, $tail:tt $(, $arg:expr)* $(,)?) => {
        match $kind {
            Accounts::Staff => sqlx::query_as!(
                AccountRow,
                "SELECT id, email, display_name, role, password_hash, status, failed_logins,
                        locked_until, must_change_password, mfa_secret, mfa_pending, mfa_last_step,
                        created_at, last_login_at
                   FROM users " + $tail $(, $arg)*
            ).$fetch($conn).await,
            Accounts::Operators => sqlx::query_as!(
                AccountRow,
                "SELECT id, email, display_name, NULL::text AS role, password_hash, status,
                        failed_logins, locked_until, must_change_password, mfa_secret, mfa_pending,
                        mfa_last_step, created_at, last_login_at
                   FROM clinicbox.operators " + $tail $(, $arg)*
            ).$fetch($conn).await,
        }
    };
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
    if for_update {
        account_rows!(
            kind,
            conn,
            fetch_optional,
            "WHERE email = $1 FOR UPDATE",
            email
        )
    } else {
        account_rows!(kind, conn, fetch_optional, "WHERE email = $1", email)
    }
}

pub async fn by_id(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    for_update: bool,
) -> sqlx::Result<Option<AccountRow>> {
    if for_update {
        account_rows!(kind, conn, fetch_optional, "WHERE id = $1 FOR UPDATE", id)
    } else {
        account_rows!(kind, conn, fetch_optional, "WHERE id = $1", id)
    }
}

pub async fn list(conn: &mut PgConnection, kind: Accounts) -> sqlx::Result<Vec<AccountRow>> {
    account_rows!(kind, conn, fetch_all, "ORDER BY lower(display_name), id")
}

pub async fn count(conn: &mut PgConnection, kind: Accounts) -> sqlx::Result<i64> {
    on_accounts!(
        kind,
        conn,
        fetch_one,
        query_scalar!(r#"SELECT count(*) AS "n!" FROM "#, "")
    )
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
    let id = match kind {
        Accounts::Staff => {
            sqlx::query_scalar!(
                "INSERT INTO users (email, display_name, role, password_hash, must_change_password,
                                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                email,
                display_name,
                role.map(Role::as_str),
                password_hash,
                must_change_password,
                now
            )
            .fetch_one(&mut *conn)
            .await?
        }
        Accounts::Operators => {
            sqlx::query_scalar!(
                "INSERT INTO clinicbox.operators (email, display_name, password_hash,
                                              must_change_password, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                email,
                display_name,
                password_hash,
                must_change_password,
                now
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };
    by_id(conn, kind, id, false)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

pub async fn record_failure(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    failed: i32,
    locked_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    update_accounts!(
        kind,
        conn,
        " SET failed_logins = $2, locked_until = coalesce($3, locked_until), updated_at = $4 WHERE id = $1",
        id,
        failed,
        locked_until,
        now
    )?;
    Ok(())
}

pub async fn record_success(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    update_accounts!(
        kind,
        conn,
        " SET failed_logins = 0, locked_until = NULL, last_login_at = $2, updated_at = $2 WHERE id = $1",
        id,
        now
    )?;
    Ok(())
}

pub async fn unlock(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = update_accounts!(
        kind,
        conn,
        " SET failed_logins = 0, locked_until = NULL, updated_at = $2 WHERE id = $1",
        id,
        now
    )?
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
    update_accounts!(
        kind,
        conn,
        " SET password_hash = $2, must_change_password = $3, failed_logins = 0,
                locked_until = NULL, updated_at = $4 WHERE id = $1",
        id,
        hash,
        must_change,
        now
    )?;
    Ok(())
}

pub async fn set_mfa_pending(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    sealed: Option<&[u8]>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    update_accounts!(
        kind,
        conn,
        " SET mfa_pending = $2, updated_at = $3 WHERE id = $1",
        id,
        sealed,
        now
    )?;
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
    update_accounts!(
        kind,
        &mut *conn,
        " SET mfa_secret = $2, mfa_pending = NULL, mfa_last_step = $3, updated_at = $4 WHERE id = $1",
        id,
        sealed,
        last_step,
        now
    )?;
    if sealed.is_none() {
        on_codes!(
            kind,
            conn,
            execute,
            query!("DELETE FROM ", " WHERE account_id = $1", id)
        )?;
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
    let n = update_accounts!(
        kind,
        conn,
        " SET mfa_last_step = $2 WHERE id = $1 AND (mfa_last_step IS NULL OR mfa_last_step < $2)",
        id,
        step
    )?
    .rows_affected();
    Ok(n == 1)
}

pub async fn replace_recovery_codes(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
    hashes: &[Vec<u8>],
) -> sqlx::Result<()> {
    on_codes!(
        kind,
        &mut *conn,
        execute,
        query!("DELETE FROM ", " WHERE account_id = $1", id)
    )?;
    on_codes!(
        kind,
        conn,
        execute,
        query!(
            "INSERT INTO ",
            " (account_id, code_hash) SELECT $1, unnest($2::bytea[])",
            id,
            hashes
        )
    )?;
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
    // A code is random, so its hash is on one row at most; every matching unused row is used up.
    let n = on_codes!(
        kind,
        conn,
        execute,
        query!(
            "UPDATE ",
            " SET used_at = $3 WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL",
            id,
            hash,
            now
        )
    )?
    .rows_affected();
    Ok(n >= 1)
}

pub async fn unused_recovery_codes(
    conn: &mut PgConnection,
    kind: Accounts,
    id: i64,
) -> sqlx::Result<i64> {
    on_codes!(
        kind,
        conn,
        fetch_one,
        query_scalar!(
            r#"SELECT count(*) AS "n!" FROM "#,
            " WHERE account_id = $1 AND used_at IS NULL",
            id
        )
    )
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
    sqlx::query!(
        "UPDATE users SET display_name = $2, role = $3, status = $4, updated_at = $5 WHERE id = $1",
        id,
        display_name,
        role.as_str(),
        status.as_str(),
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn active_admins(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "v!" FROM users WHERE role = 'clinic_admin' AND status = 'active'"#
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

/// Token rows: `$head` + the columns + `$tail` (string literals).
macro_rules! token_rows {
    ($conn:expr, $fetch:ident, $head:tt, $tail:tt $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            TokenRow,
            $head + "id, user_id, name, prefix, scope, created_at, expires_at, last_used_at,
                     revoked_at" + $tail $(, $arg)*
        )
        .$fetch($conn)
        .await
    };
}

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
    token_rows!(
        conn,
        fetch_one,
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, scope, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
        "",
        user_id,
        name,
        hash,
        prefix,
        scope.as_str(),
        now,
        expires_at
    )
}

pub async fn tokens_of(conn: &mut PgConnection, user_id: i64) -> sqlx::Result<Vec<TokenRow>> {
    token_rows!(
        conn,
        fetch_all,
        "SELECT ",
        " FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
        user_id
    )
}

pub async fn revoke_token(
    conn: &mut PgConnection,
    user_id: i64,
    token_id: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let n = sqlx::query!("UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL", token_id, user_id, now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn token_by_hash(conn: &mut PgConnection, hash: &[u8]) -> sqlx::Result<Option<TokenRow>> {
    token_rows!(
        conn,
        fetch_optional,
        "SELECT ",
        " FROM api_tokens WHERE token_hash = $1",
        hash
    )
}

/// `last_used_at` at most once a minute, so reads do not write on every request.
pub async fn touch_token(conn: &mut PgConnection, id: i64, now: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE api_tokens SET last_used_at = $2
          WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')",
        id,
        now
    )
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
    Ok(sqlx::query!("DELETE FROM clinicbox.sessions WHERE tenant_id IS NOT DISTINCT FROM $1 AND account_id = $2", tenant, account)
    .execute(pool)
    .await?
    .rows_affected())
}

/// A staff account's role as stored (`None`: no such account).
pub async fn role_of(conn: &mut PgConnection, user: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT role FROM users WHERE id = $1", user)
        .fetch_optional(conn)
        .await
}
