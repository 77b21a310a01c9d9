//! The consultation: triage vitals → visit from the appointment → note, diagnosis → sign →
//! amend; vitals validation and units; two tabs; the code search; one audit row per action.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{Clinic, book_with_doctor, clinic, patient};
use crate::helpers::{TestApp, spawn_app};

fn host() -> String {
    TestApp::clinic_host("alpha")
}

/// Loads a few codes as the clinic's code set (the full ICD-10-CM load is in its own test).
async fn small_code_set(app: &TestApp, c: &Clinic) {
    let mut tx = app.db.pool.begin().await.unwrap();
    clinicbox::domain::codes::load(
        &mut tx,
        "icd10-test",
        "Test codes",
        b"E11\t0\tType 2 diabetes mellitus\nE119\t1\tType 2 diabetes mellitus without complications\nJ069\t1\tAcute upper respiratory infection, unspecified\n",
        Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.set_setting(&c.t, "diagnosis.code_system", json!("icd10-test"))
        .await;
}

async fn new_actions(app: &TestApp, c: &Clinic, before: usize) -> Vec<String> {
    app.audit_rows(&c.t).await[before..]
        .iter()
        .map(|r| r.action.clone())
        .collect()
}

#[tokio::test]
async fn triage_visit_diagnosis_sign_and_amend() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    small_code_set(&app, &c).await;
    let p = patient(&app, &c.t, "Sita", "Sharma", Some("1980-05-01"), None).await;
    let mut desk = Browser::login_as(&app, &host(), &c.reception).await;
    let appt = book_with_doctor(&mut desk, &c, p, "2026-03-02T09:30:00Z").await;
    let r = desk
        .api(
            Method::POST,
            &format!("/api/v1/appointments/{appt}/status"),
            Some(json!({"status": "arrived"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The nurse records vitals at triage, from the form, before any visit exists.
    let mut nurse = Browser::login_as(&app, &host(), &c.nurse).await;
    // On Today the nurse records vitals; "Start" of the doctor's patient stays a status change.
    let today = nurse.get("/today?clinician=all").await;
    assert!(today.contains(&format!("/patients/{p}/vitals?appointment={appt}")));
    assert!(!today.contains(&format!("action=\"/appointments/{appt}/visit\"")));
    let form = nurse
        .get(&format!("/patients/{p}/vitals?appointment={appt}"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    let before = app.audit_rows(&c.t).await.len();
    let appt_s = appt.to_string();
    let bad = nurse
        .post(
            &format!("/patients/{p}/vitals"),
            &[
                ("appointment_id", &appt_s),
                ("bp", "80/120"),
                ("temperature", "98.6"),
                ("pulse", "72"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("higher than the second"), "{}", bad.body);
    assert!(bad.contains("is it °F?"), "{}", bad.body);
    assert!(bad.contains("value=\"72\""), "typed values stay");
    let ok = nurse
        .post(
            &format!("/patients/{p}/vitals"),
            &[
                ("appointment_id", &appt_s),
                ("bp", "150/95"),
                ("temperature", "98.6"),
                ("temperature_unit", "f"),
                ("pulse", "72"),
                ("weight", "80"),
                ("height", "170"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        new_actions(&app, &c, before)
            .await
            .iter()
            .filter(|a| *a == "vitals.record")
            .count(),
        1
    );

    // The doctor starts the visit from the appointment: checked in → in consultation.
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let home = doc.get("/").await;
    assert!(
        home.contains("id=\"my-queue\"") && home.contains("Sita"),
        "{}",
        home.body
    );
    assert!(home.contains("vitals taken"));
    let before = app.audit_rows(&c.t).await.len();
    let started = doc.post(&format!("/appointments/{appt}/visit"), &[]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let at = started.location.clone().unwrap();
    assert!(at.starts_with("/visits/"), "{at}");
    let visit: i64 = at.trim_start_matches("/visits/").parse().unwrap();
    assert_eq!(new_actions(&app, &c, before).await, vec!["visit.start"]);
    let again = doc.post(&format!("/appointments/{appt}/visit"), &[]).await;
    assert_eq!(
        again.location.as_deref(),
        Some(at.as_str()),
        "one visit per appointment"
    );
    let a = desk
        .api(Method::GET, &format!("/api/v1/appointments/{appt}"), None)
        .await;
    assert_eq!(a.json()["status"], "in_consultation");

    // The visit screen shows the triage vitals, converted and flagged (150/95 is high).
    let page = doc.get(&at).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.contains("150/95 mmHg"), "{}", page.body);
    assert!(page.contains("37.0 °C"));
    assert!(page.contains("27.7 kg/m²"), "BMI computed");
    assert!(page.contains("flag-high"));

    // Typing, then a diagnosis by search: the note on screen is saved with it.
    let before = app.audit_rows(&c.t).await.len();
    let search = doc
        .post(
            &at,
            &[
                ("version", "1"),
                ("complaint", "Thirsty for a month"),
                ("dx_q", "dia mel"),
                ("search", "1"),
            ],
        )
        .await;
    assert_eq!(search.status, StatusCode::SEE_OTHER);
    let found = doc.get(search.location.as_deref().unwrap()).await;
    assert!(found.contains("value=\"E119\""), "{}", found.body);
    assert!(
        found.contains("Thirsty for a month"),
        "saved with the search"
    );
    let add = doc
        .post(
            &at,
            &[
                ("version", "2"),
                ("complaint", "Thirsty for a month"),
                ("code", "E119"),
                ("dx_primary", "1"),
                ("dx_chronic", "1"),
            ],
        )
        .await;
    assert_eq!(add.status, StatusCode::SEE_OTHER, "{}", add.body);
    let wrong = doc
        .post(
            &at,
            &[
                ("version", "2"),
                ("complaint", "Thirsty for a month"),
                ("code", "Z999"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.contains("Z999 is not a code"), "{}", wrong.body);
    assert_eq!(
        new_actions(&app, &c, before)
            .await
            .iter()
            .filter(|a| !a.starts_with("visit.view"))
            .cloned()
            .collect::<Vec<_>>(),
        vec!["visit.update", "visit.diagnosis_add"],
        "one row per write"
    );
    let chart = doc.get(&format!("/patients/{p}")).await;
    assert!(
        chart.contains("E11.9 Type 2 diabetes mellitus without complications"),
        "problem list"
    );
    assert!(chart.contains("<svg class=\"trend\""), "trend plot");

    // Sign: the note on screen is saved and final; the appointment is completed.
    let signed = doc
        .post(
            &format!("/visits/{visit}/sign"),
            &[
                ("version", "2"),
                ("complaint", "Thirsty for a month"),
                ("plan", "Metformin 500 mg"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let a = desk
        .api(Method::GET, &format!("/api/v1/appointments/{appt}"), None)
        .await;
    assert_eq!(a.json()["status"], "completed");
    let v = doc
        .api(Method::GET, &format!("/api/v1/visits/{visit}"), None)
        .await;
    assert_eq!(v.json()["visit"]["plan"], "Metformin 500 mg");
    assert!(v.json()["visit"]["signed_at"].is_string());
    assert_eq!(v.json()["diagnoses"][0]["code"], "E119");
    assert_eq!(v.json()["vitals"][0]["temperature_dc"], 370);

    // A signed visit cannot change: not through the app, not even in SQL.
    let edit = doc
        .post(&at, &[("version", "3"), ("plan", "changed")])
        .await;
    assert_eq!(edit.status, StatusCode::CONFLICT);
    assert!(edit.contains("signed and cannot be changed"));
    let api = doc
        .api(
            Method::PATCH,
            &format!("/api/v1/visits/{visit}"),
            Some(json!({"version": 3, "plan": "changed"})),
        )
        .await;
    assert_eq!(api.status, StatusCode::CONFLICT, "{}", api.body);
    let sql = sqlx::query(&format!(
        "UPDATE tenant_alpha.visits SET plan = 'x' WHERE id = {visit}"
    ))
    .execute(&app.admin)
    .await;
    assert!(
        sql.is_err(),
        "the database refuses to change a signed visit"
    );
    let sql = sqlx::query(&format!(
        "DELETE FROM tenant_alpha.visit_diagnoses WHERE visit_id = {visit}"
    ))
    .execute(&app.admin)
    .await;
    assert!(sql.is_err(), "nor its diagnoses");

    // An amendment keeps the original and says who, when and why.
    let no_reason = doc
        .post(
            &format!("/visits/{visit}/amend"),
            &[
                ("section", "plan"),
                ("body", "Metformin 250 mg"),
                ("reason", ""),
            ],
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.contains("Metformin 250 mg"), "typed text stays");
    let amended = doc
        .post(
            &format!("/visits/{visit}/amend"),
            &[
                ("section", "plan"),
                ("body", "Metformin 250 mg"),
                ("reason", "dose typo"),
            ],
        )
        .await;
    assert_eq!(amended.status, StatusCode::SEE_OTHER);
    let page = doc.get(&at).await;
    assert!(
        page.contains("Metformin 500 mg")
            && page.contains("Metformin 250 mg")
            && page.contains("dose typo")
    );
    let v = doc
        .api(Method::GET, &format!("/api/v1/visits/{visit}"), None)
        .await;
    assert_eq!(
        v.json()["visit"]["plan"],
        "Metformin 500 mg",
        "the original stays"
    );
    assert_eq!(v.json()["amendments"][0]["body"], "Metformin 250 mg");
    let home = doc.get("/").await;
    assert!(
        home.contains("Every visit of yours is signed."),
        "{}",
        home.body
    );
}

#[tokio::test]
async fn a_second_tab_cannot_overwrite_and_nothing_typed_is_lost() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ram", "Thapa", Some("1975-01-01"), None).await;
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let visit = crate::helpers::clinic::walk_in_visit(&mut doc, p).await;
    let at = format!("/visits/{visit}");
    // Tab one autosaves (JSON answer).
    doc.get(&at).await;
    let saved = doc
        .post_with(
            &at,
            &[("version", "1"), ("history", "tab one")],
            &[("X-Autosave", "1")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    assert_eq!(saved.json()["version"], 2);
    // Tab two still has version 1: refused, with its text kept and the saved one shown.
    let refused = doc
        .post(&at, &[("version", "1"), ("history", "tab two")])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.contains("tab two") && refused.contains("tab one"),
        "{}",
        refused.body
    );
    assert!(
        refused.contains("name=\"version\" value=\"2\""),
        "saving again overwrites knowingly"
    );
    let auto = doc
        .post_with(
            &at,
            &[("version", "1"), ("history", "tab two")],
            &[("X-Autosave", "1")],
        )
        .await;
    assert_eq!(auto.status, StatusCode::CONFLICT);
    assert_eq!(auto.json()["version"], 2);
    // Saving what is already stored, at an old version, is no conflict and no write.
    let same = doc
        .post(&at, &[("version", "1"), ("history", "tab one")])
        .await;
    assert_eq!(same.status, StatusCode::SEE_OTHER);
    let v = doc
        .api(Method::GET, &format!("/api/v1/visits/{visit}"), None)
        .await;
    assert_eq!(v.json()["visit"]["version"], 2);
    // The API's PATCH changes only what it names.
    let r = doc
        .api(
            Method::PATCH,
            &format!("/api/v1/visits/{visit}"),
            Some(json!({"version": 2, "plan": "rest"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = doc
        .api(Method::GET, &format!("/api/v1/visits/{visit}"), None)
        .await;
    assert_eq!(v.json()["visit"]["history"], "tab one");
    assert_eq!(v.json()["visit"]["plan"], "rest");
}

#[tokio::test]
async fn vitals_are_checked_with_their_units_over_the_api() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Child", "Rai", Some("2024-01-01"), None).await;
    let mut nurse = Browser::login_as(&app, &host(), &c.nurse).await;
    let url = format!("/api/v1/patients/{p}/vitals");
    let r = nurse
        .api(
            Method::POST,
            &url,
            Some(json!({"pulse": "400", "spo2": "abc"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.json()["errors"]["pulse"],
        "must be between 20 and 300 /min"
    );
    assert_eq!(r.json()["errors"]["spo2"], "enter a number");
    let r = nurse.api(Method::POST, &url, Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = nurse
        .api(Method::POST, &url, Some(json!({"weight": "26.5", "weight_unit": "lb", "glucose": "5.5", "glucose_unit": "mmol_l", "pulse": "130"})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let row: (Option<i32>, Option<i16>) =
        sqlx::query_as("SELECT weight_g, glucose_mg_dl FROM tenant_alpha.vitals")
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!(row, (Some(12_020), Some(99)));
    // A two-year-old's pulse of 130 is normal: not flagged on the chart.
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let chart = doc.get(&format!("/patients/{p}")).await;
    assert!(chart.contains("130 /min"), "{}", chart.body);
    assert!(!chart.contains("flag-high"));
    // A receptionist may not record vitals, nor read visits.
    let mut desk = Browser::login_as(&app, &host(), &c.reception).await;
    assert_eq!(
        desk.api(Method::POST, &url, Some(json!({"pulse": "80"})))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let chart = desk.get(&format!("/patients/{p}")).await;
    assert!(
        !chart.contains("130 /min"),
        "clinical data stays with clinicians"
    );
}

#[tokio::test]
async fn a_walk_in_for_the_next_free_clinician_gets_the_one_who_starts_it() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Walk", "In", Some("1990-01-01"), None).await;
    let mut desk = Browser::login_as(&app, &host(), &c.reception).await;
    let w = desk
        .post(
            "/appointments/walk-in",
            &[("patient_id", &p.to_string()), ("provider_id", "")],
        )
        .await;
    assert_eq!(w.status, StatusCode::SEE_OTHER, "{}", w.body);
    let appt: i64 = sqlx::query_scalar("SELECT max(id) FROM tenant_alpha.appointments")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let today = doc.get("/today").await;
    assert!(
        today.contains(&format!("action=\"/appointments/{appt}/visit\"")),
        "Start opens the visit"
    );
    let r = doc.post(&format!("/appointments/{appt}/visit"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let a = desk
        .api(Method::GET, &format!("/api/v1/appointments/{appt}"), None)
        .await;
    assert_eq!(a.json()["provider_id"], c.doctor.id);
    // Someone who sees no patients cannot start one (and the admin has no visit rights).
    let mut admin = Browser::login_as(&app, &host(), &c.admin).await;
    assert_eq!(
        admin
            .post(&format!("/patients/{p}/visits"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn icd10cm_is_searched_by_code_word_and_fragment() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let n = clinicbox::domain::codes::ensure_builtin(&app.db.pool, Utc::now())
        .await
        .unwrap();
    assert!(n > 90_000, "{n}");
    assert_eq!(
        clinicbox::domain::codes::ensure_builtin(&app.db.pool, Utc::now())
            .await
            .unwrap(),
        0
    );
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let before = app.audit_rows(&c.t).await.len();
    let search = |q: &str| format!("/api/v1/codes?q={}", q.replace(' ', "+"));
    let r = doc.api(Method::GET, &search("E11.9"), None).await;
    assert_eq!(r.json()[0]["code"], "E119", "{}", r.body);
    let r = doc.api(Method::GET, &search("e11"), None).await;
    assert_eq!(r.json()[0]["code"], "E11");
    let r = doc.api(Method::GET, &search("dia mel"), None).await;
    let titles: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_lowercase())
        .collect();
    assert!(!titles.is_empty());
    assert!(
        titles
            .iter()
            .all(|t| t.contains("diabetes") && t.contains("mellitus")),
        "{titles:?}"
    );
    let r = doc.api(Method::GET, &search("asthma"), None).await;
    assert!(
        r.json()[0]["title"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("asthma"),
        "{}",
        r.body
    );
    let r = doc.api(Method::GET, &search("zzqx"), None).await;
    assert_eq!(r.json(), json!([]));
    let r = doc.api(Method::GET, &search("hypertension"), None).await;
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "I10"),
        "{}",
        r.body
    );
    assert_eq!(
        app.audit_rows(&c.t).await.len(),
        before,
        "reference data is not audited"
    );
    // The clinic's own usual diagnoses come first: once I10 is used, "hypert" finds it first.
    let r = doc.api(Method::GET, &search("hypert"), None).await;
    assert_ne!(
        r.json()[0]["code"],
        "I10",
        "shortest first in a clinic that used none"
    );
    let p = patient(&app, &c.t, "Hari", "Bahadur", Some("1960-01-01"), None).await;
    let visit = crate::helpers::clinic::walk_in_visit(&mut doc, p).await;
    let r = doc
        .api(
            Method::POST,
            &format!("/api/v1/visits/{visit}/diagnoses"),
            Some(json!({"code": "I10", "primary": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = doc.api(Method::GET, &search("hypert"), None).await;
    assert_eq!(r.json()[0]["code"], "I10", "{}", r.body);
    // The live search fragment of the visit screen.
    let f = doc.get("/codes?q=hypert").await;
    assert!(
        f.contains("value=\"I10\"") && f.contains("Essential (primary) hypertension"),
        "{}",
        f.body
    );
}

/// The demo clinic comes with the doctors' visits so far: signed when completed, each with
/// vitals, a diagnosis and a note, and the chronic ones on the problem list.
#[tokio::test]
async fn the_demo_clinic_has_a_week_of_visits() {
    let app = spawn_app().await;
    let t = app.create_tenant("demo").await;
    app.create_staff(&t, clinicbox::domain::auth::Role::Doctor)
        .await;
    app.create_staff(&t, clinicbox::domain::auth::Role::Nurse)
        .await;
    let now = Utc::now();
    let cfg = app.config();
    let store = clinicbox::domain::documents::LocalStore::new(
        &cfg.storage.data_dir.join("documents"),
        &cfg.storage.incoming_dir(),
        "demo",
    );
    assert!(
        clinicbox::ops::seed::demo_clinic(&app.db, &t, "Asia/Kathmandu", now, &store)
            .await
            .unwrap()
    );
    // A few documents, each file where its row says, with its SHA-256.
    let docs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT storage_key, sha256, media_type FROM tenant_demo.documents")
            .fetch_all(&app.admin)
            .await
            .unwrap();
    assert!(docs.len() >= 4, "{docs:?}");
    for (key, sha, media) in &docs {
        let bytes = std::fs::read(
            cfg.storage
                .data_dir
                .join("documents/demo")
                .join(&key[..2])
                .join(key),
        )
        .unwrap();
        use sha2::Digest;
        assert_eq!(&hex::encode(sha2::Sha256::digest(&bytes)), sha);
        let kind = clinicbox::domain::documents::MediaType::sniff(&bytes).unwrap();
        assert_eq!(kind.as_str(), media);
    }
    let (visits, signed, with_dx, with_vitals, problems): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT count(*), count(signed_at),
                    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM tenant_demo.visit_diagnoses d WHERE d.visit_id = v.id)),
                    count(*) FILTER (WHERE EXISTS (SELECT 1 FROM tenant_demo.vitals x WHERE x.visit_id = v.id)),
                    (SELECT count(*) FROM tenant_demo.problems)
               FROM tenant_demo.visits v",
        )
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert!(visits >= 10, "{visits} visits");
    assert!(signed > 0 && signed <= visits);
    assert_eq!((with_dx, with_vitals), (visits, visits));
    assert!(problems > 0);
}

/// Saves cut off at random points (the client goes away mid-request) leave no transaction
/// open and keep the rule "one audit row per write": the visit's version went up exactly as
/// many times as there are audit rows of saves that changed something.
#[tokio::test]
async fn aborted_saves_keep_one_audit_row_per_write() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Cut", "Off", Some("1970-01-01"), None).await;
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let visit = crate::helpers::clinic::walk_in_visit(&mut doc, p).await;
    let at = format!("/visits/{visit}");
    doc.get(&at).await;
    let url = app.url(&host(), &at);
    let origin = format!("http://{}:{}", host(), app.addr.port());
    for i in 0..120u64 {
        let version: i32 =
            sqlx::query_scalar("SELECT version FROM tenant_alpha.visits WHERE id = $1")
                .bind(visit)
                .fetch_one(&app.admin)
                .await
                .unwrap();
        let budget = std::time::Duration::from_micros(500 + (i * 1_733) % 30_000);
        let text = format!("typed {i}");
        let _ = doc
            .client
            .post(&url)
            .header("Origin", &origin)
            .header("X-Autosave", "1")
            .form(&[
                ("_csrf", doc.csrf.as_str()),
                ("version", version.to_string().as_str()),
                ("history", text.as_str()),
            ])
            .timeout(budget)
            .send()
            .await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(open, 0, "a cut request left a transaction open");
    let version: i32 = sqlx::query_scalar("SELECT version FROM tenant_alpha.visits WHERE id = $1")
        .bind(visit)
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let saves = app
        .audit_rows(&c.t)
        .await
        .into_iter()
        .filter(|r| {
            r.action == "visit.update"
                && r.resource_id.as_deref() == Some(visit.to_string().as_str())
                && r.details["changed"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
        })
        .count();
    assert!(version > 1, "some saves got through");
    assert_eq!(saves, (version - 1) as usize, "one audit row per write");
    // And the next request works.
    let page = doc.get(&at).await;
    assert_eq!(page.status, StatusCode::OK);
}

/// The clinic admin chooses the code set among those loaded; an unknown one is refused next to
/// the field and nothing else is lost.
#[tokio::test]
async fn the_clinic_chooses_its_code_set() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    small_code_set(&app, &c).await;
    app.set_setting(&c.t, "diagnosis.code_system", json!("icd10cm"))
        .await;
    let mut admin = Browser::login_as(&app, &host(), &c.admin).await;
    let page = admin.get("/settings/clinic").await;
    assert!(page.contains("value=\"icd10-test\""), "{}", page.body);
    let form = |system: &'static str| {
        vec![
            ("timezone", "UTC"),
            ("mrn_prefix", "P"),
            ("slot_minutes", "15"),
            ("horizon_months", "24"),
            ("max_upload_mb", "20"),
            ("code_system", system),
        ]
    };
    let bad = admin.post("/settings/clinic", &form("who-icd99")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.contains("choose one of the loaded code sets"),
        "{}",
        bad.body
    );
    let ok = admin.post("/settings/clinic", &form("icd10-test")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let r = doc.api(Method::GET, "/api/v1/codes?q=acute", None).await;
    assert_eq!(r.json()[0]["system"], "icd10-test", "{}", r.body);
}
