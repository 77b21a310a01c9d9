//! Who is asking: staff of the current clinic (session cookie or API token) or an operator
//! (session on the console host). The guard every request then passes is `web::guard`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::audit::{self, Actor};
use crate::domain::auth::work::{self, TokenAuth};
use crate::domain::auth::{AccountRow, AccountStatus, Accounts, Permission, Role, TokenScope};
use crate::domain::clinic::Clinic;
use crate::domain::settings::Security;
use crate::web::AppError;
use crate::web::middleware::{ClientIp, RequestId};
use crate::web::session::{self, SessionState};
use crate::web::site::CurrentTenant;

pub use crate::web::guard::{CSRF_FIELD, CSRF_HEADER, guard_operator, guard_staff};

/// How the request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthVia {
    Session,
    Token { id: i64, scope: TokenScope },
}

/// A signed-in clinic staff member.
#[derive(Clone, Debug)]
pub struct StaffIdentity {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub mfa_enabled: bool,
    pub must_change_password: bool,
    pub via: AuthVia,
}

impl StaffIdentity {
    fn from_row(row: &AccountRow, via: AuthVia) -> Option<Self> {
        Some(Self {
            id: row.id,
            email: row.email.clone(),
            display_name: row.display_name.clone(),
            role: row.role()?,
            mfa_enabled: row.mfa_enabled(),
            must_change_password: row.must_change_password,
            via,
        })
    }

    /// The first line of every guarded handler.
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.role.can(p) {
            Ok(())
        } else {
            Err(AppError::Denied(Some(p)))
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        self.role.can(p)
    }

    pub fn actor(&self) -> Actor {
        Actor::User(self.id)
    }
}

/// A signed-in operator (system console).
#[derive(Clone, Debug)]
pub struct OperatorIdentity {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub mfa_enabled: bool,
    pub must_change_password: bool,
}

impl OperatorIdentity {
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.id)
    }
}

/// Extractor: the signed-in staff member, or 401 (API) / a redirect to the sign-in page.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub StaffIdentity);

impl std::ops::Deref for CurrentUser {
    type Target = StaffIdentity;
    fn deref(&self) -> &StaffIdentity {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<StaffIdentity>()
            .cloned()
            .map(CurrentUser)
            .ok_or(AppError::Unauthenticated)
    }
}

/// Extractor: the signed-in operator.
#[derive(Clone, Debug)]
pub struct CurrentOperator(pub OperatorIdentity);

impl std::ops::Deref for CurrentOperator {
    type Target = OperatorIdentity;
    fn deref(&self) -> &OperatorIdentity {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentOperator {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<OperatorIdentity>()
            .cloned()
            .map(CurrentOperator)
            .ok_or(AppError::Unauthenticated)
    }
}

/// Extractor: time (from the injected clock), client address and request id for audit rows.
#[derive(Clone, Debug)]
pub struct AuditCtx(pub audit::Context);

impl std::ops::Deref for AuditCtx {
    type Target = audit::Context;
    fn deref(&self) -> &audit::Context {
        &self.0
    }
}

pub fn audit_context(parts_ext: &axum::http::Extensions, now: DateTime<Utc>) -> audit::Context {
    audit::Context {
        at: now,
        ip: parts_ext.get::<ClientIp>().and_then(|c| c.0),
        request_id: parts_ext.get::<RequestId>().map(|r| r.0.clone()),
    }
}

impl FromRequestParts<AppState> for AuditCtx {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        Ok(AuditCtx(audit_context(
            &parts.extensions,
            state.clock.now(),
        )))
    }
}

/// Extractor: the signed-in staff member acting in this clinic, for the domain's units of work
/// (`domain::clinic`). Requests under `/api/` are recorded as coming through the API.
impl FromRequestParts<AppState> for crate::domain::clinic::Clinic {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let tenant = parts
            .extensions
            .get::<crate::web::site::CurrentTenant>()
            .cloned()
            .ok_or(AppError::NotFound)?;
        let user = parts
            .extensions
            .get::<StaffIdentity>()
            .cloned()
            .ok_or(AppError::Unauthenticated)?;
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| parts.uri.path().to_owned(), |u| u.path().to_owned());
        let c = crate::domain::clinic::Clinic::new(
            state.db.pool.clone(),
            tenant.db.clone(),
            user.actor(),
            audit_context(&parts.extensions, state.clock.now()),
        );
        Ok(if path.starts_with("/api/") {
            c.via("api")
        } else {
            c
        })
    }
}

