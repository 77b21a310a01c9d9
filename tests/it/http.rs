//! The HTTP surface: dispatch by Host, X-Tenant-ID, suspension, headers, health, assets.

use chrono::Utc;
use clinicbox::domain::auth::Role;
use clinicbox::domain::tenants::{self, TenantStatus};

use crate::helpers::browser::Browser;
use crate::helpers::{CONSOLE, TestApp, spawn_app};

#[tokio::test]
async fn each_clinic_host_sees_only_its_own_data() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha").await;
    let b = app
        .create_tenant_with("bravo", &["portal.bravo.example"])
        .await;
    app.set_setting(&a, "timezone", serde_json::json!("Europe/Berlin"))
        .await;
    app.set_setting(&b, "timezone", serde_json::json!("Asia/Kathmandu"))
        .await;

    let ua = app.create_staff(&a, Role::Doctor).await;
    let ub = app.create_staff(&b, Role::Doctor).await;
    let ra = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &ua)
        .await
        .get("/")
        .await;
    let rb = Browser::login_as(&app, &TestApp::clinic_host("bravo"), &ub)
        .await
        .get("/")
        .await;
    let rb2 = Browser::login_as(&app, "portal.bravo.example", &ub)
        .await
        .get("/")
        .await;

    assert_eq!(ra.status, 200);
    assert!(ra.contains("Europe/Berlin") && ra.contains("Clinic ALPHA"));
    assert!(!ra.contains("Asia/Kathmandu") && !ra.contains("Clinic BRAVO"));
    assert!(rb.contains("Asia/Kathmandu") && !rb.contains("Europe/Berlin"));
    assert!(rb2.contains("Asia/Kathmandu"));
    // Staff of one clinic cannot sign in at another.
    let mut x = Browser::new(&app, &TestApp::clinic_host("alpha"));
    assert_eq!(x.login(&ub.email, &ub.password).await.status, 422);
}

#[tokio::test]
async fn unknown_hosts_get_404() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    for host in [
        "nobody.clinics.test",
        "alpha.other.test",
        "x.alpha.clinics.test",
        "127.0.0.1",
    ] {
        let r = app.get(host, "/").await;
        assert_eq!(r.status(), 404, "{host}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("Clinic ALPHA"), "{host}");
    }
}

#[tokio::test]
async fn x_tenant_id_must_agree_with_the_host() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    app.create_tenant("bravo").await;
    let c = app.client();

    let r = c
        .get(app.url(&TestApp::clinic_host("alpha"), "/api/v1/nothing-here"))
        .header("X-Tenant-ID", "bravo")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["status"], 400);
    assert!(p["detail"].as_str().unwrap().contains("does not match"));

    let r = c
        .get(app.url(&TestApp::clinic_host("alpha"), "/api/v1/nothing-here"))
        .header("X-Tenant-ID", "not a slug!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Agreeing header passes dispatch (the route itself does not exist: 404, not 400).
    let r = c
        .get(app.url(&TestApp::clinic_host("alpha"), "/api/v1/nothing-here"))
        .header("X-Tenant-ID", "alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // On the console host it names the clinic; an unknown clinic is a 404.
    let r = c
        .get(app.url(CONSOLE, "/api/v1/nothing-here"))
        .header("X-Tenant-ID", "zulu")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_suspended_clinic_serves_no_data() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha").await;
    app.set_setting(&a, "timezone", serde_json::json!("Europe/Berlin"))
        .await;
    tenants::set_status(&app.db, &a.slug, TenantStatus::Suspended, Utc::now())
        .await
        .unwrap();

    let r = app.get(&TestApp::clinic_host("alpha"), "/").await;
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("suspended"), "{body}");
    assert!(!body.contains("Europe/Berlin"));

    let r = app
        .get(&TestApp::clinic_host("alpha"), "/api/v1/anything")
        .await;
    assert_eq!(r.status(), 503);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "clinic_suspended");

    tenants::set_status(&app.db, &a.slug, TenantStatus::Active, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        app.get(&TestApp::clinic_host("alpha"), "/login")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let cases = [
        (TestApp::clinic_host("alpha"), "/"),
        (TestApp::clinic_host("alpha"), "/missing"),
        (CONSOLE.to_string(), "/"),
        ("unknown.test".to_string(), "/"),
        ("unknown.test".to_string(), "/healthz"),
        (TestApp::clinic_host("alpha"), "/api/v1/health/database"),
    ];
    for (host, path) in cases {
        let r = app.get(&host, path).await;
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{host}{path}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert!(h.contains_key("permissions-policy"));
        assert!(h.contains_key("x-request-id"));
        assert_eq!(h["cache-control"], "no-store", "{host}{path}");
    }
}

