//! HTTPS with a real ACME CA (pebble), real TLS clients verifying chains per SNI, the HTTP
//! port, manual certificates reloaded by SIGHUP on the real binary.

use std::time::Duration;

use crate::helpers::pebble::{self, Pebble};
use crate::helpers::tls::{self as t, OpenConnection, Ports, eventually};
use crate::helpers::{CONSOLE, TestDb, cli, test_secrets};
use clinicbox::config::{ChallengeKind, Config};
use clinicbox::ops::secrets::Purpose;

const NORTH: &str = "north.clinics.test";
const SOUTH: &str = "south.clinics.test";
const EAST: &str = "east.clinics.test";

fn require_pebble() {
    assert!(
        pebble::available(),
        "pebble and pebble-challtestsrv are needed: apt-get install pebble"
    );
}

fn acme_config(p: &Pebble, challenge: ChallengeKind) -> impl FnOnce(&mut Config) {
    let dir = p.directory.clone();
    let ca = p.api_ca.clone();
    let dns = p.dns;
    move |c: &mut Config| {
        c.tls.acme_directory = dir;
        c.tls.acme_root_ca = Some(ca);
        c.tls.acme_email = Some("ops@clinics.test".into());
        c.tls.challenge = challenge;
        c.tls.preflight = true;
        c.tls.preflight_resolver = Some(dns);
        c.tls.first_retry_secs = 1;
    }
}

async fn issued_hosts(tdb: &TestDb) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT hostname FROM clinicbox.certificates WHERE chain_pem IS NOT NULL ORDER BY 1",
    )
    .fetch_all(&tdb.admin)
    .await
    .unwrap()
}

