//! Backups with the real binary, pg_dump and pg_restore: a whole-installation backup restores
//! to identical rows and documents; a clinic restore leaves the other clinics alone; encrypted
//! backups need their key; a damaged archive is refused; retention prunes; every operation has
//! its audit row.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::Digest;
use sqlx::PgPool;

use crate::helpers::cli::{run, stderr, stdout, write_config};
use crate::helpers::clinic::{clinic, patient};
use crate::helpers::{TestDb, cluster_root};

type Snapshot = BTreeMap<String, (i64, String)>;

/// Row count and an MD5 of every row's text, per table, read as superuser (independently of
/// the code under test).
async fn snapshot(admin: &PgPool, schemas: &[&str]) -> Snapshot {
    let schemas: Vec<String> = schemas.iter().map(|s| (*s).to_owned()).collect();
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
          WHERE table_schema = ANY($1) AND table_type = 'BASE TABLE'
          ORDER BY 1, 2",
    )
    .bind(&schemas)
    .fetch_all(admin)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for (s, t) in tables {
        let row: (i64, String) = sqlx::query_as(&format!(
            "SELECT count(*), coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '')
               FROM \"{s}\".\"{t}\" x"
        ))
        .fetch_one(admin)
        .await
        .unwrap();
        out.insert(format!("{s}.{t}"), row);
    }
    out
}

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    walk(root, root, &mut out);
    out
}

struct Setup {
    tdb: TestDb,
    dir: PathBuf,
    cfg: PathBuf,
}

impl Setup {
    async fn new(extra: &str) -> Self {
        let tdb = TestDb::new().await;
        let dir = cluster_root().join(format!("backup-{}", tdb.name));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = write_config(&dir, &tdb.url, extra);
        Self { tdb, dir, cfg }
    }

    fn documents(&self) -> PathBuf {
        self.dir.join("data/documents")
    }

