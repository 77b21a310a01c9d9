//! The visit's POSTs. Every action of the visit screen carries the note on screen and saves it
//! in the same transaction; a refused one shows the screen again with everything as typed.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

use super::show::{Amend, Typed, render};
use super::{note_from_form, rx_from_form, vitals_from_form};
use crate::domain::clinic::Clinic;
use crate::domain::prescriptions::work as rx;
use crate::domain::visits::work::{self, VitalsFor};
use crate::domain::visits::{DiagnosisInput, VisitError};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::extract::Path;
use crate::web::forms::{FormErrors, Pairs};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

/// A refusal the page can show (field errors, a conflict, a signed visit), or the error page.
fn refusal(e: VisitError) -> Result<(StatusCode, FormErrors, Option<String>), AppError> {
    match e {
        VisitError::NotFound => Err(AppError::NotFound),
        VisitError::Invalid(errors) => Ok((StatusCode::UNPROCESSABLE_ENTITY, errors, None)),
        VisitError::Sql(e) => Err(e.into()),
        e @ (VisitError::Conflict(_)
        | VisitError::Signed
        | VisitError::NotSigned
        | VisitError::NotClinician
        | VisitError::AppointmentClosed(_)) => Ok((
            StatusCode::CONFLICT,
            FormErrors::new(),
            Some(e.message().to_owned()),
        )),
    }
}

/// The visit screen again after a refused action, keeping what was typed.
async fn refused(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    id: i64,
    form: &Pairs,
    e: VisitError,
) -> Result<Response, AppError> {
    let (status, errors, message) = refusal(e)?;
    let typed = Typed {
        note: note_from_form(form),
        vitals: vitals_from_form(form),
        errors,
        message,
        dx_q: form.one("dx_q"),
        amend: Amend {
            section: form.one("section"),
            body: form.one("body"),
            reason: form.one("reason"),
        },
        rx: rx_from_form(form),
        rx_set_name: form.one("rx_set_name"),
    };
    render(clinic, user, page, id, typed, status).await
}

fn parse_id(field: &str, v: &str) -> Result<i64, AppError> {
    v.trim()
        .parse::<i64>()
        .map_err(|_| AppError::BadRequest(format!("{field}: not an id")))
}

fn start_error(e: VisitError) -> AppError {
    match e {
        VisitError::NotFound => AppError::NotFound,
        VisitError::Sql(e) => e.into(),
        e => AppError::Conflict(e.message().to_owned(), None),
    }
}

/// `POST /appointments/{id}/visit`: "Start" on Today or the queue.
pub async fn start(
    clinic: Clinic,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match work::start(&clinic, id).await {
        Ok(v) => Ok(axum::response::Redirect::to(&format!("/visits/{v}")).into_response()),
        Err(e @ (VisitError::NotClinician | VisitError::AppointmentClosed(_))) => {
            Ok(redirect_with_flash(&session, e.message(), &format!("/appointments/{id}")).await)
        }
        Err(e) => Err(start_error(e)),
    }
}

/// `POST /patients/{id}/visits`: a visit without an appointment, from the chart.
pub async fn start_for_patient(
    clinic: Clinic,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    match work::start_for_patient(&clinic, id).await {
        Ok(v) => Ok(axum::response::Redirect::to(&format!("/visits/{v}")).into_response()),
        Err(e @ VisitError::NotClinician) => {
            Ok(redirect_with_flash(&session, e.message(), &format!("/patients/{id}")).await)
        }
        Err(e) => Err(start_error(e)),
    }
}

