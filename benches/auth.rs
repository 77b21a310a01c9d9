//! `cargo bench --bench auth`: sign-in latency over HTTP (right password, wrong password,
//! unknown account) and what one audit row adds to a clinic read.
//! Starts its own PostgreSQL (fsync on) in a temp dir; the app runs in-process on loopback.

mod common;

use std::time::{Duration, Instant};

use clinicbox::db::TenantDb;
use clinicbox::domain::audit::{self, Actor, Context, Event};
use clinicbox::domain::auth::{Accounts, Role, service};
use common::{BoxError, client, ms, percentile, setup};

const PASSWORD: &str = "velvet-harbor-piano-73";

async fn login_once(
    addr: std::net::SocketAddr,
    email: &str,
    pw: &str,
) -> Result<(Duration, u16), BoxError> {
    let c = client(addr, true)?;
    let page = c
        .get("http://alpha.clinics.test/login")
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
    let started = Instant::now();
    let r = c
        .post("http://alpha.clinics.test/login")
        .header("Origin", "http://alpha.clinics.test")
        .form(&[("_csrf", csrf.as_str()), ("email", email), ("password", pw)])
        .send()
        .await?;
    Ok((started.elapsed(), r.status().as_u16()))
}

fn summary(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "{name:<34} p50 {:>7.1} ms   p90 {:>7.1} ms   n={}",
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.9)),
        v.len()
    );
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut b = setup(false).await?;
    let t = b.tenant("alpha").await?;
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let mut emails = Vec::new();
    for i in 0..40 {
        let email = format!("user{i}@alpha.test");
        service::create_account(
            &mut tx,
            Accounts::Staff,
            &email,
            "Bench User",
            Some(Role::Doctor),
            Some(PASSWORD),
            &[],
            clinicbox::ops::clock::SystemClock.now(),
        )
        .await?;
        emails.push(email);
    }
    tx.commit().await?;
    let addr = b.serve().await?;
    let _ = login_once(addr, &emails[0], PASSWORD).await?; // warm up

    let (mut ok, mut wrong, mut unknown) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..30 {
        let (d, s) = login_once(addr, &emails[i % emails.len()], PASSWORD).await?;
        assert_eq!(s, 303);
        ok.push(d);
        // Different accounts, so no lockout interferes (4 failures each at most).
        let (d, s) = login_once(addr, &emails[(i + 7) % emails.len()], "wrong wrong wrong").await?;
        assert_eq!(s, 422);
        wrong.push(d);
        let (d, s) = login_once(addr, &format!("nobody{i}@alpha.test"), PASSWORD).await?;
        assert_eq!(s, 422);
        unknown.push(d);
    }
    println!("sign-in over HTTP (POST /login, argon2id m=19 MiB t=2 p=1, fsync on):");
    summary("  right password", ok);
    summary("  wrong password", wrong);
    summary("  unknown account", unknown);

    // A clinic read with and without the audit row written in its transaction.
    let n = 2000;
    let user_id: i64 = 1;
    let mut plain = Vec::with_capacity(n);
    let mut audited = Vec::with_capacity(n);
    for i in 0..(2 * n) {
        let started = Instant::now();
        let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
        let _: (i64, String) = sqlx::query_as("SELECT id, email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        if i % 2 == 1 {
            audit::record(
                &mut tx,
                &Context::system(clinicbox::ops::clock::SystemClock.now()),
                Event::new("patient.view", Actor::User(user_id)).patient(i as i64),
            )
            .await?;
        }
        tx.commit().await?;
        if i % 2 == 1 {
            audited.push(started.elapsed());
        } else {
            plain.push(started.elapsed());
        }
    }
    plain.sort();
    audited.sort();
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    println!("a clinic read in its own transaction (n={n} each, fsync on):");
    println!(
        "  without audit row  p50 {:.3} ms  mean {:.3} ms",
        ms(percentile(&plain, 0.5)),
        ms(mean(&plain))
    );
    println!(
        "  with audit row     p50 {:.3} ms  mean {:.3} ms",
        ms(percentile(&audited, 0.5)),
        ms(mean(&audited))
    );
    println!(
        "  added by auditing  p50 {:.3} ms  mean {:.3} ms",
        ms(percentile(&audited, 0.5)) - ms(percentile(&plain, 0.5)),
        ms(mean(&audited)) - ms(mean(&plain))
    );
    let report = audit::verify_tenant(
        &b.db.pool,
        &clinicbox::ops::secrets::Secrets::from_bytes([3u8; 32])?,
        &t,
        None,
    )
    .await?;
    println!(
        "audit chain after the run: {} rows, intact: {}",
        report.rows,
        report.ok()
    );
    b.db.pool.close().await;
    tokio::task::spawn_blocking(move || b.cluster.stop()).await??;
    Ok(())
}
