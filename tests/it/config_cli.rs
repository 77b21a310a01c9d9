//! The real binary: bad config and bad arguments fail clearly and create nothing; the clinic
//! lifecycle commands; `serve` starts, answers and stops on SIGTERM.

use std::time::Duration;

use crate::helpers::cli::{run, run_env, stderr, stdout, write_config};
use crate::helpers::{TestDb, cluster_root};

fn dir_for(t: &TestDb, what: &str) -> std::path::PathBuf {
    cluster_root().join(format!("cli-{}-{what}", t.name))
}

async fn tenant_count(t: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM clinicbox.tenants")
        .fetch_one(&t.admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn unknown_config_key_is_named_with_the_file() {
    let t = TestDb::new().await;
    let cfg = write_config(&dir_for(&t, "unknown"), &t.url, "[log]\nkeep_dayz = 3\n");
    let o = run(&cfg, &["tenant", "list"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("keep_dayz") && e.contains(&cfg.display().to_string()),
        "{e}"
    );
}

#[tokio::test]
async fn bad_database_url_is_named() {
    let t = TestDb::new().await;
    let cfg = write_config(&dir_for(&t, "badurl"), "mysql://x@y/z", "");
    let o = run(&cfg, &["tenant", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("database.url"), "{}", stderr(&o));
    // The same mistake through the environment names the variable.
    let cfg = write_config(&dir_for(&t, "badurl-env"), &t.url, "");
    let o = run_env(
        &cfg,
        &["tenant", "list"],
        &[("CLINICBOX_DATABASE_URL", "not a url")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("CLINICBOX_DATABASE_URL"),
        "{}",
        stderr(&o)
    );
}

#[tokio::test]
async fn missing_config_file_says_what_to_do() {
    let o = run(
        std::path::Path::new("/nonexistent/clinicbox.toml"),
        &["migrate"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[tokio::test]
async fn bad_slug_and_bad_host_are_refused_before_anything_is_created() {
    let t = TestDb::new().await;
    let cfg = write_config(&dir_for(&t, "slug"), &t.url, "");
    let o = run(&cfg, &["tenant", "create", "Bad_Slug", "--name", "X"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("slug"), "{}", stderr(&o));
    let o = run(
        &cfg,
        &[
            "tenant",
            "create",
            "good",
            "--name",
            "X",
            "--host",
            "https://x.org/",
        ],
    );
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("hostname"), "{}", stderr(&o));
    assert_eq!(tenant_count(&t).await, 0);
}

#[tokio::test]
async fn duplicate_hostname_via_cli_creates_nothing() {
    let t = TestDb::new().await;
    let cfg = write_config(&dir_for(&t, "dup"), &t.url, "");
    let o = run(
        &cfg,
        &[
            "tenant",
            "create",
            "alpha",
            "--name",
            "Alpha",
            "--host",
            "portal.example.org",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("alpha.clinics.test"));
    let o = run(
        &cfg,
        &[
            "tenant",
            "create",
            "bravo",
            "--name",
            "Bravo",
            "--host",
            "portal.example.org",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("portal.example.org is already used by clinic 'alpha'"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tenant_count(&t).await, 1);
    let schemas: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_bravo'")
            .fetch_one(&t.admin)
            .await
            .unwrap();
    assert_eq!(schemas, 0);
}

#[tokio::test]
async fn tenant_lifecycle_through_the_cli() {
    let t = TestDb::new().await;
    let dir = dir_for(&t, "life");
    let cfg = write_config(&dir, &t.url, "");
    let o = run(
        &cfg,
        &["tenant", "create", "alpha", "--name", "Alpha Clinic"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Ready to book on day one: appointment types and opening hours, and a doctor added then
    // works those hours.
    assert!(stdout(&o).contains("ready to book"), "{}", stdout(&o));
    let count = |sql: &'static str| {
        let admin = t.admin.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&admin)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM tenant_alpha.appointment_types WHERE active").await,
        2
    );
    assert_eq!(
        count("SELECT count(*) FROM tenant_alpha.clinic_hours").await,
        6
    );
    let o = run(
        &cfg,
        &[
            "user",
            "add",
            "--tenant",
            "alpha",
            "--email",
            "dr@alpha.test",
            "--role",
            "doctor",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        count(
            "SELECT count(*) FROM tenant_alpha.provider_hours h JOIN tenant_alpha.users u
                ON u.id = h.provider_id WHERE u.email = 'dr@alpha.test'"
        )
        .await,
        6
    );

    let o = run(&cfg, &["tenant", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(list[0]["slug"], "alpha");
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["hosts"][0], "alpha.clinics.test");

    assert!(run(&cfg, &["tenant", "suspend", "alpha"]).status.success());
    let o = run(&cfg, &["tenant", "show", "alpha", "--json"]);
    let show: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(show["status"], "suspended");
    assert!(run(&cfg, &["tenant", "resume", "alpha"]).status.success());

    let o = run(&cfg, &["tenant", "delete", "alpha", "--confirm", "alpah"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--confirm"));
    assert_eq!(tenant_count(&t).await, 1);

    let o = run(&cfg, &["tenant", "delete", "alpha", "--confirm", "alpha"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("deleted"));
    assert_eq!(tenant_count(&t).await, 0);
    let dumps: Vec<_> = std::fs::read_dir(dir.join("data/deleted"))
        .unwrap()
        .collect();
    assert_eq!(dumps.len(), 1);

    let o = run(&cfg, &["tenant", "show", "alpha"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no clinic"));
}

#[tokio::test]
async fn migrate_reports_and_serve_refuses_an_outdated_schema() {
    let t = TestDb::new().await;
    let cfg = write_config(&dir_for(&t, "mig"), &t.url, "");
    // Make one clinic look outdated, as after installing a newer release.
    t.create_tenant("alpha").await;
    sqlx::query("UPDATE clinicbox.tenants SET schema_version = 0")
        .execute(&t.admin)
        .await
        .unwrap();
    let role: String =
        sqlx::query_scalar("SELECT db_role FROM clinicbox.tenants WHERE slug = 'alpha'")
            .fetch_one(&t.admin)
            .await
            .unwrap();
    sqlx::raw_sql(&format!(
        "DROP SCHEMA tenant_alpha CASCADE; CREATE SCHEMA tenant_alpha AUTHORIZATION {role}"
    ))
    .execute(&t.admin)
    .await
    .unwrap();

    let o = run(&cfg, &["serve"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("clinicbox migrate"), "{}", stderr(&o));

    let o = run(&cfg, &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 upgraded, 0 failed"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test]
async fn serve_answers_and_stops_on_sigterm() {
    let t = TestDb::new().await;
    t.create_tenant("alpha").await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = dir_for(&t, "serve");
    let cfg = write_config(
        &dir,
        &t.url,
        &format!("[log]\ndir = \"{}\"\n", dir.join("log").display()),
    );
    let cfg_text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&cfg, cfg_text).unwrap();
    let mut child = std::process::Command::new(crate::helpers::cli::bin())
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = crate::helpers::client_for(format!("127.0.0.1:{port}").parse().unwrap());
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://alpha.clinics.test:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "serve did not become ready");
    let page = client
        .get(format!("http://alpha.clinics.test:{port}/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    // The JSON log file exists and holds the request line, with no query strings.
    let logs: Vec<_> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(logs.len(), 1);
    let text = std::fs::read_to_string(logs[0].path()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"path\":\"/login\""))
        .expect("request logged");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["fields"]["status"], 200);
}

/// `clinicbox tenant list | head -1`: the reader goes away, the command neither panics nor stops
/// its work half-way.
#[tokio::test]
async fn output_into_a_closed_pipe_is_not_a_crash() {
    let t = TestDb::new().await;
    for i in 0..3 {
        t.create_tenant(&format!("pipe{i}")).await;
    }
    let cfg = write_config(&dir_for(&t, "pipe"), &t.url, "");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = std::process::Command::new(crate::helpers::cli::bin())
        .arg("--config")
        .arg(&cfg)
        .args(["tenant", "list"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(o.status.code(), Some(0), "{e}");
}

/// Plan limits meet staff in the same words wherever an account is added: set on the command
/// line, refused by `user add` once reached, with bad values refused and nothing changed.
#[tokio::test]
async fn plan_limits_through_the_cli() {
    let t = TestDb::new().await;
    let dir = dir_for(&t, "plan");
    let cfg = write_config(&dir, &t.url, "");
    assert!(
        run(&cfg, &["tenant", "create", "alpha", "--name", "Alpha"])
            .status
            .success()
    );
    let o = run(&cfg, &["tenant", "limits", "alpha", "--staff", "0"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--staff: Enter a whole number from 1 to 10000"),
        "{}",
        stderr(&o)
    );
    let o = run(&cfg, &["tenant", "limits", "alpha"]);
    assert!(
        stdout(&o).contains("staff accounts in use: no limit"),
        "{}",
        stdout(&o)
    );
    let o = run(
        &cfg,
        &[
            "tenant",
            "limits",
            "alpha",
            "--staff",
            "1",
            "--documents-mb",
            "5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("staff accounts in use: 1"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&o).contains("document storage:      5 MB"),
        "{}",
        stdout(&o)
    );
    let add = |email: &str| {
        run(
            &cfg,
            &[
                "user", "add", "--tenant", "alpha", "--email", email, "--role", "doctor",
            ],
        )
    };
    assert!(add("one@alpha.test").status.success());
    let o = add("two@alpha.test");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("plan allows 1 staff accounts in use"),
        "{}",
        stderr(&o)
    );
    let o = run(&cfg, &["tenant", "limits", "alpha", "--staff", "none"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(add("two@alpha.test").status.success());
}
