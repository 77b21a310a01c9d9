//! API tokens: scopes, expiry, revocation, and refusal by every other clinic.

use chrono::Duration;
use clinicbox::domain::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::{Browser, bearer};
use crate::helpers::{CONSOLE, TestApp, spawn_app};

fn host(slug: &str) -> String {
    TestApp::clinic_host(slug)
}

async fn new_token(b: &mut Browser, name: &str, scope: &str, days: &str) -> String {
    let p = b
        .post(
            "/account/tokens",
            &[("name", name), ("scope", scope), ("days", days)],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    p.by_id("new-token").unwrap()
}

#[tokio::test]
async fn token_scopes_are_enforced() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &admin).await;
    let read = new_token(&mut b, "monitoring", "read", "30").await;
    let rw = new_token(&mut b, "sync script", "read-write", "").await;
    assert!(read.starts_with("cbx_") && read.len() == 44);
    let created: Vec<_> = app
        .audit_rows(&t)
        .await
        .into_iter()
        .filter(|r| r.action == "token.create")
        .collect();
    assert_eq!(created.len(), 2);
    assert!(
        created
            .iter()
            .all(|r| r.resource_type.as_deref() == Some("api_token"))
    );
    assert!(created[0].seq < created[1].seq);
    assert!(created.iter().all(|r| r.patient_id.is_none()));

    let me = bearer(&app, &host("alpha"), &read, Method::GET, "/api/v1/me", None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["auth"], "token");
    assert_eq!(me.json()["token_scope"], "read");
    // X-API-Key works too, for the old stack's clients.
    let r = crate::helpers::client_for(app.addr)
        .get(format!(
            "http://{}:{}/api/v1/users",
            host("alpha"),
            app.addr.port()
        ))
        .header("X-API-Key", &rw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let body = json!({"name": "from script", "scope": "read"});
    let denied = bearer(
        &app,
        &host("alpha"),
        &read,
        Method::POST,
        "/api/v1/tokens",
        Some(body.clone()),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.headers["content-type"], "application/problem+json");
    let row = app
        .audit_rows(&t)
        .await
        .into_iter()
        .rev()
        .find(|r| r.action == "access.denied")
        .unwrap();
    assert_eq!(row.actor_id, Some(admin.id));
    assert_eq!(row.details["via"], "token");
    let created = bearer(
        &app,
        &host("alpha"),
        &rw,
        Method::POST,
        "/api/v1/tokens",
        Some(body),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(
        created.json()["token"]
            .as_str()
            .unwrap()
            .starts_with("cbx_")
    );

    // Only hashes are stored.
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tenant_alpha.api_tokens WHERE encode(token_hash, 'escape') LIKE '%cbx_%' OR prefix = $1",
    )
    .bind(&read)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused_and_audited() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let short = new_token(&mut b, "short", "read", "1").await;
    let revoked = new_token(&mut b, "to revoke", "read", "30").await;

    let ok = bearer(
        &app,
        &host("alpha"),
        &short,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(ok.status, 200);

    let list = b.api(Method::GET, "/api/v1/tokens", None).await;
    let id = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "to revoke")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let p = b.post(&format!("/account/tokens/{id}/revoke"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let r = bearer(
        &app,
        &host("alpha"),
        &revoked,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.contains_key("www-authenticate"));

    app.clock.advance(Duration::days(1) + Duration::seconds(1));
    let r = bearer(
        &app,
        &host("alpha"),
        &short,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let reasons: Vec<String> = app
        .audit_rows(&t)
        .await
        .into_iter()
        .filter(|r| r.action == "auth.token_refused")
        .map(|r| r.details["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["revoked", "expired"]);
    assert_eq!(app.audit_count(&t, "token.revoke").await, 1);

    // Too long a lifetime is refused with a clear message (a new session: a day has passed).
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let p = b
        .post(
            "/account/tokens",
            &[("name", "x"), ("scope", "read"), ("days", "400")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.contains("1-365 days"));
}

#[tokio::test]
async fn a_token_of_one_clinic_is_refused_by_every_other() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha").await;
    let bravo = app.create_tenant("bravo").await;
    let admin = app.create_staff(&a, Role::ClinicAdmin).await;
    app.create_staff(&bravo, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &admin).await;
    let token = new_token(&mut b, "t", "read-write", "30").await;

    let r = bearer(
        &app,
        &host("bravo"),
        &token,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audit_count(&bravo, "auth.token_refused").await, 1);
    // On the console host with X-Tenant-ID: only for its own clinic.
    let c = crate::helpers::client_for(app.addr);
    let ask = |slug: &'static str| {
        c.get(format!("http://{CONSOLE}:{}/api/v1/me", app.addr.port()))
            .bearer_auth(&token)
            .header("X-Tenant-ID", slug)
            .send()
    };
    assert_eq!(
        ask("bravo").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let r = ask("alpha").await.unwrap();
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["clinic"]["slug"], "alpha");
    // X-Tenant-ID disagreeing with the token's clinic host.
    let r = c
        .get(format!(
            "http://{}:{}/api/v1/me",
            host("alpha"),
            app.addr.port()
        ))
        .bearer_auth(&token)
        .header("X-Tenant-ID", "bravo")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn disabling_a_user_stops_their_tokens_and_sessions() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let nurse = app.create_staff(&t, Role::Nurse).await;
    let mut n = Browser::login_as(&app, &host("alpha"), &nurse).await;
    let token = new_token(&mut n, "t", "read", "30").await;
    let mut a = Browser::login_as(&app, &host("alpha"), &admin).await;
    let p = a
        .api(
            Method::PATCH,
            &format!("/api/v1/users/{}", nurse.id),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(n.get("/").await.status, StatusCode::SEE_OTHER);
    let r = bearer(
        &app,
        &host("alpha"),
        &token,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(n.login(&nurse.email, &nurse.password).await.status, 422);
}

#[tokio::test]
async fn token_create_cli_prints_a_working_token_once() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let dir = crate::helpers::cluster_root().join(format!("tok-{}", app.name));
    let cfg = crate::helpers::cli::write_config(&dir, &app.url, "");
    let o = crate::helpers::cli::run(
        &cfg,
        &[
            "token", "create", "--tenant", "alpha", "--user", &doc.email, "--name", "nagios",
            "--scope", "read", "--days", "7",
        ],
    );
    assert!(o.status.success(), "{}", crate::helpers::cli::stderr(&o));
    let token = crate::helpers::cli::stdout(&o).trim().to_owned();
    let me = bearer(
        &app,
        &host("alpha"),
        &token,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["email"], doc.email);
    let o = crate::helpers::cli::run(
        &cfg,
        &[
            "token", "create", "--tenant", "alpha", "--user", &doc.email, "--name", "x", "--days",
            "999",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(crate::helpers::cli::stderr(&o).contains("1-365"));
}
