//! `GET /visits/{id}`: the visit screen, in the order of a consultation: triage (vitals),
//! complaint and history, examination, assessment (diagnoses), plan. An unsigned visit is one
//! form whose every button saves the note as well; a signed one is read-only, with amendments.

use askama::Template;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::auth::Permission;
use crate::domain::clinic::Clinic;
use crate::domain::documents::work::Target;
use crate::domain::patients::age_label;
use crate::domain::prescriptions::dose::{self, PatientLang};
use crate::domain::prescriptions::{Item, ItemInput};
use crate::domain::visits::templates::Field;
use crate::domain::visits::work::{self, VisitRecord};
use crate::domain::visits::{Amendment, NoteInput, Section, VisitError, Vitals, VitalsInput};
use crate::web::AppError;
use crate::web::auth::CurrentUser;
use crate::web::extract::Path;
use crate::web::forms::FormErrors;
use crate::web::page::{Page, render_with_status};
use crate::web::page_ctx::PageCtx;
use crate::web::routes::documents::pages::{DocumentList, UploadForm};

/// One reading of a set of vitals, as shown.
pub struct Reading {
    pub label: &'static str,
    pub value: String,
    /// `high` or `low` when outside the reference range.
    pub flag: Option<&'static str>,
}

fn one(v: f64) -> String {
    format!("{v:.1}")
}

/// A set of vitals as labelled readings, flagged for a patient of `age` years.
pub fn readings(v: &Vitals, age: Option<u32>) -> Vec<Reading> {
    let flag = |f: &str| v.flag(f, age).map(|f| if f.high { "high" } else { "low" });
    let mut out = Vec::new();
    if let (Some(s), Some(d)) = (v.systolic, v.diastolic) {
        out.push(Reading {
            label: "vitals.bp",
            value: format!("{s}/{d} mmHg"),
            flag: flag("systolic").or_else(|| flag("diastolic")),
        });
    }
    if let Some(p) = v.pulse {
        out.push(Reading {
            label: "vitals.pulse",
            value: format!("{p} /min"),
            flag: flag("pulse"),
        });
    }
    if let Some(t) = v.temperature_c() {
        out.push(Reading {
            label: "vitals.temperature",
            value: format!("{} °C ({} °F)", one(t), one(t * 9.0 / 5.0 + 32.0)),
            flag: flag("temperature"),
        });
    }
    if let Some(r) = v.respiratory_rate {
        out.push(Reading {
            label: "vitals.respiratory_rate",
            value: format!("{r} /min"),
            flag: flag("respiratory_rate"),
        });
    }
    if let Some(s) = v.spo2 {
        out.push(Reading {
            label: "vitals.spo2",
            value: format!("{s} %"),
            flag: flag("spo2"),
        });
    }
    if let Some(w) = v.weight_kg() {
        out.push(Reading {
            label: "vitals.weight",
            value: format!("{} kg", one(w)),
            flag: None,
        });
    }
    if let Some(h) = v.height_cm() {
        out.push(Reading {
            label: "vitals.height",
            value: format!("{} cm", one(h)),
            flag: None,
        });
    }
    if let Some(b) = v.bmi() {
        out.push(Reading {
            label: "vitals.bmi",
            value: format!("{} kg/m²", one(b)),
            flag: flag("bmi"),
        });
    }
    if let Some(g) = v.glucose_mg_dl {
        out.push(Reading {
            label: "vitals.glucose",
            value: format!("{g} mg/dL ({} mmol/L)", one(f64::from(g) / 18.016)),
            flag: flag("glucose"),
        });
    }
    if let Some(p) = v.pain {
        out.push(Reading {
            label: "vitals.pain",
            value: format!("{p}/10"),
            flag: flag("pain"),
        });
    }
    out
}

#[derive(Template)]
#[template(path = "visits/show.html")]
pub struct VisitPage {
    pub page: Page,
    pub r: VisitRecord,
    /// What the form shows: as stored, or as typed when a save was refused.
    pub note: NoteInput,
    /// The version the next save names.
    pub version: i32,
    pub errors: FormErrors,
    pub vitals_in: VitalsInput,
    pub dx_q: String,
    pub can_write: bool,
    pub can_sign: bool,
    /// The note as stored, when another tab or person saved it meanwhile.
    pub theirs: Option<NoteInput>,
    pub message: Option<String>,
    pub amend: Amend,
    /// The prescription line being added, as typed.
    pub rx_in: ItemInput,
    pub rx_set_name: String,
    /// The visit's documents (listed without thumbnails), for those who may read them.
    pub documents: Option<DocumentList>,
}

