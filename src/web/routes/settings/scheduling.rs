//! Scheduling settings for clinic admins: time zone, MRN prefix and slot length; opening hours
//! and holidays; appointment types; each provider's hours and leave.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use tower_sessions::Session;

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::Permission;
use crate::domain::patients::{repo as patients, service as patient_service};
use crate::domain::scheduling::repo::{Absence, Holiday, WeekRows};
use crate::domain::scheduling::slots::{format_ranges, parse_ranges};
use crate::domain::scheduling::{self, AppointmentType, Provider, repo};
use crate::domain::tenants::model::is_hex_color;
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::{PageCtx, set_flash};
use crate::web::site::CurrentTenant;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Seven text fields (`hours_1` … `hours_7`) as rows, or the errors per day.
fn week_from_form(f: &Pairs, errors: &mut FormErrors) -> WeekRows {
    let mut rows = Vec::new();
    for (i, field) in [
        "hours_1", "hours_2", "hours_3", "hours_4", "hours_5", "hours_6", "hours_7",
    ]
    .iter()
    .enumerate()
    {
        match parse_ranges(&f.one(field)) {
            Ok(r) => rows.extend(r.into_iter().map(|(s, e)| ((i + 1) as i16, s, e))),
            Err(e) => errors.add(field, e),
        }
    }
    rows
}

/// Per weekday, the ranges as typed text.
fn week_text(rows: &WeekRows) -> Vec<(usize, &'static str, String)> {
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let r: Vec<_> = rows
                .iter()
                .filter(|(w, _, _)| *w as usize == i + 1)
                .map(|(_, s, e)| (*s, *e))
                .collect();
            (i + 1, *d, format_ranges(&r))
        })
        .collect()
}

fn typed_week(f: &Pairs) -> Vec<(usize, &'static str, String)> {
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| (i + 1, *d, f.one(&format!("hours_{}", i + 1))))
        .collect()
}

async fn record(
    tx: &mut sqlx::PgConnection,
    ctx: &AuditCtx,
    user: &CurrentUser,
    what: &str,
    details: serde_json::Value,
) -> sqlx::Result<()> {
    audit::record(
        tx,
        ctx,
        Event::new(action::SCHEDULING_SETTINGS, user.actor())
            .resource("settings", what)
            .details(details),
    )
    .await
}

// ---- /settings/clinic -------------------------------------------------------------------

#[derive(Template)]
#[template(path = "settings/clinic.html")]
struct ClinicPage {
    page: Page,
    timezone: String,
    zones: Vec<&'static str>,
    mrn_prefix: String,
    slot_minutes: String,
    errors: FormErrors,
}

fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect()
}

pub async fn clinic(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let prefix = patients::mrn_prefix(&mut tx).await?;
    let slot = repo::slot_minutes(&mut tx).await?;
    tx.commit().await?;
    Ok(render_with_status(
        StatusCode::OK,
        &ClinicPage {
            page: page.into_page(),
            timezone: tz.name().to_owned(),
            zones: zones(),
            mrn_prefix: prefix,
            slot_minutes: slot.to_string(),
            errors: FormErrors::new(),
        },
    ))
}

pub async fn save_clinic(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let tz: Option<chrono_tz::Tz> = f.one("timezone").parse().ok();
    if tz.is_none() {
        errors.add("timezone", "choose a time zone from the list");
    }
    let prefix = patient_service::parse_mrn_prefix(&f.one("mrn_prefix"))
        .map_err(|e| errors.add("mrn_prefix", e))
        .ok();
    let slot = f
        .one("slot_minutes")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| [5, 10, 15, 20, 30, 60].contains(m));
    if slot.is_none() {
        errors.add("slot_minutes", "5, 10, 15, 20, 30 or 60");
    }
    let (Some(tz), Some(prefix), Some(slot)) = (tz, prefix, slot) else {
        return Ok(render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ClinicPage {
                page: page.into_page(),
                timezone: f.one("timezone"),
                zones: zones(),
                mrn_prefix: f.one("mrn_prefix"),
                slot_minutes: f.one("slot_minutes"),
                errors,
            },
        ));
    };
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let mut changed = Vec::new();
    if scheduling::clinic_tz(&mut tx).await? != tz {
        put_setting(&mut tx, "timezone", tz.name().into(), ctx.at).await?;
        changed.push("timezone");
    }
    if patients::mrn_prefix(&mut tx).await? != prefix {
        patients::set_mrn_prefix(&mut tx, &prefix, ctx.at).await?;
        changed.push("mrn_prefix");
    }
    if repo::slot_minutes(&mut tx).await? != slot {
        put_setting(&mut tx, "scheduling.slot_minutes", slot.into(), ctx.at).await?;
        changed.push("slot_minutes");
    }
    if !changed.is_empty() {
        record(
            &mut tx,
            &ctx,
            &user,
            "clinic",
            serde_json::json!({ "changed": changed }),
        )
        .await?;
    }
    tx.commit().await?;
    set_flash(&session, "saved").await;
    Ok(Redirect::to("/settings/clinic").into_response())
}

