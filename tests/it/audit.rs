//! The audit log: append-only for every role, tamper-evident, viewable and exportable.

use chrono::{Duration, TimeZone, Utc};
use clinicbox::db::TenantDb;
use clinicbox::domain::audit::{self, Actor, Context, Event};
use clinicbox::domain::auth::Role;
use reqwest::StatusCode;

use crate::helpers::browser::Browser;
use crate::helpers::cli::{run, stderr, stdout, write_config};
use crate::helpers::{TestApp, TestDb, cluster_root, spawn_app, sqlstate};

async fn some_events(t: &TestDb, tenant: &clinicbox::domain::tenants::Tenant, n: usize) {
    let mut tx = TenantDb::begin(&t.db.pool, &tenant.db).await.unwrap();
    for i in 0..n {
        audit::record(
            &mut tx,
            &Context::system(Utc::now()),
            Event::new("patient.view", Actor::User(1)).patient(i as i64 + 1),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn update_delete_truncate_are_refused_for_the_clinic_role_and_the_login_role() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    some_events(&t, &a, 3).await;

    for sql in [
        "UPDATE audit_log SET outcome = 'failure'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    ] {
        let mut tx = TenantDb::begin(&t.db.pool, &a.db).await.unwrap();
        let err = sqlx::raw_sql(sql).execute(&mut *tx).await;
        // ALTER is allowed to the owner; it is the DML that must fail.
        if sql.starts_with("ALTER") {
            let err = sqlx::query("DELETE FROM audit_log")
                .execute(&mut *tx)
                .await
                .unwrap_err();
            assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
            continue;
        }
        let err = err.unwrap_err();
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{sql}: {err}");
    }
    // The application's login role, outside any clinic transaction.
    for sql in [
        "UPDATE tenant_alpha.audit_log SET outcome = 'failure'",
        "DELETE FROM tenant_alpha.audit_log",
    ] {
        let err = sqlx::raw_sql(sql).execute(&t.db.pool).await.unwrap_err();
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{sql}: {err}");
    }
    // The system audit log, as the login role (its owner).
    let mut conn = t.db.pool.acquire().await.unwrap();
    audit::record_system(
        &mut conn,
        &Context::system(Utc::now()),
        Event::new("tenant.create", Actor::System),
        None,
    )
    .await
    .unwrap();
    for sql in [
        "UPDATE clinicbox.system_audit SET outcome = 'failure'",
        "DELETE FROM clinicbox.system_audit",
        "TRUNCATE clinicbox.system_audit",
    ] {
        let err = sqlx::raw_sql(sql).execute(&t.db.pool).await.unwrap_err();
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{sql}: {err}");
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.audit_log")
        .fetch_one(&t.admin)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn the_chain_verifies_and_a_superuser_edit_is_caught() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    some_events(&t, &a, 20).await;
    let report = audit::verify_tenant(&t.db.pool, &a).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.rows, 20);

    // A superuser bypasses the triggers and edits row 7.
    let mut c = t.admin.acquire().await.unwrap();
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE tenant_alpha.audit_log SET patient_id = 999 WHERE seq = 7;
         SET session_replication_role = origin;",
    )
    .execute(&mut *c)
    .await
    .unwrap();
    let report = audit::verify_tenant(&t.db.pool, &a).await.unwrap();
    let (seq, why) = report.broken.clone().unwrap();
    assert_eq!(seq, 7);
    assert!(why.contains("altered"), "{why}");

    // The CLI names the row and fails.
    let cfg = write_config(
        &cluster_root().join(format!("audit-{}", t.name)),
        &t.url,
        "",
    );
    let o = run(&cfg, &["audit", "verify", "--tenant", "alpha"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("BROKEN at row 7"), "{}", stdout(&o));

    // Deleting a row (and recomputing nothing) is caught as a gap.
    let t2 = TestDb::new().await;
    let b = t2.create_tenant("bravo").await;
    some_events(&t2, &b, 5).await;
    sqlx::raw_sql(
        "SET session_replication_role = replica; DELETE FROM tenant_bravo.audit_log WHERE seq = 3;",
    )
    .execute(&t2.admin)
    .await
    .unwrap();
    let report = audit::verify_tenant(&t2.db.pool, &b).await.unwrap();
    assert_eq!(report.broken.unwrap().0, 4);
    let cfg = write_config(
        &cluster_root().join(format!("audit-{}", t2.name)),
        &t2.url,
        "",
    );
    assert!(
        run(&cfg, &["audit", "verify", "--system"]).status.success(),
        "{}",
        stderr(&run(&cfg, &["audit", "verify", "--system"]))
    );
}

#[tokio::test]
async fn concurrent_writers_keep_one_chain() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let pool = t.db.pool.clone();
        let ident = a.db.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let mut tx = TenantDb::begin(&pool, &ident).await.unwrap();
                audit::record(
                    &mut tx,
                    &Context::system(Utc::now()),
                    Event::new("patient.view", Actor::User(2)),
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let report = audit::verify_tenant(&t.db.pool, &a).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.rows, 80);
}

#[tokio::test]
async fn retention_prunes_only_old_rows_and_the_chain_still_verifies() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    let old = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
    let mut tx = TenantDb::begin(&t.db.pool, &a.db).await.unwrap();
    for i in 0..5 {
        audit::record(
            &mut tx,
            &Context::system(old + Duration::days(i)),
            Event::new("auth.login", Actor::User(1)),
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    some_events(&t, &a, 3).await;

    let removed = audit::prune(&t.db.pool, &t.db.login_role, &a, 7, Utc::now())
        .await
        .unwrap();
    assert_eq!(removed, 5);
    let report = audit::verify_tenant(&t.db.pool, &a).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.rows, report.first_seq), (3, Some(6)));
    // New rows continue the chain.
    some_events(&t, &a, 1).await;
    assert!(audit::verify_tenant(&t.db.pool, &a).await.unwrap().ok());
    // Recent rows cannot be pruned, not even by the pruning role.
    let removed = audit::prune(&t.db.pool, &t.db.login_role, &a, 1, Utc::now())
        .await
        .unwrap();
    assert_eq!(removed, 0);
}

