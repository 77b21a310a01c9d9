//! Reports for clinic admins and billing staff: revenue by service, clinician or day; the
//! sales register and the cancellation report (by date range or fiscal year); appointments
//! and the no-show rate; signed visits by diagnosis. Each is one table with totals and a bar
//! chart, read in one clinic transaction that writes one audit event.

pub mod model;
pub mod repo;

use chrono::Duration;

pub use model::{Cell, Column, ColumnKind, Group, Kind, Range, Report, Request};

use crate::domain::audit::action;
use crate::domain::billing;
use crate::domain::clinic::Clinic;
use crate::domain::scheduling;
use crate::domain::scheduling::slots::day_bounds;
use crate::domain::validation::Errors;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0:?}")]
    Invalid(Errors),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// How much of a report is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// A page's worth of rows ([`model::PAGE_ROWS`], one more to tell there are more).
    Page,
    /// Every row (a CSV file, the API): audited as an export.
    All,
}

/// The clinic's today and fiscal year start, for a report form's defaults.
pub struct Calendar {
    pub today: chrono::NaiveDate,
    pub fiscal: billing::model::FiscalStart,
}

/// Runs report `kind` over the range `req` names. Invalid ranges come back by field, before
/// anything is read.
pub async fn run(
    c: &Clinic,
    kind: Kind,
    req: &Request,
    extent: Extent,
) -> Result<Report, ReportError> {
    let mut u = c.begin().await?;
    let tz = scheduling::clinic_tz(&mut u).await?;
    let cfg = billing::repo::config(&mut u).await?;
    let today = c.at().with_timezone(&tz).date_naive();
    let range = req
        .check(kind, today, cfg.fiscal_start)
        .map_err(ReportError::Invalid)?;
    let (from, _) = day_bounds(tz, range.from);
    let (_, to) = day_bounds(tz, range.to);
    let tz_name = tz.name();
    let span = repo::Span {
        from,
        to,
        tz: tz_name,
        days: model::days(&range).collect(),
        limit: match extent {
            Extent::Page => Some(model::PAGE_ROWS as i64 + 1),
            Extent::All => None,
        },
    };
    let parts = match (kind, range.by) {
        (Kind::Revenue, Some(Group::Clinician)) => {
            repo::revenue_by_clinician(&mut u, &span).await?
        }
        (Kind::Revenue, Some(Group::Day)) => repo::revenue_by_day(&mut u, &span).await?,
        (Kind::Revenue, _) => repo::revenue_by_service(&mut u, &span).await?,
        (Kind::SalesRegister, _) => repo::sales_register(&mut u, &span).await?,
        (Kind::Cancellations, _) => repo::cancellations(&mut u, &span).await?,
        (Kind::Appointments, Some(Group::Clinician)) => {
            repo::appointments_by_clinician(&mut u, &span).await?
        }
        (Kind::Appointments, _) => repo::appointments_by_day(&mut u, &span).await?,
        (Kind::Diagnoses, _) => repo::diagnoses(&mut u, &span).await?,
    };
    let ev = u
        .event(match extent {
            Extent::Page => action::REPORT_VIEW,
            Extent::All => action::REPORT_EXPORT,
        })
        .details(serde_json::json!({
            "report": kind.slug(),
            "from": range.from.to_string(),
            "to": range.to.to_string(),
            "by": range.by.map(Group::as_str),
            "rows": parts.rows.len(),
        }));
    u.audit_and_commit(ev).await?;
    Ok(Report {
        kind,
        range,
        columns: parts.columns,
        rows: parts.rows,
        totals: parts.totals,
        bars: parts.bars,
        money_bars: !matches!(kind, Kind::Appointments | Kind::Diagnoses),
        part_label: (kind == Kind::Appointments).then_some("reports.no_shows"),
        currency: cfg.currency,
        tz,
    })
}

/// Today and the fiscal year start, for the reports index (no clinical data: no audit row).
pub async fn calendar(c: &Clinic) -> sqlx::Result<Calendar> {
    let mut u = c.begin().await?;
    let tz = scheduling::clinic_tz(&mut u).await?;
    let cfg = billing::repo::config(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(Calendar {
        today: c.at().with_timezone(&tz).date_naive(),
        fiscal: cfg.fiscal_start,
    })
}

/// The fiscal years a form offers: this one and the four before it, newest first.
pub fn recent_fiscal_years(cal: &Calendar) -> Vec<String> {
    let mut day = cal.fiscal.start_of(cal.today);
    let mut out = Vec::new();
    for _ in 0..5 {
        out.push(cal.fiscal.year_of(day));
        day = cal.fiscal.start_of(day - Duration::days(1));
    }
    out
}
