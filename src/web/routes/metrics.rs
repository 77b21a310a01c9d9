//! `/metrics`: Prometheus text format, on any host and on the plain-HTTP port. Loopback
//! clients read it freely; others need `Authorization: Bearer <server.metrics_token>`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::config::TlsMode;
use crate::ops::metrics::{header as help, sample};
use crate::web::middleware::ClientIp;

fn allowed(state: &AppState, ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
    if ip.is_some_and(|ip| ip.is_loopback() || ip.to_canonical().is_loopback()) {
        return true;
    }
    let Some(token) = &state.config.server.metrics_token else {
        return false;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Comparing digests: how long the comparison takes says nothing about the token.
    use sha2::{Digest, Sha256};
    Sha256::digest(given.as_bytes()) == Sha256::digest(token.expose().as_bytes())
}

pub async fn show(
    State(state): State<AppState>,
    axum::Extension(ip): axum::Extension<ClientIp>,
    headers: HeaderMap,
) -> Response {
    if !allowed(&state, ip.0, &headers) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to loopback clients, or with the bearer token set in server.metrics_token\n",
        )
            .into_response();
    }
    let mut out = String::with_capacity(16 * 1024);
    help(
        &mut out,
        "clinicbox_build_info",
        "gauge",
        "Version of the running binary.",
    );
    sample(
        &mut out,
        "clinicbox_build_info",
        &[("version", crate::VERSION)],
        1.0,
    );
    state.metrics.render_requests(&mut out);
    help(
        &mut out,
        "clinicbox_log_lines_lost_total",
        "counter",
        "Log lines the log files could not take (a full disk); journald still has them.",
    );
    sample(
        &mut out,
        "clinicbox_log_lines_lost_total",
        &[],
        crate::ops::logfile::lines_lost() as f64,
    );

    let pool = &state.db.pool;
    help(
        &mut out,
        "clinicbox_db_pool_connections",
        "gauge",
        "Database connections of this process, by state.",
    );
    let size = f64::from(pool.size());
    let idle = pool.num_idle() as f64;
    sample(
        &mut out,
        "clinicbox_db_pool_connections",
        &[("state", "idle")],
        idle,
    );
    sample(
        &mut out,
        "clinicbox_db_pool_connections",
        &[("state", "in_use")],
        size - idle,
    );
    help(
        &mut out,
        "clinicbox_db_pool_max",
        "gauge",
        "Pool size limit.",
    );
    sample(
        &mut out,
        "clinicbox_db_pool_max",
        &[],
        f64::from(state.config.database.max_connections),
    );

    // Everything read from the database shares one budget: while PostgreSQL is down or slow,
    // the scrape still answers in time (Prometheus gives up after 10 s) and says so.
    let from_db = tokio::time::timeout(DB_BUDGET, database_metrics(&state)).await;
    let up = matches!(from_db, Ok(Ok(_)));
    help(
        &mut out,
        "clinicbox_up",
        "gauge",
        "1 when the database answered this scrape.",
    );
    sample(&mut out, "clinicbox_up", &[], f64::from(u8::from(up)));
    if let Ok(Ok(text)) = from_db {
        out.push_str(&text);
    }
    if state.config.tls.mode == TlsMode::Manual {
        manual_certificates(&state, &mut out);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// How long a scrape waits for the database, in all.
const DB_BUDGET: std::time::Duration = std::time::Duration::from_millis(800);

/// The metrics that come from the database: clinics, ACME certificates, backups.
async fn database_metrics(state: &AppState) -> sqlx::Result<String> {
    let mut out = String::with_capacity(4096);
    let clinics: Vec<(String, i64)> =
        sqlx::query!(r#"SELECT status, count(*) AS "n!" FROM clinicbox.tenants GROUP BY status"#)
            .map(|r| (r.status, r.n))
            .fetch_all(&state.db.pool)
            .await?;
    help(&mut out, "clinicbox_clinics", "gauge", "Clinics by status.");
    for status in ["active", "suspended"] {
        let n = clinics
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        sample(
            &mut out,
            "clinicbox_clinics",
            &[("status", status)],
            n as f64,
        );
    }
    if state.config.tls.mode == TlsMode::Acme {
        acme_certificates(state, &mut out).await;
    }
    backups(state, &mut out).await?;
    Ok(out)
}

async fn backups(state: &AppState, out: &mut String) -> sqlx::Result<()> {
    let b = crate::ops::backup::status(&state.db.pool, state.clock.now()).await?;
    if let Some(age) = b.age_seconds {
        help(
            out,
            "clinicbox_backup_age_seconds",
            "gauge",
            "Seconds since the last successful backup (absent before the first).",
        );
        sample(out, "clinicbox_backup_age_seconds", &[], age as f64);
    }
    if let Some(last) = &b.last {
        help(
            out,
            "clinicbox_backup_last_success",
            "gauge",
            "1 when the last backup succeeded, 0 when it failed.",
        );
        sample(
            out,
            "clinicbox_backup_last_success",
            &[],
            f64::from(u8::from(last.ok)),
        );
        help(
            out,
            "clinicbox_backup_last_duration_seconds",
            "gauge",
            "How long the last backup took.",
        );
        sample(
            out,
            "clinicbox_backup_last_duration_seconds",
            &[],
            last.duration_ms as f64 / 1000.0,
        );
    }
    if let Some(bytes) = b.last_success.as_ref().and_then(|l| l.bytes) {
        help(
            out,
            "clinicbox_backup_last_bytes",
            "gauge",
            "Size of the last successful backup.",
        );
        sample(out, "clinicbox_backup_last_bytes", &[], bytes as f64);
    }
    Ok(())
}

fn manual_certificates(state: &AppState, out: &mut String) {
    let now = state.clock.now();
    help(
        out,
        "clinicbox_certificate_expiry_days",
        "gauge",
        "Days until the served certificate expires.",
    );
    for info in state
        .tls()
        .map(|t| t.store.manual_infos())
        .unwrap_or_default()
    {
        let days = (info.not_after - now).num_seconds() as f64 / 86_400.0;
        let names = info.names.join(",");
        sample(
            out,
            "clinicbox_certificate_expiry_days",
            &[("host", &names), ("source", "manual")],
            days,
        );
    }
}

async fn acme_certificates(state: &AppState, out: &mut String) {
    let now = state.clock.now();
    let Ok(rows) = crate::tls::status::collect(&state.db, &state.hosts, now).await else {
        return;
    };
    help(
        out,
        "clinicbox_certificate_expiry_days",
        "gauge",
        "Days until the host's certificate expires (absent while none was issued).",
    );
    for r in &rows {
        if let Some(d) = r.days_left {
            sample(
                out,
                "clinicbox_certificate_expiry_days",
                &[("host", &r.host), ("source", "acme")],
                d,
            );
        }
    }
    help(
        out,
        "clinicbox_certificate_valid",
        "gauge",
        "1 when the host is served with an unexpired CA certificate.",
    );
    for r in &rows {
        let valid = matches!(
            r.state,
            crate::tls::status::State::Valid | crate::tls::status::State::Renewing
        );
        sample(
            out,
            "clinicbox_certificate_valid",
            &[("host", &r.host)],
            f64::from(u8::from(valid)),
        );
    }
    help(
        out,
        "clinicbox_certificate_failures",
        "gauge",
        "Failed certificate attempts in a row for the host.",
    );
    for r in &rows {
        sample(
            out,
            "clinicbox_certificate_failures",
            &[("host", &r.host)],
            f64::from(r.failures),
        );
    }
}
