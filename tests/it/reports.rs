//! Reports over real HTTP and a real PostgreSQL: revenue by service, clinician and day; the
//! sales register and cancellations (credit notes counted against, cancelled invoices left
//! out); appointments and the no-show rate; visits by diagnosis. Each as a page with its
//! chart, a CSV file and the API, one audit row each; bad ranges answered by field.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{billed, book_with_doctor, clinic, patient, walk_in_visit};
use crate::helpers::{TestApp, spawn_app};

async fn api(b: &mut Browser, m: Method, path: &str, body: Value) -> Value {
    let body = if m == Method::GET { None } else { Some(body) };
    let r = b.api(m, path, body).await;
    assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
    r.json()
}

/// The column of `report` named `key`.
fn column(report: &Value, key: &str) -> usize {
    report["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["key"] == key)
        .expect("the report has the column")
}

const MARCH: &str = "from=2026-03-01&to=2026-03-31";

#[tokio::test]
async fn revenue_register_and_cancellations_count_credit_notes_against_and_cancelled_nowhere() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let host = TestApp::clinic_host("alpha");
    let p = patient(&app, &c.t, "Sita", "Sharma", Some("1985-04-02"), None).await;
    let q = patient(&app, &c.t, "Ram", "Thapa", Some("1979-01-20"), None).await;
    // Two visits billed (Rs. 500 + 13 % tax each), the second invoice cancelled.
    let kept = billed(&app, &c, "alpha", p).await;
    let gone = billed(&app, &c, "alpha", q).await;
    let mut b = Browser::login_as(&app, &host, &c.billing).await;
    api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{}/cancel", gone.invoice),
        json!({ "reason": "billed the wrong patient" }),
    )
    .await;

    // At check-in the front desk sees what Sita still owes (Rs. 565 less Rs. 100 paid); a
    // doctor, who does not read invoices, does not.
    let mut desk = Browser::login_as(&app, &host, &c.reception).await;
    let appt = book_with_doctor(&mut desk, &c, p, "2026-03-02T10:00:00Z").await;
    let today = desk.get("/today").await;
    assert!(today.contains("Owes Rs. 465.00"), "{}", today.body);
    let mut doctor = Browser::login_as(&app, &host, &c.doctor).await;
    let theirs = doctor.get("/today?clinician=all").await;
    assert!(theirs.contains("Sita") && !theirs.contains("data-due"));
    let row = desk
        .client
        .post(desk.url(&format!("/appointments/{appt}/status")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &desk.csrf)
        .header("Origin", &desk.origin)
        .form(&[("status", "arrived")])
        .send()
        .await
        .unwrap();
    let html = row.text().await.unwrap();
    assert!(
        html.contains("status-arrived") && html.contains("Owes Rs. 465.00"),
        "{html}"
    );

    let r = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/reports/revenue?{MARCH}"),
        json!(null),
    )
    .await;
    assert_eq!(r["by"], "service");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{r}");
    assert_eq!(rows[0][column(&r, "service")], "Consultation");
    assert_eq!(rows[0][column(&r, "quantity")], 1);
    assert_eq!(rows[0][column(&r, "net")], 50_000);
    assert_eq!(rows[0][column(&r, "tax")], 6_500);
    assert_eq!(rows[0][column(&r, "total")], 56_500);
    assert_eq!(r["totals"][column(&r, "total")], 56_500);
    assert_eq!(r["totals"][0], "Total");

    let r = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/reports/revenue?{MARCH}&by=clinician"),
        json!(null),
    )
    .await;
    assert_eq!(r["rows"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["rows"][0][0], "Test doctor");
    assert_eq!(r["rows"][0][column(&r, "invoices")], 1);

    let r = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/reports/revenue?{MARCH}&by=day"),
        json!(null),
    )
    .await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 31, "every day of March");
    let day2 = rows.iter().find(|x| x[0] == "2026-03-02").unwrap();
    assert_eq!(day2[column(&r, "total")], 56_500);
    assert_eq!(
        rows.iter()
            .map(|x| x[column(&r, "total")].as_i64().unwrap())
            .sum::<i64>(),
        56_500
    );

    // The register lists both invoices, the cancelled one marked and left out of the totals.
    let r = api(
        &mut b,
        Method::GET,
        "/api/v1/reports/sales-register?fy=2025/26",
        json!(null),
    )
    .await;
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str()),
        (Some("2025-07-16"), Some("2026-07-15"))
    );
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");
    assert_eq!(rows[0][column(&r, "document")], "Invoice");
    assert_eq!(rows[1][column(&r, "document")], "Invoice (cancelled)");
    assert_eq!(rows[1][column(&r, "patient")], "Ram Thapa");
    assert_eq!(r["totals"][column(&r, "total")], 56_500);
    assert_eq!(r["totals"][0], "Total (2 documents)");

    let r = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/reports/cancellations?{MARCH}"),
        json!(null),
    )
    .await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{r}");
    assert_eq!(rows[0][column(&r, "reason")], "billed the wrong patient");
    assert_eq!(rows[0][column(&r, "cancelled_by")], "Test billing");
    assert_eq!(r["totals"][column(&r, "total")], 56_500);

    // A credit note of the kept invoice's line takes its revenue back out.
    let mut admin = Browser::login_as(&app, &host, &c.admin).await;
    api(
        &mut admin,
        Method::POST,
        &format!("/api/v1/invoices/{}/credit-notes", kept.invoice),
        json!({ "lines": [kept.line], "reason": "not given" }),
    )
    .await;
    let r = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/reports/revenue?{MARCH}"),
        json!(null),
    )
    .await;
    assert_eq!(r["totals"][column(&r, "total")], 0, "{r}");
    assert_eq!(r["rows"][0][column(&r, "quantity")], 0);
    let r = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/reports/sales-register?{MARCH}"),
        json!(null),
    )
    .await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{r}");
    let cn = rows
        .iter()
        .find(|x| x[column(&r, "document")] == "Credit note")
        .unwrap();
    assert_eq!(cn[column(&r, "total")], -56_500);
    assert!(
        cn[column(&r, "credits")]
            .as_str()
            .unwrap()
            .starts_with("INV-")
    );
    assert_eq!(r["totals"][column(&r, "total")], 0);

    // The page: the form with the range, the chart, the table, a CSV link.
    let before = app.audit_count(&c.t, "report.view").await;
    let page = b.get(&format!("/reports/sales-register?{MARCH}")).await;
    assert_eq!(page.status, StatusCode::OK);
    for want in [
        "id=\"report-chart\"",
        "class=\"bar-value\"",
        "value=\"2026-03-01\"",
        "Ram Thapa",
        "Invoice (cancelled)",
        "-565.00",
        "format=csv",
    ] {
        assert!(page.contains(want), "{want}: {}", page.body);
    }
    assert_eq!(app.audit_count(&c.t, "report.view").await, before + 1);

    // The CSV file: every row, money as plain numbers, one export row in the audit log.
    let exports = app.audit_count(&c.t, "report.export").await;
    let csv = b
        .get(&format!("/reports/revenue?{MARCH}&by=day&format=csv"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("revenue-2026-03-01-to-2026-03-31.csv")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines[0], "Day,Invoices,Net,Tax,Total");
    assert_eq!(lines.len(), 1 + 31 + 1, "{}", csv.body);
    // One invoice counted (the cancelled one counts nowhere), credited in full.
    assert!(
        lines.contains(&"2026-03-02,1,0.00,0.00,0.00"),
        "{}",
        csv.body
    );
    assert_eq!(*lines.last().unwrap(), "Total,1,0.00,0.00,0.00");
    assert_eq!(app.audit_count(&c.t, "report.export").await, exports + 1);
    let rows = app.audit_rows(&c.t).await;
    let last = rows.last().unwrap();
    assert_eq!(last.action, "report.export");
    assert_eq!(last.details["report"], "revenue");
    assert_eq!(last.details["by"], "day");
}

