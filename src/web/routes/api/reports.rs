//! `/api/v1/reports/…`: the reports as tables. Every answer has the same shape: the columns
//! (key, heading, kind), the rows as arrays of values in the columns' order and the totals
//! row. Money is an integer in minor units, a share is in basis points (1250 = 12.5 %),
//! days are `YYYY-MM-DD` and instants RFC 3339. The API answers every row (audited as an
//! export), like the pages' CSV files.

use axum::extract::Query;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::clinic::Clinic;
use crate::domain::reports::{self, ColumnKind, Extent, Group, Kind, Request};
use crate::web::AppError;
use crate::web::extract::Json;

/// A column of a report.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportColumn)]
pub struct ColumnOut {
    /// Stable name (`net`, `total`, `no_show_rate`).
    pub key: String,
    /// The heading, in English.
    pub label: String,
    pub kind: ColumnKind,
}

/// A report as a table.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportTable)]
pub struct Table {
    pub report: Kind,
    /// First and last day (included), in the clinic's time zone.
    pub from: String,
    pub to: String,
    pub by: Option<Group>,
    pub currency: String,
    pub columns: Vec<ColumnOut>,
    /// Values in the columns' order.
    pub rows: Vec<Vec<serde_json::Value>>,
    pub totals: Option<Vec<serde_json::Value>>,
}

async fn table(clinic: &Clinic, kind: Kind, req: &Request) -> Result<Json<Table>, AppError> {
    let r = reports::run(clinic, kind, req, Extent::All).await?;
    let t = |k: &str| crate::i18n::en(k).to_owned();
    let t: &dyn Fn(&str) -> String = &t;
    Ok(Json(Table {
        report: r.kind,
        from: r.range.from.to_string(),
        to: r.range.to.to_string(),
        by: r.range.by,
        currency: r.currency.code.to_owned(),
        columns: r
            .columns
            .iter()
            .map(|c| ColumnOut {
                key: c.key.trim_start_matches("reports.").to_owned(),
                label: t(c.key),
                kind: c.kind,
            })
            .collect(),
        rows: r
            .rows
            .iter()
            .map(|row| row.iter().map(|c| c.json(t)).collect())
            .collect(),
        totals: r
            .totals
            .as_ref()
            .map(|row| row.iter().map(|c| c.json(t)).collect()),
    }))
}

#[utoipa::path(get, operation_id = "reports_revenue", path = "/api/v1/reports/revenue", tag = "reports",
    params(Request),
    responses((status = 200, body = Table), (status = 422, description = "A date, the range or the grouping is wrong (by field)")),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revenue(clinic: Clinic, Query(q): Query<Request>) -> Result<Json<Table>, AppError> {
    table(&clinic, Kind::Revenue, &q).await
}

#[utoipa::path(get, operation_id = "reports_sales_register", path = "/api/v1/reports/sales-register", tag = "reports",
    params(Request),
    responses((status = 200, body = Table), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn sales_register(
    clinic: Clinic,
    Query(q): Query<Request>,
) -> Result<Json<Table>, AppError> {
    table(&clinic, Kind::SalesRegister, &q).await
}

#[utoipa::path(get, operation_id = "reports_cancellations", path = "/api/v1/reports/cancellations", tag = "reports",
    params(Request),
    responses((status = 200, body = Table), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn cancellations(
    clinic: Clinic,
    Query(q): Query<Request>,
) -> Result<Json<Table>, AppError> {
    table(&clinic, Kind::Cancellations, &q).await
}

#[utoipa::path(get, operation_id = "reports_appointments", path = "/api/v1/reports/appointments", tag = "reports",
    params(Request),
    responses((status = 200, body = Table), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn appointments(
    clinic: Clinic,
    Query(q): Query<Request>,
) -> Result<Json<Table>, AppError> {
    table(&clinic, Kind::Appointments, &q).await
}

#[utoipa::path(get, operation_id = "reports_diagnoses", path = "/api/v1/reports/diagnoses", tag = "reports",
    params(Request),
    responses((status = 200, body = Table), (status = 422)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn diagnoses(clinic: Clinic, Query(q): Query<Request>) -> Result<Json<Table>, AppError> {
    table(&clinic, Kind::Diagnoses, &q).await
}
