//! The installation's units of work (see `domain::clinic` for a clinic's): an operator or the
//! system changes installation settings or accounts, in a control-plane transaction that
//! commits with exactly one event in the system audit log.

use sqlx::{PgPool, Postgres, Transaction};

use crate::db::Db;
use crate::db::migrate::Migrations;
use crate::domain::audit::{self, Actor, Context, Event, Outcome, action};
use crate::domain::auth::model::{Email, Role, parse_display_name};
use crate::domain::auth::repo::{AccountRow, Accounts};
use crate::domain::auth::service::{self, AccountError};
use crate::domain::scheduling::defaults::{Seeded, seed_new_clinic};
use crate::domain::settings::plan::Limits as PlanLimits;
use crate::domain::settings::{Hsts, RateLimits};
use crate::domain::tenants::{
    self, DisplayName, HostRules, Hostname, NewTenant, Slug, Tenant, TenantError, TenantStatus,
};
use crate::domain::validation::Errors;
use crate::ops::backup::BackupSettings;

/// Who acts on the installation, from where and when.
#[derive(Clone, Debug)]
pub struct Console {
    pool: PgPool,
    actor: Actor,
    ctx: Context,
}

impl Console {
    pub fn new(pool: PgPool, actor: Actor, ctx: Context) -> Self {
        Self { pool, actor, ctx }
    }

    async fn begin(&self) -> sqlx::Result<SystemUnit<'_>> {
        Ok(SystemUnit {
            tx: crate::db::begin(&self.pool).await?,
            console: self,
        })
    }
}

/// A control-plane transaction owing one system audit event.
struct SystemUnit<'c> {
    tx: Transaction<'static, Postgres>,
    console: &'c Console,
}

impl SystemUnit<'_> {
    fn event(&self, action: &'static str) -> Event {
        Event::new(action, self.console.actor)
    }

    /// Writes the event `action` about operator `id`, done from the command line, and commits.
    async fn operator_changed_from_cli(self, action: &'static str, id: i64) -> sqlx::Result<()> {
        let ev = self
            .event(action)
            .resource("operator", id)
            .details(serde_json::json!({ "via": "cli" }));
        self.audit_and_commit(ev, None).await
    }

    /// Writes `ev` (about clinic `tenant`, if any) and commits.
    async fn audit_and_commit(mut self, ev: Event, tenant: Option<i64>) -> sqlx::Result<()> {
        audit::record_system(&mut self.tx, &self.console.ctx, ev, tenant).await?;
        self.tx.commit().await
    }
}

async fn save_setting(
    c: &Console,
    what: &'static str,
    before: serde_json::Value,
    after: serde_json::Value,
    save: impl for<'t> AsyncFnOnce(&'t mut sqlx::PgConnection) -> sqlx::Result<()>,
) -> sqlx::Result<()> {
    let mut u = c.begin().await?;
    save(&mut u.tx).await?;
    let ev = u
        .event(action::SETTINGS_UPDATED)
        .resource("settings", what)
        .details(serde_json::json!({ "before": before, "after": after }));
    u.audit_and_commit(ev, None).await
}

/// The sign-in and API rate limits (`before`: what applied until now).
pub async fn save_rate_limits(
    c: &Console,
    before: &RateLimits,
    after: &RateLimits,
) -> sqlx::Result<()> {
    let (b, a) = (serde_json::json!(before), serde_json::json!(after));
    save_setting(c, "rate_limits", b, a, async |conn| {
        after.save(conn, c.ctx.at).await
    })
    .await
}

pub async fn save_hsts(c: &Console, before: &Hsts, after: &Hsts) -> sqlx::Result<()> {
    let (b, a) = (serde_json::json!(before), serde_json::json!(after));
    save_setting(c, "hsts", b, a, async |conn| {
        after.save(conn, c.ctx.at).await
    })
    .await
}

/// Backup settings; `describe` says what the audit row may show (never a key or passphrase).
pub async fn save_backup_settings(
    c: &Console,
    before: &BackupSettings,
    after: &BackupSettings,
    describe: impl Fn(&BackupSettings) -> serde_json::Value,
) -> sqlx::Result<()> {
    let (b, a) = (describe(before), describe(after));
    save_setting(c, "backup", b, a, async |conn| {
        after.save(conn, c.ctx.at).await
    })
    .await
}

