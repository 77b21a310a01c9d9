//! Walks the clinic's route tables (`web::routes::clinic::all_routes`), not a hand-kept list:
//! every route that names a record by id answers 404 for another clinic's ids and changes
//! nothing there; every permission-guarded route refuses each role without the permission
//! (403 and an `access.denied` row) and lets each role with it through; no route but the
//! public ones works for a session of another clinic.

use std::collections::HashMap;

use clinicbox::domain::auth::Role;
use clinicbox::web::routes::clinic::all_routes;
use clinicbox::web::routes::table::{Access, Route};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::{Browser, Page};
use crate::helpers::clinic::{Clinic, book_with_doctor, clinic, patient};
use crate::helpers::{TestApp, spawn_app};

/// The records a route's path or query can name, by the name the path gives them.
struct Ids {
    patient: i64,
    appointment: i64,
    user: i64,
    appointment_type: i64,
    token: i64,
    absence: i64,
    visit: i64,
    diagnosis: i64,
    drug: i64,
    item: i64,
    document: i64,
    template: i64,
    service: i64,
    invoice: i64,
    line: i64,
    payment: i64,
    shift: i64,
    day: &'static str,
}

/// The path (and query) of `r` with `ids` filled in. The parameter's kind is the path
/// segment before it (`/patients/{id}`: a patient); a kind this does not know fails the test,
/// so that a new kind of record gets its ids here.
fn fill(r: &Route, ids: &Ids) -> Result<String, String> {
    let segments: Vec<&str> = r.path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let prev = if i > 0 { segments[i - 1] } else { "" };
        out.push(match *seg {
            "{id}" => match prev {
                "patients" => ids.patient.to_string(),
                "appointments" => ids.appointment.to_string(),
                "users" | "providers" => ids.user.to_string(),
                "appointment-types" => ids.appointment_type.to_string(),
                "tokens" => ids.token.to_string(),
                "visits" => ids.visit.to_string(),
                "drugs" => ids.drug.to_string(),
                "documents" => ids.document.to_string(),
                "templates" => ids.template.to_string(),
                "services" => ids.service.to_string(),
                "invoices" => ids.invoice.to_string(),
                "payments" => ids.payment.to_string(),
                "shifts" => ids.shift.to_string(),
                other => {
                    return Err(format!(
                        "{} {}: what is an id after {other:?}?",
                        r.method, r.path
                    ));
                }
            },
            "{day}" => ids.day.to_owned(),
            "{absence}" => ids.absence.to_string(),
            "{diagnosis}" => ids.diagnosis.to_string(),
            "{item}" => ids.item.to_string(),
            "{line}" => ids.line.to_string(),
            s if s.starts_with('{') => {
                return Err(format!("{} {}: unknown parameter {s}", r.method, r.path));
            }
            s => s.to_owned(),
        });
    }
    let mut path = out.join("/");
    if let Some(q) = r.query {
        path.push('?');
        path.push_str(
            &q.replace("{patient}", &ids.patient.to_string())
                .replace("{provider}", &ids.user.to_string())
                .replace("{appointment}", &ids.appointment.to_string()),
        );
    }
    Ok(path)
}

fn has_ids(r: &Route) -> bool {
    r.path.contains('{') || r.query.is_some()
}

