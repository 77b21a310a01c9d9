//! The listeners when ClinicBox terminates TLS itself.
//!
//! HTTPS: rustls with a handshake timeout and a cap on open connections, HTTP/1.1 and HTTP/2
//! (ALPN), TLS-ALPN-01 validations answered before the normal handshake. Plain HTTP: ACME
//! HTTP-01 answers, health checks, and a 308 redirect to HTTPS for everything else.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::web::extract::Path;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::LazyConfigAcceptor;
use tower::ServiceExt;

use super::{ALPN_ACME_TLS, Tls, repo};
use crate::app::AppState;
use crate::web::middleware::Scheme;

/// How long open connections get to finish after shutdown begins, on every listener: longer
/// than a request may take, so that each request in flight gets its answer (its own, or the
/// timeout's 503) before connections are closed.
pub fn drain_for(request_timeout: Duration) -> Duration {
    request_timeout + Duration::from_secs(5)
}

pub struct HttpsOptions {
    pub handshake_timeout: Duration,
    pub max_connections: usize,
    /// See [`drain_for`].
    pub drain: Duration,
}

/// Accepts TLS connections on `listener` until `shutdown` turns true, then lets open
/// connections finish their requests (at most `DRAIN`).
pub async fn serve_https(
    app: Router,
    listener: TcpListener,
    tls: Arc<Tls>,
    pool: sqlx::PgPool,
    opts: HttpsOptions,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100)
        .keep_alive_interval(Duration::from_secs(60));
    let builder = Arc::new(builder);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        let pool = pool.clone();
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = opts.handshake_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let start = match tokio::time::timeout(
                handshake_timeout,
                LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream),
            )
            .await
            {
                Ok(Ok(s)) => s,
                _ => return,
            };
            let hello = start.client_hello();
            let sni = hello.server_name().map(str::to_ascii_lowercase);
            let wants_acme = hello
                .alpn()
                .is_some_and(|mut protocols| protocols.any(|p| p == ALPN_ACME_TLS));
            if wants_acme {
                // A CA validating TLS-ALPN-01: answer with the challenge certificate and close.
                let Some(host) = sni else { return };
                let Some(cfg) = super::alpn_challenge_config(&pool, &host).await else {
                    return;
                };
                if let Ok(Ok(mut s)) =
                    tokio::time::timeout(handshake_timeout, start.into_stream(cfg)).await
                {
                    let _ = s.shutdown().await;
                }
                return;
            }
            let stream = match tokio::time::timeout(
                handshake_timeout,
                start.into_stream(tls.server_config.clone()),
            )
            .await
            {
                Ok(Ok(s)) => s,
                _ => return,
            };
            let svc = app.map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(Scheme::Https);
                req
            });
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(stream),
                TowerToHyperService::new(svc),
            );
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(opts.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "some HTTPS connections were still open after {:?}; closing them",
            opts.drain
        );
    }
    Ok(())
}

#[derive(Clone)]
struct Redirect {
    state: AppState,
    https_port: u16,
}

/// Port 80 when TLS is on: ACME HTTP-01 answers, health checks, redirects.
pub fn http_router(state: AppState, https_port: u16) -> Router {
    let r = Redirect { state, https_port };
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(http_challenge))
        .fallback(redirect)
        .with_state(r.clone())
        .merge(
            crate::web::routes::health::router()
                .route("/metrics", get(crate::web::routes::metrics::show))
                .layer(axum::middleware::from_fn(
                    crate::web::middleware::label_route,
                ))
                .with_state(r.state.clone()),
        )
        .layer(axum::middleware::from_fn(
            crate::web::middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            r.state.clone(),
            crate::web::middleware::request_context,
        ))
}

async fn http_challenge(
    State(r): State<Redirect>,
    Path(token): Path<String>,
    req: Request,
) -> Response {
    let host = crate::web::site::request_host(&req).unwrap_or_default();
    let valid_token = !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_token {
        return StatusCode::NOT_FOUND.into_response();
    }
    match repo::http_challenge(&r.state.db.pool, &host, &token).await {
        Ok(Some(answer)) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up an ACME challenge");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// GET and HEAD go to the same URL over HTTPS (308 keeps the method); anything else is refused,
/// so that a form is never sent in clear text and silently retried.
async fn redirect(State(r): State<Redirect>, req: Request) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return (
            StatusCode::BAD_REQUEST,
            "This server only accepts HTTPS. Use https:// in the address.\n",
        )
            .into_response();
    }
    let Some(host) = crate::web::site::request_host(&req)
        .filter(|h| crate::domain::tenants::Hostname::parse(h).is_ok())
    else {
        return (StatusCode::BAD_REQUEST, "Missing or invalid Host header.\n").into_response();
    };
    // Only the console and the clinics' hosts are sent on to HTTPS; anything else is not here.
    match crate::domain::tenants::resolve_host(&r.state.db, &r.state.hosts, &host).await {
        Ok(crate::domain::tenants::Site::Unknown) => {
            return (StatusCode::NOT_FOUND, "Not found.\n").into_response();
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot look up a host for the redirect");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let port = if r.https_port == 443 {
        String::new()
    } else {
        format!(":{}", r.https_port)
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = format!("https://{host}{port}{path}");
    match axum::http::HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, v)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// Serves a plain-HTTP router until `shutdown` turns true, then lets requests in flight finish
/// for at most `drain`.
pub async fn serve_http(
    app: Router,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    drain: Duration,
) -> std::io::Result<()> {
    let mut stopped = shutdown.clone();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    let mut deadline = shutdown;
    tokio::select! {
        r = serve.into_future() => r,
        () = async move {
            let _ = deadline.wait_for(|s| *s).await;
            tokio::time::sleep(drain).await;
        } => {
            tracing::warn!("some HTTP connections were still open after {drain:?}; closing them");
            Ok(())
        }
    }
}

/// Turns a one-shot shutdown future into a watch channel many tasks can wait on.
pub fn shutdown_channel(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
        // Keep the sender alive until every receiver has seen the value.
        tx.closed().await;
    });
    rx
}
