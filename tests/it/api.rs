//! The JSON API: users, problem+json errors, the OpenAPI document.

use clinicbox::domain::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::browser::Browser;
use crate::helpers::{TestApp, spawn_app};

#[tokio::test]
async fn users_api_creates_updates_and_validates() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &admin).await;

    let p = b
        .api(
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"email": "New.Doc@Alpha.org", "display_name": "New Doc", "role": "doctor"}),
            ),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let j = p.json();
    assert_eq!(j["user"]["email"], "new.doc@alpha.org");
    assert_eq!(j["user"]["role"], "doctor");
    assert!(j["temporary_password"].as_str().unwrap().len() >= 20);
    let id = j["user"]["id"].as_i64().unwrap();

    let dup = b
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "new.doc@alpha.org", "display_name": "X", "role": "nurse"})),
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(dup.headers["content-type"], "application/problem+json");
    assert!(
        dup.json()["errors"]["email"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    let bad_role = b
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "a@b.org", "display_name": "X", "role": "surgeon"})),
        )
        .await;
    assert_eq!(bad_role.headers["content-type"], "application/problem+json");
    assert!(bad_role.status.is_client_error());
    let unknown_field = b
        .api(
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"email": "a@b.org", "display_name": "X", "role": "nurse", "is_admin": true}),
            ),
        )
        .await;
    assert!(unknown_field.status.is_client_error());
    assert!(
        unknown_field.json()["detail"]
            .as_str()
            .unwrap()
            .contains("is_admin")
    );
    let weak = b
        .api(Method::POST, "/api/v1/users", Some(json!({"email": "w@b.org", "display_name": "W", "role": "nurse", "password": "password1234"})))
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.json()["errors"]["password"].is_string());

    let p = b
        .api(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"role": "nurse"})),
        )
        .await;
    assert_eq!(p.status, 200);
    assert_eq!(p.json()["role"], "nurse");
    // The last active admin cannot demote themselves.
    let p = b
        .api(
            Method::PATCH,
            &format!("/api/v1/users/{}", admin.id),
            Some(json!({"role": "doctor"})),
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("at least one active clinic admin"));

    let list = b.api(Method::GET, "/api/v1/users", None).await;
    assert_eq!(list.json().as_array().unwrap().len(), 2);
    let rows = app.audit_rows(&t).await;
    let create = rows.iter().find(|r| r.action == "user.create").unwrap();
    assert_eq!(create.resource_id.as_deref(), Some(id.to_string().as_str()));
    let update = rows.iter().find(|r| r.action == "user.update").unwrap();
    assert_eq!(update.details["changed"], json!(["role"]));
    assert_eq!(rows.iter().filter(|r| r.action == "user.create").count(), 1);
}

#[tokio::test]
async fn unauthenticated_api_requests_get_401_problem_json() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let b = Browser::new(&app, &TestApp::clinic_host("alpha"));
    let r = b.client.get(b.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let r = b
        .client
        .get(b.url("/api/v1/me"))
        .bearer_auth("cbx_notarealtokennotarealtokennotarealtoken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn openapi_document_lists_the_api() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let b = Browser::new(&app, &TestApp::clinic_host("alpha"));
    let r = b
        .client
        .get(b.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

/// Bodies and paths the extractors cannot read (`web::extract`) are problem+json with axum's
/// status and a description that names the field.
#[tokio::test]
async fn unreadable_bodies_and_paths_are_problem_json() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &admin).await;

    let wrong_type = b
        .api(
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "a@b.org", "display_name": 5, "role": "doctor"})),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong_type.headers["content-type"],
        "application/problem+json"
    );
    let j = wrong_type.json();
    assert_eq!(j["code"], "unprocessable", "{j}");
    assert!(
        j["detail"].as_str().unwrap().contains("display_name"),
        "{j}"
    );

    let bad_id = b
        .api(Method::GET, "/api/v1/patients/not-a-number", None)
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST, "{}", bad_id.body);
    assert_eq!(bad_id.headers["content-type"], "application/problem+json");
    assert_eq!(bad_id.json()["code"], "bad_request");
}

/// Issue 15, item 14: an empty staff form names every missing field, not only the role.
#[tokio::test]
async fn an_empty_staff_form_names_every_field() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &admin).await;
    let p = b
        .post(
            "/settings/users",
            &[("email", ""), ("display_name", ""), ("role", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    for msg in [
        "enter a name of 1-120 characters",
        "enter an email address",
        "choose a role",
    ] {
        assert!(p.contains(msg), "{msg}: {}", p.body);
    }
}