    fn backups(&self) -> PathBuf {
        self.dir.join("data/backups")
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        run(&self.cfg, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.cli(args);
        assert!(
            o.status.success(),
            "clinicbox {args:?} failed:\n{}\n{}",
            stdout(&o),
            stderr(&o)
        );
        stdout(&o)
    }

    fn backup_run(&self) -> PathBuf {
        let out = self.ok(&["backup", "run", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        PathBuf::from(v["file"].as_str().unwrap())
    }

    async fn system_audit(&self, action: &str) -> Vec<(String, serde_json::Value)> {
        sqlx::query_as(
            "SELECT outcome, details FROM clinicbox_audit.audit_log WHERE action = $1 ORDER BY id",
        )
        .bind(action)
        .fetch_all(&self.tdb.admin)
        .await
        .unwrap()
    }

    fn write_doc(&self, rel: &str, bytes: &[u8]) {
        let p = self.documents().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// Every document row of the clinic names a stored file whose SHA-256 is the row's.
async fn assert_documents_intact(s: &Setup, schema: &str) {
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT storage_key, sha256 FROM {schema}.documents"
    ))
    .fetch_all(&s.tdb.admin)
    .await
    .unwrap();
    assert!(!rows.is_empty());
    let slug = schema.trim_start_matches("tenant_");
    for (key, sha) in rows {
        let bytes = std::fs::read(s.documents().join(slug).join(&key[..2]).join(&key)).unwrap();
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha, "{key}");
    }
}

/// Two clinics with staff, scheduling setup, patients and their audit rows, and documents.
async fn populate(s: &Setup) -> (String, String) {
    let a = clinic(&s.tdb, "bka", "Europe/Madrid").await;
    let b = clinic(&s.tdb, "bkb", "Asia/Kathmandu").await;
    for (i, name) in ["García", "Nguyễn", "O'Brien", "Okafor"].iter().enumerate() {
        patient(
            &s.tdb,
            &a.t,
            "Ana",
            name,
            Some("1980-01-02"),
            Some(&format!("+3460000000{i}")),
        )
        .await;
    }
    patient(&s.tdb, &b.t, "Sita", "Sharma", None, Some("+977980000000")).await;
    // A signed visit with vitals, a diagnosis (counted in code_usage by its trigger), a problem
    // and an amendment: the consultation's tables and their guards come back too.
    let sa = a.t.db.schema.as_str();
    sqlx::raw_sql(&format!(
        "INSERT INTO {sa}.visits (patient_id, clinician_id, started_at, complaint, plan, updated_at)
         SELECT min(id), {doc}, now(), 'Cough', 'Rest', now() FROM {sa}.patients;
         INSERT INTO {sa}.vitals (patient_id, visit_id, taken_at, systolic, diastolic, weight_g)
         SELECT patient_id, id, now(), 120, 80, 70000 FROM {sa}.visits;
         INSERT INTO {sa}.visit_diagnoses (visit_id, code_system, code, title, is_primary, added_at)
         SELECT id, 'icd10cm', 'J069', 'Acute upper respiratory infection, unspecified', true, now()
           FROM {sa}.visits;
         INSERT INTO {sa}.problems (patient_id, title, noted_on)
         SELECT patient_id, 'Asthma', current_date FROM {sa}.visits;
         UPDATE {sa}.visits SET signed_at = now(), signed_by = {doc};
         INSERT INTO {sa}.visit_amendments (visit_id, section, body, reason, amended_by, amended_at)
         SELECT id, 'plan', 'Rest and fluids', 'incomplete', {doc}, now() FROM {sa}.visits;",
        doc = a.doctor.id
    ))
    .execute(&s.tdb.admin)
    .await
    .unwrap();
    s.write_doc("bka/2026/03/scan-1.pdf", b"%PDF-1.7 first scan");
    s.write_doc(
        "bka/2026/03/photo.jpg",
        &[0xff, 0xd8, 0xff, 0x00, 0x10, 0x4a],
    );
    s.write_doc("bkb/consent.pdf", b"%PDF-1.7 consent");
    // A document as an upload leaves it: a row naming the stored file and its SHA-256.
    let lab = b"%PDF-1.7 lab report".to_vec();
    let key = "0c0ffee0-0000-4000-8000-00000000000a";
    s.write_doc(&format!("bka/0c/{key}"), &lab);
    sqlx::query(&format!(
        "INSERT INTO {sa}.documents (patient_id, category, title, media_type, file_name, size_bytes,
                                     sha256, storage_key, uploaded_at)
         SELECT min(id), 'lab', 'CBC', 'application/pdf', 'cbc.pdf', $1, $2, $3, now()
           FROM {sa}.patients"
    ))
    .bind(lab.len() as i64)
    .bind(hex::encode(sha2::Sha256::digest(&lab)))
    .bind(key)
    .execute(&s.tdb.admin)
    .await
    .unwrap();
    (
        a.t.db.schema.as_str().to_owned(),
        b.t.db.schema.as_str().to_owned(),
    )
}

#[tokio::test]
async fn full_backup_restores_every_row_and_document() {
    let s = Setup::new("").await;
    let (sa, sb) = populate(&s).await;
    let schemas = ["clinicbox", sa.as_str(), sb.as_str()];
    let before = snapshot(&s.tdb.admin, &schemas).await;
    let docs_before = files(&s.documents());

    let file = s.backup_run();
    assert!(file.starts_with(s.backups()), "{}", file.display());
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("clinicbox-") && name.ends_with("-manual.backup.tar"),
        "{name}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "backup files are private");
    let dmode = std::fs::metadata(s.backups()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dmode, 0o700);
    let created = s.system_audit("backup.create").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].0, "success");
    // The outcome is recorded for /readyz, /metrics and `check`.
    let last: serde_json::Value = sqlx::query_scalar(
        "SELECT value FROM clinicbox.system_settings WHERE key = 'backup.last_success'",
    )
    .fetch_one(&s.tdb.admin)
    .await
    .unwrap();
    assert_eq!(last["file"], name.as_str());

    let listed = s.ok(&["backup", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["file"], name.as_str());
    assert_eq!(listed[0]["reason"], "manual");

    let verify = s.ok(&["backup", "verify", file.to_str().unwrap()]);
    assert!(verify.starts_with("OK "), "{verify}");
    assert!(verify.contains("4 document(s)"), "{verify}");
    let verified = s.system_audit("backup.verify").await;
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].0, "success");
    // The scratch database is gone again.
    let scratch: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE $1 || '_verify_%'")
            .bind(&s.tdb.name)
            .fetch_one(&s.tdb.admin)
            .await
            .unwrap();
    assert_eq!(scratch, 0);

    // Things change after the backup: a patient edited, a document removed and another added,
    // a new clinic, a clinic renamed.
    sqlx::query(&format!(
        "UPDATE {sa}.patients SET family_name = 'Changed' WHERE family_name = 'Okafor'"
    ))
    .execute(&s.tdb.admin)
    .await
    .unwrap();
    std::fs::remove_file(s.documents().join("bka/2026/03/scan-1.pdf")).unwrap();
    s.write_doc("bka/new.pdf", b"after the backup");
    s.ok(&["tenant", "create", "bkc", "--name", "Clinic C"]);
    sqlx::query("UPDATE clinicbox.tenants SET display_name = 'Renamed' WHERE slug = 'bka'")
        .execute(&s.tdb.admin)
        .await
        .unwrap();

    // Without --yes and without a terminal, nothing happens.
    let o = s.cli(&["backup", "restore", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--yes"), "{}", stderr(&o));

    let out = s.ok(&["backup", "restore", file.to_str().unwrap(), "--yes"]);
    assert!(out.contains("restored bka, bkb"), "{out}");
    assert!(out.contains("what was there before is in"), "{out}");

    let after = snapshot(&s.tdb.admin, &schemas).await;
    let strip = |m: &Snapshot| {
        let mut m = m.clone();
        // The system audit log gains the verify and restore rows after the backup was taken.
        m.remove("clinicbox_audit.audit_log");
        m
    };
    assert_eq!(strip(&after), strip(&before));
    assert_eq!(files(&s.documents()), docs_before);
    assert_documents_intact(&s, &sa).await;
    // The clinic created after the backup is gone, schema and role.
    let leftovers: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_bkc')
              + (SELECT count(*) FROM pg_roles WHERE rolname = $1)",
    )
    .bind(format!("{}_t_bkc", s.tdb.name))
    .fetch_one(&s.tdb.admin)
    .await
    .unwrap();
    assert_eq!(leftovers, 0);
    // A restored signed visit is still final: its guard came back with it.
    let changed = sqlx::query(&format!("UPDATE {sa}.visits SET plan = 'x'"))
        .execute(&s.tdb.admin)
        .await;
    assert!(changed.is_err(), "the restored signed visit can be changed");
    let uses: i32 = sqlx::query_scalar(&format!(
        "SELECT uses FROM {sa}.code_usage WHERE code = 'J069'"
    ))
    .fetch_one(&s.tdb.admin)
    .await
    .unwrap();
    assert_eq!(uses, 1);
    // The restored clinics still work through the application's isolation.
    let o = s.ok(&["tenant", "show", "bka", "--json"]);
    assert!(o.contains("\"Clinic BKA\""), "{o}");
    let restored = s.system_audit("backup.restore").await;
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].0, "success");
    assert!(
        restored[0].1["safety_backup"]
            .as_str()
            .unwrap()
            .contains("pre-restore")
    );
    // The safety backup holds what was replaced, including the clinic created afterwards.
    let safety = PathBuf::from(restored[0].1["safety_backup"].as_str().unwrap());
    let v = s.ok(&["backup", "verify", safety.to_str().unwrap()]);
    assert!(v.starts_with("OK "), "{v}");
}

