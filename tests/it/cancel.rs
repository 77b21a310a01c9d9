//! Database work survives clients that go away: a request future dropped at any point (while
//! `BEGIN` is on the wire, mid-query, before `COMMIT`) never leaves a pooled connection inside
//! a transaction, and the next requests of every clinic succeed.

use std::time::Duration;

use clinicbox::db::TenantDb;
use clinicbox::domain::auth::Role;
use clinicbox::domain::tenants::Tenant;
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::browser::Browser;
use crate::helpers::{TestApp, TestDb, spawn_app};

/// Backends of this test's login role that sit inside a transaction.
async fn in_transaction(admin: &PgPool, role: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT state FROM pg_stat_activity
          WHERE usename = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(role)
    .fetch_all(admin)
    .await
    .unwrap()
}

/// Outside a transaction?, current user, backend pid. A simple-protocol query: outside a
/// transaction it is its own, and `now()` is then the statement's own start.
async fn status(c: &mut sqlx::PgConnection) -> (bool, String, i32) {
    use sqlx::Row;
    let r =
        sqlx::raw_sql("SELECT now() = statement_timestamp(), current_user::text, pg_backend_pid()")
            .fetch_one(c)
            .await
            .expect("a pooled connection must be usable");
    (r.get(0), r.get(1), r.get(2))
}

/// Every idle connection of `pool`, one after another: none may be inside a transaction or
/// still be switched to a clinic's role.
async fn assert_pool_clean(pool: &PgPool, login_role: &str) {
    let mut held = Vec::new();
    for _ in 0..pool.size().max(1) {
        let mut c = pool.acquire().await.unwrap();
        let (outside, user, _) = status(&mut c).await;
        assert!(outside, "a pooled connection is inside a transaction");
        assert_eq!(user, login_role, "a pooled connection kept a clinic's role");
        held.push(c);
    }
}

async fn one_connection_pool(tdb: &TestDb) -> PgPool {
    clinicbox::db::pool_options(1)
        .connect_with(
            clinicbox::db::connect_options(
                &clinicbox::config::DatabaseUrl::parse(&tdb.url).unwrap(),
            )
            .unwrap(),
        )
        .await
        .unwrap()
}

/// Drives `fut` for `budget` and drops it wherever it then is.
async fn cut<F: std::future::Future>(budget: Duration, fut: F) {
    let _ = tokio::time::timeout(budget, fut).await;
}

#[tokio::test]
async fn a_clinic_transaction_dropped_at_any_point_leaves_the_pool_clean() {
    let tdb = TestDb::new().await;
    let t = tdb.create_tenant("alpha").await;
    // One connection, so that every attempt reuses the connection the last one dropped.
    let pool = one_connection_pool(&tdb).await;
    let login = tdb.db.login_role.as_str().to_owned();

    // While `BEGIN` (and the role switch) is on the wire: budgets around one round trip.
    for i in 0..400u64 {
        let budget = Duration::from_micros(20 + (i % 40) * 15);
        cut(budget, TenantDb::begin(&pool, &t.db)).await;
    }
    assert_pool_clean(&pool, &login).await;

    // Mid-query.
    for ms in [1u64, 3, 7] {
        cut(Duration::from_millis(ms), async {
            let mut tx = TenantDb::begin(&pool, &t.db).await.unwrap();
            sqlx::query("SELECT pg_sleep(0.05), count(*) FROM patients")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        })
        .await;
    }
    assert_pool_clean(&pool, &login).await;

    // After the work, before `COMMIT`, and during it.
    for i in 0..100u64 {
        cut(Duration::from_micros(50 + i * 20), async {
            let mut tx = TenantDb::begin(&pool, &t.db).await.unwrap();
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ('cancel_test', '1')
                         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        })
        .await;
    }
    assert_pool_clean(&pool, &login).await;

    // The control plane's transactions too.
    for i in 0..200u64 {
        cut(
            Duration::from_micros(20 + (i % 40) * 15),
            clinicbox::db::begin(&pool),
        )
        .await;
    }
    assert_pool_clean(&pool, &login).await;
    // Whatever was cancelled, the clinic's data is still reachable through the same pool.
    let mut tx = TenantDb::begin(&pool, &t.db).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM patients")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 0);
    assert!(in_transaction(&tdb.admin, &login).await.is_empty());
}

