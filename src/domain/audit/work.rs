//! Reading a clinic's audit log as a unit of work (see `domain::clinic`): reading it is itself
//! recorded in it.

use super::{AuditFilter, AuditRow, action, query};
use crate::domain::auth::{AccountRow, Accounts, repo as accounts};
use crate::domain::clinic::Clinic;

/// What the audit log page shows: the clinic's staff (for the filter), the rows, and the name
/// and MRN of each patient they mention (when asked for).
pub struct Browse {
    pub staff: Vec<AccountRow>,
    pub rows: Vec<AuditRow>,
    pub patients: std::collections::HashMap<i64, (String, String)>,
}

/// One page of the log (`limit` rows, newest first). `filter`: `None` when the filter form
/// could not be read (then no rows, but still audited, since the page was opened). `filters`:
/// the names of the filters used, for the event. With `name_patients`, the patients the rows
/// mention are read too; that read is part of the one `audit.view` event, which counts them.
pub async fn browse(
    c: &Clinic,
    filter: Option<&AuditFilter>,
    limit: i64,
    filters: &[&str],
    name_patients: bool,
) -> sqlx::Result<Browse> {
    let mut u = c.begin().await?;
    let staff = accounts::list(&mut u, Accounts::Staff).await?;
    let rows = match filter {
        Some(f) => query(&mut u, f, limit).await?,
        None => Vec::new(),
    };
    let patients = if name_patients {
        let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.patient_id).collect();
        ids.sort_unstable();
        ids.dedup();
        crate::domain::patients::repo::labels(&mut u, &ids).await?
    } else {
        Default::default()
    };
    let ev = u
        .event(action::AUDIT_VIEW)
        .details(serde_json::json!({ "filters": filters, "patients_named": patients.len() }));
    u.audit_and_commit(ev).await?;
    Ok(Browse {
        staff,
        rows,
        patients,
    })
}

/// Up to `limit` rows for a CSV export.
pub async fn export(
    c: &Clinic,
    filter: &AuditFilter,
    limit: i64,
    filters: &[&str],
) -> sqlx::Result<Vec<AuditRow>> {
    let mut u = c.begin().await?;
    let rows = query(&mut u, filter, limit).await?;
    let ev = u.event(action::AUDIT_EXPORT).details(serde_json::json!({
        "filters": filters,
        "rows": rows.len(),
    }));
    u.audit_and_commit(ev).await?;
    Ok(rows)
}

/// The clinic's audit retention in years (a settings read).
pub async fn retention_years(c: &Clinic) -> sqlx::Result<i64> {
    let mut u = c.begin().await?;
    let years = crate::domain::settings::Security::load(&mut u)
        .await?
        .audit_retention_years;
    u.finish_without_clinical_data().await?;
    Ok(years)
}

/// Records that rows older than the retention were removed (`audit::prune` removes them).
pub async fn record_pruned(c: &Clinic, rows: u64, years: i64) -> sqlx::Result<()> {
    let u = c.begin().await?;
    let ev = u
        .event(action::AUDIT_PRUNED)
        .details(serde_json::json!({ "rows": rows, "retention_years": years }));
    u.audit_and_commit(ev).await
}