/// A body the route can read, so that it gets as far as looking the record up. By the last
/// path segment; the default (nothing / `{}`) suits the rest.
fn form_for(r: &Route) -> Vec<(&'static str, &'static str)> {
    match r.path.rsplit('/').next().unwrap_or("") {
        "status" => vec![("status", "arrived")],
        "cancel" => vec![("reason", "no longer needed")],
        "reschedule" => vec![("date", "2026-03-04"), ("time", "10:00")],
        "edit" => vec![
            ("given_name", "X"),
            ("family_name", "Y"),
            ("sex", "male"),
            ("version", "1"),
        ],
        "hours" => vec![("hours_1", "09:00-10:00")],
        "vitals" => vec![("pulse", "80")],
        "amend" => vec![("section", "plan"), ("body", "x"), ("reason", "typo")],
        "resolve" => vec![("problem_id", "1")],
        "payments" | "deposits" => vec![("method", "cash"), ("amount", "1")],
        "credit-note" => vec![("credit_line", "1"), ("credit_reason", "wrong line")],
        "refund" => vec![("refund_amount", "1"), ("refund_reason", "overpaid")],
        "{id}" if r.path.starts_with("/settings/services/") => {
            vec![("code", "RN"), ("name", "Renamed"), ("price", "1")]
        }
        "delete" if r.path.starts_with("/documents/") => vec![("reason", "duplicate")],
        "{id}" if r.path.starts_with("/settings/drugs/") => {
            vec![("generic_name", "Renamed"), ("form", "tablet")]
        }
        "{id}" if r.path.starts_with("/visits/") => vec![("version", "1"), ("plan", "x")],
        "{id}" if r.path.starts_with("/settings/templates/") => vec![
            ("name", "Renamed"),
            ("layout", "[plan]\nX"),
            ("active", "1"),
        ],
        "absences" => vec![("starts_on", "2026-03-10")],
        "{id}" if r.path.contains("appointment-types") => vec![
            ("name", "Renamed"),
            ("duration_minutes", "20"),
            ("color", "#123456"),
        ],
        _ => Vec::new(),
    }
}

fn json_for(r: &Route) -> serde_json::Value {
    match (r.method.as_str(), r.path.rsplit('/').next().unwrap_or("")) {
        (_, "status") => json!({ "status": "arrived" }),
        (_, "cancel") => json!({ "reason": "no longer needed" }),
        (_, "reschedule") => json!({ "starts_at": "2026-03-04T10:00:00Z" }),
        ("PATCH", _) if r.path.contains("/users/") => json!({ "display_name": "Renamed" }),
        ("PATCH", _) if r.path.contains("/visits/") => json!({ "version": 1, "plan": "x" }),
        (_, "vitals") => json!({ "pulse": "80" }),
        (_, "diagnoses") => json!({ "text": "X" }),
        ("POST", "prescription") => {
            json!({ "drug": "X", "form": "tablet", "dose": "1-0-1", "days": 3 })
        }
        (_, "amendments") => json!({ "section": "plan", "body": "x", "reason": "typo" }),
        (_, "payments") | (_, "deposits") => json!({ "method": "card", "amount": "1" }),
        (_, "credit-notes") => json!({ "lines": [1], "reason": "wrong line" }),
        (_, "refunds") => json!({ "amount": "1", "reason": "overpaid" }),
        ("DELETE", "{id}") if r.path.contains("/documents/") => json!({ "reason": "duplicate" }),
        ("PATCH", _) => json!({ "notes": "changed" }),
        _ => json!({}),
    }
}

async fn request(b: &mut Browser, r: &Route, path: &str) -> Page {
    let api = r.path.starts_with("/api/");
    if r.upload {
        let file = ("scan.png", "image/png", crate::helpers::clinic::png(8, 8));
        return b.upload(path, &[("title", "Scan")], Some(file), true).await;
    }
    match (r.method.clone(), api) {
        (Method::GET, false) => b.get(path).await,
        (_, false) => b.post(path, &form_for(r)).await,
        (Method::GET, true) => b.api(Method::GET, path, None).await,
        (m, true) => b.api(m, path, Some(json_for(r))).await,
    }
}

