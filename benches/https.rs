//! `cargo bench --bench https [-- PATIENTS]`: the HTTPS listener on ONE server core.
//!
//! 1. New TLS connections per second, full handshakes and resumed ones (TLS 1.3 tickets),
//!    each carrying one `GET /healthz` (so the client also reads the session tickets); the
//!    server runs on a single-threaded runtime, and its thread's CPU time gives the figure
//!    per core.
//! 2. Request throughput over keep-alive HTTPS with `wrk` (apt-get install wrk): `/healthz`,
//!    and the patient list page `/patients?q=<family name>` of a signed-in doctor in a clinic
//!    with PATIENTS patients (default 100,000; each request also writes its audit row).
//!
//! PostgreSQL runs with fsync on, in a temp dir; everything is on loopback. The client shares
//! the machine, so the figures are a floor for the server alone.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clinicbox::app::AppState;
use clinicbox::config::TlsMode;
use clinicbox::db::TenantDb;
use clinicbox::db::migrate::Migrations;
use clinicbox::domain::auth::{Accounts, Role, service};
use clinicbox::ops::clock::SystemClock;
use clinicbox::ops::secrets::Secrets;
use clinicbox::tls::Tls;
use common::{BoxError, setup};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "velvet-harbor-piano-73";
const HOST: &str = "alpha.clinics.test";

/// Server thread CPU seconds (user + system) from /proc.
fn thread_cpu(tid: i32) -> Result<f64, BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))?;
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime); `after_comm` starts at field 3.
    let ticks: f64 = f[11].parse::<f64>()? + f[12].parse::<f64>()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)?.unwrap_or(100) as f64;
    Ok(ticks / hz)
}

struct Server {
    addr: SocketAddr,
    tid: i32,
    ca_pem: String,
}

/// ClinicBox's HTTPS listener with a manual certificate, on a one-thread runtime.
fn start_server(
    url: String,
    dir: &std::path::Path,
    mut config: clinicbox::config::Config,
) -> Result<Server, BoxError> {
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
    let key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(vec![
        "*.clinics.test".to_owned(),
        "admin.clinics.test".to_owned(),
    ])?
    .signed_by(&key, &ca)?;
    std::fs::write(dir.join("cert.pem"), format!("{}{}", leaf.pem(), ca.pem()))?;
    std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
    config.tls.mode = TlsMode::Manual;
    config.tls.cert_file = Some(dir.join("cert.pem"));
    config.tls.key_file = Some(dir.join("key.pem"));
    let https = std::net::TcpListener::bind("127.0.0.1:0")?;
    let http = std::net::TcpListener::bind("127.0.0.1:0")?;
    https.set_nonblocking(true)?;
    http.set_nonblocking(true)?;
    let addr = https.local_addr()?;
    let (tx, rx) = std::sync::mpsc::channel::<Result<i32, String>>();
    std::thread::spawn(move || {
        let tid = nix::unistd::gettid().as_raw();
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        rt.block_on(async move {
            let started = async {
                let pool = clinicbox::db::pool_options(10).connect(&url).await?;
                let db = clinicbox::db::Db::from_pool(pool).await?;
                let tls = Tls::new(TlsMode::Manual)?;
                tls.load_manual(&config.tls)?;
                let state = AppState::new(
                    config,
                    db,
                    Arc::new(SystemClock),
                    Migrations::embedded(),
                    Secrets::from_bytes([3u8; 32])?,
                );
                Ok::<_, BoxError>((state, tls))
            }
            .await;
            let (state, tls) = match started {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            let (Ok(https), Ok(http)) = (
                tokio::net::TcpListener::from_std(https),
                tokio::net::TcpListener::from_std(http),
            ) else {
                let _ = tx.send(Err("cannot adopt listeners".into()));
                return;
            };
            let _ = tx.send(Ok(tid));
            let _ =
                clinicbox::app::serve_tls(state, tls, http, https, std::future::pending()).await;
        });
    });
    let tid = rx.recv()??;
    Ok(Server {
        addr,
        tid,
        ca_pem: ca.pem(),
    })
}

fn client_config(ca_pem: &str, resume: bool) -> Result<Arc<rustls::ClientConfig>, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    for c in clinicbox::tls::certs::parse_chain(ca_pem)? {
        roots.add(c)?;
    }
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(cfg))
}