async fn put_setting(
    conn: &mut sqlx::PgConnection,
    key: &str,
    value: serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- /settings/hours ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "settings/hours.html")]
struct HoursPage {
    page: Page,
    week: Vec<(usize, &'static str, String)>,
    holidays: Vec<Holiday>,
    errors: FormErrors,
}

async fn hours_page(
    state: &AppState,
    tenant: &CurrentTenant,
    page: Page,
    week: Option<Vec<(usize, &'static str, String)>>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let rows = repo::clinic_hours(&mut tx).await?;
    let holidays = repo::holidays(&mut tx, scheduling::local_date(tz, state.clock.now())).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with_status(
        status,
        &HoursPage {
            page,
            week: week.unwrap_or_else(|| week_text(&rows)),
            holidays,
            errors,
        },
    ))
}

pub async fn hours(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    hours_page(&state, &tenant, page.into_page(), None, FormErrors::new()).await
}

pub async fn save_hours(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let rows = week_from_form(&f, &mut errors);
    if !errors.is_empty() {
        return hours_page(
            &state,
            &tenant,
            page.into_page(),
            Some(typed_week(&f)),
            errors,
        )
        .await;
    }
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    repo::replace_clinic_hours(&mut tx, &rows).await?;
    record(
        &mut tx,
        &ctx,
        &user,
        "clinic_hours",
        serde_json::json!({ "ranges": rows.len() }),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "saved").await;
    Ok(Redirect::to("/settings/hours").into_response())
}

pub async fn add_holiday(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let day = NaiveDate::parse_from_str(f.one("day").trim(), "%Y-%m-%d").ok();
    let name = f.one("name").trim().to_owned();
    let mut errors = FormErrors::new();
    if day.is_none() {
        errors.add("day", "choose a date");
    }
    if name.is_empty() || name.chars().count() > 100 {
        errors.add("name", "name the holiday (1-100 characters)");
    }
    let Some(day) = day.filter(|_| errors.is_empty()) else {
        return hours_page(&state, &tenant, page.into_page(), None, errors).await;
    };
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    repo::add_holiday(&mut tx, day, &name).await?;
    record(
        &mut tx,
        &ctx,
        &user,
        "holiday",
        serde_json::json!({ "added": day }),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "saved").await;
    Ok(Redirect::to("/settings/hours").into_response())
}

pub async fn remove_holiday(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    Path(day): Path<String>,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| AppError::NotFound)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    if !repo::remove_holiday(&mut tx, day).await? {
        return Err(AppError::NotFound);
    }
    record(
        &mut tx,
        &ctx,
        &user,
        "holiday",
        serde_json::json!({ "removed": day }),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/settings/hours").into_response())
}

// ---- /settings/appointment-types ------------------------------------------------------------

#[derive(Template)]
#[template(path = "settings/types.html")]
struct TypesPage {
    page: Page,
    types: Vec<AppointmentType>,
    errors: FormErrors,
}

fn parse_type(f: &Pairs, errors: &mut FormErrors) -> Option<(String, i32, String)> {
    let name = f.one("name").trim().to_owned();
    if name.is_empty() || name.chars().count() > 80 {
        errors.add("name", "1-80 characters");
    }
    let minutes = f
        .one("duration_minutes")
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|m| (5..=480).contains(m));
    if minutes.is_none() {
        errors.add("duration_minutes", "5 to 480 minutes");
    }
    let color = f.one("color").trim().to_owned();
    if !is_hex_color(&color) {
        errors.add("color", "a colour like #1f6f8b");
    }
    minutes
        .filter(|_| errors.is_empty())
        .map(|m| (name, m, color))
}

async fn types_page(
    state: &AppState,
    tenant: &CurrentTenant,
    page: Page,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let types = repo::types(&mut tx, true).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with_status(
        status,
        &TypesPage {
            page,
            types,
            errors,
        },
    ))
}

pub async fn types(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    types_page(&state, &tenant, page.into_page(), FormErrors::new()).await
}

fn name_taken(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.constraint() == Some("appointment_types_name_key"))
}

