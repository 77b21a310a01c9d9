//! The JSON log files: `<dir>/clinicbox.<YYYY-MM-DD>.log`, a new file each day (UTC), the
//! oldest removed beyond `keep_days`.
//!
//! Written line by line. A line that does not fit (a full disk) is cut back off the file, so
//! that every line left is whole JSON; lines that could not be written are counted, said on
//! stderr at most once every ten minutes (journald still has every line; a disk that is nearly
//! full lets a short line through now and then, which must not make every failure a new
//! message), and reported in the file when writing works again.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;

use crate::ops::clock::{Clock, SystemClock};

/// Lines the log files have lost since start (full disk, permissions): `/metrics`.
pub fn lines_lost() -> u64 {
    LOST.load(Ordering::Relaxed)
}

static LOST: AtomicU64 = AtomicU64::new(0);

pub struct LogFiles {
    dir: PathBuf,
    keep_days: u16,
    current: Option<(NaiveDate, File)>,
    /// Lines lost since writing last worked, and why.
    lost: u64,
    why: Option<String>,
    /// When the failure was last said on stderr.
    said: Option<chrono::DateTime<chrono::Utc>>,
    clock: Arc<dyn Clock>,
}

/// How often a failure to write is said again on stderr while it lasts.
const SAY_AGAIN_AFTER: chrono::Duration = chrono::Duration::minutes(10);

impl LogFiles {
    pub fn new(dir: PathBuf, keep_days: u16) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        let mut f = Self {
            dir,
            keep_days: keep_days.max(1),
            current: None,
            lost: 0,
            why: None,
            said: None,
            clock: Arc::new(SystemClock),
        };
        f.file()?;
        Ok(f)
    }

    fn path(&self, day: NaiveDate) -> PathBuf {
        self.dir
            .join(format!("clinicbox.{}.log", day.format("%Y-%m-%d")))
    }

    /// Today's file, opened (and older files pruned) when the day changes.
    fn file(&mut self) -> std::io::Result<&mut File> {
        let today = self.clock.now().date_naive();
        if self.current.as_ref().is_none_or(|(d, _)| *d != today) {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(today))?;
            self.current = Some((today, f));
            self.prune(today);
        }
        match self.current.as_mut() {
            Some((_, f)) => Ok(f),
            None => Err(std::io::Error::other("no log file")),
        }
    }

    fn prune(&self, today: NaiveDate) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let oldest = today - chrono::Duration::days(i64::from(self.keep_days) - 1);
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(date) = name
                .strip_prefix("clinicbox.")
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            if date < oldest {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    /// Appends `line` whole, or not at all.
    fn append(&mut self, line: &[u8]) -> std::io::Result<()> {
        let f = self.file()?;
        let end = f.seek(SeekFrom::End(0))?;
        if let Err(e) = f.write_all(line) {
            // Take the fragment back off, so the file holds only whole lines.
            let _ = f.set_len(end);
            return Err(e);
        }
        Ok(())
    }

    fn lost_notice(&self) -> String {
        let msg = format!(
            "{} log lines could not be written to this file ({}); journald has them",
            self.lost,
            self.why.as_deref().unwrap_or("unknown error")
        );
        format!(
            "{}\n",
            serde_json::json!({
                "timestamp": self.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": "WARN",
                "fields": { "message": msg, "lines_lost": self.lost },
                "target": "clinicbox::log",
            })
        )
    }
}

impl Write for LogFiles {
    /// One call is one formatted event. Errors are handled here, never passed on: the logger
    /// must not fail the program, nor spam stderr once per line.
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if self.lost > 0 {
            let notice = self.lost_notice();
            if self.append(notice.as_bytes()).is_ok() {
                self.lost = 0;
                self.why = None;
            }
        }
        if self.lost == 0 && self.why.is_none() {
            match self.append(line) {
                Ok(()) => return Ok(line.len()),
                Err(e) => {
                    let now = self.clock.now();
                    if self.said.is_none_or(|at| now - at >= SAY_AGAIN_AFTER) {
                        let _ = writeln!(
                            std::io::stderr(),
                            "clinicbox: cannot write the log file in {} ({e}); log lines are kept by journald only until it works again",
                            self.dir.display()
                        );
                        self.said = Some(now);
                    }
                    self.why = Some(e.to_string());
                }
            }
        }
        self.lost += 1;
        LOST.fetch_add(1, Ordering::Relaxed);
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.current.as_mut() {
            Some((_, f)) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::clock::ManualClock;

    #[test]
    fn one_file_per_day_and_old_ones_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
                .unwrap()
                .to_utc(),
        ));
        let mut f = LogFiles::new(dir.path().to_owned(), 2).unwrap();
        f.clock = clock.clone();
        f.current = None;
        for _ in 0..3 {
            f.write_all(b"{\"a\":1}\n").unwrap();
            clock.advance(chrono::Duration::days(1));
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("clinicbox.2026-03"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["clinicbox.2026-03-02.log", "clinicbox.2026-03-03.log"]
        );
    }
}
