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

#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub clock: SharedClock,
    pub migrations: &'static Migrations,
    pub hosts: HostRules,
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
    ) -> Self {
        let hosts = HostRules {
            base_domain: config.server.base_domain.clone(),
            console_host: config.server.console_host.clone(),
        };
        Self(Arc::new(AppInner {
            config,
            db,
            clock,
            migrations,
            hosts,
        }))
    }
}

/// Serves plain HTTP on `listener` until `shutdown` resolves; requests in flight then finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = crate::web::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
