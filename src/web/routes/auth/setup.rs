//! `GET/POST /setup/{token}` on the console host: create the first operator account.

use crate::web::extract::Form;
use crate::web::extract::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::audit::Actor;
use crate::domain::auth::{password::NewPassword, setup};
use crate::domain::console::{self, Console, FirstOperator};
use crate::web::AppError;
use crate::web::auth::AuditCtx;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::PageCtx;
use crate::web::realm::Realm;
use crate::web::site::RequestHost;

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    page: Page,
    token: String,
    email: String,
    display_name: String,
    errors: FormErrors,
}

pub async fn show(
    State(state): State<AppState>,
    page: PageCtx,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let mut conn = state.db.pool.acquire().await?;
    if !setup::is_valid(&mut conn, &token, state.clock.now()).await? {
        return Err(AppError::NotFound);
    }
    Ok(render_page(&SetupPage {
        page: page.into_page(),
        token,
        email: String::new(),
        display_name: String::new(),
        errors: FormErrors::new(),
    }))
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    host: RequestHost,
    ctx: AuditCtx,
    page: PageCtx,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> Result<Response, AppError> {
    state.limits.sign_in(ctx.ip, "setup")?;
    let mut errors = FormErrors::new();
    if form.password != form.confirm {
        errors.add("confirm", "invalid.passwords_differ");
    } else if let Err(e) = NewPassword::parse(&form.password, &[&form.email, &form.display_name]) {
        errors.add("password", e.message());
    }
    let c = Console::new(state.db.pool.clone(), Actor::Anonymous, ctx.0.clone());
    let input = errors.is_empty().then_some((
        form.email.as_str(),
        form.display_name.as_str(),
        form.password.as_str(),
    ));
    match console::create_first_operator(&c, &token, input)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
    {
        FirstOperator::NoLink => return Err(AppError::NotFound),
        FirstOperator::Created(acc) => {
            crate::domain::auth::setup::forget_link_file(&state.config.storage.data_dir);
            super::complete_login(&session, &Realm::Console, &acc, ctx.at.timestamp(), &host)
                .await?;
            return Ok(Redirect::to("/").into_response());
        }
        // Nothing was created: the link stays usable.
        FirstOperator::Refused(e) => errors.add(e.field().unwrap_or("_form"), e.message()),
        FirstOperator::LinkValid => {}
    }
    Ok(render_with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        &SetupPage {
            page: page.into_page(),
            token,
            email: form.email,
            display_name: form.display_name,
            errors,
        },
    ))
}
