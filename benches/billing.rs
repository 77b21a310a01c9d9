//! `cargo bench --bench billing [-- INVOICES]`: the cash desk over HTTP (plain, on loopback),
//! PostgreSQL with fsync on, in a clinic with a year of billing (INVOICES issued invoices,
//! default 100,000, each with a line and a payment) and 10,000 patients:
//!
//! 1. issue-and-pay with 16 clients at once: each bills a patient (a draft, a line, issue,
//!    a cash payment: four requests, each its own transaction and audit row) — p50/p95 of
//!    issuing plus paying, and bills per second;
//! 2. the day report (`GET /api/v1/reports/day?date=…`) of a day in the middle of that year —
//!    target p95 ≤ 200 ms.
//!
//! Afterwards it checks that the numbers issued under load are gap-free.

mod common;

use std::time::Instant;

use clinicbox::db::TenantDb;
use clinicbox::domain::auth::{Accounts, Role, service};
use common::{BoxError, csrf_of, report, setup};

const PASSWORD: &str = "velvet-harbor-piano-73";
const CLIENTS: usize = 16;
const BILLS_EACH: usize = 40;

/// A signed-in client and its CSRF token.
async fn sign_in(
    addr: std::net::SocketAddr,
    base: &str,
    email: &str,
) -> Result<(reqwest::Client, String), BoxError> {
    let c = common::client(addr, true)?;
    let page = c.get(format!("{base}/login")).send().await?.text().await?;
    let r = c
        .post(format!("{base}/login"))
        .header("Origin", base)
        .form(&[
            ("_csrf", csrf_of(&page).as_str()),
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await?;
    if !r.status().is_redirection() {
        return Err(format!("sign-in failed: {}", r.status()).into());
    }
    let page = c
        .get(format!("{base}/account"))
        .send()
        .await?
        .text()
        .await?;
    Ok((c, csrf_of(&page)))
}

async fn post(
    c: &reqwest::Client,
    base: &str,
    csrf: &str,
    path: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, BoxError> {
    let r = c
        .post(format!("{base}{path}"))
        .header("Origin", base)
        .header("X-CSRF-Token", csrf)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let j: serde_json::Value = r.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("POST {path}: {status} {j}").into());
    }
    Ok(j)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let b = setup(false).await?;
    let t = b.tenant("alpha").await?;
    clinicbox::ops::seed::bulk_patients(&b.db, &t, 10_000, |_| {}).await?;
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let email = "billing@alpha.test";
    let cashier = service::create_account(
        &mut tx,
        Accounts::Staff,
        email,
        "Bench Cashier",
        Some(Role::Billing),
        Some(PASSWORD),
        &[],
        clinicbox::ops::clock::SystemClock.now(),
    )
    .await?
    .0
    .id;
    let service: i64 = sqlx::query_scalar(
        "INSERT INTO services (code, name, price, tax_bp) VALUES ('CONS', 'Consultation', 50000, 1300)
         RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;

    // A year of billing, ending yesterday: invoices spread over 365 days, each with a line and a
    // receipt (cash, card or wallet) in a shift of that day.
    let started = Instant::now();
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    sqlx::raw_sql(&format!(
        "INSERT INTO cash_shifts (cashier_id, opened_at, opening_float, closed_at, counted, counted_cash, expected_cash)
         SELECT {cashier}, d + interval '8 hours', 0, d + interval '18 hours', '{{}}', 0, 0
           FROM generate_series(date_trunc('day', now()) - interval '365 days',
                                date_trunc('day', now()) - interval '1 day', interval '1 day') d;
         CREATE TEMP TABLE year_bills AS
         SELECT g, date_trunc('day', now()) - interval '365 days'
                   + (g * (365.0 * 86400 / {n})) * interval '1 second' AS at,
                1 + (g % 10000) AS patient
           FROM generate_series(0, {n} - 1) g;
         INSERT INTO invoices (kind, patient_id, status, fiscal_year, seq, number, currency,
                               gross, net, tax, total, created_at, created_by, issued_at, issued_by)
         SELECT 'invoice', patient, 'issued', 'Y', g + 1, 'INV-Y-' || (g + 1), 'NPR',
                50000, 50000, 6500, 56500, at, {cashier}, at, {cashier}
           FROM year_bills;
         ALTER TABLE invoice_lines DISABLE TRIGGER invoice_lines_of_issued;
         INSERT INTO invoice_lines (invoice_id, service_id, code, description, quantity, unit_price,
                                    tax_bp, net, tax, total, added_at)
         SELECT i.id, {service}, 'CONS', 'Consultation', 1, 50000, 1300, 50000, 6500, 56500, i.issued_at
           FROM invoices i;
         ALTER TABLE invoice_lines ENABLE TRIGGER invoice_lines_of_issued;
         INSERT INTO payments (kind, fiscal_year, seq, number, patient_id, method, amount, currency,
                               shift_id, received_at, received_by)
         SELECT 'receipt', 'Y', i.seq, 'RCP-Y-' || i.seq, i.patient_id,
                (ARRAY['cash', 'card', 'wallet'])[1 + i.seq % 3], 56500, 'NPR',
                (SELECT s.id FROM cash_shifts s WHERE s.opened_at::date = i.issued_at::date),
                i.issued_at + interval '2 minutes', {cashier}
           FROM invoices i;
         INSERT INTO payment_allocations (payment_id, invoice_id, amount, at, by_user)
         SELECT p.id, i.id, 56500, p.received_at, {cashier}
           FROM payments p JOIN invoices i ON i.seq = p.seq AND i.fiscal_year = 'Y';"
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(&b.db.pool).await?;
    eprintln!(
        "{n} invoices, lines, payments over a year in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let addr = b.serve().await?;
    let base = format!("http://alpha.clinics.test:{}", addr.port());
    let (c, csrf) = sign_in(addr, &base, email).await?;
    post(
        &c,
        &base,
        &csrf,
        "/api/v1/shifts",
        serde_json::json!({ "float": "0" }),
    )
    .await?;

    // 2 first: the day report, while the database holds only the year.
    let day = (clinicbox::ops::clock::SystemClock.now() - chrono::Duration::days(180))
        .date_naive()
        .to_string();
    let url = format!("{base}/api/v1/reports/day?date={day}");
    let mut v = Vec::new();
    let mut invoices_that_day = 0;
    for i in 0..60 {
        let s = Instant::now();
        let r = c.get(&url).send().await?;
        let status = r.status();
        let j: serde_json::Value = r.json().await?;
        if i >= 10 {
            v.push(s.elapsed());
        }
        if !status.is_success() {
            return Err(format!("day report: {status} {j}").into());
        }
        invoices_that_day = j["report"]["invoices"].as_i64().unwrap_or_default();
    }
    println!("the cash desk over HTTP, {n} invoices over a year:");
    report(
        &format!("day report ({invoices_that_day} invoices that day)"),
        v,
        Some(200.0),
    );

    // 1. Issue-and-pay with 16 clients.
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(sign_in(addr, &base, email).await?);
    }
    let started = Instant::now();
    let tasks = clients.into_iter().enumerate().map(|(k, (c, csrf))| {
        let base = base.clone();
        tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in 0..BILLS_EACH {
                let patient = 1 + ((k * BILLS_EACH + i) % 10_000) as i64;
                let inv = post(
                    &c,
                    &base,
                    &csrf,
                    &format!("/api/v1/patients/{patient}/invoices"),
                    serde_json::json!({}),
                )
                .await?["id"]
                    .as_i64()
                    .unwrap_or_default();
                post(
                    &c,
                    &base,
                    &csrf,
                    &format!("/api/v1/invoices/{inv}/lines"),
                    serde_json::json!({ "service_id": service.to_string() }),
                )
                .await?;
                let s = Instant::now();
                post(
                    &c,
                    &base,
                    &csrf,
                    &format!("/api/v1/invoices/{inv}/issue"),
                    serde_json::json!({}),
                )
                .await?;
                post(
                    &c,
                    &base,
                    &csrf,
                    &format!("/api/v1/invoices/{inv}/payments"),
                    serde_json::json!({ "method": "cash", "amount": "565" }),
                )
                .await?;
                lat.push(s.elapsed());
            }
            Ok::<_, BoxError>(lat)
        })
    });
    let mut all = Vec::new();
    for r in futures::future::join_all(tasks).await {
        all.extend(r.map_err(|e| format!("client: {e}"))??);
    }
    let took = started.elapsed().as_secs_f64();
    let bills = all.len();
    report(&format!("issue + pay, {CLIENTS} clients"), all, None);
    println!(
        "  {bills} bills (draft, line, issue, pay: {} requests) in {took:.1} s: {:.0} bills/s, {:.0} requests/s",
        bills * 4,
        bills as f64 / took,
        (bills * 4) as f64 / took
    );
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let (count, max, distinct): (i64, Option<i32>, i64) = sqlx::query_as(
        "SELECT count(*), max(seq), count(DISTINCT seq) FROM invoices WHERE fiscal_year <> 'Y' AND status = 'issued'",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    println!(
        "  numbers issued under load: {count}, highest {}, distinct {distinct}: {}",
        max.unwrap_or_default(),
        if Some(count as i32) == max && distinct == count {
            "gap-free"
        } else {
            "GAPS"
        }
    );
    Ok(())
}
