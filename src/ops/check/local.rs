//! Checks run on the server itself: configuration, secret key, database and its role,
//! migrations, clock, listeners, DNS, certificates, disk space, backups and the PostgreSQL
//! client tools backups need.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::Report;
use crate::config::{Config, TlsMode};
use crate::db::Db;
use crate::db::migrate::{self, Migrations};

pub struct Options<'a> {
    pub config_path: &'a Path,
    /// Ask each host over HTTP whether it reaches this server (needs the service running).
    pub dns: bool,
}

pub async fn run(cfg: &Config, opts: &Options<'_>) -> Report {
    let mut r = Report::default();
    r.ok("config", format!("{} is valid", opts.config_path.display()));
    key_file(&mut r, &cfg.storage.key_file);
    data_dir(&mut r, cfg);
    pg_tools(&mut r);

    let db = match tokio::time::timeout(Duration::from_secs(10), crate::db::connect(&cfg.database))
        .await
    {
        Ok(Ok(db)) => {
            r.ok("database", format!("connected to {}", cfg.database.url));
            db
        }
        Ok(Err(e)) => {
            r.fail(
                "database",
                format!(
                    "{e} (database.url = {}); is PostgreSQL running? `systemctl status postgresql`",
                    cfg.database.url
                ),
            );
            return r;
        }
        Err(_) => {
            r.fail(
                "database",
                format!("no answer within 10 s from {}", cfg.database.url),
            );
            return r;
        }
    };
    role(&mut r, &db).await;
    migrations(&mut r, &db).await;
    key_matches(&mut r, cfg, &db).await;
    clock(&mut r, &db).await;
    let listening = listeners(&mut r, cfg).await;
    certificates(&mut r, cfg, &db, listening && opts.dns).await;
    disk(&mut r, cfg);
    backups(&mut r, &db).await;
    r
}

