//! `/metrics` and trusted reverse proxies.

use crate::helpers::{TestApp, bare_client, spawn_app, spawn_app_with};
use clinicbox::config::ProxyNet;

fn proxy(s: &str) -> ProxyNet {
    ProxyNet::try_from(s.to_owned()).unwrap()
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_for_loopback_clients() {
    let app = spawn_app().await;
    app.create_tenant("alpha").await;
    let host = TestApp::clinic_host("alpha");
    for _ in 0..3 {
        assert_eq!(app.get(&host, "/login").await.status(), 200);
    }
    // A concrete id never becomes a label: the pattern does.
    app.get(&host, "/patients/12345").await;

    let r = app.get("anything.example", "/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "clinicbox_http_requests_total{route=\"/login\",method=\"GET\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains("route=\"/patients/{id}\""), "{text}");
    assert!(!text.contains("12345"), "{text}");
    assert!(text.contains(
        "clinicbox_http_request_duration_seconds_bucket{route=\"/login\",le=\"+Inf\"} 3"
    ));
    assert!(
        text.contains("clinicbox_clinics{status=\"active\"} 1"),
        "{text}"
    );
    assert!(text.contains("clinicbox_up 1"));
    assert!(text.contains("clinicbox_db_pool_max 5"));
    assert!(text.contains(&format!(
        "clinicbox_build_info{{version=\"{}\"}} 1",
        clinicbox::VERSION
    )));
}

#[tokio::test]
async fn remote_clients_need_the_metrics_token_and_forwarded_for_is_believed_only_from_proxies() {
    let app = spawn_app_with(|c| {
        c.server.trusted_proxies = vec![proxy("127.0.0.1")];
        c.server.metrics_token = Some(
            clinicbox::config::Secret::try_from("metrics-token-0123456789".to_owned()).unwrap(),
        );
    })
    .await;
    let t = app.create_tenant("alpha").await;
    let c = bare_client(app.addr);
    let url = app.url("alpha.clinics.test", "/metrics");
    // Through the proxy from a remote client: refused without the token.
    let r = c
        .get(&url)
        .header("X-Forwarded-For", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(&url)
        .header("X-Forwarded-For", "203.0.113.7")
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(&url)
        .header("X-Forwarded-For", "203.0.113.7")
        .bearer_auth("metrics-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The audit log records the client the proxy reports, not the proxy.
    let r = c
        .get(app.url("alpha.clinics.test", "/api/v1/me"))
        .header("X-Forwarded-For", "198.51.100.23")
        .bearer_auth("cbx_notarealtoken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ip: String = sqlx::query_scalar(&format!(
        "SELECT host(ip) FROM {}_audit.audit_log WHERE action = 'auth.token_refused'",
        t.db.schema.as_str()
    ))
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(ip, "198.51.100.23");
}

#[tokio::test]
async fn forwarded_for_is_ignored_without_trusted_proxies() {
    let app = spawn_app().await;
    let t = app.create_tenant("alpha").await;
    let r = bare_client(app.addr)
        .get(app.url("alpha.clinics.test", "/api/v1/me"))
        .header("X-Forwarded-For", "198.51.100.23")
        .bearer_auth("cbx_notarealtoken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let ip: String = sqlx::query_scalar(&format!(
        "SELECT host(ip) FROM {}_audit.audit_log WHERE action = 'auth.token_refused'",
        t.db.schema.as_str()
    ))
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(ip, "127.0.0.1");
}
