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
