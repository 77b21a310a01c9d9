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
    // What was typed stays (issue 15, item 5), and each free time offered is a button.
    assert!(
        page.contains(r#"id="rs-date" name="date" type="date" value="2026-03-02""#),
        "{}",
        page.body
    );
    assert!(
        page.contains(r#"id="rs-time" name="time" type="time" value="09:30""#),
        "{}",
        page.body
    );
    assert!(page.contains(r#"id="move-suggestions""#), "{}", page.body);
    let offered = page
        .body
        .split(r#"<input type="hidden" name="time" value=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let r = b
        .post(
            &format!("/appointments/{id3}/reschedule"),
            &[
                ("date", "2026-03-02"),
                ("time", offered.as_str()),
                ("provider_id", &c.doctor.id.to_string()),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the offered time {offered} is free"
    );
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
        2,
        "the offered time, then the nurse's"
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
        .filter(|r| r.action == "schedule.view" && r.details["view"] != "home")
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

/// Issue 15, items 3 and 4: a patient is never in today's queue twice, and a walk-in for
/// "next free clinician" shows the clinician who saw the patient, and a time.
#[tokio::test]
async fn a_walk_in_is_never_queued_twice_and_gets_the_clinician_who_starts_it() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let booked = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let w = patient(&app, &c.t, "Walk", "In", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    assert_eq!(
        book(&mut b, &c, booked, &at(9, 30)).await.status,
        StatusCode::CREATED
    );
    let (booked_s, w_s) = (booked.to_string(), w.to_string());
    let for_booked = [("patient_id", booked_s.as_str()), ("provider_id", "")];
    let for_w = [("patient_id", w_s.as_str()), ("provider_id", "")];

    // Booked today: refused, on the chart (where the button is), with the booking's time.
    let r = b.post("/appointments/walk-in", &for_booked).await;
    assert_eq!(r.location, Some(format!("/patients/{booked}")));
    let chart = b.get(&format!("/patients/{booked}")).await;
    assert!(
        chart.contains("booked today at 09:30: check that appointment in instead"),
        "{}",
        chart.body
    );

    // Queued once; the second time is refused and the queue is unchanged.
    let r = b.post("/appointments/walk-in", &for_w).await;
    assert_eq!(r.location.as_deref(), Some("/today"));
    let before = b.get("/today").await.body.matches("Walk In").count();
    let r = b.post("/appointments/walk-in", &for_w).await;
    assert_eq!(r.location, Some(format!("/patients/{w}")));
    let chart = b.get(&format!("/patients/{w}")).await;
    assert!(
        chart.contains("already in today") && chart.contains("(#1)"),
        "{}",
        chart.body
    );
    assert_eq!(
        b.get("/today").await.body.matches("Walk In").count(),
        before
    );
    let walk_ins: Vec<_> = app
        .audit_rows(&c.t)
        .await
        .into_iter()
        .filter(|r| r.action == "appointment.create" && r.patient_id == Some(w))
        .collect();
    assert_eq!(walk_ins.len(), 1);
    let id = walk_ins[0].resource_id.clone().unwrap();

    // The doctor starts it: it is now the doctor's, and "When" is a time.
    let mut doc = Browser::login_as(&app, &host("alpha"), &c.doctor).await;
    let id: i64 = id.parse().unwrap();
    assert_eq!(
        set(&mut doc, id, "in_consultation").await.status,
        StatusCode::OK
    );
    let a = doc
        .api(Method::GET, &format!("/api/v1/appointments/{id}"), None)
        .await
        .json();
    assert_eq!(a["provider_id"], c.doctor.id, "{a}");
    let page = doc.get(&format!("/appointments/{id}")).await;
    assert!(!page.contains("Next free clinician"), "{}", page.body);
    assert!(
        page.contains(r#"<dd id="appointment-when">Walk-in · "#),
        "{}",
        page.body
    );
    assert!(!page.contains("add to today"), "{}", page.body);
}

/// Issue 15, item 9: the booking form opens on the first clinician with free time that day,
/// not on one without working hours who comes first alphabetically.
#[tokio::test]
async fn the_booking_form_defaults_to_a_clinician_with_free_time() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut admin = Browser::login_as(&app, &host("alpha"), &c.admin).await;
    let new = admin
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "aaron@alpha.test", "display_name": "Aaron Newcomer", "role": "doctor"})),
        )
        .await;
    assert_eq!(new.status, StatusCode::CREATED, "{}", new.body);
    let newcomer = new.json()["user"]["id"].as_i64().unwrap();
    // A new clinician starts with the clinic's opening hours; this one's were then cleared
    // (a clinician who does not see patients yet).
    let hours = format!("FROM tenant_alpha.provider_hours WHERE provider_id = {newcomer}");
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) {hours}"))
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let clinic_hours: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.clinic_hours")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(n, clinic_hours);
    sqlx::query(&format!("DELETE {hours}"))
        .execute(&app.admin)
        .await
        .unwrap();

    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let form = b.get(&format!("/appointments/new?patient={p}")).await;
    assert_eq!(form.status, 200);
    assert!(
        form.contains(&format!("<option value=\"{}\" selected>", c.doctor.id)),
        "{}",
        form.body
    );
    assert!(!form.contains(&format!("<option value=\"{newcomer}\" selected>")));
    // Asked for by name, the newcomer is shown, with no free time.
    let form = b
        .get(&format!(
            "/appointments/new?patient={p}&provider={newcomer}"
        ))
        .await;
    assert!(form.contains(&format!("<option value=\"{newcomer}\" selected>")));
}

/// Issue 15, item 14: a booking reason over 500 characters is refused with a message next to
/// the field, and the rest of what was typed stays.
#[tokio::test]
async fn a_too_long_booking_reason_is_said_next_to_the_field() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let long = "x".repeat(501);
    let page = b
        .post(
            "/appointments/new",
            &[
                ("patient_id", &p.to_string()),
                ("provider_id", &c.doctor.id.to_string()),
                ("type_id", &c.consult.to_string()),
                ("date", "2026-03-02"),
                ("time", "11:00"),
                ("reason", &long),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(r#"<p class="field-error" id="reason-error">at most 500 characters</p>"#),
        "{}",
        page.body
    );
    assert!(page.contains(&long), "what was typed is kept");
    assert_eq!(app.audit_count(&c.t, "appointment.create").await, 0);
}

/// Issue 15, item 14: a holiday on a day that has passed is refused with a message (it used
/// to be saved and then never shown); today and later are accepted.
#[tokio::test]
async fn a_past_holiday_is_refused() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.admin).await;
    let p = b
        .post(
            "/settings/holidays",
            &[("day", "2026-03-01"), ("name", "Yesterday")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(p.contains("this day has passed"), "{}", p.body);
    let r = b
        .post(
            "/settings/holidays",
            &[("day", "2026-03-02"), ("name", "Today")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let hours = b.get("/settings/hours").await;
    assert!(hours.contains("Today"));
    // Issue 15, item 15: an empty day's placeholder says "closed", not hours that look real.
    assert!(
        hours.contains(r#"id="hours_7" name="hours_7" value="" placeholder="closed""#),
        "{}",
        hours.body
    );
}

/// Issue 15, item 14: a booking beyond the clinic's horizon (default 24 months; a typo such as
/// 2099) is refused with a message; the horizon is a clinic setting.
#[tokio::test]
async fn bookings_beyond_the_horizon_are_refused() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let far = book(&mut b, &c, p, "2099-03-02T09:30:00Z").await;
    assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", far.body);
    assert!(
        far.json()["errors"]["starts_at"]
            .as_str()
            .unwrap()
            .contains("more than 24 month(s) ahead"),
        "{}",
        far.body
    );
    // Within two years is fine.
    let near = book(&mut b, &c, p, "2027-03-01T09:30:00Z").await;
    assert_ne!(
        near.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        near.body
    );

    // An admin narrows it to one month; a bad value is said next to the field.
    let mut admin = Browser::login_as(&app, &host("alpha"), &c.admin).await;
    let fields = |h: &'static str| {
        [
            ("timezone", "UTC"),
            ("mrn_prefix", ""),
            ("slot_minutes", "15"),
            ("horizon_months", h),
            ("max_upload_mb", "20"),
        ]
    };
    let bad = admin.post("/settings/clinic", &fields("0")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.contains("a whole number of months from 1 to 60"),
        "{}",
        bad.body
    );
    let ok = admin.post("/settings/clinic", &fields("1")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let later = book(&mut b, &c, p, "2026-05-04T09:30:00Z").await;
    assert_eq!(
        later.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        later.body
    );
    assert!(
        later.body.contains("more than 1 month(s) ahead"),
        "{}",
        later.body
    );
}

/// Issue 15, item 15: a patient marked deleted leaves today's list and queue (and comes back
/// when restored).
#[tokio::test]
async fn a_deleted_patient_leaves_todays_queue() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Gone", "Away", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let p_s = p.to_string();
    let r = b
        .post(
            "/appointments/walk-in",
            &[("patient_id", p_s.as_str()), ("provider_id", "")],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/today"));
    assert!(b.get("/today").await.contains("Gone Away"));
    let r = b.post(&format!("/patients/{p}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!b.get("/today").await.contains("Gone Away"));
    let r = b.post(&format!("/patients/{p}/restore"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(b.get("/today").await.contains("Gone Away"));
}

/// Issue 15, item 10 (in part): staff "Last sign-in" is in the clinic's time zone, and says
/// which.
#[tokio::test]
async fn last_sign_in_is_shown_in_the_clinics_time_zone() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let _ = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let mut admin = Browser::login_as(&app, &host("alpha"), &c.admin).await;
    let list = admin.get("/settings/users").await;
    assert!(list.contains("(Asia/Kathmandu)"), "{}", list.body);
    // Signed in at 09:00 UTC: 14:45 in Kathmandu (UTC+05:45).
    assert!(list.contains("2026-03-02 14:45"), "{}", list.body);
    assert!(!list.contains("2026-03-02 09:00"), "{}", list.body);
}

/// Issue 15, item 7: Today can show one clinician's list (a doctor's own by default, with the
/// walk-ins anyone may take), and a check-in without JavaScript comes back to the same row.
#[tokio::test]
async fn today_filters_by_clinician_and_keeps_the_row_after_check_in() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let mine = patient(&app, &c.t, "Doc", "Patient", None, None).await;
    let theirs = patient(&app, &c.t, "Nurse", "Patient", None, None).await;
    let walker = patient(&app, &c.t, "Any", "Walker", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let id = book(&mut b, &c, mine, &at(9, 30)).await.json()["id"]
        .as_i64()
        .unwrap();
    let nurse_booking = b
        .api(
            Method::POST,
            "/api/v1/appointments",
            Some(json!({"patient_id": theirs, "provider_id": c.nurse.id, "type_id": c.consult, "starts_at": at(10, 0)})),
        )
        .await;
    assert_eq!(nurse_booking.status, StatusCode::CREATED);
    let w = walker.to_string();
    b.post(
        "/appointments/walk-in",
        &[("patient_id", w.as_str()), ("provider_id", "")],
    )
    .await;

    // Reception: everyone. The doctor: their own and the unassigned walk-in.
    let all = b.get("/today").await;
    assert!(
        all.contains("Doc Patient") && all.contains("Nurse Patient") && all.contains("Any Walker")
    );
    let mut doc = Browser::login_as(&app, &host("alpha"), &c.doctor).await;
    let own = doc.get("/today").await;
    assert!(
        own.contains("Doc Patient") && own.contains("Any Walker"),
        "{}",
        own.body
    );
    assert!(!own.body.contains("Nurse Patient"), "{}", own.body);
    assert!(own.contains(&format!("<option value=\"{}\" selected>", c.doctor.id)));
    let everyone = doc.get("/today?clinician=all").await;
    assert!(everyone.body.contains("Nurse Patient</a>"));
    let nurse_only = b.get(&format!("/today?clinician={}", c.nurse.id)).await;
    assert!(
        nurse_only.body.contains("Nurse Patient</a>")
            && !nurse_only.body.contains("Doc Patient</a>")
    );

    // Check-in without JavaScript returns to the row it was pressed on.
    assert!(all.contains(&format!("value=\"/today#appointment-{id}\"")));
    let back = format!("/today#appointment-{id}");
    let r = b
        .post(
            &format!("/appointments/{id}/status"),
            &[("status", "arrived"), ("return_to", back.as_str())],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some(back.as_str()));
}

/// Issue 15, item 11 (in part): the appointment slip, the day list and the chart print with a
/// letterhead: the clinic's name and when they were printed, in the clinic's zone.
#[tokio::test]
async fn printouts_carry_the_clinic_and_the_time_printed() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let p = patient(&app, &c.t, "Ana", "Silva", None, None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let id = book(&mut b, &c, p, &at(10, 0)).await.json()["id"]
        .as_i64()
        .unwrap();
    for path in [
        format!("/appointments/{id}"),
        format!("/patients/{p}"),
        "/schedule/print?date=2026-03-02".to_owned(),
    ] {
        let page = b.get(&path).await;
        assert!(
            page.contains(r#"<div class="letterhead print-only"><strong>Clinic ALPHA</strong> <span>Printed 02 Mar 2026 14:45</span></div>"#),
            "{path}: {}",
            page.body
        );
    }
    // Screens that are not printouts have none.
    assert!(!b.get("/today").await.contains("letterhead"));
}
