//! The installation's secret key (`[storage] key_file`, default `/etc/clinicbox/secret.key`):
//! 32 random bytes from which purpose-specific keys are derived (HKDF-SHA256). It encrypts TOTP
//! secrets and TLS private keys at rest and keys the HMACs of recovery codes. Back it up with
//! the config file: without it, MFA enrolments and stored certificates cannot be read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secret key file {0}: {1}")]
    File(PathBuf, String),
    #[error("secret key file {0} must hold 32 bytes as 64 hex characters")]
    Format(PathBuf),
    #[error("stored secret cannot be decrypted (wrong secret key file?)")]
    Decrypt,
    #[error("random number generator failed")]
    Rng,
    #[error("could not derive the installation's keys from the secret key")]
    Derive,
}

/// What a derived key is for; each purpose gets an independent key.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    Totp,
    TlsKey,
    RecoveryCode,
    BackupKey,
    AcmeAccount,
    /// The key's fingerprint in the database (`ops::keycheck`).
    KeyCheck,
    /// The audit logs' chains (`domain::audit::chain`).
    AuditChain,
}

impl Purpose {
    const ALL: [Purpose; 7] = [
        Self::Totp,
        Self::TlsKey,
        Self::RecoveryCode,
        Self::BackupKey,
        Self::AcmeAccount,
        Self::KeyCheck,
        Self::AuditChain,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn info(self) -> &'static [u8] {
        match self {
            Self::Totp => b"clinicbox totp-secret v1",
            Self::TlsKey => b"clinicbox tls-private-key v1",
            Self::RecoveryCode => b"clinicbox recovery-code v1",
            Self::BackupKey => b"clinicbox backup-passphrase v1",
            Self::AcmeAccount => b"clinicbox acme-account v1",
            Self::KeyCheck => b"clinicbox key-fingerprint v1",
            Self::AuditChain => b"clinicbox audit-chain v1",
        }
    }
}

#[derive(Clone)]
pub struct Secrets {
    /// One key per purpose, derived once when the key is loaded (a failure is an error then,
    /// never a weaker key later).
    keys: Arc<[[u8; 32]; Purpose::ALL.len()]>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets([redacted])")
    }
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| SecretsError::Rng)?;
    Ok(b)
}

impl Secrets {
    /// Reads the key file, creating it (mode 0600) with a fresh random key if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretsError> {
        let err = |e: std::io::Error| SecretsError::File(path.to_owned(), e.to_string());
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                let key = random_bytes::<32>()?;
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(err)?;
                f.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                    .map_err(err)?;
                tracing::info!(path = %path.display(), "created a new secret key file");
                Self::from_bytes(key)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Reads an existing key file (never creates one).
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecretsError::File(path.to_owned(), e.to_string()))?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Self, SecretsError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SecretsError::Format(path.to_owned()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretsError::Format(path.to_owned()))?;
        Self::from_bytes(key)
    }

    pub fn from_bytes(master: [u8; 32]) -> Result<Self, SecretsError> {
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"clinicbox");
        let prk = salt.extract(&master[..]);
        let mut keys = [[0u8; 32]; Purpose::ALL.len()];
        for purpose in Purpose::ALL {
            prk.expand(&[purpose.info()], Len(32))
                .and_then(|okm| okm.fill(&mut keys[purpose.index()]))
                .map_err(|_| SecretsError::Derive)?;
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    fn derive(&self, purpose: Purpose) -> &[u8; 32] {
        &self.keys[purpose.index()]
    }

    /// ChaCha20-Poly1305 with a random nonce; output is `nonce || ciphertext+tag`.
    pub fn encrypt(&self, purpose: Purpose, plain: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let key = self.aead_key(purpose)?;
        let nonce_bytes = random_bytes::<12>()?;
        let mut buf = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(purpose.info()),
            &mut buf,
        )
        .map_err(|_| SecretsError::Rng)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn decrypt(&self, purpose: Purpose, sealed: &[u8]) -> Result<Vec<u8>, SecretsError> {
        if sealed.len() < 12 + 16 {
            return Err(SecretsError::Decrypt);
        }
        let key = self.aead_key(purpose)?;
        let (nonce, rest) = sealed.split_at(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretsError::Decrypt)?;
        let mut buf = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(purpose.info()), &mut buf)
            .map_err(|_| SecretsError::Decrypt)?;
        Ok(plain.to_vec())
    }

    fn aead_key(&self, purpose: Purpose) -> Result<LessSafeKey, SecretsError> {
        let k = self.derive(purpose);
        UnboundKey::new(&aead::CHACHA20_POLY1305, k)
            .map(LessSafeKey::new)
            .map_err(|_| SecretsError::Rng)
    }

    /// HMAC-SHA256 under the purpose's key: hashes of short secrets (recovery codes) that a copy
    /// of the database alone cannot brute-force.
    pub fn mac(&self, purpose: Purpose, data: &[u8]) -> Vec<u8> {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.derive(purpose));
        ring::hmac::sign(&key, data).as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_purpose_has_its_own_nonzero_key() {
        let s = Secrets::from_bytes([7u8; 32]).unwrap();
        let keys: std::collections::HashSet<[u8; 32]> =
            Purpose::ALL.iter().map(|p| *s.derive(*p)).collect();
        assert_eq!(keys.len(), Purpose::ALL.len());
        assert!(!keys.contains(&[0u8; 32]));
    }

    #[test]
    fn round_trip_and_tamper() {
        let s = Secrets::from_bytes([7u8; 32]).unwrap();
        let sealed = s.encrypt(Purpose::Totp, b"JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(
            s.decrypt(Purpose::Totp, &sealed).unwrap(),
            b"JBSWY3DPEHPK3PXP"
        );
        assert!(
            s.decrypt(Purpose::TlsKey, &sealed).is_err(),
            "purposes are separate"
        );
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.decrypt(Purpose::Totp, &bad).is_err());
        let other = Secrets::from_bytes([8u8; 32]).unwrap();
        assert!(other.decrypt(Purpose::Totp, &sealed).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/secret.key");
        let a = Secrets::load_or_create(&p).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let b = Secrets::load_or_create(&p).unwrap();
        assert_eq!(
            a.mac(Purpose::RecoveryCode, b"x"),
            b.mac(Purpose::RecoveryCode, b"x")
        );
        std::fs::write(&p, "nothex").unwrap();
        assert!(matches!(
            Secrets::load_or_create(&p),
            Err(SecretsError::Format(_))
        ));
    }
}
