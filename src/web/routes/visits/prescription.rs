//! `GET /visits/{id}/prescription?paper=a5|a4&lang=en|ne|hi`: the signed visit's prescription
//! on the clinic's letterhead, ready to print. Every request is a recorded print: the first is
//! the original, later ones say "Reprint" with their copy number.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::domain::clinic::Clinic;
use crate::domain::patients::age_label;
use crate::domain::prescriptions::Item;
use crate::domain::prescriptions::dose::{self, PatientLang};
use crate::domain::prescriptions::work::{self, PrintRecord};
use crate::domain::visits::VisitError;
use crate::web::AppError;
use crate::web::extract::Path;
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;

#[derive(Template)]
#[template(path = "visits/prescription.html")]
struct PrescriptionPage {
    page: Page,
    r: PrintRecord,
    paper: &'static str,
}

impl PrescriptionPage {
    fn age(&self) -> String {
        self.r
            .patient
            .birth_date
            .map(|b| age_label(b, self.r.patient.birth_date_estimated, self.r.day))
            .unwrap_or_default()
    }
    /// The other languages the instructions can be printed in.
    fn other_langs(&self) -> Vec<PatientLang> {
        PatientLang::ALL
            .into_iter()
            .filter(|l| *l != self.r.lang)
            .collect()
    }
    fn reprint(&self) -> String {
        let copy = self.r.copy.to_string();
        self.page.tf("rx_print.reprint", &[("copy", copy.as_str())])
    }
    /// The patient's instructions for a line, in the print's language.
    fn instructions(&self, i: &Item) -> String {
        dose::instructions(
            self.r.lang,
            &i.dose,
            &i.form,
            &i.timing,
            i.days.map(|d| d as u32),
        )
    }
    /// The same in English when the print is in another language (the pharmacist reads it).
    fn english(&self, i: &Item) -> Option<String> {
        (self.r.lang != PatientLang::En).then(|| {
            dose::instructions(
                PatientLang::En,
                &i.dose,
                &i.form,
                &i.timing,
                i.days.map(|d| d as u32),
            )
        })
    }
    fn signed_at(&self) -> String {
        self.r
            .visit
            .signed_at
            .map(|t| {
                t.with_timezone(&self.r.tz)
                    .format("%d %b %Y %H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
pub struct PrintQuery {
    #[serde(default)]
    paper: String,
    #[serde(default)]
    lang: String,
}

pub async fn print(
    clinic: Clinic,
    page: PageCtx,
    Path(id): Path<i64>,
    Query(q): Query<PrintQuery>,
) -> Result<Response, AppError> {
    let paper = match q.paper.as_str() {
        "" | "a5" => "a5",
        "a4" => "a4",
        _ => return Err(AppError::BadRequest("paper: a5 or a4".into())),
    };
    let lang = match q.lang.as_str() {
        "" => None,
        l => Some(
            PatientLang::parse(l)
                .ok_or_else(|| AppError::BadRequest("lang: en, ne or hi".into()))?,
        ),
    };
    let r = match work::print(&clinic, id, paper, lang).await {
        Ok(r) => r,
        Err(VisitError::NotFound) => return Err(AppError::NotFound),
        Err(VisitError::Sql(e)) => return Err(e.into()),
        Err(e) => return Err(AppError::Conflict(e.message().to_owned(), None)),
    };
    Ok(render_with_status(
        StatusCode::OK,
        &PrescriptionPage {
            page: page.into_page(),
            r,
            paper,
        },
    ))
}