#[tokio::test]
async fn appointments_and_diagnoses_reports_count_no_shows_and_signed_visits() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let host = TestApp::clinic_host("alpha");
    let mut tx = app.db.pool.begin().await.unwrap();
    clinicbox::domain::codes::load(
        &mut tx,
        "icd10-test",
        "Test codes",
        b"I10\t1\tEssential (primary) hypertension\nJ069\t1\tAcute upper respiratory infection, unspecified\n",
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.set_setting(&c.t, "diagnosis.code_system", json!("icd10-test"))
        .await;
    let mut desk = Browser::login_as(&app, &host, &c.reception).await;
    let mut doctor = Browser::login_as(&app, &host, &c.doctor).await;
    let mut pts = Vec::new();
    for (g, f) in [
        ("Sita", "Sharma"),
        ("Ram", "Thapa"),
        ("Gita", "Rai"),
        ("Hari", "KC"),
    ] {
        pts.push(patient(&app, &c.t, g, f, Some("1980-01-01"), None).await);
    }
    // Tuesday 3 March, Kathmandu 09:45, 10:15, 10:45, 11:15: one attended, one no-show,
    // one cancelled, one still booked.
    let mut appts = Vec::new();
    for (i, p) in pts.iter().enumerate() {
        let at = format!(
            "2026-03-03T0{}:{}:00Z",
            4 + i / 2,
            if i % 2 == 0 { "00" } else { "30" }
        );
        appts.push(book_with_doctor(&mut desk, &c, *p, &at).await);
    }
    api(
        &mut desk,
        Method::POST,
        &format!("/api/v1/appointments/{}/status", appts[1]),
        json!({ "status": "no_show" }),
    )
    .await;
    api(
        &mut desk,
        Method::POST,
        &format!("/api/v1/appointments/{}/cancel", appts[2]),
        json!({ "reason": "unwell" }),
    )
    .await;
    let v = api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/appointments/{}/visit", appts[0]),
        json!({}),
    )
    .await;
    let visit = v["id"].as_i64().unwrap();
    api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/visits/{visit}/diagnoses"),
        json!({ "code": "I10", "primary": true }),
    )
    .await;
    api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/visits/{visit}/sign"),
        json!({}),
    )
    .await;
    // A second signed visit with the same diagnosis typed as text, and an unsigned one.
    let v2 = walk_in_visit(&mut doctor, pts[3]).await;
    api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/visits/{v2}/diagnoses"),
        json!({ "code": "I10" }),
    )
    .await;
    api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/visits/{v2}/diagnoses"),
        json!({ "code": "", "text": "Low back pain" }),
    )
    .await;
    api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/visits/{v2}/sign"),
        json!({}),
    )
    .await;
    let v3 = walk_in_visit(&mut doctor, pts[1]).await;
    api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/visits/{v3}/diagnoses"),
        json!({ "code": "", "text": "Not signed yet" }),
    )
    .await;

    let mut admin = Browser::login_as(&app, &host, &c.admin).await;
    let r = api(
        &mut admin,
        Method::GET,
        &format!("/api/v1/reports/appointments?{MARCH}"),
        json!(null),
    )
    .await;
    let tuesday = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x[0] == "2026-03-03")
        .unwrap()
        .clone();
    assert_eq!(tuesday[column(&r, "booked")], 3, "{r}");
    assert_eq!(tuesday[column(&r, "completed")], 1);
    assert_eq!(tuesday[column(&r, "no_shows")], 1);
    assert_eq!(tuesday[column(&r, "cancelled_count")], 1);
    // One no-show of three appointments not cancelled.
    assert_eq!(tuesday[column(&r, "no_show_rate")], 3333);
    assert_eq!(r["totals"][column(&r, "no_show_rate")], 3333);
    let r = api(
        &mut admin,
        Method::GET,
        &format!("/api/v1/reports/appointments?{MARCH}&by=clinician"),
        json!(null),
    )
    .await;
    assert_eq!(r["rows"][0][0], "Test doctor", "{r}");
    assert_eq!(r["rows"][0][column(&r, "booked")], 3);

    let r = api(
        &mut admin,
        Method::GET,
        &format!("/api/v1/reports/diagnoses?{MARCH}"),
        json!(null),
    )
    .await;
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "signed visits only: {r}");
    assert_eq!(rows[0][column(&r, "code")], "I10");
    assert_eq!(rows[0][column(&r, "visits")], 2);
    assert_eq!(rows[0][column(&r, "primary")], 1);
    assert_eq!(rows[0][column(&r, "share_of_visits")], 10_000);
    assert_eq!(rows[1][column(&r, "diagnosis")], "Low back pain");
    assert_eq!(r["totals"][column(&r, "visits")], 2);

    // The page draws the no-shows as the darker part of each day's column.
    let page = admin.get(&format!("/reports/appointments?{MARCH}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.contains("class=\"bar-part\""), "{}", page.body);
    assert!(page.contains("33.3 %"), "{}", page.body);
}

