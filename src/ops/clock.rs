//! Time is injected so that expiry, schedules and timeouts can be tested.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// The wall clock: the one place the program reads it (clippy forbids `Utc::now` and
    /// `SystemTime::now` elsewhere). Code that runs under a test's clock takes a `Clock`.
    #[expect(clippy::disallowed_methods, reason = "this is the clock")]
    pub fn now(self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        SystemClock::now(*self)
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