/// Records a check of every audit chain (what the compliance page shows) with its event.
pub async fn record_chains_verified(
    c: &Console,
    v: &crate::ops::compliance::ChainsVerified,
) -> sqlx::Result<()> {
    let mut u = c.begin().await?;
    crate::ops::compliance::CHAINS_VERIFIED
        .set(&mut u.tx, v, c.ctx.at)
        .await?;
    let ev = u
        .event(action::AUDIT_VERIFIED)
        .outcome(if v.broken.is_empty() {
            Outcome::Success
        } else {
            Outcome::Failure
        })
        .resource("audit", "all")
        .details(serde_json::json!({ "logs": v.logs, "rows": v.rows, "broken": v.broken }));
    u.audit_and_commit(ev, None).await
}

/// Asks for certificates of `host` to be renewed now; returns the hosts marked.
pub async fn request_renewal(c: &Console, host: &str) -> sqlx::Result<Vec<String>> {
    let u = c.begin().await?;
    let marked = crate::tls::repo::request_renewal(&c.pool, Some(host), c.ctx.at).await?;
    let ev = u
        .event(action::CERT_RENEW)
        .resource("host", host)
        .details(serde_json::json!({ "via": "console", "hosts": marked }));
    u.audit_and_commit(ev, None).await?;
    Ok(marked)
}

/// A console session that belongs elsewhere (a clinic's, or made on another host) was refused.
pub async fn refuse_session(c: &Console, reason: &str, tenant: Option<i64>) -> sqlx::Result<()> {
    let u = c.begin().await?;
    let ev = u
        .event(action::SESSION_REFUSED)
        .outcome(Outcome::Denied)
        .details(serde_json::json!({ "reason": reason }));
    u.audit_and_commit(ev, tenant).await
}

/// The first operator, from a one-time setup link.
pub enum FirstOperator {
    /// No such link (used, expired or never made).
    NoLink,
    Created(AccountRow),
    /// The account was refused (email, name, password); the link stays usable.
    Refused(AccountError),
    /// The link is valid and was left usable (no input given).
    LinkValid,
}

/// Creates the first operator with the link `token` (which is then used up). Without `input`
/// (the form had errors of its own) only the link is checked and stays usable; a refusal also
/// leaves it usable.
pub async fn create_first_operator(
    c: &Console,
    token: &str,
    input: Option<(&str, &str, &str)>,
) -> Result<FirstOperator, AccountError> {
    let mut u = c.begin().await?;
    if !crate::domain::auth::setup::consume(&mut u.tx, token, c.ctx.at).await? {
        return Ok(FirstOperator::NoLink);
    }
    let Some((email, name, password)) = input else {
        u.tx.rollback().await?;
        return Ok(FirstOperator::LinkValid);
    };
    let acc = match new_operator(&mut u.tx, email, name, password, c.ctx.at).await {
        Ok(acc) => acc,
        Err(e @ (AccountError::Email(_) | AccountError::Name(_) | AccountError::Password(_))) => {
            u.tx.rollback().await?;
            return Ok(FirstOperator::Refused(e));
        }
        Err(e) => return Err(e),
    };
    let ev = Event::new(action::OPERATOR_CREATED, Actor::Operator(acc.id))
        .resource("operator", acc.id)
        .details(serde_json::json!({ "via": "setup_link" }));
    u.audit_and_commit(ev, None).await?;
    Ok(FirstOperator::Created(acc))
}

