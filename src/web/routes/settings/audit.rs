//! `GET /settings/audit` (viewer) and `GET /settings/audit.csv` (export), for clinic admins.
//! Looking at the audit log is itself audited.

use askama::Template;
use axum::extract::Query;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use crate::domain::audit::{AuditFilter, AuditRow, work};
use crate::domain::auth::AccountRow;
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::site::CurrentTenant;

pub const PAGE_SIZE: i64 = 50;
/// The CSV export stops here; narrow the filters for more.
pub const EXPORT_MAX: i64 = 100_000;

/// The filter form as typed: every field optional text, so a bad value is shown, not a 400.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub patient: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: String,
}

impl FilterForm {
    /// Dates are whole days in UTC; `to` includes its day. Errors are per field.
    pub fn parse(&self) -> Result<AuditFilter, FormErrors> {
        let mut e = FormErrors::new();
        let mut int = |name: &'static str, v: &str| -> Option<i64> {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            v.parse()
                .inspect_err(|_| e.add(name, "invalid.whole_number"))
                .ok()
        };
        let (user, patient, before) = (
            int("user", &self.user),
            int("patient", &self.patient),
            int("before", &self.before),
        );
        let mut date = |name: &'static str, v: &str| -> Option<NaiveDate> {
            let v = v.trim();
            if v.is_empty() {
                return None;
            }
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .inspect_err(|_| e.add(name, "invalid.iso_date"))
                .ok()
        };
        let (from, to) = (date("from", &self.from), date("to", &self.to));
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            e.add("to", "invalid.to_before_from");
        }
        let action = self.action.trim();
        if !action.is_empty()
            && !action
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
        {
            e.add("action", "invalid.audit_action");
        }
        let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t));
        e.into_result(AuditFilter {
            user,
            patient,
            action: (!action.is_empty()).then(|| action.to_owned()),
            from: from.and_then(midnight),
            to: to.map(|d| d.succ_opt().unwrap_or(d)).and_then(midnight),
            before,
        })
    }

    /// The filters that are set, by name (also the query string's keys).
    fn set_filters(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("user", &self.user),
            ("patient", &self.patient),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.as_str()))
    }

    /// The query string for the next page.
    pub fn older_than(&self, seq: i64) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(self.set_filters());
        q.append_pair("before", &seq.to_string());
        q.finish()
    }

    pub fn csv_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.set_filters())
            .finish()
    }
}

#[derive(Template)]
#[template(path = "settings/audit.html")]
struct AuditPage {
    page: Page,
    form: FilterForm,
    errors: FormErrors,
    rows: Vec<AuditRow>,
    users: Vec<AccountRow>,
    /// Name and MRN of the patients the rows mention.
    patients: std::collections::HashMap<i64, (String, String)>,
    next: Option<String>,
}

impl AuditPage {
    /// `key: value` pairs, in words where the value is simple.
    fn details(&self, r: &AuditRow) -> String {
        fn plain(v: &serde_json::Value) -> String {
            match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
                serde_json::Value::Null => "–".to_owned(),
                v => v.to_string(),
            }
        }
        match &r.details {
            serde_json::Value::Object(m) => m
                .iter()
                .map(|(k, v)| format!("{}: {}", k.replace('_', " "), plain(v)))
                .collect::<Vec<_>>()
                .join(" · "),
            v => plain(v),
        }
    }

    /// The action in words (the code stays in the CSV and the API).
    fn action(&self, r: &AuditRow) -> String {
        let key = format!("audit_action.{}", r.action.replace('.', "_"));
        if self.page.tr.has(&key) {
            self.page.t(&key).to_owned()
        } else {
            r.action.clone()
        }
    }

    fn patient(&self, id: &i64) -> Option<&(String, String)> {
        self.patients.get(id)
    }
}

pub async fn show(
    clinic: Clinic,
    page: PageCtx,
    Query(form): Query<FilterForm>,
) -> Result<Response, AppError> {
    let parsed = form.parse();
    let work::Browse {
        staff: users,
        mut rows,
        patients,
    } = work::browse(
        &clinic,
        parsed.as_ref().ok(),
        PAGE_SIZE + 1,
        &filter_names(&form),
        true,
    )
    .await?;
    let errors = parsed.err().unwrap_or_default();
    let next = if rows.len() as i64 > PAGE_SIZE {
        rows.truncate(PAGE_SIZE as usize);
        rows.last().map(|r| form.older_than(r.seq))
    } else {
        None
    };
    Ok(render_page(&AuditPage {
        page: page.into_page(),
        form,
        errors,
        rows,
        users,
        patients,
        next,
    }))
}

/// Which filters were used (names only).
pub fn filter_names(f: &FilterForm) -> Vec<&'static str> {
    f.set_filters().map(|(k, _)| k).collect()
}

pub async fn export(
    clinic: Clinic,
    tenant: CurrentTenant,
    Query(form): Query<FilterForm>,
) -> Result<Response, AppError> {
    let mut filter = form.parse().map_err(AppError::Validation)?;
    filter.before = None;
    let rows = work::export(&clinic, &filter, EXPORT_MAX, &filter_names(&form)).await?;
    let csv = to_csv(&rows).map_err(|e| AppError::Internal(e.into()))?;
    let filename = format!(
        "attachment; filename=\"audit-{}-{}.csv\"",
        tenant.slug,
        clinic.at().format("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&filename).unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        csv,
    )
        .into_response())
}

pub fn to_csv(rows: &[AuditRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "seq",
        "time_utc",
        "actor_type",
        "actor_id",
        "actor_email",
        "ip",
        "action",
        "resource_type",
        "resource_id",
        "patient_id",
        "outcome",
        "details",
        "request_id",
    ])?;
    for r in rows {
        w.write_record([
            r.seq.to_string(),
            r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            r.actor_type.clone(),
            r.actor_id.map(|v| v.to_string()).unwrap_or_default(),
            r.actor_email.clone().unwrap_or_default(),
            r.ip.clone().unwrap_or_default(),
            r.action.clone(),
            r.resource_type.clone().unwrap_or_default(),
            r.resource_id.clone().unwrap_or_default(),
            r.patient_id.map(|v| v.to_string()).unwrap_or_default(),
            r.outcome.clone(),
            csv_safe(&r.details.to_string()),
            r.request_id.clone().unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Spreadsheet formula injection: a cell starting with = + - @ is prefixed with a quote.
fn csv_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}