fn to_sign_in(p: &Page) -> bool {
    // 401 on the API, the sign-in page for pages.
    p.status == StatusCode::UNAUTHORIZED
        || (p.status.is_redirection()
            && p.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/login")))
}

/// A visit of `patient` started by the clinic's doctor, with one diagnosis and one prescribed
/// drug: (visit, diagnosis, prescription line).
async fn visit_with_diagnosis(
    app: &TestApp,
    c: &Clinic,
    slug: &str,
    patient: i64,
) -> (i64, i64, i64) {
    let mut doc = Browser::login_as(app, &TestApp::clinic_host(slug), &c.doctor).await;
    let visit = crate::helpers::clinic::walk_in_visit(&mut doc, patient).await;
    let r = doc
        .api(
            Method::POST,
            &format!("/api/v1/visits/{visit}/diagnoses"),
            Some(json!({ "text": "Secret diagnosis" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let diagnosis = r.json()["id"].as_i64().unwrap();
    let r = doc
        .api(
            Method::POST,
            &format!("/api/v1/visits/{visit}/prescription"),
            Some(json!({ "drug": "Secret drug", "form": "tablet", "dose": "1-0-1", "days": 5 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (visit, diagnosis, r.json()["id"].as_i64().unwrap())
}

/// A drug in the clinic's list: its id.
async fn drug(app: &TestApp, schema: &str, name: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "INSERT INTO {schema}.drugs (generic_name, form) VALUES ($1, 'tablet') RETURNING id"
    ))
    .bind(name)
    .fetch_one(&app.admin)
    .await
    .unwrap()
}

/// Ids of records bravo has and alpha does not (bravo's sequences are pushed ahead).
async fn bravo_only_ids(app: &TestApp, bravo: &Clinic) -> Ids {
    for i in 0..6 {
        patient(app, &bravo.t, "Other", &format!("P{i}"), None, None).await;
        app.create_staff(&bravo.t, Role::Receptionist).await;
    }
    let theirs = patient(app, &bravo.t, "Secret", "Person", Some("1970-01-01"), None).await;
    let mut bb = Browser::login_as(app, &TestApp::clinic_host("bravo"), &bravo.reception).await;
    for h in 8..12 {
        let r = bb
            .api(
                Method::POST,
                "/api/v1/appointments",
                Some(json!({"patient_id": theirs, "provider_id": bravo.doctor.id,
                            "type_id": bravo.consult, "starts_at": format!("2026-03-03T{h:02}:00:00Z")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    for _ in 0..3 {
        visit_with_diagnosis(app, bravo, "bravo", theirs).await;
    }
    // Bravo bills (more than alpha ever will), and its billing user's shift is another's.
    for _ in 0..3 {
        crate::helpers::clinic::billed(app, bravo, "bravo", theirs).await;
    }
    for _ in 0..3 {
        let other = app.create_staff(&bravo.t, Role::Billing).await;
        sqlx::query(
            "INSERT INTO tenant_bravo.cash_shifts (cashier_id, opened_at, opening_float) VALUES ($1, now(), 0)",
        )
        .bind(other.id)
        .execute(&app.admin)
        .await
        .unwrap();
    }
    for n in 0..4 {
        let r = bb
            .api(
                Method::POST,
                "/api/v1/tokens",
                Some(json!({ "name": format!("t{n}"), "scope": "read" })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let s = "tenant_bravo";
    for sql in [
        format!(
            "INSERT INTO {s}.appointment_types (name, duration_minutes, color) SELECT 'T' || g, 15, '#123456' FROM generate_series(1, 5) g"
        ),
        format!(
            "INSERT INTO {s}.note_templates (name, layout) SELECT 'B' || g, '{{}}' FROM generate_series(1, 5) g"
        ),
        format!("INSERT INTO {s}.clinic_holidays (day, name) VALUES ('2026-12-25', 'Bravo only')"),
        format!(
            "INSERT INTO {s}.provider_absences (provider_id, starts_on, ends_on) SELECT {}, '2026-04-01', '2026-04-02' FROM generate_series(1, 5)",
            bravo.doctor.id
        ),
    ] {
        sqlx::query(&sql).execute(&app.admin).await.unwrap();
    }
    let max = |table: &'static str| async move {
        let id: i64 = sqlx::query_scalar(&format!("SELECT max(id) FROM tenant_bravo.{table}"))
            .fetch_one(&app.admin)
            .await
            .unwrap();
        let in_alpha: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM tenant_alpha.{table} WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&app.admin)
        .await
        .unwrap();
        assert_eq!(in_alpha, 0, "{table} {id} must be bravo's only");
        id
    };
    Ids {
        patient: max("patients").await,
        appointment: max("appointments").await,
        user: max("users").await,
        appointment_type: max("appointment_types").await,
        token: max("api_tokens").await,
        absence: max("provider_absences").await,
        visit: max("visits").await,
        diagnosis: max("visit_diagnoses").await,
        drug: {
            for n in 0..5 {
                drug(app, "tenant_bravo", &format!("Bravo drug {n}")).await;
            }
            max("drugs").await
        },
        item: max("prescription_items").await,
        document: {
            for _ in 0..3 {
                crate::helpers::clinic::document(app, bravo, "bravo", theirs).await;
            }
            max("documents").await
        },
        template: max("note_templates").await,
        service: max("services").await,
        invoice: max("invoices").await,
        line: max("invoice_lines").await,
        payment: max("payments").await,
        shift: max("cash_shifts").await,
        day: "2026-12-25",
    }
}

/// Alpha's default note template.
async fn default_template(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM tenant_alpha.note_templates WHERE is_default")
        .fetch_one(&app.admin)
        .await
        .unwrap()
}

/// What bravo's data looks like, to show that nothing there changed.
async fn fingerprint(app: &TestApp) -> HashMap<&'static str, String> {
    let mut out = HashMap::new();
    for table in [
        "patients",
        "appointments",
        "users",
        "appointment_types",
        "api_tokens",
        "provider_absences",
        "clinic_holidays",
        "provider_hours",
        "settings",
        "visits",
        "visit_diagnoses",
        "vitals",
        "problems",
        "visit_amendments",
        "drugs",
        "prescription_items",
        "prescription_sets",
        "prescription_prints",
        "documents",
        "note_templates",
        "services",
        "invoices",
        "invoice_lines",
        "payments",
        "payment_allocations",
        "cash_shifts",
        "billing_prints",
        "number_series",
    ] {
        let v: Option<String> = sqlx::query_scalar(&format!(
            "SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM tenant_bravo.{table} t"
        ))
        .fetch_one(&app.admin)
        .await
        .unwrap();
        out.insert(table, v.unwrap_or_default());
    }
    out
}

#[tokio::test]
async fn every_route_answers_404_for_another_clinics_ids_and_refuses_its_sessions() {
    let app = spawn_app().await;
    let alpha = clinic(&app, "alpha", "UTC").await;
    let bravo = clinic(&app, "bravo", "UTC").await;
    let ids = bravo_only_ids(&app, &bravo).await;
    let before = fingerprint(&app).await;
    let bravo_audit_before = app.audit_rows(&bravo.t).await.len();

    // Alpha's admin with bravo's ids, alpha's doctor for the clinical routes and its billing
    // staff for taking payments (the three hold every permission these routes check).
    let mut a = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &alpha.admin).await;
    let mut d = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &alpha.doctor).await;
    let mut bl = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &alpha.billing).await;
    let mut walked = 0;
    for r in all_routes().iter().filter(|r| has_ids(r)) {
        let path = fill(r, &ids).unwrap();
        let b = match r.access {
            Access::Needs(p) if Role::ClinicAdmin.can(p) => &mut a,
            Access::Needs(p) if Role::Doctor.can(p) => &mut d,
            Access::Needs(_) => &mut bl,
            _ => &mut a,
        };
        let p = request(b, r, &path).await;
        assert_eq!(
            p.status,
            StatusCode::NOT_FOUND,
            "{} {path}: {}",
            r.method,
            p.body
        );
        assert!(!p.contains("Secret"), "{} {path}", r.method);
        walked += 1;
    }
    assert!(
        walked >= 25,
        "only {walked} routes with ids: is the table complete?"
    );
    assert_eq!(fingerprint(&app).await, before, "bravo's data changed");
    assert_eq!(
        app.audit_rows(&bravo.t).await.len(),
        bravo_audit_before,
        "alpha's requests left rows in bravo's log"
    );

    // Alpha's session cookie on bravo's host: every route but the public ones refuses it.
    let bravo_host = TestApp::clinic_host("bravo");
    let bare = crate::helpers::bare_client(app.addr);
    for r in all_routes().iter().filter(|r| r.access != Access::Public) {
        let (cookie, csrf) = session_cookie(&app, &bare, "alpha", &alpha.admin).await;
        let path = fill(r, &ids).unwrap();
        let mut req = bare
            .request(r.method.clone(), app.url(&bravo_host, &path))
            .header("Cookie", &cookie)
            .header("X-CSRF-Token", &csrf)
            .header("Origin", format!("http://{bravo_host}:{}", app.addr.port()));
        req = if r.path.starts_with("/api/") {
            if r.method == Method::GET {
                req
            } else {
                req.json(&json_for(r))
            }
        } else if r.method == Method::GET {
            req
        } else {
            let mut form = form_for(r);
            form.push(("_csrf", csrf.as_str()));
            req.form(&form)
        };
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.unwrap_or_default();
        let refused = status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN
            || (status.is_redirection()
                && location.as_deref().is_some_and(|l| l.starts_with("/login")));
        assert!(
            refused,
            "{} {path} on bravo with alpha's session: {status} {body}",
            r.method
        );
        assert!(!body.contains("Secret"), "{} {path}", r.method);
    }
    assert_eq!(fingerprint(&app).await, before, "bravo's data changed");
}

/// Signs `user` in on `slug`'s host with a client that keeps no cookies: the session cookie
/// and its CSRF token, to send wherever a test likes.
async fn session_cookie(
    app: &TestApp,
    bare: &reqwest::Client,
    slug: &str,
    user: &crate::helpers::TestUser,
) -> (String, String) {
    let host = TestApp::clinic_host(slug);
    let origin = format!("http://{host}:{}", app.addr.port());
    let csrf_in = |body: &str| {
        body.split("name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    let cookie_in = |r: &reqwest::Response| {
        r.headers().get_all("set-cookie").iter().find_map(|v| {
            let v = v.to_str().ok()?;
            v.starts_with("clinicbox=")
                .then(|| v.split(';').next().unwrap_or_default().to_owned())
        })
    };
    let page = bare.get(app.url(&host, "/login")).send().await.unwrap();
    let first = cookie_in(&page).unwrap();
    let csrf = csrf_in(&page.text().await.unwrap());
    let r = bare
        .post(app.url(&host, "/login"))
        .header("Cookie", &first)
        .header("Origin", &origin)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", user.email.as_str()),
            ("password", user.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = cookie_in(&r).unwrap();
    let home = bare
        .get(app.url(&host, "/account"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    let csrf = csrf_in(&home.text().await.unwrap());
    (session, csrf)
}

#[tokio::test]
async fn every_permission_guarded_route_refuses_the_roles_without_it() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let target = app.create_staff(&c.t, Role::Receptionist).await;
    let own = patient(&app, &c.t, "Own", "Patient", Some("1980-01-01"), None).await;
    let mut admin = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.admin).await;
    let appointment = book_with_doctor(&mut admin, &c, own, "2026-03-03T09:00:00Z").await;
    let r = admin
        .api(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({ "name": "t", "scope": "read" })),
        )
        .await;
    let token = r.json()["id"].as_i64().unwrap();
    let s = "tenant_alpha";
    sqlx::query(&format!(
        "INSERT INTO {s}.clinic_holidays (day, name) VALUES ('2026-12-25', 'Holiday')"
    ))
    .execute(&app.admin)
    .await
    .unwrap();
    let absence: i64 = sqlx::query_scalar(&format!(
        "INSERT INTO {s}.provider_absences (provider_id, starts_on, ends_on) VALUES ($1, '2026-04-01', '2026-04-02') RETURNING id"
    ))
    .bind(c.doctor.id)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    let (visit, diagnosis, item) = visit_with_diagnosis(&app, &c, "alpha", own).await;
    let drug = drug(&app, "tenant_alpha", "Own drug").await;
    let bill = crate::helpers::clinic::billed(&app, &c, "alpha", own).await;
    let ids = Ids {
        patient: own,
        appointment,
        user: target.id,
        appointment_type: c.consult,
        token,
        absence,
        visit,
        diagnosis,
        drug,
        item,
        document: crate::helpers::clinic::document(&app, &c, "alpha", own).await,
        template: default_template(&app).await,
        service: bill.service,
        invoice: bill.invoice,
        line: bill.line,
        payment: bill.payment,
        shift: bill.shift,
        day: "2026-12-25",
    };
    let guarded: Vec<Route> = all_routes()
        .into_iter()
        .filter(|r| matches!(r.access, Access::Needs(_)))
        .collect();
    assert!(guarded.len() >= 50, "only {} guarded routes", guarded.len());
    let mut denials = 0;
    for role in Role::ALL {
        let user = app.create_staff(&c.t, role).await;
        let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &user).await;
        for r in &guarded {
            let Access::Needs(perm) = r.access else {
                continue;
            };
            let path = fill(r, &ids).unwrap();
            let p = request(&mut b, r, &path).await;
            if role.can(perm) {
                assert!(
                    !to_sign_in(&p) && p.status != StatusCode::FORBIDDEN,
                    "{role} {} {path} ({perm:?}): {} {}",
                    r.method,
                    p.status,
                    p.body
                );
            } else {
                assert_eq!(
                    p.status,
                    StatusCode::FORBIDDEN,
                    "{role} {} {path} needs {perm:?}",
                    r.method
                );
                denials += 1;
            }
        }
    }
    let denied = app
        .audit_rows(&c.t)
        .await
        .iter()
        .filter(|r| r.action == "access.denied")
        .count();
    assert!(denials > 0);
    assert_eq!(denied, denials, "one access.denied row per refusal");
}

/// Every page or API read that names a patient or an appointment by id leaves exactly one
/// audit row about that patient (the booking form was once such a read without one).
#[tokio::test]
async fn every_read_of_a_patient_or_appointment_leaves_one_audit_row() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let own = patient(&app, &c.t, "Own", "Patient", Some("1980-01-01"), None).await;
    let mut admin = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.admin).await;
    // The admin may read the registry and the schedule, the doctor visits too.
    let mut doctor = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.doctor).await;
    let (visit, diagnosis, item) = visit_with_diagnosis(&app, &c, "alpha", own).await;
    let drug = drug(&app, "tenant_alpha", "Own drug").await;
    let bill = crate::helpers::clinic::billed(&app, &c, "alpha", own).await;
    let ids = Ids {
        patient: own,
        appointment: book_with_doctor(&mut admin, &c, own, "2026-03-03T09:00:00Z").await,
        user: c.doctor.id,
        appointment_type: c.consult,
        token: 0,
        absence: 0,
        visit,
        diagnosis,
        drug,
        item,
        document: crate::helpers::clinic::document(&app, &c, "alpha", own).await,
        template: default_template(&app).await,
        service: bill.service,
        invoice: bill.invoice,
        line: bill.line,
        payment: bill.payment,
        shift: bill.shift,
        day: "2026-12-25",
    };
    // Signed, so that the prescription's print (which waits for the signature) is a read too.
    let r = doctor
        .api(
            Method::POST,
            &format!("/api/v1/visits/{visit}/sign"),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let names_a_patient = |r: &Route| {
        r.path.contains("/patients/{id}")
            || r.path.contains("/appointments/{id}")
            || r.path.contains("/visits/{id}")
            || r.path.contains("/documents/{id}")
            || r.path.contains("/invoices/{id}")
            || r.path.contains("/payments/{id}")
            || r.query.is_some_and(|q| q.contains("{patient}"))
    };
    let mut walked = 0;
    for r in all_routes()
        .iter()
        .filter(|r| r.method == Method::GET && names_a_patient(r))
    {
        let b = match r.access {
            Access::Needs(p) if !Role::ClinicAdmin.can(p) => &mut doctor,
            _ => &mut admin,
        };
        let before = app.audit_rows(&c.t).await.len();
        let path = fill(r, &ids).unwrap();
        let p = request(b, r, &path).await;
        assert_eq!(p.status, StatusCode::OK, "GET {path}: {}", p.body);
        let rows = app.audit_rows(&c.t).await;
        let new: Vec<_> = rows[before..]
            .iter()
            .filter(|a| a.action != "auth.login")
            .collect();
        assert_eq!(new.len(), 1, "GET {path}: {new:?}");
        assert_eq!(new[0].patient_id, Some(own), "GET {path}: {new:?}");
        walked += 1;
    }
    assert!(walked >= 7, "only {walked} reads walked");
}
