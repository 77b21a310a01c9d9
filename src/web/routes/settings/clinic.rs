//! `/settings/clinic`: the clinic's time zone, MRN prefix, slot length, booking horizon, code
//! set and the largest document upload (the letterhead is on Profile and branding).

use askama::Template;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;

use tower_sessions::Session;

use crate::domain::clinic::Clinic;
use crate::domain::documents;
use crate::domain::documents::work::MAX_UPLOAD_MB_RANGE;
use crate::domain::patients::service::parse_mrn_prefix;
use crate::domain::scheduling::config::{self, ClinicSettings};
use crate::domain::scheduling::repo::HORIZON_RANGE;
use crate::web::AppError;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
use crate::web::routes::documents::{Documents, document_error};

#[derive(Template)]
#[template(path = "settings/clinic.html")]
struct ClinicPage {
    page: Page,
    timezone: String,
    zones: Vec<&'static str>,
    mrn_prefix: String,
    slot_minutes: String,
    horizon_months: String,
    code_system: String,
    code_systems: Vec<crate::domain::codes::CodeSystem>,
    max_upload_mb: String,
    /// What the clinic's documents take, of its quota.
    storage: String,
    errors: FormErrors,
}

impl ClinicPage {
    /// The clinic's code set is among those loaded (else it is offered as it is, not switched).
    fn code_system_loaded(&self) -> bool {
        self.code_systems
            .iter()
            .any(|c| c.system == self.code_system)
    }
}

fn zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect()
}

/// "12.3 MB of 10.7 GB used".
async fn storage(clinic: &Clinic, docs: &Documents, page: &Page) -> Result<String, AppError> {
    let l = documents::work::limits(clinic, docs.quota)
        .await
        .map_err(document_error)?;
    let used = documents::model::size_label(l.used as i64);
    let quota = documents::model::size_label(l.quota as i64);
    Ok(page.tf("documents.used", &[("used", &used), ("quota", &quota)]))
}

pub async fn show(clinic: Clinic, docs: Documents, page: PageCtx) -> Result<Response, AppError> {
    let p = config::clinic_settings(&clinic).await?;
    let s = p.settings;
    let page = page.into_page();
    Ok(render_with_status(
        StatusCode::OK,
        &ClinicPage {
            storage: storage(&clinic, &docs, &page).await?,
            max_upload_mb: s.max_upload_mb.to_string(),
            page,
            timezone: s.timezone.name().to_owned(),
            zones: zones(),
            mrn_prefix: s.mrn_prefix,
            slot_minutes: s.slot_minutes.to_string(),
            horizon_months: s.horizon_months.to_string(),
            code_system: s.code_system,
            code_systems: p.code_systems,
            errors: FormErrors::new(),
        },
    ))
}

pub async fn save(
    clinic: Clinic,
    docs: Documents,
    session: Session,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    let f = Pairs::parse(&body);
    let mut errors = FormErrors::new();
    let tz: Option<chrono_tz::Tz> = f.one("timezone").parse().ok();
    if tz.is_none() {
        errors.add("timezone", "invalid.timezone");
    }
    let prefix = parse_mrn_prefix(&f.one("mrn_prefix"))
        .map_err(|e| errors.add("mrn_prefix", e))
        .ok();
    let slot = f
        .one("slot_minutes")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| [5, 10, 15, 20, 30, 60].contains(m));
    if slot.is_none() {
        errors.add("slot_minutes", "invalid.slot_minutes");
    }
    let horizon = f
        .one("horizon_months")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| HORIZON_RANGE.contains(m));
    if horizon.is_none() {
        errors.add("horizon_months", "invalid.horizon_months");
    }
    let max_upload = f
        .one("max_upload_mb")
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|m| MAX_UPLOAD_MB_RANGE.contains(m));
    if max_upload.is_none() {
        errors.add("max_upload_mb", "invalid.max_upload_mb");
    }
    let storage = storage(&clinic, &docs, &page.0).await?;
    let refused = |errors: FormErrors, code_systems| ClinicPage {
        max_upload_mb: f.one("max_upload_mb"),
        storage: storage.clone(),
        page: page.0.clone(),
        timezone: f.one("timezone"),
        zones: zones(),
        mrn_prefix: f.one("mrn_prefix"),
        slot_minutes: f.one("slot_minutes"),
        horizon_months: f.one("horizon_months"),
        code_system: f.one("code_system"),
        code_systems,
        errors,
    };
    let (
        Some(timezone),
        Some(mrn_prefix),
        Some(slot_minutes),
        Some(horizon_months),
        Some(max_upload_mb),
        true,
    ) = (tz, prefix, slot, horizon, max_upload, errors.is_empty())
    else {
        let systems = config::clinic_settings(&clinic).await?.code_systems;
        return Ok(render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &refused(errors, systems),
        ));
    };
    let new = ClinicSettings {
        timezone,
        mrn_prefix,
        slot_minutes,
        horizon_months,
        code_system: f.one("code_system").trim().to_owned(),
        max_upload_mb,
    };
    match config::save_clinic_settings(&clinic, &new).await {
        Ok(_) => Ok(redirect_with_flash(&session, "saved", "/settings/clinic").await),
        Err(config::ClinicSettingsError::NoCodeSystem) => {
            let systems = config::clinic_settings(&clinic).await?.code_systems;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &refused(
                    FormErrors::with("code_system", "invalid.code_system"),
                    systems,
                ),
            ))
        }
        Err(config::ClinicSettingsError::Sql(e)) => Err(e.into()),
    }
}
