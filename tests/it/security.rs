//! What a black-box probe found, each fixed at the one place that decides it: control
//! characters, sessions on another host, CSRF tokens in URLs, JSON content types, API tokens
//! under an MFA policy, the booking form's read, reserved hostnames, unknown hosts on port 80.

use clinicbox::domain::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::{Browser, bearer};
use crate::helpers::clinic::{clinic, patient};
use crate::helpers::{CONSOLE, TestApp, spawn_app};

fn host(slug: &str) -> String {
    TestApp::clinic_host(slug)
}

#[tokio::test]
async fn control_characters_are_refused_everywhere_with_a_message() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    for path in [
        "/api/v1/patients?q=%00",
        "/patients?q=%00",
        "/patients/search?q=%00",
        "/patients?q=a%01b",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert!(r.body.contains("control character"), "{path}: {}", r.body);
    }
    // In a form body (a booking's reason) and in a JSON body (a cancel reason), named.
    let r = b
        .post(
            "/appointments/new",
            &[
                ("patient_id", &p.to_string()),
                ("provider_id", &c.doctor.id.to_string()),
                ("type_id", &c.consult.to_string()),
                ("date", "2026-03-03"),
                ("time", "10:00"),
                ("reason", "pain\u{0}"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("reason"), "{}", r.body);
    let booked = b
        .api(
            Method::POST,
            "/api/v1/appointments",
            Some(json!({"patient_id": p, "provider_id": c.doctor.id, "type_id": c.consult, "starts_at": "2026-03-03T10:00:00Z"})),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.body);
    let id = booked.json()["id"].as_i64().unwrap();
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/appointments/{id}/cancel"),
            Some(json!({"reason": "x\u{0}y"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert!(
        r.json()["errors"]["reason"]
            .as_str()
            .unwrap()
            .contains("control character")
    );
    let r = b
        .api(
            Method::POST,
            "/api/v1/patients",
            Some(
                json!({"given_name": "A", "family_name": "B", "sex": "female",
                        "phones": [{"label": "mobile", "number": "98\u{1}1"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["errors"]["phones[0].number"].is_string(),
        "{}",
        r.body
    );
    // Line breaks in a note are fine.
    let r = b
        .api(
            Method::PATCH,
            &format!("/api/v1/patients/{p}"),
            Some(json!({"notes": "first line\nsecond line\ttab"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A clinic's session cookie sent to the console host with `X-Tenant-ID` naming the clinic is
/// refused — and the session is ended, since its cookie leaked.
#[tokio::test]
async fn a_session_works_only_on_the_host_that_created_it() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    // Sign in with a bare client to get hold of the cookie itself.
    let bare = crate::helpers::bare_client(app.addr);
    let login_page = bare
        .get(app.url(&host("alpha"), "/login"))
        .send()
        .await
        .unwrap();
    let first = login_page
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let body = login_page.text().await.unwrap();
    let csrf = body
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = bare
        .post(app.url(&host("alpha"), "/login"))
        .header("Cookie", &first)
        .header(
            "Origin",
            format!("http://{}:{}", host("alpha"), app.addr.port()),
        )
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", doc.email.as_str()),
            ("password", doc.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            v.starts_with("clinicbox=")
                .then(|| v.split(';').next().unwrap().to_owned())
        })
        .unwrap();
    let on = |h: &str, path: &str| {
        bare.get(app.url(h, path))
            .header("Cookie", &session)
            .header("X-Tenant-ID", "alpha")
    };
    assert_eq!(
        on(&host("alpha"), "/api/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for path in ["/api/v1/me", "/api/v1/patients/1", "/api/v1/audit"] {
        let r = on(CONSOLE, path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // Ended: it no longer works on its own host either.
    assert_eq!(
        on(&host("alpha"), "/api/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let refused = app
        .audit_rows(&t)
        .await
        .into_iter()
        .filter(|r| r.action == "auth.session_refused")
        .count();
    assert!(refused >= 1);
}

#[tokio::test]
async fn csrf_tokens_count_only_from_a_header_or_the_form_body() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let r = b
        .client
        .post(b.url(&format!("/logout?_csrf={}", b.csrf)))
        .header("Origin", &b.origin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "a token in the query string is not one"
    );
}

#[tokio::test]
async fn json_routes_take_json_only() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let body = r#"{"given_name": "A", "family_name": "B", "sex": "female"}"#;
    for ct in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = b
            .client
            .post(b.url("/api/v1/patients"))
            .header("X-CSRF-Token", &b.csrf)
            .header("Origin", &b.origin)
            .body(body);
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
}

/// "Two-step sign-in for everyone" covers API tokens: the token of someone not enrolled is
/// refused (and the CLI says so instead of making one).
#[tokio::test]
async fn an_mfa_policy_covers_api_tokens() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut tx = clinicbox::db::TenantDb::begin(&app.db.pool, &t.db)
        .await
        .unwrap();
    let (token, _) = clinicbox::domain::auth::service::create_token(
        &mut tx,
        doc.id,
        "script",
        clinicbox::domain::auth::TokenScope::Read,
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let me = bearer(
        &app,
        &host("alpha"),
        &token,
        Method::GET,
        "/api/v1/me",
        None,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    app.set_setting(&t, "security.mfa_policy", json!("everyone"))
        .await;
    let me = bearer(
        &app,
        &host("alpha"),
        &token,
        Method::GET,
        "/api/v1/patients",
        None,
    )
    .await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "{}", me.body);
    assert!(me.body.contains("two-step sign-in"), "{}", me.body);
    let rows = app.audit_rows(&t).await;
    assert!(
        rows.iter()
            .any(|r| r.action == "auth.token_refused" && r.details["reason"] == "mfa_required")
    );
}

#[tokio::test]
async fn the_booking_form_is_an_audited_read() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let page = b.get(&format!("/appointments/new?patient={p}")).await;
    assert_eq!(page.status, 200);
    assert!(page.contains("Silva"));
    let rows = app.audit_rows(&c.t).await;
    let views: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "appointment.booking_form")
        .collect();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].patient_id, Some(p));
}

#[tokio::test]
async fn clinic_hostnames_must_be_reachable_names() {
    use clinicbox::domain::tenants::{self, DisplayName, Hostname, NewTenant, Slug, TenantError};
    let t = crate::helpers::TestDb::new().await;
    for bad in [
        "localhost",
        "example",
        "clinic.localhost",
        "portal.local",
        "x.invalid",
        "10.0.0.1",
        "printer.home.arpa",
    ] {
        let refused = match Hostname::parse(bad) {
            Err(e) => e.to_string(),
            Ok(h) => tenants::create(
                &t.db,
                clinicbox::db::migrate::Migrations::embedded(),
                &t.rules(),
                NewTenant {
                    slug: Slug::parse("alpha").unwrap(),
                    name: DisplayName::parse("Alpha").unwrap(),
                    hosts: vec![h],
                },
                chrono::Utc::now(),
            )
            .await
            .map(|_| String::new())
            .unwrap_or_else(|e| {
                assert!(matches!(e, TenantError::HostReserved { .. }), "{bad}: {e}");
                e.to_string()
            }),
        };
        assert!(!refused.is_empty(), "{bad} was accepted");
    }
    t.create_tenant_with("alpha", &["portal.cityclinic.org"])
        .await;
}
