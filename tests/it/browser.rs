//! Reception's flow in real Chromium (headless, via playwright-core): search → register →
//! book → check in. Screenshots go to `$CARGO_TARGET_TMPDIR/screenshots` (and to
//! `$CLINICBOX_SCREENSHOTS` when set, which is how docs/screenshots is refreshed).

use std::path::PathBuf;

use crate::helpers::clinic::{clinic, patient};
use crate::helpers::{TestApp, spawn_app};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

#[tokio::test]
async fn reception_searches_registers_books_and_checks_in() {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (and install Debian's chromium): bash .ci/run does both"
    );
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    // Two Rossis: Enter in the header search must go to the list, not open the first.
    patient(&app, &c.t, "Maria", "Rossi", None, None).await;
    patient(&app, &c.t, "Luca", "Rossi", None, None).await;
    let shots = std::env::var_os("CLINICBOX_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    let base = format!(
        "http://{}:{}",
        TestApp::clinic_host("alpha"),
        app.addr.port()
    );
    let out = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("reception.mjs")
        .arg(&base)
        .arg(&c.reception.email)
        .arg(&c.reception.password)
        .arg(&shots)
        .output()
        .await
        .expect("node (install Debian's nodejs)");
    assert!(
        out.status.success(),
        "browser flow failed (screenshots in {}):\n{}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join("today-checked-in.png").exists());

    let (status, queue): (String, Option<i32>) = sqlx::query_as(
        "SELECT a.status, a.queue_number FROM tenant_alpha.appointments a
           JOIN tenant_alpha.patients p ON p.id = a.patient_id
          WHERE p.given_name = 'Aarav' AND p.family_name = 'Karki'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!((status.as_str(), queue), ("arrived", Some(1)));
    let out = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("admin.mjs")
        .arg(&base)
        .arg(&c.admin.email)
        .arg(&c.admin.password)
        .arg(&shots)
        .output()
        .await
        .expect("node");
    assert!(
        out.status.success(),
        "admin pages failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let actions: Vec<String> = app
        .audit_rows(&c.t)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    for a in [
        "auth.login",
        "patient.search",
        "patient.create",
        "patient.view",
        "appointment.create",
        "appointment.status",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
}

/// The console's Backups and Certificates pages in real Chromium, after a backup: no console
/// errors (CSP), and screenshots for docs/backups.md and docs/clinics.md (the dashboard, the
/// new-clinic form). A clinic's own domain is added and its DNS check (pebble's DNS, which
/// answers 127.0.0.1) says it leads here. On Compliance, the audit chains (never checked) are red until one click
/// checks them, then green (docs/compliance.md).
#[tokio::test]
async fn console_backup_pages_render_in_chromium() {
    let dir = browser_dir();
    let pebble = crate::helpers::pebble::Pebble::start(1, 1, 0).await;
    let dns = pebble.dns;
    let app = crate::helpers::spawn_app_with(move |c| c.tls.preflight_resolver = Some(dns)).await;
    app.create_tenant("alpha").await;
    let op = app.create_operator().await;
    let now = clinicbox::ops::clock::Clock::now(&*app.clock) - chrono::Duration::hours(7);
    let cfg = app.config();
    let secrets = crate::helpers::test_secrets();
    let ctx = clinicbox::ops::backup::Ctx {
        db: &app.db,
        config: &cfg,
        secrets: &secrets,
        now,
    };
    clinicbox::ops::backup::schedule::run_recorded(
        &ctx,
        "manual",
        clinicbox::domain::audit::Actor::System,
        &clinicbox::domain::audit::Context::system(now),
        &clinicbox::ops::backup::Quiet,
    )
    .await
    .unwrap();
    let shots = std::env::var_os("CLINICBOX_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    let base = format!("http://{}:{}", crate::helpers::CONSOLE, app.addr.port());
    let out = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("admin.mjs")
        .arg(&base)
        .arg(&op.email)
        .arg(&op.password)
        .arg(&shots)
        .arg("console-backups=/backups,console-certificates=/certificates,console-dashboard=/,console-new-clinic=/clinics/new,console-clinic=/clinics/alpha")
        .env("CHECK_COMPLIANCE", "1")
        .env("ADD_HOST", "alpha=portal.alpha-clinic.org")
        .output()
        .await
        .expect("node");
    assert!(
        out.status.success(),
        "console pages failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shots.join("console-backups.png").exists());
    assert!(shots.join("console-compliance.png").exists());
    assert!(shots.join("console-clinic-hosts.png").exists());
}

/// The consultation in real Chromium: the nurse records vitals from "Waiting for vitals", the
/// doctor starts the visit from "My queue", finds the diagnosis by words (ICD-10-CM),
/// prescribes from a favourite, signs, prints the A5 prescription, and uploads a photo from a
/// tablet; screenshots at desktop, tablet and phone widths.
#[tokio::test]
async fn nurse_and_doctor_run_a_consultation_in_chromium() {
    let dir = browser_dir();
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    clinicbox::domain::codes::ensure_builtin(&app.db.pool, chrono::Utc::now())
        .await
        .unwrap();
    let p = patient(&app, &c.t, "Sita", "Sharma", Some("1980-05-01"), None).await;
    // The doctor's favourite: metformin after meals for a month.
    sqlx::raw_sql(&format!(
        "INSERT INTO tenant_alpha.drugs (generic_name, brand_names, strength, form)
              VALUES ('Metformin', 'Glycomet', '500 mg', 'tablet');
         INSERT INTO tenant_alpha.prescription_sets (owner_id, name, created_at)
              VALUES ({doc}, '★ Metformin 500 mg 1-0-1', now());
         INSERT INTO tenant_alpha.prescription_set_items (set_id, drug_id, drug, form, dose, route, timing, days)
              SELECT s.id, d.id, 'Metformin 500 mg tablet', 'tablet', '1-0-1', 'oral', 'after_food', 30
                FROM tenant_alpha.prescription_sets s, tenant_alpha.drugs d",
        doc = c.doctor.id
    ))
    .execute(&app.admin)
    .await
    .unwrap();
    let mut desk = crate::helpers::browser::Browser::login_as(
        &app,
        &TestApp::clinic_host("alpha"),
        &c.reception,
    )
    .await;
    let appt =
        crate::helpers::clinic::book_with_doctor(&mut desk, &c, p, "2026-03-02T09:30:00Z").await;
    let r = desk
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/appointments/{appt}/status"),
            Some(serde_json::json!({"status": "arrived"})),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{}", r.body);
    let shots = std::env::var_os("CLINICBOX_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    let base = format!(
        "http://{}:{}",
        TestApp::clinic_host("alpha"),
        app.addr.port()
    );
    let out = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("visit.mjs")
        .arg(&base)
        .arg(format!("{}:{}", c.nurse.email, c.nurse.password))
        .arg(format!("{}:{}", c.doctor.email, c.doctor.password))
        .arg(&shots)
        .output()
        .await
        .expect("node");
    assert!(
        out.status.success(),
        "consultation flow failed (screenshots in {}):\n{}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (signed, code, vitals): (bool, Option<String>, i64) = sqlx::query_as(
        "SELECT v.signed_at IS NOT NULL,
                (SELECT code FROM tenant_alpha.visit_diagnoses d WHERE d.visit_id = v.id AND d.is_primary),
                (SELECT count(*) FROM tenant_alpha.vitals x WHERE x.visit_id = v.id)
           FROM tenant_alpha.visits v WHERE v.appointment_id = $1",
    )
    .bind(appt)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert!(signed, "the visit is signed");
    let (rx, prints, photos): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM tenant_alpha.prescription_items i WHERE i.visit_id = v.id),
                (SELECT count(*) FROM tenant_alpha.prescription_prints x WHERE x.visit_id = v.id),
                (SELECT count(*) FROM tenant_alpha.documents d
                  WHERE d.patient_id = v.patient_id AND d.media_type = 'image/jpeg' AND d.deleted_at IS NULL)
           FROM tenant_alpha.visits v WHERE v.appointment_id = $1",
    )
    .bind(appt)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(
        (rx, prints, photos),
        (1, 1, 1),
        "prescribed from the favourite, printed, photo uploaded"
    );
    assert!(
        code.as_deref().is_some_and(|c| c.starts_with("E1")),
        "{code:?}"
    );
    assert_eq!(vitals, 1, "the triage vitals joined the visit");
    assert!(shots.join("visit-print.png").exists());
}

/// Billing in real Chromium: the doctor signs, the cashier bills the visit from the desk,
/// issues, takes cash and wallet, prints the 80 mm receipt and the A4/A5 invoice, closes the
/// shift and reads the day report; screenshots for docs/billing.md.
#[tokio::test]
async fn billing_issues_takes_two_payments_prints_and_closes_the_shift_in_chromium() {
    let dir = browser_dir();
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Sita", "Sharma", Some("1980-05-01"), None).await;
    let s = "tenant_alpha";
    sqlx::raw_sql(&format!(
        "INSERT INTO {s}.services (code, name, category, price, tax_bp) VALUES
             ('CONS', 'Consultation', 'Consultation', 50000, 0),
             ('XR', 'X-ray, chest', 'Radiology', 120000, 1300);
         UPDATE {s}.appointment_types SET service_id = (SELECT id FROM {s}.services WHERE code = 'CONS')
          WHERE id = {consult}",
        consult = c.consult
    ))
    .execute(&app.admin)
    .await
    .unwrap();
    app.set_setting(
        &c.t,
        "letterhead.tax_number",
        serde_json::json!("601234567"),
    )
    .await;
    let mut desk = crate::helpers::browser::Browser::login_as(
        &app,
        &TestApp::clinic_host("alpha"),
        &c.reception,
    )
    .await;
    let appt =
        crate::helpers::clinic::book_with_doctor(&mut desk, &c, p, "2026-03-02T09:30:00Z").await;
    let mut doctor =
        crate::helpers::browser::Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.doctor)
            .await;
    let r = doctor
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/appointments/{appt}/visit"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
    let visit = r.json()["id"].as_i64().unwrap();
    let shots = std::env::var_os("CLINICBOX_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    let base = format!(
        "http://{}:{}",
        TestApp::clinic_host("alpha"),
        app.addr.port()
    );
    let out = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg("billing.mjs")
        .arg(&base)
        .arg(format!("{}:{}", c.doctor.email, c.doctor.password))
        .arg(format!("{}:{}", c.billing.email, c.billing.password))
        .arg(visit.to_string())
        .arg(&shots)
        .output()
        .await
        .expect("node");
    assert!(
        out.status.success(),
        "billing flow failed (screenshots in {}):\n{}\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // What the browser did is in the database: paid, three prints, the shift closed even.
    let (state, prints, variance): (String, i64, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT status FROM tenant_alpha.invoices WHERE visit_id = $1),
                (SELECT count(*) FROM tenant_alpha.billing_prints),
                (SELECT counted_cash - expected_cash FROM tenant_alpha.cash_shifts)",
    )
    .bind(visit)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!((state.as_str(), prints, variance), ("issued", 4, Some(0)));
    assert!(shots.join("billing-receipt-thermal.png").exists());
}
