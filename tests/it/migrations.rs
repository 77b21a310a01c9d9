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

/// The upgrade path: a database at the first release's schema (migrations 1-5 of both
/// streams), with data in it. `serve`
/// refuses it; `clinicbox migrate` (the real binary, as postinst runs it) brings every schema
/// to this release; every row written before is still there, unchanged.
#[tokio::test]
async fn upgrade_from_the_previous_schema_keeps_every_row() {
    use crate::helpers::cli::{run, stderr, stdout, write_config};
    let t = TestDb::new().await;
    // The schema before the audit logs moved to their own schemas (migration 6 of both
    // streams): what installations of the first release have. Every later migration (the
    // audit move, the consultation) runs in this upgrade.
    let mut previous = Migrations::embedded().clone();
    previous.control.retain(|m| m.version <= 5);
    previous.tenant.retain(|m| m.version <= 5);
    // Start over at the previous release's control schema.
    sqlx::raw_sql("DROP SCHEMA clinicbox CASCADE; DROP SCHEMA IF EXISTS extensions CASCADE")
        .execute(&t.db.pool)
        .await
        .unwrap();
    migrate::run(&t.db, &previous, 2, &NoProgress)
        .await
        .unwrap();
    let rules = t.rules();
    for slug in ["olda", "oldb"] {
        clinicbox::domain::tenants::create(
            &t.db,
            &previous,
            &rules,
            clinicbox::domain::tenants::NewTenant {
                slug: clinicbox::domain::tenants::Slug::parse(slug).unwrap(),
                name: clinicbox::domain::tenants::DisplayName::parse("Old Clinic").unwrap(),
                hosts: vec![],
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    }
    // Data at the old schema: staff, patients, settings, audit rows.
    let a = clinicbox::domain::tenants::find(
        &t.db,
        &clinicbox::domain::tenants::Slug::parse("olda").unwrap(),
    )
    .await
    .unwrap();
    t.create_staff(&a, clinicbox::domain::auth::Role::Doctor)
        .await;
    crate::helpers::clinic::patient(&t, &a, "Amara", "Okafor", Some("1990-05-01"), None).await;
    crate::helpers::clinic::patient(&t, &a, "José", "Núñez", None, Some("+34600111222")).await;
    // Audit rows of the earlier design, chained by its own triggers.
    let mut tx = clinicbox::db::TenantDb::begin(&t.db.pool, &a.db)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO tenant_olda.audit_log (at, actor_type, actor_id, action, patient_id, outcome, details, prev_hash, hash)
         SELECT now() - make_interval(mins => 10 - i), 'user', 1, 'patient.view', i, 'success',
                jsonb_build_object('via', 'web', 'n', i), '', ''
           FROM generate_series(1, 4) i",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO clinicbox.system_audit (at, actor_type, action, tenant_id, outcome, details, prev_hash, hash)
         VALUES (now(), 'system', 'tenant.create', 1, 'success', '{}', '', '')",
    )
    .execute(&t.db.pool)
    .await
    .unwrap();
    let legacy = |sql: &'static str| {
        let admin = t.admin.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .fetch_all(&admin)
                .await
                .unwrap()
        }
    };
    let legacy_before = legacy(
        "SELECT concat_ws('|', seq, at, action, patient_id, details, encode(hash, 'hex'))
           FROM tenant_olda.audit_log ORDER BY seq",
    )
    .await;
    let system_before = legacy(
        "SELECT concat_ws('|', seq, at, action, tenant_id, details, encode(hash, 'hex'))
           FROM clinicbox.system_audit ORDER BY seq",
    )
    .await;
    assert_eq!(legacy_before.len(), 4);
    // The audit logs move (migration 0006); they are compared in their new place below.
    let old_tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
          WHERE table_schema IN ('clinicbox', 'tenant_olda', 'tenant_oldb')
            AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
            AND table_name NOT IN ('audit_log', 'audit_log_anchor', 'system_audit')",
    )
    .fetch_all(&t.admin)
    .await
    .unwrap();
    // The columns each table had before: a migration may add columns (compared as before).
    let mut old_columns = std::collections::HashMap::new();
    for (s, n) in &old_tables {
        let cols: Vec<String> = sqlx::query_scalar(
            "SELECT format('x.%I', column_name) FROM information_schema.columns
              WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(s)
        .bind(n)
        .fetch_all(&t.admin)
        .await
        .unwrap();
        old_columns.insert((s.clone(), n.clone()), cols.join(", "));
    }
    let dump = |tables: Vec<(String, String)>| {
        let admin = t.admin.clone();
        let old_columns = old_columns.clone();
        async move {
            let mut out = Vec::new();
            for (s, n) in tables {
                let cols = &old_columns[&(s.clone(), n.clone())];
                let rows: Vec<(String,)> = sqlx::query_as(&format!(
                    "SELECT ROW({cols})::text FROM \"{s}\".\"{n}\" x ORDER BY 1"
                ))
                .fetch_all(&admin)
                .await
                .unwrap();
                out.push((s, n, rows));
            }
            out
        }
    };
    let before = dump(old_tables.clone()).await;
    assert!(
        before
            .iter()
            .any(|(_, n, r)| n == "patients" && r.len() == 2)
    );

    let dir = crate::helpers::cluster_root().join(format!("upgrade-{}", t.name));
    let cfg = write_config(&dir, &t.url, "");
    let o = run(&cfg, &["serve"]);
    assert!(!o.status.success(), "serve must refuse an old schema");
    assert!(stderr(&o).contains("clinicbox migrate"), "{}", stderr(&o));

    let o = run(&cfg, &["migrate"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let status = migrate::status(&t.db.pool, Migrations::embedded())
        .await
        .unwrap();
    assert!(status.is_current(), "{:?}", status.problem());
    // Every row written before is still there, unchanged (migrations may add rows, such as
    // new default settings); only the clinics' recorded schema version moves on.
    let after = dump(old_tables).await;
    for ((s, n, old), (_, _, new)) in before.iter().zip(&after) {
        if n == "tenants" {
            assert_eq!(old.len(), new.len());
            continue;
        }
        for row in old {
            assert!(new.contains(row), "{s}.{n}: {row:?} lost or changed");
        }
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT schema_version FROM clinicbox.tenants ORDER BY slug")
            .fetch_all(&t.admin)
            .await
            .unwrap();
    assert_eq!(versions, vec![Migrations::embedded().latest_tenant(); 2]);
    // Every audit row is in the log that replaced the old one, with its old position and hash.
    assert_eq!(
        legacy(
            "SELECT concat_ws('|', legacy_seq, at, action, patient_id, details, encode(legacy_hash, 'hex'))
               FROM tenant_olda_audit.audit_log WHERE legacy_hash IS NOT NULL ORDER BY id",
        )
        .await,
        legacy_before
    );
    assert_eq!(
        legacy(
            "SELECT concat_ws('|', legacy_seq, at, action, tenant_id, details, encode(legacy_hash, 'hex'))
               FROM clinicbox_audit.audit_log WHERE legacy_hash IS NOT NULL ORDER BY id",
        )
        .await,
        system_before
    );
    // The old chain still verifies up to the switch, and the keyed chain covers both.
    let secrets = crate::helpers::test_secrets();
    let r = clinicbox::domain::audit::verify_tenant(&t.db.pool, &secrets, &a, None)
        .await
        .unwrap();
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.rows, 4);
    let r = clinicbox::domain::audit::verify_system(&t.db.pool, &secrets, None)
        .await
        .unwrap();
    assert!(r.ok(), "{r:?}");
    // A row of the old chain changed by a superuser after the switch is caught.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE tenant_olda_audit.audit_log SET details = '{}' WHERE legacy_seq = 2;",
    )
    .execute(&t.admin)
    .await
    .unwrap();
    let r = clinicbox::domain::audit::verify_tenant(&t.db.pool, &secrets, &a, None)
        .await
        .unwrap();
    assert_eq!(r.broken.map(|b| b.0), Some(2));
    // The new release's tables are there and usable.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_olda.appointments")
        .fetch_one(&t.admin)
        .await
        .unwrap();
    assert_eq!(n, 0);
}
