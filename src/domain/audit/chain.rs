//! The keyed chain over an audit log, and its verification.
//!
//! Writing a row costs one INSERT and takes no lock, so audited reads of a clinic never wait
//! for each other. Sealing, shortly after (a task of `serve`, and `audit verify` first of
//! all), appends the pending rows to the log's chain: each link is an HMAC-SHA256, under a key
//! derived from the installation's secret key file, of the previous link and the row's
//! content. PostgreSQL never sees the key, so a log rewritten by anyone with database access —
//! even a superuser who recomputes every hash it can — fails verification; and the head of
//! every chain is kept apart (`clinicbox_audit.heads`, which only moves forward, and every
//! backup manifest), so rows removed from the end are noticed too.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::tenants::{Ident, TenantIdent};
use crate::ops::secrets::{Purpose, Secrets};

/// One audit log: the installation's or a clinic's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogId(Ident);

impl LogId {
    pub fn system() -> Self {
        Self(Ident::system_audit())
    }

    pub fn clinic(t: &TenantIdent) -> Self {
        Self(t.audit_schema())
    }

    pub fn schema(&self) -> &Ident {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Where a chain ends: its last position and link.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Head {
    pub seq: i64,
    #[serde(with = "hex_bytes")]
    pub hash: Vec<u8>,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// A row as stored, with what the chain covers.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_id: Option<i64>,
    pub ip: Option<String>,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub patient_id: Option<i64>,
    pub tenant_id: Option<i64>,
    pub outcome: String,
    pub details: serde_json::Value,
    pub request_id: Option<String>,
    pub legacy_seq: Option<i64>,
    pub legacy_prev: Option<Vec<u8>>,
    pub legacy_hash: Option<Vec<u8>>,
}

pub const ROW_COLUMNS: &str = "l.id, l.at, l.actor_type, l.actor_id, host(l.ip) AS ip, l.action,
    l.resource_type, l.resource_id, l.patient_id, l.tenant_id, l.outcome, l.details,
    l.request_id, l.legacy_seq, l.legacy_prev, l.legacy_hash";

/// The row's content as the chain covers it: a JSON array, deterministic (object keys sorted,
/// times in microseconds as PostgreSQL keeps them).
pub fn canonical(r: &StoredRow) -> Vec<u8> {
    let v = serde_json::json!([
        r.id,
        r.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        r.actor_type,
        r.actor_id,
        r.ip,
        r.action,
        r.resource_type,
        r.resource_id,
        r.patient_id,
        r.tenant_id,
        r.outcome,
        r.details,
        r.request_id,
        r.legacy_seq,
        r.legacy_prev.as_deref().map(hex::encode),
        r.legacy_hash.as_deref().map(hex::encode),
    ]);
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The link for chain position `seq` over `row`, after `prev`.
pub fn link(secrets: &Secrets, log: &LogId, seq: i64, prev: &[u8], row: &StoredRow) -> Vec<u8> {
    let body = canonical(row);
    let mut msg = Vec::with_capacity(64 + prev.len() + body.len());
    msg.extend_from_slice(log.as_str().as_bytes());
    msg.push(0);
    msg.extend_from_slice(&seq.to_be_bytes());
    msg.extend_from_slice(&u32::try_from(prev.len()).unwrap_or(u32::MAX).to_be_bytes());
    msg.extend_from_slice(prev);
    msg.extend_from_slice(&body);
    secrets.mac(Purpose::AuditChain, &msg)
}

/// Where the chain of `log` currently ends (its last link, or the retention anchor).
async fn chain_end(conn: &mut PgConnection, log: &LogId) -> sqlx::Result<Head> {
    let s = log.schema().quoted();
    let end: Option<(i64, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT seq, hash FROM {s}.audit_chain ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((seq, hash)) = end {
        return Ok(Head { seq, hash });
    }
    Ok(anchor(conn, log).await?.unwrap_or_default())
}

async fn anchor(conn: &mut PgConnection, log: &LogId) -> sqlx::Result<Option<Head>> {
    let s = log.schema().quoted();
    let a: Option<(i64, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT seq, hash FROM {s}.audit_anchor ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(conn)
    .await?;
    Ok(a.map(|(seq, hash)| Head { seq, hash }))
}

/// The head recorded apart from the log (`clinicbox_audit.heads`).
pub async fn recorded_head(conn: &mut PgConnection, log: &LogId) -> sqlx::Result<Option<Head>> {
    let h: Option<(i64, Vec<u8>)> = sqlx::query!(
        "SELECT seq, hash FROM clinicbox_audit.heads WHERE log = $1",
        log.as_str()
    )
    .map(|r| (r.seq, r.hash))
    .fetch_optional(conn)
    .await?;
    Ok(h.map(|(seq, hash)| Head { seq, hash }))
}

const SEAL_BATCH: i64 = 2000;

/// Appends the log's pending rows to its chain. `conn` is in a transaction that may write the
/// log (the clinic's, or a control-plane one for the installation's log); a sealer already at
/// work elsewhere makes this return 0. Returns the rows sealed.
pub async fn seal(conn: &mut PgConnection, secrets: &Secrets, log: &LogId) -> sqlx::Result<u64> {
    let got: bool = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtext($1)) AS "v!""#,
        format!("clinicbox.audit_seal.{}", log.as_str())
    )
    .fetch_one(&mut *conn)
    .await?;
    if !got {
        return Ok(0);
    }
    let s = log.schema().quoted();
    let mut end = chain_end(conn, log).await?;
    let mut total = 0u64;
    loop {
        let rows: Vec<StoredRow> = sqlx::query_as(&format!(
            "SELECT {ROW_COLUMNS} FROM {s}.audit_pending p JOIN {s}.audit_log l ON l.id = p.row_id
              ORDER BY l.id LIMIT $1"
        ))
        .bind(SEAL_BATCH)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            break;
        }
        let first = end.seq + 1;
        let prev = end.hash.clone();
        let mut ids = Vec::with_capacity(rows.len());
        let mut hashes = Vec::with_capacity(rows.len());
        for r in &rows {
            let h = link(secrets, log, end.seq + 1, &end.hash, r);
            end = Head {
                seq: end.seq + 1,
                hash: h.clone(),
            };
            ids.push(r.id);
            hashes.push(h);
        }
        sqlx::query(&format!("SELECT {s}.audit_seal($1, $2, $3, $4)"))
            .bind(first)
            .bind(prev)
            .bind(&ids)
            .bind(&hashes)
            .execute(&mut *conn)
            .await?;
        total += rows.len() as u64;
        if (rows.len() as i64) < SEAL_BATCH {
            break;
        }
    }
    Ok(total)
}

/// What `audit verify` found.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    /// The chain position where it breaks, and why.
    pub broken: Option<(i64, String)>,
    /// Where the chain ends, for a backup manifest.
    pub head: Head,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

struct Walked {
    seq: i64,
    prev: Vec<u8>,
    hash: Vec<u8>,
    row_id: i64,
    /// `None` when the chained row is gone.
    row: Option<StoredRow>,
    legacy_expected: Option<Vec<u8>>,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Walked {
    fn from_row(r: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row;
        let present: Option<i64> = r.try_get("id")?;
        Ok(Self {
            seq: r.try_get("seq")?,
            prev: r.try_get("prev")?,
            hash: r.try_get("hash")?,
            row_id: r.try_get("row_id")?,
            row: match present {
                Some(_) => Some(StoredRow::from_row(r)?),
                None => None,
            },
            legacy_expected: r.try_get("legacy_expected")?,
        })
    }
}

/// Checks the whole log: every link of the chain (position, predecessor, the HMAC over the
/// row as it is now), the earlier release's chain for rows from before the switch, that no
/// row is outside the chain, and that the chain reaches the head recorded apart from it (and
/// `expected`, e.g. a backup manifest's head). Seal first: rows not yet sealed are not checked.
pub async fn verify(
    conn: &mut PgConnection,
    secrets: &Secrets,
    log: &LogId,
    expected: Option<&Head>,
) -> sqlx::Result<VerifyReport> {
    use futures::TryStreamExt;
    let s = log.schema().quoted();
    let start = anchor(conn, log).await?.unwrap_or_default();
    let legacy_anchor: Option<(i64, Vec<u8>)> = sqlx::query!(
        "SELECT seq, hash FROM clinicbox_audit.legacy_anchors WHERE log = $1",
        log.as_str()
    )
    .map(|r| (r.seq, r.hash))
    .fetch_optional(&mut *conn)
    .await?;
    let recorded = recorded_head(conn, log).await?;
    let mut report = VerifyReport {
        rows: 0,
        first_seq: None,
        last_seq: None,
        broken: None,
        head: start.clone(),
    };
    let mut expect_seq = start.seq + 1;
    let mut expect_prev = start.hash.clone();
    let (mut legacy_seq, mut legacy_prev) = match legacy_anchor {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, vec![0u8; 32]),
    };
    let mut legacy_done = false;
    {
        let sql = format!(
            "SELECT c.seq, c.prev, c.hash, c.row_id, {ROW_COLUMNS},
                    CASE WHEN l.legacy_hash IS NOT NULL THEN clinicbox_audit.legacy_hash(
                        l.legacy_prev, l.legacy_seq, l.at, l.actor_type, l.actor_id, l.ip, l.action,
                        l.resource_type, l.resource_id, coalesce(l.patient_id, l.tenant_id),
                        l.outcome, l.details, l.request_id) END AS legacy_expected
               FROM {s}.audit_chain c LEFT JOIN {s}.audit_log l ON l.id = c.row_id
              ORDER BY c.seq"
        );
        let mut rows = sqlx::query_as::<_, Walked>(&sql).fetch(&mut *conn);
        while let Some(w) = rows.try_next().await? {
            report.rows += 1;
            report.first_seq.get_or_insert(w.seq);
            report.last_seq = Some(w.seq);
            report.head = Head {
                seq: w.seq,
                hash: w.hash.clone(),
            };
            if report.broken.is_some() {
                continue;
            }
            let why = if w.seq != expect_seq {
                Some(format!(
                    "entries {expect_seq}-{} of the chain are missing",
                    w.seq - 1
                ))
            } else if w.prev != expect_prev {
                Some("does not link to the previous entry".to_owned())
            } else if let Some(r) = &w.row {
                if link(secrets, log, w.seq, &w.prev, r) != w.hash {
                    Some(format!(
                        "row {} does not match its hash (it was altered, or the chain was rewritten without the key)",
                        r.id
                    ))
                } else if let Some(lh) = &r.legacy_hash {
                    // A row from before the keyed chain: the earlier chain holds too.
                    if legacy_done {
                        Some(format!("row {} claims to be older than newer rows", r.id))
                    } else if r.legacy_seq != Some(legacy_seq)
                        || r.legacy_prev.as_deref() != Some(legacy_prev.as_slice())
                        || w.legacy_expected.as_deref() != Some(lh.as_slice())
                    {
                        Some(format!(
                            "row {} breaks the earlier (unkeyed) chain at its row {legacy_seq}",
                            r.id
                        ))
                    } else {
                        legacy_seq += 1;
                        legacy_prev = lh.clone();
                        None
                    }
                } else {
                    legacy_done = true;
                    None
                }
            } else {
                Some(format!("row {} was removed", w.row_id))
            };
            if let Some(why) = why {
                report.broken = Some((w.seq, why));
            }
            expect_seq = w.seq + 1;
            expect_prev = w.hash;
        }
    }
    if report.broken.is_none() {
        for (what, h) in [("recorded", recorded.as_ref()), ("expected", expected)] {
            let Some(h) = h.filter(|h| h.seq > 0) else {
                continue;
            };
            if h.seq > report.head.seq {
                report.broken = Some((
                    report.head.seq + 1,
                    format!(
                        "entries {}-{} are missing from the end of the chain (its {what} head is at {})",
                        report.head.seq + 1,
                        h.seq,
                        h.seq
                    ),
                ));
                break;
            }
            if h.seq == report.head.seq && h.hash != report.head.hash {
                report.broken = Some((
                    h.seq,
                    format!("the last entry differs from the {what} head"),
                ));
                break;
            }
        }
    }
    if report.broken.is_none() {
        let outside: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {s}.audit_log l
              WHERE NOT EXISTS (SELECT 1 FROM {s}.audit_chain c WHERE c.row_id = l.id)
                AND NOT EXISTS (SELECT 1 FROM {s}.audit_pending p WHERE p.row_id = l.id)"
        ))
        .fetch_one(&mut *conn)
        .await?;
        if outside > 0 {
            report.broken = Some((
                report.head.seq,
                format!("{outside} rows are outside the chain"),
            ));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> StoredRow {
        StoredRow {
            id: 7,
            at: DateTime::parse_from_rfc3339("2026-03-02T09:00:00.123456Z")
                .unwrap()
                .to_utc(),
            actor_type: "user".into(),
            actor_id: Some(3),
            ip: Some("203.0.113.9".into()),
            action: "patient.view".into(),
            resource_type: Some("patient".into()),
            resource_id: Some("12".into()),
            patient_id: Some(12),
            tenant_id: None,
            outcome: "success".into(),
            details: serde_json::json!({"via": "api", "a": [1, 2]}),
            request_id: None,
            legacy_seq: None,
            legacy_prev: None,
            legacy_hash: None,
        }
    }

    #[test]
    fn every_field_and_the_key_are_covered() {
        let secrets = Secrets::from_bytes([5; 32]).unwrap();
        let log = LogId(Ident::parse("tenant_a_audit").unwrap());
        let base = link(&secrets, &log, 3, b"prev", &row());
        assert_eq!(base, link(&secrets, &log, 3, b"prev", &row()));
        let mut r = row();
        r.patient_id = Some(13);
        assert_ne!(base, link(&secrets, &log, 3, b"prev", &r));
        let mut r = row();
        r.details = serde_json::json!({"via": "web", "a": [1, 2]});
        assert_ne!(base, link(&secrets, &log, 3, b"prev", &r));
        assert_ne!(base, link(&secrets, &log, 4, b"prev", &row()));
        assert_ne!(base, link(&secrets, &log, 3, b"other", &row()));
        let other_log = LogId(Ident::parse("tenant_b_audit").unwrap());
        assert_ne!(base, link(&secrets, &other_log, 3, b"prev", &row()));
        assert_ne!(
            base,
            link(
                &Secrets::from_bytes([6; 32]).unwrap(),
                &log,
                3,
                b"prev",
                &row()
            )
        );
        // Key order inside details does not matter: jsonb does not keep it either.
        let mut r = row();
        r.details = serde_json::from_str(r#"{"a": [1, 2], "via": "api"}"#).unwrap();
        assert_eq!(base, link(&secrets, &log, 3, b"prev", &r));
    }
}
