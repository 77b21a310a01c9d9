//! Per-address rate limits (tower_governor) for sign-in and the API.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use governor::middleware::NoOpMiddleware;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};

use crate::config::LimitsConfig;
use crate::web::auth::ClientIpKey;

type Config = Arc<GovernorConfig<ClientIpKey, NoOpMiddleware>>;

#[derive(Clone)]
pub struct Limiters {
    pub login: Config,
    pub api: Config,
}

fn build(per_minute: u32, methods: Option<Vec<Method>>) -> Config {
    let per_minute = per_minute.max(1);
    let mut b = GovernorConfigBuilder::default().key_extractor(ClientIpKey);
    b.period(Duration::from_millis(u64::from(60_000 / per_minute).max(1)))
        .burst_size(per_minute);
    if let Some(m) = methods {
        b.methods(m);
    }
    // Both values are non-zero, which is all `finish` checks.
    Arc::new(b.finish().unwrap_or_else(|| {
        GovernorConfigBuilder::default()
            .key_extractor(ClientIpKey)
            .finish()
            .unwrap_or_else(unreachable_config)
    }))
}

#[expect(
    clippy::panic,
    reason = "the default governor configuration is always valid"
)]
fn unreachable_config() -> GovernorConfig<ClientIpKey, NoOpMiddleware> {
    panic!("default rate limit configuration rejected")
}

impl Limiters {
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            // Only POSTs count: showing the sign-in page is free.
            login: build(cfg.login_per_minute, Some(vec![Method::POST])),
            api: build(cfg.api_per_minute, None),
        }
    }

    pub fn login_layer(&self) -> GovernorLayer<ClientIpKey, NoOpMiddleware, axum::body::Body> {
        GovernorLayer::new(self.login.clone())
    }

    pub fn api_layer(&self) -> GovernorLayer<ClientIpKey, NoOpMiddleware, axum::body::Body> {
        GovernorLayer::new(self.api.clone())
    }

    /// Forgets addresses that have been quiet; keeps memory bounded.
    pub fn forget_idle(&self) {
        self.login.limiter().retain_recent();
        self.api.limiter().retain_recent();
    }
}
