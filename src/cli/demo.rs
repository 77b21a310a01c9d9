//! `clinicbox demo`: the embedded default. A private PostgreSQL cluster under
//! `./.clinicbox-demo/`, two sample clinics, plain HTTP on 127.0.0.1:8080.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;

use super::{CliResult, Failed};
use crate::app::AppState;
use crate::config::{
    Config, DatabaseConfig, DatabaseUrl, LogConfig, ServerConfig, StorageConfig, TlsConfig, TlsMode,
};
use crate::db::migrate::{self, Migrations};
use crate::domain::tenants::{self, DisplayName, Hostname, Ident, NewTenant, Slug};
use crate::ops::clock::SystemClock;
use crate::ops::pgcluster::{ClusterError, ClusterOptions, PgCluster, provision_app_database};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its PostgreSQL cluster and files.
    #[arg(long, default_value = ".clinicbox-demo")]
    pub dir: PathBuf,
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

const APP_ROLE: &str = "clinicbox";
const APP_DB: &str = "clinicbox";

pub async fn run(args: DemoArgs) -> CliResult {
    let _log = crate::ops::telemetry::init(&LogConfig::default(), "info")?;
    let dir = absolute(&args.dir)?;
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| {
        Failed(format!(
            "cannot listen on {}: {e}; is another demo running? Pass --listen 127.0.0.1:8081 to use another port",
            args.listen
        ))
    })?;
    let mut cluster = start_cluster(&dir).await?;
    let result = serve_demo(&cluster, &dir, args.listen, listener).await;
    say!("stopping PostgreSQL…");
    let stopped = tokio::task::spawn_blocking(move || cluster.stop()).await;
    match (result, stopped) {
        (Err(e), _) => Err(e),
        (Ok(()), Ok(Err(e))) => Err(Failed(e.to_string())),
        (Ok(()), _) => {
            say!(
                "demo stopped; its data stays in {} for next time",
                dir.display()
            );
            Ok(())
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf, Failed> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

async fn start_cluster(dir: &Path) -> Result<PgCluster, Failed> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut cluster = match PgCluster::new(&dir.join("pg"), ClusterOptions::default()) {
            Err(ClusterError::Unreachable(_)) => {
                // As root in a private directory (e.g. /root), the postgres user cannot enter it.
                let alt = fallback_dir(&dir);
                say!(
                    "note: the postgres system user cannot reach {}; keeping the demo database in {} instead",
                    dir.display(),
                    alt.display()
                );
                PgCluster::new(&alt, ClusterOptions::default())?
            }
            other => other?,
        };
        if cluster.init_if_needed()? {
            say!("created a PostgreSQL cluster in {}", cluster.root().display());
        }
        cluster.start()?;
        Ok::<_, Failed>(cluster)
    })
    .await?
}

fn fallback_dir(dir: &Path) -> PathBuf {
    use sha2::Digest;
    let h = sha2::Sha256::digest(dir.as_os_str().as_encoded_bytes());
    PathBuf::from(format!("/var/tmp/clinicbox-demo-{}", hex::encode(&h[..6])))
}

async fn serve_demo(
    cluster: &PgCluster,
    dir: &Path,
    listen: SocketAddr,
    listener: tokio::net::TcpListener,
) -> CliResult {
    let su = crate::db::pool_options(2)
        .connect(&cluster.superuser_url("postgres"))
        .await?;
    provision_app_database(&su, &Ident::parse(APP_ROLE)?, &Ident::parse(APP_DB)?).await?;
    su.close().await;

    let url = DatabaseUrl::parse(&cluster.url(APP_ROLE, APP_DB)).map_err(Failed)?;
    let cfg = demo_config(url, dir, listen)?;
    let db = super::connect(&cfg).await?;
    let report = migrate::run(&db, Migrations::embedded(), 4, &migrate::NoProgress).await?;
    if !report.tenants_failed.is_empty() {
        return Err(Failed(format!(
            "demo clinics failed to migrate: {:?}",
            report.tenants_failed
        )));
    }
    let clock = Arc::new(SystemClock);
    let rules = cfg.server.host_rules();
    for (slug, name) in [
        ("demo", "Demo Polyclinic"),
        ("sample", "Sample Family Clinic"),
    ] {
        let slug = Slug::parse(slug)?;
        if tenants::find(&db, &slug).await.is_ok() {
            continue;
        }
        tenants::create(
            &db,
            Migrations::embedded(),
            &rules,
            NewTenant {
                slug,
                name: DisplayName::parse(name)?,
                hosts: vec![],
            },
            clock.now(),
        )
        .await?;
    }

    let secrets = crate::ops::secrets::Secrets::load_or_create(&cfg.storage.key_file)?;
    seed_accounts(&db, clock.now()).await?;
    for (slug, tz) in [("demo", "Asia/Kathmandu"), ("sample", "Europe/Lisbon")] {
        let t = tenants::find(&db, &Slug::parse(slug)?).await?;
        let store = crate::domain::documents::LocalStore::new(
            &crate::ops::backup::documents_dir(&cfg),
            &cfg.storage.incoming_dir(),
            slug,
        );
        if crate::ops::seed::demo_clinic(&db, &t, tz, clock.now(), &store)
            .await
            .map_err(|e| Failed(format!("demo data for {slug}: {e}")))?
        {
            say!("filled clinic {slug} with sample patients and a week of appointments");
            if slug == "demo" {
                demo_logo(&db, &t).await?;
            }
        }
    }

    let port = listen.port();
    say!();
    say!("ClinicBox demo is running (Ctrl-C stops it).");
    say!("  clinic:   http://demo.localhost:{port}/");
    say!("  clinic 2: http://sample.localhost:{port}/");
    say!("  console:  http://localhost:{port}/");
    say!("  data:     {}", dir.display());
    say!();
    say!("Sign in with password \"{DEMO_PASSWORD}\" as:");
    say!("  console:  {DEMO_OPERATOR}");
    for (email, role, _) in DEMO_STAFF {
        say!("  clinic:   {email:<32} ({role})");
    }
    say!();
    let state = AppState::new(cfg, db, clock, Migrations::embedded(), secrets);
    crate::app::serve(state, listener, crate::ops::shutdown::signal()).await?;
    Ok(())
}

