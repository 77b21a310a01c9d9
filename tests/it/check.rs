//! `clinicbox check` on the server (database, role, migrations, listeners, backups…) and
//! `check --remote` against a real HTTPS listener with a private CA.

use std::time::Duration;

use clinicbox::config::TlsMode;

use crate::helpers::cli::{run, stderr, stdout, write_config};
use crate::helpers::tls::{Ports, spawn};
use crate::helpers::{CONSOLE, TestApp, TestDb, cluster_root};

fn levels(out: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["level"].as_str().unwrap().to_owned(),
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn level<'a>(checks: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    checks
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, l, d)| (l.as_str(), d.as_str()))
        .ok_or_else(|| format!("no check {name} in {checks:?}"))
        .unwrap()
}

#[tokio::test]
async fn local_check_reports_each_part_and_fails_on_real_problems() {
    let tdb = TestDb::new().await;
    let dir = cluster_root().join(format!("check-{}", tdb.name));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = write_config(&dir, &tdb.url, "");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    tdb.create_tenant("chk").await;

    let o = run(&cfg, &["check", "--json", "--no-dns"]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let c = levels(&stdout(&o));
    assert_eq!(level(&c, "database").0, "ok");
    assert_eq!(level(&c, "database role").0, "ok");
    assert_eq!(level(&c, "migrations").0, "ok");
    assert_eq!(level(&c, "clock").0, "ok");
    assert_eq!(level(&c, "pg_dump").0, "ok");
    assert_eq!(level(&c, "data directory").0, "ok");
    assert!(matches!(level(&c, "disk").0, "ok" | "warn"));
    // Nothing serves on the configured port, and no backup was taken: warnings, not failures.
    let (l, d) = level(&c, "listener http");
    assert_eq!(l, "warn");
    assert!(d.contains("systemctl status clinicbox"), "{d}");
    let (l, d) = level(&c, "backups");
    assert_eq!(l, "warn");
    assert!(d.contains("no backup"), "{d}");

    // The plain output: one line per check and a summary.
    let o = run(&cfg, &["check", "--no-dns"]);
    let text = stdout(&o);
    assert!(text.contains("OK   database"), "{text}");
    assert!(text.contains("WARN listener http"), "{text}");
    assert!(text.contains("0 failed"), "{text}");

    // A role without CREATEDB: backups still work, verify cannot; a warning says the fix.
    sqlx::query(&format!("ALTER ROLE \"{}\" NOCREATEDB", tdb.name))
        .execute(&tdb.admin)
        .await
        .unwrap();
    let o = run(&cfg, &["check", "--json", "--no-dns"]);
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "database role");
    assert_eq!(l, "warn");
    assert!(d.contains("CREATEDB"), "{d}");

    // A clinic behind the binary's schema: a failure, exit status 1.
    sqlx::query("UPDATE clinicbox.tenants SET schema_version = 1 WHERE slug = 'chk'")
        .execute(&tdb.admin)
        .await
        .unwrap();
    let o = run(&cfg, &["check", "--json", "--no-dns"]);
    assert!(!o.status.success());
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "migrations");
    assert_eq!(l, "fail");
    assert!(d.contains("migrate"), "{d}");

    // A database that does not answer.
    let bad = write_config(&dir.join("bad"), "postgres://nobody@127.0.0.1:1/none", "");
    let o = run(&bad, &["check", "--json"]);
    assert!(!o.status.success());
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "database");
    assert_eq!(l, "fail");
    assert!(d.contains("127.0.0.1:1"), "{d}");

    // A broken config is itself a failed check, named.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[server]\nnonsense = 1\n").unwrap();
    let o = run(&broken, &["check"]);
    assert!(!o.status.success());
    assert!(stdout(&o).contains("FAIL config"), "{}", stdout(&o));
}

