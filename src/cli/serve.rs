//! `clinicbox serve`

use std::time::{Duration, Instant};

use super::{CliResult, Failed};
use crate::app::AppState;
use crate::config::{Config, TlsMode};
use crate::db::migrate::{self, Migrations};
use crate::ops::clock::SystemClock;

pub async fn run(cfg: &Config) -> CliResult {
    let _log = crate::ops::telemetry::init(&cfg.log, "info")?;
    let db = connect_with_retry(cfg, Duration::from_secs(60)).await?;
    crate::db::check_login_role(&db).await.map_err(Failed)?;
    // `serve` never migrates (postinst runs `clinicbox migrate`); it refuses a schema it
    // does not match, in either direction.
    let status = migrate::status(&db.pool, Migrations::embedded()).await?;
    if let Some(problem) = status.problem() {
        return Err(Failed(problem));
    }
    // Held for as long as this process serves: a whole-installation restore waits for it.
    let _serving = crate::db::locks::hold_shared(&db.pool.connect_options(), crate::db::locks::SERVE)
        .await?
        .ok_or_else(|| Failed("a backup restore is running on this database; start the service again when it has finished".into()))?;
    let secrets = crate::ops::secrets::Secrets::load_or_create(&cfg.storage.key_file)?;
    if let crate::ops::keycheck::KeyMatch::Mismatch { why } =
        crate::ops::keycheck::verify_or_record(
            &db.pool,
            &secrets,
            crate::ops::clock::SystemClock.now(),
        )
        .await?
    {
        return Err(Failed(crate::ops::keycheck::mismatch_message(
            &cfg.storage.key_file,
            &why,
        )));
    }
    let mut inherited = crate::ops::systemd::Inherited::from_env()
        .map_err(|e| Failed(format!("cannot use the sockets passed by systemd: {e}")))?;
    let state = AppState::new(
        cfg.clone(),
        db,
        std::sync::Arc::new(SystemClock),
        Migrations::embedded(),
        secrets,
    );
    announce_setup_link(&state).await;
    match cfg.tls.mode {
        TlsMode::Off => {
            let listener = listen(
                &mut inherited,
                "http",
                cfg.server.http_listen,
                "server.http_listen",
            )
            .await?;
            tracing::info!(addr = %cfg.server.http_listen, "serving HTTP (tls.mode = off)");
            notify_ready(&inherited);
            crate::app::serve(state, listener, shutdown()).await?;
        }
        TlsMode::Acme | TlsMode::Manual => {
            let tls = crate::tls::Tls::new(cfg.tls.mode)?;
            if cfg.tls.mode == TlsMode::Manual {
                let info = tls.load_manual(&cfg.tls)?;
                tracing::info!(
                    names = %info.names.join(","),
                    not_after = %info.not_after.format("%Y-%m-%d"),
                    "manual certificate loaded"
                );
            }
            let https = listen(
                &mut inherited,
                "https",
                cfg.server.https_listen,
                "server.https_listen",
            )
            .await?;
            let http = listen(
                &mut inherited,
                "http",
                cfg.server.http_listen,
                "server.http_listen",
            )
            .await?;
            spawn_reload_on_sighup(cfg.clone(), tls.clone());
            tracing::info!(
                https = %cfg.server.https_listen,
                http = %cfg.server.http_listen,
                mode = ?cfg.tls.mode,
                "serving HTTPS"
            );
            notify_ready(&inherited);
            crate::app::serve_tls(state, tls, http, https, shutdown()).await?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Tells systemd the service is ready (listeners bound, schema current) and starts the
/// watchdog pings; a socket passed by systemd that matched nothing is reported.
fn notify_ready(left: &crate::ops::systemd::Inherited) {
    if !left.is_empty() {
        tracing::warn!(
            "systemd passed a socket that matches no listen address in the config; it is not used"
        );
    }
    crate::ops::systemd::spawn_watchdog();
    crate::ops::systemd::ready("serving");
}

/// SIGTERM/SIGINT, telling systemd that the service is stopping.
async fn shutdown() {
    crate::ops::shutdown::signal().await;
    crate::ops::systemd::stopping();
}

/// The socket systemd passed for `name` (socket activation), or one bound here.
async fn listen(
    inherited: &mut crate::ops::systemd::Inherited,
    name: &str,
    addr: std::net::SocketAddr,
    key: &str,
) -> Result<tokio::net::TcpListener, Failed> {
    match inherited.take(name, addr) {
        Ok(Some(l)) => {
            tracing::info!(name, "using the socket passed by systemd");
            Ok(l)
        }
        Ok(None) => bind(addr, key).await,
        Err(e) => Err(Failed(format!(
            "cannot use the {name} socket passed by systemd: {e}"
        ))),
    }
}

async fn bind(addr: std::net::SocketAddr, key: &str) -> Result<tokio::net::TcpListener, Failed> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
            " (ports below 1024 need CAP_NET_BIND_SERVICE; the systemd unit grants it)"
        } else if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another program listens there: `ss -ltnp` shows which)"
        } else {
            ""
        };
        Failed(format!("cannot listen on {addr} ({key}): {e}{hint}"))
    })
}

