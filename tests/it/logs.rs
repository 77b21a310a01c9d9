//! No password, token, TOTP secret, setup link or searched-for name ever reaches a log line.
//! Runs the real binary with debug logging to stderr and to JSON files, then scans both.

use std::io::Read;
use std::time::Duration;

use clinicbox::domain::auth::{Role, totp};

use crate::helpers::browser::Browser;
use crate::helpers::cli::write_config;
use crate::helpers::{TestDb, client_for, cluster_root};

#[tokio::test]
async fn secrets_and_patient_values_never_appear_in_logs() {
    let t = TestDb::new().await;
    let tenant = t.create_tenant("alpha").await;
    let doc = t.create_staff(&tenant, Role::Doctor).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = cluster_root().join(format!("logs-{}", t.name));
    let cfg = write_config(
        &dir,
        &t.url,
        &format!(
            "[log]\ndir = \"{}\"\nlevel = \"debug\"\n",
            dir.join("log").display()
        ),
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&cfg, text).unwrap();
    let mut child = std::process::Command::new(crate::helpers::cli::bin())
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let host = "alpha.clinics.test";
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client_for(addr)
            .get(format!("http://{host}:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready);
    let mut b = Browser {
        client: client_for(addr),
        origin: format!("http://{host}:{port}"),
        csrf: String::new(),
    };
    let wrong = "Zq9-wrong-password-canary";
    b.login(&doc.email, wrong).await;
    assert_eq!(b.login(&doc.email, &doc.password).await.status, 303);
    b.post("/account/mfa/start", &[]).await;
    let page = b.get("/account/mfa").await;
    let secret_b32 = page.by_id("mfa-secret").unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret_b32.as_bytes())
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let p = b
        .post(
            "/account/mfa/confirm",
            &[("code", &totp::current_code(&secret, now).unwrap())],
        )
        .await;
    assert_eq!(p.status, 200);
    let recovery = p
        .body
        .split("<li><code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let p = b
        .post(
            "/account/tokens",
            &[("name", "canary token"), ("scope", "read"), ("days", "5")],
        )
        .await;
    let token = p.by_id("new-token").unwrap();
    let me = b
        .client
        .get(format!("http://{host}:{port}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let searched = "Zebediah-Okonkwo-canary";
    b.get(&format!("/?q={searched}&name={searched}")).await;
    let setup_link = std::fs::read_to_string(dir.join("data/setup-link.txt")).unwrap();
    let setup_token = setup_link.trim().rsplit('/').next().unwrap().to_owned();
    // Opening the link is a request like any other: its path must not carry the token to the
    // log.
    let setup_page = b
        .client
        .get(format!(
            "http://{}:{port}/setup/{setup_token}",
            crate::helpers::CONSOLE
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(setup_page.status(), 200);
    let session_cookie = {
        let r = b
            .client
            .get(format!("http://{host}:{port}/login"))
            .send()
            .await
            .unwrap();
        r.headers().get("set-cookie").map(|v| {
            v.to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .split('=')
                .nth(1)
                .unwrap()
                .to_owned()
        })
    };

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking({
        let mut c = std::mem::replace(
            &mut child,
            std::process::Command::new("true").spawn().unwrap(),
        );
        move || {
            let s = c.wait().unwrap();
            let mut err = String::new();
            c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            let mut out = String::new();
            c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            (s, err + &out)
        }
    })
    .await
    .unwrap();
    let _ = child.wait();
    assert!(status.0.success());
    let mut logs = status.1;
    for f in std::fs::read_dir(dir.join("log")).unwrap().flatten() {
        logs.push_str(&std::fs::read_to_string(f.path()).unwrap());
    }
    assert!(
        logs.contains("\"status\":303") || logs.contains("status=303"),
        "logs were captured"
    );
    assert!(logs.lines().count() > 20, "{logs}");
    let mut secrets = vec![
        ("password", doc.password.clone()),
        ("wrong password", wrong.to_owned()),
        ("totp secret", secret_b32),
        ("recovery code", recovery),
        ("api token", token.clone()),
        ("token body", token[4..].to_owned()),
        ("setup token", setup_token),
        ("searched name", searched.to_owned()),
        ("csrf token", b.csrf.clone()),
    ];
    if let Some(c) = session_cookie {
        secrets.push(("session id", c));
    }
    for (what, value) in secrets {
        assert!(!value.is_empty(), "{what}");
        assert!(!logs.contains(&value), "{what} appears in the logs");
    }
}

/// The log directory's disk fills up: no half-written line is left in the file, lines that
/// did not fit are counted (stderr once, `/metrics`), and once there is room again the file
/// says how many were lost. Needs root for a small tmpfs.
#[tokio::test]
async fn a_full_log_disk_leaves_only_whole_lines_and_reports_what_was_lost() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("needs root to mount a small tmpfs: not run");
        return;
    }
    let t = TestDb::new().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = cluster_root().join(format!("logfull-{}", t.name));
    let logs = dir.join("log");
    std::fs::create_dir_all(&logs).unwrap();
    assert!(
        std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
            .arg(&logs)
            .status()
            .unwrap()
            .success()
    );
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(logs.clone());
    let cfg = write_config(
        &dir,
        &t.url,
        &format!("[log]\ndir = \"{}\"\nlevel = \"debug\"\n", logs.display()),
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&cfg, text).unwrap();
    let child = std::process::Command::new(crate::helpers::cli::bin())
        .arg("--config")
        .arg(&cfg)
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let c = client_for(addr);
    let url = |p: &str| format!("http://{}:{port}{p}", crate::helpers::CONSOLE);
    for _ in 0..100 {
        if c.get(url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Fill the disk to the last byte, then log more.
    let filler = logs.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![b'x'; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    let _ = std::io::Write::write_all(&mut f, b"x");
    for _ in 0..40 {
        assert_eq!(c.get(url("/login")).send().await.unwrap().status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = c
        .get(url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lost: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("clinicbox_log_lines_lost_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(lost >= 10.0, "{lost} lines lost");
    drop(f);
    std::fs::remove_file(&filler).unwrap();
    for _ in 0..3 {
        c.get(url("/login")).send().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("cannot write the log file").count(),
        1,
        "said once on stderr: {stderr}"
    );
    let mut notice = false;
    for e in std::fs::read_dir(&logs).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        assert!(text.ends_with('\n'), "a line was cut off");
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not whole JSON ({err}): {line}"));
            if v["fields"]["lines_lost"].as_u64().is_some_and(|n| n >= 10) {
                notice = true;
            }
        }
    }
    assert!(notice, "no line says how many were lost");
}
