//! `clinicbox check --remote https://host`: what a browser or monitor sees. The certificate
//! chain is verified (system roots, plus `--ca-file`), then over that connection `/healthz`,
//! `/readyz`, the security headers of a page and the API's refusal without a token; and the
//! plain-HTTP port must redirect to HTTPS.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Report;

pub struct Options {
    pub url: String,
    /// PEM file with an extra trusted root (a private or test CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// Connect to this address instead of resolving the host (like curl's --resolve).
    pub resolve: Option<IpAddr>,
    /// The plain-HTTP port that must redirect (80).
    pub http_port: u16,
}

const TIMEOUT: Duration = Duration::from_secs(10);

struct Target {
    host: String,
    port: u16,
}

fn parse_url(url: &str) -> Result<Target, String> {
    let u = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
    if u.scheme() != "https" {
        return Err(format!("{url}: give the https:// address of the server"));
    }
    let host = u
        .host_str()
        .ok_or_else(|| format!("{url}: no host name"))?
        .to_owned();
    Ok(Target {
        host,
        port: u.port().unwrap_or(443),
    })
}

fn roots(ca_file: Option<&std::path::Path>) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let certs =
            crate::tls::certs::parse_chain(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(roots)
}

async fn addr(opts: &Options, t: &Target, port: u16) -> Result<SocketAddr, String> {
    if let Some(ip) = opts.resolve {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((t.host.as_str(), port)))
        .await
        .map_err(|_| format!("DNS: no answer for {} within 10 s", t.host))?
        .map_err(|e| format!("DNS: {} does not resolve ({e})", t.host))?
        .next()
        .ok_or_else(|| format!("DNS: {} has no address", t.host))
}

pub async fn run(opts: &Options) -> Report {
    let mut r = Report::default();
    let t = match parse_url(&opts.url) {
        Ok(t) => t,
        Err(e) => {
            r.fail("url", e);
            return r;
        }
    };
    let roots = match roots(opts.ca_file.as_deref()) {
        Ok(roots) => roots,
        Err(e) => {
            r.fail("trusted roots", e);
            return r;
        }
    };
    let target = match addr(opts, &t, t.port).await {
        Ok(a) => a,
        Err(e) => {
            r.fail("dns", e);
            return r;
        }
    };
    r.ok("dns", format!("{} → {}", t.host, target.ip()));
    https(&mut r, &t, target, roots).await;
    redirect(&mut r, opts, &t).await;
    r
}

async fn https(r: &mut Report, t: &Target, target: SocketAddr, roots: rustls::RootCertStore) {
    let mut config = rustls::ClientConfig::builder_with_provider(crate::tls::certs::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    let Ok(config) = config.as_mut() else {
        r.fail("tls", "cannot set up TLS");
        return;
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config.clone()));
    let Ok(name) = ServerName::try_from(t.host.clone()) else {
        r.fail("tls", format!("{} is not a valid server name", t.host));
        return;
    };
    let tcp = match tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            r.fail(
                "https port",
                format!(
                    "cannot connect to {target}: {e}; is port {} open in the firewall?",
                    t.port
                ),
            );
            return;
        }
        Err(_) => {
            r.fail(
                "https port",
                format!("{target}: no answer within 10 s (firewall?)"),
            );
            return;
        }
    };
    r.ok("https port", format!("{target} accepts connections"));
    let tls = match tokio::time::timeout(TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            r.fail(
                "certificate",
                format!("the certificate for {} is not trusted: {e}. A new host is served with a temporary self-signed certificate until its real one arrives: `clinicbox cert status`", t.host),
            );
            return;
        }
        Err(_) => {
            r.fail("certificate", "TLS handshake: no answer within 10 s");
            return;
        }
    };
    {
        let (_, conn) = tls.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        match conn.peer_certificates().and_then(|c| c.first()) {
            Some(leaf) => leaf_report(r, t, leaf, &version),
            None => r.fail("certificate", "the server sent no certificate"),
        }
    }
    drop(tls);
    // One connection per request, as a monitor makes them.
    let get = async |path: &str| fetch(&connector, target, &t.host, path).await;
    match get("/healthz").await {
        Ok((200, _, _)) => r.ok("healthz", "200"),
        Ok((s, _, _)) => r.fail("healthz", format!("answered {s}")),
        Err(e) => r.fail("healthz", e),
    }
    match get("/readyz").await {
        Ok((200, _, body)) => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            r.ok("readyz", "ready (database reachable, schema current)");
            if let Some(w) = v["checks"]["backup"]["warning"].as_str() {
                r.warn("backups", w.to_owned());
            }
        }
        Ok((s, _, body)) => {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            r.fail(
                "readyz",
                format!("{s}: {}", v["reason"].as_str().unwrap_or("not ready")),
            );
        }
        Err(e) => r.fail("readyz", e),
    }
    match get("/login").await {
        Ok((status, headers, _)) => security_headers(r, status, &headers),
        Err(e) => r.fail("security headers", e),
    }
    match get("/api/v1/patients").await {
        Ok((401, _, _)) => r.ok(
            "api authentication",
            "/api/v1/patients without a token: 401",
        ),
        Ok((404, _, _)) => r.ok(
            "api authentication",
            "/api/v1/patients is not served on this host (404); check a clinic host for the API",
        ),
        Ok((s, _, _)) => r.fail(
            "api authentication",
            format!("/api/v1/patients without a token answered {s}, not 401"),
        ),
        Err(e) => r.fail("api authentication", e),
    }
}

