//! Does the secret key file belong to this database? Everything the installation sealed with
//! it — operators' MFA secrets, TLS keys, the ACME account, the backup passphrase — is useless
//! under another key, and nothing else would notice until a backup fails. A fingerprint of the
//! key (an HMAC, which says nothing about the key itself) is kept in the control schema the
//! first time a key is seen; `serve` refuses a key that does not match and `check` reports it.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::ops::secrets::{Purpose, Secrets};

const SETTING: &str = "secrets.key_fingerprint";

#[derive(Debug, PartialEq, Eq)]
pub enum KeyMatch {
    /// The stored fingerprint is this key's.
    Matches,
    /// No fingerprint was stored yet and nothing sealed contradicts this key: recorded now.
    Recorded,
    /// The database was sealed with another key: `why` says what gave it away.
    Mismatch { why: String },
}

fn fingerprint(secrets: &Secrets) -> String {
    hex::encode(secrets.mac(Purpose::KeyCheck, b"clinicbox secret key fingerprint"))
}

/// Sealed values of the control schema, each with the purpose it was sealed for.
async fn sealed_samples(pool: &PgPool) -> sqlx::Result<Vec<(&'static str, Purpose, Vec<u8>)>> {
    let mut out = Vec::new();
    let acme: Option<Vec<u8>> =
        sqlx::query_scalar!("SELECT credentials_enc FROM clinicbox.acme_account LIMIT 1")
            .fetch_optional(pool)
            .await?;
    if let Some(a) = acme {
        out.push(("the ACME account", Purpose::AcmeAccount, a));
    }
    let cert: Option<Vec<u8>> = sqlx::query_scalar!(
        r#"SELECT key_enc AS "key_enc!" FROM clinicbox.certificates WHERE key_enc IS NOT NULL LIMIT 1"#
    )
    .fetch_optional(pool)
    .await?;
    if let Some(c) = cert {
        out.push(("a certificate's private key", Purpose::TlsKey, c));
    }
    let mfa: Option<Vec<u8>> = sqlx::query_scalar!(
        r#"SELECT mfa_secret AS "mfa_secret!" FROM clinicbox.operators WHERE mfa_secret IS NOT NULL LIMIT 1"#
    )
    .fetch_optional(pool)
    .await?;
    if let Some(m) = mfa {
        out.push(("an operator's MFA secret", Purpose::Totp, m));
    }
    let encryption: Option<serde_json::Value> = sqlx::query_scalar!(
        "SELECT value FROM clinicbox.system_settings WHERE key = 'backup.encryption'"
    )
    .fetch_optional(pool)
    .await?;
    if let Some(sealed) = encryption
        .and_then(|v| serde_json::from_value::<crate::ops::backup::Encryption>(v).ok())
        .and_then(|e| match e {
            crate::ops::backup::Encryption::Passphrase(hex) => hex::decode(hex).ok(),
            _ => None,
        })
    {
        out.push(("the backup passphrase", Purpose::BackupKey, sealed));
    }
    Ok(out)
}

/// Compares the key with the database without changing anything.
pub async fn inspect(pool: &PgPool, secrets: &Secrets) -> sqlx::Result<Option<KeyMatch>> {
    let stored: Option<String> = sqlx::query_scalar!(
        "SELECT value #>> '{}' FROM clinicbox.system_settings WHERE key = $1",
        SETTING
    )
    .fetch_optional(pool)
    .await?
    .flatten();
    if let Some(f) = stored {
        return Ok(Some(if f == fingerprint(secrets) {
            KeyMatch::Matches
        } else {
            KeyMatch::Mismatch {
                why: "the database records another key's fingerprint".into(),
            }
        }));
    }
    // Installations from before fingerprints: a sealed value that does not open gives it away.
    for (what, purpose, sealed) in sealed_samples(pool).await? {
        if secrets.decrypt(purpose, &sealed).is_err() {
            return Ok(Some(KeyMatch::Mismatch {
                why: format!("{what} stored in the database cannot be decrypted with it"),
            }));
        }
    }
    Ok(None)
}

/// [`inspect`], recording the fingerprint when none is stored and nothing contradicts the key.
pub async fn verify_or_record(
    pool: &PgPool,
    secrets: &Secrets,
    now: DateTime<Utc>,
) -> sqlx::Result<KeyMatch> {
    if let Some(m) = inspect(pool, secrets).await? {
        return Ok(m);
    }
    sqlx::query!("INSERT INTO clinicbox.system_settings (key, value, updated_at) VALUES ($1, to_jsonb($2::text), $3)
         ON CONFLICT (key) DO NOTHING", SETTING, fingerprint(secrets), now)
    .execute(pool)
    .await?;
    // Another node may have recorded its key at the same moment: read back what won.
    Ok(match inspect(pool, secrets).await? {
        Some(KeyMatch::Matches) | None => KeyMatch::Recorded,
        Some(other) => other,
    })
}

/// The operator's sentence for a key that does not belong to the database.
pub fn mismatch_message(key_file: &std::path::Path, why: &str) -> String {
    let kept = key_file
        .parent()
        .map(|_| "/var/lib/clinicbox/secret.key.from-purge*")
        .unwrap_or_default();
    format!(
        "the secret key file {} does not belong to this database ({why}): MFA secrets, certificates and encrypted backups cannot be read with it. Put the original key back (after `apt-get purge` it is kept as {kept}) and start again",
        key_file.display()
    )
}