/// An operator account with the password chosen (checked against the policy).
async fn new_operator(
    tx: &mut sqlx::PgConnection,
    email: &str,
    name: &str,
    password: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<AccountRow, AccountError> {
    let (acc, _) = service::create_account(
        tx,
        Accounts::Operators,
        email,
        name,
        None,
        Some(password),
        &[],
        at,
    )
    .await?;
    Ok(acc)
}

/// Loads or replaces a diagnosis code set (the command line), with a system audit event.
pub async fn import_codes(
    c: &Console,
    system: &str,
    name: &str,
    data: &[u8],
) -> Result<usize, crate::domain::codes::ImportError> {
    let mut u = c.begin().await?;
    let n = crate::domain::codes::load(&mut u.tx, system, name, data, c.ctx.at).await?;
    let ev = u
        .event(action::CODES_IMPORTED)
        .resource("code_system", system)
        .details(serde_json::json!({ "codes": n, "via": "cli" }));
    u.audit_and_commit(ev, None).await?;
    Ok(n)
}

/// Adds an operator (the command line); `name` defaults to the email's local part upstream.
pub async fn add_operator(
    c: &Console,
    email: &str,
    name: &str,
    password: &str,
) -> Result<AccountRow, AccountError> {
    let mut u = c.begin().await?;
    let acc = new_operator(&mut u.tx, email, name, password, c.ctx.at).await?;
    u.operator_changed_from_cli(action::OPERATOR_CREATED, acc.id)
        .await?;
    Ok(acc)
}

/// Sets an operator's password (the command line); `None` if there is no such operator. The
/// caller ends the operator's sessions.
pub async fn reset_operator_password(
    c: &Console,
    email: &str,
    password: &str,
) -> Result<Option<AccountRow>, AccountError> {
    let mut u = c.begin().await?;
    let Some(acc) =
        crate::domain::auth::repo::by_email(&mut u.tx, Accounts::Operators, email, true).await?
    else {
        u.tx.rollback().await?;
        return Ok(None);
    };
    service::set_password(
        &mut u.tx,
        Accounts::Operators,
        acc.id,
        password,
        &[],
        c.ctx.at,
    )
    .await?;
    u.operator_changed_from_cli(action::USER_PASSWORD_RESET, acc.id)
        .await?;
    Ok(Some(acc))
}

// ---- clinics ----

/// What an operator types to create a clinic.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct NewClinicForm {
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: String,
    /// The clinic's own domains, separated by spaces, commas or lines (`<slug>.<base>` is
    /// always added).
    #[serde(default)]
    pub hosts: String,
    #[serde(default)]
    pub admin_email: String,
    #[serde(default)]
    pub admin_name: String,
}

