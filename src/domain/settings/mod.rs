//! Clinic settings (table `settings` in the clinic's schema) and installation settings
//! (`clinicbox.system_settings`): one JSON value per key.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::db::TenantDb;
use crate::domain::auth::MfaPolicy;
use crate::domain::tenants::Tenant;

pub mod branding;
pub mod plan;

/// The clinic's IANA time zone, `UTC` until an admin sets one.
pub async fn timezone(pool: &PgPool, tenant: &Tenant) -> Result<String, sqlx::Error> {
    let mut tx = TenantDb::begin(pool, &tenant.db).await?;
    let tz = get_text(&mut tx, "timezone").await?;
    tx.commit().await?;
    Ok(tz.unwrap_or_else(|| "UTC".to_owned()))
}

async fn get_text(conn: &mut PgConnection, key: &'static str) -> sqlx::Result<Option<String>> {
    Setting::<String>::clinic(key).get(conn).await
}

async fn put(
    conn: &mut PgConnection,
    key: &'static str,
    value: serde_json::Value,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    Setting::<serde_json::Value>::clinic(key)
        .set(conn, &value, now)
        .await
}

/// Which table a setting lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The clinic's `settings` (inside its transaction).
    Clinic,
    /// The installation's `clinicbox.system_settings`.
    System,
}

/// One setting: its key, where it lives, and (by `T`) what it holds. Every read and write of
/// a setting goes through here: one upsert for all of them.
#[derive(Debug)]
pub struct Setting<T> {
    pub key: &'static str,
    pub scope: Scope,
    value: std::marker::PhantomData<fn() -> T>,
}

impl<T> Setting<T> {
    pub const fn clinic(key: &'static str) -> Self {
        Self {
            key,
            scope: Scope::Clinic,
            value: std::marker::PhantomData,
        }
    }

    pub const fn system(key: &'static str) -> Self {
        Self {
            key,
            scope: Scope::System,
            value: std::marker::PhantomData,
        }
    }
}

impl<T: Serialize + serde::de::DeserializeOwned> Setting<T> {
    /// The stored value; `None` if unset or if what is stored is not a `T` (callers apply
    /// their default, as for an unset one).
    pub async fn get(&self, conn: &mut PgConnection) -> sqlx::Result<Option<T>> {
        let v = match self.scope {
            Scope::Clinic => {
                sqlx::query_scalar!("SELECT value FROM settings WHERE key = $1", self.key)
                    .fetch_optional(conn)
                    .await?
            }
            Scope::System => {
                sqlx::query_scalar!(
                    "SELECT value FROM clinicbox.system_settings WHERE key = $1",
                    self.key
                )
                .fetch_optional(conn)
                .await?
            }
        };
        Ok(v.and_then(|v| serde_json::from_value(v).ok()))
    }

    pub async fn set(
        &self,
        conn: &mut PgConnection,
        value: &T,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let value = serde_json::to_value(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        match self.scope {
            Scope::Clinic => {
                sqlx::query!(
                    "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,
                                                 updated_at = EXCLUDED.updated_at",
                    self.key,
                    value,
                    now
                )
                .execute(conn)
                .await?
            }
            Scope::System => {
                sqlx::query!(
                "INSERT INTO clinicbox.system_settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,
                                                 updated_at = EXCLUDED.updated_at",
                self.key,
                value,
                now
            )
                .execute(conn)
                .await?
            }
        };
        Ok(())
    }
}

/// The clinic settings the scheduling and registry pages set.
pub mod keys {
    use super::Setting;