fn key_file(r: &mut Report, path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o007 != 0 => r.fail(
            "secret key",
            format!(
                "{} is readable by every user: `chmod 0640 {}`",
                path.display(),
                path.display()
            ),
        ),
        Ok(_) => r.ok("secret key", format!("{} present, not world-readable", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => r.warn(
            "secret key",
            format!(
                "{} does not exist yet; `clinicbox serve` creates it. Keep a copy: encrypted TLS keys and MFA secrets need it",
                path.display()
            ),
        ),
        Err(e) => r.fail("secret key", format!("{}: {e}", path.display())),
    }
}

/// The key must be the one the database's secrets were sealed with.
async fn key_matches(r: &mut Report, cfg: &Config, db: &Db) {
    let Ok(secrets) = crate::ops::secrets::Secrets::load(&cfg.storage.key_file) else {
        return; // reported by `key_file`
    };
    match crate::ops::keycheck::inspect(&db.pool, &secrets).await {
        Ok(Some(crate::ops::keycheck::KeyMatch::Mismatch { why })) => r.fail(
            "secret key matches",
            crate::ops::keycheck::mismatch_message(&cfg.storage.key_file, &why),
        ),
        Ok(_) => r.ok(
            "secret key matches",
            "the secrets stored in the database open with this key".to_owned(),
        ),
        Err(e) => r.warn("secret key matches", format!("cannot tell: {e}")),
    }
}

fn data_dir(r: &mut Report, cfg: &Config) {
    let d = &cfg.storage.data_dir;
    match std::fs::metadata(d) {
        Ok(m) if m.is_dir() => r.ok("data directory", d.display().to_string()),
        Ok(_) => r.fail(
            "data directory",
            format!("{} is not a directory", d.display()),
        ),
        Err(e) => r.fail(
            "data directory",
            format!("{}: {e} (storage.data_dir)", d.display()),
        ),
    }
}

fn pg_tools(r: &mut Report) {
    match (
        crate::ops::pgtools::find("pg_dump"),
        crate::ops::pgtools::find("pg_restore"),
    ) {
        (Ok(d), Ok(_)) => r.ok("pg_dump", format!("{} (backups)", d.display())),
        (Err(e), _) | (_, Err(e)) => r.fail(
            "pg_dump",
            format!("{e}; backups need it: `apt-get install postgresql-client`"),
        ),
    }
}

async fn role(r: &mut Report, db: &Db) {
    if let Err(e) = crate::db::check_login_role(db).await {
        r.fail("database role", e);
        return;
    }
    let createdb: bool = sqlx::query_scalar!(
        r#"SELECT rolcreatedb AS "createdb!" FROM pg_roles WHERE rolname = current_user"#
    )
    .fetch_one(&db.pool)
    .await
    .unwrap_or(false);
    let role = db.login_role.as_str();
    if createdb {
        r.ok(
            "database role",
            format!("{role}: NOINHERIT, CREATEDB, neither CREATEROLE nor superuser; database setup in place"),
        );
    } else {
        r.warn(
            "database role",
            format!("{role} lacks CREATEDB, so `backup verify` cannot restore into a scratch database: `ALTER ROLE {role} CREATEDB;`"),
        );
    }
}

async fn migrations(r: &mut Report, db: &Db) {
    match migrate::status(&db.pool, Migrations::embedded()).await {
        Ok(s) => match s.problem() {
            Some(p) => r.fail("migrations", p),
            None => r.ok(
                "migrations",
                format!(
                    "control schema at version {}, every clinic at version {}",
                    s.control_version,
                    Migrations::embedded().latest_tenant()
                ),
            ),
        },
        Err(e) => r.fail("migrations", e.to_string()),
    }
}

async fn clock(r: &mut Report, db: &Db) {
    let before = crate::ops::clock::SystemClock.now();
    let Ok(db_now) = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(&db.pool)
        .await
    else {
        r.warn("clock", "cannot read the database server's time");
        return;
    };
    let after = crate::ops::clock::SystemClock.now();
    let local = before + (after - before) / 2;
    let skew = (db_now - local).num_milliseconds().abs();
    if skew > 5_000 {
        r.warn(
            "clock",
            format!("this machine and the database server disagree by {:.1} s; enable NTP (`timedatectl set-ntp true`): sessions, MFA codes and certificates depend on time", skew as f64 / 1000.0),
        );
    } else {
        r.ok(
            "clock",
            format!("agrees with the database server ({skew} ms)"),
        );
    }
}

fn loopback_for(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// Whether the service's ports accept connections (it is running).
async fn listeners(r: &mut Report, cfg: &Config) -> bool {
    let mut addrs = vec![("http", cfg.server.http_listen)];
    if cfg.tls.mode != TlsMode::Off {
        addrs.push(("https", cfg.server.https_listen));
    }
    let mut all = true;
    for (name, addr) in addrs {
        let target = loopback_for(addr);
        match tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect(target),
        )
        .await
        {
            Ok(Ok(_)) => r.ok(
                &format!("listener {name}"),
                format!("{addr} accepts connections"),
            ),
            _ => {
                all = false;
                r.warn(
                    &format!("listener {name}"),
                    format!("nothing answers on {addr}: is the service running? `systemctl status clinicbox`"),
                );
            }
        }
    }
    all
}

async fn certificates(r: &mut Report, cfg: &Config, db: &Db, probe_dns: bool) {
    let now = crate::ops::clock::SystemClock.now();
    let rules = cfg.server.host_rules();
    match cfg.tls.mode {
        TlsMode::Off => r.ok(
            "certificates",
            "tls.mode = \"off\": HTTPS is terminated by the proxy in front",
        ),
        TlsMode::Manual => {
            // The same loading the server does: chain, key, and that they belong together.
            match crate::tls::Tls::new(TlsMode::Manual)
                .map_err(|e| e.to_string())
                .and_then(|t| t.load_manual(&cfg.tls).map_err(|e| e.to_string()))
            {
                Ok(i) => expiry(
                    r,
                    &i.names.join(","),
                    (i.not_after - now).num_hours() as f64 / 24.0,
                ),
                Err(e) => r.fail("certificates", e),
            }
        }
        TlsMode::Acme => {
            let rows = match crate::tls::status::collect(db, &rules, now).await {
                Ok(rows) => rows,
                Err(e) => {
                    r.fail("certificates", e.to_string());
                    return;
                }
            };
            for h in &rows {
                match h.days_left {
                    Some(d) if h.issuer.is_some() => expiry(r, &h.host, d),
                    _ => r.warn(
                        &format!("certificate {}", h.host),
                        format!(
                            "pending (a temporary self-signed certificate is served){}",
                            h.last_error
                                .as_deref()
                                .map(|e| format!(": {e}"))
                                .unwrap_or_default()
                        ),
                    ),
                }
            }
            if probe_dns {
                dns(r, db, cfg, rows.iter().map(|h| h.host.as_str())).await;
            }
        }
    }
}

fn expiry(r: &mut Report, host: &str, days: f64) {
    let name = format!("certificate {host}");
    if days < 0.0 {
        r.fail(&name, format!("expired {:.0} day(s) ago", -days));
    } else if days < 14.0 {
        r.warn(&name, format!("expires in {days:.0} day(s); renewal should have happened by now: `clinicbox cert status`"));
    } else {
        r.ok(&name, format!("valid for {days:.0} more days"));
    }
}

async fn dns<'a>(r: &mut Report, db: &Db, cfg: &Config, hosts: impl Iterator<Item = &'a str>) {
    let pre = match crate::tls::preflight::Preflight::new(None, cfg.server.http_listen.port()) {
        Ok(p) => p,
        Err(e) => {
            r.warn("dns", e);
            return;
        }
    };
    for host in hosts.take(50) {
        let name = format!("dns {host}");
        match pre.check(&db.pool, host).await {
            Ok(crate::tls::preflight::Verdict::Reaches) => r.ok(&name, "resolves to this server"),
            Ok(crate::tls::preflight::Verdict::Unreachable(why)) => r.warn(
                &name,
                format!("resolves, but port 80 did not answer from here ({why}); check the firewall (`ufw allow 80,443/tcp`) or the cloud provider's security group"),
            ),
            Err(e) => r.fail(&name, e),
        }
    }
}

