//! The patient registry: validation, duplicate warnings, search, edits, soft deletion.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{clinic, patient};
use crate::helpers::{TestApp, spawn_app};

fn host(slug: &str) -> String {
    TestApp::clinic_host(slug)
}

const JOSE: &[(&str, &str)] = &[
    ("given_name", "José"),
    ("family_name", "Núñez"),
    ("sex", "male"),
    ("birth_date", "1980-05-17"),
    ("phone_number", "+977 984-123 4567"),
    ("phone_label", "mobile"),
    ("allergy_substance", "Penicillin"),
    ("allergy_reaction", "rash"),
    ("allergy_severity", "severe"),
];

#[tokio::test]
async fn registration_validates_and_warns_about_duplicates() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;

    let p = b
        .post(
            "/patients/new",
            &[
                ("given_name", ""),
                ("family_name", "X"),
                ("sex", "?"),
                ("birth_date", "31.02.1990"),
                ("phone_number", "call me"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    for msg in [
        "required",
        "choose female, male, other or unknown",
        // 31.02.1990 is written correctly; the day does not exist (issue 15, item 14).
        "there is no such date: check the day and the month",
        "6 to 20 digits",
    ] {
        assert!(p.contains(msg), "{msg}");
    }
    assert!(p.contains("value=\"X\""), "typed values are kept");

    let p = b.post("/patients/new", JOSE).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let chart = b.get(p.location.as_deref().unwrap()).await;
    assert_eq!(chart.by_id("patient-name").as_deref(), Some("José Núñez"));
    assert_eq!(chart.by_id("patient-mrn").as_deref(), Some("P000001"));
    assert!(chart.contains("allergy-banner severe"));
    assert!(chart.contains("Penicillin (rash)"));

    // Same name and birth date (typed without accents): a warning, nothing saved.
    let again = [
        ("given_name", "Jose"),
        ("family_name", "Nunez"),
        ("sex", "male"),
        ("birth_date", "17.05.1980"),
    ];
    let p = b.post("/patients/new", &again).await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.contains("This person may already be registered"));
    assert!(p.contains("P000001"));
    // Same phone, different name: also a warning.
    let p = b
        .post(
            "/patients/new",
            &[
                ("given_name", "Ram"),
                ("family_name", "Thapa"),
                ("sex", "male"),
                ("phone_number", "9841234567"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.contains("(phone)"));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.patients")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(count, 1);
    // Confirmed: saved, with the next MRN.
    let mut confirmed = again.to_vec();
    confirmed.push(("confirm_duplicate", "1"));
    let p = b.post("/patients/new", &confirmed).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let chart = b.get(p.location.as_deref().unwrap()).await;
    assert_eq!(chart.by_id("patient-mrn").as_deref(), Some("P000002"));

    let rows = app.audit_rows(&c.t).await;
    let created: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "patient.create")
        .collect();
    assert_eq!(created.len(), 2);
    assert_eq!(created[1].details["duplicate_confirmed"], true);
    assert_eq!(
        rows.iter().filter(|r| r.action == "patient.view").count(),
        2
    );
    assert!(
        rows.iter()
            .all(|r| !r.details.to_string().contains("Núñez")),
        "no names in the audit log"
    );
}

#[tokio::test]
async fn the_api_registers_and_reports_duplicates_and_errors() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let body = json!({
        "given_name": "Ana", "family_name": "García", "sex": "female", "birth_date": "1990-01-31",
        "phones": [{"label": "mobile", "number": "+34 612 345 678"}],
        "allergies": [{"substance": "Latex", "reaction": "itching", "severity": "moderate"}]
    });
    let p = b
        .api(Method::POST, "/api/v1/patients", Some(body.clone()))
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let j = p.json();
    for f in [
        "id",
        "mrn",
        "given_name",
        "family_name",
        "sex",
        "birth_date",
        "phone",
    ] {
        assert!(!j[f].is_null(), "{f}");
    }
    assert_eq!(j["phone"], "+34 612 345 678");
    let p = b
        .api(Method::POST, "/api/v1/patients", Some(body.clone()))
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert_eq!(p.json()["duplicates"][0]["mrn"], j["mrn"]);
    let mut allowed = body.clone();
    allowed["allow_duplicate"] = json!(true);
    assert_eq!(
        b.api(Method::POST, "/api/v1/patients", Some(allowed))
            .await
            .status,
        StatusCode::CREATED
    );
    let p = b
        .api(
            Method::POST,
            "/api/v1/patients",
            Some(json!({"given_name": "", "family_name": "x", "sex": "female", "email": "nope"})),
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.json()["errors"]["given_name"].is_string());
    assert!(p.json()["errors"]["email"].is_string());
    let p = b
        .api(
            Method::POST,
            "/api/v1/patients",
            Some(json!({"given_name": "A", "family_name": "B", "sex": "female", "shoe_size": 42})),
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.json()["detail"].as_str().unwrap().contains("shoe_size"));

    // PATCH changes only what is sent, and the version guards against lost updates.
    let id = j["id"].as_i64().unwrap();
    let p = b
        .api(
            Method::PATCH,
            &format!("/api/v1/patients/{id}"),
            Some(json!({"notes": "Prefers mornings", "version": 1})),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.json()["notes"], "Prefers mornings");
    assert_eq!(p.json()["allergies"][0]["substance"], "Latex");
    assert_eq!(p.json()["version"], 2);
    let p = b
        .api(
            Method::PATCH,
            &format!("/api/v1/patients/{id}"),
            Some(json!({"notes": "stale", "version": 1})),
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    let rows = app.audit_rows(&c.t).await;
    let upd: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "patient.update")
        .collect();
    assert_eq!(upd.len(), 1);
    assert_eq!(upd[0].details["changed"], json!(["notes"]));
    assert_eq!(upd[0].patient_id, Some(id));
}

#[tokio::test]
async fn search_finds_by_misspelt_or_unaccented_name_mrn_phone_and_birth_date() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let jose = patient(
        &app,
        &c.t,
        "José",
        "Núñez",
        Some("1980-05-17"),
        Some("+977 984-123 4567"),
    )
    .await;
    let maria = patient(
        &app,
        &c.t,
        "María",
        "García López",
        Some("1975-11-02"),
        None,
    )
    .await;
    let smith = patient(&app, &c.t, "John", "Smith", None, Some("020 7946 0958")).await;
    for i in 0..30 {
        patient(&app, &c.t, "Filler", &format!("Person{i}"), None, None).await;
    }
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let find = |q: &str| {
        let url = format!(
            "/api/v1/patients?q={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        url
    };
    let cases: &[(&str, i64, &str)] = &[
        ("jose nunez", jose, "name"),
        ("Núñez José", jose, "name"),
        ("NUNEZ", jose, "name"),
        ("jose nunex", jose, "similar_name"),
        ("Jsoe Núñez", jose, "similar_name"),
        ("smtih", smith, "similar_name"),
        ("jon smith", smith, "similar_name"),
        ("lopez", maria, "similar_name"),
        ("maria garcia", maria, "name"),
        ("P000001", jose, "mrn"),
        ("1", jose, "mrn"),
        ("984 123 4567", jose, "phone"),
        ("+9779841234567", jose, "phone"),
        ("0207946 0958", smith, "phone"),
        ("17.05.1980", jose, "birth_date"),
        ("1975-11-02", maria, "birth_date"),
        ("garcia 1975-11-02", maria, "name"),
    ];
    for (q, expected, how) in cases {
        let p = b.api(Method::GET, &find(q), None).await;
        assert_eq!(p.status, 200, "{q}");
        let items = p.json()["items"].as_array().unwrap().clone();
        assert!(!items.is_empty(), "{q}: nothing found");
        assert_eq!(items[0]["id"], *expected, "{q}: {items:?}");
        assert_eq!(items[0]["matched"], *how, "{q}");
    }
    for q in ["zzzz", "garcia 1999-01-01", "qwxyz plmk"] {
        let p = b.api(Method::GET, &find(q), None).await;
        assert!(p.json()["items"].as_array().unwrap().is_empty(), "{q}");
    }
    // The page and the live fragment.
    let page = b.get("/patients?q=nunez").await;
    assert!(page.contains(&format!("/patients/{jose}")));
    let frag = b.get("/patients/search?q=smi").await;
    assert!(frag.contains(&format!("/patients/{smith}")) && !frag.contains("<html"));
    // Each search is audited with its result count, never the words searched for.
    let rows = app.audit_rows(&c.t).await;
    let searches: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "patient.search")
        .collect();
    assert_eq!(searches.len(), cases.len() + 3 + 2);
    assert!(
        searches
            .iter()
            .all(|r| !r.details.to_string().to_lowercase().contains("nunez"))
    );
}

