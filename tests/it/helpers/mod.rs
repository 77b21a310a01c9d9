//! Test harness: one real PostgreSQL cluster per test run (initdb into a temp dir; as root the
//! server runs as the `postgres` user), a fresh database and login role per test, and the app
//! served on 127.0.0.1:0 and driven over real HTTP.

pub mod browser;
pub mod cli;
pub mod clinic;
pub mod pebble;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{TimeZone, Utc};
use clinicbox::app::AppState;
use clinicbox::config::{
    Config, DatabaseConfig, DatabaseUrl, LimitsConfig, LogConfig, ServerConfig, StorageConfig,
    TlsConfig, TlsMode,
};
use clinicbox::db::migrate::{self, Migrations};
use clinicbox::db::{Db, TenantDb};
use clinicbox::domain::auth::{Accounts, Role, service as auth_service};
use clinicbox::domain::tenants::{self, DisplayName, Hostname, Ident, NewTenant, Slug, Tenant};
use clinicbox::ops::clock::{Clock, ManualClock};
use clinicbox::ops::pgcluster::{ClusterOptions, PgCluster, provision_app_database};
use clinicbox::ops::secrets::Secrets;
use sqlx::PgPool;
use tokio::sync::oneshot;

pub const BASE: &str = "clinics.test";
pub const CONSOLE: &str = "admin.clinics.test";

struct Shared {
    cluster: Mutex<PgCluster>,
    root: PathBuf,
}

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        remove_stale_clusters();
        let root = std::env::temp_dir().join(format!("clinicbox-it-{}", std::process::id()));
        let mut cluster = PgCluster::new(&root, ClusterOptions { unsafe_fast: true })
            .expect("prepare test cluster");
        cluster.init_if_needed().expect("initdb");
        cluster.start().expect("start postgres");
        Shared {
            cluster: Mutex::new(cluster),
            root,
        }
    })
}

/// Clusters of earlier runs are stopped by their watchdog; their directories stay behind.
fn remove_stale_clusters() {
    let tmp = std::env::temp_dir();
    for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("clinicbox-it-")
            && pid.parse::<u32>().is_ok()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

pub fn cluster_url(user: &str, db: &str) -> String {
    let s = shared();
    s.cluster
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .url(user, db)
}

pub fn cluster_root() -> PathBuf {
    shared().root.clone()
}

/// A database of its own, owned by a login role of its own (NOINHERIT, CREATEROLE), exactly
/// as docs/database.md tells operators to create it.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub db: Db,
    /// Superuser on this database: for checks the application itself must not be able to do.
    pub admin: PgPool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn new() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("cbt{}_{n}", std::process::id() % 100_000);
        let su = clinicbox::db::pool_options(1)
            .connect(&cluster_url("postgres", "postgres"))
            .await
            .expect("superuser connection");
        let ident = Ident::parse(&name).unwrap();
        provision_app_database(&su, &ident, &ident)
            .await
            .expect("provision test database");
        su.close().await;
        let url = cluster_url(&name, &name);
        let pool = clinicbox::db::pool_options(5)
            .connect(&url)
            .await
            .expect("app connection");
        let db = Db::from_pool(pool).await.expect("db");
        clinicbox::db::check_login_role(&db).await.expect("role");
        migrate::migrate_control(&db.pool, Migrations::embedded())
            .await
            .expect("control migrations");
        let admin = clinicbox::db::pool_options(2)
            .connect(&cluster_url("postgres", &name))
            .await
            .expect("admin connection");
        Self {
            name,
            url,
            db,
            admin,
        }
    }

    pub fn rules(&self) -> tenants::HostRules {
        tenants::HostRules {
            base_domain: Hostname::parse(BASE).unwrap(),
            console_host: Hostname::parse(CONSOLE).unwrap(),
        }
    }

    pub async fn create_tenant(&self, slug: &str) -> Tenant {
        self.create_tenant_with(slug, &[]).await
    }

    pub async fn create_tenant_with(&self, slug: &str, hosts: &[&str]) -> Tenant {
        tenants::create(
            &self.db,
            Migrations::embedded(),
            &self.rules(),
            NewTenant {
                slug: Slug::parse(slug).unwrap(),
                name: DisplayName::parse(&format!("Clinic {}", slug.to_uppercase())).unwrap(),
                hosts: hosts.iter().map(|h| Hostname::parse(h).unwrap()).collect(),
            },
            Utc::now(),
        )
        .await
        .expect("create tenant")
    }

    /// Writes a clinic setting through a clinic transaction.
    pub async fn set_setting(&self, t: &Tenant, key: &str, value: serde_json::Value) {
        let mut tx = TenantDb::begin(&self.db.pool, &t.db).await.unwrap();
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }

    pub fn config(&self) -> Config {
        test_config(
            &self.url,
            &cluster_root().join(format!("data-{}", self.name)),
        )
    }
}

