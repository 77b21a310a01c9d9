//! Signing in and out, lockout, timeouts, session binding and CSRF.

use chrono::Duration;
use clinicbox::domain::auth::Role;
use reqwest::StatusCode;

use crate::helpers::browser::Browser;
use crate::helpers::{CONSOLE, TestApp, spawn_app, spawn_app_with};

fn host(slug: &str) -> String {
    TestApp::clinic_host(slug)
}

#[tokio::test]
async fn login_success_and_failure_are_audited() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;

    let mut b = Browser::new(&app, &host("alpha"));
    let bad = b.login(&doc.email, "wrong password entirely").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("Email or password is wrong"));
    let unknown = b.login("nobody@alpha.test", &doc.password).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = b.login(&doc.email, &doc.password).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.contains("Signed in as Test doctor"));

    let rows = app.audit_rows(&t).await;
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "auth.login_failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[0].actor_id, Some(doc.id));
    assert_eq!(failed[0].details["reason"], "bad_password");
    assert_eq!(failed[1].actor_type, "anonymous");
    assert_eq!(failed[1].details["reason"], "unknown_account");
    let logins: Vec<_> = rows.iter().filter(|r| r.action == "auth.login").collect();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].actor_id, Some(doc.id));
    assert_eq!(logins[0].outcome, "success");
}