#[tokio::test]
async fn editing_deleting_and_restoring() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let id = patient(&app, &c.t, "Sita", "Thapa", Some("1960-02-29"), None).await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let form = b.get(&format!("/patients/{id}/edit")).await;
    assert!(form.contains("value=\"Thapa\"") && form.contains("name=\"version\" value=\"1\""));
    let fields = [
        ("given_name", "Sita"),
        ("family_name", "Thapa Magar"),
        ("sex", "female"),
        ("birth_date", "1960-02-29"),
        ("version", "1"),
    ];
    let p = b.post(&format!("/patients/{id}/edit"), &fields).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // A second save from the same (now stale) form is refused, not silently applied.
    let p = b.post(&format!("/patients/{id}/edit"), &fields).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.contains("changed by someone else"));
    // Nothing is marked below, so the form does not say "correct the fields marked below";
    // what was typed is still there.
    assert!(!p.contains("marked below"), "{}", p.body);
    assert!(p.contains("value=\"Thapa Magar\""));

    // "Delete record" asks on a page of its own (it works without JavaScript): opening it
    // changes nothing; the form on it deletes.
    let chart = b.get(&format!("/patients/{id}")).await;
    assert!(
        chart.contains(&format!("href=\"/patients/{id}/delete\"")),
        "{}",
        chart.body
    );
    let ask = b.get(&format!("/patients/{id}/delete")).await;
    assert_eq!(ask.status, 200);
    assert!(ask.contains("Mark this patient record as deleted?"));
    assert!(
        !b.get(&format!("/patients/{id}"))
            .await
            .contains("marked deleted")
    );
    assert_eq!(
        b.post(&format!("/patients/{id}/delete"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let chart = b.get(&format!("/patients/{id}")).await;
    assert!(chart.contains("marked deleted"));
    let s = b.api(Method::GET, "/api/v1/patients?q=thapa", None).await;
    assert!(
        s.json()["items"].as_array().unwrap().is_empty(),
        "deleted records are not found"
    );
    assert_eq!(
        b.get(&format!("/patients/{id}/edit")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.post(&format!("/patients/{id}/restore"), &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let s = b.api(Method::GET, "/api/v1/patients?q=thapa", None).await;
    assert_eq!(s.json()["items"][0]["id"], id);
    let actions: Vec<String> = app
        .audit_rows(&c.t)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    for (a, n) in [
        ("patient.update", 1),
        ("patient.delete", 1),
        ("patient.restore", 1),
    ] {
        assert_eq!(actions.iter().filter(|x| *x == a).count(), n, "{a}");
    }
    // Billing may see but not change.
    let mut bill = Browser::login_as(&app, &host("alpha"), &c.billing).await;
    assert_eq!(bill.get(&format!("/patients/{id}")).await.status, 200);
    assert_eq!(
        bill.get(&format!("/patients/{id}/edit")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        bill.post(&format!("/patients/{id}/delete"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_estimated_age_gives_an_estimated_birth_date() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let mut b = Browser::login_as(&app, &host("alpha"), &c.reception).await;
    let p = b
        .post(
            "/patients/new",
            &[
                ("given_name", "Dolma"),
                ("family_name", "Sherpa"),
                ("sex", "female"),
                ("estimated_age", "60"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let chart = b.get(p.location.as_deref().unwrap()).await;
    assert!(
        chart.contains("~") && chart.contains("born about 1966"),
        "{}",
        chart.body
    );
}
