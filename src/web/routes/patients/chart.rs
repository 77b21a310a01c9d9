//! `GET /patients/{id}`: the chart. Viewing it is audited.

use crate::web::extract::Path;
use askama::Template;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::domain::auth::Permission;
use crate::domain::clinic::Clinic;
use crate::domain::documents;
use crate::domain::patients::work::Clinical;
use crate::domain::patients::{Patient, Severity, age_label, work};
use crate::domain::scheduling::{Appointment, AppointmentType, Provider};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::page::{Page, render_page};
use crate::web::page_ctx::PageCtx;
use crate::web::routes::documents::Documents;
use crate::web::routes::documents::pages::{DocumentList, UploadForm};

/// How many documents the chart shows with their thumbnails (about 15 kB each in the page).
const CHART_THUMBNAILS: usize = 24;

#[derive(Template)]
#[template(path = "patients/chart.html")]
struct ChartPage {
    page: Page,
    p: Patient,
    upcoming: Vec<Appointment>,
    past: Vec<Appointment>,
    today: NaiveDate,
    tz: Tz,
    can_edit: bool,
    can_book: bool,
    providers: Vec<Provider>,
    types: Vec<AppointmentType>,
    clinical: Option<Clinical>,
    can_visit: bool,
    /// The trend plots (SVG).
    trends: Vec<String>,
    documents: Option<DocumentList>,
    /// What the patient owes and their credit, formatted (staff who see invoices).
    balance: Option<(String, String, bool)>,
}

impl ChartPage {
    fn age(&self) -> String {
        self.p
            .birth_date
            .map(|b| age_label(b, self.p.birth_date_estimated, self.today))
            .unwrap_or_default()
    }
    fn severe(&self) -> bool {
        self.p
            .allergies
            .iter()
            .any(|a| a.severity == Severity::Severe)
    }
    fn readings(
        &self,
        v: &crate::domain::visits::Vitals,
    ) -> Vec<crate::web::routes::visits::show::Reading> {
        let age = crate::domain::visits::service::age_years(self.p.birth_date, self.today);
        crate::web::routes::visits::show::readings(v, age)
    }
    fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.tz)
            .format("%a %d %b %Y %H:%M")
            .to_string()
    }
}

pub async fn show(
    clinic: Clinic,
    docs: Documents,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let parts = work::ChartFor {
        appointments: user.can(Permission::AppointmentsRead),
        clinical: user.can(Permission::EncountersRead),
        documents: user.can(Permission::DocumentsRead),
        billing: user.can(Permission::InvoicesRead),
    };
    let chart = work::chart(&clinic, id, parts)
        .await?
        .ok_or(AppError::NotFound)?;
    let documents = match chart.documents {
        Some(of) => {
            // Thumbnails travel inside the page: the newest ones only, the rest as icons.
            let shown = of.list.len().min(CHART_THUMBNAILS);
            let mut thumbs = documents::work::thumbnails(&*docs.store, &of.list[..shown]).await;
            thumbs.resize(of.list.len(), None);
            let form = (user.can(Permission::DocumentsWrite) && !chart.patient.deleted)
                .then(|| UploadForm::new(documents::work::Target::Patient(id), of.max_file));
            Some(DocumentList::new(of.list, thumbs, form))
        }
        None => None,
    };
    let trends = match &chart.clinical {
        Some(c) => super::trend::plots(
            &c.vitals,
            chart.tz,
            &super::trend::Labels {
                weight: page.t("vitals.weight"),
                bmi: page.t("vitals.bmi"),
                bp: page.t("vitals.bp"),
                systolic: page.t("vitals.systolic"),
                diastolic: page.t("vitals.diastolic"),
            },
        ),
        None => Vec::new(),
    };
    let balance = chart.balance.map(|(b, cur)| {
        (
            cur.format(b.due),
            cur.format(b.credit),
            b.due > 0 || b.credit > 0,
        )
    });
    Ok(render_page(&ChartPage {
        balance,
        documents,
        trends,
        can_visit: user.can(Permission::EncountersWrite),
        clinical: chart.clinical,
        page: page.into_page().printed_at(clinic.at(), chart.tz),
        p: chart.patient,
        upcoming: chart.upcoming,
        past: chart.past,
        today: chart.today,
        tz: chart.tz,
        can_edit: user.can(Permission::PatientsWrite),
        can_book: user.can(Permission::AppointmentsWrite),
        providers: chart.providers,
        types: chart.types,
    }))
}