async fn fetch(
    connector: &tokio_rustls::TlsConnector,
    target: SocketAddr,
    host: &str,
    path: &str,
) -> Result<(u16, hyper::HeaderMap, String), String> {
    let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
    let tcp = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(target))
        .await
        .map_err(|_| format!("{path}: no connection within 10 s"))?
        .map_err(|e| format!("{path}: {e}"))?;
    let tls = tokio::time::timeout(TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| format!("{path}: TLS handshake: no answer within 10 s"))?
        .map_err(|e| format!("{path}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    let conn = tokio::spawn(conn);
    let req = Request::get(path)
        .header(hyper::header::HOST, host)
        .header(
            hyper::header::USER_AGENT,
            concat!("clinicbox-check/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::CONNECTION, "close")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let result = async {
        let resp = tokio::time::timeout(TIMEOUT, sender.send_request(req))
            .await
            .map_err(|_| format!("{path}: no answer within 10 s"))?
            .map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = tokio::time::timeout(TIMEOUT, resp.into_body().collect())
            .await
            .map_err(|_| format!("{path}: body not received within 10 s"))?
            .map_err(|e| format!("{path}: {e}"))?
            .to_bytes();
        Ok((status, headers, String::from_utf8_lossy(&body).into_owned()))
    }
    .await;
    conn.abort();
    result
}

fn leaf_report(r: &mut Report, t: &Target, leaf: &CertificateDer<'_>, version: &str) {
    match crate::tls::certs::info(leaf) {
        Ok(info) => {
            let days =
                (info.not_after - crate::ops::clock::SystemClock.now()).num_hours() as f64 / 24.0;
            let detail = format!(
                "trusted, issued by {}, {version}, valid for {days:.0} more days",
                info.issuer
            );
            if days < 14.0 {
                r.warn("certificate", format!("{detail}: renewal is late"));
            } else {
                r.ok("certificate", detail);
            }
            if !info.covers(&t.host) {
                r.fail("certificate", format!("does not name {}", t.host));
            }
        }
        Err(e) => r.fail("certificate", e.to_string()),
    }
}

fn security_headers(r: &mut Report, status: u16, h: &hyper::HeaderMap) {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut missing = Vec::new();
    let csp = get("content-security-policy");
    let inline_script = csp.split(';').any(|d| {
        let d = d.trim_start();
        (d.starts_with("script-src") || d.starts_with("default-src"))
            && d.contains("'unsafe-inline'")
    });
    if !csp.contains("frame-ancestors 'none'") || inline_script {
        missing.push("Content-Security-Policy (frame-ancestors 'none', no inline script)");
    }
    if get("x-content-type-options") != "nosniff" {
        missing.push("X-Content-Type-Options: nosniff");
    }
    if get("referrer-policy").is_empty() {
        missing.push("Referrer-Policy");
    }
    if get("permissions-policy").is_empty() {
        missing.push("Permissions-Policy");
    }
    if missing.is_empty() {
        r.ok(
            "security headers",
            format!("/login ({status}): CSP, nosniff, Referrer-Policy, Permissions-Policy"),
        );
    } else {
        r.fail(
            "security headers",
            format!("missing or weak: {}", missing.join(", ")),
        );
    }
    let hsts = get("strict-transport-security");
    if hsts.is_empty() {
        r.warn(
            "hsts",
            "no Strict-Transport-Security header (sent once the host has a certificate from the configured CA and max-age > 0)",
        );
    } else {
        r.ok("hsts", hsts.to_owned());
    }
}

/// Plain HTTP on the same host must answer with a permanent redirect to https.
async fn redirect(r: &mut Report, opts: &Options, t: &Target) {
    let target = match addr(opts, t, opts.http_port).await {
        Ok(a) => a,
        Err(e) => {
            r.fail("http redirect", e);
            return;
        }
    };
    let result = tokio::time::timeout(TIMEOUT, async {
        let mut s = tokio::net::TcpStream::connect(target).await?;
        s.write_all(
            format!(
                "GET /some/page HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                t.host
            )
            .as_bytes(),
        )
        .await?;
        let mut buf = Vec::new();
        s.take(16 * 1024).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf).into_owned())
    })
    .await;
    let text = match result {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            r.fail(
                "http redirect",
                format!(
                    "{target}: {e}; port {} must be open for certificates (HTTP-01) and redirects",
                    opts.http_port
                ),
            );
            return;
        }
        Err(_) => {
            r.fail("http redirect", format!("{target}: no answer within 10 s"));
            return;
        }
    };
    let status = text.split_whitespace().nth(1).unwrap_or("");
    let location = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    if (status == "308" || status == "301") && location.starts_with(&format!("https://{}", t.host))
    {
        r.ok(
            "http redirect",
            format!("http://{}/ → {status} {location}", t.host),
        );
    } else {
        r.fail(
            "http redirect",
            format!(
                "http://{}/some/page answered {status} {location}; expected a 308 to https://",
                t.host
            ),
        );
    }
}
