//! The migration runner over many clinics.

use std::time::Instant;

use clinicbox::db::migrate::{self, Migration, Migrations, NoProgress};

use crate::helpers::TestDb;

fn with_extra(sql: &str) -> Migrations {
    let mut m = Migrations::embedded().clone();
    let v = m.latest_tenant() + 1;
    m.tenant.push(Migration::new(v, "test_extra", sql));
    m
}

async fn versions(t: &TestDb) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT slug, schema_version FROM clinicbox.tenants ORDER BY slug")
        .fetch_all(&t.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn adding_a_migration_upgrades_every_clinic() {
    let t = TestDb::new().await;
    for s in ["alpha", "bravo", "charlie"] {
        t.create_tenant(s).await;
    }
    let migs = with_extra("CREATE TABLE extra_thing (id bigint PRIMARY KEY);");
    let latest = migs.latest_tenant();

    let status = migrate::status(&t.db.pool, &migs).await.unwrap();
    assert_eq!(status.tenants_behind, 3);
    assert!(status.problem().unwrap().contains("clinicbox migrate"));

    let report = migrate::run(&t.db, &migs, 2, &NoProgress).await.unwrap();

    assert_eq!(report.tenants_upgraded.len(), 3);
    assert!(report.tenants_failed.is_empty());
    for (_, v) in versions(&t).await {
        assert_eq!(v, latest);
    }
    for s in ["alpha", "bravo", "charlie"] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM tenant_{s}.schema_migrations WHERE version = $1"
        ))
        .bind(latest)
        .fetch_one(&t.admin)
        .await
        .unwrap();
        assert_eq!(n, 1, "{s}");
    }
    assert!(
        migrate::status(&t.db.pool, &migs)
            .await
            .unwrap()
            .is_current()
    );
}

#[tokio::test]
async fn a_failing_clinic_keeps_its_version_and_the_others_upgrade() {
    let t = TestDb::new().await;
    for s in ["alpha", "bravo", "charlie"] {
        t.create_tenant(s).await;
    }
    let before = Migrations::embedded().latest_tenant();
    // Fails only in bravo's schema, after having created a table: that must be rolled back.
    let migs = with_extra(
        "CREATE TABLE extra_thing (id bigint PRIMARY KEY);
         DO $$ BEGIN
           IF current_schema() = 'tenant_bravo' THEN RAISE EXCEPTION 'deliberate failure'; END IF;
         END $$;",
    );

    let report = migrate::run(&t.db, &migs, 3, &NoProgress).await.unwrap();

    assert_eq!(report.tenants_failed.len(), 1);
    assert_eq!(report.tenants_failed[0].0, "bravo");
    assert!(
        report.tenants_failed[0].1.contains("deliberate failure"),
        "{:?}",
        report.tenants_failed
    );
    assert_eq!(
        versions(&t).await,
        vec![
            ("alpha".to_string(), before + 1),
            ("bravo".to_string(), before),
            ("charlie".to_string(), before + 1)
        ]
    );
    let leftover: bool =
        sqlx::query_scalar("SELECT to_regclass('tenant_bravo.extra_thing') IS NOT NULL")
            .fetch_one(&t.admin)
            .await
            .unwrap();
    assert!(
        !leftover,
        "the failed clinic's partial migration must be rolled back"
    );

    // Resumable: once the cause is gone, a second run upgrades only bravo.
    let fixed = with_extra("CREATE TABLE extra_thing (id bigint PRIMARY KEY);");
    let report = migrate::run(&t.db, &fixed, 3, &NoProgress).await.unwrap();
    assert_eq!(
        report.tenants_upgraded,
        vec![("bravo".to_string(), before, before + 1)]
    );
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused() {
    let t = TestDb::new().await;
    t.create_tenant("alpha").await;
    let newer = with_extra("SELECT 1;");
    migrate::run(&t.db, &newer, 1, &NoProgress).await.unwrap();

    // The released binary (without the extra migration) meets the newer database.
    let err = migrate::run(&t.db, Migrations::embedded(), 1, &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, migrate::MigrateError::DatabaseNewer { .. }),
        "{err}"
    );
    let status = migrate::status(&t.db.pool, Migrations::embedded())
        .await
        .unwrap();
    assert!(!status.is_current());
    assert!(status.problem().unwrap().contains("newer"), "{status:?}");
}

#[tokio::test]
async fn an_edited_migration_is_detected() {
    let t = TestDb::new().await;
    t.create_tenant("alpha").await;
    let mut edited = Migrations::embedded().clone();
    edited.tenant[0] = Migration::new(edited.tenant[0].version, "settings", "SELECT 'edited';");
    // Force alpha to be revisited by pretending a newer file exists.
    edited
        .tenant
        .push(Migration::new(edited.latest_tenant() + 1, "x", "SELECT 1;"));
    let report = migrate::run(&t.db, &edited, 1, &NoProgress).await.unwrap();
    assert_eq!(report.tenants_failed.len(), 1);
    assert!(
        report.tenants_failed[0]
            .1
            .contains("changed after it was applied")
    );
}

/// Correctness of the fast path at scale; the timing is printed (figures come from
/// `cargo bench --bench migrate_noop`, not from this test).
#[tokio::test]
async fn a_run_with_nothing_to_do_touches_no_clinic() {
    let t = TestDb::new().await;
    for i in 0..40 {
        t.create_tenant(&format!("c{i:03}")).await;
    }
    let started = Instant::now();
    let report = migrate::run(&t.db, Migrations::embedded(), 4, &NoProgress)
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(report.tenants_upgraded.is_empty());
    assert!(report.tenants_failed.is_empty());
    assert!(report.control_applied.is_empty());
    assert_eq!(report.tenants_total, 40);
    eprintln!("no-op migrate over 40 clinics: {took:?}");
}
