//! Certificates and keys: PEM parsing, what a certificate says (issuer, names, validity), ECDSA
//! P-256 keys and CSRs, self-signed fallbacks and TLS-ALPN-01 challenge certificates.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{0}")]
    Pem(String),
    #[error("the private key does not match the certificate or is not supported: {0}")]
    Key(String),
    #[error("cannot read the certificate: {0}")]
    Parse(String),
    #[error("cannot create a key or certificate: {0}")]
    Generate(String),
}

/// What a leaf certificate says about itself, for status pages and renewal planning.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CertInfo {
    pub issuer: String,
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub self_signed: bool,
}

impl CertInfo {
    pub fn covers(&self, host: &str) -> bool {
        self.names.iter().any(|n| name_matches(n, host))
    }

    pub fn lifetime(&self) -> chrono::Duration {
        self.not_after - self.not_before
    }
}

/// `*.example.com` covers exactly one label; everything else must be equal.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => pattern == host,
    }
}

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in a PEM text, leaf first.
pub fn parse_chain(pem: &str) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Pem(format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(CertError::Pem("no CERTIFICATE block found".into()));
    }
    Ok(chain)
}

/// The first private key in a PEM text (PKCS#8, SEC1 or PKCS#1).
pub fn parse_key(pem: &str) -> Result<PrivateKeyDer<'static>, CertError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| CertError::Pem(format!("no private key found: {e}")))
}

/// A chain and its key, checked to belong together.
pub fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<CertifiedKey>, CertError> {
    CertifiedKey::from_der(chain, key, &provider())
        .map(Arc::new)
        .map_err(|e| CertError::Key(e.to_string()))
}

pub fn info(leaf: &CertificateDer<'_>) -> Result<CertInfo, CertError> {
    use x509_parser::prelude::*;
    let (_, cert) =
        X509Certificate::from_der(leaf.as_ref()).map_err(|e| CertError::Parse(e.to_string()))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_ascii_lowercase()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        names.push(std::net::IpAddr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        names.push(std::net::IpAddr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let ts = |t: ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| CertError::Parse("validity date out of range".into()))
    };
    let issuer = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| cert.issuer().to_string());
    Ok(CertInfo {
        issuer,
        names,
        not_before: ts(cert.validity().not_before)?,
        not_after: ts(cert.validity().not_after)?,
        self_signed: cert.issuer() == cert.subject(),
    })
}

/// A fresh ECDSA P-256 key (PKCS#8 DER).
pub fn generate_key() -> Result<KeyPair, CertError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CertError::Generate(e.to_string()))
}

pub fn key_der(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// A certificate signing request for one hostname.
pub fn csr(host: &str, key: &KeyPair) -> Result<Vec<u8>, CertError> {
    let mut params = CertificateParams::new(vec![host.to_owned()])
        .map_err(|e| CertError::Generate(e.to_string()))?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params
        .serialize_request(key)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    Ok(csr.der().to_vec())
}

/// A self-signed certificate for `host` (or, without one, for no name at all): served until a
/// real certificate exists, so that a connection never fails outright.
pub fn self_signed(host: Option<&str>) -> Result<Arc<CertifiedKey>, CertError> {
    let key = generate_key()?;
    let mut params =
        CertificateParams::new(host.map(str::to_owned).into_iter().collect::<Vec<_>>())
            .map_err(|e| CertError::Generate(e.to_string()))?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        host.unwrap_or("ClinicBox (no certificate for this name)"),
    );
    dn.push(DnType::OrganizationName, "ClinicBox temporary certificate");
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(30);
    let cert = params
        .self_signed(&key)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    certified_key(vec![cert.der().clone()], key_der(&key))
}

/// The certificate a TLS-ALPN-01 validation expects (RFC 8737): the hostname, and the SHA-256
/// of the key authorization in the critical acmeIdentifier extension.
pub fn alpn_challenge(host: &str, digest: &[u8]) -> Result<Arc<CertifiedKey>, CertError> {
    let key = generate_key()?;
    let mut params = CertificateParams::new(vec![host.to_owned()])
        .map_err(|e| CertError::Generate(e.to_string()))?;
    params.distinguished_name = DistinguishedName::new();
    params.custom_extensions = vec![CustomExtension::new_acme_identifier(digest)];
    let cert = params
        .self_signed(&key)
        .map_err(|e| CertError::Generate(e.to_string()))?;
    // Not `certified_key`: its consistency check parses the certificate with webpki, which
    // (rightly, for normal use) refuses the critical acmeIdentifier extension.
    let signer = provider()
        .key_provider
        .load_private_key(key_der(&key))
        .map_err(|e| CertError::Key(e.to_string()))?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signer,
    )))
}

pub fn chain_to_pem(chain: &[CertificateDer<'_>]) -> String {
    let mut out = String::new();
    for c in chain {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = data_encoding::BASE64.encode(c.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("*.clinics.example", "demo.clinics.example"));
        assert!(!name_matches("*.clinics.example", "a.b.clinics.example"));
        assert!(!name_matches("*.clinics.example", "clinics.example"));
        assert!(name_matches("Admin.Example", "admin.example"));
        assert!(!name_matches("admin.example", "other.example"));
    }

    #[test]
    fn self_signed_fallback_names_the_host() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ck = self_signed(Some("demo.clinics.test")).unwrap();
        let i = info(&ck.cert[0]).unwrap();
        assert!(i.self_signed);
        assert!(i.covers("demo.clinics.test"));
        assert!(!i.covers("other.clinics.test"));
        let anon = self_signed(None).unwrap();
        assert!(info(&anon.cert[0]).unwrap().names.is_empty());
    }

    #[test]
    fn pem_round_trip_and_key_mismatch() {
        let key = generate_key().unwrap();
        let mut p = CertificateParams::new(vec!["a.test".to_owned()]).unwrap();
        p.distinguished_name = DistinguishedName::new();
        let cert = p.self_signed(&key).unwrap();
        let pem = chain_to_pem(&[cert.der().clone()]);
        let chain = parse_chain(&pem).unwrap();
        assert_eq!(chain[0].as_ref(), cert.der().as_ref());
        let good = parse_key(&key.serialize_pem()).unwrap();
        assert!(certified_key(chain.clone(), good).is_ok());
        let other = generate_key().unwrap();
        let err = certified_key(chain, key_der(&other)).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(parse_chain("hello").is_err());
        assert!(parse_key("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").is_err());
    }

    #[test]
    fn csr_and_challenge_certificate_are_p256() {
        let key = generate_key().unwrap();
        assert!(!csr("demo.clinics.test", &key).unwrap().is_empty());
        let ck = alpn_challenge("demo.clinics.test", &[7u8; 32]).unwrap();
        use x509_parser::prelude::*;
        let (_, c) = X509Certificate::from_der(ck.cert[0].as_ref()).unwrap();
        let acme_id = c
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(acme_id.critical);
    }
}
