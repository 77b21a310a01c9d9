//! The audit log: out of the application's reach, tamper-evident with a keyed chain, viewable
//! and exportable.

use chrono::{Duration, TimeZone, Utc};
use clinicbox::db::TenantDb;
use clinicbox::domain::audit::{self, Actor, Context, Event};
use clinicbox::domain::auth::Role;
use reqwest::StatusCode;

use crate::helpers::browser::Browser;
use crate::helpers::cli::{run, stderr, stdout, write_config};
use crate::helpers::{TestApp, TestDb, cluster_root, spawn_app, sqlstate};
use clinicbox::domain::tenants::Tenant;

pub(crate) async fn some_events(t: &TestDb, tenant: &clinicbox::domain::tenants::Tenant, n: usize) {
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

fn secrets() -> clinicbox::ops::secrets::Secrets {
    crate::helpers::test_secrets()
}

async fn verify(t: &TestDb, tenant: &Tenant) -> audit::VerifyReport {
    audit::verify_tenant(&t.db.pool, &secrets(), tenant, None)
        .await
        .unwrap()
}

/// What the login role can do in a clinic transaction (as the clinic's role): one statement,
/// in a transaction of its own; the SQLSTATE if refused.
async fn as_clinic(t: &TestDb, tenant: &Tenant, sql: &str) -> Result<(), String> {
    let mut tx = TenantDb::begin(&t.db.pool, &tenant.db).await.unwrap();
    match sqlx::raw_sql(sql).execute(&mut *tx).await {
        Ok(_) => {
            tx.commit().await.unwrap();
            Ok(())
        }
        Err(e) => Err(sqlstate(&e).unwrap_or_else(|| e.to_string())),
    }
}

/// The repro of the black-box finding, as the application's own login role: switch to the
/// clinic's role and try to disable the trigger, grant itself UPDATE and DELETE, delete the
/// patient.view rows, replace the functions, drop the trigger, rename or drop the table, or
/// become the role that owns the log. Every step is refused and the log is unchanged.
#[tokio::test]
async fn the_login_role_cannot_rewrite_a_clinics_audit_log() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    some_events(&t, &a, 3).await;
    assert!(verify(&t, &a).await.ok());
    let auditor = format!("{}_auditor", t.db.login_role.as_str());
    for sql in [
        "UPDATE audit_log SET outcome = 'failure'".to_owned(),
        "DELETE FROM audit_log WHERE action = 'patient.view'".to_owned(),
        "TRUNCATE audit_log".to_owned(),
        "ALTER TABLE audit_log DISABLE TRIGGER audit_no_change".to_owned(),
        // A GRANT without grant options is only a warning: what matters is what follows.
        "GRANT UPDATE, DELETE ON audit_log TO CURRENT_USER; DELETE FROM audit_log".to_owned(),
        "DROP TRIGGER audit_no_change ON audit_log".to_owned(),
        "ALTER TABLE audit_log RENAME TO audit_log_old".to_owned(),
        "DROP TABLE audit_log".to_owned(),
        "DELETE FROM audit_chain".to_owned(),
        "INSERT INTO audit_chain VALUES (99, 1, '', '')".to_owned(),
        "UPDATE clinicbox_audit.heads SET seq = 0".to_owned(),
        "CREATE OR REPLACE FUNCTION tenant_alpha_audit.audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$".to_owned(),
        "CREATE OR REPLACE FUNCTION clinicbox_audit.legacy_hash(bytea, bigint, timestamptz, text, bigint, inet, text, text, text, bigint, text, jsonb, text) RETURNS bytea LANGUAGE sql AS $$ SELECT ''::bytea $$".to_owned(),
        "DROP SCHEMA tenant_alpha_audit CASCADE".to_owned(),
        format!("SET ROLE {auditor}"),
    ] {
        let r = as_clinic(&t, &a, &sql).await;
        assert!(r.is_err(), "allowed as the clinic role: {sql}");
    }
    // And as the login role itself, outside any clinic transaction.
    for sql in [
        format!("GRANT {auditor} TO CURRENT_USER; SET ROLE {auditor}"),
        format!("SET ROLE {auditor}"),
        "ALTER ROLE CURRENT_USER CREATEROLE".to_owned(),
        "DELETE FROM tenant_alpha_audit.audit_log".to_owned(),
        "SELECT clinicbox_audit.drop_log('tenant_alpha_audit')".to_owned(),
        "SELECT clinicbox_priv.create_clinic_role('postgres')".to_owned(),
    ] {
        let r = sqlx::raw_sql(&sql).execute(&t.db.pool).await;
        assert!(r.is_err(), "allowed as the login role: {sql}");
    }
    // Retention cannot reach rows younger than a year, whatever the cut-off asked for.
    as_clinic(&t, &a, "SELECT audit_prune(now() + interval '1 day')")
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha_audit.audit_log")
        .fetch_one(&t.admin)
        .await
        .unwrap();
    assert_eq!(n, 3);
    let report = verify(&t, &a).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.rows, 3);
}

