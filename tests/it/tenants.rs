//! Clinic lifecycle: creation is all-or-nothing, hosts are unique, delete dumps first.

use chrono::Utc;
use clinicbox::db::migrate::Migrations;
use clinicbox::domain::tenants::{
    self, DisplayName, Hostname, NewTenant, Slug, TenantError, TenantStatus,
};

use crate::helpers::TestDb;

async fn count(t: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&t.admin).await.unwrap()
}

#[tokio::test]
async fn new_clinic_gets_schema_role_and_latest_version() {
    let t = TestDb::new().await;
    let a = t
        .create_tenant_with("alpha", &["portal.alpha-clinic.org"])
        .await;
    assert_eq!(a.schema_version, Migrations::embedded().latest_tenant());
    assert_eq!(a.db.schema.as_str(), "tenant_alpha");
    assert_eq!(a.db.role.as_str(), format!("{}_t_alpha", t.name));
    let list = tenants::list(&t.db, &t.rules()).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0].hosts,
        vec![
            "alpha.clinics.test".to_string(),
            "portal.alpha-clinic.org".to_string()
        ]
    );
    let applied = count(&t, "SELECT count(*) FROM tenant_alpha.schema_migrations").await;
    assert_eq!(applied, Migrations::embedded().tenant.len() as i64);
}

#[tokio::test]
async fn duplicate_hostname_is_refused_and_nothing_is_half_created() {
    let t = TestDb::new().await;
    t.create_tenant_with("alpha", &["shared.example.org"]).await;
    // Roles are cluster-wide and other tests create theirs meanwhile: count this database's.
    let own_roles = format!(
        "SELECT count(*) FROM pg_roles WHERE starts_with(rolname, '{}_t_')",
        t.name
    );
    let roles_before = count(&t, &own_roles).await;
    let schemas_before = count(&t, "SELECT count(*) FROM pg_namespace").await;

    let err = tenants::create(
        &t.db,
        Migrations::embedded(),
        &t.rules(),
        NewTenant {
            slug: Slug::parse("bravo").unwrap(),
            name: DisplayName::parse("Bravo").unwrap(),
            hosts: vec![Hostname::parse("SHARED.example.org").unwrap()],
        },
        Utc::now(),
    )
    .await
    .unwrap_err();

    assert!(
        matches!(&err, TenantError::HostTaken { host, owner } if host == "shared.example.org" && owner == "alpha"),
        "{err}"
    );
    assert_eq!(count(&t, &own_roles).await, roles_before);
    assert_eq!(
        count(&t, "SELECT count(*) FROM pg_namespace").await,
        schemas_before
    );
    assert_eq!(count(&t, "SELECT count(*) FROM clinicbox.tenants").await, 1);
}

#[tokio::test]
async fn duplicate_slug_and_reserved_hosts_are_refused() {
    let t = TestDb::new().await;
    t.create_tenant("alpha").await;
    let new = |slug: &str, hosts: &[&str]| NewTenant {
        slug: Slug::parse(slug).unwrap(),
        name: DisplayName::parse("X").unwrap(),
        hosts: hosts.iter().map(|h| Hostname::parse(h).unwrap()).collect(),
    };
    let e = tenants::create(
        &t.db,
        Migrations::embedded(),
        &t.rules(),
        new("alpha", &[]),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TenantError::SlugTaken(_)), "{e}");
    let e = tenants::create(
        &t.db,
        Migrations::embedded(),
        &t.rules(),
        new("admin", &[]),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TenantError::HostReserved { .. }), "{e}");
    let e = tenants::create(
        &t.db,
        Migrations::embedded(),
        &t.rules(),
        new("bravo", &["alpha.clinics.test"]),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, TenantError::HostReserved { .. }), "{e}");
    assert_eq!(count(&t, "SELECT count(*) FROM clinicbox.tenants").await, 1);
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM pg_namespace WHERE nspname ~ '^tenant_' AND nspname !~ '_audit$'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn suspend_and_resume() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    tenants::set_status(&t.db, &a.slug, TenantStatus::Suspended, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        tenants::find(&t.db, &a.slug).await.unwrap().status,
        TenantStatus::Suspended
    );
    tenants::set_status(&t.db, &a.slug, TenantStatus::Active, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        tenants::find(&t.db, &a.slug).await.unwrap().status,
        TenantStatus::Active
    );
    let missing = Slug::parse("nobody").unwrap();
    assert!(matches!(
        tenants::set_status(&t.db, &missing, TenantStatus::Active, Utc::now()).await,
        Err(TenantError::NotFound(_))
    ));
}

#[tokio::test]
async fn delete_writes_a_restorable_dump_then_drops_schema_and_role() {
    let t = TestDb::new().await;
    let a = t.create_tenant_with("alpha", &["alpha.example.org"]).await;
    t.set_setting(&a, "marker", serde_json::json!("keep-me"))
        .await;
    let b = t.create_tenant("bravo").await;
    let data = crate::helpers::cluster_root().join(format!("del-{}", t.name));
    let url = clinicbox::config::DatabaseUrl::parse(&t.url).unwrap();

    let dump = tenants::delete(&t.db, &url, &a.slug, &data, Utc::now())
        .await
        .unwrap();

    // The dump exists, is private, and holds the clinic's data.
    let meta = std::fs::metadata(&dump).unwrap();
    assert!(meta.len() > 0);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        meta.permissions().mode() & 0o077,
        0,
        "dump must not be group/world readable"
    );
    let listing = std::process::Command::new(clinicbox::ops::pgtools::find("pg_restore").unwrap())
        .arg("--list")
        .arg(&dump)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("TABLE DATA tenant_alpha settings"),
        "{listing}"
    );
    // Schema, role, control rows and hostnames are gone; the other clinic is untouched.
    assert_eq!(
        count(
            &t,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_alpha'"
        )
        .await,
        0
    );
    let role_left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1")
        .bind(a.db.role.as_str())
        .fetch_one(&t.admin)
        .await
        .unwrap();
    assert_eq!(role_left, 0);
    assert_eq!(
        count(&t, "SELECT count(*) FROM clinicbox.tenant_hostnames").await,
        0
    );
    assert_eq!(tenants::find(&t.db, &b.slug).await.unwrap().slug, b.slug);
}