#[tokio::test]
async fn the_viewer_filters_pages_and_exports_and_is_itself_audited() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let admin = app.create_staff(&t, Role::ClinicAdmin).await;
    let doc = app.create_staff(&t, Role::Doctor).await;
    some_events(&app, &t, 60).await;
    Browser::login_as(&app, &TestApp::clinic_host("alpha"), &doc).await;
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &admin).await;

    let p = b.get("/settings/audit").await;
    assert_eq!(p.status, 200);
    assert_eq!(
        p.body.matches("<tr class=\"outcome-").count(),
        50,
        "one page"
    );
    assert!(p.contains("Older entries"));
    let p = b
        .get(&format!("/settings/audit?user={}&action=auth", doc.id))
        .await;
    assert_eq!(p.body.matches("<tr class=\"outcome-").count(), 1);
    assert!(p.contains(&doc.email));
    let p = b.get("/settings/audit?patient=7").await;
    assert_eq!(p.body.matches("<tr class=\"outcome-").count(), 1);
    let p = b.get("/settings/audit?from=yesterday").await;
    assert!(p.contains("use the form YYYY-MM-DD"));

    let r = b
        .client
        .get(b.url("/settings/audit.csv?action=patient.view"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().count(), 61, "header + 60 rows");
    assert!(csv.starts_with("seq,time_utc,actor_type"));

    let rows = app.audit_rows(&t).await;
    assert_eq!(rows.iter().filter(|r| r.action == "audit.view").count(), 4);
    let export = rows.iter().find(|r| r.action == "audit.export").unwrap();
    assert_eq!(export.details["rows"], 60);
    assert_eq!(export.actor_id, Some(admin.id));

    // The API returns the same rows, paged.
    let p = b
        .api(
            reqwest::Method::GET,
            "/api/v1/audit?action=patient.view&limit=25",
            None,
        )
        .await;
    assert_eq!(p.status, 200);
    let j = p.json();
    assert_eq!(j["items"].as_array().unwrap().len(), 25);
    let next = j["next_before"].as_i64().unwrap();
    let p = b
        .api(
            reqwest::Method::GET,
            &format!("/api/v1/audit?action=patient.view&limit=50&before={next}"),
            None,
        )
        .await;
    assert_eq!(p.json()["items"].as_array().unwrap().len(), 35);
    assert!(p.json()["next_before"].is_null());
    let p = b
        .api(reqwest::Method::GET, "/api/v1/audit?limit=0", None)
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
}