#[tokio::test]
async fn clinic_restore_leaves_other_clinics_untouched() {
    let s = Setup::new("").await;
    let (sa, sb) = populate(&s).await;
    let a_before = snapshot(&s.tdb.admin, &[&sa]).await;
    let docs_a_before = files(&s.documents().join("bka"));

    let out = s.ok(&["tenant", "export", "bka"]);
    assert!(out.contains("exported to"), "{out}");
    let export = s
        .backups()
        .read_dir()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let ename = export.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        ename.starts_with("clinic-bka-") && ename.ends_with("-export.backup.tar"),
        "{ename}"
    );
    assert_eq!(s.system_audit("tenant.export").await.len(), 1);
    let v = s.ok(&["backup", "verify", export.to_str().unwrap()]);
    assert!(v.contains("3 document(s)"), "{v}");

    // Both clinics change.
    for schema in [&sa, &sb] {
        sqlx::query(&format!("UPDATE {schema}.patients SET notes = 'changed'"))
            .execute(&s.tdb.admin)
            .await
            .unwrap();
    }
    s.write_doc("bka/later.pdf", b"later");
    s.write_doc("bkb/later.pdf", b"b later");
    let b_changed = snapshot(&s.tdb.admin, &[&sb]).await;
    let docs_b_changed = files(&s.documents().join("bkb"));

    // A clinic export cannot replace the whole installation.
    let o = s.cli(&["backup", "restore", export.to_str().unwrap(), "--yes"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--tenant"), "{}", stderr(&o));
    // Nor restore a clinic it does not hold.
    let o = s.cli(&[
        "backup",
        "restore",
        export.to_str().unwrap(),
        "--tenant",
        "bkb",
        "--yes",
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not in this backup"), "{}", stderr(&o));

    let out = s.ok(&[
        "backup",
        "restore",
        export.to_str().unwrap(),
        "--tenant",
        "bka",
        "--yes",
    ]);
    assert!(out.contains("restored bka"), "{out}");
    assert_eq!(snapshot(&s.tdb.admin, &[&sa]).await, a_before);
    assert_eq!(files(&s.documents().join("bka")), docs_a_before);
    assert_documents_intact(&s, &sa).await;
    assert_eq!(snapshot(&s.tdb.admin, &[&sb]).await, b_changed);
    assert_eq!(files(&s.documents().join("bkb")), docs_b_changed);
    // Serving again, in the state it was in.
    let show = s.ok(&["tenant", "show", "bka", "--json"]);
    assert!(show.contains("\"active\""), "{show}");
    // A safety export of the clinic was taken first.
    let safety: Vec<String> = std::fs::read_dir(s.backups())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("clinic-bka-") && n.contains("-pre-restore"))
        .collect();
    assert_eq!(safety.len(), 1, "{safety:?}");
    let restored = s.system_audit("backup.restore").await;
    // The two refused attempts are in the audit log as failures, then the restore.
    assert_eq!(
        restored.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
        ["failure", "failure", "success"]
    );
    assert_eq!(restored[2].1["clinic"], "bka");
    assert!(
        restored[1].1["error"]
            .as_str()
            .unwrap()
            .contains("not in this backup")
    );

    // A deleted clinic comes back from its export, role, schema, data and documents.
    s.ok(&["tenant", "delete", "bka", "--confirm", "bka"]);
    std::fs::remove_dir_all(s.documents().join("bka")).unwrap();
    s.ok(&[
        "backup",
        "restore",
        export.to_str().unwrap(),
        "--tenant",
        "bka",
        "--yes",
    ]);
    assert_eq!(snapshot(&s.tdb.admin, &[&sa]).await, a_before);
    assert_eq!(files(&s.documents().join("bka")), docs_a_before);
    assert_eq!(snapshot(&s.tdb.admin, &[&sb]).await, b_changed);
    // Through the application's own isolated access (role switch), the data is readable.
    let t = clinicbox::domain::tenants::find(
        &s.tdb.db,
        &clinicbox::domain::tenants::Slug::parse("bka").unwrap(),
    )
    .await
    .unwrap();
    let mut tx = clinicbox::db::TenantDb::begin(&s.tdb.db.pool, &t.db)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM patients")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 4);
}

#[tokio::test]
async fn encrypted_backups_need_their_key() {
    let s = Setup::new("").await;
    populate(&s).await;
    // To an age public key: only its identity opens it.
    let id = age::x25519::Identity::generate();
    let other = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    let id_file = s.dir.join("backup.agekey");
    std::fs::write(
        &id_file,
        format!("# test\n{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    let other_file = s.dir.join("other.agekey");
    std::fs::write(&other_file, other.to_string().expose_secret()).unwrap();
    let mut conn = s.tdb.db.pool.acquire().await.unwrap();
    let mut settings = clinicbox::ops::backup::BackupSettings::load(&s.tdb.db.pool)
        .await
        .unwrap();
    settings.encryption =
        clinicbox::ops::backup::BackupSettings::recipient(&id.to_public().to_string()).unwrap();
    settings.save(&mut conn, chrono::Utc::now()).await.unwrap();

    let file = s.backup_run();
    assert!(file.to_string_lossy().ends_with(".backup.tar.age"));
    let raw = std::fs::read(&file).unwrap();
    assert!(raw.starts_with(b"age-encryption.org/v1"));
    assert!(
        !raw.windows(6).any(|w| w == b"Okafor"),
        "no patient name in clear"
    );
    let f = file.to_str().unwrap();
    let o = s.cli(&["backup", "verify", f]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--identity"), "{}", stderr(&o));
    let o = s.cli(&[
        "backup",
        "verify",
        f,
        "--identity",
        other_file.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("key"), "{}", stderr(&o));
    let o = s.cli(&["backup", "verify", f, "--identity", s.cfg.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not an age identity file"),
        "{}",
        stderr(&o)
    );
    let v = s.ok(&[
        "backup",
        "verify",
        f,
        "--identity",
        id_file.to_str().unwrap(),
    ]);
    assert!(v.starts_with("OK "), "{v}");
    let verified = s.system_audit("backup.verify").await;
    assert_eq!(
        verified.iter().map(|(o, _)| o.as_str()).collect::<Vec<_>>(),
        ["failure", "success"],
        "a key that does not open the archive is audited; an unreadable key file is an argument error"
    );

    // With a passphrase kept (encrypted) in the settings: this installation reads its own
    // backups; another passphrase does not.
    let secrets =
        clinicbox::ops::secrets::Secrets::load_or_create(&s.dir.join("secret.key")).unwrap();
    settings.encryption = clinicbox::ops::backup::BackupSettings::passphrase(
        &secrets,
        "correct horse battery staple",
    )
    .unwrap();
    settings.save(&mut conn, chrono::Utc::now()).await.unwrap();
    // One second later, so that the file name differs from the first backup.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let file = s.backup_run();
    let f = file.to_str().unwrap();
    let v = s.ok(&["backup", "verify", f]);
    assert!(v.starts_with("OK "), "{v}");
    let wrong = s.dir.join("wrong.pass");
    std::fs::write(&wrong, "not the passphrase at all\n").unwrap();
    let o = s.cli(&[
        "backup",
        "verify",
        f,
        "--passphrase-file",
        wrong.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("key"), "{}", stderr(&o));
}

#[tokio::test]
async fn damaged_archives_are_refused_with_a_clear_message() {
    let s = Setup::new("").await;
    populate(&s).await;
    let file = s.backup_run();
    let good = std::fs::read(&file).unwrap();

    // One byte flipped in the middle (inside a dump): the SHA-256 check names the file.
    let mut bad = good.clone();
    let i = bad.len() / 2;
    bad[i] ^= 0x55;
    let flipped = s.dir.join("flipped.backup.tar");
    std::fs::write(&flipped, &bad).unwrap();
    let o = s.cli(&["backup", "verify", flipped.to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("damaged"), "{e}");

    // Cut short.
    let cut = s.dir.join("cut.backup.tar");
    std::fs::write(&cut, &good[..good.len() * 2 / 3]).unwrap();
    let o = s.cli(&["backup", "verify", cut.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));

    // Not a backup at all.
    let o = s.cli(&["backup", "verify", s.cfg.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a ClinicBox backup"),
        "{}",
        stderr(&o)
    );
    // Missing file.
    let o = s.cli(&["backup", "verify", "/nonexistent/x.backup.tar"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("/nonexistent/x.backup.tar"),
        "{}",
        stderr(&o)
    );

    // A damaged archive is never restored: the installation is untouched.
    let before = s.ok(&["tenant", "list", "--json"]);
    let o = s.cli(&["backup", "restore", flipped.to_str().unwrap(), "--yes"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    assert_eq!(s.ok(&["tenant", "list", "--json"]), before);
    let failures = s.system_audit("backup.verify").await;
    assert!(failures.iter().all(|(o, _)| o == "failure"));
}

#[tokio::test]
async fn retention_keeps_daily_weekly_monthly_and_clinic_exports() {
    let s = Setup::new("").await;
    std::fs::create_dir_all(s.backups()).unwrap();
    // Sixty days of nightly backups, plus an old clinic export and an old pre-upgrade backup.
    let now = chrono::Utc::now();
    let mut made = Vec::new();
    for d in 1..=60 {
        let at = now - chrono::Duration::days(d);
        let name = clinicbox::ops::backup::create::file_name(None, at, "daily", false);
        std::fs::write(s.backups().join(&name), b"x").unwrap();
        made.push(name);
    }
    let export = clinicbox::ops::backup::create::file_name(
        Some("old-clinic"),
        now - chrono::Duration::days(400),
        "export",
        false,
    );
    std::fs::write(s.backups().join(&export), b"x").unwrap();
    let upgrade = clinicbox::ops::backup::create::file_name(
        None,
        // An hour before that day's nightly one, so never the newest of its month.
        now - chrono::Duration::days(45) - chrono::Duration::hours(1),
        "pre-upgrade",
        false,
    );
    std::fs::write(s.backups().join(&upgrade), b"x").unwrap();

    s.backup_run();
    let left: Vec<String> = std::fs::read_dir(s.backups())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.contains(&export), "clinic exports are never pruned");
    assert!(
        !left.contains(&upgrade),
        "pre-upgrade backups go after 30 days"
    );
    let daily: Vec<&String> = left
        .iter()
        .filter(|n| n.ends_with("-daily.backup.tar"))
        .collect();
    // 6 more days (today's manual one is the 7th), then weekly and monthly ones.
    assert!(daily.len() >= 8 && daily.len() <= 6 + 4 + 3, "{daily:?}");
    assert!(left.iter().any(|n| n.ends_with("-manual.backup.tar")));
    for d in 1..=6 {
        assert!(left.contains(&made[d - 1]), "day {d} kept");
    }
}

#[tokio::test]
async fn console_backups_page_runs_a_backup_and_edits_settings_with_audit_rows() {
    use crate::helpers::CONSOLE;
    use crate::helpers::browser::Browser;
    let app = crate::helpers::spawn_app().await;
    let t = app.create_tenant("bkweb").await;
    let op = app.create_operator().await;

    // Before any backup, readiness says so without failing.
    let ready: serde_json::Value = app.get(CONSOLE, "/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["checks"]["backup"]["status"], "warning");
    assert!(
        ready["checks"]["backup"]["warning"]
            .as_str()
            .unwrap()
            .contains("no backup")
    );

    // Clinic staff never reach the console's pages; clinic hosts have no /backups.
    let staff = app
        .create_staff(&t, clinicbox::domain::auth::Role::ClinicAdmin)
        .await;
    let mut clinic =
        Browser::login_as(&app, &crate::helpers::TestApp::clinic_host("bkweb"), &staff).await;
    assert_eq!(clinic.get("/backups").await.status, 404);

    let mut b = Browser::login_as(&app, CONSOLE, &op).await;
    let page = b.get("/backups").await;
    assert_eq!(page.status, 200);
    assert!(page.contains("No backups yet."), "{}", page.body);

    // Bad settings: every field explains itself and nothing is saved.
    let r = b
        .post(
            "/backups/settings",
            &[
                ("enabled", "on"),
                ("at", "25:99"),
                ("keep_daily", "-1"),
                ("keep_weekly", "4"),
                ("keep_monthly", "x"),
                ("encryption", "recipient"),
                ("recipient", "not-a-key"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    for msg in ["HH:MM", "whole number", "age public key"] {
        assert!(r.contains(msg), "{msg}");
    }
    let r = b
        .post(
            "/backups/settings",
            &[
                ("at", "03:15"),
                ("keep_daily", "3"),
                ("keep_weekly", "2"),
                ("keep_monthly", "6"),
                ("encryption", "passphrase"),
                ("passphrase", "short"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.contains("12 characters"));
    let secret = "a long backup passphrase 42";
    let r = b
        .post(
            "/backups/settings",
            &[
                ("at", "03:15"),
                ("keep_daily", "3"),
                ("keep_weekly", "2"),
                ("keep_monthly", "6"),
                ("encryption", "passphrase"),
                ("passphrase", secret),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let s = clinicbox::ops::backup::BackupSettings::load(&app.db.pool)
        .await
        .unwrap();
    assert!(!s.enabled);
    assert_eq!(s.at.format("%H:%M").to_string(), "03:15");
    assert_eq!((s.keep_daily, s.keep_weekly, s.keep_monthly), (3, 2, 6));
    assert!(matches!(
        s.encryption,
        clinicbox::ops::backup::Encryption::Passphrase(_)
    ));
    let rows: Vec<(String, String, Option<i64>, serde_json::Value)> = sqlx::query_as(
        "SELECT action, actor_type, actor_id, details FROM clinicbox_audit.audit_log
          WHERE resource_type = 'settings' AND resource_id = 'backup'",
    )
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "settings.update");
    assert_eq!(rows[0].2, Some(op.id));
    assert_eq!(rows[0].3["after"]["encryption"], "passphrase");
    assert!(
        !rows[0].3.to_string().contains(secret),
        "no passphrase in the audit log"
    );

    // Back up now: runs in the background, recorded with the operator as actor.
    let r = b.post("/backups/run", &[]).await;
    assert_eq!(r.status, 303);
    let mut done = None;
    for _ in 0..300 {
        let rows: Vec<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT outcome, actor_type, actor_id FROM clinicbox_audit.audit_log WHERE action = 'backup.create'",
        )
        .fetch_all(&app.admin)
        .await
        .unwrap();
        if let Some(r) = rows.into_iter().next() {
            done = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        done,
        Some(("success".into(), "operator".into(), Some(op.id)))
    );
    let page = b.get("/backups").await;
    assert!(page.contains("-manual.backup.tar.age"), "{}", page.body);
    assert!(page.contains("succeeded"));

    let ready: serde_json::Value = app.get(CONSOLE, "/readyz").await.json().await.unwrap();
    assert_eq!(ready["checks"]["backup"]["last_result"], "success");
    // Scheduled backups were turned off above: readiness says that too.
    assert!(
        ready["checks"]["backup"]["warning"]
            .as_str()
            .unwrap()
            .contains("turned off")
    );
    let metrics = app.get(CONSOLE, "/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("clinicbox_backup_last_success 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("clinicbox_backup_age_seconds "),
        "{metrics}"
    );
    assert!(
        metrics.contains("clinicbox_backup_last_bytes "),
        "{metrics}"
    );

    // Verify from the page: only a file of the list, in the background, with the stored
    // passphrase; the result shows on the page (and on Compliance) and is audited once.
    let file = page
        .body
        .split("data-verify=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned();
    assert!(file.ends_with("-manual.backup.tar.age"), "{}", page.body);
    assert!(
        page.contains("<dd id=\"last-verify\">never</dd>"),
        "{}",
        page.body
    );
    let r = b
        .post("/backups/verify", &[("file", "../../etc/passwd")])
        .await;
    assert_eq!(r.status, 303);
    let r = b.post("/backups/verify", &[("file", &file)]).await;
    assert_eq!(r.status, 303);
    let mut verified = None;
    for _ in 0..600 {
        let rows: Vec<(String, String, Option<i64>, String)> = sqlx::query_as(
            "SELECT outcome, actor_type, actor_id, resource_id FROM clinicbox_audit.audit_log WHERE action = 'backup.verify'",
        )
        .fetch_all(&app.admin)
        .await
        .unwrap();
        if !rows.is_empty() {
            verified = Some(rows);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        verified,
        Some(vec![(
            "success".into(),
            "operator".into(),
            Some(op.id),
            file.clone()
        )])
    );
    let page = b.get("/backups").await;
    let last = &page.body[page.body.find("id=\"last-verify\"").unwrap()..];
    assert!(
        last.starts_with("id=\"last-verify\"><span class=\"badge active\">passed"),
        "{last}"
    );
    let compliance = b.get("/compliance").await;
    let item = &compliance.body[compliance
        .body
        .find("data-safeguard=\"backup_verified\"")
        .unwrap()..];
    assert!(item.contains("data-level=\"ok\""), "{item}");
    let item = &compliance.body[compliance
        .body
        .find("data-safeguard=\"backups_encrypted\"")
        .unwrap()..];
    assert!(item.contains("data-level=\"ok\""), "{item}");
}

/// A small tmpfs mounted over a directory for the length of a test (root only), unmounted on
/// drop.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, bytes: u64) -> Option<Self> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("needs root to mount a small tmpfs: not run");
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let st = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={bytes},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs on {}", dir.display());
        Some(Self(dir.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

fn dir_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// "Back up now" on a full disk: the operator reads "No space left on device" with the file's
/// path, nothing half-written stays behind, and the failed backup leaves no connection in its
/// read-only transaction — every later request of every clinic works, writes included.
#[tokio::test]
async fn a_backup_on_a_full_disk_names_the_cause_and_leaves_nothing_behind() {
    use crate::helpers::browser::Browser;
    use crate::helpers::{CONSOLE, TestApp};
    let app = crate::helpers::spawn_app().await;
    let c = clinic(&app, "fulld", "UTC").await;
    for i in 0..40 {
        patient(&app, &c.t, &format!("Ana{i}"), "Full", None, None).await;
    }
    let backups = app.config().storage.data_dir.join("backups");
    // How much a backup takes here: dumps in the staging directory, then the archive.
    let probe = {
        let cfg = app.config();
        let ctx = clinicbox::ops::backup::Ctx {
            db: &app.db,
            config: &cfg,
            secrets: &crate::helpers::test_secrets(),
            now: chrono::Utc::now(),
        };
        clinicbox::ops::backup::create::create(
            &ctx,
            "probe",
            None,
            None,
            &clinicbox::ops::backup::Quiet,
        )
        .await
        .unwrap()
    };
    let dumps: u64 = probe.manifest.files().map(|f| f.bytes).sum();
    std::fs::remove_file(&probe.path).unwrap();

    let op = app.create_operator().await;
    let mut console = Browser::login_as(&app, CONSOLE, &op).await;
    // The dumps fit, the archive beside them does not; then not even the dumps fit.
    for size in [dumps + dumps / 2, 8 * 1024] {
        let Some(_disk) = SmallDisk::mount(&backups, size) else {
            return;
        };
        let before = app.system_audit_rows().await.len();
        assert_eq!(console.post("/backups/run", &[]).await.status, 303);
        let mut row = None;
        for _ in 0..300 {
            let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
                "SELECT outcome, details FROM clinicbox_audit.audit_log
                  WHERE action = 'backup.create' ORDER BY id OFFSET $1",
            )
            .bind(i64::try_from(before).unwrap() - 1)
            .fetch_all(&app.admin)
            .await
            .unwrap();
            if let Some(r) = rows.into_iter().find(|r| r.0 == "failure") {
                row = Some(r);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let (_, details) = row.expect("the backup did not fail");
        let error = details["error"].as_str().unwrap().to_owned();
        assert!(error.contains("No space left on device"), "{error}");
        assert!(
            error.contains(&backups.display().to_string()),
            "the error names the file: {error}"
        );
        assert!(!error.contains("read-only transaction"), "{error}");
        assert_eq!(dir_entries(&backups), Vec::<String>::new(), "left behind");
        let page = console.get("/backups").await;
        assert!(page.contains("No space left on device"), "{}", page.body);

        // Every later request works: reads and writes, sign-in (which updates the account).
        let host = TestApp::clinic_host("fulld");
        for i in 0..12 {
            let mut b = Browser::login_as(&app, &host, &c.reception).await;
            let r = b
                .api(
                    reqwest::Method::POST,
                    "/api/v1/patients",
                    Some(serde_json::json!({
                        "given_name": "Later", "family_name": format!("Write{size}x{i}"),
                        "sex": "male", "birth_date": "1990-01-01"
                    })),
                )
                .await;
            assert!(r.status.is_success(), "{} {}", r.status, r.body);
            assert_eq!(b.get("/patients?q=full").await.status, 200);
        }
    }
}

/// Every backup carries each audit log and the head of its chain: `backup verify` checks the
/// chains from the files with the installation's key, a clinic restored after its deletion gets
/// its log back, and a log emptied since the backup is caught with `audit verify --backup`.
#[tokio::test]
async fn backups_carry_the_audit_logs_and_their_heads() {
    use clinicbox::db::TenantDb;
    use clinicbox::domain::audit::{self, Actor, Context, Event};
    let s = Setup::new("").await;
    let _ = populate(&s).await;
    for slug in ["bka", "bkb"] {
        let t = clinicbox::domain::tenants::find(
            &s.tdb.db,
            &clinicbox::domain::tenants::Slug::parse(slug).unwrap(),
        )
        .await
        .unwrap();
        let mut tx = TenantDb::begin(&s.tdb.db.pool, &t.db).await.unwrap();
        for i in 0..7 {
            audit::record(
                &mut tx,
                &Context::system(chrono::Utc::now()),
                Event::new("patient.view", Actor::User(1)).patient(i),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    // Sealed (the CLI's `audit verify` seals first), then backed up.
    for slug in ["bka", "bkb"] {
        s.ok(&["audit", "verify", "--tenant", slug]);
    }
    let file = s.backup_run();
    let m =
        clinicbox::ops::backup::archive::read_manifest(&file, &clinicbox::ops::backup::Key::None)
            .unwrap();
    for c in &m.clinics {
        let a = c
            .audit
            .as_ref()
            .expect("the clinic's audit log is in the backup");
        assert_eq!(a.head.seq, 7, "{}", c.slug);
        assert_eq!(a.head.hash.len(), 32);
    }
    assert!(m.system_audit.is_some(), "the installation's log too");
    let v = s.ok(&["backup", "verify", file.to_str().unwrap()]);
    assert!(v.starts_with("OK"), "{v}");

    // Deleted and restored: the clinic's log comes back from the backup and verifies.
    s.ok(&["tenant", "delete", "bka", "--confirm", "bka"]);
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_bka_audit'")
            .fetch_one(&s.tdb.admin)
            .await
            .unwrap();
    assert_eq!(n, 0, "the log went with the clinic");
    s.ok(&[
        "backup",
        "restore",
        file.to_str().unwrap(),
        "--tenant",
        "bka",
        "--yes",
    ]);
    let out = s.ok(&[
        "audit",
        "verify",
        "--tenant",
        "bka",
        "--backup",
        file.to_str().unwrap(),
    ]);
    assert!(out.contains("OK"), "{out}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_bka_audit.audit_log")
        .fetch_one(&s.tdb.admin)
        .await
        .unwrap();
    assert!(rows >= 7, "{rows}");

    // Emptied by a superuser who also rewinds the recorded head: the backup's head says what
    // was there.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         TRUNCATE tenant_bkb_audit.audit_log, tenant_bkb_audit.audit_chain, tenant_bkb_audit.audit_pending;
         UPDATE clinicbox_audit.heads SET seq = 0, hash = '' WHERE log = 'tenant_bkb_audit';",
    )
    .execute(&s.tdb.admin)
    .await
    .unwrap();
    let o = s.cli(&[
        "audit",
        "verify",
        "--tenant",
        "bkb",
        "--backup",
        file.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stdout(&o).contains("missing from the end"),
        "{}",
        stdout(&o)
    );

    // A backup whose log was rewritten before it was taken does not verify.
    sqlx::raw_sql(
        "SET session_replication_role = replica;
         UPDATE tenant_bka_audit.audit_log SET patient_id = 99 WHERE patient_id = 3;",
    )
    .execute(&s.tdb.admin)
    .await
    .unwrap();
    let second = s.backup_run();
    let o = s.cli(&["backup", "verify", second.to_str().unwrap()]);
    assert!(!o.status.success());
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(text.contains("clinic bka's audit log: broken"), "{text}");
}
