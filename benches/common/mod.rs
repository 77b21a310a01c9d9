//! Shared set-up for benchmarks: a private PostgreSQL cluster and the app on a loopback port.

#![allow(dead_code, reason = "each bench uses a different part")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clinicbox::app::AppState;
use clinicbox::config::{
    Config, DatabaseConfig, DatabaseUrl, LimitsConfig, LogConfig, ServerConfig, StorageConfig,
    TlsConfig, TlsMode,
};
use clinicbox::db::Db;
use clinicbox::db::migrate::{self, Migrations, NoProgress};
use clinicbox::domain::tenants::{
    self, DisplayName, HostRules, Hostname, Ident, NewTenant, Slug, Tenant,
};
use clinicbox::ops::clock::SystemClock;
use clinicbox::ops::pgcluster::{ClusterOptions, PgCluster, provision_app_database};
use clinicbox::ops::secrets::Secrets;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct Bench {
    pub cluster: PgCluster,
    pub db: Db,
    pub url: String,
    pub dir: tempfile::TempDir,
}

pub fn rules() -> Result<HostRules, BoxError> {
    Ok(HostRules {
        base_domain: Hostname::parse("clinics.test")?,
        console_host: Hostname::parse("admin.clinics.test")?,
    })
}

/// A cluster (fsync on unless `fast`), the login role and database, migrated.
pub async fn setup(fast: bool) -> Result<Bench, BoxError> {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("pg");
    let cluster = tokio::task::spawn_blocking(move || -> Result<PgCluster, BoxError> {
        let mut c = PgCluster::new(&root, ClusterOptions { unsafe_fast: fast })?;
        c.init_if_needed()?;
        c.start()?;
        Ok(c)
    })
    .await??;
    let su = clinicbox::db::pool_options(1)
        .connect(&cluster.superuser_url("postgres"))
        .await?;
    let id = Ident::parse("clinicbox")?;
    provision_app_database(&su, &id, &id).await?;
    su.close().await;
    let url = cluster.url("clinicbox", "clinicbox");
    let db = Db::from_pool(clinicbox::db::pool_options(10).connect(&url).await?).await?;
    migrate::run(&db, Migrations::embedded(), 4, &NoProgress).await?;
    Ok(Bench {
        cluster,
        db,
        url,
        dir,
    })
}

impl Bench {
    pub async fn tenant(&self, slug: &str) -> Result<Tenant, BoxError> {
        Ok(tenants::create(
            &self.db,
            Migrations::embedded(),
            &rules()?,
            NewTenant {
                slug: Slug::parse(slug)?,
                name: DisplayName::parse(&format!("Bench {slug}"))?,
                hosts: vec![],
            },
            clinicbox::ops::clock::SystemClock.now(),
        )
        .await?)
    }

    pub fn config(&self) -> Result<Config, BoxError> {
        Ok(Config {
            database: DatabaseConfig {
                url: DatabaseUrl::parse(&self.url)?,
                max_connections: 10,
            },
            server: ServerConfig {
                base_domain: Hostname::parse("clinics.test")?,
                console_host: Hostname::parse("admin.clinics.test")?,
                http_listen: "127.0.0.1:0".parse()?,
                https_listen: "127.0.0.1:0".parse()?,
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
                data_dir: self.dir.path().join("data"),
                key_file: self.dir.path().join("secret.key"),
                ..StorageConfig::default()
            },
            log: LogConfig::default(),
            limits: LimitsConfig {
                login_per_minute: 1_000_000,
                api_per_minute: 1_000_000,
                login_per_minute_per_address: 1_000_000,
                api_per_minute_per_address: 100_000_000,
            },
        })
    }

    /// Serves plain HTTP on a loopback port until the process ends.
    pub async fn serve(&self) -> Result<SocketAddr, BoxError> {
        let state = AppState::new(
            self.config()?,
            self.db.clone(),
            Arc::new(SystemClock),
            Migrations::embedded(),
            Secrets::from_bytes([3u8; 32])?,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(clinicbox::app::serve(
            state,
            listener,
            std::future::pending(),
        ));
        Ok(addr)
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A reqwest client that sends every host name to `addr`.
pub fn client(addr: SocketAddr, cookies: bool) -> Result<reqwest::Client, BoxError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .resolve("alpha.clinics.test", addr)
        .resolve("admin.clinics.test", addr)
        .cookie_store(cookies)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()?)
}

/// One latency line: count, p50, p95, p99 and whether p95 met `target` (ms).
pub fn report(what: &str, mut v: Vec<Duration>, target: Option<f64>) {
    v.sort();
    let p95 = ms(percentile(&v, 0.95));
    println!(
        "  {what:<44} n={:<5} p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms{}",
        v.len(),
        ms(percentile(&v, 0.5)),
        p95,
        ms(percentile(&v, 0.99)),
        match target {
            Some(t) if p95 <= t => format!("  (target {t} ms: met)"),
            Some(t) => format!("  (target {t} ms: MISSED)"),
            None => String::new(),
        }
    );
}

/// The CSRF token a page carries in its `csrf-token` meta tag.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned()
}