    pub const TIMEZONE: Setting<String> = Setting::clinic("timezone");
    pub const MRN_PREFIX: Setting<String> = Setting::clinic("patients.mrn_prefix");
    pub const SLOT_MINUTES: Setting<i64> = Setting::clinic("scheduling.slot_minutes");
    /// How far ahead appointments may be booked, in months (default 24).
    pub const HORIZON_MONTHS: Setting<i64> = Setting::clinic("scheduling.horizon_months");
    /// The diagnosis code set the clinic searches (default the built-in ICD-10-CM).
    pub const CODE_SYSTEM: Setting<String> = Setting::clinic("diagnosis.code_system");
    /// The clinic's address and phone, printed under its name on prescriptions.
    pub const LETTERHEAD_ADDRESS: Setting<String> = Setting::clinic("letterhead.address");
    pub const LETTERHEAD_PHONE: Setting<String> = Setting::clinic("letterhead.phone");
    pub const LETTERHEAD_EMAIL: Setting<String> = Setting::clinic("letterhead.email");
    /// PAN or VAT number.
    pub const TAX_NUMBER: Setting<String> = Setting::clinic("letterhead.tax_number");
    pub const REGISTRATION_NUMBER: Setting<String> =
        Setting::clinic("letterhead.registration_number");
    /// A line printed at the foot of the letterhead.
    pub const LETTERHEAD_FOOTER: Setting<String> = Setting::clinic("letterhead.footer");
    /// The largest document upload, in MiB (default 20).
    pub const MAX_UPLOAD_MB: Setting<i64> = Setting::clinic("documents.max_upload_mb");
}

/// What prints under the clinic's name (prescriptions, receipts): address, phone, email, tax
/// and registration numbers, and a footer line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Letterhead {
    pub address: String,
    pub phone: String,
    pub email: String,
    pub tax_number: String,
    pub registration_number: String,
    pub footer: String,
}

impl Letterhead {
    /// Read inside the clinic's transaction, in one query (the prescription print reads it).
    pub async fn read(conn: &mut PgConnection) -> sqlx::Result<Self> {
        use keys::*;
        let names = [
            LETTERHEAD_ADDRESS.key,
            LETTERHEAD_PHONE.key,
            LETTERHEAD_EMAIL.key,
            TAX_NUMBER.key,
            REGISTRATION_NUMBER.key,
            LETTERHEAD_FOOTER.key,
        ];
        // Only text values: anything else reads as unset, as `Setting::get` does.
        let rows = sqlx::query!(
            r#"SELECT key, value #>> '{}' AS "value!" FROM settings
                WHERE key = ANY($1) AND jsonb_typeof(value) = 'string'"#,
            &names as &[&str]
        )
        .fetch_all(conn)
        .await?;
        let value = |s: &Setting<String>| {
            rows.iter()
                .find(|r| r.key == s.key)
                .map(|r| r.value.clone())
                .unwrap_or_default()
        };
        Ok(Self {
            address: value(&LETTERHEAD_ADDRESS),
            phone: value(&LETTERHEAD_PHONE),
            email: value(&LETTERHEAD_EMAIL),
            tax_number: value(&TAX_NUMBER),
            registration_number: value(&REGISTRATION_NUMBER),
            footer: value(&LETTERHEAD_FOOTER),
        })
    }
}

/// Sign-in and audit settings a clinic admin controls.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Security {
    pub mfa_policy: MfaPolicy,
    /// Minutes without activity before a session ends.
    pub idle_minutes: i64,
    /// Hours after sign-in before a session ends regardless of activity.
    pub session_hours: i64,
    pub audit_retention_years: i64,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            mfa_policy: MfaPolicy::Optional,
            idle_minutes: 15,
            session_hours: 12,
            audit_retention_years: 7,
        }
    }
}

pub const IDLE_RANGE: std::ops::RangeInclusive<i64> = 5..=480;
pub const SESSION_RANGE: std::ops::RangeInclusive<i64> = 1..=24;
pub const RETENTION_RANGE: std::ops::RangeInclusive<i64> = 1..=50;

impl Security {
    /// Reads the clinic's values inside its transaction; missing or unreadable keys keep the
    /// defaults.
    pub async fn load(conn: &mut PgConnection) -> sqlx::Result<Self> {
        let rows: Vec<(String, String)> = sqlx::query!(
            r#"SELECT key, coalesce(value #>> '{}', '') AS "value!" FROM settings
              WHERE key IN ('security.mfa_policy', 'security.idle_minutes',
                            'security.session_hours', 'audit.retention_years')"#
        )
        .map(|r| (r.key, r.value))
        .fetch_all(conn)
        .await?;
        let mut s = Self::default();
        for (k, v) in rows {
            match k.as_str() {
                "security.mfa_policy" => {
                    s.mfa_policy = MfaPolicy::parse(&v).unwrap_or_default();
                }
                "security.idle_minutes" => {
                    s.idle_minutes = v.parse().unwrap_or(s.idle_minutes);
                }
                "security.session_hours" => {
                    s.session_hours = v.parse().unwrap_or(s.session_hours);
                }
                "audit.retention_years" => {
                    s.audit_retention_years = v.parse().unwrap_or(s.audit_retention_years);
                }
                _ => {}
            }
        }
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (field, value, range, key) in [
            (
                "idle_minutes",
                self.idle_minutes,
                IDLE_RANGE,
                "invalid.between_minutes",
            ),
            (
                "session_hours",
                self.session_hours,
                SESSION_RANGE,
                "invalid.between_hours",
            ),
            (
                "audit_retention_years",
                self.audit_retention_years,
                RETENTION_RANGE,
                "invalid.between_years",
            ),
        ] {
            if !range.contains(&value) {
                let (min, max) = (*range.start(), *range.end());
                return Err((
                    field,
                    crate::i18n::msg(key, &[("min", &min), ("max", &max)]),
                ));
            }
        }
        Ok(())
    }