/// Free space where clinicbox writes: data (documents, backups) and logs, once per filesystem.
fn disk(r: &mut Report, cfg: &Config) {
    let mut dirs = vec![
        cfg.storage.data_dir.clone(),
        crate::ops::backup::backups_dir(cfg),
    ];
    if let Some(d) = &cfg.log.dir {
        dirs.push(d.clone());
    }
    let mut seen = Vec::new();
    for dir in dirs.iter().filter(|d| d.exists()) {
        match nix::sys::statvfs::statvfs(dir.as_path()) {
            Ok(s) => {
                if seen.contains(&s.filesystem_id()) {
                    continue;
                }
                seen.push(s.filesystem_id());
                let free = u128::from(s.blocks_available()) * u128::from(s.fragment_size());
                let total = u128::from(s.blocks()) * u128::from(s.fragment_size());
                let pct = (free * 100).checked_div(total).unwrap_or(0);
                let detail = format!(
                    "{} free on {} ({pct}%)",
                    crate::ops::backup::human_bytes(u64::try_from(free).unwrap_or(u64::MAX)),
                    dir.display()
                );
                if free < 500 * 1024 * 1024 {
                    r.fail("disk", format!("{detail}: backups and PostgreSQL will fail soon; free space or keep fewer backups (console → Backups)"));
                } else if pct < 10 || free < 2 * 1024 * 1024 * 1024 {
                    r.warn("disk", format!("{detail}: running low"));
                } else {
                    r.ok("disk", detail);
                }
            }
            Err(e) => r.warn("disk", format!("{}: {e}", dir.display())),
        }
    }
}

async fn backups(r: &mut Report, db: &Db) {
    match crate::ops::backup::status(&db.pool, crate::ops::clock::SystemClock.now()).await {
        Ok(s) => match (&s.warning, &s.last_success) {
            (Some(w), _) => r.warn("backups", w.clone()),
            (None, Some(l)) => r.ok(
                "backups",
                format!(
                    "last successful backup {} hours ago ({})",
                    s.age_seconds.unwrap_or_default() / 3600,
                    l.file.as_deref().unwrap_or("")
                ),
            ),
            (None, None) => r.warn("backups", "no backup yet"),
        },
        Err(e) => r.warn("backups", e.to_string()),
    }
}