#[tokio::test]
async fn remote_check_verifies_tls_redirect_headers_and_api_auth() {
    let tdb = TestDb::new().await;
    tdb.create_tenant("north").await;
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["*.clinics.test".to_owned(), CONSOLE.to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let cert_file = dir.path().join("cert.pem");
    let key_file = dir.path().join("key.pem");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&cert_file, leaf.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let ports = Ports::bind().await;
    let app = spawn(&tdb, ports, |c| {
        c.tls.mode = TlsMode::Manual;
        c.tls.cert_file = Some(cert_file.clone());
        c.tls.key_file = Some(key_file.clone());
    })
    .await;
    let cfg = write_config(dir.path(), &tdb.url, "");
    let remote = |host: String, with_ca: bool| {
        let cfg = cfg.clone();
        let ca_file = ca_file.clone();
        let (https, http) = (app.https.port(), app.http.port());
        tokio::task::spawn_blocking(move || {
            let url = format!("https://{host}:{https}");
            let http = http.to_string();
            let mut args = vec![
                "check",
                "--json",
                "--remote",
                &url,
                "--resolve",
                "127.0.0.1",
                "--http-port",
                &http,
            ];
            let ca = ca_file.display().to_string();
            if with_ca {
                args.extend(["--ca-file", ca.as_str()]);
            }
            run(&cfg, &args)
        })
    };
    let o = tokio::time::timeout(Duration::from_secs(60), remote(CONSOLE.to_owned(), true))
        .await
        .unwrap()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "certificate");
    assert_eq!(l, "ok");
    assert!(d.contains("trusted") && d.contains("TLSv1_3"), "{d}");
    assert_eq!(level(&c, "healthz").0, "ok");
    assert_eq!(level(&c, "readyz").0, "ok");
    assert_eq!(level(&c, "security headers").0, "ok");
    let (l, d) = level(&c, "http redirect");
    assert_eq!(l, "ok");
    assert!(d.contains("308"), "{d}");

    // A clinic host: the API refuses a request without a token.
    let o = remote(TestApp::clinic_host("north"), true).await.unwrap();
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "api authentication");
    assert_eq!(l, "ok");
    assert!(d.contains("401"), "{d}");

    // Without the private root, the certificate is not trusted: a failure that says why.
    let o = remote(CONSOLE.to_owned(), false).await.unwrap();
    assert!(!o.status.success());
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "certificate");
    assert_eq!(l, "fail");
    assert!(d.contains("not trusted"), "{d}");
    app.stop().await;
}