/// One new connection: handshake, `GET /healthz`, read the answer, close.
async fn one_connection(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> Result<bool, BoxError> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let mut s = connector.connect(ServerName::try_from(HOST)?, tcp).await?;
    let resumed = s.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    s.write_all(
        format!("GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok();
    if !buf.starts_with(b"HTTP/1.1 200") {
        return Err("unexpected answer".into());
    }
    Ok(resumed)
}

async fn handshakes(server: &Server, resume: bool, secs: u64) -> Result<(), BoxError> {
    let connector = tokio_rustls::TlsConnector::from(client_config(&server.ca_pem, resume)?);
    one_connection(server.addr, &connector).await?; // warm up, and a ticket to resume with
    let done = Arc::new(AtomicU64::new(0));
    let resumed = Arc::new(AtomicU64::new(0));
    let cpu0 = thread_cpu(server.tid)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, d, r, addr) = (
            connector.clone(),
            done.clone(),
            resumed.clone(),
            server.addr,
        );
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                match one_connection(addr, &c).await {
                    Ok(res) => {
                        d.fetch_add(1, Ordering::Relaxed);
                        if res {
                            r.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) => eprintln!("connection failed: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = thread_cpu(server.tid)? - cpu0;
    let n = done.load(Ordering::Relaxed) as f64;
    let r = resumed.load(Ordering::Relaxed);
    println!(
        "  {:<10} {:>7.0} conn/s wall   {:>7.0} per server CPU-second   server CPU {:>3.0}%   ({} of {} resumed)",
        if resume { "resumed" } else { "full" },
        n / wall,
        n / cpu.max(0.001),
        cpu / wall * 100.0,
        r,
        n as u64
    );
    Ok(())
}

/// Signs in over HTTPS and returns the session cookie (`name=value`).
async fn session_cookie(server: &Server, email: &str) -> Result<String, BoxError> {
    let c = reqwest::Client::builder()
        .resolve(HOST, server.addr)
        .tls_certs_only([reqwest::Certificate::from_pem(server.ca_pem.as_bytes())?])
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let base = format!("https://{HOST}:{}", server.addr.port());
    let page = c.get(format!("{base}/login")).send().await?.text().await?;
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let r = c
        .post(format!("{base}/login"))
        .header("Origin", &base)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-clinicbox="))
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie after sign-in")?;
    Ok(cookie.to_owned())
}

fn wrk(
    server: &Server,
    path: &str,
    cookie: Option<&str>,
    conns: u32,
    secs: u32,
) -> Result<(), BoxError> {
    let url = format!("https://127.0.0.1:{}{path}", server.addr.port());
    let mut cmd = std::process::Command::new("wrk");
    cmd.args([
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{secs}s"),
        "--latency",
    ])
    .args(["-H", &format!("Host: {HOST}")]);
    if let Some(c) = cookie {
        cmd.args(["-H", &format!("Cookie: {c}")]);
    }
    cmd.arg(&url);
    let cpu0 = thread_cpu(server.tid)?;
    let out = cmd.output()?;
    if !out.status.success() || std::env::var_os("BENCH_VERBOSE").is_some() {
        eprintln!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let cpu = thread_cpu(server.tid)? - cpu0;
    let text = String::from_utf8_lossy(&out.stdout);
    let grab = |key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(key))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let rps = grab("Requests/sec:")
        .get(1)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let p50 = grab("50%")
        .get(1)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let p99 = grab("99%")
        .get(1)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let non2xx = grab("Non-2xx")
        .get(4)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "0".into());
    println!(
        "  {path:<28} {rps:>9} req/s   p50 {p50:>8}   p99 {p99:>8}   server CPU {:>3.0}%   non-2xx {non2xx}",
        cpu / f64::from(secs) * 100.0
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let patients: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.replace('_', "").parse().ok())
        .unwrap_or(100_000);
    let b = setup(false).await?;
    let t = b.tenant("alpha").await?;
    let started = Instant::now();
    clinicbox::ops::seed::bulk_patients(&b.db, &t, patients, |_| {}).await?;
    eprintln!(
        "{patients} patients generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let email = "doctor@alpha.test";
    service::create_account(
        &mut tx,
        Accounts::Staff,
        email,
        "Bench Doctor",
        Some(Role::Doctor),
        Some(PASSWORD),
        &[],
        clinicbox::ops::clock::SystemClock.now(),
    )
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&b.db.pool).await?;

    let server = start_server(b.url.clone(), b.dir.path(), b.config()?)?;
    println!("HTTPS on one server core (rustls, ECDSA P-256, X25519), client on the same machine:");
    println!("new connections, each with one GET /healthz (8 concurrent clients, 5 s):");
    handshakes(&server, false, 5).await?;
    handshakes(&server, true, 5).await?;

    let family = clinicbox::ops::seed::FAMILY[0];
    let cookie = session_cookie(&server, email).await?;
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("wrk is not installed (apt-get install wrk): request throughput skipped");
        return Ok(());
    }
    println!("keep-alive requests (wrk -t1 -c16 -d10s --latency):");
    wrk(&server, "/healthz", None, 16, 10)?;
    let q = percent_encoding::utf8_percent_encode(family, percent_encoding::NON_ALPHANUMERIC);
    wrk(&server, &format!("/patients?q={q}"), Some(&cookie), 16, 10)?;
    println!(
        "  (patient list: top 50 matches for \"{family}\" among {patients} patients, one audit row per request)"
    );
    Ok(())
}