impl VisitPage {
    fn rx_instructions(&self, i: &Item) -> String {
        let days = i.days.map(|d| d as u32);
        let mut s = dose::instructions(PatientLang::En, &i.dose, &i.form, &i.timing, days);
        if !i.instructions.is_empty() {
            s.push_str(". ");
            s.push_str(&i.instructions);
        }
        s
    }
    fn rx_override(&self, substance: &str) -> String {
        self.page
            .tf("visits.rx_override", &[("substance", substance)])
    }
    fn forms(&self) -> &'static [&'static str] {
        dose::FORMS
    }
    fn routes(&self) -> &'static [&'static str] {
        dose::ROUTES
    }
    fn timings(&self) -> &'static [&'static str] {
        dose::TIMINGS
    }
    fn drug_chosen(&self, id: &i64) -> bool {
        self.rx_in.drug_id.trim() == id.to_string()
    }
    pub fn sections(&self) -> [Section; 5] {
        Section::ALL
    }
    /// The section's title: the template's heading, or the usual one.
    fn heading(&self, s: &Section) -> String {
        match self.r.visit.layout().heading(*s) {
            Some(h) => h.to_owned(),
            None => self
                .page
                .t(&format!("visits.section.{}", s.as_str()))
                .to_owned(),
        }
    }
    fn fields_of(&self, s: &Section) -> Vec<&Field> {
        self.r.visit.layout().fields_of(*s).collect()
    }
    fn field_typed(&self, key: &str) -> &str {
        self.note.fields.get(key).map(String::as_str).unwrap_or("")
    }
    /// The fields of a section that hold a value, with it (the signed view).
    fn fields_recorded(&self, s: &Section) -> Vec<(&Field, &str)> {
        self.r
            .visit
            .layout()
            .fields_of(*s)
            .filter_map(|f| Some((f, self.r.visit.template_values.get(&f.key)?.as_str())))
            .collect()
    }
    /// The stored value of a field that differs from what is typed (after a conflict).
    fn theirs_field(&self, key: &str) -> Option<&str> {
        let t = self.theirs.as_ref()?;
        let stored = t.fields.get(key).map(String::as_str).unwrap_or("");
        (stored != self.field_typed(key)).then_some(stored)
    }
    fn local(&self, t: &DateTime<Utc>) -> String {
        t.with_timezone(&self.r.tz)
            .format("%a %d %b %Y %H:%M")
            .to_string()
    }
    fn age(&self) -> String {
        self.r
            .patient
            .birth_date
            .map(|b| age_label(b, self.r.patient.birth_date_estimated, self.r.today))
            .unwrap_or_default()
    }
    fn readings(&self, v: &Vitals) -> Vec<Reading> {
        readings(v, self.r.age)
    }
    fn amendments_of(&self, s: &Section) -> Vec<&Amendment> {
        self.r
            .amendments
            .iter()
            .filter(|a| a.section == s.as_str())
            .collect()
    }
    fn typed(&self, s: &Section) -> &str {
        self.note.section(*s)
    }
    /// The stored text of a section that differs from what is typed (after a conflict).
    fn theirs_of(&self, s: &Section) -> Option<&str> {
        self.theirs
            .as_ref()
            .map(|t| t.section(*s))
            .filter(|t| *t != self.note.section(*s))
    }
    fn active_problems(&self) -> Vec<String> {
        self.r
            .problems
            .iter()
            .filter(|p| p.resolved_on.is_none())
            .map(|p| p.label())
            .collect()
    }
    fn severe(&self) -> bool {
        self.r
            .patient
            .allergies
            .iter()
            .any(|a| a.severity == crate::domain::patients::Severity::Severe)
    }
}

/// What a refused action leaves on screen.
#[derive(Default)]
pub struct Typed {
    pub note: Option<crate::domain::visits::service::NoteSave>,
    pub vitals: VitalsInput,
    pub errors: FormErrors,
    pub message: Option<String>,
    pub dx_q: String,
    pub amend: Amend,
    pub rx: ItemInput,
    pub rx_set_name: String,
}

/// The amendment form as typed.
#[derive(Clone, Debug, Default)]
pub struct Amend {
    pub section: String,
    pub body: String,
    pub reason: String,
}

/// The visit screen (an audited read), with what was typed if an action was refused.
pub async fn render(
    clinic: &Clinic,
    user: &CurrentUser,
    page: PageCtx,
    id: i64,
    typed: Typed,
    status: StatusCode,
) -> Result<Response, AppError> {
    let q = typed.dx_q.trim();
    let r = match work::open(clinic, id, (!q.is_empty()).then_some(q)).await {
        Ok(r) => r,
        Err(VisitError::NotFound) => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::Internal(e.into())),
    };
    let stored = r.visit.note();
    let conflict = typed
        .note
        .as_ref()
        .is_some_and(|n| n.version != r.visit.version);
    let (note, theirs) = match typed.note {
        Some(n) => (n.note, conflict.then(|| stored.clone())),
        None => (stored, None),
    };
    let version = r.visit.version;
    let documents = user.can(Permission::DocumentsRead).then(|| {
        let list = r.documents.list.clone();
        let none = vec![None; list.len()];
        let form = (user.can(Permission::DocumentsWrite) && !r.visit.signed())
            .then(|| UploadForm::new(Target::Visit(id), r.documents.max_file));
        DocumentList::new(list, none, form)
    });
    Ok(render_with_status(
        status,
        &VisitPage {
            page: page.into_page().printed_at(clinic.at(), r.tz),
            can_write: user.can(Permission::EncountersWrite) && !r.visit.signed(),
            can_sign: user.can(Permission::EncountersSign),
            r,
            note,
            version,
            errors: typed.errors,
            vitals_in: typed.vitals,
            dx_q: typed.dx_q,
            theirs,
            message: typed.message,
            amend: typed.amend,
            rx_in: typed.rx,
            rx_set_name: typed.rx_set_name,
            documents,
        },
    ))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    pub dx_q: String,
}

pub async fn show(
    clinic: Clinic,
    user: CurrentUser,
    page: PageCtx,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    let typed = Typed {
        dx_q: q.dx_q,
        ..Typed::default()
    };
    render(&clinic, &user, page, id, typed, StatusCode::OK).await
}
