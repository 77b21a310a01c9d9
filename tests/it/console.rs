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

/// The console creates a clinic with its first admin (every field checked first, nothing
/// created on error), the admin signs in on the clinic's host with the one-time password and
/// must choose their own, and suspending the clinic shows its staff the suspended page.
#[tokio::test]
async fn an_operator_creates_a_clinic_and_its_admin_signs_in() {
    let app = crate::helpers::spawn_app().await;
    let op = app.create_operator().await;
    app.create_tenant("alpha").await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let home = b.get("/").await;
    assert!(home.contains("href=\"/clinics/new\""), "{}", home.body);
    assert_eq!(b.get("/clinics/new").await.status, StatusCode::OK);
    let tenants = async || -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM clinicbox.tenants")
            .fetch_one(&app.admin)
            .await
            .unwrap()
    };

    let bad = b
        .post(
            "/clinics",
            &[
                ("slug", "Gamma!"),
                ("name", "  "),
                ("hosts", "portal_gamma.org"),
                ("admin_email", "not-an-email"),
                ("admin_name", ""),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    for f in ["slug", "name", "hosts", "admin_email", "admin_name"] {
        assert!(
            bad.contains(&format!("id=\"{f}-error\"")),
            "{f}: {}",
            bad.body
        );
    }
    assert!(bad.contains("value=\"Gamma!\""), "what was typed stays");
    assert_eq!(tenants().await, 1, "nothing created");
    let good = [
        ("name", "Gamma Clinic"),
        ("hosts", "portal.gamma-clinic.org"),
        ("admin_email", "head@gamma.example"),
        ("admin_name", "Gita Head"),
    ];
    // A slug in use, and a domain under the base domain, are refused by the clinic rules.
    for (slug, hosts, field) in [
        ("alpha", "portal.gamma-clinic.org", "slug"),
        ("new", "portal.gamma-clinic.org", "slug"),
        ("gamma", "x.clinics.test", "hosts"),
    ] {
        let mut f = good.to_vec();
        f.push(("slug", slug));
        f[1] = ("hosts", hosts);
        let p = b.post("/clinics", &f).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{slug}");
        assert!(p.contains(&format!("id=\"{field}-error\"")), "{}", p.body);
    }
    assert_eq!(tenants().await, 1, "nothing created");

    let mut f = good.to_vec();
    f.push(("slug", "gamma"));
    let created = b.post("/clinics", &f).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.headers.get("cache-control").unwrap(),
        "no-store",
        "the one-time password is never cached"
    );
    assert!(created.contains("portal.gamma-clinic.org"));
    let body = &created.body;
    let start = body.find("id=\"temp-password\">").unwrap() + "id=\"temp-password\">".len();
    let temp = body[start..start + body[start..].find('<').unwrap()].to_owned();
    assert!(temp.len() >= 12, "{temp}");
    let audited = |rows: Vec<(String, String, Option<i64>, String)>, action: &str| {
        rows.iter()
            .filter(|r| r.0 == action && r.1 == "operator" && r.2 == Some(op.id))
            .count()
    };
    assert_eq!(audited(app.system_audit_rows().await, "tenant.create"), 1);

    // The admin signs in on the new clinic's host and must choose a password first; booking
    // works on day one (the defaults are there).
    let host = TestApp::clinic_host("gamma");
    let mut admin = Browser::new(&app, &host);
    let p = admin.login("head@gamma.example", &temp).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let settings = admin.get("/settings/staff").await;
    assert_ne!(
        settings.status,
        StatusCode::OK,
        "a password must be chosen first"
    );
    let types: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_gamma.appointment_types")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(types, 2);

    // Suspended: the clinic's host says so and serves nothing; resumed, it works again.
    let s = b.post("/clinics/gamma/suspend", &[]).await;
    assert_eq!(s.status, StatusCode::SEE_OTHER);
    let page = Browser::new(&app, &host).get("/login").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.contains("suspended"), "{}", page.body);
    assert!(b.get("/").await.contains("/clinics/gamma/resume"));
    assert_eq!(
        b.post("/clinics/nobody/suspend", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    b.post("/clinics/gamma/resume", &[]).await;
    let page = Browser::new(&app, &host).get("/login").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(audited(app.system_audit_rows().await, "tenant.status"), 2);
}

/// The dashboard names every component with its level, says what to do about one that is not
/// green, and counts what each clinic holds.
#[tokio::test]
async fn the_dashboard_shows_each_component_and_what_the_clinics_hold() {
    let app = crate::helpers::spawn_app().await;
    let op = app.create_operator().await;
    let t = app.create_tenant("alpha").await;
    app.create_staff(&t, Role::Doctor).await;
    app.create_staff(&t, Role::Receptionist).await;
    let disabled = app.create_staff(&t, Role::Nurse).await;
    sqlx::query("UPDATE tenant_alpha.users SET status = 'disabled' WHERE id = $1")
        .bind(disabled.id)
        .execute(&app.admin)
        .await
        .unwrap();
    for name in ["Asha", "Bina", "Chandra"] {
        crate::helpers::clinic::patient(&app, &t, name, "Rai", None, None).await;
    }
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    for c in [
        "database",
        "migrations",
        "certificates",
        "backups",
        "disk",
        "log_directory",
    ] {
        assert!(
            home.contains(&format!("data-component=\"{c}\"")),
            "{c}: {}",
            home.body
        );
    }
    assert!(home.contains(&format!("<dd id=\"version\">{}</dd>", clinicbox::VERSION)));
    // No backup has run in a fresh installation: amber, with what to do.
    let backups = &home.body[home.body.find("data-component=\"backups\"").unwrap()..];
    let backups = &backups[..backups.find("</li>").unwrap()];
    assert!(backups.contains("What to do"), "{backups}");
    let database = &home.body[home.body.find("data-component=\"database\"").unwrap()..];
    assert!(database.starts_with("data-component=\"database\""));
    assert!(
        home.contains("class=\"component ok\" data-component=\"database\""),
        "{}",
        home.body
    );
    let row = &home.body[home.body.find("data-slug=\"alpha\"").unwrap()..];
    assert!(row.contains("<td class=\"num\" data-staff>2</td>"), "{row}");
    assert!(
        row.contains("<td class=\"num\" data-patients>3</td>"),
        "{row}"
    );
    assert!(home.contains("<dd id=\"patient-count\">3</dd>"));
}

/// A clinic's page on the console: what it holds, its archive downloaded, and deleting it —
/// refused until the slug is typed again, and only after a dump was written.
#[tokio::test]
async fn a_clinic_is_exported_and_deleted_from_its_console_page() {
    let app = crate::helpers::spawn_app().await;
    let op = app.create_operator().await;
    let t = app.create_tenant("alpha").await;
    app.create_staff(&t, Role::Doctor).await;
    crate::helpers::clinic::patient(&app, &t, "Asha", "Rai", None, None).await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let page = b.get("/clinics/alpha").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.contains("<dd id=\"clinic-patients\">1</dd>"),
        "{}",
        page.body
    );
    assert_eq!(b.get("/clinics/nobody").await.status, StatusCode::NOT_FOUND);
    assert!(b.get("/").await.contains("href=\"/clinics/alpha\""));

    let export = b.post("/clinics/alpha/export", &[]).await;
    assert_eq!(export.status, StatusCode::OK);
    let disposition = export
        .headers
        .get("content-disposition")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        disposition.starts_with("attachment; filename="),
        "{disposition}"
    );
    assert!(
        export.body.len() > 1000,
        "an archive, {} bytes",
        export.body.len()
    );
    let rows = app.system_audit_rows().await;
    assert!(
        rows.iter()
            .any(|r| r.0 == "tenant.export" && r.1 == "operator" && r.3 == "success"),
        "{rows:?}"
    );

    let refused = b
        .post("/clinics/alpha/delete", &[("confirm", "alpah")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("id=\"confirm-error\""), "{}", refused.body);
    assert!(refused.contains("value=\"alpah\""), "what was typed stays");
    let exists = async || -> bool {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tenant_alpha')",
        )
        .fetch_one(&app.admin)
        .await
        .unwrap()
    };
    assert!(exists().await, "nothing dropped");
    let deleted = b
        .post("/clinics/alpha/delete", &[("confirm", "alpha")])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert!(!exists().await);
    let dumps: Vec<_> = std::fs::read_dir(app.config().storage.data_dir.join("deleted"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("alpha-"))
        .collect();
    assert_eq!(dumps.len(), 1, "the safety dump is there");
    assert_eq!(b.get("/clinics/alpha").await.status, StatusCode::NOT_FOUND);
    let rows = app.system_audit_rows().await;
    assert!(
        rows.iter()
            .any(|r| r.0 == "tenant.delete" && r.1 == "operator")
    );
}

