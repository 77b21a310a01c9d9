//! Prescriptions: the drug list, a line refused for a recorded allergy until confirmed, the
//! quantity computed, a favourite saved and applied, printing (original, then reprint), the
//! signed visit's prescription final; one audit row per action.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{clinic, patient};
use crate::helpers::{TestApp, spawn_app};

fn host() -> String {
    TestApp::clinic_host("alpha")
}

#[tokio::test]
async fn prescribe_warn_on_allergy_favourite_sign_and_print() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let s = "tenant_alpha".to_string();
    let p = patient(&app, &c.t, "Maya", "Gurung", Some("1990-02-01"), None).await;
    sqlx::query(&format!(
        "UPDATE {s}.patients SET preferred_language = 'Nepali',
             allergies = '[{{\"substance\": \"Penicillin\", \"reaction\": \"rash\", \"severity\": \"severe\"}}]'
          WHERE id = $1"
    ))
    .bind(p)
    .execute(&app.admin)
    .await
    .unwrap();

    // The clinic admin builds the drug list and the doctor's prescriber details.
    let mut admin = Browser::login_as(&app, &host(), &c.admin).await;
    let bad = admin
        .post(
            "/settings/drugs",
            &[
                ("generic_name", "Amoxicillin"),
                ("form", "capsule"),
                ("pack_ml", "lots"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("a whole number of millilitres") && bad.contains("value=\"Amoxicillin\""));
    for (name, strength, form, class) in [
        ("Amoxicillin", "500 mg", "capsule", "Penicillin"),
        ("Paracetamol", "500 mg", "tablet", ""),
    ] {
        let r = admin
            .post(
                "/settings/drugs",
                &[
                    ("generic_name", name),
                    ("strength", strength),
                    ("form", form),
                    ("drug_class", class),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let dup = admin
        .post(
            "/settings/drugs",
            &[
                ("generic_name", "paracetamol"),
                ("strength", "500 MG"),
                ("form", "tablet"),
            ],
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.contains("in the list already"));
    let drug_id = |name: &'static str| {
        let app = &app;
        let s = s.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT id FROM {s}.drugs WHERE generic_name = $1"
            ))
            .bind(name)
            .fetch_one(&app.admin)
            .await
            .unwrap()
        }
    };
    let (amox, para) = (drug_id("Amoxicillin").await, drug_id("Paracetamol").await);
    let r = admin
        .post(
            &format!("/settings/providers/{}/prescriber", c.doctor.id),
            &[
                ("qualification", "MBBS, MD"),
                ("registration_no", "NMC 12345"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let v = crate::helpers::clinic::walk_in_visit(&mut doc, p).await;
    let path = format!("/visits/{v}");
    let items = |app: &TestApp| {
        let s = s.clone();
        let admin = app.admin.clone();
        async move {
            sqlx::query_as::<_, (String, String, i32, String, Option<String>)>(&format!(
                "SELECT drug, dose, quantity, quantity_unit, allergy_override
                   FROM {s}.prescription_items WHERE visit_id = $1 ORDER BY id"
            ))
            .bind(v)
            .fetch_all(&admin)
            .await
            .unwrap()
        }
    };

    // Amoxicillin is a penicillin: refused with the allergy named, everything typed kept.
    let before = app.audit_rows(&c.t).await.len();
    let amox_s = amox.to_string();
    let refused = doc
        .post(
            &path,
            &[
                ("version", "1"),
                ("complaint", "Sore throat"),
                ("rx_drug", &amox_s),
                ("rx_dose", "1-1-1"),
                ("rx_days", "5"),
                ("rx_add", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains(
            "Amoxicillin 500 mg capsule matches the patient&#39;s recorded allergy to Penicillin"
        ),
        "{}",
        refused.body
    );
    assert!(refused.contains("Sore throat") && refused.contains("value=\"1-1-1\""));
    assert!(refused.contains("rx_confirm_allergy"));
    assert!(items(&app).await.is_empty());
    // Confirmed, it is prescribed and says so.
    let r = doc
        .post(
            &path,
            &[
                ("version", "1"),
                ("complaint", "Sore throat"),
                ("rx_drug", &amox_s),
                ("rx_dose", "1-1-1"),
                ("rx_days", "5"),
                ("rx_add", "1"),
                ("rx_confirm_allergy", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Paracetamol ½-0-½ for 3 days: 3 tablets. SOS without a quantity is refused.
    let para_s = para.to_string();
    let r = doc
        .post(
            &path,
            &[
                ("version", "2"),
                ("complaint", "Sore throat"),
                ("rx_drug", &para_s),
                ("rx_dose", "SOS"),
                ("rx_add", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("enter the quantity"));
    let r = doc
        .post(
            &path,
            &[
                ("version", "2"),
                ("complaint", "Sore throat"),
                ("rx_drug", &para_s),
                ("rx_dose", "½-0-½"),
                ("rx_timing", "after_food"),
                ("rx_days", "3"),
                ("rx_add", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let got = items(&app).await;
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].2, got[0].3.as_str(), got[0].4.as_deref()),
        (15, "capsule", Some("Penicillin"))
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].2, got[1].3.as_str()),
        ("Paracetamol 500 mg tablet", 3, "tablet")
    );

    // A favourite from the paracetamol line, the line removed, the favourite applied.
    let para_item: i64 = sqlx::query_scalar(&format!(
        "SELECT max(id) FROM {s}.prescription_items WHERE visit_id = $1"
    ))
    .bind(v)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    let pi = para_item.to_string();
    for action in [("rx_fav", pi.as_str()), ("rx_remove", pi.as_str())] {
        let r = doc
            .post(
                &path,
                &[("version", "2"), ("complaint", "Sore throat"), action],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{action:?}: {}", r.body);
    }
    assert_eq!(items(&app).await.len(), 1);
    let set: i64 = sqlx::query_scalar(&format!(
        "SELECT id FROM {s}.prescription_sets WHERE owner_id = $1"
    ))
    .bind(c.doctor.id)
    .fetch_one(&app.admin)
    .await
    .unwrap();
    let page = doc.get(&path).await;
    assert!(page.contains("★ Paracetamol 500 mg tablet ½-0-½"));
    let r = doc
        .post(
            &path,
            &[
                ("version", "2"),
                ("rx_set", &set.to_string()),
                ("rx_apply", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let got = items(&app).await;
    assert_eq!((got.len(), got[1].2), (2, 3));
    let actions: Vec<String> = app.audit_rows(&c.t).await[before..]
        .iter()
        .map(|r| r.action.clone())
        .collect();
    assert_eq!(
        actions,
        [
            "visit.view",
            "prescription.item_add",
            "visit.view",
            "prescription.item_add",
            "prescription.set_save",
            "prescription.item_remove",
            "visit.view",
            "prescription.set_apply",
        ],
        "a refused line adds nothing (its page shows the visit again: a read); every change one row"
    );

    // The clinic's letterhead (Settings → Profile and branding) prints on it.
    for (key, value) in [
        ("letterhead.tax_number", "601234567"),
        ("letterhead.registration_number", "DHO-1234"),
        ("letterhead.footer", "Open Sunday to Friday"),
    ] {
        app.set_setting(&c.t, key, serde_json::json!(value)).await;
    }
    // Printing waits for the signature; then the original, then a numbered reprint.
    let early = doc.get(&format!("/visits/{v}/prescription?paper=a5")).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    let r = doc
        .post(&format!("/visits/{v}/sign"), &[("version", "2")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let signed = doc.get(&path).await;
    assert!(signed.contains("/prescription?paper=a5") && !signed.contains("name=\"rx_add\""));
    let first = doc.get(&format!("/visits/{v}/prescription?paper=a5")).await;
    assert_eq!(first.status, StatusCode::OK);
    for want in [
        "Maya Gurung",
        "NMC 12345",
        "MBBS, MD",
        "paper-a5",
        "बिहान ½ चक्की",
        "खाना खाएपछि",
        "15 capsules",
        "Penicillin",
        "PAN / VAT number: 601234567 · Clinic reg. no.: DHO-1234",
        "<p class=\"rx-footer small\" id=\"rx-footer\">Open Sunday to Friday</p>",
    ] {
        assert!(first.contains(want), "print lacks {want}");
    }
    assert!(!first.contains("id=\"reprint\""));
    let second = doc
        .get(&format!("/visits/{v}/prescription?paper=a4&lang=en"))
        .await;
    assert!(second.contains("Reprint · copy 2") && second.contains("paper-a4"));
    assert!(second.contains("½ tablet in the morning, ½ tablet at night, after food, for 3 days"));
    let prints: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {s}.prescription_prints"))
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(prints, 2);
    let rows = app.audit_rows(&c.t).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "prescription.print")
            .count(),
        2
    );
    // Final: neither the page nor the API nor SQL changes a signed visit's prescription.
    let r = doc
        .api(
            Method::POST,
            &format!("/api/v1/visits/{v}/prescription"),
            Some(json!({ "drug": "Cetirizine", "dose": "0-0-1", "days": 5 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let sql = sqlx::query(&format!(
        "DELETE FROM {s}.prescription_items WHERE visit_id = $1"
    ))
    .bind(v)
    .execute(&app.admin)
    .await;
    assert!(sql.is_err(), "the database keeps a signed prescription");
    let api = doc
        .api(
            Method::GET,
            &format!("/api/v1/visits/{v}/prescription"),
            None,
        )
        .await;
    assert_eq!(api.json().as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn the_api_checks_a_prescription_line_field_by_field() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Ram", "Thapa", Some("1970-01-01"), None).await;
    let mut doc = Browser::login_as(&app, &host(), &c.doctor).await;
    let v = crate::helpers::clinic::walk_in_visit(&mut doc, p).await;
    let url = format!("/api/v1/visits/{v}/prescription");
    let r = doc
        .api(
            Method::POST,
            &url,
            Some(json!({ "dose": "", "days": 900, "route": "ear-ish", "drug_id": 99999 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = doc
        .api(
            Method::POST,
            &url,
            Some(json!({ "drug": "ORS", "form": "sachet", "dose": "1 sachet TDS", "days": 2 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = doc
        .api(Method::POST, &url, Some(json!({ "drug": "Betamethasone cream", "form": "cream", "dose": "apply thinly BD" })))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("rx_quantity"), "{}", r.body);
    let r = doc
        .api(Method::POST, &url, Some(json!({ "drug": "Betamethasone cream", "form": "cream", "dose": "apply thinly BD", "quantity": 1 })))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let list = doc.api(Method::GET, &url, None).await.json();
    assert_eq!(list[0]["quantity"], 6);
    assert_eq!(list[0]["quantity_unit"], "sachet");
    assert_eq!(list[1]["quantity_unit"], "pack");
    assert_eq!(list[1]["route"], "topical");
}
