//! Booking without double booking, hours, the status flow, walk-ins and the schedule views.

use chrono::{NaiveTime, TimeZone, Utc};
use clinicbox::db::TenantDb;
use clinicbox::domain::scheduling::repo;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::{Browser, bearer};
use crate::helpers::clinic::{Clinic, clinic, patient};
use crate::helpers::{TestApp, spawn_app};

fn host(slug: &str) -> String {
    TestApp::clinic_host(slug)
}

/// The app's clock is Monday 2 March 2026, 09:00 UTC.
fn at(h: u32, m: u32) -> String {
    Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0)
        .unwrap()
        .to_rfc3339()
}

async fn slots(b: &mut Browser, c: &Clinic, date: &str) -> usize {
    let url = format!(
        "/api/v1/slots?provider={}&date={date}&type={}",
        c.doctor.id, c.consult
    );
    b.api(Method::GET, &url, None).await.json()["slots"]
        .as_array()
        .unwrap()
        .len()
}

async fn set(b: &mut Browser, id: i64, status: &str) -> crate::helpers::browser::Page {
    let url = format!("/api/v1/appointments/{id}/status");
    b.api(Method::POST, &url, Some(json!({ "status": status })))
        .await
}

async fn book(
    b: &mut Browser,
    c: &Clinic,
    patient: i64,
    starts: &str,
) -> crate::helpers::browser::Page {
    b.api(
        Method::POST,
        "/api/v1/appointments",
        Some(json!({"patient_id": patient, "provider_id": c.doctor.id, "type_id": c.consult, "starts_at": starts})),
    )
    .await
}

