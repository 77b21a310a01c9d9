//! `/settings/users`: staff accounts (clinic admins).

use crate::web::extract::Form;
use crate::web::extract::Path;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::auth::service::AccountError;
use crate::domain::auth::{AccountRow, AccountStatus, Role, work};
use crate::domain::clinic::Clinic;
use crate::web::AppError;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, form_status, render_page, render_with_status};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};
use crate::web::session::end_sessions_of;
use crate::web::site::CurrentTenant;

#[derive(Template)]
#[template(path = "settings/users.html")]
struct UsersPage {
    page: Page,
    users: Vec<AccountRow>,
    roles: Vec<Role>,
    now: chrono::DateTime<chrono::Utc>,
    /// The clinic's time zone: sign-in times are shown in it.
    tz: chrono_tz::Tz,
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
    clinic: &Clinic,
    page: Page,
    form: NewUserForm,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let (users, tz) = work::staff_with_zone(clinic).await?;
    Ok(render_with_status(
        form_status(&errors),
        &UsersPage {
            page,
            users,
            roles: Role::ALL.to_vec(),
            now: clinic.at(),
            tz,
            form,
            errors,
        },
    ))
}

pub async fn list(clinic: Clinic, page: PageCtx) -> Result<Response, AppError> {
    render_list(
        &clinic,
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
    clinic: Clinic,
    page: PageCtx,
    Form(form): Form<NewUserForm>,
) -> Result<Response, AppError> {
    // Every field's problem at once, not only the first.
    let mut errors = FormErrors::new();
    if let Err(k) = crate::domain::auth::model::parse_display_name(&form.display_name) {
        errors.add("display_name", k);
    }
    if let Err(k) = crate::domain::auth::model::Email::parse(&form.email) {
        errors.add("email", k);
    }
    let role = Role::parse(&form.role);
    if role.is_none() {
        errors.add("role", "invalid.role");
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return render_list(&clinic, page.into_page(), form, errors).await;
    };
    match work::create_staff(&clinic, &form.email, &form.display_name, role, None).await {
        Ok((u, temp)) => Ok(render_page(&TempPasswordPage {
            page: page.into_page(),
            u,
            password: temp.unwrap_or_default(),
            created: true,
        })),
        Err(
            e @ (AccountError::Email(_)
            | AccountError::EmailTaken
            | AccountError::Name(_)
            | AccountError::StaffLimit(_)),
        ) => {
            let errors = FormErrors::with(e.field().unwrap_or("_form"), e.message());
            render_list(&clinic, page.into_page(), form, errors).await
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

async fn find(clinic: &Clinic, id: i64) -> Result<AccountRow, AppError> {
    work::staff_member(clinic, id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn edit(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let u = find(&clinic, id).await?;
    Ok(render_page(&EditPage {
        page: page.into_page(),
        u,
        roles: Role::ALL.to_vec(),
        now: clinic.at(),
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
    clinic: Clinic,
    tenant: CurrentTenant,
    session: Session,
    page: PageCtx,
    Path(id): Path<i64>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let result = work::update_staff(
        &clinic,
        id,
        Some(&form.display_name),
        Role::parse(&form.role),
        AccountStatus::parse(&form.status),
    )
    .await;
    match result {
        Ok((change, _)) => {
            if change.ends_sessions {
                end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
            }
            Ok(redirect_with_flash(&session, "saved", &format!("/settings/users/{id}")).await)
        }
        Err(AccountError::NotFound) => Err(AppError::NotFound),
        Err(
            e @ (AccountError::Name(_) | AccountError::LastAdmin | AccountError::StaffLimit(_)),
        ) => {
            let u = find(&clinic, id).await?;
            Ok(render_with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &EditPage {
                    page: page.into_page(),
                    u,
                    roles: Role::ALL.to_vec(),
                    now: clinic.at(),
                    errors: FormErrors::with(e.field().unwrap_or("_form"), e.message()),
                },
            ))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

pub async fn reset_password(
    State(state): State<AppState>,
    clinic: Clinic,
    tenant: CurrentTenant,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (temp, u) = match work::reset_password(&clinic, id).await {
        Ok(t) => t,
        Err(AccountError::NotFound) => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
    Ok(render_page(&TempPasswordPage {
        page: page.into_page(),
        u,
        password: temp,
        created: false,
    }))
}

pub async fn unlock(
    clinic: Clinic,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if !work::unlock(&clinic, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_flash(&session, "unlocked", &format!("/settings/users/{id}")).await)
}

pub async fn reset_mfa(
    State(state): State<AppState>,
    clinic: Clinic,
    tenant: CurrentTenant,
    session: Session,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    if !work::reset_mfa(&clinic, id).await? {
        return Err(AppError::NotFound);
    }
    end_sessions_of(&state.db.pool, Some(tenant.id), id).await?;
    Ok(redirect_with_flash(&session, "mfa_reset", &format!("/settings/users/{id}")).await)
}
