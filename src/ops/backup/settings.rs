//! Backup settings, kept in `clinicbox.system_settings` and edited on the console's Backups
//! page: schedule, retention, encryption. The passphrase is stored encrypted with the
//! installation secret key, so that this installation can read its own backups.

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::ops::secrets::{Purpose, Secrets};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "mode", content = "value")]
pub enum Encryption {
    None,
    /// An age public key (`age1…`); only its private key can read the backups.
    Recipient(String),
    /// An age passphrase, stored encrypted (hex) with the installation secret key.
    Passphrase(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackupSettings {
    pub enabled: bool,
    /// Daily, at this UTC time.
    pub at: NaiveTime,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub encryption: Encryption,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            at: NaiveTime::from_hms_opt(2, 30, 0).unwrap_or(NaiveTime::MIN),
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
            encryption: Encryption::None,
        }
    }
}

/// The outcome of the last backup, for `/readyz`, `/metrics`, `check` and the console.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LastRun {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub reason: String,
    pub file: Option<String>,
    pub bytes: Option<u64>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

const KEYS: [&str; 6] = [
    "backup.enabled",
    "backup.at",
    "backup.keep_daily",
    "backup.keep_weekly",
    "backup.keep_monthly",
    "backup.encryption",
];

impl BackupSettings {
    pub async fn load(pool: &PgPool) -> sqlx::Result<Self> {
        let rows: Vec<(String, serde_json::Value)> = sqlx::query!(
            "SELECT key, value FROM clinicbox.system_settings WHERE key = ANY($1)",
            &KEYS[..] as _
        )
        .map(|r| (r.key, r.value))
        .fetch_all(pool)
        .await?;
        let mut s = Self::default();
        for (k, v) in rows {
            match k.as_str() {
                "backup.enabled" => s.enabled = v.as_bool().unwrap_or(true),
                "backup.at" => {
                    if let Some(t) = v
                        .as_str()
                        .and_then(|t| NaiveTime::parse_from_str(t, "%H:%M").ok())
                    {
                        s.at = t;
                    }
                }
                "backup.keep_daily" => s.keep_daily = keep(&v, s.keep_daily),
                "backup.keep_weekly" => s.keep_weekly = keep(&v, s.keep_weekly),
                "backup.keep_monthly" => s.keep_monthly = keep(&v, s.keep_monthly),
                "backup.encryption" => {
                    if let Ok(e) = serde_json::from_value(v) {
                        s.encryption = e;
                    }
                }
                _ => {}
            }
        }
        Ok(s)
    }

    pub async fn save(&self, conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<()> {
        let values = [
            ("backup.enabled", serde_json::json!(self.enabled)),
            (
                "backup.at",
                serde_json::json!(self.at.format("%H:%M").to_string()),
            ),
            ("backup.keep_daily", serde_json::json!(self.keep_daily)),
            ("backup.keep_weekly", serde_json::json!(self.keep_weekly)),
            ("backup.keep_monthly", serde_json::json!(self.keep_monthly)),
            (
                "backup.encryption",
                serde_json::to_value(&self.encryption).unwrap_or_default(),
            ),
        ];
        for (k, v) in values {
            put(conn, k, v, now).await?;
        }
        Ok(())
    }

    /// Encryption for a passphrase typed by an operator.
    pub fn passphrase(secrets: &Secrets, plain: &str) -> Result<Encryption, String> {
        if plain.chars().count() < 12 {
            return Err("use at least 12 characters".into());
        }
        secrets
            .encrypt(Purpose::BackupKey, plain.as_bytes())
            .map(|sealed| Encryption::Passphrase(hex::encode(sealed)))
            .map_err(|e| e.to_string())
    }

    /// Encryption to an age public key, checked.
    pub fn recipient(key: &str) -> Result<Encryption, String> {
        let key = key.trim();
        key.parse::<age::x25519::Recipient>()
            .map(|_| Encryption::Recipient(key.to_owned()))
            .map_err(|_| "not an age public key (it starts with age1…)".to_owned())
    }
}

fn keep(v: &serde_json::Value, default: u32) -> u32 {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n <= 1000)
        .unwrap_or(default)
}

pub(crate) async fn put(
    conn: &mut PgConnection,
    key: &'static str,
    value: serde_json::Value,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    crate::domain::settings::put_system(conn, key, value, now).await
}

pub async fn last_run(pool: &PgPool) -> sqlx::Result<(Option<LastRun>, Option<LastRun>)> {
    let rows: Vec<(String, serde_json::Value)> = sqlx::query!(
        "SELECT key, value FROM clinicbox.system_settings
          WHERE key IN ('backup.last', 'backup.last_success')"
    )
    .map(|r| (r.key, r.value))
    .fetch_all(pool)
    .await?;
    let get = |k: &str| {
        rows.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| serde_json::from_value(v.clone()).ok())
    };
    Ok((get("backup.last"), get("backup.last_success")))
}

pub async fn record_run(pool: &PgPool, run: &LastRun) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    let v = serde_json::to_value(run).unwrap_or_default();
    put(&mut conn, "backup.last", v.clone(), run.at).await?;
    if run.ok {
        put(&mut conn, "backup.last_success", v, run.at).await?;
    }
    Ok(())
}