async fn wait_for_certificates(tdb: &TestDb, hosts: &[&str], limit: Duration) {
    let started = std::time::Instant::now();
    loop {
        let have = issued_hosts(tdb).await;
        if hosts.iter().all(|h| have.iter().any(|x| x == h)) {
            return;
        }
        if started.elapsed() > limit {
            let state: Vec<(String, i32, Option<String>)> = sqlx::query_as(
                "SELECT hostname, failures, last_error FROM clinicbox.certificates ORDER BY 1",
            )
            .fetch_all(&tdb.admin)
            .await
            .unwrap();
            assert!(
                started.elapsed() <= limit,
                "no certificates for all of {hosts:?} after {limit:?}: {state:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every host's chain verifies against pebble's root for its own name, over HTTP/2.
async fn verify_chains(https: std::net::SocketAddr, root: &str, hosts: &[&str]) {
    let client = t::verified_client(https, root);
    for host in hosts {
        let resp = client
            .get(format!("https://{host}:{}/healthz", https.port()))
            .send()
            .await
            .map_err(|e| format!("verified request to {host}: {e:?}"))
            .unwrap();
        assert_eq!(resp.status(), 200, "{host}");
        assert_eq!(
            resp.version(),
            reqwest::Version::HTTP_2,
            "ALPN h2 for {host}"
        );
        assert_eq!(
            resp.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "HSTS once {host} has a real certificate"
        );
        let info = t::cert_info(&t::peer_cert(&resp));
        assert!(info.covers(host), "{host}: {:?}", info.names);
        assert!(!info.self_signed, "{host}");
    }
}

async fn orders(tdb: &TestDb, host: &str) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query_as(
        "SELECT outcome, challenge, error FROM clinicbox.acme_orders WHERE hostname = $1 ORDER BY id",
    )
    .bind(host)
    .fetch_all(&tdb.admin)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http01_certificates_for_console_and_clinics_renewal_and_restart() {
    require_pebble();
    let tdb = TestDb::new().await;
    tdb.create_tenant("north").await;
    tdb.create_tenant("south").await;
    let ports = Ports::bind().await;
    let p = Pebble::start(ports.http_port(), ports.https_port(), 5).await;
    let app = t::spawn(&tdb, ports, acme_config(&p, ChallengeKind::Http01)).await;

    // A name the database does not know gets the anonymous fallback and never an order.
    let stranger = t::any_cert_client(app.https)
        .get(format!(
            "https://stranger.clinics.test:{}/",
            app.https.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
    assert!(
        stranger
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    assert!(t::cert_info(&t::peer_cert(&stranger)).names.is_empty());

    let hosts = [CONSOLE, NORTH, SOUTH];
    wait_for_certificates(&tdb, &hosts, Duration::from_secs(120)).await;
    let root = p.issuing_root().await;
    verify_chains(app.https, &root, &hosts).await;

    for h in hosts {
        let o = orders(&tdb, h).await;
        assert!(
            o.iter()
                .any(|(out, ch, _)| out == "issued" && ch.as_deref() == Some("http-01")),
            "{h}: {o:?}"
        );
    }
    let strangers: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM clinicbox.certificates WHERE hostname LIKE 'stranger%')
              + (SELECT count(*) FROM clinicbox.acme_orders WHERE hostname LIKE 'stranger%')",
    )
    .fetch_one(&tdb.admin)
    .await
    .unwrap();
    assert_eq!(strangers, 0, "no order for an unknown host");

    // One account, stored encrypted; keys stored encrypted.
    let accounts: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT directory_url, credentials_enc FROM clinicbox.acme_account")
            .fetch_all(&tdb.admin)
            .await
            .unwrap();
    assert_eq!(accounts.len(), 1);
    assert!(
        test_secrets()
            .decrypt(Purpose::AcmeAccount, &accounts[0].1)
            .is_ok()
    );
    let key_enc: Vec<u8> =
        sqlx::query_scalar("SELECT key_enc FROM clinicbox.certificates WHERE hostname = $1")
            .bind(NORTH)
            .fetch_one(&tdb.admin)
            .await
            .unwrap();
    let key_der = test_secrets().decrypt(Purpose::TlsKey, &key_enc).unwrap();
    assert!(
        !key_enc.windows(16).any(|w| w == &key_der[..16]),
        "key is not stored in clear"
    );
    let issued_audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clinicbox_audit.audit_log WHERE action = 'cert.issue'",
    )
    .fetch_one(&tdb.admin)
    .await
    .unwrap();
    assert_eq!(issued_audit, 3);

    // /metrics on the plain-HTTP port (for a local Prometheus): days left per host.
    let text = crate::helpers::bare_client(app.http)
        .get(format!("http://{CONSOLE}:{}/metrics", app.http.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for h in hosts {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "clinicbox_certificate_expiry_days{{host=\"{h}\",source=\"acme\"}}"
                ))
            })
            .ok_or_else(|| format!("no expiry metric for {h}:\n{text}"))
            .unwrap();
        let days: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(days > 30.0, "{line}");
    }

    // Forced renewal through the CLI: the new certificate is served to new connections
    // without a restart, and a connection opened before keeps working.
    let mut open = OpenConnection::open(app.https, NORTH, &root).await;
    assert_eq!(open.get("/healthz").await, 200);
    let old_leaf = open.leaf();
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = cli::write_config(dir.path(), &tdb.url, "");
    let env = [
        ("CLINICBOX_TLS_MODE", "acme"),
        ("CLINICBOX_TLS_ACME_DIRECTORY", p.directory.as_str()),
    ];
    let renew = {
        let cfg_path = cfg_path.clone();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            cli::run_env(
                &cfg_path,
                &["cert", "renew", "--host", NORTH, "--wait", "120"],
                &env,
            )
        })
        .await
        .unwrap()
    };
    assert!(
        renew.status.success(),
        "{}{}",
        cli::stdout(&renew),
        cli::stderr(&renew)
    );
    assert!(
        cli::stdout(&renew).contains("north.clinics.test: new certificate"),
        "{}",
        cli::stdout(&renew)
    );
    let fresh = t::verified_client(app.https, &root)
        .get(format!("https://{NORTH}:{}/healthz", app.https.port()))
        .send()
        .await
        .unwrap();
    assert_ne!(
        t::peer_cert(&fresh),
        old_leaf,
        "new connections get the new certificate"
    );
    assert_eq!(
        open.get("/healthz").await,
        200,
        "the open connection survives"
    );
    assert_eq!(open.leaf(), old_leaf);
    let renew_audit: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clinicbox_audit.audit_log WHERE action = 'cert.renew'",
    )
    .fetch_one(&tdb.admin)
    .await
    .unwrap();
    assert_eq!(renew_audit, 1);

    let status = cli::run_env(&cfg_path, &["cert", "status", "--json"], &env);
    assert!(status.status.success(), "{}", cli::stderr(&status));
    let rows: serde_json::Value = serde_json::from_str(&cli::stdout(&status)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for r in rows {
        assert_eq!(r["state"], "valid", "{r}");
        assert!(r["days_left"].as_f64().unwrap() > 30.0, "{r}");
        assert!(r["issuer"].as_str().unwrap().contains("Pebble"), "{r}");
    }

    // Pebble offers no renewal information (ARI): renewal is planned at a third of the
    // lifetime before expiry, and ARI is asked again a day later.
    type Plan = (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let (nb, na, renew, ari): Plan = eventually(Duration::from_secs(20), "ARI checked", || async {
        let p: Plan = sqlx::query_as(
            "SELECT not_before, not_after, renew_after, ari_next_check
               FROM clinicbox.certificates WHERE hostname = $1",
        )
        .bind(SOUTH)
        .fetch_one(&tdb.admin)
        .await
        .ok()?;
        p.3.filter(|t| *t > chrono::Utc::now() + chrono::Duration::hours(12))
            .map(|_| p)
    })
    .await;
    assert!(
        (renew - (na - (na - nb) / 3)).num_seconds().abs() <= 1,
        "{renew}"
    );
    assert!(ari.unwrap() <= chrono::Utc::now() + chrono::Duration::days(1));

    // The CA's duplicate-certificate limit: after 5 certificates for a host in a week, a
    // forced renewal is deferred (not sent to the CA) and the current certificate stays.
    for _ in 0..4 {
        sqlx::query(
            "INSERT INTO clinicbox.acme_orders (hostname, started_at, finished_at, outcome, challenge)
             VALUES ($1, now() - interval '1 day', now() - interval '1 day', 'issued', 'http-01')",
        )
        .bind(NORTH)
        .execute(&tdb.admin)
        .await
        .unwrap();
    }
    let limited = cli::run_env(
        &cfg_path,
        &["cert", "renew", "--host", NORTH, "--wait", "60"],
        &env,
    );
    assert!(!limited.status.success());
    let out = cli::stdout(&limited);
    assert!(
        out.contains("north.clinics.test: not renewed") && out.contains("in the last 7 days"),
        "{out}"
    );
    let fresh_again = t::verified_client(app.https, &root)
        .get(format!("https://{NORTH}:{}/healthz", app.https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        t::peer_cert(&fresh_again),
        t::peer_cert(&fresh),
        "still serving"
    );

    // A restart loads the stored certificates: no order at boot.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicbox.acme_orders")
        .fetch_one(&tdb.admin)
        .await
        .unwrap();
    app.stop().await;
    let ports = Ports::bind().await;
    let again = t::spawn(&tdb, ports, acme_config(&p, ChallengeKind::Http01)).await;
    let served = eventually(
        Duration::from_secs(20),
        "stored certificate served",
        || async {
            let r = t::verified_client(again.https, &root)
                .get(format!("https://{SOUTH}:{}/healthz", again.https.port()))
                .send()
                .await
                .ok()?;
            Some(t::peer_cert(&r))
        },
    )
    .await;
    assert!(t::cert_info(&served).covers(SOUTH));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM clinicbox.acme_orders")
        .fetch_one(&tdb.admin)
        .await
        .unwrap();
    assert_eq!(before, after, "no issuance at boot");
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_alpn01_certificates_for_console_and_clinics() {
    require_pebble();
    let tdb = TestDb::new().await;
    tdb.create_tenant("north").await;
    tdb.create_tenant("south").await;
    let ports = Ports::bind().await;
    let p = Pebble::start(ports.http_port(), ports.https_port(), 5).await;
    let app = t::spawn(&tdb, ports, acme_config(&p, ChallengeKind::TlsAlpn01)).await;
    let hosts = [CONSOLE, NORTH, SOUTH];
    wait_for_certificates(&tdb, &hosts, Duration::from_secs(120)).await;
    verify_chains(app.https, &p.issuing_root().await, &hosts).await;
    for h in hosts {
        let o = orders(&tdb, h).await;
        assert!(
            o.iter()
                .any(|(out, ch, _)| out == "issued" && ch.as_deref() == Some("tls-alpn-01")),
            "{h}: {o:?}"
        );
    }
    app.stop().await;
}

/// A server on another loopback address that answers HTTP but is not ClinicBox.
async fn decoy(ip: &str, port: u16) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind((ip, port)).await.unwrap();
    let app = axum::Router::new().fallback(|| async { "some other web server" });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_host_backs_off_while_others_get_certificates() {
    require_pebble();
    let tdb = TestDb::new().await;
    tdb.create_tenant("north").await;
    tdb.create_tenant("south").await;
    tdb.create_tenant("east").await;
    let ports = Ports::bind().await;
    let http_port = ports.http_port();
    // Pebble rejects a tenth of all nonces: the client must retry its requests.
    let p = Pebble::start(http_port, ports.https_port(), 10).await;
    // south points at an address where nothing listens: its validation fails.
    p.set_a(SOUTH, "127.0.0.2").await;
    // east points at another web server: the preflight says so and no order is placed.
    p.set_a(EAST, "127.0.0.3").await;
    let _decoy = decoy("127.0.0.3", http_port).await;

    let app = t::spawn(&tdb, ports, acme_config(&p, ChallengeKind::Http01)).await;
    wait_for_certificates(&tdb, &[CONSOLE, NORTH], Duration::from_secs(120)).await;
    let root = p.issuing_root().await;
    verify_chains(app.https, &root, &[CONSOLE, NORTH]).await;

    // south: two failures in a row, the second wait ten times the first.
    let (failures, last, next, error): (
        i32,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        String,
    ) = eventually(
        Duration::from_secs(90),
        "two failures for south",
        || async {
            let r: (
                i32,
                Option<chrono::DateTime<chrono::Utc>>,
                chrono::DateTime<chrono::Utc>,
                Option<String>,
            ) = sqlx::query_as(
                "SELECT failures, last_attempt_at, next_attempt_at, last_error
                       FROM clinicbox.certificates WHERE hostname = $1",
            )
            .bind(SOUTH)
            .fetch_one(&tdb.admin)
            .await
            .ok()?;
            (r.0 >= 2).then(|| (r.0, r.1.unwrap(), r.2, r.3.unwrap()))
        },
    )
    .await;
    // Let south's DNS recover right away so that its next retry can succeed.
    p.clear_a(SOUTH).await;
    let gap = (next - last).num_seconds();
    let expected = 10_i64.pow(u32::try_from(failures - 1).unwrap()).min(21_600);
    assert_eq!(gap, expected, "backoff after {failures} failures");
    assert!(error.contains("validation failed"), "{error}");
    let south_orders = orders(&tdb, SOUTH).await;
    assert!(
        south_orders.iter().filter(|o| o.0 == "failed").count() >= 2,
        "{south_orders:?}"
    );

    // Meanwhile south is served with its self-signed fallback, without HSTS.
    let fallback = t::any_cert_client(app.https)
        .get(format!("https://{SOUTH}:{}/healthz", app.https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(fallback.status(), 200);
    assert!(
        fallback
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    let info = t::cert_info(&t::peer_cert(&fallback));
    assert!(info.self_signed && info.covers(SOUTH), "{info:?}");

    // east: the preflight found another server; the CA was never asked.
    let east_error: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM clinicbox.certificates WHERE hostname = $1")
            .bind(EAST)
            .fetch_one(&tdb.admin)
            .await
            .unwrap();
    let east_error = east_error.unwrap();
    assert!(
        east_error.contains("points at 127.0.0.3") && east_error.contains("not this server"),
        "{east_error}"
    );
    assert!(
        orders(&tdb, EAST).await.iter().all(|o| o.1.is_none()),
        "no challenge for east"
    );

    // south retries on its schedule and succeeds once DNS is right.
    wait_for_certificates(&tdb, &[SOUTH], Duration::from_secs(150)).await;
    verify_chains(app.https, &root, &[SOUTH]).await;
    app.stop().await;
}

#[tokio::test]
async fn http_port_answers_challenges_and_redirects_everything_else() {
    let tdb = TestDb::new().await;
    tdb.create_tenant("north").await;
    let ports = Ports::bind().await;
    let app = t::spawn(&tdb, ports, |c| {
        // A CA that cannot be reached: the hosts stay on their fallbacks and say why.
        c.tls.acme_directory = "https://127.0.0.1:9/directory".into();
        c.tls.preflight = false;
    })
    .await;
    let http = crate::helpers::bare_client(app.http);
    let base = format!("http://{NORTH}:{}", app.http.port());

    let r = http
        .get(format!("{base}/patients?q=ana"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"],
        format!("https://{NORTH}:{}/patients?q=ana", app.https.port()).as_str()
    );
    let r = http.head(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    // A host this server does not serve is not sent on to HTTPS.
    for unknown in ["unknown.clinics.test", "elsewhere.example.org"] {
        let r = http
            .get(format!("http://{unknown}:{}/", app.http.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{unknown}");
    }
    let r = http
        .post(format!("{base}/login"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("HTTPS"));
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let r = http
        .get(format!("{base}/.well-known/acme-challenge/tok123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    clinicbox::tls::repo::put_challenge(
        &tdb.db.pool,
        "tok123",
        NORTH,
        "http-01",
        "tok123.thumb",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let r = http
        .get(format!("{base}/.well-known/acme-challenge/tok123"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "tok123.thumb");
    let other = format!(
        "http://{SOUTH}:{}/.well-known/acme-challenge/tok123",
        app.http.port()
    );
    assert_eq!(
        http.get(other).send().await.unwrap().status(),
        404,
        "answers are per host"
    );

    // HTTPS before any certificate: the host's own self-signed certificate, no HSTS, and
    // the status says why it is pending.
    let r = t::any_cert_client(app.https)
        .get(format!("https://{NORTH}:{}/login", app.https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("strict-transport-security").is_none());
    let info = t::cert_info(&t::peer_cert(&r));
    assert!(info.self_signed && info.covers(NORTH));
    let why: String = eventually(Duration::from_secs(20), "a recorded reason", || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_error FROM clinicbox.certificates WHERE hostname = $1",
        )
        .bind(NORTH)
        .fetch_one(&tdb.admin)
        .await
        .ok()
        .flatten()
    })
    .await;
    assert!(why.contains("ACME account"), "{why}");
    app.stop().await;
}

#[tokio::test]
async fn handshake_timeout_and_connection_cap() {
    let tdb = TestDb::new().await;
    let ports = Ports::bind().await;
    let app = t::spawn(&tdb, ports, |c| {
        c.tls.acme_directory = "https://127.0.0.1:9/directory".into();
        c.tls.preflight = false;
        c.tls.handshake_timeout_secs = 1;
        c.server.max_connections = 2;
    })
    .await;
    use tokio::io::AsyncReadExt;
    // Two clients that never start a handshake hold both slots until the timeout drops them.
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(app.https).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let r = t::any_cert_client(app.https)
        .get(format!("https://{CONSOLE}:{}/healthz", app.https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "the third connection waited for a free slot ({waited:?})"
    );
    for mut s in idle {
        let mut buf = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
            .await
            .expect("closed by the handshake timeout")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
    app.stop().await;
}

/// A CA and a leaf for `names`, as PEM (chain, key, ca).
fn manual_cert(
    names: &[&str],
    ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let leaf = params.signed_by(&key, ca).unwrap();
    (leaf.pem(), key.serialize_pem())
}

fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[tokio::test]
async fn manual_certificate_reloads_on_sighup_without_dropping_connections() {
    let tdb = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let names = ["*.clinics.test", CONSOLE];
    let (chain1, key1) = manual_cert(&names, &ca);
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    std::fs::write(&cert_file, &chain1).unwrap();
    std::fs::write(&key_file, &key1).unwrap();
    let cfg = cli::write_config(dir.path(), &tdb.url, "");
    let https = free_addr();
    let http = free_addr();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let mut child = tokio::process::Command::new(cli::bin())
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .env("CLINICBOX_TLS_MODE", "manual")
        .env("CLINICBOX_TLS_CERT_FILE", &cert_file)
        .env("CLINICBOX_TLS_KEY_FILE", &key_file)
        .env("CLINICBOX_SERVER_HTTPS_LISTEN", https.to_string())
        .env("CLINICBOX_SERVER_HTTP_LISTEN", http.to_string())
        .env("CLINICBOX_STORAGE_KEY_FILE", dir.path().join("secret.key"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    let ca_pem = ca.pem();
    eventually(Duration::from_secs(30), "serve listening", || async {
        t::verified_client(https, &ca_pem)
            .get(format!("https://{CONSOLE}:{}/healthz", https.port()))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    let mut open = OpenConnection::open(https, "north.clinics.test", &ca_pem).await;
    assert_eq!(open.get("/healthz").await, 200);
    let first = open.leaf();

    let (chain2, key2) = manual_cert(&names, &ca);
    std::fs::write(&cert_file, &chain2).unwrap();
    std::fs::write(&key_file, &key2).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let second = eventually(Duration::from_secs(10), "the new certificate", || async {
        let r = t::verified_client(https, &ca_pem)
            .get(format!("https://{CONSOLE}:{}/healthz", https.port()))
            .send()
            .await
            .ok()?;
        let leaf = t::peer_cert(&r);
        (leaf != first).then_some(leaf)
    })
    .await;
    assert_eq!(open.get("/healthz").await, 200, "open connection kept");

    // A broken file is reported and the last good certificate keeps serving.
    std::fs::write(&cert_file, "not a certificate").unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = t::verified_client(https, &ca_pem)
        .get(format!("https://{CONSOLE}:{}/healthz", https.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(t::peer_cert(&r), second);
    assert!(child.try_wait().unwrap().is_none(), "still running");

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("manual certificate reloaded"), "{log}");
    assert!(
        log.contains("tls.cert_file"),
        "the broken file is named: {log}"
    );
}

/// Accepts any certificate: to look at what a TLS-ALPN-01 validator is shown.
#[derive(Debug)]
struct AcceptAll;

impl rustls::client::danger::ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[tokio::test]
async fn tls_alpn_validation_sees_the_challenge_certificate() {
    let tdb = TestDb::new().await;
    let ports = Ports::bind().await;
    let app = t::spawn(&tdb, ports, |c| {
        c.tls.acme_directory = "https://127.0.0.1:9/directory".into();
        c.tls.preflight = false;
    })
    .await;
    let key_auth = "token-1.thumbprint";
    clinicbox::tls::repo::put_challenge(
        &tdb.db.pool,
        "token-1",
        CONSOLE,
        "tls-alpn-01",
        key_auth,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let connect = |alpn: &'static [u8], host: &'static str| async move {
        let mut cfg = rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAll))
            .with_no_client_auth();
        cfg.alpn_protocols = vec![alpn.to_vec()];
        let tcp = tokio::net::TcpStream::connect(app.https).await.unwrap();
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
            .connect(rustls::pki_types::ServerName::try_from(host).unwrap(), tcp)
            .await
    };
    let s = connect(b"acme-tls/1", CONSOLE)
        .await
        .expect("validation handshake");
    let (_, conn) = s.get_ref();
    assert_eq!(conn.alpn_protocol(), Some(&b"acme-tls/1"[..]));
    let leaf = conn.peer_certificates().unwrap()[0].clone();
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).unwrap();
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
        .expect("acmeIdentifier");
    assert!(ext.critical);
    let digest = ring::digest::digest(&ring::digest::SHA256, key_auth.as_bytes());
    // DER OCTET STRING of 32 bytes: 0x04 0x20 <digest>
    assert_eq!(&ext.value[2..], digest.as_ref());
    assert!(t::cert_info(leaf.as_ref()).covers(CONSOLE));
    // No pending challenge for this name: the validation connection is refused.
    assert!(connect(b"acme-tls/1", "north.clinics.test").await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn console_shows_certificate_status_renews_and_sets_hsts() {
    let tdb = TestDb::new().await;
    tdb.create_tenant("north").await;
    let op = tdb.create_operator().await;
    let ports = Ports::bind().await;
    let app = t::spawn(&tdb, ports, |c| {
        c.tls.acme_directory = "https://127.0.0.1:9/directory".into();
        c.tls.preflight = false;
    })
    .await;
    // The renewal task has recorded why the hosts are pending.
    eventually(Duration::from_secs(20), "a recorded reason", || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT last_error FROM clinicbox.certificates WHERE hostname = $1",
        )
        .bind(NORTH)
        .fetch_one(&tdb.admin)
        .await
        .ok()
        .flatten()
    })
    .await;

    let origin = format!("https://{CONSOLE}:{}", app.https.port());
    let mut b = crate::helpers::browser::Browser::with_client(
        t::any_cert_browser_client(app.https),
        &origin,
    );
    let login = b.login(&op.email, &op.password).await;
    assert_eq!(login.status, 303, "{}", login.body);
    let cookie = login
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.contains("clinicbox="))
        .unwrap();
    assert!(
        cookie.starts_with("__Host-clinicbox=") && cookie.contains("Secure"),
        "{cookie}"
    );

    let page = b.get("/certificates").await;
    assert_eq!(page.status, 200);
    for h in [CONSOLE, NORTH] {
        assert!(page.contains(h), "{h}");
    }
    assert!(page.contains("pending"));
    assert!(page.contains("ACME account"), "the reason is shown");

    let r = b.post("/certificates/renew", &[("host", NORTH)]).await;
    assert_eq!(r.status, 303);
    let forced: bool =
        sqlx::query_scalar("SELECT force_renew OR last_attempt_at > now() - interval '1 minute' FROM clinicbox.certificates WHERE hostname = $1")
            .bind(NORTH)
            .fetch_one(&tdb.admin)
            .await
            .unwrap();
    assert!(forced);
    let r = b
        .post("/certificates/renew", &[("host", "evil.example")])
        .await;
    assert_eq!(r.status, 404);

    let r = b.post("/certificates/hsts", &[("max_age", "soon")]).await;
    assert_eq!(r.status, 422);
    assert!(r.contains("seconds"));
    let r = b
        .post(
            "/certificates/hsts",
            &[("max_age", "600"), ("include_subdomains", "on")],
        )
        .await;
    assert_eq!(r.status, 303);
    let hsts = clinicbox::domain::settings::Hsts::load(&tdb.db.pool)
        .await
        .unwrap();
    assert_eq!(hsts.max_age, 600);
    assert!(hsts.include_subdomains);

    let audit: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT action, actor_type, actor_id FROM clinicbox_audit.audit_log
          WHERE action IN ('cert.renew', 'settings.update') ORDER BY id",
    )
    .fetch_all(&tdb.admin)
    .await
    .unwrap();
    assert_eq!(
        audit,
        vec![
            ("cert.renew".into(), "operator".into(), Some(op.id)),
            ("settings.update".into(), "operator".into(), Some(op.id)),
        ]
    );
    app.stop().await;
}

/// A CA that rejects half of all nonces (and so, now and then, every retry instant-acme makes
/// of one request): the first certificate still comes within the round, with no backoff and no
/// failed validation counted against the host.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transient_ca_errors_are_retried_at_once_and_never_back_off() {
    require_pebble();
    let tdb = TestDb::new().await;
    let ports = Ports::bind().await;
    let p = Pebble::start(ports.http_port(), ports.https_port(), 50).await;
    let app = t::spawn(&tdb, ports, |c| {
        acme_config(&p, ChallengeKind::Http01)(c);
        // A real backoff, so that one counted failure would show as a long wait.
        c.tls.first_retry_secs = 60;
    })
    .await;
    // A round gives up after five attempts (about 8 s of pauses) and the next one starts
    // `first_retry_secs` later; when every attempt of a round meets a rejected nonce (it
    // happens at 50 %, more often on a loaded machine), the certificate comes a round later:
    // room for two such rounds. What matters is below: nothing counted as a failure.
    wait_for_certificates(&tdb, &[CONSOLE], Duration::from_secs(160)).await;
    let o = orders(&tdb, CONSOLE).await;
    assert!(
        o.iter().all(|(outcome, _, _)| outcome != "failed"),
        "a transient error was counted as a failed validation: {o:?}"
    );
    let failures: i32 =
        sqlx::query_scalar("SELECT failures FROM clinicbox.certificates WHERE hostname = $1")
            .bind(CONSOLE)
            .fetch_one(&tdb.admin)
            .await
            .unwrap();
    assert_eq!(failures, 0);
    app.stop().await;
}

/// The CA forgets the installation's account (here: pebble restarted, same directory URL): the
/// next order registers a new account and goes on, instead of `accountDoesNotExist` forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_account_the_ca_no_longer_knows_is_registered_again() {
    require_pebble();
    let tdb = TestDb::new().await;
    let ports = Ports::bind().await;
    let mut p = Pebble::start(ports.http_port(), ports.https_port(), 0).await;
    let app = t::spawn(&tdb, ports, acme_config(&p, ChallengeKind::Http01)).await;
    wait_for_certificates(&tdb, &[CONSOLE], Duration::from_secs(60)).await;
    let account = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT credentials_enc FROM clinicbox.acme_account")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    let before = account(tdb.admin.clone()).await;
    assert_eq!(before.len(), 1);

    p.restart().await;
    clinicbox::tls::repo::request_renewal(&tdb.db.pool, Some(CONSOLE), chrono::Utc::now())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let o = orders(&tdb, CONSOLE).await;
        if o.iter()
            .filter(|(outcome, _, _)| outcome == "issued")
            .count()
            == 2
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no certificate after the CA forgot the account: {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let after = account(tdb.admin.clone()).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a new account was registered and stored");
    app.stop().await;
}

/// A request still in flight when the server is told to stop gets an answer — its own, or the
/// request timeout's 503 — over HTTPS just as over plain HTTP: the drain outlasts the request
/// timeout (here 21 s, longer than the 20 s HTTPS drain that once dropped such requests).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_answers_requests_in_flight_on_https_and_http_alike() {
    let tdb = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let (chain, key) = manual_cert(&["*.clinics.test", CONSOLE], &ca);
    std::fs::write(dir.path().join("cert.pem"), &chain).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let timeout = 21;
    let app = t::spawn(&tdb, Ports::bind().await, move |c| {
        c.tls.mode = clinicbox::config::TlsMode::Manual;
        c.tls.cert_file = Some(cert_file);
        c.tls.key_file = Some(key_file);
        c.server.request_timeout_secs = timeout;
    })
    .await;
    let plain =
        crate::helpers::spawn_app_with(move |c| c.server.request_timeout_secs = timeout).await;

    // A sign-in whose body never arrives: the handler waits until the request timeout.
    let slow = |host: &str| {
        format!(
            "POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nemail=",
        )
    };
    let mut tls_conn = OpenConnection::open(app.https, CONSOLE, &ca.pem()).await;
    tls_conn.send(slow(CONSOLE).as_bytes()).await;
    let mut tcp = tokio::net::TcpStream::connect(plain.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, slow(CONSOLE).as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = std::time::Instant::now();
    let stop_tls = tokio::spawn(app.stop());
    let mut plain = plain;
    let _ = plain.shutdown.take().unwrap().send(());
    assert_eq!(
        tls_conn.status().await,
        Some(503),
        "HTTPS closed the connection without an answer after {:?}",
        started.elapsed()
    );
    let mut line = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut line)
        .await
        .expect("plain HTTP closed the connection without an answer");
    assert_eq!(&line, b"HTTP/1.1 503");
    stop_tls.await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(30), &mut plain.server).await;
}