/// A replaced secret key (as a purge and reinstall made one) is refused by `serve`, reported by
/// `check` and `backup run`, whether the database recorded the key's fingerprint or only holds
/// secrets sealed with the old key.
#[tokio::test]
async fn a_secret_key_that_does_not_belong_to_the_database_is_detected() {
    use clinicbox::ops::keycheck::{KeyMatch, verify_or_record};
    use clinicbox::ops::secrets::Secrets;
    let tdb = TestDb::new().await;
    let dir = cluster_root().join(format!("key-{}", tdb.name));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = write_config(&dir, &tdb.url, "");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let key = dir.join("secret.key");
    let write_key = |b: u8| std::fs::write(&key, format!("{}\n", hex::encode([b; 32]))).unwrap();

    // Before fingerprints: the backup passphrase sealed with key 1 gives key 2 away.
    write_key(1);
    let one = Secrets::load(&key).unwrap();
    let enc = clinicbox::ops::backup::settings::BackupSettings::passphrase(
        &one,
        "long enough passphrase",
    )
    .unwrap();
    sqlx::query("INSERT INTO clinicbox.system_settings (key, value, updated_at) VALUES ('backup.encryption', $1, now())")
        .bind(serde_json::to_value(enc).unwrap())
        .execute(&tdb.db.pool)
        .await
        .unwrap();
    write_key(2);
    let two = Secrets::load(&key).unwrap();
    assert!(matches!(
        verify_or_record(&tdb.db.pool, &two, chrono::Utc::now())
            .await
            .unwrap(),
        KeyMatch::Mismatch { .. }
    ));
    let o = run(&cfg, &["check", "--json", "--no-dns"]);
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "secret key matches");
    assert_eq!(l, "fail", "{d}");
    assert!(
        d.contains("backup passphrase") && d.contains("from-purge"),
        "{d}"
    );
    assert!(!o.status.success());
    let o = run(&cfg, &["serve"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("does not belong to this database"),
        "{}",
        stderr(&o)
    );
    let o = run(&cfg, &["backup", "run"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("does not belong to this database"),
        "{}",
        stderr(&o)
    );

    // The right key: recorded once, then matched; a key written over it afterwards is refused.
    write_key(1);
    assert_eq!(
        verify_or_record(&tdb.db.pool, &one, chrono::Utc::now())
            .await
            .unwrap(),
        KeyMatch::Recorded
    );
    assert_eq!(
        verify_or_record(&tdb.db.pool, &one, chrono::Utc::now())
            .await
            .unwrap(),
        KeyMatch::Matches
    );
    let o = run(&cfg, &["check", "--json", "--no-dns"]);
    assert_eq!(level(&levels(&stdout(&o)), "secret key matches").0, "ok");
    sqlx::query("DELETE FROM clinicbox.system_settings WHERE key = 'backup.encryption'")
        .execute(&tdb.db.pool)
        .await
        .unwrap();
    write_key(3);
    let o = run(&cfg, &["check", "--json", "--no-dns"]);
    let c = levels(&stdout(&o));
    let (l, d) = level(&c, "secret key matches");
    assert_eq!(l, "fail");
    assert!(d.contains("another key's fingerprint"), "{d}");
}

/// `check --compliance --json`: the console's compliance list from the command line. It checks
/// every audit chain first (and records that), so a row changed behind ClinicBox's back turns
/// the audit item red, naming the clinic and the row.
#[tokio::test]
async fn compliance_check_from_the_command_line() {
    let tdb = TestDb::new().await;
    let dir = cluster_root().join(format!("compliance-{}", tdb.name));
    let _ = std::fs::remove_dir_all(&dir);
    let cfg = write_config(&dir, &tdb.url, "");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    // The installation's key, which sealed the chains (the test database's).
    std::fs::write(
        dir.join("secret.key"),
        format!("{}\n", hex::encode([42u8; 32])),
    )
    .unwrap();
    let t = tdb.create_tenant("chk").await;
    crate::audit::some_events(&tdb, &t, 3).await;
    let items = |o: &std::process::Output| -> Vec<(String, String, String)> {
        let v: serde_json::Value = serde_json::from_str(&stdout(o))
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string(), "out": stdout(o) }));
        assert!(v["items"].is_array(), "{v}\n{}", stderr(o));
        v["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                (
                    i["key"].as_str().unwrap_or_default().to_owned(),
                    i["level"].as_str().unwrap_or_default().to_owned(),
                    i["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let find = |items: &[(String, String, String)], key: &str| {
        let i = items.iter().find(|(k, _, _)| k == key).cloned();
        assert!(i.is_some(), "no {key} in {items:?}");
        let (_, level, detail) = i.unwrap_or_default();
        (level, detail)
    };

    let o = run(&cfg, &["check", "--compliance", "--json"]);
    // No backup and plain HTTP: not compliant, and the exit code says so.
    assert!(!o.status.success());
    let c = items(&o);
    assert_eq!(c.len(), 11, "{c:?}");
    let (l, d) = find(&c, "audit_chains");
    assert_eq!(l, "ok", "{d}");
    assert!(d.contains("2 log(s)"), "{d}");
    assert_eq!(find(&c, "tls_versions").0, "failing");
    assert_eq!(find(&c, "backups_fresh").0, "failing");
    assert_eq!(find(&c, "idle_logoff").0, "ok");
    assert_eq!(find(&c, "audit_retention").0, "ok");
    let (l, d) = find(&c, "mfa_admins");
    assert_eq!(l, "failing");
    assert!(d.contains("chk"), "{d}");
    let recorded: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM clinicbox_audit.audit_log WHERE action = 'audit.verify'",
    )
    .fetch_one(&tdb.admin)
    .await
    .unwrap();
    assert_eq!(recorded, 1);

    // Only a superuser can still change an audit row; the next check catches it.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE tenant_chk_audit.audit_log SET outcome = 'failure'
          WHERE id = (SELECT min(id) FROM tenant_chk_audit.audit_log);
         SET session_replication_role = DEFAULT;",
    )
    .execute(&tdb.admin)
    .await
    .unwrap();
    let o = run(&cfg, &["check", "--compliance"]);
    let text = stdout(&o);
    assert!(!o.status.success());
    assert!(text.contains("FAIL audit_chains"), "{text}");
    assert!(text.contains("chk: row"), "{text}");
    assert!(text.contains("safeguards met"), "{text}");
}
