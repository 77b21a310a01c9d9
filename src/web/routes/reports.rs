//! `/reports`: the list of reports; `/reports/{report}`: one report over a date range or a
//! fiscal year, as a page with a bar chart (server-drawn SVG) or, with `format=csv`, as a
//! CSV file.

use askama::Template;
use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::domain::clinic::Clinic;
use crate::domain::reports::model::{Chart, PAGE_ROWS};
use crate::domain::reports::{
    self, Cell, Column, ColumnKind, Extent, Group, Kind, Report, ReportError, Request,
};
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;
use crate::web::routes::table::Access::Needs;
use crate::web::routes::table::Route;

pub fn routes() -> Vec<Route> {
    use crate::domain::auth::Permission::ReportsRead;
    vec![
        Route::get("/reports", Needs(ReportsRead), index),
        Route::get("/reports/revenue", Needs(ReportsRead), |c, p, q| {
            show(Kind::Revenue, c, p, q)
        }),
        Route::get("/reports/sales-register", Needs(ReportsRead), |c, p, q| {
            show(Kind::SalesRegister, c, p, q)
        }),
        Route::get("/reports/cancellations", Needs(ReportsRead), |c, p, q| {
            show(Kind::Cancellations, c, p, q)
        }),
        Route::get("/reports/appointments", Needs(ReportsRead), |c, p, q| {
            show(Kind::Appointments, c, p, q)
        }),
        Route::get("/reports/diagnoses", Needs(ReportsRead), |c, p, q| {
            show(Kind::Diagnoses, c, p, q)
        }),
    ]
}

impl From<ReportError> for AppError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Invalid(e) => AppError::Validation(e),
            ReportError::Sql(e) => e.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "reports/index.html")]
struct IndexPage {
    page: Page,
    fiscal_years: Vec<String>,
}

impl IndexPage {
    fn kinds(&self) -> [Kind; 5] {
        Kind::ALL
    }
    /// Whether the list offers a report by fiscal year (the tax office's registers).
    fn by_fiscal_year(&self, k: &Kind) -> bool {
        matches!(k, Kind::SalesRegister | Kind::Cancellations)
    }
    fn fy_href(&self, k: &Kind, fy: &str) -> String {
        let q: String = url::form_urlencoded::byte_serialize(fy.as_bytes()).collect();
        format!("/reports/{}?fy={q}", k.slug())
    }
}

pub async fn index(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    let cal = reports::calendar(&clinic).await?;
    Ok(render_with_status(
        StatusCode::OK,
        &IndexPage {
            page: page.into_page(),
            fiscal_years: reports::recent_fiscal_years(&cal),
        },
    ))
}

/// A report's query: its range and grouping, and `format=csv` for the file.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(flatten)]
    pub req: Request,
    pub format: Option<String>,
}

#[derive(Template)]
#[template(path = "reports/report.html")]
struct ReportPage {
    page: Page,
    kind: Kind,
    req: Request,
    errors: FormErrors,
    report: Option<Report>,
    chart: Option<Chart>,
    fiscal_years: Vec<String>,
}

impl ReportPage {
    /// The form's first day: the report's, or what was typed.
    fn first_day(&self) -> String {
        match &self.report {
            Some(r) => r.range.from.to_string(),
            None => self.req.from.clone().unwrap_or_default(),
        }
    }
    fn last_day(&self) -> String {
        match &self.report {
            Some(r) => r.range.to.to_string(),
            None => self.req.to.clone().unwrap_or_default(),
        }
    }
    fn groupings(&self) -> &'static [Group] {
        self.kind.groupings()
    }
    fn by_is(&self, g: &Group) -> bool {
        self.report.as_ref().and_then(|r| r.range.by) == Some(*g)
    }
    fn fy_is(&self, fy: &str) -> bool {
        self.req.fy.as_deref() == Some(fy)
    }
    fn shown_rows(&self) -> &[Vec<Cell>] {
        self.report
            .as_ref()
            .map_or(&[][..], |r| &r.rows[..r.rows.len().min(PAGE_ROWS)])
    }
    fn more_rows(&self) -> bool {
        self.report
            .as_ref()
            .is_some_and(|r| r.rows.len() > PAGE_ROWS)
    }
    fn numeric(&self, c: &Column) -> bool {
        matches!(
            c.kind,
            ColumnKind::Count | ColumnKind::Money | ColumnKind::Percent
        )
    }
    fn is_numeric_at(&self, i: &usize) -> bool {
        self.report
            .as_ref()
            .and_then(|r| r.columns.get(*i))
            .is_some_and(|c| self.numeric(c))
    }
    /// A cell as the page shows it: money with the currency, times and days in words.
    fn cell(&self, c: &Cell) -> String {
        let Some(r) = &self.report else {
            return String::new();
        };
        match c {
            Cell::Money(m) => r.currency.format(*m),
            Cell::Date(d) => d.format("%a %d %b %Y").to_string(),
            Cell::Time(t) => t.with_timezone(&r.tz).format("%d %b %Y %H:%M").to_string(),
            other => other.plain(r.tz, &|k| self.page.t(k).to_owned()),
        }
    }
    /// The query string of this report's CSV file.
    fn csv_href(&self) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(r) = &self.report {
            q.append_pair("from", &r.range.from.to_string());
            q.append_pair("to", &r.range.to.to_string());
            if let Some(b) = r.range.by {
                q.append_pair("by", b.as_str());
            }
        }
        q.append_pair("format", "csv");
        format!("/reports/{}?{}", self.kind.slug(), q.finish())
    }
}

async fn show(
    kind: Kind,
    clinic: Clinic,
    page: PageCtx,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    let csv = match q.format.as_deref().map(str::trim) {
        None | Some("" | "html") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(AppError::Validation(FormErrors::with(
                "format",
                "invalid.report_format",
            )));
        }
    };
    let extent = if csv { Extent::All } else { Extent::Page };
    let (report, errors) = match reports::run(&clinic, kind, &q.req, extent).await {
        Ok(r) => (Some(r), FormErrors::new()),
        Err(ReportError::Invalid(e)) => (None, e),
        Err(e) => return Err(e.into()),
    };
    let page = page.into_page();
    if csv && let Some(r) = &report {
        let body = r
            .csv(&|k| page.t(k).to_owned())
            .map_err(|e| AppError::Internal(e.into()))?;
        let disposition = format!("attachment; filename=\"{}\"", r.file_name());
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&disposition)
                        .unwrap_or(HeaderValue::from_static("attachment")),
                ),
            ],
            body,
        )
            .into_response());
    }
    let cal = reports::calendar(&clinic).await?;
    let chart = report.as_ref().map(|r| {
        let currency = r.currency;
        if r.money_bars {
            r.chart(|v| currency.number(v))
        } else {
            r.chart(|v| v.to_string())
        }
    });
    let page = match &report {
        Some(r) => page.printed_at(clinic.at(), r.tz),
        None => page,
    };
    Ok(render_with_status(
        crate::web::page::form_status(&errors),
        &ReportPage {
            page,
            kind,
            req: q.req,
            errors,
            report,
            chart,
            fiscal_years: reports::recent_fiscal_years(&cal),
        },
    ))
}