    /// Saves, returning the names of the settings that changed.
    pub async fn save(
        &self,
        conn: &mut PgConnection,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<&'static str>> {
        let old = Self::load(conn).await?;
        let mut changed = Vec::new();
        for (name, key, before, after) in [
            (
                "mfa_policy",
                "security.mfa_policy",
                serde_json::Value::from(old.mfa_policy.as_str()),
                serde_json::Value::from(self.mfa_policy.as_str()),
            ),
            (
                "idle_minutes",
                "security.idle_minutes",
                old.idle_minutes.into(),
                self.idle_minutes.into(),
            ),
            (
                "session_hours",
                "security.session_hours",
                old.session_hours.into(),
                self.session_hours.into(),
            ),
            (
                "audit_retention_years",
                "audit.retention_years",
                old.audit_retention_years.into(),
                self.audit_retention_years.into(),
            ),
        ] {
            if before != after {
                put(conn, key, after, now).await?;
                changed.push(name);
            }
        }
        Ok(changed)
    }
}

/// The clinic's security settings (reading them names no patient).
pub async fn security(c: &crate::domain::clinic::Clinic) -> sqlx::Result<Security> {
    let mut u = c.begin().await?;
    let s = Security::load(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(s)
}

/// Saves the clinic's security settings (already validated); returns what changed.
pub async fn save_security(
    c: &crate::domain::clinic::Clinic,
    new: &Security,
) -> sqlx::Result<Vec<&'static str>> {
    let mut u = c.begin().await?;
    let changed = new.save(&mut u, c.at()).await?;
    if changed.is_empty() {
        u.finish_without_clinical_data().await?;
    } else {
        let ev = u
            .event(crate::domain::audit::action::SETTINGS_UPDATED)
            .resource("settings", "security")
            .details(serde_json::json!({ "changed": changed }));
        u.audit_and_commit(ev).await?;
    }
    Ok(changed)
}

/// Idle timeout of operator sessions (system setting `security.idle_minutes`, default 15).
pub async fn console_idle_minutes(pool: &PgPool) -> sqlx::Result<i64> {
    let v: Option<String> = sqlx::query_scalar!(
        "SELECT value #>> '{}' FROM clinicbox.system_settings WHERE key = 'security.idle_minutes'"
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(15))
}

/// HTTP Strict Transport Security for hosts served with a real certificate (system settings
/// `tls.hsts_max_age` and `tls.hsts_include_subdomains`). `includeSubDomains` is off by
/// default: clinic hosts under one domain may not all have certificates yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Hsts {
    /// Seconds; 0 sends no header.
    pub max_age: i64,
    pub include_subdomains: bool,
}

impl Default for Hsts {
    fn default() -> Self {
        Self {
            max_age: 31_536_000,
            include_subdomains: false,
        }
    }
}

impl Hsts {
    /// At most two years, as browsers' preload lists expect.
    pub const MAX_AGE_LIMIT: i64 = 63_072_000;

    pub async fn load(pool: &PgPool) -> sqlx::Result<Self> {
        let rows: Vec<(String, serde_json::Value)> = sqlx::query!(
            "SELECT key, value FROM clinicbox.system_settings
              WHERE key IN ('tls.hsts_max_age', 'tls.hsts_include_subdomains')"
        )
        .map(|r| (r.key, r.value))
        .fetch_all(pool)
        .await?;
        let mut h = Self::default();
        for (k, v) in rows {
            match k.as_str() {
                "tls.hsts_max_age" => {
                    if let Some(n) = v.as_i64().filter(|n| (0..=Self::MAX_AGE_LIMIT).contains(n)) {
                        h.max_age = n;
                    }
                }
                _ => h.include_subdomains = v.as_bool().unwrap_or(false),
            }
        }
        Ok(h)
    }