/// SIGHUP (`systemctl reload clinicbox`): re-read the manual certificate files and look at the
/// hosts and certificates in the database again. Open connections are not touched; a file that
/// cannot be used is reported and the certificate already loaded keeps serving.
fn spawn_reload_on_sighup(cfg: Config, tls: std::sync::Arc<crate::tls::Tls>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reloading needs a restart");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            if cfg.tls.mode == TlsMode::Manual {
                match tls.load_manual(&cfg.tls) {
                    Ok(info) => tracing::info!(
                        names = %info.names.join(","),
                        not_after = %info.not_after.format("%Y-%m-%d"),
                        "manual certificate reloaded"
                    ),
                    Err(e) => {
                        tracing::error!("reload: {e}; the previous certificate keeps serving")
                    }
                }
            }
            tls.wake.notify_one();
        }
    });
}

/// At boot PostgreSQL may still be starting: retry for a while, saying so once in a while.
async fn connect_with_retry(cfg: &Config, patience: Duration) -> Result<crate::db::Db, Failed> {
    let started = Instant::now();
    let mut last_log = Instant::now() - Duration::from_secs(60);
    loop {
        match crate::db::connect(&cfg.database).await {
            Ok(db) => return Ok(db),
            Err(e) if started.elapsed() < patience => {
                if last_log.elapsed() > Duration::from_secs(10) {
                    tracing::warn!(error = %e, url = %cfg.database.url, "database not reachable yet; retrying");
                    last_log = Instant::now();
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(Failed(format!("{e} (database.url = {})", cfg.database.url))),
        }
    }
}

/// While no operator exists, writes a one-time setup link to `<data_dir>/setup-link.txt`
/// (mode 0600, read by install.sh) and shows it on a terminal. The link is a secret, so it
/// never goes to the log.
async fn announce_setup_link(state: &AppState) {
    use crate::domain::auth::setup;
    let token =
        match setup::create_token(&state.db.pool, crate::ops::clock::Clock::now(&*state.clock))
            .await
        {
            Ok(Some(t)) => t,
            Ok(None) => {
                setup::forget_link_file(&state.config.storage.data_dir);
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not create a setup link");
                return;
            }
        };
    let link = setup_link(&state.config, &token);
    let file = setup::link_file(&state.config.storage.data_dir);
    let written = std::fs::create_dir_all(&state.config.storage.data_dir)
        .and_then(|()| {
            let _ = std::fs::remove_file(&file);
            crate::ops::pgtools::create_private_file(&file)
        })
        .and_then(|()| std::fs::write(&file, format!("{link}\n")));
    match written {
        Ok(()) => tracing::warn!(
            file = %file.display(),
            "no operator account exists yet: open the one-time setup link stored in this file (valid 24 h)"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "no operator account exists and the setup link could not be saved; run `clinicbox operator setup-link`")
        }
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        say!("Create the first operator account: {link}");
    }
}

/// The console URL of a setup token.
pub fn setup_link(cfg: &Config, token: &str) -> String {
    cfg.url_of(cfg.server.console_host.as_str(), &format!("/setup/{token}"))
}