#[tokio::test]
async fn bad_ranges_are_answered_by_field_and_doctors_see_no_reports() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let host = TestApp::clinic_host("alpha");
    let mut b = Browser::login_as(&app, &host, &c.billing).await;
    let before = app.audit_rows(&c.t).await.len();
    let page = b
        .get("/reports/revenue?from=2026-03-10&to=2026-03-01&by=service")
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"e-to\""), "{}", page.body);
    assert!(page.contains("the last day comes before the first"));
    // What was typed stays in the form.
    assert!(page.contains("value=\"2026-03-10\""));
    let page = b.get("/reports/revenue?from=2026-02-30&by=week").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"e-from\"") && page.contains("id=\"e-by\""));
    let page = b.get("/reports/diagnoses?fy=1800/01").await;
    assert!(page.contains("id=\"e-fy\""), "{}", page.body);
    let r = b
        .api(
            Method::GET,
            "/api/v1/reports/revenue?from=2020-01-01&to=2026-03-01",
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["errors"]["to"],
        "choose at most three years",
        "{}",
        r.body
    );
    let r = b.get("/reports/revenue?format=pdf").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was read, nothing audited.
    assert_eq!(app.audit_rows(&c.t).await.len(), before);

    let mut doctor = Browser::login_as(&app, &host, &c.doctor).await;
    assert_eq!(doctor.get("/reports").await.status, StatusCode::FORBIDDEN);
    let home = doctor.get("/").await;
    assert!(!home.contains("href=\"/reports\""));
    let index = b.get("/reports").await;
    assert_eq!(index.status, StatusCode::OK);
    for k in [
        "revenue",
        "sales-register",
        "cancellations",
        "appointments",
        "diagnoses",
    ] {
        assert!(index.contains(&format!("href=\"/reports/{k}\"")), "{k}");
    }
    assert!(index.contains("/reports/sales-register?fy=2025%2F26"));
}
