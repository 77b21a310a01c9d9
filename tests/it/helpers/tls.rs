//! ClinicBox serving HTTPS in-process, and TLS clients that check what is served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clinicbox::app::AppState;
use clinicbox::config::{Config, TlsMode};
use clinicbox::db::migrate::Migrations;
use clinicbox::ops::clock::{Clock, SystemClock};
use clinicbox::tls::Tls;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::{TestDb, test_secrets};

/// Listeners bound first, so that their ports can go into pebble's configuration.
pub struct Ports {
    pub http: TcpListener,
    pub https: TcpListener,
}

impl Ports {
    pub async fn bind() -> Self {
        Self {
            http: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            https: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }
    pub fn http_port(&self) -> u16 {
        self.http.local_addr().unwrap().port()
    }
    pub fn https_port(&self) -> u16 {
        self.https.local_addr().unwrap().port()
    }
}

pub struct TlsApp {
    pub http: SocketAddr,
    pub https: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TlsApp {
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), &mut self.server).await;
    }
}

/// `clinicbox serve` with TLS, in this process, on the real system clock (certificates and
/// the CA live in real time).
pub async fn spawn(tdb: &TestDb, ports: Ports, adjust: impl FnOnce(&mut Config)) -> TlsApp {
    let mut config = tdb.config();
    config.tls.mode = TlsMode::Acme;
    config.server.http_listen = ports.http.local_addr().unwrap();
    config.server.https_listen = ports.https.local_addr().unwrap();
    adjust(&mut config);
    let tls = Tls::new(config.tls.mode).unwrap();
    if config.tls.mode == TlsMode::Manual {
        tls.load_manual(&config.tls).unwrap();
    }
    let state = AppState::new(
        config.clone(),
        tdb.db.clone(),
        Arc::new(SystemClock) as Arc<dyn Clock>,
        Migrations::embedded(),
        test_secrets(),
    );
    let (tx, rx) = oneshot::channel::<()>();
    let http = ports.http.local_addr().unwrap();
    let https = ports.https.local_addr().unwrap();
    let server = tokio::spawn(clinicbox::app::serve_tls(
        state,
        tls,
        ports.http,
        ports.https,
        async {
            let _ = rx.await;
        },
    ));
    TlsApp {
        http,
        https,
        shutdown: Some(tx),
        server,
    }
}

struct Fixed(SocketAddr);

impl reqwest::dns::Resolve for Fixed {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move {
            Ok(Box::new(std::iter::once(addr)) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// An HTTPS client that trusts only `root_pem` and sends every name to `addr`.
pub fn verified_client(addr: SocketAddr, root_pem: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Fixed(addr)))
        .tls_certs_only([reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap()])
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// An HTTPS client that accepts any certificate (to look at fallbacks).
pub fn any_cert_client(addr: SocketAddr) -> reqwest::Client {
    any_cert_builder(addr).build().unwrap()
}

/// Like `any_cert_client`, keeping cookies like a browser.
pub fn any_cert_browser_client(addr: SocketAddr) -> reqwest::Client {
    any_cert_builder(addr).cookie_store(true).build().unwrap()
}

fn any_cert_builder(addr: SocketAddr) -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Fixed(addr)))
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
}

pub fn peer_cert(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("peer certificate")
        .to_vec()
}

pub fn cert_info(der: &[u8]) -> clinicbox::tls::certs::CertInfo {
    clinicbox::tls::certs::info(&CertificateDer::from(der.to_vec())).unwrap()
}

/// One TLS connection kept open across requests (HTTP/1.1 keep-alive), verified against
/// `root_pem`.
pub struct OpenConnection {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    host: String,
}

impl OpenConnection {
    pub async fn open(addr: SocketAddr, host: &str, root_pem: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        for c in clinicbox::tls::certs::parse_chain(root_pem).unwrap() {
            roots.add(c).unwrap();
        }
        let mut cfg = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = connector
            .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
            .await
            .expect("verified TLS handshake");
        Self {
            stream,
            host: host.to_owned(),
        }
    }

    pub fn leaf(&self) -> Vec<u8> {
        self.stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    }

    /// Writes raw bytes (e.g. a request whose body never comes).
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
        self.stream.flush().await.unwrap();
    }

    /// The status line's code of the next response, or `None` if the server closed the
    /// connection without one.
    pub async fn status(&mut self) -> Option<u16> {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n") {
            match self.stream.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return None,
            }
        }
        String::from_utf8_lossy(&head)
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// `GET path` on this connection; the status code.
    pub async fn get(&mut self, path: &str) -> u16 {
        let req = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.stream.write_all(req.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = self.stream.read(&mut byte).await.unwrap();
            assert_eq!(n, 1, "connection closed by the server");
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).await.unwrap();
        head.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

/// Polls `check` until it returns `Some`, or fails the test after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