/// `POST /visits/{id}`: the visit form. The button pressed says what to do besides saving
/// the note: `record_vitals`, `search` (the code set, for `dx_q`), `code` (add that code),
/// `add_text` (a free-text diagnosis), `remove` (a diagnosis id); none: just save. With
/// `X-Autosave: 1` (the page's script) it only saves, and answers JSON: `{"version": n}`, or a
/// 409/422 with `{"message": …, "version": …, "errors": …}`.
pub async fn save(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    let note = note_from_form(&form);
    if headers.get("x-autosave").is_some_and(|v| v == "1") {
        let Some(note) = note else {
            return Err(AppError::BadRequest("version: missing".into()));
        };
        return autosave_answer(&page, work::save(&clinic, id, &note, true).await);
    }
    let note = note.as_ref();
    let (result, to) = if form.opt("record_vitals").is_some() {
        let r = work::record_vitals(
            &clinic,
            VitalsFor::Visit(id),
            &vitals_from_form(&form),
            note,
        )
        .await;
        (
            r.map(|_| "visits.vitals_saved"),
            format!("/visits/{id}#triage"),
        )
    } else if form.opt("search").is_some() {
        let q = form.one("dx_q");
        let r = match note {
            Some(n) => work::save(&clinic, id, n, false).await.map(|_| ()),
            None => Ok(()),
        };
        if r.is_ok() {
            let q =
                percent_encoding::utf8_percent_encode(q.trim(), percent_encoding::NON_ALPHANUMERIC);
            return Ok(
                axum::response::Redirect::to(&format!("/visits/{id}?dx_q={q}#assessment"))
                    .into_response(),
            );
        }
        (r.map(|()| "saved"), String::new())
    } else if let Some(remove) = form.opt("remove") {
        let dx = remove
            .trim()
            .parse::<i64>()
            .map_err(|_| AppError::BadRequest("remove: not an id".into()))?;
        let r = work::remove_diagnosis(&clinic, id, dx, note).await;
        (
            r.map(|()| "visits.diagnosis_removed"),
            format!("/visits/{id}#assessment"),
        )
    } else if form.opt("rx_add").is_some() {
        let r = rx::add_item(&clinic, id, &rx_from_form(&form), note).await;
        (r.map(|_| "visits.rx_added"), format!("/visits/{id}#plan"))
    } else if let Some(item) = form.opt("rx_remove") {
        let r = rx::remove_item(&clinic, id, parse_id("rx_remove", &item)?, note).await;
        (
            r.map(|()| "visits.rx_removed"),
            format!("/visits/{id}#plan"),
        )
    } else if let Some(item) = form.opt("rx_fav") {
        let r = rx::save_set(&clinic, id, "", Some(parse_id("rx_fav", &item)?), note).await;
        (
            r.map(|_| "visits.rx_favourite_saved"),
            format!("/visits/{id}#plan"),
        )
    } else if form.opt("rx_set_save").is_some() {
        let r = rx::save_set(&clinic, id, &form.one("rx_set_name"), None, note).await;
        (
            r.map(|_| "visits.rx_set_saved"),
            format!("/visits/{id}#plan"),
        )
    } else if form.opt("rx_apply").is_some() {
        let set = form.one("rx_set").trim().parse::<i64>().unwrap_or(0);
        let r = rx::apply_set(&clinic, id, set, form.flag("rx_confirm_allergy"), note).await;
        (
            r.map(|_| "visits.rx_set_applied"),
            format!("/visits/{id}#plan"),
        )
    } else if let Some(set) = form.opt("rx_set_delete") {
        let set = parse_id("rx_set_delete", &set)?;
        let r = match note {
            Some(n) => work::save(&clinic, id, n, false).await.map(|_| ()),
            None => Ok(()),
        };
        let r = match r {
            Ok(()) => rx::delete_set(&clinic, set)
                .await
                .map(|_| "visits.rx_set_deleted"),
            Err(e) => Err(e),
        };
        (r, format!("/visits/{id}#plan"))
    } else if form.opt("code").is_some() || form.opt("add_text").is_some() {
        let input = DiagnosisInput {
            code: form.opt("code").unwrap_or_default(),
            text: if form.opt("add_text").is_some() {
                form.one("dx_text")
            } else {
                String::new()
            },
            primary: form.flag("dx_primary"),
            chronic: form.flag("dx_chronic"),
        };
        let r = work::add_diagnosis(&clinic, id, &input, note).await;
        (
            r.map(|_| "visits.diagnosis_added"),
            format!("/visits/{id}#assessment"),
        )
    } else {
        let Some(n) = note else {
            return Err(AppError::BadRequest("version: missing".into()));
        };
        (
            work::save(&clinic, id, n, false).await.map(|_| "saved"),
            format!("/visits/{id}"),
        )
    };
    match result {
        Ok(flash) => Ok(redirect_with_flash(&session, flash, &to).await),
        Err(e) => refused(&clinic, &user, page, id, &form, e).await,
    }
}

fn autosave_answer(page: &PageCtx, result: Result<i32, VisitError>) -> Result<Response, AppError> {
    let (status, body) = match result {
        Ok(version) => (StatusCode::OK, serde_json::json!({ "version": version })),
        Err(VisitError::Conflict(now)) => (
            StatusCode::CONFLICT,
            serde_json::json!({ "version": now, "message": page.t("visits.conflict") }),
        ),
        Err(VisitError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({
                "message": page.t("form.fix_errors"),
                "errors": errors.as_map().iter().map(|(k, v)| (k.to_string(), page.message(v))).collect::<std::collections::BTreeMap<_, _>>(),
            }),
        ),
        Err(VisitError::NotFound) => return Err(AppError::NotFound),
        Err(VisitError::Sql(e)) => return Err(e.into()),
        Err(e) => (
            StatusCode::CONFLICT,
            serde_json::json!({ "message": page.t(e.message()) }),
        ),
    };
    Ok((status, crate::web::extract::Json(body)).into_response())
}

/// `POST /visits/{id}/sign`: save what is on screen and sign it.
pub async fn sign(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    let note = note_from_form(&form);
    match work::sign(&clinic, id, note.as_ref()).await {
        Ok(_) => Ok(redirect_with_flash(&session, "visits.signed", &format!("/visits/{id}")).await),
        Err(e) => refused(&clinic, &user, page, id, &form, e).await,
    }
}

/// `POST /visits/{id}/amend`: correct a section of a signed visit.
pub async fn amend(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    match work::amend(
        &clinic,
        id,
        &form.one("section"),
        &form.one("body"),
        &form.one("reason"),
    )
    .await
    {
        Ok(_) => {
            Ok(redirect_with_flash(&session, "visits.amended", &format!("/visits/{id}")).await)
        }
        Err(e) => refused(&clinic, &user, page, id, &form, e).await,
    }
}

/// `POST /patients/{id}/problems/resolve` (`problem_id`): a chronic condition no longer
/// applies.
pub async fn resolve_problem(
    clinic: Clinic,
    session: Session,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = Pairs::parse(&body);
    let problem = form
        .one("problem_id")
        .trim()
        .parse::<i64>()
        .map_err(|_| AppError::BadRequest("problem_id: not an id".into()))?;
    match work::resolve_problem(&clinic, id, problem).await {
        Ok(()) => {
            Ok(redirect_with_flash(&session, "saved", &format!("/patients/{id}#problems")).await)
        }
        Err(VisitError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Internal(e.into())),
    }
}
