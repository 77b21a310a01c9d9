//! Passwords: argon2id with OWASP parameters (19 MiB, t=2, p=1), always off the async threads,
//! and a strength check by zxcvbn.

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 12;

/// Names a password of this product must not be built on.
const PRODUCT_WORDS: &[&str] = &["clinicbox", "clinic box"];
pub const MAX_LEN: usize = 256;

/// OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1. Parameters argon2 refused are an
/// error (at start-up, through `warm_up`), never a silent fall back to weaker defaults.
fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters refused: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Why a new password was refused; `Display` is the English text of [`PasswordError::message`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", crate::i18n::en_message(&self.message()))]
pub enum PasswordError {
    TooShort,
    TooLong,
    /// With zxcvbn's hint (English), e.g. ": add another word or two".
    Weak(String),
    Breached,
    Mismatch,
}

impl PasswordError {
    /// An i18n message (`i18n::msg`).
    pub fn message(&self) -> String {
        use crate::i18n::msg;
        match self {
            Self::TooShort => msg("invalid.password_short", &[("min", &MIN_LEN)]),
            Self::TooLong => msg("invalid.password_long", &[("max", &MAX_LEN)]),
            Self::Weak(hint) => msg("invalid.password_weak", &[("hint", hint)]),
            Self::Breached => "invalid.password_breached".into(),
            Self::Mismatch => "invalid.passwords_differ".into(),
        }
    }
}

/// A password that passed the policy. Never logged: Debug is redacted.
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

impl NewPassword {
    /// Length 12-256, not in the breached-password list, and a zxcvbn score of at least 3
    /// ("safely unguessable"), judged with the user's own email and name, the clinic's name and
    /// the product's name as known words.
    pub fn parse(pw: &str, user_inputs: &[&str]) -> Result<Self, PasswordError> {
        let n = pw.chars().count();
        if n < MIN_LEN {
            return Err(PasswordError::TooShort);
        }
        if n > MAX_LEN {
            return Err(PasswordError::TooLong);
        }
        // zxcvbn's cost grows with length; the first 100 characters decide the score.
        let probe: String = pw.chars().take(100).collect();
        let given = user_inputs.iter().chain(PRODUCT_WORDS);
        let inputs: Vec<&str> = given
            .clone()
            .flat_map(|s| s.split(['@', '.', ' ', '-', '_']))
            .chain(given.copied())
            .filter(|s| s.len() >= 3)
            .collect();
        // The person's own name or email, the clinic's or the product's name in a password is
        // the first thing an attacker tries; zxcvbn's port does not always weigh it, so it is
        // refused outright.
        let lower = pw.to_lowercase();
        if inputs
            .iter()
            .map(|s| s.to_lowercase())
            .any(|s| s.chars().count() >= 4 && lower.contains(s.as_str()))
        {
            return Err(PasswordError::Weak(
                ": do not use your name, your email address or the name of the clinic or of ClinicBox in it".into(),
            ));
        }
        if super::breached::contains(pw) {
            return Err(PasswordError::Breached);
        }
        let entropy = zxcvbn::zxcvbn(&probe, &inputs);
        if (entropy.score() as u8) < 3 {
            let hint = entropy
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| format!(": {w}"))
                .unwrap_or_else(|| ": add more unrelated words".to_owned());
            return Err(PasswordError::Weak(hint));
        }
        Ok(Self(pw.to_owned()))
    }

    pub fn parse_confirmed(
        pw: &str,
        confirm: &str,
        user_inputs: &[&str],
    ) -> Result<Self, PasswordError> {
        if pw != confirm {
            return Err(PasswordError::Mismatch);
        }
        Self::parse(pw, user_inputs)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Hashes on the blocking pool; returns the PHC string.
pub async fn hash(pw: &NewPassword) -> anyhow::Result<String> {
    let pw = pw.0.clone();
    tokio::task::spawn_blocking(move || {
        hasher()?
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
    })
    .await?
}

/// A real hash of a random password, computed once, verified against when the account does not
/// exist so that unknown usernames cost the same time as wrong passwords. If it cannot be made
/// (no randomness, argon2 refused), `warm_up` fails and the server does not start.
fn dummy_hash() -> Result<&'static str, String> {
    static H: OnceLock<Result<String, String>> = OnceLock::new();
    H.get_or_init(|| {
        let pw = hex::encode(crate::ops::secrets::random_bytes::<16>().map_err(|e| e.to_string())?);
        hasher()
            .map_err(|e| e.to_string())?
            .hash_password(pw.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| format!("password hashing failed: {e}"))
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// Verifies on the blocking pool. `None` stands for "no such account": the dummy hash is checked
/// and the answer is always false. Any failure answers false.
pub async fn verify(pw: &str, stored: Option<&str>) -> bool {
    let pw: String = pw.chars().take(MAX_LEN).collect();
    let real = stored.is_some();
    let stored = match stored {
        Some(s) => s.to_owned(),
        None => match dummy_hash() {
            Ok(h) => h.to_owned(),
            Err(_) => return false,
        },
    };
    tokio::task::spawn_blocking(move || {
        let ok = match (PasswordHash::new(&stored), hasher()) {
            (Ok(h), Ok(argon)) => argon.verify_password(pw.as_bytes(), &h).is_ok(),
            _ => false,
        };
        ok && real
    })
    .await
    .unwrap_or(false)
}

/// Computes the dummy hash at start-up, so the first unknown-user login is not measurably faster
/// or slower, and so that a broken RNG or argon2 stops the server instead of weakening sign-in.
pub fn warm_up() -> anyhow::Result<()> {
    dummy_hash()
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("cannot prepare password checks: {e}"))
}

/// A random password for admin resets: 4 groups of 5 base32 characters (~100 bits).
pub fn generate_temporary() -> Result<String, crate::ops::secrets::SecretsError> {
    let bytes = crate::ops::secrets::random_bytes::<13>()?;
    let s = data_encoding::BASE32_NOPAD.encode(&bytes).to_lowercase();
    Ok(s.as_bytes()
        .chunks(5)
        .take(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2id_hash() {
        assert!(warm_up().is_ok());
        let h = dummy_hash().unwrap_or_default();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(PasswordHash::new(h).is_ok());
    }

    #[test]
    fn policy() {
        assert_eq!(
            NewPassword::parse("short", &[]).unwrap_err(),
            PasswordError::TooShort
        );
        for weak in ["password1234", "aaaaaaaaaaaaaaaa"] {
            assert!(
                matches!(
                    NewPassword::parse(weak, &[]).unwrap_err(),
                    PasswordError::Weak(_) | PasswordError::Breached
                ),
                "{weak}"
            );
        }
        assert!(matches!(
            NewPassword::parse("maria.lopez2024", &["maria.lopez@clinic.org"]).unwrap_err(),
            PasswordError::Weak(_)
        ));
        assert!(NewPassword::parse("correct horse battery staple", &[]).is_ok());
        // The product's and the clinic's names are known words.
        assert!(matches!(
            NewPassword::parse("clinicbox2026!", &[]).unwrap_err(),
            PasswordError::Weak(_)
        ));
        assert!(matches!(
            NewPassword::parse("Sunrise-Polyclinic-77", &["Sunrise Polyclinic", "sunrise"])
                .unwrap_err(),
            PasswordError::Weak(_)
        ));
        // A password from breach lists, however it scores otherwise.
        assert_eq!(
            NewPassword::parse("qwertyuiop123", &[]).unwrap_err(),
            PasswordError::Breached
        );
        let long = "x9!".repeat(86);
        assert_eq!(
            NewPassword::parse(&long, &[]).unwrap_err(),
            PasswordError::TooLong
        );
        assert!(
            NewPassword::parse(&"Tq7#mZ2pL9w!".repeat(10), &[]).is_ok(),
            "128+ is allowed"
        );
        assert_eq!(
            NewPassword::parse_confirmed("a", "b", &[]).unwrap_err(),
            PasswordError::Mismatch
        );
        assert!(
            !format!(
                "{:?}",
                NewPassword::parse("correct horse battery staple", &[]).unwrap()
            )
            .contains("horse")
        );
    }

    #[test]
    fn temporary_passwords_pass_the_policy() {
        for _ in 0..20 {
            let t = generate_temporary().unwrap();
            assert_eq!(t.len(), 23, "{t}");
            assert!(NewPassword::parse(&t, &[]).is_ok(), "{t}");
        }
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let pw = NewPassword::parse("correct horse battery staple", &[]).unwrap();
        let h = hash(&pw).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", Some(&h)).await);
        assert!(!verify("correct horse battery stapler", Some(&h)).await);
        assert!(!verify("correct horse battery staple", None).await);
        assert!(!verify("x", Some("not a phc string")).await);
    }
}