pub async fn add_type(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let Some((name, minutes, color)) = parse_type(&f, &mut errors) else {
        return types_page(&state, &tenant, page.into_page(), errors).await;
    };
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    match repo::insert_type(&mut tx, &name, minutes, &color).await {
        Ok(t) => {
            record(
                &mut tx,
                &ctx,
                &user,
                "appointment_type",
                serde_json::json!({ "added": t.id }),
            )
            .await?;
            tx.commit().await?;
            set_flash(&session, "saved").await;
            Ok(Redirect::to("/settings/appointment-types").into_response())
        }
        Err(e) if name_taken(&e) => {
            tx.rollback().await?;
            types_page(
                &state,
                &tenant,
                page.into_page(),
                FormErrors::with("name", "a type with this name exists"),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn update_type(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let Some((name, minutes, color)) = parse_type(&f, &mut errors) else {
        return types_page(&state, &tenant, page.into_page(), errors).await;
    };
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    match repo::update_type(&mut tx, id, &name, minutes, &color, f.flag("active")).await {
        Ok(true) => {
            record(
                &mut tx,
                &ctx,
                &user,
                "appointment_type",
                serde_json::json!({ "updated": id }),
            )
            .await?;
            tx.commit().await?;
            set_flash(&session, "saved").await;
            Ok(Redirect::to("/settings/appointment-types").into_response())
        }
        Ok(false) => Err(AppError::NotFound),
        Err(e) if name_taken(&e) => {
            tx.rollback().await?;
            types_page(
                &state,
                &tenant,
                page.into_page(),
                FormErrors::with("name", "a type with this name exists"),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- /settings/providers ------------------------------------------------------------------

#[derive(Template)]
#[template(path = "settings/providers.html")]
struct ProvidersPage {
    page: Page,
    providers: Vec<Provider>,
}

pub async fn providers(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let providers = repo::providers(&mut tx).await?;
    tx.commit().await?;
    Ok(render_with_status(
        StatusCode::OK,
        &ProvidersPage {
            page: page.into_page(),
            providers,
        },
    ))
}

#[derive(Template)]
#[template(path = "settings/provider.html")]
struct ProviderPage {
    page: Page,
    p: Provider,
    week: Vec<(usize, &'static str, String)>,
    absences: Vec<Absence>,
    errors: FormErrors,
}

async fn provider_page(
    state: &AppState,
    tenant: &CurrentTenant,
    page: Page,
    id: i64,
    week: Option<Vec<(usize, &'static str, String)>>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let p = repo::provider(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = scheduling::clinic_tz(&mut tx).await?;
    let rows = repo::provider_hours(&mut tx, id).await?;
    let absences =
        repo::absences(&mut tx, id, scheduling::local_date(tz, state.clock.now())).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with_status(
        status,
        &ProviderPage {
            page,
            p,
            week: week.unwrap_or_else(|| week_text(&rows)),
            absences,
            errors,
        },
    ))
}

pub async fn provider(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    provider_page(
        &state,
        &tenant,
        page.into_page(),
        id,
        None,
        FormErrors::new(),
    )
    .await
}

pub async fn save_provider_hours(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let rows = week_from_form(&f, &mut errors);
    if !errors.is_empty() {
        return provider_page(
            &state,
            &tenant,
            page.into_page(),
            id,
            Some(typed_week(&f)),
            errors,
        )
        .await;
    }
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    repo::provider(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    repo::replace_provider_hours(&mut tx, id, &rows).await?;
    record(
        &mut tx,
        &ctx,
        &user,
        "provider_hours",
        serde_json::json!({ "provider": id, "ranges": rows.len() }),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "saved").await;
    Ok(Redirect::to(&format!("/settings/providers/{id}")).into_response())
}

pub async fn add_absence(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let f = Pairs::parse(&body);
    let from = NaiveDate::parse_from_str(f.one("starts_on").trim(), "%Y-%m-%d").ok();
    let to = NaiveDate::parse_from_str(f.one("ends_on").trim(), "%Y-%m-%d")
        .ok()
        .or(from);
    let reason = f.opt("reason");
    let mut errors = FormErrors::new();
    match (from, to) {
        (Some(a), Some(b)) if b >= a => {}
        (Some(_), Some(_)) => errors.add("ends_on", "the last day cannot be before the first"),
        _ => errors.add("starts_on", "choose the first day"),
    }
    if reason.as_deref().is_some_and(|r| r.chars().count() > 200) {
        errors.add("reason", "at most 200 characters");
    }
    let (Some(from), Some(to)) = (from, to) else {
        return provider_page(&state, &tenant, page.into_page(), id, None, errors).await;
    };
    if !errors.is_empty() {
        return provider_page(&state, &tenant, page.into_page(), id, None, errors).await;
    }
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    repo::provider(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    repo::add_absence(&mut tx, id, from, to, reason.as_deref()).await?;
    record(
        &mut tx,
        &ctx,
        &user,
        "provider_absence",
        serde_json::json!({ "provider": id, "from": from, "to": to }),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "saved").await;
    Ok(Redirect::to(&format!("/settings/providers/{id}")).into_response())
}

pub async fn remove_absence(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    Path((id, absence)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    user.require(Permission::SettingsManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    if !repo::remove_absence(&mut tx, id, absence).await? {
        return Err(AppError::NotFound);
    }
    record(
        &mut tx,
        &ctx,
        &user,
        "provider_absence",
        serde_json::json!({ "provider": id, "removed": absence }),
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/settings/providers/{id}")).into_response())
}
