//! The application state shared by every request, and `serve(listener, shutdown)`.

use std::future::Future;
use std::net::SocketAddr;
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
    /// Pages are served over HTTPS (secure, `__Host-` cookies).
    pub https: bool,
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
        let hosts = HostRules {
            base_domain: config.server.base_domain.clone(),
            console_host: config.server.console_host.clone(),
        };
        let limits = Limiters::new(&config.limits);
        let https = config.tls.mode != crate::config::TlsMode::Off;
        Self(Arc::new(AppInner {
            config,
            db,
            clock,
            migrations,
            hosts,
            secrets,
            limits,
            https,
        }))
    }
}

/// Serves plain HTTP on `listener` until `shutdown` resolves; requests in flight then finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::domain::auth::password::warm_up();
    let housekeeping = tokio::spawn(crate::web::housekeeping(state.clone()));
    let app = crate::web::router(state);
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    housekeeping.abort();
    result
}
