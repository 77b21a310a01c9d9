//! `cargo bench --bench visits [-- PATIENTS]`: the consultation's latencies over HTTP (plain, on
//! loopback, one request at a time, each with its audit row), in a clinic with PATIENTS
//! patients (default 100,000) of whom one has 1,000 visits (each with vitals and a diagnosis):
//!
//! 1. the chart of that patient (`GET /patients/{id}`, a doctor: visits, problems, vitals and
//!    the trend plots) — target p95 ≤ 50 ms;
//! 2. saving a visit's note as the page's autosave does (`POST /visits/{id}`, `X-Autosave`) —
//!    target p95 ≤ 30 ms;
//! 3. the diagnosis code search over ICD-10-CM (`GET /api/v1/codes?q=…`, words, fragments and
//!    codes) — target p95 ≤ 20 ms; and the same search in the database alone.
//!
//! PostgreSQL runs with fsync on (saves are real commits), in a temp dir.

mod common;

use std::time::Instant;

use clinicbox::db::TenantDb;
use clinicbox::domain::auth::{Accounts, Role, service};
use common::{BoxError, csrf_of, report, setup};

const PASSWORD: &str = "velvet-harbor-piano-73";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let b = setup(false).await?;
    let t = b.tenant("alpha").await?;
    let started = Instant::now();
    clinicbox::ops::seed::bulk_patients(&b.db, &t, n, |_| {}).await?;
    eprintln!("{n} patients in {:.0} s", started.elapsed().as_secs_f64());
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let email = "doctor@alpha.test";
    let doctor = service::create_account(
        &mut tx,
        Accounts::Staff,
        email,
        "Bench Doctor",
        Some(Role::Doctor),
        Some(PASSWORD),
        &[],
        clinicbox::ops::clock::SystemClock.now(),
    )
    .await?
    .0
    .id;
    // One patient with 1,000 signed visits over ~8 years, each with vitals and a diagnosis.
    let patient: i64 = sqlx::query_scalar("SELECT min(id) FROM patients")
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO visits (patient_id, clinician_id, started_at, complaint, examination, plan,
                             version, updated_at, updated_by, signed_at, signed_by)
         SELECT $1, $2, now() - (g * interval '3 days'), 'Follow-up ' || g, 'BP checked',
                'Continue treatment', 2, now() - (g * interval '3 days'), $2,
                now() - (g * interval '3 days') + interval '20 minutes', $2
           FROM generate_series(1, 1000) g",
    )
    .bind(patient)
    .bind(doctor)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    let unsigned = sqlx::query_scalar::<_, i64>(
        "INSERT INTO visits (patient_id, clinician_id, started_at, updated_at, updated_by)
         VALUES ($1, $2, now(), now(), $2) RETURNING id",
    )
    .bind(patient)
    .bind(doctor)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    seed_children(&b, &t, patient, doctor).await?;
    sqlx::query("ANALYZE").execute(&b.db.pool).await?;

    let addr = b.serve().await?;
    let c = common::client(addr, true)?;
    let base = format!("http://alpha.clinics.test:{}", addr.port());
    let page = c.get(format!("{base}/login")).send().await?.text().await?;
    let r = c
        .post(format!("{base}/login"))
        .header("Origin", &base)
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

    println!("the consultation over HTTP, one request at a time, {n} patients:");
    // 1. The chart.
    let chart = format!("{base}/patients/{patient}");
    for _ in 0..20 {
        c.get(&chart).send().await?.bytes().await?;
    }
    let mut v = Vec::new();
    for _ in 0..300 {
        let s = Instant::now();
        let r = c.get(&chart).send().await?;
        let status = r.status();
        let body = r.bytes().await?;
        v.push(s.elapsed());
        if !status.is_success() || body.len() < 10_000 {
            return Err(format!("chart: {status}, {} bytes", body.len()).into());
        }
    }
    report("chart of a patient with 1,000 visits", v, Some(50.0));

    // 2. Autosave.
    let visit_url = format!("{base}/visits/{unsigned}");
    let page = c.get(&visit_url).send().await?.text().await?;
    let csrf = csrf_of(&page);
    let mut version = 1i64;
    let mut v = Vec::new();
    for i in 0..320 {
        let text = format!("Complaint typed so far, keystroke {i}");
        let s = Instant::now();
        let r = c
            .post(&visit_url)
            .header("Origin", &base)
            .header("X-Autosave", "1")
            .form(&[
                ("_csrf", csrf.as_str()),
                ("version", version.to_string().as_str()),
                ("complaint", text.as_str()),
            ])
            .send()
            .await?;
        let status = r.status();
        let j: serde_json::Value = r.json().await?;
        if i >= 20 {
            v.push(s.elapsed());
        }
        version = j["version"].as_i64().ok_or(format!("save: {status} {j}"))?;
    }
    report("visit note saved (autosave, fsync on)", v, Some(30.0));

    // 3. Code search.
    let qs = [
        "dia mel",
        "hypert",
        "asthma",
        "E11.9",
        "fever",
        "gastr",
        "urin inf",
        "low back",
        "pneum",
        "J45",
        "typhoid",
        "head",
        "otitis med",
        "conjunct",
        "anaem",
        "I10",
        "cough",
        "derma",
        "preg",
        "fract rad",
    ];
    for q in qs {
        c.get(format!("{base}/api/v1/codes?q={q}"))
            .send()
            .await?
            .bytes()
            .await?;
    }
    let mut v = Vec::new();
    for i in 0..400 {
        let q = qs[i % qs.len()];
        let s = Instant::now();
        let r = c.get(format!("{base}/api/v1/codes?q={q}")).send().await?;
        let status = r.status();
        r.bytes().await?;
        v.push(s.elapsed());
        if !status.is_success() {
            return Err(format!("codes: {status}").into());
        }
    }
    report(
        "code search over HTTP (ICD-10-CM, 95,622 codes)",
        v,
        Some(20.0),
    );
    // The same search as the domain runs it (clinic transaction, setting, queries), no HTTP.
    let clinic = clinicbox::domain::clinic::Clinic::new(
        b.db.pool.clone(),
        t.db.clone(),
        clinicbox::domain::audit::Actor::System,
        clinicbox::domain::audit::Context::system(clinicbox::ops::clock::SystemClock.now()),
    );
    let mut v = Vec::new();
    for i in 0..400 {
        let s = Instant::now();
        clinicbox::domain::visits::work::search_codes(&clinic, qs[i % qs.len()], 15).await?;
        v.push(s.elapsed());
    }
    report("code search in the domain (no HTTP)", v, None);
    Ok(())
}

