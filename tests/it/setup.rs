//! The first operator: a single-use, expiring setup link; and `clinicbox operator add`.

use chrono::Duration;
use clinicbox::domain::auth::setup;
use clinicbox::ops::clock::Clock;
use reqwest::StatusCode;

use crate::helpers::browser::Browser;
use crate::helpers::cli::{run, stderr, stdout, write_config};
use crate::helpers::{CONSOLE, cluster_root, spawn_app};

#[tokio::test]
async fn the_setup_link_creates_the_first_operator_once() {
    let app = spawn_app().await;
    let token = setup::create_token(&app.db.pool, app.clock.now())
        .await
        .unwrap()
        .unwrap();
    let path = format!("/setup/{token}");
    let mut b = Browser::new(&app, CONSOLE);
    assert_eq!(
        b.get("/").await.status,
        StatusCode::SEE_OTHER,
        "console needs sign-in"
    );
    let p = b.get(&path).await;
    assert_eq!(p.status, 200);

    // A weak password is refused and the link stays valid.
    let p = b
        .post(
            &path,
            &[
                ("display_name", "Ops"),
                ("email", "ops@example.org"),
                ("password", "password1234"),
                ("confirm", "password1234"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.contains("leaked in data breaches"), "{}", p.body);
    let p = b
        .post(
            &path,
            &[
                ("display_name", "Ops"),
                ("email", "ops@example.org"),
                ("password", "ops@example.org1"),
                ("confirm", "ops@example.org1"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.contains("too easy to guess"), "{}", p.body);
    let p = b
        .post(
            &path,
            &[
                ("display_name", "Ops"),
                ("email", "ops@example.org"),
                ("password", "granite-meadow-violin-31"),
                ("confirm", "granite-meadow-violin-31"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.contains("Clinics"));
    // The page's own name, then the site's: not "System console · System console".
    assert!(
        home.contains("<title>Dashboard · System console</title>"),
        "{}",
        home.body
    );

    // Single use; and no further links once an operator exists.
    let mut other = Browser::new(&app, CONSOLE);
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    assert!(
        setup::create_token(&app.db.pool, app.clock.now())
            .await
            .unwrap()
            .is_none()
    );
    let rows = app.system_audit_rows().await;
    assert!(rows.iter().any(|r| r.0 == "operator.create"));
    assert!(
        rows.iter()
            .any(|r| r.0 == "auth.login" || r.0 == "operator.create")
    );
}

#[tokio::test]
async fn setup_links_expire() {
    let app = spawn_app().await;
    let token = setup::create_token(&app.db.pool, app.clock.now())
        .await
        .unwrap()
        .unwrap();
    app.clock.advance(Duration::hours(25));
    let mut b = Browser::new(&app, CONSOLE);
    assert_eq!(
        b.get(&format!("/setup/{token}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/setup/not-a-token").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn operator_and_user_commands() {
    let app = spawn_app().await;
    let dir = cluster_root().join(format!("ops-{}", app.name));
    let cfg = write_config(&dir, &app.url, "");
    let o = run(&cfg, &["operator", "setup-link"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The test config listens on port 0, which the link faithfully shows.
    assert!(
        stdout(&o).starts_with("http://admin.clinics.test:0/setup/"),
        "{}",
        stdout(&o)
    );

    std::fs::create_dir_all(&dir).unwrap();
    let pwfile = dir.join("pw");
    std::fs::write(&pwfile, "granite-meadow-violin-31\n").unwrap();
    let o = run(
        &cfg,
        &[
            "operator",
            "add",
            "--email",
            "Root@Example.org",
            "--password-file",
            pwfile.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&cfg, &["operator", "setup-link"]);
    assert_eq!(o.status.code(), Some(1));
    std::fs::write(&pwfile, "short\n").unwrap();
    let o = run(
        &cfg,
        &[
            "operator",
            "reset-password",
            "--email",
            "root@example.org",
            "--password-file",
            pwfile.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("at least 12"), "{}", stderr(&o));
    let o = run(&cfg, &["operator", "add", "--email", "x@example.org"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--password-file"));

    app.create_tenant("alpha").await;
    let o = run(
        &cfg,
        &[
            "user",
            "add",
            "--tenant",
            "alpha",
            "--email",
            "nurse@alpha.org",
            "--role",
            "nurse",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let temp = stdout(&o)
        .lines()
        .find(|l| l.contains("temporary password"))
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let o = run(
        &cfg,
        &[
            "user",
            "add",
            "--tenant",
            "alpha",
            "--email",
            "nurse@alpha.org",
            "--role",
            "nurse",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"));
    let o = run(
        &cfg,
        &[
            "user",
            "add",
            "--tenant",
            "alpha",
            "--email",
            "x@alpha.org",
            "--role",
            "surgeon",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown role"));

    let mut b = Browser::new(&app, "alpha.clinics.test");
    for _ in 0..5 {
        b.login("nurse@alpha.org", "wrong wrong wrong").await;
    }
    assert_eq!(
        b.login("nurse@alpha.org", &temp).await.status,
        422,
        "locked"
    );
    let o = run(
        &cfg,
        &[
            "user",
            "unlock",
            "--tenant",
            "alpha",
            "--email",
            "nurse@alpha.org",
        ],
    );
    assert!(o.status.success());
    assert_eq!(
        b.login("nurse@alpha.org", &temp).await.status,
        StatusCode::SEE_OTHER
    );
    let o = run(
        &cfg,
        &[
            "user",
            "disable",
            "--tenant",
            "alpha",
            "--email",
            "nurse@alpha.org",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(b.get("/").await.status, StatusCode::SEE_OTHER, "signed out");
    let o = run(&cfg, &["user", "list", "--tenant", "alpha"]);
    assert!(stdout(&o).contains("disabled"));
    let t = clinicbox::domain::tenants::find(
        &app.db,
        &clinicbox::domain::tenants::Slug::parse("alpha").unwrap(),
    )
    .await
    .unwrap();
    let actions: Vec<String> = app
        .audit_rows(&t)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect();
    for a in ["user.create", "user.unlock", "user.update", "auth.locked"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}