#[tokio::test]
async fn pages_have_no_inline_script_or_style() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let admin = app
        .create_staff(&app.create_tenant("bravo").await, Role::ClinicAdmin)
        .await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("bravo"), &admin).await;
    for path in [
        "/",
        "/account",
        "/settings/users",
        "/settings/audit",
        "/settings/security",
        "/settings/roles",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, 200, "{path}");
        assert!(
            !p.contains("<script>") && !p.contains("style=\"") && !p.contains("<style"),
            "{path}"
        );
        assert!(p.contains("/theme.css?v="));
    }
}

#[tokio::test]
async fn static_assets_have_hashed_names_and_long_cache() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let body = app
        .get(&TestApp::clinic_host("alpha"), "/login")
        .await
        .text()
        .await
        .unwrap();
    let start = body.find("/static/app.").unwrap();
    let end = body[start..].find('"').unwrap();
    let css = &body[start..start + end];
    let r = app.get(&TestApp::clinic_host("alpha"), css).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let r = app
        .get(&TestApp::clinic_host("alpha"), "/static/app.0000000000.css")
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn clinic_colour_comes_from_the_theme_stylesheet() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    sqlx::query("UPDATE clinicbox.tenants SET branding = '{\"primary_color\": \"#aa3300\"}' WHERE slug = 'alpha'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let r = app.get(&TestApp::clinic_host("alpha"), "/theme.css").await;
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert!(r.text().await.unwrap().contains("--primary: #aa3300"));
}

#[tokio::test]
async fn health_endpoints_and_aliases() {
    let app = spawn_app().await;
    for path in ["/healthz", "/health"] {
        let r = app.get("anything.test", path).await;
        assert_eq!(r.status(), 200);
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["status"], "ok");
    }
    // The old stack's monitors: `/api/v1/health/database` says "ok" when it is.
    for (path, word) in [("/readyz", "ready"), ("/api/v1/health/database", "ok")] {
        let r = app.get(CONSOLE, path).await;
        assert_eq!(r.status(), 200, "{path}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["status"], word, "{path}");
    }
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let c = app.client();
    let r = c
        .get(app.url(CONSOLE, "/"))
        .header("X-Request-Id", "abc-123-def")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123-def");
    let r = c
        .get(app.url(CONSOLE, "/"))
        .header("X-Request-Id", "evil\"value with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "evil\"value with spaces");
}

#[tokio::test]
async fn graceful_shutdown_lets_requests_in_flight_finish() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut app = spawn_app().await;
    app.create_tenant("alpha").await;
    let body = "email=someone%40alpha.test&password=not+it+at+all";
    let mut conn = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // Headers and half the body now…
    conn.write_all(
        format!(
            "POST /login HTTP/1.1\r\nHost: alpha.clinics.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..10]
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // …shutdown is requested while the request is being read…
    app.shutdown.take().unwrap().send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // …and the rest of the body still gets an answer.
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut resp = String::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => resp.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(Err(_)) => break,
        }
        if resp.contains("</html>") {
            break;
        }
    }
    // No session cookie was sent, so the CSRF check answers 403: a complete HTTP response.
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    // The server then stops, and new connections are refused.
    let done = tokio::time::timeout(std::time::Duration::from_secs(10), &mut app.server).await;
    assert!(done.is_ok(), "server did not stop");
    assert!(tokio::net::TcpStream::connect(app.addr).await.is_err());
}

#[tokio::test]
async fn oversized_request_bodies_are_refused_with_413() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let r = app
        .client()
        .post(app.url(&TestApp::clinic_host("alpha"), "/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = app
        .client()
        .post(app.url(&TestApp::clinic_host("alpha"), "/api/v1/users"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}