/// What only a superuser could still do — delete a row and re-chain the rest, edit a row, cut
/// off the newest rows, empty the log — fails verification: the chain is keyed with a secret
/// the database never sees, and its head is kept where the log's tables are not.
#[tokio::test]
async fn verify_catches_a_rewritten_altered_truncated_or_emptied_log() {
    let t = TestDb::new().await;
    let a = t.create_tenant("alpha").await;
    some_events(&t, &a, 20).await;
    let report = verify(&t, &a).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.rows, 20);

    // Delete the row of patient 7, then re-chain what follows with the formula of the old,
    // unkeyed design (sha256 of the previous link and the row), head included.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         DELETE FROM tenant_alpha_audit.audit_chain c USING tenant_alpha_audit.audit_log l
          WHERE c.row_id = l.id AND l.patient_id = 7;
         DELETE FROM tenant_alpha_audit.audit_log WHERE patient_id = 7;
         UPDATE tenant_alpha_audit.audit_chain SET seq = seq - 1 WHERE seq > 7;
         UPDATE tenant_alpha_audit.audit_chain
            SET hash = sha256(prev || convert_to(row_id::text, 'UTF8')) WHERE seq >= 7;
         UPDATE tenant_alpha_audit.audit_chain c SET prev = p.hash
           FROM tenant_alpha_audit.audit_chain p WHERE p.seq = c.seq - 1 AND c.seq >= 7;
         UPDATE clinicbox_audit.heads h SET seq = c.seq, hash = c.hash
           FROM (SELECT seq, hash FROM tenant_alpha_audit.audit_chain ORDER BY seq DESC LIMIT 1) c
          WHERE h.log = 'tenant_alpha_audit';",
    )
    .execute(&t.admin)
    .await
    .unwrap();
    let report = verify(&t, &a).await;
    let (seq, why) = report.broken.clone().expect("a re-chained log must fail");
    assert_eq!(seq, 7, "{why}");
    assert!(why.contains("does not match its hash"), "{why}");

    // The CLI names the entry and fails.
    let dir = cluster_root().join(format!("audit-{}", t.name));
    let cfg = write_config(&dir, &t.url, "");
    std::fs::write(
        dir.join("secret.key"),
        format!("{}\n", hex::encode([42u8; 32])),
    )
    .unwrap();
    let o = run(&cfg, &["audit", "verify", "--tenant", "alpha"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("BROKEN at row 7"), "{}", stdout(&o));

    // An edited row.
    let t2 = TestDb::new().await;
    let b = t2.create_tenant("bravo").await;
    some_events(&t2, &b, 5).await;
    verify(&t2, &b).await;
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE tenant_bravo_audit.audit_log SET patient_id = 999 WHERE patient_id = 3;",
    )
    .execute(&t2.admin)
    .await
    .unwrap();
    let (seq, why) = verify(&t2, &b).await.broken.unwrap();
    assert_eq!(seq, 3);
    assert!(why.contains("altered"), "{why}");

    // The newest rows removed, chain and all: the head says they existed.
    let t3 = TestDb::new().await;
    let c = t3.create_tenant("charlie").await;
    some_events(&t3, &c, 6).await;
    assert!(verify(&t3, &c).await.ok());
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         DELETE FROM tenant_charlie_audit.audit_log WHERE id IN
             (SELECT row_id FROM tenant_charlie_audit.audit_chain WHERE seq > 4);
         DELETE FROM tenant_charlie_audit.audit_chain WHERE seq > 4;",
    )
    .execute(&t3.admin)
    .await
    .unwrap();
    let (seq, why) = verify(&t3, &c).await.broken.unwrap();
    assert_eq!(seq, 5);
    assert!(why.contains("missing from the end"), "{why}");
    // And emptied altogether.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         TRUNCATE tenant_charlie_audit.audit_log, tenant_charlie_audit.audit_chain;",
    )
    .execute(&t3.admin)
    .await
    .unwrap();
    let (_, why) = verify(&t3, &c).await.broken.unwrap();
    assert!(why.contains("entries 1-6 are missing"), "{why}");
    // A backup's head catches it too, even when the recorded head is rewound as well.
    sqlx::raw_sql(
        "UPDATE clinicbox_audit.heads SET seq = 0, hash = '' WHERE log = 'tenant_charlie_audit'",
    )
    .execute(&t3.admin)
    .await
    .unwrap();
    let expected = audit::Head {
        seq: 6,
        hash: vec![1; 32],
    };
    let r = audit::verify_tenant(&t3.db.pool, &secrets(), &c, Some(&expected))
        .await
        .unwrap();
    assert!(r.broken.unwrap().1.contains("expected head"));

    // The system log is checked the same way.
    let o = run(&cfg, &["audit", "verify", "--system"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[tokio::test]
async fn concurrent_writers_never_wait_for_each_other_and_the_chain_takes_every_row() {
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
    // Sealing runs while they write.
    let sealer = {
        let pool = t.db.pool.clone();
        let ident = a.db.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                audit::seal_clinic(&pool, &secrets(), &ident).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    sealer.await.unwrap();
    let report = verify(&t, &a).await;
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

    let removed = audit::prune(&t.db.pool, &secrets(), &a, 7, Utc::now())
        .await
        .unwrap();
    assert_eq!(removed, 5);
    let report = verify(&t, &a).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!((report.rows, report.first_seq), (3, Some(6)));
    // New rows continue the chain.
    some_events(&t, &a, 1).await;
    assert!(verify(&t, &a).await.ok());
    // Recent rows cannot be pruned.
    let removed = audit::prune(&t.db.pool, &secrets(), &a, 1, Utc::now())
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
    assert!(
        p.contains(r#"<p class="field-error" id="f-from-error">use YYYY-MM-DD</p>"#),
        "{}",
        p.body
    );
    // "From" after "to" says so next to "to" instead of showing nothing.
    let p = b.get("/settings/audit?from=2026-03-02&to=2026-03-01").await;
    assert!(
        p.contains(r#"id="f-to-error">the end date is before the start date</p>"#),
        "{}",
        p.body
    );
    assert!(p.contains("correct the filter marked below"));
    assert_eq!(p.body.matches("<tr class=\"outcome-").count(), 0);

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
    // Every view of the page, a refused filter included.
    assert_eq!(rows.iter().filter(|r| r.action == "audit.view").count(), 5);
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

/// Issue 15, item 12: the audit log page is for people: actions in words (the code in the
/// tooltip, the CSV unchanged), patients by name and MRN with a link to the chart, details as
/// words, and a table that can be scrolled by keyboard.
#[tokio::test]
async fn the_audit_page_reads_in_words() {
    let app = spawn_app().await;
    let c = crate::helpers::clinic::clinic(&app, "alpha", "UTC").await;
    let id = crate::helpers::clinic::patient(&app, &c.t, "Sita", "Thapa", None, None).await;
    let mut r = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.reception).await;
    assert_eq!(r.get(&format!("/patients/{id}")).await.status, 200);
    let mut b = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.admin).await;
    let p = b.get("/settings/audit?action=patient.view").await;
    assert!(
        p.contains(r#"<td title="patient.view">Opened a patient record</td>"#),
        "{}",
        p.body
    );
    assert!(
        p.contains(&format!(r#"<a href="/patients/{id}">Sita Thapa</a>"#)),
        "{}",
        p.body
    );
    assert!(p.contains("P000001"), "{}", p.body);
    assert!(p.contains(r#"class="table-wrap" tabindex="0" role="region""#));
    let p = b.get("/settings/audit?action=auth.login").await;
    assert!(
        p.contains("Signed in") && p.contains("mfa: false"),
        "{}",
        p.body
    );
    // The CSV keeps the codes.
    let csv = b
        .client
        .get(b.url("/settings/audit.csv?action=patient.view"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",patient.view,"), "{csv}");
}
