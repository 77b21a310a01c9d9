//! A clinic ready for scheduling tests: staff of every role, a time zone, opening hours,
//! providers' hours and appointment types.

use chrono::{NaiveDate, NaiveTime, Utc};
use clinicbox::db::TenantDb;
use clinicbox::domain::auth::Role;
use clinicbox::domain::patients::{PatientInput, Phone, service as patients};
use clinicbox::domain::scheduling::repo;
use clinicbox::domain::tenants::Tenant;

use super::{TestDb, TestUser};

pub struct Clinic {
    pub t: Tenant,
    pub admin: TestUser,
    pub reception: TestUser,
    pub doctor: TestUser,
    pub nurse: TestUser,
    pub billing: TestUser,
    /// 30-minute consultation.
    pub consult: i64,
    /// 15-minute follow-up.
    pub short: i64,
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

pub async fn clinic(db: &TestDb, slug: &str, tz: &str) -> Clinic {
    let tenant = db.create_tenant(slug).await;
    let admin = db.create_staff(&tenant, Role::ClinicAdmin).await;
    let reception = db.create_staff(&tenant, Role::Receptionist).await;
    let doctor = db.create_staff(&tenant, Role::Doctor).await;
    let nurse = db.create_staff(&tenant, Role::Nurse).await;
    let billing = db.create_staff(&tenant, Role::Billing).await;
    db.set_setting(&tenant, "timezone", serde_json::json!(tz))
        .await;
    let mut tx = TenantDb::begin(&db.db.pool, &tenant.db).await.unwrap();
    let mut open = Vec::new();
    for w in 1..=6 {
        open.push((w, t(8, 0), t(18, 0)));
    }
    repo::replace_clinic_hours(&mut tx, &open).await.unwrap();
    for p in [doctor.id, nurse.id] {
        let mut hours = Vec::new();
        for w in 1..=5 {
            hours.push((w, t(8, 0), t(12, 0)));
            hours.push((w, t(13, 0), t(17, 0)));
        }
        repo::replace_provider_hours(&mut tx, p, &hours)
            .await
            .unwrap();
    }
    let consult = repo::insert_type(&mut tx, "Consultation", 30, "#1f6f8b", None)
        .await
        .unwrap()
        .id;
    let short = repo::insert_type(&mut tx, "Follow-up", 15, "#2e7d32", None)
        .await
        .unwrap()
        .id;
    tx.commit().await.unwrap();
    Clinic {
        t: tenant,
        admin,
        reception,
        doctor,
        nurse,
        billing,
        consult,
        short,
    }
}

/// Registers a patient directly (no audit row), returning its id.
pub async fn patient(
    db: &TestDb,
    t: &Tenant,
    given: &str,
    family: &str,
    birth: Option<&str>,
    phone: Option<&str>,
) -> i64 {
    let input = PatientInput {
        given_name: given.into(),
        family_name: family.into(),
        sex: "female".into(),
        birth_date: birth.map(str::to_owned),
        phones: phone
            .map(|p| {
                vec![Phone {
                    label: "mobile".into(),
                    number: p.into(),
                }]
            })
            .unwrap_or_default(),
        ..PatientInput::default()
    };
    let mut tx = TenantDb::begin(&db.db.pool, &t.db).await.unwrap();
    let p = patients::register(
        &mut tx,
        &input,
        true,
        None,
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    p.id
}

/// Books `patient` with the clinic's doctor for a consultation at `starts_at` (RFC 3339)
/// through the API; the appointment's id.
pub async fn book_with_doctor(
    b: &mut crate::helpers::browser::Browser,
    c: &Clinic,
    patient: i64,
    starts_at: &str,
) -> i64 {
    let r = b
        .api(
            reqwest::Method::POST,
            "/api/v1/appointments",
            Some(
                serde_json::json!({"patient_id": patient, "provider_id": c.doctor.id,
                "type_id": c.consult, "starts_at": starts_at}),
            ),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

/// A PNG of `w`×`h` pixels.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// Uploads a small photo to `patient`'s chart as the clinic's doctor (through the page, as a
/// browser does); the document's id.
pub async fn document(app: &crate::helpers::TestApp, c: &Clinic, slug: &str, patient: i64) -> i64 {
    let mut doc = crate::helpers::browser::Browser::login_as(
        app,
        &crate::helpers::TestApp::clinic_host(slug),
        &c.doctor,
    )
    .await;
    let r = doc
        .upload(
            &format!("/patients/{patient}/documents"),
            &[("title", "Wound photo"), ("category", "photo")],
            Some(("wound.png", "image/png", png(40, 30))),
            true,
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::SEE_OTHER, "{}", r.body);
    sqlx::query_scalar(&format!(
        "SELECT max(id) FROM tenant_{}.documents WHERE patient_id = $1",
        slug.replace('-', "_")
    ))
    .bind(patient)
    .fetch_one(&app.admin)
    .await
    .unwrap()
}

/// A visit of `patient` without an appointment, started through the API by whoever `b` is
/// signed in as (a clinician); the visit's id.
pub async fn walk_in_visit(b: &mut crate::helpers::browser::Browser, patient: i64) -> i64 {
    let r = b
        .api(
            reqwest::Method::POST,
            &format!("/api/v1/patients/{patient}/visits"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

/// What a billed visit leaves: a service, the visit's issued invoice (one line), the
/// billing user's open shift and a cash receipt paying part of the invoice.
pub struct Billed {
    pub service: i64,
    pub invoice: i64,
    pub line: i64,
    pub shift: i64,
    pub payment: i64,
}

/// A consultation billed through the API: the admin adds a service, the doctor sees the
/// patient, billing invoices the visit, issues it, opens a shift and takes Rs. 100 in cash.
pub async fn billed(db: &crate::helpers::TestApp, c: &Clinic, slug: &str, patient: i64) -> Billed {
    use crate::helpers::TestApp;
    use crate::helpers::browser::Browser;
    use reqwest::{Method, StatusCode};
    use serde_json::json;
    let host = TestApp::clinic_host(slug);
    let mut admin = Browser::login_as(db, &host, &c.admin).await;
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let code = format!(
        "C{patient}-{}",
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let r = admin
        .api(
            Method::POST,
            "/api/v1/services",
            Some(json!({ "code": code, "name": "Consultation", "price": "500", "tax": "13" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let service = r.json()["id"].as_i64().unwrap();
    let mut doctor = Browser::login_as(db, &host, &c.doctor).await;
    let visit = walk_in_visit(&mut doctor, patient).await;
    let mut b = Browser::login_as(db, &host, &c.billing).await;
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/visits/{visit}/invoice"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let invoice = r.json()["id"].as_i64().unwrap();
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/invoices/{invoice}/lines"),
            Some(json!({ "service_id": service.to_string() })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let line = r.json()["id"].as_i64().unwrap();
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/invoices/{invoice}/issue"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = b
        .api(
            Method::POST,
            "/api/v1/shifts",
            Some(json!({ "float": "1000" })),
        )
        .await;
    let shift = if r.status == StatusCode::CREATED {
        r.json()["id"].as_i64().unwrap()
    } else {
        // Open already (a second billed visit of the same clinic).
        let s: i64 = sqlx::query_scalar(&format!(
            "SELECT id FROM tenant_{slug}.cash_shifts WHERE cashier_id = $1 AND closed_at IS NULL"
        ))
        .bind(c.billing.id)
        .fetch_one(&db.admin)
        .await
        .unwrap();
        s
    };
    let r = b
        .api(
            Method::POST,
            &format!("/api/v1/invoices/{invoice}/payments"),
            Some(json!({ "method": "cash", "amount": "100" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_i64().unwrap();
    Billed {
        service,
        invoice,
        line,
        shift,
        payment,
    }
}
