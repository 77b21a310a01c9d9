//! `cargo bench --bench search [-- PATIENTS]`: patient search latency, database side, over
//! one clinic with PATIENTS generated patients (default 1,000,000). Runs the same
//! `search::search` the API and the search box use, each in its own clinic transaction,
//! for a fixed mix of realistic queries; prints p50/p95/p99 per kind and overall.

mod common;

use std::time::{Duration, Instant};

use clinicbox::db::TenantDb;
use clinicbox::domain::patients::search;
use clinicbox::ops::seed::{self, FAMILY, GIVEN_F, GIVEN_M, Rng};
use common::{BoxError, ms, percentile, setup};

/// One typo: swap two neighbouring letters, or replace one.
fn typo(rng: &mut Rng, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 4 {
        return s.to_owned();
    }
    let i = 1 + rng.below(c.len() - 2);
    if rng.chance(50) {
        c.swap(i, i + 1);
    } else {
        c[i] = ['a', 'e', 'i', 'o', 'r', 's', 't'][rng.below(7)];
    }
    c.into_iter().collect()
}

fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// A fixed mix of what reception types. `plain` folds like the database does (no accents).
async fn queries(n: usize, pool: &sqlx::PgPool) -> Result<Vec<(&'static str, String)>, BoxError> {
    let plain = |s: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT extensions.fold($1)")
                .bind(s)
                .fetch_one(&pool)
                .await
        }
    };
    let mut rng = Rng::new(7);
    let mut out = Vec::new();
    for i in 0..n {
        let given = if rng.chance(50) {
            rng.skewed(GIVEN_F)
        } else {
            rng.skewed(GIVEN_M)
        };
        let family = rng.skewed(FAMILY);
        let g = plain(given.to_owned()).await?;
        let f = plain(family.to_owned()).await?;
        let q = match i % 8 {
            0 => ("family", family.to_owned()),
            1 => ("given family", format!("{given} {family}")),
            2 => ("family given", format!("{family} {given}")),
            3 => ("no accents", format!("{g} {f}")),
            4 => ("prefixes", format!("{} {}", prefix(&g, 3), prefix(&f, 4))),
            5 => ("misspelt family", typo(&mut rng, &f)),
            6 => ("misspelt full", format!("{} {f}", typo(&mut rng, &g))),
            _ => ("typing", prefix(&f, 2)),
        };
        out.push(q);
    }
    Ok(out)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    // fsync off only makes generating the data faster; reads do not touch it.
    let mut b = setup(true).await?;
    let t = b.tenant("bench").await?;
    let took = seed::bulk_patients(&b.db, &t, n, |done| {
        if done % 200_000 == 0 {
            eprintln!("  {done} patients");
        }
    })
    .await?;
    println!(
        "generated {n} patients in {:.1} s ({:.0} rows/s)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
    sqlx::query("VACUUM").execute(&b.db.pool).await.ok();
    let words: i64 = sqlx::query_scalar("SELECT count(*) FROM name_words")
        .fetch_one(&mut *tx)
        .await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('patients'))")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    println!("patients table with indexes: {size}; name vocabulary: {words} words");

    let qs = queries(800, &b.db.pool).await?;
    // Warm the caches the way a running clinic has them warm.
    for (_, q) in qs.iter().take(100) {
        let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
        search::search(&mut tx, q, 20).await?;
        tx.commit().await?;
    }
    let mut by_kind: std::collections::BTreeMap<&str, Vec<Duration>> = Default::default();
    let mut all = Vec::new();
    let mut empty = 0;
    for (kind, q) in &qs {
        let started = Instant::now();
        let mut tx = TenantDb::begin(&b.db.pool, &t.db).await?;
        let r = search::search(&mut tx, q, 20).await?;
        tx.commit().await?;
        let d = started.elapsed();
        if r.is_empty() {
            empty += 1;
        }
        by_kind.entry(kind).or_default().push(d);
        all.push(d);
    }
    println!(
        "name search, top 20 of {n} patients, {} queries ({} found nothing):",
        qs.len(),
        empty
    );
    for (kind, mut v) in by_kind {
        v.sort();
        println!(
            "  {kind:<16} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms",
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.95)),
            ms(percentile(&v, 0.99))
        );
    }
    all.sort();
    println!(
        "  {:<16} p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        "ALL",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.95)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap_or(&Duration::ZERO))
    );
    b.db.pool.close().await;
    tokio::task::spawn_blocking(move || b.cluster.stop()).await??;
    Ok(())
}
