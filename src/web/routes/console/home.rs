//! The system console's start page: the dashboard (version, uptime, each component's health
//! with what to do about it, what the installation holds) and the clinics with their usage.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::ops::dashboard::{self, ClinicRow, Component, Dashboard, Sources};
use crate::web::AppError;
use crate::web::auth::CurrentOperator;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "console/home.html")]
struct ConsoleHome {
    page: Page,
    d: Dashboard,
}

impl ConsoleHome {
    fn suspend_confirm(&self, c: &ClinicRow) -> String {
        self.page.tf(
            "console.suspend_confirm",
            &[("name", c.clinic.tenant.display_name.as_str())],
        )
    }
    fn name(&self, c: &Component) -> String {
        self.page.t(&format!("dashboard.{}", c.key)).to_owned()
    }
    fn level(&self, c: &Component) -> String {
        self.page
            .t(&format!("dashboard.level_{}", c.level.as_str()))
            .to_owned()
    }
    fn overall(&self) -> String {
        self.page
            .t(&format!("dashboard.overall_{}", self.d.overall().as_str()))
            .to_owned()
    }
    fn bytes(&self, n: &i64) -> String {
        dashboard::human(*n)
    }
    fn uptime(&self) -> String {
        let s = self.d.uptime_seconds;
        let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
        if d > 0 {
            format!("{d} d {h} h")
        } else if h > 0 {
            format!("{h} h {m} min")
        } else {
            format!("{m} min")
        }
    }
    fn active(&self) -> String {
        self.page.tf(
            "dashboard.active",
            &[("n", self.d.active_clinics.to_string().as_str())],
        )
    }
    fn documents(&self, u: &dashboard::Usage) -> String {
        self.page.tf(
            "dashboard.documents",
            &[("size", dashboard::human(u.document_bytes).as_str())],
        )
    }
    fn when(&self, t: &chrono::DateTime<chrono::Utc>) -> String {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    }
}

pub async fn show(
    State(state): State<AppState>,
    _op: CurrentOperator,
    page: PageCtx,
) -> Result<Response, AppError> {
    let d = dashboard::collect(&Sources {
        db: &state.db,
        migrations: state.migrations,
        hosts: &state.hosts,
        config: &state.config,
        now: state.clock.now(),
        uptime: state.started.elapsed(),
    })
    .await;
    Ok(render_page(&ConsoleHome {
        page: page.into_page(),
        d,
    }))
}