#[tokio::test]
async fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
    let tdb = TestDb::new().await;
    let pool = one_connection_pool(&tdb).await;
    let login = tdb.db.login_role.as_str().to_owned();
    let pid_before: i32 = {
        let mut c = pool.acquire().await.unwrap();
        // A transaction sqlx does not know about (as a cancelled `BEGIN` leaves one).
        sqlx::raw_sql("BEGIN; SET LOCAL search_path = pg_catalog")
            .execute(&mut *c)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *c)
            .await
            .unwrap()
    };
    let mut c = pool.acquire().await.unwrap();
    let (outside, _, pid) = status(&mut c).await;
    assert!(
        outside,
        "the next borrower ran inside the stale transaction"
    );
    assert_ne!(
        pid, pid_before,
        "the connection left in a transaction was reused"
    );
    drop(c);
    assert_pool_clean(&pool, &login).await;
}

#[tokio::test]
async fn sessions_are_limited_in_how_long_they_may_idle_in_a_transaction() {
    let tdb = TestDb::new().await;
    let pool = one_connection_pool(&tdb).await;
    let v: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(v, "1min");
}

async fn seed(app: &TestApp, t: &Tenant, n: u64) {
    clinicbox::ops::seed::bulk_patients(&app.db, t, n, |_| {})
        .await
        .unwrap();
}

/// Requests of two clinics, each cut by its client somewhere between 1 and 40 ms — during
/// sign-in and session lookup, `BEGIN`, the search, the audit insert or `COMMIT` — then 1,000
/// ordinary requests, every one of which must succeed.
#[tokio::test]
async fn aborted_requests_never_poison_the_pool_for_other_requests_or_clinics() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha").await;
    let b = app.create_tenant("beta").await;
    seed(&app, &a, 3_000).await;
    seed(&app, &b, 500).await;
    let ua = app.create_staff(&a, Role::Receptionist).await;
    let ub = app.create_staff(&b, Role::Receptionist).await;
    let ha = TestApp::clinic_host("alpha");
    let hb = TestApp::clinic_host("beta");
    let ba = Browser::login_as(&app, &ha, &ua).await;
    let bb = Browser::login_as(&app, &hb, &ub).await;

    let mut storm = Vec::new();
    for i in 0..240u64 {
        let (browser, host) = if i % 3 == 0 { (&bb, &hb) } else { (&ba, &ha) };
        let client = browser.client.clone();
        let path = match i % 4 {
            0 => "/api/v1/patients?q=sm",
            1 => "/patients?q=a",
            2 => "/api/v1/patients?q=jo&limit=100",
            _ => "/today",
        };
        let url = app.url(host, path);
        let budget = Duration::from_micros(1_000 + (i * 997) % 40_000);
        storm.push(tokio::spawn(async move {
            let _ = client.get(url).timeout(budget).send().await;
        }));
        if storm.len() == 32 {
            for h in storm.drain(..) {
                h.await.unwrap();
            }
        }
    }
    for h in storm {
        h.await.unwrap();
    }
    // Some cut requests are still finishing on the server; their work must end cleanly.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut failed = Vec::new();
    let mut jobs = Vec::new();
    for i in 0..1_000u64 {
        let (browser, host) = if i % 2 == 0 { (&ba, &ha) } else { (&bb, &hb) };
        let client = browser.client.clone();
        let path = if i % 5 == 0 {
            "/patients"
        } else {
            "/api/v1/patients?q=sm"
        };
        let url = app.url(host, path);
        jobs.push(tokio::spawn(async move {
            let r = client.get(url).send().await.unwrap();
            r.status()
        }));
        if jobs.len() == 16 {
            for j in jobs.drain(..) {
                let s = j.await.unwrap();
                if s != StatusCode::OK {
                    failed.push(s);
                }
            }
        }
    }
    for j in jobs {
        let s = j.await.unwrap();
        if s != StatusCode::OK {
            failed.push(s);
        }
    }
    assert!(
        failed.is_empty(),
        "{} of 1,000 requests failed: {failed:?}",
        failed.len()
    );
    // Another clinic's sign-in page, anonymous.
    let p = app.get("gamma-free.clinics.test", "/login").await;
    assert_eq!(p.status(), StatusCode::NOT_FOUND);
    let p = app.get(&hb, "/login").await;
    assert_eq!(p.status(), StatusCode::OK);
    let login = app.db.login_role.as_str().to_owned();
    // The audit sealer (every 2 s) is briefly idle in its own transaction while it computes a
    // chain; a poisoned connection stays so until the 60 s idle timeout. Allow a few seconds.
    let mut left = in_transaction(&app.admin, &login).await;
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        left = in_transaction(&app.admin, &login).await;
    }
    assert_eq!(left, Vec::<String>::new());
    assert_pool_clean(&app.db.pool, &login).await;
}
