//! `/compliance`: each safeguard an auditor asks about, with its live state and where to fix
//! it (`ops::compliance`; `clinicbox check --compliance` prints the same), and the button that
//! checks every audit chain.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use tower_sessions::Session;

use crate::app::AppState;
use crate::domain::console::{self, Console};
use crate::ops::compliance::{self, Compliance, Item};
use crate::ops::dashboard::Sources;
use crate::web::AppError;
use crate::web::auth::{AuditCtx, CurrentOperator};
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::{PageCtx, redirect_with_flash};

#[derive(Template)]
#[template(path = "console/compliance.html")]
struct CompliancePage {
    page: Page,
    c: Compliance,
}

impl CompliancePage {
    fn name(&self, i: &Item) -> String {
        self.page
            .t(&format!("compliance.{}", i.state.key))
            .to_owned()
    }
    fn level(&self, i: &Item) -> String {
        self.page
            .t(&format!("dashboard.level_{}", i.state.level.as_str()))
            .to_owned()
    }
    fn summary(&self) -> String {
        self.page.tf(
            "compliance.met",
            &[
                ("n", self.c.met().to_string().as_str()),
                ("total", self.c.items.len().to_string().as_str()),
            ],
        )
    }
    fn overall(&self) -> String {
        self.page
            .t(&format!("compliance.overall_{}", self.c.overall.as_str()))
            .to_owned()
    }
}

fn sources(state: &AppState) -> Sources<'_> {
    Sources {
        db: &state.db,
        migrations: state.migrations,
        hosts: &state.hosts,
        config: &state.config,
        now: state.clock.now(),
        uptime: state.started.elapsed(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    let c = compliance::collect(&sources(&state)).await;
    Ok(render_page(&CompliancePage {
        page: page.into_page(),
        c,
    }))
}

/// Checks every audit chain now and records the result (with its audit row). Runs in a task
/// of its own, so that a client that goes away does not cut the check short.
pub async fn check_audit_chains(
    State(state): State<AppState>,
    op: CurrentOperator,
    session: Session,
    ctx: AuditCtx,
) -> Result<Response, AppError> {
    let c = Console::new(state.db.pool.clone(), op.actor(), ctx.0.clone());
    let st = state.clone();
    tokio::spawn(async move {
        let v = compliance::verify_chains(&st.db, &st.secrets, &st.hosts, st.clock.now()).await?;
        console::record_chains_verified(&c, &v).await?;
        anyhow::Ok(())
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?
    .map_err(AppError::Internal)?;
    Ok(redirect_with_flash(&session, "compliance_checked", "/compliance#audit_chains").await)
}