/// The clinic's security settings as read while authenticating.
#[derive(Clone, Debug)]
pub struct ClinicSecurity(pub Security);

/// Marks a 403 produced by `require`, so the guard writes the `access.denied` row.
#[derive(Clone, Copy, Debug)]
pub struct DeniedMarker(pub Option<Permission>);

fn bearer(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim().to_owned());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

fn unix(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Clinic routes: resolves the staff member from an API token or the session cookie.
pub async fn authenticate_staff(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(tenant) = req.extensions().get::<CurrentTenant>().cloned() else {
        return next.run(req).await;
    };
    let now = state.clock.now();
    let ctx = audit_context(req.extensions(), now);
    let host = crate::web::site::request_host(&req).unwrap_or_default();
    let result = if let Some(token) = bearer(req.headers()) {
        staff_from_token(&state, &tenant, &token, &ctx).await
    } else {
        staff_from_session(&state, &tenant, &session, &ctx, &host).await
    };
    match result {
        Ok((identity, security)) => {
            if let Some(i) = identity {
                req.extensions_mut().insert(i);
            }
            req.extensions_mut().insert(ClinicSecurity(security));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The clinic as seen by a request not yet identified: anonymous, for the checks below.
fn anonymous(state: &AppState, tenant: &CurrentTenant, ctx: &audit::Context) -> Clinic {
    Clinic::new(
        state.db.pool.clone(),
        tenant.db.clone(),
        Actor::Anonymous,
        ctx.clone(),
    )
}

async fn staff_from_token(
    state: &AppState,
    tenant: &CurrentTenant,
    token: &str,
    ctx: &audit::Context,
) -> Result<(Option<StaffIdentity>, Security), AppError> {
    let (outcome, security) = work::check_token(&anonymous(state, tenant, ctx), token).await?;
    match outcome {
        TokenAuth::Valid { account, token } => Ok((
            StaffIdentity::from_row(
                &account,
                AuthVia::Token {
                    id: token.id,
                    scope: token.scope(),
                },
            ),
            security,
        )),
        // The clinic's two-step sign-in policy covers tokens: a token of someone who must use
        // it and has not set it up does not work until they have.
        TokenAuth::MfaRequired => Err(AppError::Forbidden(
            "This clinic requires two-step sign-in for this token's owner, who has not set it up yet: the token works once they have (Account → Two-step sign-in).".into(),
        )),
        TokenAuth::Refused => Err(AppError::InvalidToken),
    }
}

async fn staff_from_session(
    state: &AppState,
    tenant: &CurrentTenant,
    session: &Session,
    ctx: &audit::Context,
    host: &str,
) -> Result<(Option<StaffIdentity>, Security), AppError> {
    let clinic = anonymous(state, tenant, ctx);
    let Some(mut st) = session::load(session).await else {
        let (security, _) = work::check_session(&clinic, None, None).await?;
        return Ok((None, security));
    };
    let other_host = st.account.is_some() && st.host.as_deref() != Some(host);
    if st.tenant != Some(tenant.id) || other_host {
        // A session of another clinic (or the console), or of this clinic but made on another
        // host (the console host naming this clinic in X-Tenant-ID): refuse it, and end it,
        // since its cookie has evidently leaked.
        let reason = if other_host {
            "session of another host"
        } else {
            "session of another site"
        };
        let (security, _) = work::check_session(&clinic, None, Some(reason)).await?;
        let _ = session.flush().await;
        return Ok((None, security));
    }
    let Some(account_id) = st.account else {
        let (security, _) = work::check_session(&clinic, None, None).await?;
        return Ok((None, security));
    };
    let (security, row) = work::check_session(&clinic, Some(account_id), None).await?;
    let now = unix(ctx.at);
    let idle = st
        .seen_at
        .is_some_and(|t| now - t > security.idle_minutes * 60);
    let too_old = st
        .auth_at
        .is_some_and(|t| now - t > security.session_hours * 3600);
    let active = row
        .as_ref()
        .is_some_and(|r| r.status() == AccountStatus::Active);
    if idle || too_old || !active {
        end_login(
            session,
            &mut st,
            if idle || too_old { "expired" } else { "ended" },
        )
        .await;
        return Ok((None, security));
    }
    touch(session, &mut st, now).await;
    Ok((
        row.as_ref()
            .and_then(|r| StaffIdentity::from_row(r, AuthVia::Session)),
        security,
    ))
}

/// Forgets the signed-in account but keeps an anonymous session for the flash message and CSRF.
async fn end_login(session: &Session, st: &mut SessionState, why: &str) {
    let _ = session.cycle_id().await;
    let tenant = st.tenant;
    *st = SessionState {
        tenant,
        csrf: session::new_csrf(),
        flash: Some(why.to_owned()),
        ..SessionState::default()
    };
    let _ = session::store(session, st).await;
}

/// Records activity at most once a minute, so browsing does not write on every request.
async fn touch(session: &Session, st: &mut SessionState, now: i64) {
    if st.seen_at.is_none_or(|t| now - t >= 60) {
        st.seen_at = Some(now);
        let _ = session::store(session, st).await;
    }
}

/// Console routes: resolves the operator from the session cookie.
pub async fn authenticate_operator(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let now = state.clock.now();
    let host = crate::web::site::request_host(&req).unwrap_or_default();
    if let Some(mut st) = session::load(&session).await {
        let other_host = st.account.is_some() && st.host.as_deref() != Some(host.as_str());
        if st.tenant.is_some() || other_host {
            let ctx = audit_context(req.extensions(), now);
            let reason = if st.tenant.is_some() {
                "session of a clinic"
            } else {
                "session of another host"
            };
            let c =
                crate::domain::console::Console::new(state.db.pool.clone(), Actor::Anonymous, ctx);
            let _ = crate::domain::console::refuse_session(&c, reason, st.tenant).await;
            let _ = session.flush().await;
        } else if let Some(id) = st.account {
            let idle_minutes = crate::domain::settings::console_idle_minutes(&state.db.pool)
                .await
                .unwrap_or(15);
            let t = unix(now);
            let idle = st.seen_at.is_some_and(|s| t - s > idle_minutes * 60);
            let too_old = st.auth_at.is_some_and(|a| t - a > 12 * 3600);
            let row = match state.db.pool.acquire().await {
                Ok(mut c) => {
                    crate::domain::auth::repo::by_id(&mut c, Accounts::Operators, id, false)
                        .await
                        .ok()
                        .flatten()
                }
                Err(e) => return AppError::from(e).into_response(),
            };
            match row.filter(|r| r.status() == AccountStatus::Active) {
                Some(r) if !idle && !too_old => {
                    touch(&session, &mut st, t).await;
                    req.extensions_mut().insert(OperatorIdentity {
                        id: r.id,
                        email: r.email.clone(),
                        display_name: r.display_name.clone(),
                        mfa_enabled: r.mfa_enabled(),
                        must_change_password: r.must_change_password,
                    });
                }
                _ => end_login(&session, &mut st, "expired").await,
            }
        }
    }
    next.run(req).await
}

/// Extractor: whoever is signed in on this host, staff member or operator. For pages both
/// share (account, password, MFA).
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Option<Role>,
    pub mfa_enabled: bool,
    pub must_change_password: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        if let Some(s) = parts.extensions.get::<StaffIdentity>() {
            return Ok(Self {
                id: s.id,
                email: s.email.clone(),
                display_name: s.display_name.clone(),
                role: Some(s.role),
                mfa_enabled: s.mfa_enabled,
                must_change_password: s.must_change_password,
            });
        }
        if let Some(o) = parts.extensions.get::<OperatorIdentity>() {
            return Ok(Self {
                id: o.id,
                email: o.email.clone(),
                display_name: o.display_name.clone(),
                role: None,
                mfa_enabled: o.mfa_enabled,
                must_change_password: o.must_change_password,
            });
        }
        Err(AppError::Unauthenticated)
    }
}