#[tokio::test]
async fn the_database_refuses_double_booking_and_offers_next_free_slots() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p1 = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let p2 = patient(&app, &c.t, "Ram", "Thapa", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;

    let ok = book(&mut b, &c, p1, &at(10, 0)).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.json()["status"], "booked");
    // Overlapping by 15 minutes: refused, with the next free starts.
    let clash = book(&mut b, &c, p2, &at(10, 15)).await;
    assert_eq!(clash.status, StatusCode::CONFLICT);
    let next: Vec<String> = clash.json()["next_free"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        next.first().map(String::as_str),
        Some("2026-03-02T10:30:00Z"),
        "{next:?}"
    );
    // Back to back is fine; another provider at the same time is fine.
    assert_eq!(
        book(&mut b, &c, p2, &at(10, 30)).await.status,
        StatusCode::CREATED
    );
    let nurse = b
        .api(Method::POST, "/api/v1/appointments", Some(json!({"patient_id": p2, "provider_id": c.nurse.id, "type_id": c.consult, "starts_at": at(10, 0)})))
        .await;
    assert_eq!(nurse.status, StatusCode::CREATED);
    // The same clash through the booking page: a friendly message and suggestions.
    let page = b
        .post(
            "/appointments/new",
            &[
                ("patient_id", &p2.to_string()),
                ("provider_id", &c.doctor.id.to_string()),
                ("type_id", &c.consult.to_string()),
                ("date", "2026-03-02"),
                ("time", "10:10"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.contains("already has an appointment at that time"));
    assert!(page.contains("id=\"suggestions\""));
    let created = app.audit_count(&c.t, "appointment.create").await;
    assert_eq!(
        created, 3,
        "only successful bookings are audited as created"
    );
}

#[tokio::test]
async fn two_concurrent_bookings_of_one_slot_yield_exactly_one_appointment() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let token = {
        let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
        let p = b
            .post(
                "/account/tokens",
                &[("name", "load"), ("scope", "read-write"), ("days", "5")],
            )
            .await;
        p.by_id("new-token").unwrap()
    };
    for round in 0..5u32 {
        let p1 = patient(&app, &c.t, "Racer", &format!("One{round}"), None, None).await;
        let p2 = patient(&app, &c.t, "Racer", &format!("Two{round}"), None, None).await;
        let starts = at(13 + round / 2, (round % 2) * 30);
        let body = |p: i64| json!({"patient_id": p, "provider_id": c.doctor.id, "type_id": c.consult, "starts_at": starts});
        let h = host("alpha");
        let (a, b) = tokio::join!(
            bearer(
                &app,
                &h,
                &token,
                Method::POST,
                "/api/v1/appointments",
                Some(body(p1))
            ),
            bearer(
                &app,
                &h,
                &token,
                Method::POST,
                "/api/v1/appointments",
                Some(body(p2))
            ),
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(
            statuses,
            [201, 409],
            "round {round}: {} / {}",
            a.body,
            b.body
        );
    }
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tenant_alpha.appointments WHERE status = 'booked'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(active, 5);
}

#[tokio::test]
async fn hours_holidays_and_leave_decide_what_can_be_booked() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    // 12:00-13:00 is the doctor's break; 18:00 is after hours.
    for t in [at(12, 0), at(17, 45)] {
        let r = book(&mut b, &c, p, &t).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{t}");
        assert!(r.json()["detail"].as_str().unwrap().contains("outside"));
    }
    // A deliberate exception is possible and recorded as such.
    let r = b
        .api(Method::POST, "/api/v1/appointments", Some(json!({"patient_id": p, "provider_id": c.doctor.id, "type_id": c.consult, "starts_at": at(12, 0), "outside_hours": true})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let row = app
        .audit_rows(&c.t)
        .await
        .into_iter()
        .find(|r| r.action == "appointment.create")
        .unwrap();
    assert_eq!(row.details["outside_hours"], true);
    // In the past: refused.
    let r = book(&mut b, &c, p, &at(8, 0)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    let tuesday = slots(&mut b, &c, "2026-03-03").await;
    let short = b
        .api(
            Method::GET,
            &format!(
                "/api/v1/slots?provider={}&date=2026-03-03&type={}",
                c.doctor.id, c.short
            ),
            None,
        )
        .await;
    assert_eq!(
        short.json()["slots"].as_array().unwrap().len(),
        32,
        "15-minute follow-ups fit 16 times per half day"
    );
    assert_eq!(
        tuesday, 30,
        "8-12 and 13-17: 30 minutes long, every 15 minutes, 15 starts each"
    );
    let mut tx = TenantDb::begin(&app.db.pool, &c.t.db).await.unwrap();
    repo::add_holiday(
        &mut tx,
        chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
        "Holi",
    )
    .await
    .unwrap();
    repo::add_absence(
        &mut tx,
        c.doctor.id,
        chrono::NaiveDate::from_ymd_opt(2026, 3, 4).unwrap(),
        chrono::NaiveDate::from_ymd_opt(2026, 3, 5).unwrap(),
        Some("leave"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(slots(&mut b, &c, "2026-03-03").await, 0, "holiday");
    assert_eq!(slots(&mut b, &c, "2026-03-05").await, 0, "leave");
    assert_eq!(slots(&mut b, &c, "2026-03-06").await, 30);
    assert_eq!(slots(&mut b, &c, "2026-03-08").await, 0, "Sunday");
}

#[tokio::test]
async fn slots_follow_the_clinic_time_zone_across_offsets_and_daylight_saving() {
    let app = spawn_app().await;
    let ktm = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let mut b = Browser::login_as(&app, &host("alpha"), &ktm.reception).await;
    let r = b
        .api(
            Method::GET,
            &format!("/api/v1/slots?provider={}&date=2026-03-03", ktm.doctor.id),
            None,
        )
        .await;
    let j = r.json();
    assert_eq!(j["timezone"], "Asia/Kathmandu");
    assert_eq!(j["slots"][0]["local"], "08:00");
    assert_eq!(j["slots"][0]["start"], "2026-03-03T02:15:00Z", "+05:45");

    // Berlin, Sunday 29 March 2026: clocks jump from 02:00 to 03:00.
    let ber = clinic(&app, "bravo", "Europe/Berlin").await;
    let mut tx = TenantDb::begin(&app.db.pool, &ber.t.db).await.unwrap();
    let h = |x| NaiveTime::from_hms_opt(x, 0, 0).unwrap();
    repo::replace_provider_hours(&mut tx, ber.doctor.id, &vec![(7, h(1), h(5))])
        .await
        .unwrap();
    repo::replace_clinic_hours(&mut tx, &vec![]).await.unwrap();
    tx.commit().await.unwrap();
    let mut b = Browser::login_as(&app, &host("bravo"), &ber.reception).await;
    let r = b
        .api(
            Method::GET,
            &format!(
                "/api/v1/slots?provider={}&date=2026-03-29&type={}",
                ber.doctor.id, ber.consult
            ),
            None,
        )
        .await;
    let locals: Vec<String> = r.json()["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["local"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !locals.iter().any(|l| l.starts_with("02:")),
        "no slot in the missing hour: {locals:?}"
    );
    assert_eq!(locals.first().map(String::as_str), Some("01:00"));
    assert_eq!(locals.last().map(String::as_str), Some("04:30"));
    // 01:00-05:00 on the clock is three real hours; a 01:45 start ends at 03:15.
    assert_eq!(locals.len(), 11, "{locals:?}");
    assert!(locals.contains(&"01:45".to_string()) && locals.contains(&"03:00".to_string()));
}

#[tokio::test]
async fn status_flow_is_enforced_and_audited() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let id = book(&mut b, &c, p, &at(11, 0)).await.json()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        set(&mut b, id, "completed").await.status,
        StatusCode::CONFLICT,
        "booked cannot jump to completed"
    );
    let r = set(&mut b, id, "arrived").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["queue_number"], 1);
    assert_eq!(
        set(&mut b, id, "no_show").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        set(&mut b, id, "in_consultation").await.json()["status"],
        "in_consultation"
    );
    assert_eq!(
        set(&mut b, id, "completed").await.json()["status"],
        "completed"
    );
    assert_eq!(
        set(&mut b, id, "arrived").await.status,
        StatusCode::CONFLICT
    );
    let cancel = b
        .api(
            Method::POST,
            &format!("/api/v1/appointments/{id}/cancel"),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::CONFLICT);

    let id2 = book(&mut b, &c, p, &at(14, 0)).await.json()["id"]
        .as_i64()
        .unwrap();
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/appointments/{id2}/cancel"),
            Some(json!({"reason": "  "})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "a reason is required");
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/appointments/{id2}/cancel"),
            Some(json!({"reason": "patient travelling"})),
        )
        .await;
    assert_eq!(r.json()["status"], "cancelled");
    assert_eq!(r.json()["cancel_reason"], "patient travelling");
    // The freed slot can be booked again.
    assert_eq!(
        book(&mut b, &c, p, &at(14, 0)).await.status,
        StatusCode::CREATED
    );

    let rows = app.audit_rows(&c.t).await;
    let transitions: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r.action == "appointment.status" || r.action == "appointment.cancel")
        .map(|r| {
            (
                r.details["from"].as_str().unwrap().to_owned(),
                r.details["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        transitions,
        [
            ("booked", "arrived"),
            ("arrived", "in_consultation"),
            ("in_consultation", "completed"),
            ("booked", "cancelled")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[tokio::test]
async fn front_desk_check_in_walk_ins_and_reschedule() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let w = patient(&app, &c.t, "Walk", "In", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let id = book(&mut b, &c, p, &at(9, 30)).await.json()["id"]
        .as_i64()
        .unwrap();

    // The walk-in joins the queue first (#1).
    let r = b
        .post(
            "/appointments/walk-in",
            &[("patient_id", &w.to_string()), ("provider_id", "")],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/today"),
        "{} {}",
        r.status,
        r.body
    );
    let today = b.get("/today").await;
    assert!(today.contains("Walk In") && today.contains("Ana Silva"));
    assert!(today.contains("#1"));
    // Check-in from the today list, the way htmx does it: the row comes back updated.
    let row = b
        .client
        .post(b.url(&format!("/appointments/{id}/status")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", &b.csrf)
        .header("Origin", &b.origin)
        .form(&[("status", "arrived")])
        .send()
        .await
        .unwrap();
    assert_eq!(row.status(), 200);
    let html = row.text().await.unwrap();
    assert!(html.starts_with("<tr id=\"appointment-"), "{html}");
    assert!(html.contains("status-arrived") && html.contains("#2"));
    // The queue comes along out of band, now with both patients.
    assert!(
        html.contains("id=\"queue-card\" hx-swap-oob=\"true\""),
        "{html}"
    );
    assert!(html.contains("Walk In") && html.contains("Ana Silva"));
    assert!(html.contains("data-action=\"in_consultation\""));
    // Without htmx the form redirects back.
    let id2 = book(&mut b, &c, p, &at(15, 0)).await.json()["id"]
        .as_i64()
        .unwrap();
    let r = b
        .post(
            &format!("/appointments/{id2}/status"),
            &[("status", "no_show"), ("return_to", "/today")],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/today"));

    // Reschedule: into a clash refused, to a free time accepted.
    let id3 = book(&mut b, &c, p, &at(16, 0)).await.json()["id"]
        .as_i64()
        .unwrap();
    let page = b
        .post(
            &format!("/appointments/{id3}/reschedule"),
            &[
                ("date", "2026-03-02"),
                ("time", "09:30"),
                ("provider_id", &c.doctor.id.to_string()),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.contains("already has an appointment"));
    let r = b
        .post(
            &format!("/appointments/{id3}/reschedule"),
            &[
                ("date", "2026-03-03"),
                ("time", "09:00"),
                ("provider_id", &c.nurse.id.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let moved = b
        .api(Method::GET, &format!("/api/v1/appointments/{id3}"), None)
        .await
        .json();
    assert_eq!(moved["starts_at"], "2026-03-03T09:00:00Z");
    assert_eq!(moved["provider_id"], c.nurse.id);
    let rows = app.audit_rows(&c.t).await;
    let walkin = rows
        .iter()
        .find(|r| r.action == "appointment.create" && r.details["walk_in"] == true)
        .unwrap();
    assert_eq!(walkin.patient_id, Some(w));
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "appointment.reschedule")
            .count(),
        1
    );
}

#[tokio::test]
async fn schedule_views_show_the_day_and_are_audited() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    book(&mut b, &c, p, &at(10, 0)).await;
    for (path, needle) in [
        ("/today".to_string(), "Ana Silva"),
        ("/schedule/day?date=2026-03-02".to_string(), "10:00–10:30"),
        (
            format!("/schedule/week?provider={}&date=2026-03-04", c.doctor.id),
            "Ana Silva",
        ),
        ("/schedule/print?date=2026-03-02".to_string(), "Ana Silva"),
        (
            format!(
                "/appointments/new?patient={p}&provider={}&date=2026-03-03",
                c.doctor.id
            ),
            "value=\"2026-03-03T08:00:00+00:00\"",
        ),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.contains(needle), "{path}: {needle}");
    }
    assert_eq!(
        b.get("/schedule/day?date=tomorrow").await.status,
        StatusCode::BAD_REQUEST
    );
    let css = b.get("/schedule/types.css").await;
    assert!(css.body.contains(&format!(
        ".type-{} {{ border-left-color: #1f6f8b; }}",
        c.consult
    )));
    let views: Vec<Value> = app
        .audit_rows(&c.t)
        .await
        .into_iter()
        .filter(|r| r.action == "schedule.view")
        .map(|r| r.details)
        .collect();
    assert_eq!(views.len(), 4);
    assert_eq!(views[0]["view"], "today");
    // Billing can look, not book.
    let mut bill = Browser::login_as(&app, &host("alpha"), &c.billing).await;
    assert_eq!(bill.get("/today").await.status, 200);
    assert_eq!(
        bill.get(&format!("/appointments/new?patient={p}"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
