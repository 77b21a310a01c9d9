//! Before ordering: does the name resolve, and does it lead here? A CA validation that is bound
//! to fail costs one of the CA's few allowed failures per hour, and the operator deserves a
//! clearer sentence than the CA's.
//!
//! The DNS answer is checked first. Then each address is asked over HTTP for a random probe
//! token that only this installation knows: an answer with the token proves the name reaches
//! us; an answer without it proves DNS points at another server. When nothing answers (port 80
//! closed, or a NAT that cannot reach its own public address) the order goes ahead and the CA
//! decides.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::repo;

pub struct Preflight {
    resolver: TokioResolver,
    http_port: u16,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An address answered with our probe.
    Reaches,
    /// Nothing answered; the CA will find out.
    Unreachable(String),
}

impl Preflight {
    pub fn new(resolver: Option<SocketAddr>, http_port: u16) -> Result<Self, String> {
        let resolver = match resolver {
            Some(addr) => TokioResolver::builder_with_config(
                ResolverConfig::from_parts(
                    None,
                    vec![],
                    NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true),
                ),
                TokioConnectionProvider::default(),
            )
            .build(),
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's DNS configuration: {e}"))?
                .build(),
        };
        Ok(Self {
            resolver,
            http_port,
        })
    }

    pub async fn check(&self, pool: &PgPool, host: &str) -> Result<Verdict, String> {
        let ips = self.resolve(host).await?;
        let token = format!(
            "clinicbox-probe-{}",
            hex::encode(crate::ops::secrets::random_bytes::<16>().map_err(|e| e.to_string())?)
        );
        let expected =
            hex::encode(crate::ops::secrets::random_bytes::<16>().map_err(|e| e.to_string())?);
        repo::put_challenge(
            pool,
            &token,
            host,
            "http-01",
            &expected,
            crate::ops::clock::SystemClock.now(),
        )
        .await
        .map_err(|e| format!("cannot store the probe: {e}"))?;
        let mut elsewhere = Vec::new();
        let mut unreachable = Vec::new();
        for ip in ips.iter().take(4) {
            let addr = SocketAddr::new(*ip, self.http_port);
            match probe(addr, host, &token).await {
                Ok(body) if body.trim() == expected => {
                    let _ = repo::delete_challenge(pool, &token).await;
                    return Ok(Verdict::Reaches);
                }
                Ok(_) => elsewhere.push(ip.to_string()),
                Err(e) => unreachable.push(format!("{addr} ({e})")),
            }
        }
        let _ = repo::delete_challenge(pool, &token).await;
        if !elsewhere.is_empty() && unreachable.is_empty() {
            return Err(format!(
                "DNS for {host} points at {}, which answers but is not this server; point the A/AAAA records at this server's public address",
                elsewhere.join(", ")
            ));
        }
        Ok(Verdict::Unreachable(unreachable.join(", ")))
    }

    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let lookup = tokio::time::timeout(Duration::from_secs(10), self.resolver.lookup_ip(host))
            .await
            .map_err(|_| {
                format!("DNS: no answer for {host} within 10 s; check the server's DNS resolver")
            })?;
        match lookup {
            Ok(l) => {
                let ips: Vec<IpAddr> = l.iter().collect();
                if ips.is_empty() {
                    Err(no_record(host))
                } else {
                    Ok(ips)
                }
            }
            Err(e) if e.is_no_records_found() => Err(no_record(host)),
            Err(e) => Err(format!("DNS: cannot resolve {host}: {e}")),
        }
    }
}

/// Where a clinic's own domain points, seen from this server's resolver, next to where the
/// console host points (the server's public address, as DNS knows it).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DnsCheck {
    pub host: String,
    pub state: DnsState,
    /// The host's addresses.
    pub found: Vec<String>,
    /// The console host's addresses: what the host's A/AAAA records should hold.
    pub expected: Vec<String>,
    /// What the resolver said, when it said no.
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsState {
    /// At least one address is the console host's: the name leads here.
    Here,
    /// It resolves, but to other addresses.
    Elsewhere,
    /// No A or AAAA record (yet).
    Missing,
    /// The resolver failed, or the console host does not resolve either.
    Unknown,
}

impl DnsState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Here => "here",
            Self::Elsewhere => "elsewhere",
            Self::Missing => "missing",
            Self::Unknown => "unknown",
        }
    }
}

impl Preflight {
    /// Looks `host` up and compares it with `console_host`.
    pub async fn dns_check(&self, console_host: &str, host: &str) -> DnsCheck {
        let (found, expected) = tokio::join!(self.resolve(host), self.resolve(console_host));
        let texts = |ips: &[IpAddr]| {
            let mut v: Vec<String> = ips.iter().map(ToString::to_string).collect();
            v.sort();
            v
        };
        let mut check = DnsCheck {
            host: host.to_owned(),
            state: DnsState::Unknown,
            found: Vec::new(),
            expected: expected.as_deref().map(texts).unwrap_or_default(),
            error: None,
        };
        match (found, expected) {
            (Err(e), _) if e == no_record(host) => check.state = DnsState::Missing,
            (Err(e), _) => check.error = Some(e),
            (Ok(ips), Err(e)) => {
                check.found = texts(&ips);
                check.error = Some(e);
            }
            (Ok(ips), Ok(ours)) => {
                check.found = texts(&ips);
                check.state = if ips.iter().any(|ip| ours.contains(ip)) {
                    DnsState::Here
                } else {
                    DnsState::Elsewhere
                };
            }
        }
        check
    }
}

fn no_record(host: &str) -> String {
    format!(
        "DNS: {host} has no A or AAAA record; create one pointing at this server's public address"
    )
}

/// `GET /.well-known/acme-challenge/<token>` over plain HTTP/1.1; the body of a 200 answer.
async fn probe(addr: SocketAddr, host: &str, token: &str) -> Result<String, String> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.kind().to_string())?;
        let req = format!(
            "GET /.well-known/acme-challenge/{token} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: clinicbox-preflight\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(1024);
        (&mut s)
            .take(16 * 1024)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let ok = head
            .lines()
            .next()
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("200"));
        Ok(if ok { body.to_owned() } else { String::new() })
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| "timed out".to_owned())?
}