/// Vitals and a diagnosis for each of the patient's visits (triggers off for the bulk load: the
/// visits are signed already).
async fn seed_children(
    b: &common::Bench,
    t: &clinicbox::domain::tenants::Tenant,
    patient: i64,
    doctor: i64,
) -> Result<(), BoxError> {
    // The database refuses to add anything to a signed visit, and the clinic role may not
    // switch that off: the bench's superuser does, for the bulk load only.
    let su = clinicbox::db::pool_options(1)
        .connect(&b.cluster.superuser_url("clinicbox"))
        .await?;
    let s = t.db.schema.as_str().to_owned();
    for sql in [
        format!("ALTER TABLE {s}.vitals DISABLE TRIGGER vitals_of_signed_visit"),
        format!("ALTER TABLE {s}.visit_diagnoses DISABLE TRIGGER visit_diagnoses_of_signed_visit"),
        format!(
            "INSERT INTO {s}.vitals (patient_id, visit_id, taken_at, taken_by, systolic, diastolic,
                                     pulse, weight_g, height_mm)
             SELECT v.patient_id, v.id, v.started_at, {doctor}, 120 + (v.id % 30), 80 + (v.id % 10),
                    70 + (v.id % 20), 70000 + (v.id % 50) * 100, 1700
               FROM {s}.visits v WHERE v.patient_id = {patient} AND v.signed_at IS NOT NULL"
        ),
        format!(
            "INSERT INTO {s}.visit_diagnoses (visit_id, code_system, code, title, is_primary, added_at)
             SELECT v.id, 'icd10cm', 'I10', 'Essential (primary) hypertension', true, v.started_at
               FROM {s}.visits v WHERE v.patient_id = {patient} AND v.signed_at IS NOT NULL"
        ),
        format!(
            "INSERT INTO {s}.problems (patient_id, code_system, code, title, noted_on)
             VALUES ({patient}, 'icd10cm', 'I10', 'Essential (primary) hypertension', current_date - 2900)"
        ),
        format!("ALTER TABLE {s}.vitals ENABLE TRIGGER vitals_of_signed_visit"),
        format!("ALTER TABLE {s}.visit_diagnoses ENABLE TRIGGER visit_diagnoses_of_signed_visit"),
    ] {
        sqlx::query(&sql).execute(&su).await?;
    }
    su.close().await;
    Ok(())
}
