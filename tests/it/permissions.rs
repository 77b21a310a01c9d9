//! Every role against every permission-guarded route: allowed where the matrix says so,
//! otherwise 403 plus an `access.denied` audit row.

use clinicbox::domain::auth::{Permission, Role};
use reqwest::{Method, StatusCode};

use crate::helpers::browser::Browser;
use crate::helpers::{TestApp, spawn_app};

/// Form fields sent with a POST.
type Fields = &'static [(&'static str, &'static str)];

/// (method, path, form fields, permission). `{id}` is replaced by an existing user's id.
const ROUTES: &[(&str, &str, Fields, Permission)] = &[
    ("GET", "/settings/users", &[], Permission::UsersManage),
    (
        "POST",
        "/settings/users",
        &[
            ("email", "x@y.test"),
            ("display_name", "X"),
            ("role", "nurse"),
        ],
        Permission::UsersManage,
    ),
    ("GET", "/settings/users/{id}", &[], Permission::UsersManage),
    (
        "POST",
        "/settings/users/{id}/unlock",
        &[],
        Permission::UsersManage,
    ),
    ("GET", "/settings/security", &[], Permission::SettingsManage),
    ("GET", "/settings/audit", &[], Permission::AuditRead),
    ("GET", "/settings/audit.csv", &[], Permission::AuditRead),
    ("GET", "/api/v1/users", &[], Permission::UsersManage),
    ("GET", "/api/v1/users/{id}", &[], Permission::UsersManage),
    ("GET", "/api/v1/audit", &[], Permission::AuditRead),
];

#[tokio::test]
async fn every_role_against_every_guarded_route() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let target = app.create_staff(&t, Role::Receptionist).await;
    let mut expected_denials = 0;
    for role in Role::ALL {
        let user = app.create_staff(&t, role).await;
        let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &user).await;
        for (method, path, fields, perm) in ROUTES {
            let path = path.replace("{id}", &target.id.to_string());
            let p = if *method == "GET" {
                if path.starts_with("/api/") {
                    b.api(Method::GET, &path, None).await
                } else {
                    b.get(&path).await
                }
            } else {
                // Unique emails for the create form.
                let email = format!("{}-{}@y.test", role.as_str(), path.len());
                let f: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| {
                        if *k == "email" {
                            (*k, email.as_str())
                        } else {
                            (*k, *v)
                        }
                    })
                    .collect();
                b.post(&path, &f).await
            };
            if role.can(*perm) {
                assert!(
                    p.status.is_success() || p.status.is_redirection(),
                    "{role} {method} {path}: {}",
                    p.status
                );
            } else {
                assert_eq!(p.status, StatusCode::FORBIDDEN, "{role} {method} {path}");
                expected_denials += 1;
            }
        }
    }
    let denials: Vec<_> = app
        .audit_rows(&t)
        .await
        .into_iter()
        .filter(|r| r.action == "access.denied")
        .collect();
    assert_eq!(denials.len(), expected_denials);
    assert!(
        denials
            .iter()
            .all(|d| d.outcome == "denied" && d.actor_type == "user")
    );
    assert!(
        denials
            .iter()
            .any(|d| d.details["route"] == "/settings/users/{id}")
    );
}

#[tokio::test]
async fn the_roles_page_shows_the_matrix_to_everyone() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let u = app.create_staff(&t, Role::Billing).await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &u).await;
    let p = b.get("/settings/roles").await;
    assert_eq!(p.status, 200);
    for perm in Permission::ALL {
        assert!(p.contains(perm.as_str()), "{perm:?}");
    }
}

#[tokio::test]
async fn another_clinics_user_ids_are_not_found() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha").await;
    let bravo = app.create_tenant("bravo").await;
    let admin = app.create_staff(&a, Role::ClinicAdmin).await;
    for _ in 0..3 {
        app.create_staff(&bravo, Role::Nurse).await;
    }
    let other = app.create_staff(&bravo, Role::Doctor).await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &admin).await;
    for path in [
        format!("/settings/users/{}", other.id),
        format!("/api/v1/users/{}", other.id),
    ] {
        let p = if path.starts_with("/api") {
            b.api(Method::GET, &path, None).await
        } else {
            b.get(&path).await
        };
        assert_eq!(p.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!p.contains(&other.email));
    }
    for path in [
        format!("/settings/users/{}/unlock", other.id),
        format!("/settings/users/{}/reset-password", other.id),
        format!("/settings/users/{}/reset-mfa", other.id),
    ] {
        assert_eq!(
            b.post(&path, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let p = b
        .api(
            Method::PATCH,
            &format!("/api/v1/users/{}", other.id),
            Some(serde_json::json!({"role": "billing"})),
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Nothing happened in bravo.
    assert!(app.audit_rows(&bravo).await.is_empty());
}