/// A clinic just created, with its first admin's one-time password (shown once, changed at
/// the first sign-in).
pub struct CreatedClinic {
    pub tenant: Tenant,
    pub admin_email: String,
    pub temp_password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClinicError {
    /// Field messages: message keys, or sentences for names the rules refuse.
    #[error("{0:?}")]
    Invalid(Errors),
    #[error(transparent)]
    Tenant(TenantError),
    #[error(transparent)]
    Account(AccountError),
}

impl From<sqlx::Error> for ClinicError {
    fn from(e: sqlx::Error) -> Self {
        Self::Tenant(TenantError::Sql(e))
    }
}

/// The operator acting inside clinic `t` (its units of work, its audit log).
pub fn in_clinic(c: &Console, db: &Db, t: &Tenant) -> crate::domain::clinic::Clinic {
    crate::domain::clinic::Clinic::new(db.pool.clone(), t.db.clone(), c.actor, c.ctx.clone())
        .via("console")
        .named(&t.display_name, t.slug.as_str())
}

/// Creates a clinic (role, schema, migrations, hosts) and gives it what booking needs on day
/// one (`scheduling::defaults`). The command line's `tenant create` and the console share it.
pub async fn provision_clinic(
    db: &Db,
    migs: &Migrations,
    rules: &HostRules,
    new: NewTenant,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(Tenant, Seeded), TenantError> {
    let t = tenants::create(db, migs, rules, new, now).await?;
    let seeded = seed_new_clinic(&db.pool, &t).await?;
    Ok((t, seeded))
}

/// The console's "create a clinic": checks every field first (each message next to its
/// field, nothing created), then provisions the clinic, adds its first clinic admin with a
/// one-time password, and writes one system audit event.
pub async fn create_clinic(
    c: &Console,
    db: &Db,
    migs: &Migrations,
    rules: &HostRules,
    f: &NewClinicForm,
) -> Result<CreatedClinic, ClinicError> {
    let mut e = Errors::new();
    let slug = Slug::parse(f.slug.trim())
        .map_err(|_| e.add("slug", "invalid.clinic_slug"))
        .ok();
    // `/clinics/new` is the console's form: a clinic of that name could not have its page.
    let slug = slug.filter(|s| {
        let free = s.as_str() != "new";
        if !free {
            e.add("slug", "invalid.clinic_slug_reserved");
        }
        free
    });
    let name = DisplayName::parse(&f.name)
        .map_err(|_| e.add("name", "invalid.tenant_name"))
        .ok();
    let mut hosts = Vec::new();
    for h in f
        .hosts
        .split(|ch: char| ch == ',' || ch.is_whitespace())
        .filter(|h| !h.is_empty())
    {
        match Hostname::parse(h) {
            Ok(h) => hosts.push(h),
            Err(err) => e.add(
                "hosts",
                crate::i18n::msg("invalid.clinic_host", &[("why", &err)]),
            ),
        }
    }
    if hosts.len() > 20 {
        e.add("hosts", "invalid.too_many_hosts");
    }
    if let Err(k) = Email::parse(&f.admin_email) {
        e.add("admin_email", k);
    }
    if let Err(k) = parse_display_name(&f.admin_name) {
        e.add("admin_name", k);
    }
    let (Some(slug), Some(name)) = (slug, name) else {
        return Err(ClinicError::Invalid(e));
    };
    if !e.is_empty() {
        return Err(ClinicError::Invalid(e));
    }
    let new = NewTenant { slug, name, hosts };
    let (t, _) = match provision_clinic(db, migs, rules, new, c.ctx.at).await {
        Ok(t) => t,
        Err(TenantError::SlugTaken(_)) => {
            return Err(ClinicError::Invalid(Errors::with(
                "slug",
                "invalid.clinic_slug_taken",
            )));
        }
        Err(TenantError::RoleExists(role)) => {
            let m = crate::i18n::msg("invalid.clinic_role_exists", &[("role", &role)]);
            return Err(ClinicError::Invalid(Errors::with("slug", m)));
        }
        Err(err) => return Err(host_refused(err, "hosts")),
    };
    let clinic = in_clinic(c, db, &t);
    let (admin, temp) = crate::domain::auth::work::create_staff(
        &clinic,
        &f.admin_email,
        &f.admin_name,
        Role::ClinicAdmin,
        None,
    )
    .await
    .map_err(ClinicError::Account)?;
    let temp_password = temp.ok_or_else(|| {
        ClinicError::Account(AccountError::Other(anyhow::anyhow!(
            "no one-time password was made for the first admin"
        )))
    })?;
    let u = c.begin().await?;
    let ev = u
        .event(action::TENANT_CREATED)
        .resource("tenant", t.id)
        .details(serde_json::json!({ "slug": t.slug, "via": "console", "admin": admin.id }));
    u.audit_and_commit(ev, Some(t.id)).await?;
    Ok(CreatedClinic {
        tenant: t,
        admin_email: admin.email,
        temp_password,
    })
}

/// Suspends or resumes a clinic: a suspended clinic's hosts show its staff a page saying so
/// and serve no data; nothing in it changes.
pub async fn set_clinic_status(
    c: &Console,
    slug: &str,
    status: TenantStatus,
) -> Result<Tenant, ClinicError> {
    let slug = Slug::parse(slug)
        .map_err(|_| ClinicError::Tenant(TenantError::NotFound(slug.chars().take(40).collect())))?;
    let mut u = c.begin().await?;
    let t = tenants::set_status_in(&mut u.tx, &slug, status, c.ctx.at)
        .await
        .map_err(ClinicError::Tenant)?;
    let ev = u
        .event(action::TENANT_STATUS)
        .resource("tenant", t.id)
        .details(serde_json::json!({ "status": status.as_str(), "via": "console" }));
    u.audit_and_commit(ev, Some(t.id)).await?;
    Ok(t)
}

/// A hostname the rules refuse, as the message next to `field`; any other error as it is.
fn host_refused(e: TenantError, field: &'static str) -> ClinicError {
    let m = match e {
        TenantError::HostTaken { host, owner } => crate::i18n::msg(
            "invalid.clinic_host_taken",
            &[("host", &host), ("owner", &owner)],
        ),
        TenantError::HostReserved { host, why } => crate::i18n::msg(
            "invalid.clinic_host_reserved",
            &[("host", &host), ("why", &why)],
        ),
        other => return ClinicError::Tenant(other),
    };
    ClinicError::Invalid(Errors::with(field, m))
}

/// Adds one of the clinic's own domains (`host` as typed), with its audit event. Its
/// certificate is ordered by the TLS task, which the new row wakes.
pub async fn add_clinic_host(
    c: &Console,
    rules: &HostRules,
    t: &Tenant,
    host: &str,
) -> Result<Hostname, ClinicError> {
    let name = Hostname::parse(host.trim()).map_err(|err| {
        ClinicError::Invalid(Errors::with(
            "host",
            crate::i18n::msg("invalid.clinic_host", &[("why", &err)]),
        ))
    })?;
    let mut u = c.begin().await?;
    tenants::add_host_in(&mut u.tx, rules, t, &name)
        .await
        .map_err(|e| host_refused(e, "host"))?;
    let ev = u
        .event(action::TENANT_HOST_ADDED)
        .resource("tenant", t.id)
        .details(serde_json::json!({ "host": name.as_str(), "via": "console" }));
    u.audit_and_commit(ev, Some(t.id)).await?;
    Ok(name)
}

/// Removes one of the clinic's own domains, with its audit event; whether it was there.
pub async fn remove_clinic_host(c: &Console, t: &Tenant, host: &str) -> Result<bool, ClinicError> {
    let mut u = c.begin().await?;
    let gone = tenants::remove_host_in(&mut u.tx, t, host)
        .await
        .map_err(ClinicError::Tenant)?;
    if !gone {
        return Ok(false);
    }
    let ev = u
        .event(action::TENANT_HOST_REMOVED)
        .resource("tenant", t.id)
        .details(serde_json::json!({ "host": host, "via": "console" }));
    u.audit_and_commit(ev, Some(t.id)).await?;
    Ok(true)
}

/// Deletes a clinic once the operator has typed its slug again: its schema is dumped to
/// `<data_dir>/deleted/` first, and nothing is dropped unless that dump was written. Returns
/// the dump's path.
pub async fn delete_clinic(
    c: &Console,
    db: &Db,
    db_url: &crate::config::DatabaseUrl,
    data_dir: &std::path::Path,
    slug: &str,
    confirm: &str,
) -> Result<std::path::PathBuf, ClinicError> {
    let slug = Slug::parse(slug)
        .map_err(|_| ClinicError::Tenant(TenantError::NotFound(slug.chars().take(40).collect())))?;
    let t = tenants::find(db, &slug)
        .await
        .map_err(ClinicError::Tenant)?;
    if confirm.trim() != slug.as_str() {
        return Err(ClinicError::Invalid(Errors::with(
            "confirm",
            "invalid.delete_confirm",
        )));
    }
    let dump = tenants::delete(db, db_url, &slug, data_dir, c.ctx.at)
        .await
        .map_err(ClinicError::Tenant)?;
    let u = c.begin().await?;
    let ev = u
        .event(action::TENANT_DELETED)
        .resource("tenant", t.id)
        .details(serde_json::json!({
            "slug": slug, "dump": dump.display().to_string(), "via": "console",
        }));
    u.audit_and_commit(ev, Some(t.id)).await?;
    Ok(dump)
}

/// Records an export of a clinic's archive made from the console (`ok` false: it failed).
pub async fn clinic_exported(
    c: &Console,
    t: &Tenant,
    ok: bool,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    let u = c.begin().await?;
    let ev = u
        .event(action::TENANT_EXPORTED)
        .resource("tenant", t.id)
        .outcome(if ok {
            Outcome::Success
        } else {
            Outcome::Failure
        })
        .details(details);
    u.audit_and_commit(ev, Some(t.id)).await
}

/// A clinic's plan limits as typed on the console (empty: no limit). Refused next to each
/// field when out of range; otherwise saved in the clinic's own settings, with one row in the
/// clinic's audit log (its admins see who changed them) and one in the system's.
pub async fn save_plan_limits(
    c: &Console,
    db: &Db,
    slug: &str,
    max_staff: &str,
    max_document_mb: &str,
) -> Result<PlanLimits, ClinicError> {
    let limits = PlanLimits::parse(max_staff, max_document_mb).map_err(ClinicError::Invalid)?;
    let slug = Slug::parse(slug)
        .map_err(|_| ClinicError::Tenant(TenantError::NotFound(slug.chars().take(40).collect())))?;
    let t = tenants::find(db, &slug)
        .await
        .map_err(ClinicError::Tenant)?;
    let clinic = in_clinic(c, db, &t);
    let before = crate::domain::settings::plan::save_in(&clinic, &limits).await?;
    let u = c.begin().await?;
    let ev = u
        .event(action::SETTINGS_UPDATED)
        .resource("settings", "plan")
        .details(serde_json::json!({ "slug": t.slug, "before": before, "after": limits }));
    u.audit_and_commit(ev, Some(t.id)).await?;
    Ok(limits)
}
