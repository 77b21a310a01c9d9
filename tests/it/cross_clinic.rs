//! Every route that takes a patient, appointment or provider id answers 404 for another
//! clinic's ids — pages and API alike — and changes nothing there.

use chrono::{TimeZone, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{clinic, patient};
use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn another_clinics_patients_and_appointments_are_not_found() {
    let app = spawn_app().await;
    let alpha = clinic(&app, "alpha", "UTC").await;
    let bravo = clinic(&app, "bravo", "UTC").await;
    let own = patient(&app, &alpha.t, "Own", "Patient", None, None).await;
    // Bravo has more rows, so its ids do not exist in alpha at all.
    for i in 0..5 {
        patient(&app, &bravo.t, "Other", &format!("P{i}"), None, None).await;
    }
    let theirs = patient(
        &app,
        &bravo.t,
        "Secret",
        "Person",
        Some("1970-01-01"),
        Some("555 0100 999"),
    )
    .await;
    let mut bb = Browser::login_as(&app, &TestApp::clinic_host("bravo"), &bravo.reception).await;
    for i in 0..4 {
        let r = bb
            .api(
                Method::POST,
                "/api/v1/appointments",
                Some(json!({"patient_id": theirs, "provider_id": bravo.doctor.id, "type_id": bravo.consult,
                            "starts_at": Utc.with_ymd_and_hms(2026, 3, 3, 8 + i, 0, 0).unwrap()})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let their_appt: i64 = sqlx::query_scalar("SELECT max(id) FROM tenant_bravo.appointments")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let exists_in_alpha: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM tenant_alpha.patients WHERE id = $1) + (SELECT count(*) FROM tenant_alpha.appointments WHERE id = $2)",
    )
    .bind(theirs)
    .bind(their_appt)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(
        exists_in_alpha, 0,
        "the ids must be bravo-only for this test to mean anything"
    );
    let bravo_audit_before = app.audit_rows(&bravo.t).await.len();

    // Alpha's admin has every permission that these routes check, short of clinical notes.
    let mut a = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &alpha.admin).await;
    let p = theirs.to_string();
    let ap = their_appt.to_string();
    let prov = bravo.nurse.id.max(bravo.doctor.id) + 100;
    let gets = [
        format!("/patients/{p}"),
        format!("/patients/{p}/edit"),
        format!("/appointments/new?patient={p}"),
        format!("/appointments/{ap}"),
        format!("/settings/providers/{prov}"),
        format!("/schedule/week?provider={prov}"),
    ];
    for path in &gets {
        let r = a.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(!r.contains("Secret"), "GET {path}");
    }
    // The free-times fragment reads no patient: alpha's own free times, nothing of bravo's.
    let r = a.get(&format!("/appointments/slots?patient={p}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.contains("Secret"));
    let own_s = own.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            format!("/patients/{p}/edit"),
            vec![
                ("given_name", "X"),
                ("family_name", "Y"),
                ("sex", "male"),
                ("version", "1"),
            ],
        ),
        (format!("/patients/{p}/delete"), vec![]),
        (format!("/patients/{p}/restore"), vec![]),
        (
            "/appointments/new".into(),
            vec![
                ("patient_id", &p),
                ("provider_id", ""),
                ("type_id", ""),
                ("time", "10:00"),
            ],
        ),
        ("/appointments/walk-in".into(), vec![("patient_id", &p)]),
        (
            format!("/appointments/{ap}/status"),
            vec![("status", "arrived")],
        ),
        (format!("/appointments/{ap}/cancel"), vec![("reason", "x")]),
        (
            format!("/appointments/{ap}/reschedule"),
            vec![("date", "2026-03-04"), ("time", "10:00")],
        ),
        (
            format!("/settings/providers/{prov}/hours"),
            vec![("hours_1", "09:00-10:00")],
        ),
        (
            format!("/settings/providers/{prov}/absences"),
            vec![("starts_on", "2026-03-10")],
        ),
        (
            "/appointments/new".into(),
            vec![
                ("patient_id", &own_s),
                ("provider_id", "999999"),
                ("time", "10:00"),
            ],
        ),
    ];
    for (path, fields) in &posts {
        let r = a.post(path, fields).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "POST {path}: {}", r.body);
    }
    let api: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v1/patients/{p}"), None),
        (
            Method::PATCH,
            format!("/api/v1/patients/{p}"),
            Some(json!({"notes": "x"})),
        ),
        (
            Method::GET,
            format!("/api/v1/patients/{p}/appointments"),
            None,
        ),
        (Method::GET, format!("/api/v1/appointments/{ap}"), None),
        (
            Method::POST,
            format!("/api/v1/appointments/{ap}/status"),
            Some(json!({"status": "arrived"})),
        ),
        (
            Method::POST,
            format!("/api/v1/appointments/{ap}/cancel"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/appointments/{ap}/reschedule"),
            Some(json!({"starts_at": "2026-03-04T10:00:00Z"})),
        ),
        (
            Method::POST,
            "/api/v1/appointments".into(),
            Some(
                json!({"patient_id": theirs, "provider_id": alpha.doctor.id, "type_id": alpha.consult, "starts_at": "2026-03-04T10:00:00Z"}),
            ),
        ),
        (Method::GET, format!("/api/v1/slots?provider={prov}"), None),
    ];
    for (m, path, body) in api {
        let r = a.api(m.clone(), &path, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {path}: {}", r.body);
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    // Searching in alpha never finds bravo's patient, by any key.
    for q in [
        "secret person",
        "Person",
        "1970-01-01",
        "555 0100 999",
        &format!("P{:06}", theirs),
    ] {
        let r = a
            .api(
                Method::GET,
                &format!(
                    "/api/v1/patients?q={}",
                    url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
                ),
                None,
            )
            .await;
        assert!(
            r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["given_name"] != "Secret"),
            "{q}"
        );
    }
    // Alpha's day lists show nothing of bravo.
    for path in [
        "/today",
        "/schedule/day?date=2026-03-03",
        "/schedule/print?date=2026-03-03",
    ] {
        assert!(!a.get(path).await.contains("Secret"), "{path}");
    }
    // Bravo is untouched: no status change, no new rows, no audit rows from alpha.
    let status: String =
        sqlx::query_scalar("SELECT status FROM tenant_bravo.appointments WHERE id = $1")
            .bind(their_appt)
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!(status, "booked");
    let deleted: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT deleted_at FROM tenant_bravo.patients WHERE id = $1")
            .bind(theirs)
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert!(deleted.is_none());
    assert_eq!(app.audit_rows(&bravo.t).await.len(), bravo_audit_before);
}
