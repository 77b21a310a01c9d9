//! The systemd contract on the real binary, without systemd as PID 1: socket activation
//! (`systemd-socket-activate` passes a bound socket via LISTEN_FDS), `READY=1` on the notify
//! socket once serving, watchdog pings, `STOPPING=1` on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestDb;
use crate::helpers::cli::{bin, write_config};

fn messages(sock: &UnixDatagram, until: Duration, want: &str) -> Vec<String> {
    let deadline = Instant::now() + until;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = m.contains(want);
            got.push(m);
            if done {
                break;
            }
        }
    }
    got
}

#[tokio::test]
async fn socket_activation_readiness_watchdog_and_stopping() {
    if which("systemd-socket-activate").is_none() {
        // .ci/run installs systemd; say so rather than pass silently.
        panic!("systemd-socket-activate is missing: apt-get install systemd");
    }
    let tdb = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = write_config(dir.path(), &tdb.url, "");
    let cfg_text = std::fs::read_to_string(&cfg).unwrap().replace(
        "http_listen = \"127.0.0.1:0\"",
        &format!("http_listen = \"127.0.0.1:{port}\""),
    );
    std::fs::write(&cfg, cfg_text).unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    // sh keeps the PID through exec, so WATCHDOG_PID=$$ names the server process.
    let script = format!(
        "WATCHDOG_PID=$$ WATCHDOG_USEC=400000 exec {} --config {} serve",
        bin().display(),
        cfg.display()
    );
    let mut child = tokio::process::Command::new("systemd-socket-activate")
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
        .arg("--setenv=PATH=/usr/bin:/bin")
        .args(["/bin/sh", "-c", &script])
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    // systemd-socket-activate holds the socket; the first connection starts the server,
    // which finds the socket already bound and serves this very connection.
    let mut conn = None;
    for _ in 0..50 {
        if let Ok(c) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            conn = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut conn = conn.expect("socket-activate listens");
    conn.write_all(
        b"GET /healthz HTTP/1.1\r\nHost: admin.clinics.test\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut resp = String::new();
    tokio::time::timeout(Duration::from_secs(60), conn.read_to_string(&mut resp))
        .await
        .expect("answer")
        .unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    let got = tokio::task::spawn_blocking(move || {
        let mut got = messages(&notify, Duration::from_secs(30), "READY=1");
        // Pings at half the 400 ms interval.
        got.extend(messages(&notify, Duration::from_secs(3), "WATCHDOG=1"));
        (notify, got)
    })
    .await
    .unwrap();
    let (notify, got) = got;
    assert!(got.iter().any(|m| m.contains("READY=1")), "{got:?}");
    assert!(got.iter().any(|m| m.contains("WATCHDOG=1")), "{got:?}");

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let stopping = tokio::task::spawn_blocking(move || {
        messages(&notify, Duration::from_secs(10), "STOPPING=1")
    })
    .await
    .unwrap();
    assert!(
        stopping.iter().any(|m| m.contains("STOPPING=1")),
        "{stopping:?}"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    assert!(log.contains("using the socket passed by systemd"), "{log}");
    assert!(log.contains("systemd watchdog on"), "{log}");
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}
