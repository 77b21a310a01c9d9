//! Which backups to keep: the newest of each of the last N days, weeks and months that have a
//! backup (defaults 7, 4, 12), everything from the last 24 hours, and safety copies taken
//! before an upgrade or a restore for 30 days. Only whole-installation backups are ever
//! deleted; clinic exports stay until an operator removes them.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Datelike, Duration, Utc};

use super::{BackupSettings, Listed};

pub fn to_delete(all: &[Listed], s: &BackupSettings, now: DateTime<Utc>) -> Vec<PathBuf> {
    let mut full: Vec<(&Listed, DateTime<Utc>)> = all
        .iter()
        .filter(|b| b.clinic.is_none())
        .filter_map(|b| b.created_at.map(|t| (b, t)))
        .collect();
    full.sort_by_key(|b| std::cmp::Reverse(b.1));
    let mut keep: HashSet<&PathBuf> = HashSet::new();
    let mut bucket = |n: u32, key: &dyn Fn(DateTime<Utc>) -> (i32, u32)| {
        let mut seen = Vec::new();
        for (b, t) in &full {
            let k = key(*t);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() as u32 >= n {
                break;
            }
            seen.push(k);
            keep.insert(&b.path);
        }
    };
    bucket(s.keep_daily, &|t| (t.year(), t.ordinal()));
    bucket(s.keep_weekly, &|t| {
        let w = t.iso_week();
        (w.year(), w.week())
    });
    bucket(s.keep_monthly, &|t| (t.year(), t.month()));
    full.iter()
        .filter(|(b, t)| {
            let safety = matches!(b.reason.as_deref(), Some("pre-upgrade" | "pre-restore"));
            let young = now - *t < Duration::hours(24);
            let safe_window = safety && now - *t < Duration::days(30);
            !keep.contains(&b.path) && !young && !safe_window
        })
        .map(|(b, _)| b.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(days_ago: i64, hour: u32, reason: &str, now: DateTime<Utc>) -> Listed {
        let t = (now - Duration::days(days_ago))
            .date_naive()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc();
        let name = super::super::create::file_name(None, t, reason, false);
        Listed {
            path: PathBuf::from(&name),
            file: name,
            bytes: 1,
            encrypted: false,
            created_at: Some(t),
            clinic: None,
            reason: Some(reason.into()),
        }
    }

    #[test]
    fn keeps_seven_daily_four_weekly_twelve_monthly() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z")
            .unwrap()
            .to_utc();
        // A daily backup every day for 400 days, plus a second one on some days.
        let mut all: Vec<Listed> = (0..400).map(|d| b(d, 2, "daily", now)).collect();
        all.push(b(3, 14, "manual", now));
        all.push(b(10, 15, "pre-upgrade", now));
        all.push(b(60, 15, "pre-upgrade", now));
        let mut clinic = b(200, 3, "export", now);
        clinic.clinic = Some("demo".into());
        all.push(clinic);
        let del = to_delete(&all, &BackupSettings::default(), now);
        let kept: Vec<&Listed> = all.iter().filter(|x| !del.contains(&x.path)).collect();
        // Today's and the last 6 days' newest; 3 days ago the manual one is newer than the daily.
        for d in 0..7 {
            assert!(
                kept.iter().any(|k| k.created_at.unwrap().date_naive()
                    == (now - Duration::days(d)).date_naive())
            );
        }
        assert!(kept.iter().any(|k| k.reason.as_deref() == Some("manual")));
        assert!(
            !kept
                .iter()
                .any(|k| k.created_at == b(3, 2, "daily", now).created_at)
        );
        // Safety copies: the 10-day-old one stays, the 60-day-old one goes.
        assert!(
            kept.iter()
                .any(|k| k.created_at == b(10, 15, "x", now).created_at)
        );
        assert!(
            !kept
                .iter()
                .any(|k| k.created_at == b(60, 15, "x", now).created_at)
        );
        // Clinic exports are never removed.
        assert!(kept.iter().any(|k| k.clinic.is_some()));
        let full_kept = kept.iter().filter(|k| k.clinic.is_none()).count();
        // 7 daily + up to 4 weekly + 12 monthly, overlapping + the 10-day safety copy.
        assert!((13..=24).contains(&full_kept), "{full_kept}");
        let oldest = kept
            .iter()
            .filter(|k| k.clinic.is_none())
            .filter_map(|k| k.created_at)
            .min()
            .unwrap();
        assert!(now - oldest > Duration::days(300) && now - oldest < Duration::days(370));
    }

    #[test]
    fn recent_backups_are_never_deleted() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z")
            .unwrap()
            .to_utc();
        let all = vec![
            b(0, 1, "daily", now),
            b(0, 2, "manual", now),
            b(0, 3, "manual", now),
        ];
        let s = BackupSettings {
            keep_daily: 1,
            keep_weekly: 0,
            keep_monthly: 0,
            ..BackupSettings::default()
        };
        assert!(to_delete(&all, &s, now).is_empty());
    }
}
