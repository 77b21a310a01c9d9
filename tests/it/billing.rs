//! Billing over real HTTP and a real PostgreSQL: a visit billed, issued, paid in parts and
//! printed; the cash shift closed and the day report reconciled; cancelling, credit notes,
//! deposits and refunds (refused without `billing_manage`); numbers that stay gap-free under
//! concurrent issuing with transactions rolled back on purpose; issued invoices the database
//! itself refuses to change.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{Clinic, clinic, patient, walk_in_visit};
use crate::helpers::{TestApp, spawn_app};

async fn api(b: &mut Browser, m: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let body = if m == Method::GET { None } else { Some(body) };
    let r = b.api(m, path, body).await;
    (r.status, r.json())
}

async fn service(admin: &mut Browser, code: &str, price: &str, tax: &str) -> i64 {
    let (s, v) = api(
        admin,
        Method::POST,
        "/api/v1/services",
        json!({ "code": code, "name": format!("Service {code}"), "price": price, "tax": tax }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_i64().unwrap()
}

async fn setup() -> (TestApp, Clinic, Browser, Browser, i64) {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "Asia/Kathmandu").await;
    let host = TestApp::clinic_host("alpha");
    let admin = Browser::login_as(&app, &host, &c.admin).await;
    let billing = Browser::login_as(&app, &host, &c.billing).await;
    let p = patient(&app, &c.t, "Sita", "Sharma", Some("1985-04-02"), None).await;
    (app, c, admin, billing, p)
}

async fn invoice_of(b: &mut Browser, id: i64) -> Value {
    let (s, v) = api(
        b,
        Method::GET,
        &format!("/api/v1/invoices/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn a_visit_is_billed_paid_in_two_parts_printed_and_the_shift_reconciles() {
    let (app, c, mut admin, mut b, p) = setup().await;
    let consult = service(&mut admin, "CONS", "500", "0").await;
    let xray = service(&mut admin, "XR", "1,200", "13").await;
    // The consultation type bills the consultation by default.
    let r = admin
        .post(
            "/settings/billing",
            &[
                ("types", "1"),
                (&format!("type_{}", c.consult), &consult.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut reception = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.reception).await;
    // The next weekday, 09:45 in Kathmandu (the doctor works Monday to Friday).
    let mut day = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    while chrono::Datelike::weekday(&day).number_from_monday() > 5 {
        day += chrono::Duration::days(1);
    }
    let appointment = crate::helpers::clinic::book_with_doctor(
        &mut reception,
        &c,
        p,
        &day.format("%Y-%m-%dT04:00:00Z").to_string(),
    )
    .await;
    let mut doctor = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.doctor).await;
    let (s, v) = api(
        &mut doctor,
        Method::POST,
        &format!("/api/v1/appointments/{appointment}/visit"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let visit = v["id"].as_i64().unwrap();

    // The desk lists the visit to bill; "Bill" makes its invoice with the type's service.
    let desk = b.get("/billing").await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(
        desk.contains(&format!("/visits/{visit}/invoice")),
        "{}",
        desk.body
    );
    let r = b.post(&format!("/visits/{visit}/invoice"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let inv_path = r.location.clone().unwrap();
    let inv: i64 = inv_path.rsplit('/').next().unwrap().parse().unwrap();
    let v = invoice_of(&mut b, inv).await;
    assert_eq!(v["invoice"]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(v["invoice"]["lines"][0]["code"], "CONS");
    // Again: the same invoice, not a second one.
    let r = b.post(&format!("/visits/{visit}/invoice"), &[]).await;
    assert_eq!(r.location.as_deref(), Some(inv_path.as_str()));

    // An X-ray with a 10 % line discount needs a reason; with it, the figures follow the rule.
    let r = b
        .post(
            &format!("/invoices/{inv}/lines"),
            &[("service_id", &xray.to_string()), ("discount", "10%")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("Say why the discount is given"), "{}", r.body);
    assert!(r.contains("value=\"10%\""), "what was typed is kept");
    let r = b
        .post(
            &format!("/invoices/{inv}/lines"),
            &[
                ("service_id", &xray.to_string()),
                ("discount", "10%"),
                ("discount_reason", "staff family"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = b
        .post(
            &format!("/invoices/{inv}/lines"),
            &[("description", "Dressing"), ("price", "abc")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("Enter an amount"), "{}", r.body);
    let r = b.post(&format!("/invoices/{inv}/issue"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let v = invoice_of(&mut b, inv).await;
    // 500 exempt + (1200 − 120) × 1.13 = 500 + 1080 + 140.40 = 1720.40
    assert_eq!(v["invoice"]["totals"]["total"], 172_040, "{v}");
    assert_eq!(v["invoice"]["totals"]["tax"], 14_040);
    assert_eq!(v["state"], "unpaid");
    let number = v["invoice"]["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("INV-20"), "{number}");
    assert!(number.ends_with("-00001"), "{number}");

    // Cash needs an open shift.
    let r = b
        .post(
            &format!("/invoices/{inv}/payments"),
            &[("method", "cash"), ("amount", "1000")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.contains("Open your cash shift"), "{}", r.body);
    let r = b.post("/shifts", &[("float", "2,000")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // More than is due is refused next to the field, with the amount due.
    let r = b
        .post(
            &format!("/invoices/{inv}/payments"),
            &[("method", "cash"), ("amount", "5000")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("more than is due (Rs. 1,720.40)"), "{}", r.body);
    let r = b
        .post(
            &format!("/invoices/{inv}/payments"),
            &[("method", "cash"), ("amount", "1000")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(invoice_of(&mut b, inv).await["state"], "partly_paid");
    // A wallet payment without its transaction number is refused; with it, the rest is paid.
    let r = b
        .post(
            &format!("/invoices/{inv}/payments"),
            &[("method", "wallet"), ("amount", "720.40")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = b
        .post(
            &format!("/invoices/{inv}/payments"),
            &[
                ("method", "wallet"),
                ("amount", "720.40"),
                ("reference", "ESW-77812"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let v = invoice_of(&mut b, inv).await;
    assert_eq!(v["state"], "paid");
    assert_eq!(v["due"], 0);
    let receipts: Vec<i64> = v["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(receipts.len(), 2);

    // The thermal receipt: letterhead, patient, amount in words; the second print is a copy.
    app.set_setting(&c.t, "letterhead.tax_number", json!("PAN 600123456"))
        .await;
    let r = b
        .get(&format!("/payments/{}/print?paper=thermal", receipts[1]))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.contains("paper-thermal"));
    assert!(r.contains("PAN 600123456"));
    assert!(r.contains("Sita Sharma"));
    assert!(
        r.contains("Rupees Seven Hundred Twenty and Forty Paisa Only"),
        "{}",
        r.body
    );
    assert!(!r.contains("copy-of-original"));
    let r = b
        .get(&format!("/payments/{}/print?paper=thermal", receipts[1]))
        .await;
    assert!(r.contains("copy-of-original"), "{}", r.body);
    let r = b.get(&format!("/invoices/{inv}/print?paper=a4")).await;
    assert!(
        r.contains("One Thousand Seven Hundred Twenty and Forty Paisa"),
        "{}",
        r.body
    );
    assert!(r.contains(&number));
    let prints: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.billing_prints")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(prints, 3);
    assert_eq!(
        b.get("/invoices/999999/print?paper=a4").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(&format!("/invoices/{inv}/print?paper=letter"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    // Closing the shift: 2,000 float + 1,000 cash expected; counted 1000×2 + 500×1 + 100×4 +
    // 50×2 = 3,000 → no variance.
    let shift: i64 = sqlx::query_scalar("SELECT id FROM tenant_alpha.cash_shifts")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    let page = b.get(&format!("/shifts/{shift}")).await;
    assert!(page.contains("Rs. 3,000.00"), "{}", page.body);
    // A count that differs needs a note.
    let r = b
        .post(
            &format!("/shifts/{shift}/close"),
            &[("n1000", "2"), ("n500", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("say why"), "{}", r.body);
    assert!(r.contains("value=\"2\""), "the count typed is kept");
    let r = b
        .post(
            &format!("/shifts/{shift}/close"),
            &[("n1000", "2"), ("n500", "1"), ("n100", "4"), ("n50", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, s) = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/shifts/{shift}"),
        json!(null),
    )
    .await;
    assert_eq!(s["counted_cash"], 300_000);
    assert_eq!(s["expected_cash"], 300_000);

    // The day report: what the shift took, by method and by cashier.
    let (st, d) = api(&mut b, Method::GET, "/api/v1/reports/day", json!(null)).await;
    assert_eq!(st, StatusCode::OK, "{d}");
    let by = |m: &str| {
        d["report"]["by_method"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["method"] == m)
            .unwrap()["amount"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(by("cash"), 100_000);
    assert_eq!(by("wallet"), 72_040);
    assert_eq!(d["report"]["invoiced"], 172_040);
    assert_eq!(d["report"]["by_cashier"][0]["amount"], 172_040);
    let page = b.get("/billing/day").await;
    assert!(page.contains("Rs. 1,720.40"), "{}", page.body);

    // One audit row for each read and write, all naming the patient where they concern one.
    let rows = app.audit_rows(&c.t).await;
    for a in [
        "invoice.create",
        "invoice.issue",
        "payment.receive",
        "payment.print",
        "shift.close",
    ] {
        assert!(rows.iter().any(|r| r.action == a), "no {a}");
    }
    assert!(
        rows.iter()
            .filter(|r| r.action.starts_with("invoice.") || r.action.starts_with("payment."))
            .all(|r| r.patient_id == Some(p)),
        "{rows:?}"
    );
}

#[tokio::test]
async fn an_issued_invoice_is_final_in_the_database() {
    let (app, c, _admin, _b, p) = setup().await;
    let bill = crate::helpers::clinic::billed(&app, &c, "alpha", p).await;
    for sql in [
        "UPDATE tenant_alpha.invoices SET total = 1 WHERE id = $1",
        "UPDATE tenant_alpha.invoice_lines SET unit_price = 1 WHERE invoice_id = $1",
        "DELETE FROM tenant_alpha.invoices WHERE id = $1",
        "DELETE FROM tenant_alpha.invoice_lines WHERE invoice_id = $1",
        "DELETE FROM tenant_alpha.payment_allocations WHERE invoice_id = $1",
    ] {
        let e = sqlx::query(sql)
            .bind(bill.invoice)
            .execute(&app.admin)
            .await
            .expect_err(sql);
        assert!(
            e.to_string().contains("cannot change") || e.to_string().contains("final"),
            "{sql}: {e}"
        );
    }
    let e = sqlx::query("UPDATE tenant_alpha.payments SET amount = 1 WHERE id = $1")
        .bind(bill.payment)
        .execute(&app.admin)
        .await
        .expect_err("payments are final");
    assert!(e.to_string().contains("final"), "{e}");
}

#[tokio::test]
async fn cancelling_crediting_and_refunds() {
    let (app, c, mut admin, mut b, p) = setup().await;
    let bill = crate::helpers::clinic::billed(&app, &c, "alpha", p).await;
    let inv = bill.invoice;
    // Rs. 565 (500 + 13 %), Rs. 100 paid in cash. A cancellation needs a reason.
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/cancel"),
        json!({ "reason": " " }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["errors"]["cancel_reason"].is_string(), "{v}");
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/cancel"),
        json!({ "reason": "billed the wrong patient" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let v = invoice_of(&mut b, inv).await;
    assert_eq!(v["state"], "cancelled");
    assert_eq!(v["invoice"]["paid"], 0);
    // The Rs. 100 is now the patient's credit; a cancelled invoice takes no payment.
    let (_, acct) = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/patients/{p}/invoices"),
        json!(null),
    )
    .await;
    assert_eq!(acct["balance"]["credit"], 10_000, "{acct}");
    assert_eq!(acct["balance"]["due"], 0);
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/payments"),
        json!({ "method": "card", "amount": "1" }),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Billing staff cannot refund (403 before anything is read); the billing manager can, by
    // the receipt's own method, and no more than is free.
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/payments/{}/refunds", bill.payment),
        json!({ "amount": "100", "reason": "cancelled" }),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = b
        .post(
            &format!("/payments/{}/refund", bill.payment),
            &[("refund_amount", "100"), ("refund_reason", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (s, v) = api(
        &mut admin,
        Method::POST,
        &format!("/api/v1/payments/{}/refunds", bill.payment),
        json!({ "amount": "150", "reason": "cancelled" }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["errors"]["refund_amount"]
            .as_str()
            .unwrap()
            .contains("Rs. 100.00"),
        "{v}"
    );
    // The admin has no drawer: the cash comes out of the receipt's shift, still open.
    let (s, v) = api(
        &mut admin,
        Method::POST,
        &format!("/api/v1/payments/{}/refunds", bill.payment),
        json!({ "amount": "100", "reason": "cancelled" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, refund) = api(
        &mut admin,
        Method::GET,
        &format!("/api/v1/payments/{}", v["id"]),
        json!(null),
    )
    .await;
    assert_eq!(refund["method"], "cash");
    assert_eq!(refund["kind"], "refund");
    assert_eq!(refund["shift_id"], bill.shift);
    assert!(
        refund["number"].as_str().unwrap().starts_with("RF-"),
        "{refund}"
    );
    let (_, acct) = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/patients/{p}/invoices"),
        json!(null),
    )
    .await;
    assert_eq!(acct["balance"]["credit"], 0, "{acct}");

    // A second invoice paid in full, then one line credited: the money paid beyond what it
    // still asks for becomes credit, applied to the next invoice by "apply credit".
    let x = service(&mut admin, "LAB", "300", "0").await;
    let (_, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/patients/{p}/invoices"),
        json!({}),
    )
    .await;
    let inv2 = v["id"].as_i64().unwrap();
    for s in [bill.service, x] {
        let (st, v) = api(
            &mut b,
            Method::POST,
            &format!("/api/v1/invoices/{inv2}/lines"),
            json!({ "service_id": s.to_string() }),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv2}/issue"),
        json!({}),
    )
    .await;
    let v = invoice_of(&mut b, inv2).await;
    assert_eq!(v["invoice"]["totals"]["total"], 86_500);
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv2}/payments"),
        json!({ "method": "card", "amount": "865", "reference": "" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let lab_line = v["invoice"]["lines"][1]["id"].as_i64().unwrap();
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv2}/credit-notes"),
        json!({ "lines": [lab_line], "reason": "test not done" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let cn = v["id"].as_i64().unwrap();
    let cnv = invoice_of(&mut b, cn).await;
    assert_eq!(cnv["invoice"]["kind"], "credit_note");
    assert_eq!(cnv["invoice"]["totals"]["total"], 30_000);
    assert!(
        cnv["invoice"]["number"]
            .as_str()
            .unwrap()
            .starts_with("CN-")
    );
    // The same line cannot be credited twice.
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv2}/credit-notes"),
        json!({ "lines": [lab_line], "reason": "again" }),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let v = invoice_of(&mut b, inv2).await;
    assert_eq!(v["invoice"]["paid"], 56_500, "{v}");
    assert_eq!(v["due"], 0);
    let (_, acct) = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/patients/{p}/invoices"),
        json!(null),
    )
    .await;
    assert_eq!(acct["balance"]["credit"], 30_000, "{acct}");
    // A credited invoice is not cancelled as well.
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv2}/cancel"),
        json!({ "reason": "x" }),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // A deposit, then a third invoice paid from the credit.
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/patients/{p}/deposits"),
        json!({ "method": "bank", "amount": "200", "reference": "TRX-1" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/patients/{p}/invoices"),
        json!({}),
    )
    .await;
    let inv3 = v["id"].as_i64().unwrap();
    api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv3}/lines"),
        json!({ "service_id": bill.service.to_string() }),
    )
    .await;
    api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv3}/issue"),
        json!({}),
    )
    .await;
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv3}/apply-credit"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["amount"], 50_000);
    let v = invoice_of(&mut b, inv3).await;
    assert_eq!(v["due"], 6_500);
    // The outstanding balances list: the patient, with what the one invoice still asks.
    let page = b.get("/billing/outstanding").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.contains("Sita Sharma") && page.contains("Rs. 65.00"),
        "{}",
        page.body
    );
    let (_, acct) = api(
        &mut b,
        Method::GET,
        &format!("/api/v1/patients/{p}/invoices"),
        json!(null),
    )
    .await;
    assert_eq!(acct["balance"]["credit"], 0);
    assert_eq!(acct["balance"]["due"], 6_500);

    // A discount above the clinic's limit (10 %) needs the billing manager.
    let (_, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/patients/{p}/invoices"),
        json!({}),
    )
    .await;
    let inv4 = v["id"].as_i64().unwrap();
    api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/lines"),
        json!({ "service_id": x.to_string() }),
    )
    .await;
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/discount"),
        json!({ "discount": "50%", "reason": "hardship" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/issue"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let r = b.post(&format!("/invoices/{inv4}/issue"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.contains("billing manager"), "{}", r.body);
    // Billing staff cannot approve; the manager sees the draft with "Approve the discount".
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/approve-discount"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let page = admin.get(&format!("/invoices/{inv4}")).await;
    assert!(page.contains("id=\"approve-discount\""), "{}", page.body);
    let r = admin
        .post(&format!("/invoices/{inv4}/approve-discount"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A bigger discount after the approval needs approving again.
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/discount"),
        json!({ "discount": "60%", "reason": "hardship" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/issue"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/discount"),
        json!({ "discount": "50%", "reason": "hardship" }),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv4}/issue"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        invoice_of(&mut b, inv4).await["invoice"]["totals"]["total"],
        15_000
    );
}

/// 200 invoices issued by 16 clients at once, every seventh rolled back after it took its
/// number (a trigger fails its issuing): the numbers of those issued are 1‥n without a gap, in
/// the order of their times.
#[tokio::test]
async fn numbers_stay_gap_free_under_concurrent_issuing_with_rollbacks() {
    let (app, c, mut admin, _b, p) = setup().await;
    let s = service(&mut admin, "CONS", "500", "13").await;
    let s_sql = "tenant_alpha";
    // 200 drafts, each with a line; the ones noted "rollback" fail on issue.
    let ids: Vec<i64> = sqlx::query_scalar(&format!(
        "INSERT INTO {s_sql}.invoices (patient_id, currency, created_at, note)
         SELECT $1, 'NPR', now(), CASE WHEN g % 7 = 0 THEN 'rollback' ELSE '' END
           FROM generate_series(1, 200) g RETURNING id"
    ))
    .bind(p)
    .fetch_all(&app.admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO {s_sql}.invoice_lines (invoice_id, service_id, code, description, quantity, unit_price, tax_bp, added_at)
         SELECT id, $1, 'CONS', 'Consultation', 1, 50000, 1300, now() FROM {s_sql}.invoices"
    ))
    .bind(s)
    .execute(&app.admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        "CREATE FUNCTION {s_sql}.fail_on_issue() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.status = 'issued' AND NEW.note = 'rollback' THEN
             PERFORM pg_sleep(0.01);
             RAISE EXCEPTION 'rolled back on purpose';
           END IF;
           RETURN NEW;
         END $$"
    ))
    .execute(&app.admin)
    .await
    .unwrap();
    sqlx::query(&format!(
        "CREATE TRIGGER fail_on_issue BEFORE UPDATE ON {s_sql}.invoices FOR EACH ROW EXECUTE FUNCTION {s_sql}.fail_on_issue()"
    ))
    .execute(&app.admin)
    .await
    .unwrap();

    let host = TestApp::clinic_host("alpha");
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(Browser::login_as(&app, &host, &c.billing).await);
    }
    let chunks: Vec<Vec<i64>> = (0..16)
        .map(|k| ids.iter().copied().skip(k).step_by(16).collect())
        .collect();
    let tasks = clients
        .into_iter()
        .zip(chunks)
        .map(|(mut b, mine)| async move {
            let mut out = Vec::new();
            for id in mine {
                let r = b
                    .api(
                        Method::POST,
                        &format!("/api/v1/invoices/{id}/issue"),
                        Some(json!({})),
                    )
                    .await;
                out.push((id, r.status));
            }
            out
        });
    let results: Vec<(i64, StatusCode)> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    let failed = results.iter().filter(|(_, s)| *s != StatusCode::OK).count();
    assert_eq!(failed, 200 / 7, "{results:?}");
    let rows: Vec<(i32, String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(&format!(
        "SELECT seq, number, issued_at FROM {s_sql}.invoices WHERE status = 'issued' ORDER BY seq"
    ))
    .fetch_all(&app.admin)
    .await
    .unwrap();
    assert_eq!(rows.len(), 200 - 200 / 7);
    for (i, (seq, number, _)) in rows.iter().enumerate() {
        assert_eq!(*seq, i as i32 + 1, "gap before {number}");
        assert!(number.ends_with(&format!("-{:05}", i + 1)), "{number}");
    }
    assert!(
        rows.windows(2).all(|w| w[0].2 <= w[1].2),
        "numbers out of date order"
    );
    let drafts: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {s_sql}.invoices WHERE status = 'draft' AND note = 'rollback'"
    ))
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(drafts, (200 / 7) as i64, "the rolled back stay drafts");
}

/// A small deterministic generator, so that the property below is repeatable.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Random payments (methods, amounts, deposits, a refund) by two cashiers: what their shifts
/// took by method adds up to the day report, by method and in total.
#[tokio::test]
async fn the_shifts_payments_add_up_to_the_day_report() {
    let (app, c, mut admin, mut b, p) = setup().await;
    let s = service(&mut admin, "CONS", "999.99", "13").await;
    let host = TestApp::clinic_host("alpha");
    let second = app
        .create_staff(&c.t, clinicbox::domain::auth::Role::Receptionist)
        .await;
    let mut r2 = Browser::login_as(&app, &host, &second).await;
    for who in [&mut b, &mut r2] {
        let (st, v) = api(
            who,
            Method::POST,
            "/api/v1/shifts",
            json!({ "float": "1000" }),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
    }
    let methods = ["cash", "card", "wallet", "bank", "insurance"];
    let mut rng = Lcg(20_261_202);
    let mut expected = std::collections::HashMap::<&str, i64>::new();
    let patients: Vec<i64> = {
        let mut v = vec![p];
        for i in 0..3 {
            v.push(patient(&app, &c.t, "Ram", &format!("Thapa{i}"), None, None).await);
        }
        v
    };
    for round in 0..24 {
        let who = if rng.next(2) == 0 { &mut b } else { &mut r2 };
        let pt = patients[rng.next(patients.len() as u64) as usize];
        let (_, v) = api(
            who,
            Method::POST,
            &format!("/api/v1/patients/{pt}/invoices"),
            json!({}),
        )
        .await;
        let inv = v["id"].as_i64().unwrap();
        let qty = 1 + rng.next(3);
        api(
            who,
            Method::POST,
            &format!("/api/v1/invoices/{inv}/lines"),
            json!({ "service_id": s.to_string(), "quantity": qty.to_string() }),
        )
        .await;
        let (st, v) = api(
            who,
            Method::POST,
            &format!("/api/v1/invoices/{inv}/issue"),
            json!({}),
        )
        .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let mut due = invoice_of(who, inv).await["due"].as_i64().unwrap();
        // One to three payments of random parts.
        for k in 0..(1 + rng.next(3)) {
            if due == 0 {
                break;
            }
            let amount = if k == 2 {
                due
            } else {
                1 + rng.next(due as u64) as i64
            };
            let m = methods[rng.next(5) as usize];
            let (st, v) = api(
                who,
                Method::POST,
                &format!("/api/v1/invoices/{inv}/payments"),
                json!({ "method": m, "amount": format!("{}.{:02}", amount / 100, amount % 100), "reference": format!("R{round}{k}") }),
            )
            .await;
            assert_eq!(st, StatusCode::CREATED, "{v}");
            *expected.entry(m).or_default() += amount;
            due -= amount;
        }
    }
    // A deposit, partly refunded by the manager from the cashier's shift it was paid into.
    let (_, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/patients/{p}/deposits"),
        json!({ "method": "cash", "amount": "500" }),
    )
    .await;
    *expected.entry("cash").or_default() += 50_000;
    let (st, _) = api(
        &mut admin,
        Method::POST,
        &format!("/api/v1/payments/{}/refunds", v["id"]),
        json!({ "amount": "120.50", "reason": "changed plan" }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    *expected.entry("cash").or_default() -= 12_050;

    let (_, d) = api(&mut admin, Method::GET, "/api/v1/reports/day", json!(null)).await;
    let mut by_shift = std::collections::HashMap::<String, i64>::new();
    for sh in d["shifts"].as_array().unwrap() {
        for t in sh["by_method"].as_array().unwrap() {
            *by_shift
                .entry(t["method"].as_str().unwrap().to_owned())
                .or_default() += t["amount"].as_i64().unwrap();
        }
    }
    assert_eq!(d["shifts"].as_array().unwrap().len(), 2);
    for t in d["report"]["by_method"].as_array().unwrap() {
        let m = t["method"].as_str().unwrap();
        let a = t["amount"].as_i64().unwrap();
        assert_eq!(a, expected.get(m).copied().unwrap_or_default(), "{m}");
        assert_eq!(
            a,
            by_shift.get(m).copied().unwrap_or_default(),
            "{m}: shifts and day differ"
        );
    }
    let cashiers: i64 = d["report"]["by_cashier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(cashiers, expected.values().sum::<i64>());
}

#[tokio::test]
async fn price_list_and_billing_settings_check_what_is_typed() {
    let (_app, _c, mut admin, mut b, _p) = setup().await;
    let r = admin
        .post(
            "/settings/services",
            &[
                ("code", "-bad"),
                ("name", ""),
                ("price", "12.345"),
                ("tax", "150"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for m in [
        "starting with a letter or digit",
        "at most two decimals",
        "from 0 to 100",
    ] {
        assert!(r.contains(m), "{m}: {}", r.body);
    }
    assert!(r.contains("value=\"12.345\""), "what was typed is kept");
    let r = admin
        .post(
            "/settings/services",
            &[
                ("code", "XR"),
                ("name", "X-ray"),
                ("price", "1200"),
                ("tax", "13"),
                ("active", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = admin
        .post(
            "/settings/services",
            &[("code", "xr"), ("name", "Other"), ("price", "1")],
        )
        .await;
    assert!(r.contains("Another service has this code"), "{}", r.body);
    let page = admin.get("/settings/services").await;
    assert!(
        page.contains("Rs. 1,200.00") && page.contains("13%"),
        "{}",
        page.body
    );
    // Billing staff see the price list through the API, not the settings page.
    assert_eq!(
        b.get("/settings/services").await.status,
        StatusCode::FORBIDDEN
    );
    let (s, v) = api(&mut b, Method::GET, "/api/v1/services", json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["price"], 120_000);

    let r = admin
        .post(
            "/settings/billing",
            &[
                ("currency", "XYZ"),
                ("fiscal_year_start", "07-16"),
                ("invoice_prefix", "IN V"),
                ("discount_limit", "5"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.contains("Choose a currency") && r.contains("at most 10 letters"),
        "{}",
        r.body
    );
    let r = admin
        .post(
            "/settings/billing",
            &[
                ("currency", "NPR"),
                ("fiscal_year_start", "04-01"),
                ("invoice_prefix", "BILL/"),
                ("credit_prefix", "CN-"),
                ("receipt_prefix", "R-"),
                ("refund_prefix", "RF-"),
                ("discount_limit", "5"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = admin.get("/settings/billing").await;
    assert!(page.contains("value=\"BILL/\""));
}

#[tokio::test]
async fn a_walk_in_visit_can_be_billed_by_hand() {
    let (app, c, _admin, mut b, p) = setup().await;
    let mut doctor = Browser::login_as(&app, &TestApp::clinic_host("alpha"), &c.doctor).await;
    let visit = walk_in_visit(&mut doctor, p).await;
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/visits/{visit}/invoice"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let inv = v["id"].as_i64().unwrap();
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/issue"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "no lines: {v}");
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/lines"),
        json!({ "description": "Dressing", "price": "150", "quantity": "2" }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let line = v["id"].as_i64().unwrap();
    let (s, _) = api(
        &mut b,
        Method::DELETE,
        &format!("/api/v1/invoices/{inv}/lines/{line}"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/lines"),
        json!({ "description": "Dressing", "price": "150", "quantity": "2" }),
    )
    .await;
    let (s, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/issue"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Issued: lines can no longer be added, and the draft cannot be discarded.
    let (s, _) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/lines"),
        json!({ "description": "More", "price": "1" }),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let r = b.post(&format!("/invoices/{inv}/discard"), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let v = invoice_of(&mut b, inv).await;
    assert_eq!(v["invoice"]["totals"]["total"], 30_000);
    let page = b.get(&format!("/patients/{p}/billing")).await;
    assert!(page.contains("Rs. 300.00"), "{}", page.body);
}

/// A draft invoice for `patient` with one line of `service`.
async fn draft_of(who: &mut Browser, patient: i64, service: i64) -> i64 {
    let (_, v) = api(
        who,
        Method::POST,
        &format!("/api/v1/patients/{patient}/invoices"),
        json!({}),
    )
    .await;
    let inv = v["id"].as_i64().unwrap();
    let (st, v) = api(
        who,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/lines"),
        json!({ "service_id": service.to_string(), "quantity": "1" }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    inv
}

/// `draft_of`, issued.
async fn issued_of(who: &mut Browser, patient: i64, service: i64) -> i64 {
    let inv = draft_of(who, patient, service).await;
    let (st, v) = api(
        who,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/issue"),
        json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    inv
}

#[tokio::test]
async fn closing_the_day_freezes_its_totals_and_the_database_keeps_them() {
    let (app, c, mut admin, mut b, p) = setup().await;
    let s = service(&mut admin, "CONS", "500", "").await;
    let (_, sh) = api(
        &mut b,
        Method::POST,
        "/api/v1/shifts",
        json!({ "float": "0" }),
    )
    .await;
    let shift = sh["id"].as_i64().unwrap();
    let inv = issued_of(&mut b, p, s).await;
    let (st, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/payments"),
        json!({ "method": "cash", "amount": "200" }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let draft = draft_of(&mut b, p, s).await;
    let today = "2026-03-02";
    let close = |date: &str, note: &str| json!({ "date": date, "note": note });

    // Refused while the cashier's shift is open, for a day not yet begun, and for bad input.
    let (st, v) = api(
        &mut admin,
        Method::POST,
        "/api/v1/reports/day/close",
        close(today, ""),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("shift"), "{v}");
    let (st, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/shifts/{shift}/close"),
        json!({ "counts": { "100": 2 } }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _) = api(
        &mut admin,
        Method::POST,
        "/api/v1/reports/day/close",
        close("2026-03-03", ""),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    for bad in [close("2026-02-30", ""), close(today, &"x".repeat(501))] {
        let (st, v) = api(&mut admin, Method::POST, "/api/v1/reports/day/close", bad).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    }
    // The receptionist cannot close a day.
    let host = TestApp::clinic_host("alpha");
    let mut desk = Browser::login_as(&app, &host, &c.reception).await;
    let (st, _) = api(
        &mut desk,
        Method::POST,
        "/api/v1/reports/day/close",
        close(today, ""),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    let (_, before) = api(&mut admin, Method::GET, "/api/v1/reports/day", json!(null)).await;
    assert!(before["closed"].is_null(), "{before}");
    let (st, closed) = api(
        &mut b,
        Method::POST,
        "/api/v1/reports/day/close",
        close(today, "all counted"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{closed}");
    assert_eq!(closed["report"], before["report"]);
    assert_eq!(closed["closed"]["note"], "all counted");
    assert_eq!(app.audit_count(&c.t, "day.close").await, 1);
    let (st, _) = api(
        &mut admin,
        Method::POST,
        "/api/v1/reports/day/close",
        close(today, ""),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);

    // Nothing more is dated on the closed day: no payment, issue, cancellation or shift.
    let refused = [
        (
            format!("/api/v1/invoices/{inv}/payments"),
            json!({ "method": "card", "amount": "300" }),
        ),
        (format!("/api/v1/invoices/{draft}/issue"), json!({})),
        (
            format!("/api/v1/invoices/{inv}/cancel"),
            json!({ "reason": "wrong patient" }),
        ),
        ("/api/v1/shifts".to_owned(), json!({ "float": "0" })),
        (
            format!("/api/v1/patients/{p}/deposits"),
            json!({ "method": "cash", "amount": "10" }),
        ),
    ];
    for (path, body) in refused {
        let (st, v) = api(&mut b, Method::POST, &path, body).await;
        assert_eq!(st, StatusCode::CONFLICT, "{path}: {v}");
        assert!(
            v["detail"].as_str().unwrap().contains("closed"),
            "{path}: {v}"
        );
    }
    let (_, after) = api(&mut admin, Method::GET, "/api/v1/reports/day", json!(null)).await;
    assert_eq!(after["report"], before["report"]);
    assert_eq!(after["closed"]["changed_since"], false);

    // The database itself refuses, whatever the application does.
    let e = sqlx::query(
        "INSERT INTO tenant_alpha.payments (kind, fiscal_year, seq, number, patient_id, method, amount, currency, received_at)
         VALUES ('receipt', '2082/83', 999, 'X-999', $1, 'cash', 100, 'NPR', '2026-03-02 10:00:00+00')",
    )
    .bind(p)
    .execute(&app.admin)
    .await
    .expect_err("a payment within a closed day");
    assert!(e.to_string().contains("is closed"), "{e}");
    for sql in [
        "UPDATE tenant_alpha.day_closes SET totals = '{}'",
        "DELETE FROM tenant_alpha.day_closes",
    ] {
        let e = sqlx::query(sql).execute(&app.admin).await.expect_err(sql);
        assert!(e.to_string().contains("final"), "{sql}: {e}");
    }

    // The page says who closed it and offers no second close; the next day is open again.
    let page = b.get("/billing/day").await;
    assert!(
        page.body
            .contains("id=\"day-closed\">Closed at 02 Mar 2026 14:45 by Test billing."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("close-day-button"));
    app.clock.advance(chrono::Duration::days(1));
    let mut b = Browser::login_as(&app, &host, &c.billing).await;
    let (st, v) = api(
        &mut b,
        Method::POST,
        "/api/v1/shifts",
        json!({ "float": "0" }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (st, v) = api(
        &mut b,
        Method::POST,
        &format!("/api/v1/invoices/{inv}/payments"),
        json!({ "method": "card", "amount": "300" }),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let page = b.get("/billing/day").await;
    assert!(page.body.contains("close-day-button"), "{}", page.body);
}

/// Payments racing the day's close: each is either refused ("closed") or counted in the frozen
/// totals, and nothing lands in the day after its close — the close waits for payments in
/// flight and holds new ones back.
#[tokio::test]
async fn payments_racing_the_close_are_counted_or_refused() {
    let (app, c, mut admin, mut b, p) = setup().await;
    let s = service(&mut admin, "CONS", "100", "").await;
    let mut invoices = Vec::new();
    for _ in 0..12 {
        let inv = issued_of(&mut b, p, s).await;
        invoices.push(inv);
    }
    let host = TestApp::clinic_host("alpha");
    let mut clients = Vec::new();
    for _ in 0..invoices.len() {
        clients.push(Browser::login_as(&app, &host, &c.billing).await);
    }
    let pays =
        clients
            .into_iter()
            .zip(invoices)
            .enumerate()
            .map(|(i, (mut who, inv))| async move {
                // Staggered a little so that some start before the close and some after.
                tokio::time::sleep(std::time::Duration::from_millis(3 * i as u64)).await;
                let (st, v) = api(
                    &mut who,
                    Method::POST,
                    &format!("/api/v1/invoices/{inv}/payments"),
                    json!({ "method": "card", "amount": "100", "reference": format!("C{i}") }),
                )
                .await;
                (st, v)
            });
    let close = async {
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        api(
            &mut admin,
            Method::POST,
            "/api/v1/reports/day/close",
            json!({ "date": "2026-03-02" }),
        )
        .await
    };
    let (paid, (st, closed)) = tokio::join!(futures::future::join_all(pays), close);
    assert_eq!(st, StatusCode::OK, "{closed}");
    let mut accepted = 0;
    for (st, v) in &paid {
        assert!(
            matches!(*st, StatusCode::CREATED | StatusCode::CONFLICT),
            "{st}: {v}"
        );
        if *st == StatusCode::CREATED {
            accepted += 10_000;
        } else {
            assert!(v["detail"].as_str().unwrap().contains("closed"), "{v}");
        }
    }
    eprintln!(
        "{} of {} payments before the close",
        accepted / 10_000,
        paid.len()
    );
    assert_eq!(closed["report"]["receipts"].as_i64().unwrap(), accepted);
    let in_day: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(amount), 0)::bigint FROM tenant_alpha.payments
          WHERE received_at >= '2026-03-01 18:15:00+00' AND received_at < '2026-03-02 18:15:00+00'",
    )
    .fetch_one(&app.admin)
    .await
    .unwrap();
    assert_eq!(
        in_day, accepted,
        "nothing landed in the day after its close"
    );
}
