//! The application state shared by every request, and `serve(listener, shutdown)`.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::db::Db;
use crate::db::migrate::Migrations;
use crate::domain::tenants::HostRules;
use crate::ops::clock::SharedClock;
use crate::ops::secrets::Secrets;
use crate::web::limits::Limiters;

#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub clock: SharedClock,
    pub migrations: &'static Migrations,
    pub hosts: HostRules,
    pub secrets: Secrets,
    pub limits: Limiters,
    pub metrics: crate::ops::metrics::Metrics,
    /// Pages are served over HTTPS (secure, `__Host-` cookies): TLS is terminated here, or by
    /// a trusted proxy in front.
    pub https: bool,
    /// Set once by `serve_tls`: the certificate store and HSTS policy.
    tls: std::sync::OnceLock<Arc<crate::tls::Tls>>,
    /// When this process started serving (the console's uptime).
    pub started: std::time::Instant,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Config,
        db: Db,
        clock: SharedClock,
        migrations: &'static Migrations,
        secrets: Secrets,
    ) -> Self {
        let hosts = config.server.host_rules();
        let limits = Limiters::new(crate::domain::settings::RateLimits::from_config(
            &config.limits,
        ));
        let https = config.tls.mode != crate::config::TlsMode::Off
            || !config.server.trusted_proxies.is_empty();
        Self(Arc::new(AppInner {
            config,
            db,
            clock,
            migrations,
            hosts,
            secrets,
            limits,
            metrics: crate::ops::metrics::Metrics::default(),
            https,
            tls: std::sync::OnceLock::new(),
            started: std::time::Instant::now(),
        }))
    }

    pub fn tls(&self) -> Option<&Arc<crate::tls::Tls>> {
        self.0.tls.get()
    }
}

/// Serves HTTPS on `https` and, on `http`, ACME answers and redirects, until `shutdown`
/// resolves; requests in flight then finish. The certificate task runs alongside.
pub async fn serve_tls(
    state: AppState,
    tls: Arc<crate::tls::Tls>,
    http: TcpListener,
    https: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use crate::tls::server;
    crate::domain::auth::password::warm_up().map_err(std::io::Error::other)?;
    let _ = state.0.tls.set(tls.clone());
    if let Err(e) = crate::tls::renewal::warm_up(&state, &tls).await {
        tracing::warn!(error = %e, "certificates not loaded before serving; the renewal task retries");
    }
    let https_port = https.local_addr()?.port();
    let stop = server::shutdown_channel(shutdown);
    let housekeeping = tokio::spawn(crate::web::housekeeping(state.clone()));
    let backups = tokio::spawn(crate::ops::backup::schedule::run(
        state.clone(),
        stop.clone(),
    ));
    let renewal = tokio::spawn(crate::tls::renewal::run(
        state.clone(),
        tls.clone(),
        stop.clone(),
    ));
    let sealer = tokio::spawn(crate::ops::audit_sealer::run(state.clone(), stop.clone()));
    let drain = server::drain_for(state.config.server.request_timeout());
    let opts = server::HttpsOptions {
        handshake_timeout: std::time::Duration::from_secs(state.config.tls.handshake_timeout_secs),
        max_connections: state.config.server.max_connections,
        drain,
    };
    let plain = server::serve_http(
        server::http_router(state.clone(), https_port),
        http,
        stop.clone(),
        drain,
    );
    let secure = server::serve_https(
        crate::web::router(state.clone()),
        https,
        tls,
        state.db.pool.clone(),
        opts,
        stop,
    );
    let (a, b) = tokio::join!(plain, secure);
    housekeeping.abort();
    renewal.abort();
    backups.abort();
    let _ = sealer.await;
    a.and(b)
}

/// Serves plain HTTP on `listener` until `shutdown` resolves; requests in flight then finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::domain::auth::password::warm_up().map_err(std::io::Error::other)?;
    let stop = crate::tls::server::shutdown_channel(shutdown);
    let housekeeping = tokio::spawn(crate::web::housekeeping(state.clone()));
    let backups = tokio::spawn(crate::ops::backup::schedule::run(
        state.clone(),
        stop.clone(),
    ));
    let sealer = tokio::spawn(crate::ops::audit_sealer::run(state.clone(), stop.clone()));
    let drain = crate::tls::server::drain_for(state.config.server.request_timeout());
    let app = crate::web::router(state);
    let result = crate::tls::server::serve_http(app, listener, stop, drain).await;
    housekeeping.abort();
    backups.abort();
    let _ = sealer.await;
    result
}
