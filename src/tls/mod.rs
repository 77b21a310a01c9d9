//! HTTPS built in: the rustls configuration, the SNI certificate store, the ACME client and the
//! renewal task, manual certificates, and the listeners.
//!
//! Certificates, keys (encrypted with the installation secret key) and the ACME account live
//! in the control schema, so they are backed up with everything else and shared by every node
//! that points at the same database.

pub mod acme;
pub mod certs;
pub mod preflight;
pub mod renewal;
pub mod repo;
pub mod server;
pub mod status;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::config::{TlsConfig, TlsMode};
use crate::domain::settings::Hsts;
use certs::CertError;
use store::{CertStore, Served, Source};

pub const ALPN_ACME_TLS: &[u8] = b"acme-tls/1";

/// What the HTTPS side of a running server shares with request handlers and the renewal task.
pub struct Tls {
    pub store: Arc<CertStore>,
    pub server_config: Arc<ServerConfig>,
    pub mode: TlsMode,
    hsts: RwLock<Hsts>,
    /// Issue dates of the ACME certificates loaded from the database, to reload only changes.
    loaded: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Wakes the renewal task (`cert renew`, a new clinic, SIGHUP).
    pub wake: Notify,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("mode", &self.mode).finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{key} = {path}: {message}")]
    File {
        key: &'static str,
        path: String,
        message: String,
    },
}

impl Tls {
    pub fn new(mode: TlsMode) -> Result<Arc<Self>, TlsError> {
        let store = Arc::new(CertStore::new()?);
        let server_config = server_config(store.clone())?;
        Ok(Arc::new(Self {
            store,
            server_config,
            mode,
            hsts: RwLock::new(Hsts::default()),
            loaded: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }))
    }

    pub fn hsts(&self) -> Hsts {
        *self.hsts.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_hsts(&self, h: Hsts) {
        *self.hsts.write().unwrap_or_else(|p| p.into_inner()) = h;
    }

    /// The `Strict-Transport-Security` value for a request to `host` that came over TLS:
    /// only once the host is served with a real certificate (never the fallback).
    pub fn hsts_for(&self, host: &str) -> Option<String> {
        if self.store.serving(host) == store::Serving::Fallback {
            return None;
        }
        self.hsts().header_value()
    }

    /// Loads the ACME certificates stored in the database that this process does not serve yet
    /// (issued by this node or another one). A row that cannot be used is logged and skipped.
    pub fn load_stored(&self, rows: &[repo::CertRow], secrets: &crate::ops::secrets::Secrets) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        for row in rows {
            let (Some(chain), Some(key), Some(issued)) =
                (&row.chain_pem, &row.key_enc, row.issued_at)
            else {
                continue;
            };
            if loaded.get(&row.hostname) == Some(&issued) {
                continue;
            }
            match served_from_row(chain, key, secrets) {
                Ok(s) => {
                    self.store.set_acme(&row.hostname, s);
                    loaded.insert(row.hostname.clone(), issued);
                }
                Err(e) => {
                    tracing::warn!(host = %row.hostname, error = %e, "stored certificate cannot be used");
                    loaded.insert(row.hostname.clone(), issued);
                }
            }
        }
    }

    /// Serves a certificate this node just obtained, without reloading it from the database.
    pub fn adopt(&self, host: &str, served: Served, issued_at: DateTime<Utc>) {
        self.store.set_acme(host, served);
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(host.to_owned(), issued_at);
    }

    /// Reads `tls.cert_file` and `tls.key_file` (manual mode). At start an error stops the
    /// server; on SIGHUP it is logged and the certificate already loaded keeps serving.
    pub fn load_manual(&self, cfg: &TlsConfig) -> Result<certs::CertInfo, TlsError> {
        let (Some(cert_path), Some(key_path)) = (&cfg.cert_file, &cfg.key_file) else {
            return Err(TlsError::File {
                key: "tls.cert_file",
                path: String::new(),
                message: "manual mode needs tls.cert_file and tls.key_file".into(),
            });
        };
        let read = |key: &'static str, path: &std::path::Path| {
            std::fs::read_to_string(path).map_err(|e| TlsError::File {
                key,
                path: path.display().to_string(),
                message: e.to_string(),
            })
        };
        let file_err = |key: &'static str, path: &std::path::Path, e: CertError| TlsError::File {
            key,
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let chain = certs::parse_chain(&read("tls.cert_file", cert_path)?)
            .map_err(|e| file_err("tls.cert_file", cert_path, e))?;
        let key = certs::parse_key(&read("tls.key_file", key_path)?)
            .map_err(|e| file_err("tls.key_file", key_path, e))?;
        let ck =
            certs::certified_key(chain, key).map_err(|e| file_err("tls.key_file", key_path, e))?;
        let served =
            Served::new(ck, Source::Manual).map_err(|e| file_err("tls.cert_file", cert_path, e))?;
        let info = served.info.clone();
        self.store.set_manual(vec![served]);
        Ok(info)
    }
}

fn served_from_row(
    chain_pem: &str,
    key_enc: &[u8],
    secrets: &crate::ops::secrets::Secrets,
) -> Result<Served, String> {
    let chain = certs::parse_chain(chain_pem).map_err(|e| e.to_string())?;
    let key_der = secrets
        .decrypt(crate::ops::secrets::Purpose::TlsKey, key_enc)
        .map_err(|e| e.to_string())?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into());
    let ck = certs::certified_key(chain, key).map_err(|e| e.to_string())?;
    Served::new(ck, Source::Acme).map_err(|e| e.to_string())
}

/// TLS 1.2 and 1.3 with Mozilla's "intermediate" choices: AEAD suites with forward secrecy
/// only (ECDHE for 1.2), X25519/P-256/P-384 key exchange; ALPN h2 and http/1.1; resumption by
/// session id and by tickets.
pub fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> Result<Arc<ServerConfig>, TlsError> {
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(intermediate_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Every suite offered is AEAD with forward secrecy, so either side's order is safe; the
    // server's (Mozilla's) order makes the choice predictable and scanners content.
    cfg.ignore_client_order = true;
    cfg.session_storage = ServerSessionMemoryCache::new(20_000);
    cfg.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(cfg))
}

pub fn intermediate_provider() -> rustls::crypto::CryptoProvider {
    use rustls::crypto::ring::{cipher_suite as cs, kx_group};
    rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..rustls::crypto::ring::default_provider()
    }
}

/// One certificate for every handshake: TLS-ALPN-01 answers.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The configuration that answers a TLS-ALPN-01 validation for `host`, if one is pending.
pub async fn alpn_challenge_config(pool: &PgPool, host: &str) -> Option<Arc<ServerConfig>> {
    let key_auth = repo::alpn_challenge(pool, host).await.ok().flatten()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, key_auth.as_bytes());
    let ck = certs::alpn_challenge(host, digest.as_ref())
        .map_err(|e| tracing::warn!(host, error = %e, "cannot build the TLS-ALPN-01 certificate"))
        .ok()?;
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(intermediate_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .ok()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(ck)));
    cfg.alpn_protocols = vec![ALPN_ACME_TLS.to_vec()];
    Some(Arc::new(cfg))
}