    pub async fn save(&self, conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<()> {
        for (key, value) in [
            ("tls.hsts_max_age", serde_json::Value::from(self.max_age)),
            (
                "tls.hsts_include_subdomains",
                serde_json::Value::from(self.include_subdomains),
            ),
        ] {
            sqlx::query!("INSERT INTO clinicbox.system_settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at", key, value, now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// The header value, or `None` when HSTS is switched off.
    pub fn header_value(&self) -> Option<String> {
        (self.max_age > 0).then(|| {
            if self.include_subdomains {
                format!("max-age={}; includeSubDomains", self.max_age)
            } else {
                format!("max-age={}", self.max_age)
            }
        })
    }
}

/// Sign-in and API budgets per minute (system settings `limits.*`); see `web::limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RateLimits {
    /// Sign-in attempts for one account from one address.
    pub login_per_account: u32,
    /// Sign-in attempts from one address, whatever the account (a clinic behind one NAT).
    pub login_per_address: u32,
    /// API requests with one token or one signed-in session.
    pub api_per_credential: u32,
    /// API requests from one address, whatever the credential.
    pub api_per_address: u32,
}

impl RateLimits {
    /// Accepted ranges, for the console's form and for values read back.
    pub const LOGIN_PER_ACCOUNT: (u32, u32) = (3, 1_000);
    pub const LOGIN_PER_ADDRESS: (u32, u32) = (10, 100_000);
    pub const API_PER_CREDENTIAL: (u32, u32) = (10, 10_000_000);
    pub const API_PER_ADDRESS: (u32, u32) = (10, 100_000_000);

    /// The starting values from the config file.
    pub fn from_config(c: &crate::config::LimitsConfig) -> Self {
        Self {
            login_per_account: c.login_per_minute,
            login_per_address: c.login_per_minute_per_address,
            api_per_credential: c.api_per_minute,
            api_per_address: c.api_per_minute_per_address,
        }
    }

    const KEYS: [&'static str; 4] = [
        "limits.login_per_account",
        "limits.login_per_address",
        "limits.api_per_credential",
        "limits.api_per_address",
    ];

    /// The stored values, each falling back to `defaults` when unset or out of range.
    pub async fn load(pool: &PgPool, defaults: Self) -> sqlx::Result<Self> {
        let rows: Vec<(String, serde_json::Value)> = sqlx::query!(
            "SELECT key, value FROM clinicbox.system_settings WHERE key = ANY($1)",
            &Self::KEYS[..] as _
        )
        .map(|r| (r.key, r.value))
        .fetch_all(pool)
        .await?;
        let mut l = defaults;
        for (k, v) in rows {
            let n = v.as_u64().and_then(|n| u32::try_from(n).ok());
            let within = |(lo, hi): (u32, u32)| n.filter(|n| (lo..=hi).contains(n));
            match k.as_str() {
                "limits.login_per_account" => {
                    l.login_per_account =
                        within(Self::LOGIN_PER_ACCOUNT).unwrap_or(l.login_per_account)
                }
                "limits.login_per_address" => {
                    l.login_per_address =
                        within(Self::LOGIN_PER_ADDRESS).unwrap_or(l.login_per_address)
                }
                "limits.api_per_credential" => {
                    l.api_per_credential =
                        within(Self::API_PER_CREDENTIAL).unwrap_or(l.api_per_credential)
                }
                _ => l.api_per_address = within(Self::API_PER_ADDRESS).unwrap_or(l.api_per_address),
            }
        }
        Ok(l)
    }

    pub async fn save(&self, conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<()> {
        let values = [
            self.login_per_account,
            self.login_per_address,
            self.api_per_credential,
            self.api_per_address,
        ];
        for (key, value) in Self::KEYS.iter().zip(values) {
            put_system(conn, key, value.into(), now).await?;
        }
        Ok(())
    }
}

/// Writes one installation setting.
pub async fn put_system(
    conn: &mut PgConnection,
    key: &'static str,
    value: serde_json::Value,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    Setting::<serde_json::Value>::system(key)
        .set(conn, &value, now)
        .await
}
