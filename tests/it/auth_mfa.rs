//! Two-step sign-in: enrolment, single-use codes, recovery codes, clinic policy.

use chrono::Duration;
use clinicbox::domain::auth::{Role, totp};
use reqwest::StatusCode;

use crate::helpers::browser::{Browser, Page};
use crate::helpers::{CONSOLE, TestApp, TestUser, spawn_app};

fn host(slug: &str) -> String {
    TestApp::clinic_host(slug)
}

fn code_at(app: &TestApp, secret: &[u8]) -> String {
    totp::current_code(secret, app.clock_unix()).unwrap()
}

fn recovery_codes(p: &Page) -> Vec<String> {
    let start = p.body.find("id=\"recovery-codes\"").unwrap();
    let list = &p.body[start..p.body[start..].find("</ul>").unwrap() + start];
    list.split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Enrols through the pages; returns the TOTP secret and the recovery codes.
async fn enrol(app: &TestApp, b: &mut Browser) -> (Vec<u8>, Vec<String>) {
    let p = b.get("/account/mfa").await;
    assert!(p.contains("/account/mfa/start"), "{}", p.body);
    assert_eq!(
        b.post("/account/mfa/start", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let p = b.get("/account/mfa").await;
    assert!(p.contains("<svg"), "QR code shown");
    let secret = data_encoding::BASE32_NOPAD
        .decode(p.by_id("mfa-secret").unwrap().as_bytes())
        .unwrap();
    let wrong = b.post("/account/mfa/confirm", &[("code", "000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let p = b
        .post("/account/mfa/confirm", &[("code", &code_at(app, &secret))])
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let codes = recovery_codes(&p);
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn password_step(app: &TestApp, h: &str, user: &TestUser) -> Browser {
    let mut b = Browser::new(app, h);
    let p = b.login(&user.email, &user.password).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.location.as_deref().unwrap().starts_with("/login/mfa"),
        "{:?}",
        p.location
    );
    // Not signed in yet.
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER);
    b.get("/login/mfa").await;
    b
}

#[tokio::test]
async fn totp_enrolment_and_codes_work_once() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let (secret, _) = enrol(&app, &mut b).await;
    assert_eq!(app.audit_count(&t, "auth.mfa_enrolled").await, 1);

    // The code used for enrolment cannot be used again to sign in.
    let mut s = password_step(&app, &host("alpha"), &doc).await;
    let code = code_at(&app, &secret);
    let p = s.post("/login/mfa", &[("code", &code)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "replayed code");
    // The next step's code works, once.
    app.clock.advance(Duration::seconds(30));
    let code = code_at(&app, &secret);
    let p = s.post("/login/mfa", &[("code", &code)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get("/").await.status, 200);
    let mut again = password_step(&app, &host("alpha"), &doc).await;
    assert_eq!(
        again.post("/login/mfa", &[("code", &code)]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let rows = app.audit_rows(&t).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "auth.mfa_failed")
            .count(),
        3
    );
    let logins: Vec<_> = rows.iter().filter(|r| r.action == "auth.login").collect();
    assert_eq!(logins.last().unwrap().details["mfa"], "totp");
}

#[tokio::test]
async fn recovery_codes_sign_in_once_each() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &doc).await;
    let (_, codes) = enrol(&app, &mut b).await;

    let mut s = password_step(&app, &host("alpha"), &doc).await;
    let typed = codes[3].to_uppercase().replace('-', " ");
    let p = s.post("/login/mfa", &[("code", &typed)]).await;
    assert_eq!(p.location.as_deref(), Some("/account"));
    let account = s.get("/account").await;
    assert!(
        account.contains("9 recovery codes left"),
        "{}",
        account.body
    );

    let mut s2 = password_step(&app, &host("alpha"), &doc).await;
    assert_eq!(
        s2.post("/login/mfa", &[("code", &codes[3])]).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(app.audit_count(&t, "auth.recovery_code_used").await, 1);
}

#[tokio::test]
async fn clinic_policy_forces_enrolment_and_admin_reset_never_bypasses_mfa() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let nurse = app.create_staff(&t, Role::Nurse).await;
    let mut a = Browser::login_as(&app, &host("alpha"), &admin).await;
    let p = a
        .post(
            "/settings/security",
            &[
                ("mfa_policy", "everyone"),
                ("idle_minutes", "15"),
                ("session_hours", "12"),
                ("audit_retention_years", "7"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let changed = app
        .audit_rows(&t)
        .await
        .into_iter()
        .find(|r| r.action == "settings.update")
        .unwrap();
    assert_eq!(
        changed.details["changed"],
        serde_json::json!(["mfa_policy"])
    );
    // The policy applies to the admin who set it, too.
    assert_eq!(
        a.get("/settings/users").await.location.as_deref(),
        Some("/account/mfa")
    );
    enrol(&app, &mut a).await;
    assert_eq!(a.get("/settings/users").await.status, 200);

    // The nurse can sign in but every page sends her to enrolment; the API refuses.
    let mut n = Browser::login_as(&app, &host("alpha"), &nurse).await;
    let p = n.get("/").await;
    assert_eq!(p.location.as_deref(), Some("/account/mfa"));
    let p = n.api(reqwest::Method::GET, "/api/v1/me", None).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let (secret, _) = enrol(&app, &mut n).await;
    assert_eq!(n.get("/").await.status, 200);
    // Turning it off is not allowed while required.
    let p = n
        .post("/account/mfa/disable", &[("password", &nurse.password)])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);

    // An admin password reset keeps the second factor.
    let p = a
        .post(&format!("/settings/users/{}/reset-password", nurse.id), &[])
        .await;
    let temp = p.by_id("temp-password").unwrap();
    let mut n2 = Browser::new(&app, &host("alpha"));
    let p = n2.login(&nurse.email, &temp).await;
    assert!(p.location.as_deref().unwrap().starts_with("/login/mfa"));
    app.clock.advance(Duration::seconds(30));
    n2.get("/login/mfa").await;
    let p = n2
        .post("/login/mfa", &[("code", &code_at(&app, &secret))])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        n2.get("/").await.location.as_deref(),
        Some("/account/password")
    );

    // An admin MFA reset forces enrolment again (policy still applies).
    let p = a
        .post(&format!("/settings/users/{}/reset-mfa", nurse.id), &[])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count(&t, "user.mfa_reset").await, 1);
}

#[tokio::test]
async fn operators_may_enable_mfa_on_the_console() {
    let app = spawn_app().await;
    let op = app.create_operator().await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let (secret, _) = enrol(&app, &mut b).await;
    b.post("/logout", &[]).await;
    let mut s = password_step(&app, CONSOLE, &op).await;
    app.clock.advance(Duration::seconds(30));
    let p = s
        .post("/login/mfa", &[("code", &code_at(&app, &secret))])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(s.get("/").await.status, 200);
    let rows = app.system_audit_rows().await;
    assert!(
        rows.iter()
            .any(|r| r.0 == "auth.mfa_enrolled" && r.2 == Some(op.id))
    );
    assert!(rows.iter().filter(|r| r.0 == "auth.login").count() >= 2);
}