#[tokio::test]
async fn pages_require_sign_in_and_remember_where_you_were() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::new(&app, &host("alpha"));
    let p = b.get("/settings/users?q=secret").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        p.location.as_deref(),
        Some("/login?next=%2Fsettings%2Fusers")
    );
    b.get("/login?next=%2Fsettings%2Fusers").await;
    let p = b
        .post(
            "/login",
            &[
                ("email", &admin.email),
                ("password", &admin.password),
                ("next", "/settings/users"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/settings/users"));
    // An open redirect is not possible.
    let mut b2 = Browser::new(&app, &host("alpha"));
    b2.get("/login").await;
    let p = b2
        .post(
            "/login",
            &[
                ("email", &admin.email),
                ("password", &admin.password),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(p.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn five_failures_lock_the_account_until_unlocked_or_time_passes() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let nurse = app.create_staff(&t, Role::Nurse).await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::new(&app, &host("alpha"));
    for _ in 0..5 {
        assert_eq!(
            b.login(&nurse.email, "not the password at all")
                .await
                .status,
            422
        );
    }
    // Locked: even the right password is refused now.
    assert_eq!(b.login(&nurse.email, &nurse.password).await.status, 422);
    let rows = app.audit_rows(&t).await;
    assert_eq!(rows.iter().filter(|r| r.action == "auth.locked").count(), 1);
    assert!(
        rows.iter()
            .any(|r| r.action == "auth.login_failed" && r.details["reason"] == "locked")
    );

    // The admin unlocks it in the settings.
    let mut a = Browser::login_as(&app, &host("alpha"), &admin).await;
    let page = a.get(&format!("/settings/users/{}", nurse.id)).await;
    assert!(page.contains("locked"));
    let p = a
        .post(&format!("/settings/users/{}/unlock", nurse.id), &[])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count(&t, "user.unlock").await, 1);
    assert_eq!(
        b.login(&nurse.email, &nurse.password).await.status,
        StatusCode::SEE_OTHER
    );

    // Lock again; this time the lock expires by itself (1 minute at 5 failures).
    let mut c = Browser::new(&app, &host("alpha"));
    for _ in 0..5 {
        c.login(&nurse.email, "not the password at all").await;
    }
    assert_eq!(c.login(&nurse.email, &nurse.password).await.status, 422);
    app.clock.advance(Duration::seconds(61));
    assert_eq!(
        c.login(&nurse.email, &nurse.password).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn idle_timeout_and_absolute_lifetime() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;

    // Idle: default 15 minutes.
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    app.clock.advance(Duration::minutes(14));
    assert_eq!(b.get("/").await.status, 200);
    app.clock.advance(Duration::minutes(14));
    assert_eq!(
        b.get("/").await.status,
        200,
        "activity keeps the session alive"
    );
    app.clock.advance(Duration::minutes(16));
    let p = b.get("/").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let login = b.get("/login").await;
    assert!(login.contains("period of inactivity"), "{}", login.body);

    // Absolute: 12 hours even with constant activity.
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    for _ in 0..(12 * 6) {
        app.clock.advance(Duration::minutes(10));
        if b.get("/").await.status != 200 {
            break;
        }
    }
    app.clock.advance(Duration::minutes(10));
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_session_is_refused_on_another_clinics_host() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha").await;
    let bravo = app.create_tenant("bravo").await;
    let doc = app.create_staff(&a, Role::Doctor).await;
    let raw = crate::helpers::bare_client(app.addr);
    let url = |h: &str, p: &str| format!("http://{h}:{}{p}", app.addr.port());
    let cookie_of = |r: &reqwest::Response| {
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };

    // Sign in on alpha by hand, keeping the cookie ourselves.
    let page = raw.get(url(&host("alpha"), "/login")).send().await.unwrap();
    let anonymous = cookie_of(&page);
    let body = page.text().await.unwrap();
    let csrf = body
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let r = raw
        .post(url(&host("alpha"), "/login"))
        .header("cookie", &anonymous)
        .header("origin", url(&host("alpha"), ""))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", &doc.email),
            ("password", &doc.password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let signed_in = cookie_of(&r);
    assert_ne!(signed_in, anonymous, "the session id is rotated at sign-in");

    let get = |h: String, cookie: String| {
        let raw = raw.clone();
        let u = url(&h, "/");
        async move {
            raw.get(u)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The old (anonymous) id no longer exists; the new one works on alpha…
    assert_eq!(get(host("alpha"), anonymous).await, StatusCode::SEE_OTHER);
    assert_eq!(get(host("alpha"), signed_in.clone()).await, StatusCode::OK);
    // …is refused on bravo, and thereby ended everywhere.
    assert_eq!(
        get(host("bravo"), signed_in.clone()).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.audit_count(&bravo, "auth.session_refused").await, 1);
    assert_eq!(
        get(host("alpha"), signed_in.clone()).await,
        StatusCode::SEE_OTHER
    );
    // A console request with a clinic cookie is refused too.
    assert_eq!(
        get(CONSOLE.to_string(), signed_in).await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn logout_ends_the_session_server_side() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut one = Browser::login_as(&app, &host("alpha"), &doc).await;
    let mut two = Browser::login_as(&app, &host("alpha"), &doc).await;
    let sessions = |app: &TestApp| {
        let pool = app.admin.clone();
        let id = doc.id;
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM clinicbox.sessions WHERE account_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(sessions(&app).await, 2);

    let p = one.post("/logout", &[]).await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    assert_eq!(
        sessions(&app).await,
        0,
        "every session of the account ended"
    );
    assert_eq!(one.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(two.get("/").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count(&t, "auth.logout").await, 1);
}

#[tokio::test]
async fn unsafe_requests_without_csrf_token_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &admin).await;
    let before = app.audit_rows(&t).await.len();
    let fields = [
        ("mfa_policy", "everyone"),
        ("idle_minutes", "30"),
        ("session_hours", "8"),
        ("audit_retention_years", "7"),
    ];

    let no_token = b.post_raw("/settings/security", &fields, None).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(no_token.contains("expired or came from another site"));

    let token = b.csrf.clone();
    let mut with_token: Vec<(&str, &str)> = vec![("_csrf", &token)];
    with_token.extend_from_slice(&fields);
    let foreign = b
        .post_raw(
            "/settings/security",
            &with_token,
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::FORBIDDEN);

    let mut wrong: Vec<(&str, &str)> = vec![("_csrf", "0000")];
    wrong.extend_from_slice(&fields);
    assert_eq!(
        b.post_raw("/settings/security", &wrong, None).await.status,
        403
    );

    // Nothing changed.
    let s = b.get("/settings/security").await;
    assert!(s.contains("value=\"15\""));
    assert_eq!(app.audit_rows(&t).await.len(), before);
    // With the token it works; htmx-style header works too.
    assert_eq!(
        b.post("/settings/security", &fields).await.status,
        StatusCode::SEE_OTHER
    );
    let r = b
        .client
        .post(b.url("/logout"))
        .header("X-CSRF-Token", &b.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn get_never_changes_state() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    for path in ["/logout", "/account/mfa/start", "/account/tokens"] {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    assert_eq!(b.get("/").await.status, 200, "still signed in");
}

/// Staff of one clinic share one address: one account's attempts are limited per account and
/// address, and colleagues behind the same address are not locked out until the (larger)
/// budget of the address is spent.
#[tokio::test]
async fn sign_in_attempts_are_limited_per_account_and_address() {
    let app = spawn_app_with(|c| {
        c.limits.login_per_minute = 3;
        c.limits.login_per_minute_per_address = 6;
    })
    .await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let nurse = app.create_staff(&t, Role::Nurse).await;
    let mut b = Browser::new(&app, &host("alpha"));
    b.get("/login").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            b.post(
                "/login",
                &[("email", &doc.email), ("password", "nope nope nope")],
            )
            .await,
        );
    }
    let codes: Vec<_> = statuses.iter().map(|p| p.status).collect();
    assert_eq!(&codes[..3], &[StatusCode::UNPROCESSABLE_ENTITY; 3]);
    assert_eq!(codes[3], StatusCode::TOO_MANY_REQUESTS);
    assert!(statuses[3].headers.contains_key("retry-after"));
    // A colleague at the same address signs in as usual.
    let mut colleague = Browser::new(&app, &host("alpha"));
    colleague.get("/login").await;
    let p = colleague
        .post(
            "/login",
            &[("email", &nurse.email), ("password", &nurse.password)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // The address's own budget (six attempts, whatever the account) still ends it.
    let mut last = StatusCode::OK;
    for i in 0..3 {
        last = b
            .post(
                "/login",
                &[("email", &format!("someone{i}@x.test")), ("password", "x")],
            )
            .await
            .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Showing the page is not limited.
    assert_eq!(b.get("/login").await.status, 200);
}

#[tokio::test]
async fn forced_password_change_after_admin_reset_keeps_mfa() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let doc = app.create_staff(&t, Role::Receptionist).await;
    let mut d = Browser::login_as(&app, &host("alpha"), &doc).await;

    let mut a = Browser::login_as(&app, &host("alpha"), &admin).await;
    let p = a
        .post(&format!("/settings/users/{}/reset-password", doc.id), &[])
        .await;
    assert_eq!(p.status, 200);
    let temp = p.by_id("temp-password").unwrap();
    assert_eq!(app.audit_count(&t, "user.password_reset").await, 1);
    // The reset ended the user's session.
    assert_eq!(d.get("/").await.status, StatusCode::SEE_OTHER);

    let mut d = Browser::new(&app, &host("alpha"));
    assert_eq!(
        d.login(&doc.email, &doc.password).await.status,
        422,
        "old password gone"
    );
    assert_eq!(
        d.login(&doc.email, &temp).await.status,
        StatusCode::SEE_OTHER
    );
    // Every page sends them to the password form until they choose their own.
    let p = d.get("/").await;
    assert_eq!(p.location.as_deref(), Some("/account/password"));
    let p = d
        .post(
            "/account/password",
            &[
                ("current", &temp),
                ("password", "password123456"),
                ("confirm", "password123456"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "weak password refused");
    let p = d
        .post(
            "/account/password",
            &[
                ("current", &temp),
                ("password", "ocean-maple-lantern-88"),
                ("confirm", "ocean-maple-lantern-88"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(d.get("/").await.status, 200);
    assert_eq!(app.audit_count(&t, "auth.password_changed").await, 1);
}

#[tokio::test]
async fn session_cookie_attributes() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let r = crate::helpers::bare_client(app.addr)
        .get(format!(
            "http://{}:{}/login",
            host("alpha"),
            app.addr.port()
        ))
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    // Plain HTTP (tls.mode = "off"): no Secure flag, so no __Host- prefix either.
    assert!(cookie.starts_with("clinicbox="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Domain="), "host-only: {cookie}");
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "{cookie}"
    );
}

#[tokio::test]
async fn a_role_change_ends_the_users_sessions() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let rec = app.create_staff(&t, Role::Receptionist).await;
    let mut r = Browser::login_as(&app, &host("alpha"), &rec).await;
    let mut a = Browser::login_as(&app, &host("alpha"), &admin).await;
    let p = a
        .post(
            &format!("/settings/users/{}", rec.id),
            &[
                ("display_name", "Test receptionist"),
                ("role", "billing"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(r.get("/").await.status, StatusCode::SEE_OTHER, "signed out");
    let row = app
        .audit_rows(&t)
        .await
        .into_iter()
        .find(|r| r.action == "user.update")
        .unwrap();
    assert_eq!(row.details["changed"], serde_json::json!(["role"]));
    assert_eq!(a.get("/").await.status, 200, "the admin stays signed in");
}

/// The API budget is per token or session (and, generously, per address): one busy
/// integration does not stop the rest of the clinic's staff.
#[tokio::test]
async fn api_requests_are_limited_per_credential() {
    let app = spawn_app_with(|c| c.limits.api_per_minute = 5).await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let nurse = app.create_staff(&t, Role::Nurse).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(b.api(reqwest::Method::GET, "/api/v1/me", None).await.status);
    }
    assert_eq!(&statuses[..5], &[StatusCode::OK; 5]);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
    let p = b.api(reqwest::Method::GET, "/api/v1/me", None).await;
    assert_eq!(p.headers["content-type"], "application/problem+json");
    assert!(p.headers.contains_key("retry-after"));
    // A colleague's session from the same address has a budget of its own.
    let mut n = Browser::login_as(&app, &host("alpha"), &nurse).await;
    assert_eq!(
        n.api(reqwest::Method::GET, "/api/v1/me", None).await.status,
        StatusCode::OK
    );
    // Pages are not limited by the API budget.
    assert_eq!(b.get("/").await.status, 200);
}
