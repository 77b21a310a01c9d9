//! Fault run: clients that give up mid-request, against the release binary.
//!
//!     cargo bench --bench faults [-- --secs 60 --patients 100000]
//!
//! Two clinics (alpha with `--patients`, beta with a tenth of them), the real `clinicbox serve`
//! binary on a loopback port, and for `--secs`: an aborted-request storm (32 in parallel, each
//! cut by its client after 5–40 ms, like `curl --max-time 0.02`, on a new connection each)
//! alongside steady load from both clinics (API token and browser session). Then 1,000 more
//! ordinary requests. Every ordinary request must succeed and no backend may be left idle in a
//! transaction; the last line says how many failed (exit status 1 unless none).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clinicbox::db::TenantDb;
use clinicbox::domain::auth::{Accounts, Role, TokenScope, service};
use common::{BoxError, setup};

const PASSWORD: &str = "velvet-harbor-piano-73";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

struct Clinic {
    host: String,
    token: String,
    cookie: String,
    patient: i64,
}

async fn staff(
    b: &common::Bench,
    t: &clinicbox::domain::tenants::Tenant,
) -> Result<String, BoxError> {
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let email = format!("reception@{}.test", t.slug);
    let (acc, _) = service::create_account(
        &mut tx,
        Accounts::Staff,
        &email,
        "Fault Reception",
        Some(Role::Receptionist),
        Some(PASSWORD),
        &[],
        clinicbox::ops::clock::SystemClock.now(),
    )
    .await?;
    let (token, _) = service::create_token(
        &mut tx,
        acc.id,
        "faults",
        TokenScope::Read,
        None,
        clinicbox::ops::clock::SystemClock.now(),
    )
    .await?;
    tx.commit().await?;
    Ok(format!("{email}\n{token}"))
}

async fn sign_in(base: &str, host: &str, email: &str) -> Result<String, BoxError> {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?;
    let page = c
        .get(format!("{base}/login"))
        .header("Host", host)
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    let r = c
        .post(format!("{base}/login"))
        .header("Host", host)
        .header("Origin", format!("http://{host}"))
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
        .find(|v| v.starts_with("clinicbox="))
        .and_then(|v| v.split(';').next())
        .ok_or("no session cookie after sign-in")?;
    Ok(cookie.to_owned())
}