pub fn test_config(url: &str, data_dir: &std::path::Path) -> Config {
    Config {
        database: DatabaseConfig {
            url: DatabaseUrl::parse(url).unwrap(),
            max_connections: 5,
        },
        server: ServerConfig {
            base_domain: Hostname::parse(BASE).unwrap(),
            console_host: Hostname::parse(CONSOLE).unwrap(),
            http_listen: "127.0.0.1:0".parse().unwrap(),
            https_listen: "127.0.0.1:0".parse().unwrap(),
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
            data_dir: data_dir.to_owned(),
            key_file: data_dir.join("secret.key"),
            ..StorageConfig::default()
        },
        log: LogConfig::default(),
        // Every test client comes from 127.0.0.1; the rate-limit test sets its own.
        limits: LimitsConfig {
            login_per_minute: 100_000,
            api_per_minute: 1_000_000,
            login_per_minute_per_address: 1_000_000,
            api_per_minute_per_address: 100_000_000,
        },
    }
}

/// The app on 127.0.0.1:<random port> with a clock the test controls.
pub struct TestApp {
    pub addr: SocketAddr,
    pub tdb: TestDb,
    pub clock: Arc<ManualClock>,
    /// Sending (or dropping it with the TestApp) shuts the server down.
    pub shutdown: Option<oneshot::Sender<()>>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::ops::Deref for TestApp {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.tdb
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with the config adjusted first (rate limits, timeouts…).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let tdb = TestDb::new().await;
    let mut config = tdb.config();
    adjust(&mut config);
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let state = AppState::new(
        config,
        tdb.db.clone(),
        clock.clone() as Arc<dyn Clock>,
        Migrations::embedded(),
        test_secrets(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(clinicbox::app::serve(state, listener, async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        tdb,
        clock,
        shutdown: Some(tx),
        server,
    }
}

impl TestApp {
    /// Seconds since the epoch on the app's clock (for TOTP codes).
    pub fn clock_unix(&self) -> u64 {
        self.clock.now().timestamp() as u64
    }

    /// A client whose every hostname resolves to this app, with its own cookie jar.
    pub fn client(&self) -> reqwest::Client {
        client_for(self.addr)
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    pub fn clinic_host(slug: &str) -> String {
        format!("{slug}.{BASE}")
    }

    pub async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.client()
            .get(self.url(host, path))
            .send()
            .await
            .unwrap()
    }
}

struct Loopback(SocketAddr);

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let addr = self.0;
        Box::pin(async move {
            Ok(Box::new(std::iter::once(addr)) as Box<dyn Iterator<Item = SocketAddr> + Send>)
        })
    }
}

/// Resolves every name to the app, keeps no cookies: for tests that handle cookies by hand.
pub fn bare_client(addr: SocketAddr) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Loopback(addr)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub fn client_for(addr: SocketAddr) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Loopback(addr)))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub fn test_secrets() -> Secrets {
    Secrets::from_bytes([42u8; 32]).unwrap()
}

/// A password that passes the policy; every test account uses it.
pub const PASSWORD: &str = "velvet-harbor-piano-73";

#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub email: String,
    pub password: String,
}

impl TestDb {
    /// A staff account with `PASSWORD`, created directly (no audit row of its own).
    pub async fn create_staff(&self, t: &Tenant, role: Role) -> TestUser {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let email = format!("{}{n}@{}.test", role.as_str().replace('_', "."), t.slug);
        let mut tx = TenantDb::begin(&self.db.pool, &t.db).await.unwrap();
        let (acc, _) = auth_service::create_account(
            &mut tx,
            Accounts::Staff,
            &email,
            &format!("Test {}", role.as_str()),
            Some(role),
            Some(PASSWORD),
            &[],
            Utc::now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        TestUser {
            id: acc.id,
            email,
            password: PASSWORD.into(),
        }
    }

    pub async fn create_operator(&self) -> TestUser {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let email = format!("op{n}@console.test");
        let mut tx = clinicbox::db::begin(&self.db.pool).await.unwrap();
        let (acc, _) = auth_service::create_account(
            &mut tx,
            Accounts::Operators,
            &email,
            "Test Operator",
            None,
            Some(PASSWORD),
            &[],
            Utc::now(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        TestUser {
            id: acc.id,
            email,
            password: PASSWORD.into(),
        }
    }

    /// The clinic's audit rows, oldest first: (action, actor_type, actor_id, outcome, details).
    pub async fn audit_rows(&self, t: &Tenant) -> Vec<AuditRow> {
        sqlx::query_as(&format!(
            "SELECT id AS seq, action, actor_type, actor_id, outcome, details, resource_type, resource_id, patient_id
               FROM {}.audit_log ORDER BY id",
            t.db.audit_schema().as_str()
        ))
        .fetch_all(&self.admin)
        .await
        .unwrap()
    }

    pub async fn audit_count(&self, t: &Tenant, action: &str) -> usize {
        self.audit_rows(t)
            .await
            .iter()
            .filter(|r| r.action == action)
            .count()
    }

    pub async fn system_audit_rows(&self) -> Vec<(String, String, Option<i64>, String)> {
        sqlx::query_as(
            "SELECT action, actor_type, actor_id, outcome FROM clinicbox_audit.audit_log ORDER BY id",
        )
        .fetch_all(&self.admin)
        .await
        .unwrap()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub action: String,
    pub actor_type: String,
    pub actor_id: Option<i64>,
    pub outcome: String,
    pub details: serde_json::Value,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub patient_id: Option<i64>,
}

/// The SQLSTATE of a database error, e.g. "42501" for insufficient_privilege.
pub fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    }
}
