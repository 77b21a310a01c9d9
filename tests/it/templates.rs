//! Note templates: an admin writes one (refused with the line named when wrong), gives it to
//! an appointment type; that type's visits show its fields and headings, save them from the
//! form and the API, keep the template they started with when it changes, and sign them as
//! final. Walk-ins from the chart get the clinic's default. One audit row per write.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{book_with_doctor, clinic, patient, walk_in_visit};
use crate::helpers::{TestApp, spawn_app};

const EYE: &str = "[examination] Eye examination\n\
    Visual acuity, right eye\n\
    Intraocular pressure, right | mmHg\n\
    [plan]\n\
    Glasses prescription\n";

#[tokio::test]
async fn a_template_shapes_the_visits_of_its_appointment_type() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let schema = c.t.db.schema.as_str().to_owned();
    let host = TestApp::clinic_host("alpha");
    let mut admin = Browser::login_as(&app, &host, &c.admin).await;

    // A wrong line is named, and what was typed stays.
    let before = app.audit_rows(&c.t).await.len();
    let bad = admin
        .post(
            "/settings/templates",
            &[
                ("name", "Eye examination"),
                ("layout", "Visual acuity | 6/"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.contains("line 1: start with the section the fields go under"),
        "{}",
        bad.body
    );
    assert!(bad.contains("Visual acuity | 6/</textarea>"));
    let wrong_section = admin
        .post(
            "/settings/templates",
            &[("name", "Eye"), ("layout", "[eyes]\nIOP"), ("active", "1")],
        )
        .await;
    assert!(
        wrong_section.contains("there is no section &quot;eyes&quot;")
            || wrong_section.contains("there is no section &#34;eyes&#34;"),
        "{}",
        wrong_section.body
    );
    let off_default = admin
        .post(
            "/settings/templates",
            &[("name", "Off"), ("layout", ""), ("is_default", "1")],
        )
        .await;
    assert_eq!(off_default.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(off_default.contains("cannot be switched off"));
    assert_eq!(app.audit_rows(&c.t).await.len(), before, "nothing saved");

    let ok = admin
        .post(
            "/settings/templates",
            &[
                ("name", "Eye examination"),
                ("layout", EYE),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let rows = app.audit_rows(&c.t).await;
    assert_eq!(rows.len(), before + 1);
    assert_eq!(rows[before].action, "settings.note_templates");
    let eye: i64 = sqlx::query_scalar(&format!(
        "SELECT id FROM {schema}.note_templates WHERE name = 'Eye examination'"
    ))
    .fetch_one(&app.admin)
    .await
    .unwrap();
    let taken = admin
        .post(
            "/settings/templates",
            &[("name", "Eye examination"), ("layout", ""), ("active", "1")],
        )
        .await;
    assert!(taken.contains("a template with this name exists"));
    let list = admin.get("/settings/templates").await;
    assert!(list.contains("General consultation") && list.contains("clinic default"));

    // The consultation type uses it; an id that is no template is refused.
    let ty = format!("/settings/appointment-types/{}", c.consult);
    let eye_s = eye.to_string();
    let type_form = |template: &str| {
        vec![
            ("name", "Consultation".to_owned()),
            ("duration_minutes", "30".to_owned()),
            ("color", "#1f6f8b".to_owned()),
            ("active", "1".to_owned()),
            ("note_template", template.to_owned()),
        ]
    };
    let f = type_form("999999");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = admin.post(&ty, &f).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("choose a note template from the list"));
    let f = type_form(&eye_s);
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(admin.post(&ty, &f).await.status, StatusCode::SEE_OTHER);
    let types = admin.get("/settings/appointment-types").await;
    assert!(types.contains(&format!("<option value=\"{eye}\" selected>Eye examination")));

    // A visit of that type shows the fields under the template's heading.
    let p = patient(&app, &c.t, "Maya", "Gurung", Some("1970-01-01"), None).await;
    let mut desk = Browser::login_as(&app, &host, &c.reception).await;
    let appt = book_with_doctor(&mut desk, &c, p, "2026-03-02T09:30:00Z").await;
    let mut doc = Browser::login_as(&app, &host, &c.doctor).await;
    let started = doc.post(&format!("/appointments/{appt}/visit"), &[]).await;
    let at = started.location.clone().unwrap();
    let visit: i64 = at.trim_start_matches("/visits/").parse().unwrap();
    let page = doc.get(&at).await;
    assert!(page.contains("3. Eye examination"), "{}", page.body);
    assert!(page.contains("name=\"tf.intraocular_pressure_right\""));
    assert!(page.contains("<span class=\"unit\">mmHg</span>"));
    assert!(page.contains("name=\"tf.glasses_prescription\""));
    assert!(page.contains("Template: Eye examination"));

    // Saved from the form with the note, one audit row.
    let before = app.audit_rows(&c.t).await.len();
    let saved = doc
        .post(
            &at,
            &[
                ("version", "1"),
                ("complaint", "Blurred vision"),
                ("tf.intraocular_pressure_right", "18"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let rows = app.audit_rows(&c.t).await;
    assert_eq!(rows[before].action, "visit.update");
    assert_eq!(
        rows[before].details["changed"],
        json!(["complaint", "fields"])
    );
    assert_eq!(rows.len(), before + 1);
    let page = doc.get(&at).await;
    assert!(page.contains("id=\"tf-intraocular_pressure_right\" name=\"tf.intraocular_pressure_right\" value=\"18\""), "{}", page.body);
    let too_long = "x".repeat(501);
    let long = doc
        .post(
            &at,
            &[
                ("version", "2"),
                ("complaint", "Blurred vision"),
                ("tf.glasses_prescription", too_long.as_str()),
            ],
        )
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(long.contains("Glasses prescription: at most 500 characters"));
    assert!(long.contains(&too_long), "what was typed stays");

    // The API names the template and its values; a field is changed on its own.
    let r = doc
        .api(
            Method::PATCH,
            &format!("/api/v1/visits/{visit}"),
            Some(json!({"version": 2, "fields": {"visual_acuity_right_eye": "6/9"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let unknown = doc
        .api(
            Method::PATCH,
            &format!("/api/v1/visits/{visit}"),
            Some(json!({"version": 3, "fields": {"weight": "70"}})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.body.contains("not a field of this visit"),
        "{}",
        unknown.body
    );
    let v = doc
        .api(Method::GET, &format!("/api/v1/visits/{visit}"), None)
        .await
        .json()["visit"]
        .clone();
    assert_eq!(v["template"]["name"], "Eye examination");
    assert_eq!(
        v["template_values"],
        json!({"intraocular_pressure_right": "18", "visual_acuity_right_eye": "6/9"})
    );
    assert_eq!(v["complaint"], "Blurred vision", "the note kept");

    // Changing the template changes only visits started afterwards.
    let edit = admin
        .post(
            &format!("/settings/templates/{eye}"),
            &[
                ("name", "Eye examination"),
                ("layout", "[examination] Eyes\nFundus"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(edit.status, StatusCode::SEE_OTHER);
    let page = doc.get(&at).await;
    assert!(page.contains("3. Eye examination") && page.contains("tf.intraocular_pressure_right"));
    assert!(!page.contains("tf.fundus"));

    // Signed: the values are shown, and final.
    let sign = doc
        .post(
            &format!("/visits/{visit}/sign"),
            &[("version", "3"), ("complaint", "Blurred vision")],
        )
        .await;
    assert_eq!(sign.status, StatusCode::SEE_OTHER, "{}", sign.body);
    let page = doc.get(&at).await;
    assert!(
        page.contains("<dt>Intraocular pressure, right</dt><dd>18 mmHg</dd>"),
        "{}",
        page.body
    );
    assert!(page.contains("<dt>Visual acuity, right eye</dt><dd>6/9</dd>"));
    assert!(!page.contains("name=\"tf."));
    let changed = sqlx::query(&format!(
        "UPDATE {schema}.visits SET template_values = '{{}}' WHERE id = $1"
    ))
    .bind(visit)
    .execute(&app.admin)
    .await;
    assert!(changed.is_err(), "a signed visit's values cannot change");

    // A walk-in from the chart gets the clinic's default template.
    let q = patient(&app, &c.t, "Hari", "Thapa", Some("1990-01-01"), None).await;
    let walk_in = walk_in_visit(&mut doc, q).await;
    let page = doc.get(&format!("/visits/{walk_in}")).await;
    assert!(
        page.contains("Template: General consultation"),
        "{}",
        page.body
    );
    assert!(page.contains("name=\"tf.cardiovascular_cvs\""));

    // Another default takes over: only one at a time.
    let d = admin
        .post(
            &format!("/settings/templates/{eye}"),
            &[
                ("name", "Eye examination"),
                ("layout", "[examination] Eyes\nFundus"),
                ("active", "1"),
                ("is_default", "1"),
            ],
        )
        .await;
    assert_eq!(d.status, StatusCode::SEE_OTHER);
    let defaults: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT name FROM {schema}.note_templates WHERE is_default"
    ))
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(defaults, ["Eye examination"]);
}
