//! `GET/POST /setup/{token}` on the console host: create the first operator account.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::audit::{self, Actor, Event, action};
use crate::domain::auth::service::{self, AccountError};
use crate::domain::auth::{Accounts, password::NewPassword, setup};
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
        errors.add("password", e.to_string());
    }
    let mut tx = crate::db::begin(&state.db.pool).await?;
    if !setup::consume(&mut tx, &token, ctx.at).await? {
        return Err(AppError::NotFound);
    }
    if errors.is_empty() {
        match service::create_account(
            &mut tx,
            Accounts::Operators,
            &form.email,
            &form.display_name,
            None,
            Some(&form.password),
            &[],
            ctx.at,
        )
        .await
        {
            Ok((acc, _)) => {
                audit::record_system(
                    &mut tx,
                    &ctx,
                    Event::new(action::OPERATOR_CREATED, Actor::Operator(acc.id))
                        .resource("operator", acc.id)
                        .details(serde_json::json!({ "via": "setup_link" })),
                    None,
                )
                .await?;
                tx.commit().await?;
                crate::domain::auth::setup::forget_link_file(&state.config.storage.data_dir);
                super::complete_login(&session, &Realm::Console, &acc, ctx.at.timestamp(), &host)
                    .await?;
                return Ok(Redirect::to("/").into_response());
            }
            Err(
                e @ (AccountError::Email(_) | AccountError::Name(_) | AccountError::Password(_)),
            ) => {
                errors.add(e.field().unwrap_or("_form"), e.to_string());
            }
            Err(e) => return Err(AppError::Internal(e.into())),
        }
    }
    // Nothing was created: the link stays usable.
    tx.rollback().await?;
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