/// Plan limits set on the console: bad values stay in the form with their message; good ones
/// are enforced on the clinic's pages and its API alike.
#[tokio::test]
async fn plan_limits_set_on_the_console_hold_on_the_pages_and_the_api() {
    let app = crate::helpers::spawn_app().await;
    let op = app.create_operator().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let doctor = app.create_staff(&t, Role::Doctor).await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let bad = b
        .post(
            "/clinics/alpha/limits",
            &[("max_staff", "lots"), ("max_document_mb", "0")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("id=\"max_staff-error\""), "{}", bad.body);
    assert!(bad.contains("id=\"max_document_mb-error\""));
    assert!(bad.contains("value=\"lots\""), "what was typed stays");
    let ok = b
        .post(
            "/clinics/alpha/limits",
            &[("max_staff", "2"), ("max_document_mb", "")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert!(b.get("/clinics/alpha").await.contains("value=\"2\""));
    assert_eq!(app.audit_count(&t, "settings.update").await, 1);

    // Two accounts in use: a third is refused on the page and by the API, with the reason.
    let host = TestApp::clinic_host("alpha");
    let mut a = Browser::login_as(&app, &host, &admin).await;
    let page = a
        .post(
            "/settings/users",
            &[
                ("email", "nurse@alpha.test"),
                ("display_name", "Nurse"),
                ("role", "nurse"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.contains("plan allows 2 staff accounts in use"),
        "{}",
        page.body
    );
    let r = a
        .api(
            reqwest::Method::POST,
            "/api/v1/users",
            Some(serde_json::json!({ "email": "nurse@alpha.test", "display_name": "Nurse", "role": "nurse" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.json());
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("plan allows 2")
    );
    // Disabling one makes room; enabling it again while the room is taken is refused.
    let r = a
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", doctor.id),
            Some(serde_json::json!({ "status": "disabled" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let r = a
        .api(
            reqwest::Method::POST,
            "/api/v1/users",
            Some(serde_json::json!({ "email": "nurse@alpha.test", "display_name": "Nurse", "role": "nurse" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let r = a
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", doctor.id),
            Some(serde_json::json!({ "status": "active" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.json());
}

/// The state of one safeguard on the Compliance page, and its list item.
fn safeguard<'a>(page: &'a crate::helpers::browser::Page, key: &str) -> (&'a str, &'a str) {
    let start = page.body.find(&format!("data-safeguard=\"{key}\""));
    assert!(start.is_some(), "no safeguard {key}: {}", page.body);
    let start = start.unwrap_or_default();
    let item = &page.body[start..];
    let item = &item[..item.find("</li>\n").unwrap_or(item.len())];
    let level = item
        .split("data-level=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default();
    (level, item)
}

/// The compliance self-check shows every safeguard with its live state: the audit chains turn
/// green once checked (one audit row), a clinic whose idle logoff is too long is named with a
/// link to its settings, and turns green again when its admin fixes it.
#[tokio::test]
async fn the_compliance_page_shows_each_safeguard_and_what_fixes_it() {
    let app = crate::helpers::spawn_app().await;
    let op = app.create_operator().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let page = b.get("/compliance").await;
    assert_eq!(page.status, StatusCode::OK);
    for key in [
        "audit_chains",
        "backups_fresh",
        "backup_verified",
        "backups_encrypted",
        "certificates",
        "hsts",
        "tls_versions",
        "mfa_admins",
        "idle_logoff",
        "audit_retention",
        "passwords",
    ] {
        safeguard(&page, key);
    }
    let (level, item) = safeguard(&page, "audit_chains");
    assert_eq!(level, "failing", "{item}");
    assert!(item.contains("never been checked"), "{item}");
    assert_eq!(safeguard(&page, "backups_fresh").0, "failing");
    assert_eq!(safeguard(&page, "backups_encrypted").0, "failing");
    // The clinic's defaults: 15 idle minutes, audit kept 7 years, MFA optional.
    assert_eq!(safeguard(&page, "idle_logoff").0, "ok");
    assert_eq!(safeguard(&page, "audit_retention").0, "ok");
    let (level, item) = safeguard(&page, "mfa_admins");
    assert_eq!(level, "failing");
    assert!(item.contains("href=\"/clinics/alpha\""), "{item}");

    let checked = b.post("/compliance/audit-chains", &[]).await;
    assert_eq!(checked.status, StatusCode::SEE_OTHER, "{}", checked.body);
    let page = b.get("/compliance").await;
    let (level, item) = safeguard(&page, "audit_chains");
    assert_eq!(level, "ok", "{item}");
    assert!(item.contains("2 log(s)"), "{item}");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT outcome, details->>'logs' FROM clinicbox_audit.audit_log WHERE action = 'audit.verify'",
    )
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(rows, vec![("success".to_owned(), "2".to_owned())]);

    // The clinic admin lengthens idle logoff: the console names the clinic, with the page
    // where it is set; set back, it is green again.
    let mut a = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &admin).await;
    let security = |idle: &'static str| {
        [
            ("mfa_policy", "optional"),
            ("idle_minutes", idle),
            ("session_hours", "12"),
            ("audit_retention_years", "7"),
        ]
    };
    let saved = a.post("/settings/security", &security("30")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = b.get("/compliance").await;
    let (level, item) = safeguard(&page, "idle_logoff");
    assert_eq!(level, "failing", "{item}");
    assert!(item.contains("1 of 1 clinic(s): alpha"), "{item}");
    assert!(item.contains("/settings/security\""), "{item}");
    let saved = a.post("/settings/security", &security("10")).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let page = b.get("/compliance").await;
    assert_eq!(safeguard(&page, "idle_logoff").0, "ok");
}

/// A clinic's own domain, added on its console page: refused names stay in the field with the
/// reason; an added one is audited, answers for the clinic, and its DNS check (through the
/// server's resolver: pebble's DNS here) says where it points — elsewhere, then here once
/// the record is fixed. Removing it stops the clinic answering there.
#[tokio::test]
async fn an_operator_adds_a_clinic_domain_and_checks_its_dns() {
    assert!(
        crate::helpers::pebble::available(),
        "pebble and pebble-challtestsrv are needed: apt-get install pebble"
    );
    let pebble = crate::helpers::pebble::Pebble::start(1, 1, 0).await;
    let dns = pebble.dns;
    let app = spawn_app_with(move |c| c.tls.preflight_resolver = Some(dns)).await;
    let op = app.create_operator().await;
    app.create_tenant("alpha").await;
    app.create_tenant("bravo").await;
    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let page = b.get("/clinics/alpha").await;
    assert!(page.contains("id=\"no-custom-hosts\""), "{}", page.body);
    assert!(
        page.contains("CNAME&nbsp;admin.clinics.test."),
        "{}",
        page.body
    );

    for (typed, why) in [
        ("portal.clinics.test", "names under clinics.test"),
        ("not a name!", "Not a usable domain name"),
        ("admin.clinics.test", "console host"),
        ("portal.localhost", "reserved"),
    ] {
        let bad = b.post("/clinics/alpha/hosts", &[("host", typed)]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        assert!(bad.contains("id=\"host-error\""), "{typed}: {}", bad.body);
        assert!(bad.contains(why), "{typed}: {}", bad.body);
        assert!(
            bad.contains(&format!("value=\"{typed}\"")),
            "what was typed stays: {typed}"
        );
    }

    pebble.set_a("portal.alpha-clinic.org", "10.20.30.40").await;
    let added = b
        .post(
            "/clinics/alpha/hosts",
            &[("host", " Portal.Alpha-Clinic.org ")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let to = added.location.clone().unwrap_or_default();
    assert_eq!(to, "/clinics/alpha?dns=portal.alpha-clinic.org#hosts");
    let page = b.get("/clinics/alpha?dns=portal.alpha-clinic.org").await;
    assert!(page.contains("data-dns=\"elsewhere\""), "{}", page.body);
    assert!(page.contains("points at 10.20.30.40, but this server is 127.0.0.1"));
    // Another clinic cannot take it.
    let taken = b
        .post(
            "/clinics/bravo/hosts",
            &[("host", "portal.alpha-clinic.org")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        taken.contains("already used by the clinic alpha"),
        "{}",
        taken.body
    );

    pebble.set_a("portal.alpha-clinic.org", "127.0.0.1").await;
    let page = b.get("/clinics/alpha?dns=portal.alpha-clinic.org").await;
    assert!(page.contains("data-dns=\"here\""), "{}", page.body);
    // Only the clinic's own names are looked up.
    let page = b.get("/clinics/alpha?dns=example.org").await;
    assert!(!page.contains("data-dns="), "{}", page.body);

    let site = app.get("portal.alpha-clinic.org", "/login").await;
    assert_eq!(site.status(), StatusCode::OK);
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT action, details FROM clinicbox_audit.audit_log WHERE action LIKE 'tenant.host%'",
    )
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1["host"], "portal.alpha-clinic.org");

    let removed = b
        .post(
            "/clinics/alpha/hosts/remove",
            &[("host", "portal.alpha-clinic.org")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let site = app.get("portal.alpha-clinic.org", "/login").await;
    assert_eq!(site.status(), StatusCode::NOT_FOUND);
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clinicbox_audit.audit_log WHERE action = 'tenant.host_remove'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(n, 1);
}
