//! Audit logs in backups: exported as PostgreSQL COPY text in the backup's snapshot,
//! verified from the files alone (with the installation's key), and imported into a new,
//! empty log on restore. A log that exists is never replaced: it is the record of what
//! happened, the restore included.

use std::collections::HashMap;
use std::path::Path;

use futures::TryStreamExt;
use sqlx::PgConnection;
use tokio::io::AsyncWriteExt;

use super::chain::{self, Head, LogId, StoredRow, VerifyReport};
use crate::ops::secrets::Secrets;

/// The columns of `audit_log`, in table order (COPY and the import's temporary table agree).
const LOG_COLUMNS: &str = "id, at, actor_type, actor_id, ip, action, resource_type, resource_id,
    patient_id, tenant_id, outcome, details, request_id, legacy_seq, legacy_prev, legacy_hash";

/// The three files of an exported log.
pub struct Files<'a> {
    pub rows: &'a Path,
    pub chain: &'a Path,
    pub anchors: &'a Path,
}

/// What an export found: where the chain ended, and the earlier release's anchor.
pub struct Exported {
    pub head: Head,
    pub legacy_anchor: Option<Head>,
}

async fn copy_out(conn: &mut PgConnection, sql: &str, to: &Path) -> Result<(), std::io::Error> {
    let mut file = crate::ops::pgtools::create_private_file(to)
        .and_then(|()| std::fs::OpenOptions::new().write(true).open(to))
        .map(tokio::fs::File::from_std)?;
    let mut stream = conn
        .copy_out_raw(sql)
        .await
        .map_err(std::io::Error::other)?;
    while let Some(chunk) = stream.try_next().await.map_err(std::io::Error::other)? {
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.sync_all().await
}

/// Writes the log's rows, chain and anchors to `files`. `conn` is in a transaction that may
/// read the log (the backup's snapshot, switched to the clinic's role for a clinic's log);
/// its TimeZone is UTC (`ops::backup::snapshot::stable_settings`).
pub async fn export(
    conn: &mut PgConnection,
    log: &LogId,
    files: &Files<'_>,
) -> Result<Exported, ExportError> {
    let s = log.schema().quoted();
    copy_out(
        conn,
        &format!("COPY (SELECT {LOG_COLUMNS} FROM {s}.audit_log ORDER BY id) TO STDOUT"),
        files.rows,
    )
    .await
    .map_err(|e| ExportError::File(files.rows.to_owned(), e))?;
    copy_out(
        conn,
        &format!(
            "COPY (SELECT seq, row_id, prev, hash FROM {s}.audit_chain ORDER BY seq) TO STDOUT"
        ),
        files.chain,
    )
    .await
    .map_err(|e| ExportError::File(files.chain.to_owned(), e))?;
    copy_out(
        conn,
        &format!("COPY (SELECT seq, hash, pruned_at FROM {s}.audit_anchor ORDER BY seq) TO STDOUT"),
        files.anchors,
    )
    .await
    .map_err(|e| ExportError::File(files.anchors.to_owned(), e))?;
    let end: Option<(i64, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT seq, hash FROM {s}.audit_chain ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await?;
    let head = match end {
        Some((seq, hash)) => Head { seq, hash },
        None => sqlx::query_as::<_, (i64, Vec<u8>)>(&format!(
            "SELECT seq, hash FROM {s}.audit_anchor ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(&mut *conn)
        .await?
        .map(|(seq, hash)| Head { seq, hash })
        .unwrap_or_default(),
    };
    let legacy_anchor = sqlx::query_as::<_, (i64, Vec<u8>)>(
        "SELECT seq, hash FROM clinicbox_audit.legacy_anchors WHERE log = $1",
    )
    .bind(log.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .map(|(seq, hash)| Head { seq, hash });
    Ok(Exported {
        head,
        legacy_anchor,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {err}", path = .0.display(), err = .1)]
    File(std::path::PathBuf, std::io::Error),
    #[error("the exported audit log cannot be read: {0}")]
    Format(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Whether the log exists here already.
pub async fn exists(conn: &mut PgConnection, log: &LogId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM clinicbox_audit.heads WHERE log = $1) AS "v!""#,
        log.as_str()
    )
    .fetch_one(conn)
    .await
}

/// Creates the log (for `writer`, the role that owns the matching clinic schema) and fills it
/// from exported files. `conn` is in a clinic transaction of that clinic.
pub async fn import(
    conn: &mut PgConnection,
    log: &LogId,
    writer: &crate::domain::tenants::Ident,
    auditor: &str,
    files: &Files<'_>,
    legacy_anchor: Option<&Head>,
) -> Result<i64, ExportError> {
    sqlx::query!(
        "SELECT clinicbox_audit.create_log($1, $2)",
        log.as_str(),
        writer.as_str()
    )
    .execute(&mut *conn)
    .await?;
    let s = log.schema().quoted();
    sqlx::raw_sql(&format!(
        "CREATE TEMP TABLE audit_import_log ON COMMIT DROP AS SELECT {LOG_COLUMNS} FROM {s}.audit_log WITH NO DATA;
         CREATE TEMP TABLE audit_import_chain ON COMMIT DROP AS SELECT seq, row_id, prev, hash FROM {s}.audit_chain WITH NO DATA;
         CREATE TEMP TABLE audit_import_anchor ON COMMIT DROP AS SELECT seq, hash, pruned_at FROM {s}.audit_anchor WITH NO DATA"
    ))
    .execute(&mut *conn)
    .await?;
    for (table, path) in [
        ("audit_import_log", files.rows),
        ("audit_import_chain", files.chain),
        ("audit_import_anchor", files.anchors),
    ] {
        let data = std::fs::read(path).map_err(|e| ExportError::File(path.to_owned(), e))?;
        let mut copy = conn
            .copy_in_raw(&format!("COPY pg_temp.{table} FROM STDIN"))
            .await?;
        copy.send(data).await?;
        copy.finish().await?;
    }
    // The auditor's function reads them.
    sqlx::raw_sql(&format!(
        "GRANT SELECT ON pg_temp.audit_import_log, pg_temp.audit_import_chain, pg_temp.audit_import_anchor TO \"{auditor}\""
    ))
    .execute(&mut *conn)
    .await?;
    let n: i64 = sqlx::query_scalar(&format!("SELECT {s}.audit_import($1, $2)"))
        .bind(legacy_anchor.map(|h| h.seq))
        .bind(legacy_anchor.map(|h| h.hash.clone()))
        .fetch_one(&mut *conn)
        .await?;
    Ok(n)
}

/// One field of COPY text format: `\N` is NULL, backslash escapes otherwise.
fn unescape(field: &str) -> Option<String> {
    if field == "\\N" {
        return None;
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('v') => out.push('\u{b}'),
            Some(d @ '0'..='7') => {
                let mut v = d.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(x) => {
                            v = v * 8 + x;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(char::from_u32(v).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(out)
}

fn lines(path: &Path) -> Result<Vec<Vec<Option<String>>>, ExportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExportError::File(path.to_owned(), e))?;
    Ok(text
        .lines()
        .map(|l| l.split('\t').map(unescape).collect())
        .collect())
}

fn bytea(v: Option<&String>) -> Result<Option<Vec<u8>>, ExportError> {
    v.map(|s| {
        hex::decode(s.trim_start_matches("\\x"))
            .map_err(|e| ExportError::Format(format!("bytea {s:?}: {e}")))
    })
    .transpose()
}

fn int(v: Option<&String>) -> Result<Option<i64>, ExportError> {
    v.map(|s| {
        s.parse()
            .map_err(|e| ExportError::Format(format!("number {s:?}: {e}")))
    })
    .transpose()
}

fn parse_row(f: &[Option<String>]) -> Result<StoredRow, ExportError> {
    if f.len() != 16 {
        return Err(ExportError::Format(format!(
            "a row has {} fields, not 16",
            f.len()
        )));
    }
    let req = |i: usize| {
        f[i].clone()
            .ok_or_else(|| ExportError::Format(format!("field {i} is empty")))
    };
    let at_text = req(1)?;
    let at = chrono::DateTime::parse_from_str(&format!("{at_text}00"), "%Y-%m-%d %H:%M:%S%.f%z")
        .or_else(|_| chrono::DateTime::parse_from_str(&at_text, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .map_err(|e| ExportError::Format(format!("time {at_text:?}: {e}")))?
        .to_utc();
    Ok(StoredRow {
        id: int(f[0].as_ref())?.unwrap_or_default(),
        at,
        actor_type: req(2)?,
        actor_id: int(f[3].as_ref())?,
        // inet prints host addresses without their /32 or /128, as host() does.
        ip: f[4]
            .clone()
            .map(|s| s.split_once('/').map_or(s.clone(), |(h, _)| h.to_owned())),
        action: req(5)?,
        resource_type: f[6].clone(),
        resource_id: f[7].clone(),
        patient_id: int(f[8].as_ref())?,
        tenant_id: int(f[9].as_ref())?,
        outcome: req(10)?,
        details: serde_json::from_str(&req(11)?)
            .map_err(|e| ExportError::Format(format!("details: {e}")))?,
        request_id: f[12].clone(),
        legacy_seq: int(f[13].as_ref())?,
        legacy_prev: bytea(f[14].as_ref())?,
        legacy_hash: bytea(f[15].as_ref())?,
    })
}

/// Verifies an exported log from its files alone: every link of the chain over the rows as
/// exported, from the retention anchor to `head` (the manifest's).
pub fn verify_files(
    secrets: &Secrets,
    log: &LogId,
    files: &Files<'_>,
    head: &Head,
) -> Result<VerifyReport, ExportError> {
    let mut rows: HashMap<i64, StoredRow> = HashMap::new();
    for f in lines(files.rows)? {
        let r = parse_row(&f)?;
        rows.insert(r.id, r);
    }
    let start = lines(files.anchors)?
        .into_iter()
        .filter_map(|f| {
            Some(Head {
                seq: int(f.first()?.as_ref()).ok()??,
                hash: bytea(f.get(1)?.as_ref()).ok()??,
            })
        })
        .max_by_key(|h| h.seq)
        .unwrap_or_default();
    let mut report = VerifyReport {
        rows: 0,
        first_seq: None,
        last_seq: None,
        broken: None,
        head: start.clone(),
    };
    let (mut expect_seq, mut expect_prev) = (start.seq + 1, start.hash);
    for f in lines(files.chain)? {
        let seq = int(f.first().and_then(Option::as_ref))?.unwrap_or_default();
        let row_id = int(f.get(1).and_then(Option::as_ref))?.unwrap_or_default();
        let prev = bytea(f.get(2).and_then(Option::as_ref))?.unwrap_or_default();
        let hash = bytea(f.get(3).and_then(Option::as_ref))?.unwrap_or_default();
        report.rows += 1;
        report.first_seq.get_or_insert(seq);
        report.last_seq = Some(seq);
        if report.broken.is_none() {
            let why = if seq != expect_seq {
                Some(format!(
                    "entries {expect_seq}-{} of the chain are missing",
                    seq - 1
                ))
            } else if prev != expect_prev {
                Some("does not link to the previous entry".to_owned())
            } else {
                match rows.get(&row_id) {
                    None => Some(format!("row {row_id} is missing")),
                    Some(r) if chain::link(secrets, log, seq, &prev, r) != hash => Some(format!(
                        "row {row_id} does not match its hash (it was altered, or the backup was made with another key)"
                    )),
                    Some(_) => None,
                }
            };
            if let Some(why) = why {
                report.broken = Some((seq, why));
            }
        }
        expect_seq = seq + 1;
        expect_prev = hash.clone();
        report.head = Head { seq, hash };
    }
    if report.broken.is_none() && (report.head.seq != head.seq || report.head.hash != head.hash) {
        report.broken = Some((
            report.head.seq,
            format!(
                "the chain ends at entry {}, the manifest says {}",
                report.head.seq, head.seq
            ),
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_fields() {
        assert_eq!(unescape("\\N"), None);
        assert_eq!(unescape("a\\tb\\\\c\\nd").as_deref(), Some("a\tb\\c\nd"));
        assert_eq!(unescape("\\101").as_deref(), Some("A"));
        assert_eq!(
            bytea(Some(&"\\x0aff".to_owned())).unwrap(),
            Some(vec![10, 255])
        );
    }
}
