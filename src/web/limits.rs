//! Rate limits for sign-in and the API.
//!
//! Staff of one clinic usually share one public address (the clinic's NAT), so nothing is
//! limited by address alone tightly: sign-in attempts are counted per account *and* address
//! (someone guessing one account's password), with a generous budget per address on top
//! (someone trying many accounts); API requests per credential (a token or a session) with a
//! generous budget per address. The four budgets are system settings an operator changes on
//! the console's Security page; `[limits]` in the config file gives their starting values.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::app::AppState;
use crate::domain::settings::RateLimits;
use crate::web::AppError;
use crate::web::auth::{AuthVia, StaffIdentity};
use crate::web::middleware::ClientIp;

struct Budgets {
    limits: RateLimits,
    login_account: DefaultKeyedRateLimiter<(IpAddr, String)>,
    login_address: DefaultKeyedRateLimiter<IpAddr>,
    api_credential: DefaultKeyedRateLimiter<String>,
    api_address: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(per_minute: u32) -> Quota {
    let n = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n)
}

impl Budgets {
    fn new(limits: RateLimits) -> Self {
        Self {
            login_account: RateLimiter::keyed(quota(limits.login_per_account)),
            login_address: RateLimiter::keyed(quota(limits.login_per_address)),
            api_credential: RateLimiter::keyed(quota(limits.api_per_credential)),
            api_address: RateLimiter::keyed(quota(limits.api_per_address)),
            limits,
        }
    }
}

/// How long to wait before trying again.
fn wait(not_until: &governor::NotUntil<governor::clock::QuantaInstant>) -> Duration {
    not_until.wait_time_from(DefaultClock::default().now())
}

#[derive(Clone)]
pub struct Limiters(Arc<RwLock<Arc<Budgets>>>);

impl Limiters {
    pub fn new(limits: RateLimits) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(Budgets::new(limits)))))
    }

    fn current(&self) -> Arc<Budgets> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn limits(&self) -> RateLimits {
        self.current().limits
    }

    /// New budgets (counts start again); nothing happens when they are unchanged.
    pub fn apply(&self, limits: RateLimits) {
        if self.limits() == limits {
            return;
        }
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Budgets::new(limits));
        tracing::info!(
            login_per_account = limits.login_per_account,
            login_per_address = limits.login_per_address,
            api_per_credential = limits.api_per_credential,
            api_per_address = limits.api_per_address,
            "rate limits applied"
        );
    }

    /// One sign-in attempt (password, code or setup form) for `account` from `ip`.
    pub fn sign_in(&self, ip: Option<IpAddr>, account: &str) -> Result<(), AppError> {
        let Some(ip) = ip else {
            return Ok(());
        };
        let b = self.current();
        let key = (ip, account.trim().to_lowercase());
        b.login_account
            .check_key(&key)
            .map_err(|n| AppError::TooMany(wait(&n)))?;
        b.login_address
            .check_key(&ip)
            .map_err(|n| AppError::TooMany(wait(&n)))?;
        Ok(())
    }

    fn api(&self, ip: Option<IpAddr>, credential: Option<String>) -> Result<(), AppError> {
        let b = self.current();
        if let Some(c) = credential {
            b.api_credential
                .check_key(&c)
                .map_err(|n| AppError::TooMany(wait(&n)))?;
        }
        if let Some(ip) = ip {
            b.api_address
                .check_key(&ip)
                .map_err(|n| AppError::TooMany(wait(&n)))?;
        }
        Ok(())
    }

    /// Forgets keys that have been quiet; keeps memory bounded.
    pub fn forget_idle(&self) {
        let b = self.current();
        b.login_account.retain_recent();
        b.login_address.retain_recent();
        b.api_credential.retain_recent();
        b.api_address.retain_recent();
    }
}

/// The API budget, after authentication: per token or signed-in account, and per address.
pub async fn api(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    let credential = req
        .extensions()
        .get::<StaffIdentity>()
        .map(|i| match i.via {
            AuthVia::Token { id, .. } => format!("token:{id}"),
            AuthVia::Session => format!("user:{}", i.id),
        });
    match state.limits.api(ip, credential) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(login_account: u32, login_address: u32) -> RateLimits {
        RateLimits {
            login_per_account: login_account,
            login_per_address: login_address,
            api_per_credential: 100,
            api_per_address: 1000,
        }
    }

    #[test]
    fn one_address_many_accounts_until_the_address_budget() {
        let l = Limiters::new(limits(3, 10));
        let ip = Some("203.0.113.7".parse().unwrap());
        // One account: three attempts a minute from this address.
        for _ in 0..3 {
            assert!(l.sign_in(ip, "a@x.org").is_ok());
        }
        assert!(matches!(
            l.sign_in(ip, "A@x.org "),
            Err(AppError::TooMany(_))
        ));
        // Colleagues behind the same address are not affected…
        for who in ["b@x.org", "c@x.org", "d@x.org"] {
            assert!(l.sign_in(ip, who).is_ok());
        }
        // …until the address's own budget of ten attempts is spent.
        for who in ["e@x.org", "f@x.org", "g@x.org", "h@x.org"] {
            assert!(l.sign_in(ip, who).is_ok());
        }
        assert!(matches!(
            l.sign_in(ip, "i@x.org"),
            Err(AppError::TooMany(_))
        ));
        // New budgets apply at once.
        l.apply(limits(3, 100));
        assert!(l.sign_in(ip, "i@x.org").is_ok());
    }
}
