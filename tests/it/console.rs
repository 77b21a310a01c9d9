//! The system console's settings pages.

use clinicbox::domain::auth::Role;
use reqwest::StatusCode;

use crate::helpers::browser::Browser;
use crate::helpers::{CONSOLE, TestApp, spawn_app_with};

/// Rate limits are set on the console: bad values are refused next to their field and change
/// nothing; good ones are audited and apply at once.
#[tokio::test]
async fn rate_limits_are_set_on_the_console_and_apply_at_once() {
    let app = spawn_app_with(|c| c.limits.login_per_minute = 100).await;
    let op = app.create_operator().await;
    let t = app.create_tenant("alpha").await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let page = b.get("/security").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("value=\"100\""), "{}", page.body);

    let bad = b
        .post(
            "/security/limits",
            &[
                ("login_per_account", "0"),
                ("login_per_address", "lots"),
                ("api_per_credential", "600"),
                ("api_per_address", "6000"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.contains("id=\"login_per_account-error\""),
        "{}",
        bad.body
    );
    assert!(bad.contains("id=\"login_per_address-error\""));
    assert!(bad.contains("value=\"lots\""), "what was typed stays");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clinicbox.system_settings WHERE key LIKE 'limits.%'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(stored, 0, "nothing saved");

    let ok = b
        .post(
            "/security/limits",
            &[
                ("login_per_account", "3"),
                ("login_per_address", "1,000"),
                ("api_per_credential", "600"),
                ("api_per_address", "6000"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT action, details FROM clinicbox_audit.audit_log WHERE resource_id = 'rate_limits'",
    )
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1["after"]["login_per_address"], 1000);
    assert_eq!(rows[0].1["before"]["login_per_account"], 100);

    // Three attempts per account and address now, at once.
    let mut s = Browser::new(&app, &TestApp::clinic_host("alpha"));
    s.get("/login").await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(
            s.post(
                "/login",
                &[("email", &doc.email), ("password", "wrong wrong")],
            )
            .await
            .status,
        );
    }
    assert_eq!(codes[3], StatusCode::TOO_MANY_REQUESTS, "{codes:?}");
}
