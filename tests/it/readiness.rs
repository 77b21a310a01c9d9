//! `/readyz` follows PostgreSQL going away and coming back, without restarting clinicbox.

use std::sync::Arc;
use std::time::Duration;

use clinicbox::app::AppState;
use clinicbox::db::Db;
use clinicbox::db::migrate::{self, Migrations};
use clinicbox::domain::tenants::Ident;
use clinicbox::ops::clock::SystemClock;
use clinicbox::ops::pgcluster::{ClusterOptions, PgCluster, provision_app_database};

use crate::helpers::{CONSOLE, client_for, test_config};

async fn ready_status(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn readyz_turns_503_when_postgres_stops_and_200_when_it_returns() {
    // A cluster of its own: stopping the shared one would break the other tests.
    let dir = tempfile::Builder::new()
        .prefix("clinicbox-ready-")
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let mut cluster = tokio::task::spawn_blocking({
        let root = dir.path().join("pg");
        move || {
            let mut c = PgCluster::new(&root, ClusterOptions { unsafe_fast: true }).unwrap();
            c.init_if_needed().unwrap();
            c.start().unwrap();
            c
        }
    })
    .await
    .unwrap();
    let su = clinicbox::db::pool_options(1)
        .connect(&cluster.superuser_url("postgres"))
        .await
        .unwrap();
    let id = Ident::parse("clinicbox").unwrap();
    provision_app_database(&su, &id, &id).await.unwrap();
    su.close().await;
    let url = cluster.url("clinicbox", "clinicbox");
    let db = Db::from_pool(clinicbox::db::pool_options(3).connect(&url).await.unwrap())
        .await
        .unwrap();
    migrate::run(&db, Migrations::embedded(), 1, &migrate::NoProgress)
        .await
        .unwrap();
    clinicbox::domain::tenants::create(
        &db,
        Migrations::embedded(),
        &clinicbox::domain::tenants::HostRules {
            base_domain: clinicbox::domain::tenants::Hostname::parse(crate::helpers::BASE).unwrap(),
            console_host: clinicbox::domain::tenants::Hostname::parse(CONSOLE).unwrap(),
        },
        clinicbox::domain::tenants::NewTenant {
            slug: clinicbox::domain::tenants::Slug::parse("ready").unwrap(),
            name: clinicbox::domain::tenants::DisplayName::parse("Ready Clinic").unwrap(),
            hosts: vec![],
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let state = AppState::new(
        test_config(&url, &dir.path().join("data")),
        db,
        Arc::new(SystemClock),
        Migrations::embedded(),
        crate::helpers::test_secrets(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(clinicbox::app::serve(
        state,
        listener,
        std::future::pending(),
    ));
    let client = client_for(addr);
    let readyz = format!("http://{CONSOLE}:{}/readyz", addr.port());

    let (s, _) = ready_status(&client, &readyz).await;
    assert_eq!(s, 200);

    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.stop().unwrap();
        cluster
    })
    .await
    .unwrap();
    let (s, body) = ready_status(&client, &readyz).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"].as_str().unwrap().contains("database"),
        "{body}"
    );
    // Metrics answer within a second, and say the database did not.
    let started = std::time::Instant::now();
    let r = client
        .get(format!("http://{CONSOLE}:{}/metrics", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "/metrics took {:?} while the database was down",
        started.elapsed()
    );
    assert!(text.contains("clinicbox_up 0"), "{text}");
    // Pages and the API: 503, come back later, because of the database.
    let clinic = format!("ready.{}", crate::helpers::BASE);
    let r = client
        .get(format!("http://{clinic}:{}/login", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let page = r.text().await.unwrap();
    assert!(page.contains("database is not reachable"), "{page}");
    assert!(!page.contains("unexpected error"), "{page}");
    let r = client
        .get(format!("http://{clinic}:{}/api/v1/patients", addr.port()))
        .header("Authorization", "Bearer cbx_nonexistent_token_value")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = r.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("database is not reachable"),
        "{problem}"
    );
    // Liveness does not depend on the database.
    let r = client
        .get(format!("http://{CONSOLE}:{}/healthz", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start().unwrap();
        cluster
    })
    .await
    .unwrap();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..50 {
        last = ready_status(&client, &readyz).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last.0, 200, "{}", last.1);
    drop(cluster);
}
