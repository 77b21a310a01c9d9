//! `/settings/users`: staff accounts (clinic admins).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event, action};
use crate::domain::auth::service::{self, AccountError};
use crate::domain::auth::{AccountRow, AccountStatus, Accounts, Permission, Role, repo};
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentUser};
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, set_flash};
use crate::web::session::end_sessions_of;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    page: Page,
    users: Vec<AccountRow>,
    roles: Vec<Role>,
    now: chrono::DateTime<chrono::Utc>,
    form: NewUserForm,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "settings/user_edit.html")]
struct EditPage {
    page: Page,
    u: AccountRow,
    roles: Vec<Role>,
    now: chrono::DateTime<chrono::Utc>,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "settings/temp_password.html")]
struct TempPasswordPage {
    page: Page,
    u: AccountRow,
    password: String,
    created: bool,
}

async fn render_list(
    state: &AppState,
    tenant: &CurrentTenant,
    page: Page,
    form: NewUserForm,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let users = repo::list(&mut tx, Accounts::Staff).await?;
    tx.commit().await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_with_status(
        status,
        &UsersPage {
            page,
            users,
            roles: Role::ALL.to_vec(),
            now: state.clock.now(),
            form,
            errors,
        },
    ))
}

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    render_list(
        &state,
        &tenant,
        page.into_page(),
        NewUserForm::default(),
        FormErrors::new(),
    )
    .await
}

#[derive(Deserialize, Default, Clone)]
pub struct NewUserForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: String,
}

pub async fn create(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Form(form): Form<NewUserForm>,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    let Some(role) = Role::parse(&form.role) else {
        return render_list(
            &state,
            &tenant,
            page.into_page(),
            form,
            FormErrors::with("role", "choose a role"),
        )
        .await;
    };
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    match service::create_account(
        &mut tx,
        Accounts::Staff,
        &form.email,
        &form.display_name,
        Some(role),
        None,
        &[],
        ctx.at,
    )
    .await
    {
        Ok((u, temp)) => {
            audit::record(
                &mut tx,
                &ctx,
                Event::new(action::USER_CREATED, user.actor())
                    .resource("user", u.id)
                    .details(serde_json::json!({ "role": role.as_str() })),
            )
            .await?;
            tx.commit().await?;
            Ok(render_page(&TempPasswordPage {
                page: page.into_page(),
                u,
                password: temp.unwrap_or_default(),
                created: true,
            }))
        }
        Err(e @ (AccountError::Email(_) | AccountError::EmailTaken | AccountError::Name(_))) => {
            tx.rollback().await?;
            let errors = FormErrors::with(e.field().unwrap_or("_form"), e.to_string());
            render_list(&state, &tenant, page.into_page(), form, errors).await
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

async fn find(state: &AppState, tenant: &CurrentTenant, id: i64) -> Result<AccountRow, AppError> {
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let u = repo::by_id(&mut tx, Accounts::Staff, id, false).await?;
    tx.commit().await?;
    u.ok_or(AppError::NotFound)
}

pub async fn edit(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    let u = find(&state, &tenant, id).await?;
    Ok(render_page(&EditPage {
        page: page.into_page(),
        u,
        roles: Role::ALL.to_vec(),
        now: state.clock.now(),
        errors: FormErrors::new(),
    }))
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
}

pub async fn update(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: tower_sessions::Session,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let result = service::update_staff(
        &mut tx,
        id,
        Some(&form.display_name),
        Role::parse(&form.role),
        AccountStatus::parse(&form.status),
        ctx.at,
    )
    .await;
    match result {
        Ok(change) => {
            if !change.changed.is_empty() {
                audit::record(
                    &mut tx,
                    &ctx,
                    Event::new(action::USER_UPDATED, user.actor())
                        .resource("user", id)
                        .details(serde_json::json!({ "changed": change.changed })),
                )
                .await?;
            }
            tx.commit().await?;
            if change.ends_sessions {
                end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
            }
            set_flash(&session, "saved").await;
            Ok(Redirect::to(&format!("/settings/users/{id}")).into_response())
        }
        Err(AccountError::NotFound) => Err(AppError::NotFound),
        Err(e @ (AccountError::Name(_) | AccountError::LastAdmin)) => {
            tx.rollback().await?;
            let u = find(&state, &tenant, id).await?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &EditPage {
                    page: page.into_page(),
                    u,
                    roles: Role::ALL.to_vec(),
                    now: state.clock.now(),
                    errors: FormErrors::with(e.field().unwrap_or("_form"), e.to_string()),
                },
            ))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

pub async fn reset_password(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    ctx: AuditCtx,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    let temp = match service::reset_password(&mut tx, Accounts::Staff, id, ctx.at).await {
        Ok(t) => t,
        Err(AccountError::NotFound) => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::USER_PASSWORD_RESET, user.actor()).resource("user", id),
    )
    .await?;
    let u = repo::by_id(&mut tx, Accounts::Staff, id, false)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
    Ok(render_page(&TempPasswordPage {
        page: page.into_page(),
        u,
        password: temp,
        created: false,
    }))
}

pub async fn unlock(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    if !repo::unlock(&mut tx, Accounts::Staff, id, ctx.at).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::USER_UNLOCKED, user.actor()).resource("user", id),
    )
    .await?;
    tx.commit().await?;
    set_flash(&session, "unlocked").await;
    Ok(Redirect::to(&format!("/settings/users/{id}")).into_response())
}

pub async fn reset_mfa(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    user: CurrentUser,
    session: Session,
    ctx: AuditCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    user.require(Permission::UsersManage)?;
    let mut tx = TenantDb::begin(&state.db.pool, &tenant.db).await?;
    repo::by_id(&mut tx, Accounts::Staff, id, true)
        .await?
        .ok_or(AppError::NotFound)?;
    service::disable_mfa(&mut tx, Accounts::Staff, id, ctx.at).await?;
    audit::record(
        &mut tx,
        &ctx,
        Event::new(action::USER_MFA_RESET, user.actor()).resource("user", id),
    )
    .await?;
    tx.commit().await?;
    end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
    set_flash(&session, "mfa_reset").await;
    Ok(Redirect::to(&format!("/settings/users/{id}")).into_response())
}
