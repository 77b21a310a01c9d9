//! The certificates this process serves, picked per handshake by SNI.
//!
//! Order of preference for a name: its ACME certificate, a manual certificate that covers it,
//! then a self-signed fallback: per known host (so the browser at least shows the right name),
//! one shared certificate for every other name. A connection never fails for lack of a
//! certificate, and an unknown name never costs more than a map lookup.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::ops::clock::SystemClock;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::certs::{self, CertError, CertInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Acme,
    Manual,
}

#[derive(Clone)]
pub struct Served {
    pub key: Arc<CertifiedKey>,
    pub info: CertInfo,
    pub source: Source,
}

impl Served {
    pub fn new(key: Arc<CertifiedKey>, source: Source) -> Result<Self, CertError> {
        let info = certs::info(&key.cert[0])?;
        Ok(Self { key, info, source })
    }

    fn valid_at(&self, now: DateTime<Utc>) -> bool {
        self.info.not_before <= now && now < self.info.not_after
    }
}

#[derive(Default)]
struct Inner {
    /// Hosts this installation answers for (console and active clinics).
    known: HashSet<String>,
    acme: HashMap<String, Served>,
    manual: Vec<Served>,
    fallbacks: HashMap<String, Arc<CertifiedKey>>,
}

pub struct CertStore {
    inner: RwLock<Inner>,
    anonymous: Arc<CertifiedKey>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertStore")
    }
}

/// What is served for one name, for status pages and HSTS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serving {
    Acme,
    Manual,
    Fallback,
}

impl CertStore {
    pub fn new() -> Result<Self, CertError> {
        Ok(Self {
            inner: RwLock::new(Inner::default()),
            anonymous: certs::self_signed(None)?,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_known(&self, hosts: impl IntoIterator<Item = String>) {
        let known: HashSet<String> = hosts.into_iter().collect();
        let mut g = self.write();
        g.fallbacks.retain(|h, _| known.contains(h));
        g.known = known;
    }

    pub fn is_known(&self, host: &str) -> bool {
        self.read().known.contains(host)
    }

    pub fn set_acme(&self, host: &str, served: Served) {
        self.write().acme.insert(host.to_owned(), served);
    }

    pub fn remove_acme(&self, host: &str) {
        self.write().acme.remove(host);
    }

    /// The ACME certificate currently loaded for `host`.
    pub fn acme_info(&self, host: &str) -> Option<CertInfo> {
        self.read().acme.get(host).map(|s| s.info.clone())
    }

    pub fn set_manual(&self, served: Vec<Served>) {
        self.write().manual = served;
    }

    pub fn manual_infos(&self) -> Vec<CertInfo> {
        self.read().manual.iter().map(|s| s.info.clone()).collect()
    }

    /// The real certificate for `host` at `now`, if any.
    fn real(&self, host: &str, now: DateTime<Utc>) -> Option<(Arc<CertifiedKey>, Serving)> {
        let g = self.read();
        if let Some(s) = g.acme.get(host).filter(|s| s.valid_at(now)) {
            return Some((s.key.clone(), Serving::Acme));
        }
        g.manual
            .iter()
            .find(|s| s.valid_at(now) && s.info.covers(host))
            .map(|s| (s.key.clone(), Serving::Manual))
    }

    /// What a client asking for `host` gets now.
    pub fn serving(&self, host: &str) -> Serving {
        self.real(host, SystemClock.now())
            .map_or(Serving::Fallback, |(_, how)| how)
    }

    /// The certificate for a handshake naming `sni` (or none).
    pub fn pick(&self, sni: Option<&str>) -> Arc<CertifiedKey> {
        let now = SystemClock.now();
        let Some(host) = sni.map(str::to_ascii_lowercase) else {
            // Clients that connect by IP address: the manual certificate if there is one.
            let g = self.read();
            return g
                .manual
                .iter()
                .find(|s| s.valid_at(now))
                .map_or_else(|| self.anonymous.clone(), |s| s.key.clone());
        };
        if let Some((key, _)) = self.real(&host, now) {
            return key;
        }
        {
            let g = self.read();
            if let Some(k) = g.fallbacks.get(&host) {
                return k.clone();
            }
            if !g.known.contains(&host) {
                return self.anonymous.clone();
            }
        }
        // A known host without a certificate yet: made once, kept until the host goes away.
        match certs::self_signed(Some(&host)) {
            Ok(k) => {
                self.write().fallbacks.insert(host, k.clone());
                k
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot create a fallback certificate");
                self.anonymous.clone()
            }
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(host: &str) -> Served {
        let key = certs::generate_key().unwrap();
        let mut p = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "Test CA");
        p.distinguished_name = dn;
        let cert = p.self_signed(&key).unwrap();
        let ck = certs::certified_key(vec![cert.der().clone()], certs::key_der(&key)).unwrap();
        Served::new(ck, Source::Acme).unwrap()
    }

    #[test]
    fn picks_acme_then_manual_then_fallbacks() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = CertStore::new().unwrap();
        store.set_known(["a.test".to_owned(), "b.test".to_owned()]);
        let a = served("a.test");
        store.set_acme("a.test", a.clone());
        assert!(Arc::ptr_eq(&store.pick(Some("A.test")), &a.key));
        assert_eq!(store.serving("a.test"), Serving::Acme);

        // Known but without a certificate: its own self-signed one, made once.
        let b1 = store.pick(Some("b.test"));
        let b2 = store.pick(Some("b.test"));
        assert!(Arc::ptr_eq(&b1, &b2));
        assert!(certs::info(&b1.cert[0]).unwrap().covers("b.test"));
        assert_eq!(store.serving("b.test"), Serving::Fallback);

        // Unknown names and no SNI: the shared anonymous certificate, never a new one.
        let u = store.pick(Some("evil.example"));
        assert!(Arc::ptr_eq(&u, &store.anonymous));
        assert!(Arc::ptr_eq(&store.pick(None), &store.anonymous));

        let mut m = served("*.test");
        m.source = Source::Manual;
        store.set_manual(vec![m.clone()]);
        assert!(Arc::ptr_eq(&store.pick(Some("b.test")), &m.key));
        assert!(Arc::ptr_eq(&store.pick(None), &m.key));
        assert_eq!(store.serving("b.test"), Serving::Manual);
        assert!(
            Arc::ptr_eq(&store.pick(Some("a.test")), &a.key),
            "ACME wins"
        );

        store.set_known(["a.test".to_owned()]);
        assert!(!store.is_known("b.test"));
    }
}
