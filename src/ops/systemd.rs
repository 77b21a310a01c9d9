//! Talking to systemd: readiness and watchdog notifications (`Type=notify`, `WatchdogSec=`)
//! and listening sockets passed by socket activation (`LISTEN_FDS`). Outside systemd every
//! function here does nothing.

use std::net::SocketAddr;
use std::time::Duration;

/// Sockets handed over by `clinicbox.socket`, matched to the configured listen addresses by
/// port (or, when no port matches, by `FileDescriptorName=https|http`).
#[derive(Default)]
pub struct Inherited {
    listeners: Vec<(Option<String>, std::net::TcpListener)>,
}

impl Inherited {
    pub fn from_env() -> std::io::Result<Self> {
        let mut fds = listenfd::ListenFd::from_env();
        let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
            .map(|n| n.split(':').map(str::to_owned).collect())
            .unwrap_or_default();
        let mut listeners = Vec::new();
        for i in 0..fds.len() {
            if let Some(l) = fds.take_tcp_listener(i)? {
                l.set_nonblocking(true)?;
                listeners.push((names.get(i).cloned(), l));
            }
        }
        Ok(Self { listeners })
    }

    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }

    /// The inherited socket for `name` (`https` or `http`) listening on `addr`'s port.
    pub fn take(
        &mut self,
        name: &str,
        addr: SocketAddr,
    ) -> std::io::Result<Option<tokio::net::TcpListener>> {
        let pos = self
            .listeners
            .iter()
            .position(|(_, l)| l.local_addr().is_ok_and(|a| a.port() == addr.port()))
            .or_else(|| {
                self.listeners
                    .iter()
                    .position(|(n, _)| n.as_deref() == Some(name))
            });
        match pos {
            Some(i) => {
                let (_, l) = self.listeners.remove(i);
                tokio::net::TcpListener::from_std(l).map(Some)
            }
            None => Ok(None),
        }
    }
}

/// `READY=1`: migrations are current and the listeners accept connections.
pub fn ready(status: &str) {
    let _ = sd_notify::notify(
        false,
        &[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(status),
        ],
    );
}

pub fn stopping() {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
}

/// Pings the watchdog at half its interval from the async runtime: a runtime that stops
/// making progress (a deadlock, a blocked worker) stops the pings and systemd restarts us.
pub fn spawn_watchdog() {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    tracing::info!(
        interval_ms = every.as_millis() as u64,
        "systemd watchdog on"
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
        }
    });
}