/// One ordinary request; `Ok(false)` for any answer but 200.
async fn ordinary(c: &reqwest::Client, base: &str, k: &Clinic, i: u64) -> bool {
    let req = match i % 3 {
        0 => c
            .get(format!("{base}/api/v1/patients?q=sm"))
            .bearer_auth(&k.token),
        1 => c
            .get(format!("{base}/patients?q=sm"))
            .header("Cookie", &k.cookie),
        _ => c
            .get(format!("{base}/patients/{}", k.patient))
            .header("Cookie", &k.cookie),
    };
    match req.header("Host", &k.host).send().await {
        Ok(r) if r.status() == reqwest::StatusCode::OK => r.bytes().await.is_ok(),
        Ok(r) => {
            eprintln!("  {} -> {}", k.host, r.status());
            false
        }
        Err(e) => {
            eprintln!("  {} -> {e}", k.host);
            false
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = arg("--secs", 60);
    let patients = arg("--patients", 100_000);
    let b = setup(true).await?;
    let alpha = b.tenant("alpha").await?;
    let beta = b.tenant("beta").await?;
    let started = Instant::now();
    clinicbox::ops::seed::bulk_patients(&b.db, &alpha, patients, |_| {}).await?;
    clinicbox::ops::seed::bulk_patients(&b.db, &beta, (patients / 10).max(100), |_| {}).await?;
    sqlx::query("ANALYZE").execute(&b.db.pool).await?;
    eprintln!(
        "{patients} + {} patients in {:.0} s",
        (patients / 10).max(100),
        started.elapsed().as_secs_f64()
    );
    let creds = [staff(&b, &alpha).await?, staff(&b, &beta).await?];

    // The real binary, as systemd would run it (plain HTTP on loopback).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let dir = b.dir.path();
    let config = dir.join("clinicbox.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\nmax_connections = 10\n\
             [server]\nbase_domain = \"clinics.test\"\nconsole_host = \"admin.clinics.test\"\n\
             http_listen = \"127.0.0.1:{port}\"\n[tls]\nmode = \"off\"\n\
             [storage]\ndata_dir = \"{}\"\nkey_file = \"{}\"\n\
             [limits]\nlogin_per_minute = 1000000\napi_per_minute = 100000000\n\
             login_per_minute_per_address = 1000000\napi_per_minute_per_address = 100000000\n",
            b.url,
            dir.join("data").display(),
            dir.join("secret.key").display()
        ),
    )?;
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_clinicbox"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log"))?)
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let plain = reqwest::Client::builder().no_proxy().build()?;
    for _ in 0..200 {
        if plain
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut clinics = Vec::new();
    for (t, c) in [(&alpha, &creds[0]), (&beta, &creds[1])] {
        let (email, token) = c.split_once('\n').ok_or("credentials")?;
        let host = format!("{}.clinics.test", t.slug);
        let patient: i64 = {
            let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
            let id = sqlx::query_scalar("SELECT min(id) FROM patients")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        };
        clinics.push(Clinic {
            cookie: sign_in(&base, &host, email).await?,
            host,
            token: token.to_owned(),
            patient,
        });
    }
    let clinics = Arc::new(clinics);

    println!(
        "storm for {secs} s: 32 aborted requests in parallel (cut after 5-40 ms, new connection each), 8 clients of ordinary load from two clinics"
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let aborted = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..32u64 {
        let (clinics, aborted, base) = (clinics.clone(), aborted.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                // A new connection for each, as curl makes them.
                let Ok(c) = reqwest::Client::builder()
                    .no_proxy()
                    .pool_max_idle_per_host(0)
                    .build()
                else {
                    return;
                };
                let k = &clinics[(i % 2) as usize];
                let budget = Duration::from_millis(5 + (i * 7919) % 36);
                let req = match i % 3 {
                    0 => c
                        .get(format!("{base}/api/v1/patients?q=sm"))
                        .bearer_auth(&k.token),
                    1 => c
                        .get(format!("{base}/patients?q=sm"))
                        .header("Cookie", &k.cookie),
                    _ => c
                        .get(format!("{base}/api/v1/patients?q=a&limit=100"))
                        .bearer_auth(&k.token),
                };
                if req
                    .header("Host", &k.host)
                    .timeout(budget)
                    .send()
                    .await
                    .is_err()
                {
                    aborted.fetch_add(1, Ordering::Relaxed);
                }
                i += 32;
            }
        }));
    }
    for w in 0..8u64 {
        let (clinics, ok, failed, base) =
            (clinics.clone(), ok.clone(), failed.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let Ok(c) = reqwest::Client::builder().no_proxy().build() else {
                return;
            };
            let mut i = w;
            while Instant::now() < deadline {
                let k = &clinics[(i % 2) as usize];
                if ordinary(&c, &base, k, i / 2).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                i += 8;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let during_ok = ok.load(Ordering::Relaxed);
    let during_failed = failed.load(Ordering::Relaxed);
    println!(
        "  aborted by their clients: {}   ordinary requests during the storm: {} ok, {} failed",
        aborted.load(Ordering::Relaxed),
        during_ok,
        during_failed
    );

    let c = reqwest::Client::builder().no_proxy().build()?;
    let mut after_failed = 0u64;
    let after = Instant::now();
    for i in 0..1_000u64 {
        if !ordinary(&c, &base, &clinics[(i % 2) as usize], i / 2).await {
            after_failed += 1;
        }
    }
    println!(
        "  1,000 ordinary requests after the storm: {} failed ({:.1} s)",
        after_failed,
        after.elapsed().as_secs_f64()
    );
    let stuck: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE usename = 'clinicbox' AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&b.db.pool)
    .await?;
    println!("  backends idle in a transaction: {stuck}");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = server.wait();
    let total = during_failed + after_failed;
    println!("{total} failed requests");
    if total > 0 || stuck > 0 {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        eprintln!(
            "last lines of the server log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        return Err(
            format!("{total} failed requests, {stuck} backends idle in a transaction").into(),
        );
    }
    Ok(())
}