/// The demo clinic's logo, set as an admin would (Settings → Profile and branding).
async fn demo_logo(db: &crate::db::Db, t: &tenants::Tenant) -> Result<(), Failed> {
    use crate::domain::settings::branding;
    const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="#1f6f8b"/><path d="M26 14h12v12h12v12H38v12H26V38H14V26h12z" fill="#fff"/></svg>"##;
    let c = super::accounts::as_system(db, t, &super::accounts::cli_ctx());
    let profile = branding::load(&c, t).await?;
    branding::save(
        &c,
        t,
        &profile,
        branding::LogoChange::Replace(LOGO.as_bytes().to_vec()),
    )
    .await
    .map_err(|e| Failed(format!("demo logo: {e}")))?;
    Ok(())
}

fn demo_config(url: DatabaseUrl, dir: &Path, listen: SocketAddr) -> Result<Config, Failed> {
    Ok(Config {
        database: DatabaseConfig {
            url,
            max_connections: 10,
        },
        server: ServerConfig {
            base_domain: Hostname::parse("localhost")?,
            console_host: Hostname::parse("localhost")?,
            http_listen: listen,
            https_listen: listen,
            request_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            max_connections: 4096,
            trusted_proxies: Vec::new(),
            metrics_token: None,
        },
        tls: TlsConfig {
            mode: TlsMode::Off,
            ..TlsConfig::default()
        },
        storage: StorageConfig {
            data_dir: dir.join("data"),
            key_file: dir.join("secret.key"),
            ..StorageConfig::default()
        },
        log: LogConfig::default(),
        limits: Default::default(),
    })
}

/// Every demo account uses this password; it passes the password policy.
pub const DEMO_PASSWORD: &str = "velvet-harbor-piano-73";
pub const DEMO_OPERATOR: &str = "operator@clinicbox.test";
/// One staff member per role in each demo clinic.
pub const DEMO_STAFF: [(&str, &str, &str); 5] = [
    ("admin@demo.clinic", "clinic_admin", "Amara Okafor"),
    ("dr.silva@demo.clinic", "doctor", "Dr. João Silva"),
    ("nurse.lindqvist@demo.clinic", "nurse", "Ingrid Lindqvist"),
    ("reception@demo.clinic", "receptionist", "Priya Sharma"),
    ("billing@demo.clinic", "billing", "Wei Chen"),
];

/// Creates the demo operator and staff accounts that do not exist yet.
async fn seed_accounts(db: &crate::db::Db, now: chrono::DateTime<chrono::Utc>) -> CliResult {
    use crate::domain::auth::{Accounts, Role, repo, service};
    let mut tx = crate::db::begin(&db.pool).await?;
    if repo::by_email(&mut tx, Accounts::Operators, DEMO_OPERATOR, false)
        .await?
        .is_none()
    {
        service::create_account(
            &mut tx,
            Accounts::Operators,
            DEMO_OPERATOR,
            "Demo Operator",
            None,
            Some(DEMO_PASSWORD),
            &[],
            now,
        )
        .await?;
    }
    tx.commit().await?;
    for slug in ["demo", "sample"] {
        let t = tenants::find(db, &Slug::parse(slug)?).await?;
        let mut tx = crate::db::TenantDb::begin(&db.pool, &t.db).await?;
        for (email, role, name) in DEMO_STAFF {
            let email = if slug == "demo" {
                email.to_owned()
            } else {
                email.replace("@demo.", "@sample.")
            };
            if repo::by_email(&mut tx, Accounts::Staff, &email, false)
                .await?
                .is_none()
            {
                service::create_account(
                    &mut tx,
                    Accounts::Staff,
                    &email,
                    name,
                    Role::parse(role),
                    Some(DEMO_PASSWORD),
                    &[t.display_name.as_str(), t.slug.as_str()],
                    now,
                )
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(())
}
