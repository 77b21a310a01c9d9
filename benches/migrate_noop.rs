//! `cargo bench --bench migrate_noop [-- CLINICS]`: how long `clinicbox migrate` takes when
//! every clinic is already current (the path `postinst` and every upgrade without clinic
//! migrations take). Starts its own PostgreSQL cluster in a temp dir.

mod common;

use std::time::{Duration, Instant};

use clinicbox::db::migrate::{self, Migrations, NoProgress};
use common::{BoxError, ms, percentile, setup};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let clinics: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let mut b = setup(true).await?;
    let started = Instant::now();
    for i in 0..clinics {
        b.tenant(&format!("clinic{i:05}")).await?;
    }
    println!(
        "created {clinics} clinics in {:.1} s ({:.1} ms each)",
        started.elapsed().as_secs_f64(),
        ms(started.elapsed()) / clinics as f64
    );
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let r = migrate::run(&b.db, Migrations::embedded(), 4, &NoProgress).await?;
        times.push(t.elapsed());
        assert!(r.tenants_upgraded.is_empty() && r.tenants_failed.is_empty());
    }
    times.sort();
    println!(
        "no-op migrate over {clinics} clinics: median {:.2} ms, p95 {:.2} ms, max {:.2} ms (30 runs)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(times[times.len() - 1])
    );
    b.db.pool.close().await;
    tokio::task::spawn_blocking(move || b.cluster.stop()).await??;
    Ok(())
}
