//! `cargo bench --bench migrate_noop [-- CLINICS]`: how long `clinicbox migrate` takes when
//! every clinic is already current (the path `postinst` and every upgrade without clinic
//! migrations take). Starts its own PostgreSQL cluster in a temp dir.

use std::time::{Duration, Instant};

use chrono::Utc;
use clinicbox::db::Db;
use clinicbox::db::migrate::{self, Migrations, NoProgress};
use clinicbox::domain::tenants::{self, DisplayName, HostRules, Hostname, Ident, NewTenant, Slug};
use clinicbox::ops::pgcluster::{ClusterOptions, PgCluster, provision_app_database};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clinics: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Runtime::new()?;
    let dir = tempfile::tempdir()?;
    let mut cluster = PgCluster::new(&dir.path().join("pg"), ClusterOptions { unsafe_fast: true })?;
    cluster.init_if_needed()?;
    cluster.start()?;
    rt.block_on(async {
        let su = clinicbox::db::pool_options(1)
            .connect(&cluster.superuser_url("postgres"))
            .await?;
        let id = Ident::parse("clinicbox")?;
        provision_app_database(&su, &id, &id).await?;
        let db = Db::from_pool(
            clinicbox::db::pool_options(5)
                .connect(&cluster.url("clinicbox", "clinicbox"))
                .await?,
        )
        .await?;
        migrate::run(&db, Migrations::embedded(), 4, &NoProgress).await?;
        let rules = HostRules {
            base_domain: Hostname::parse("clinics.example.com")?,
            console_host: Hostname::parse("admin.clinics.example.com")?,
        };
        let started = Instant::now();
        for i in 0..clinics {
            tenants::create(
                &db,
                Migrations::embedded(),
                &rules,
                NewTenant {
                    slug: Slug::parse(&format!("clinic{i:05}"))?,
                    name: DisplayName::parse(&format!("Clinic {i}"))?,
                    hosts: vec![],
                },
                Utc::now(),
            )
            .await?;
        }
        println!(
            "created {clinics} clinics in {:.1} s ({:.1} ms each)",
            started.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64() * 1000.0 / clinics as f64
        );
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            let r = migrate::run(&db, Migrations::embedded(), 4, &NoProgress).await?;
            times.push(t.elapsed());
            assert!(r.tenants_upgraded.is_empty() && r.tenants_failed.is_empty());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "no-op migrate over {clinics} clinics: median {:.2} ms, p95 {:.2} ms, max {:.2} ms (30 runs)",
            ms(times[times.len() / 2]),
            ms(times[times.len() * 95 / 100]),
            ms(times[times.len() - 1])
        );
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    cluster.stop()?;
    Ok(())
}
