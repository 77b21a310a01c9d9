//! `cargo bench --bench backup [-- PATIENTS]`: how long backups take. Two installations on a
//! private cluster with fsync on: the demo data (two clinics as `clinicbox demo` fills them),
//! then one clinic with PATIENTS generated patients (default 100,000) added. For each: backup
//! (file size), verify (restore into a scratch database and compare every table), restore of
//! the whole installation, and restore of one clinic. Prints a table.

mod common;

use std::time::Instant;

use clinicbox::ops::backup::{self, Ctx, Key, Quiet};
use clinicbox::ops::secrets::Secrets;
use common::{BoxError, setup};

struct Row {
    what: String,
    bytes: u64,
    backup: f64,
    verify: f64,
    restore_all: f64,
    restore_clinic: f64,
}

async fn measure(
    b: &common::Bench,
    secrets: &Secrets,
    what: &str,
    clinic: &str,
) -> Result<Row, BoxError> {
    let cfg = b.config()?;
    let ctx = Ctx {
        db: &b.db,
        config: &cfg,
        secrets,
        now: clinicbox::ops::clock::SystemClock.now(),
    };
    let t = Instant::now();
    let c = backup::create::create(&ctx, "manual", None, None, &Quiet).await?;
    let backup_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, cmp) = backup::restore::verify(&ctx, &c.path, Key::None, &Quiet).await?;
    let verify_s = t.elapsed().as_secs_f64();
    if !cmp.ok() {
        return Err(format!("verify: {:?}", cmp.problems).into());
    }
    // Each restore takes its own safety backup first; that is part of the time an operator waits.
    let ctx = Ctx {
        now: clinicbox::ops::clock::SystemClock.now() + chrono::Duration::seconds(1),
        ..ctx
    };
    let t = Instant::now();
    let r = backup::restore::restore(&ctx, &c.path, Key::None, None, &Quiet).await?;
    let restore_all_s = t.elapsed().as_secs_f64();
    if !r.comparison.ok() {
        return Err(format!("restore: {:?}", r.comparison.problems).into());
    }
    let ctx = Ctx {
        now: clinicbox::ops::clock::SystemClock.now() + chrono::Duration::seconds(2),
        ..ctx
    };
    let slug = clinicbox::domain::tenants::Slug::parse(clinic)?;
    let t = Instant::now();
    let r = backup::restore::restore(&ctx, &c.path, Key::None, Some(&slug), &Quiet).await?;
    let restore_clinic_s = t.elapsed().as_secs_f64();
    if !r.comparison.ok() {
        return Err(format!("clinic restore: {:?}", r.comparison.problems).into());
    }
    Ok(Row {
        what: what.to_owned(),
        bytes: c.bytes,
        backup: backup_s,
        verify: verify_s,
        restore_all: restore_all_s,
        restore_clinic: restore_clinic_s,
    })
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let b = setup(false).await?;
    let secrets = Secrets::from_bytes([5u8; 32])?;
    for (slug, tz) in [("demo", "Asia/Kathmandu"), ("sample", "Europe/Lisbon")] {
        let t = b.tenant(slug).await?;
        let cfg = b.config()?;
        let store = clinicbox::domain::documents::LocalStore::new(
            &clinicbox::ops::backup::documents_dir(&cfg),
            &cfg.storage.incoming_dir(),
            slug,
        );
        let now = clinicbox::ops::clock::SystemClock.now();
        clinicbox::ops::seed::demo_clinic(&b.db, &t, tz, now, &store).await?;
    }
    let mut rows = vec![measure(&b, &secrets, "demo data (2 clinics)", "demo").await?];

    let t = b.tenant("big").await?;
    let took = clinicbox::ops::seed::bulk_patients(&b.db, &t, n, |_| {}).await?;
    eprintln!("seeded {n} patients in {:.1} s", took.as_secs_f64());
    rows.push(measure(&b, &secrets, &format!("demo + {n} patients"), "big").await?);

    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>14} {:>16}",
        "installation", "archive", "backup s", "verify s", "restore all s", "restore clinic s"
    );
    for r in rows {
        println!(
            "{:<28} {:>10} {:>10.2} {:>10.2} {:>14.2} {:>16.2}",
            r.what,
            backup::human_bytes(r.bytes),
            r.backup,
            r.verify,
            r.restore_all,
            r.restore_clinic
        );
    }
    println!("(restore times include the safety backup each restore takes first)");
    Ok(())
}
