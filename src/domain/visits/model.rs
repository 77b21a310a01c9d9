//! Visits, their note, diagnoses, amendments and the problem list.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::templates::{Layout, Values};
use crate::domain::validation::Errors;

/// The parts of the note, in the order the visit screen shows them.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Complaint,
    History,
    Examination,
    Assessment,
    Plan,
}

impl Section {
    pub const ALL: [Section; 5] = [
        Section::Complaint,
        Section::History,
        Section::Examination,
        Section::Assessment,
        Section::Plan,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Complaint => "complaint",
            Self::History => "history",
            Self::Examination => "examination",
            Self::Assessment => "assessment",
            Self::Plan => "plan",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

pub const MAX_SECTION: usize = 10_000;

/// A visit: who saw the patient, when, the note, and whether it is signed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Visit {
    pub id: i64,
    pub patient_id: i64,
    pub appointment_id: Option<i64>,
    pub clinician_id: i64,
    pub clinician_name: String,
    pub started_at: DateTime<Utc>,
    pub complaint: String,
    pub history: String,
    pub examination: String,
    pub assessment: String,
    pub plan: String,
    pub follow_up_on: Option<NaiveDate>,
    /// The copy of the note template the visit started with (none for visits from before
    /// templates: the five sections only).
    #[schema(value_type = Option<Layout>)]
    pub template: Option<sqlx::types::Json<Layout>>,
    /// The template's fields as recorded, by key.
    #[schema(value_type = Object)]
    pub template_values: sqlx::types::Json<Values>,
    /// Increases with every save; a save naming an older version is refused (another tab).
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub signed_at: Option<DateTime<Utc>>,
    pub signed_by: Option<i64>,
    pub signed_by_name: Option<String>,
}

impl Visit {
    pub fn signed(&self) -> bool {
        self.signed_at.is_some()
    }

    /// The visit's template (an empty one for visits from before templates).
    pub fn layout(&self) -> &Layout {
        static EMPTY: Layout = Layout::EMPTY;
        self.template.as_ref().map_or(&EMPTY, |t| &t.0)
    }

    pub fn section(&self, s: Section) -> &str {
        match s {
            Section::Complaint => &self.complaint,
            Section::History => &self.history,
            Section::Examination => &self.examination,
            Section::Assessment => &self.assessment,
            Section::Plan => &self.plan,
        }
    }

    pub fn note(&self) -> NoteInput {
        NoteInput {
            complaint: self.complaint.clone(),
            history: self.history.clone(),
            examination: self.examination.clone(),
            assessment: self.assessment.clone(),
            plan: self.plan.clone(),
            follow_up_on: self
                .follow_up_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            fields: self.template_values.0.clone(),
        }
    }
}

/// A visit in a list (the chart, "my unsigned visits").
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VisitSummary {
    pub id: i64,
    pub patient_id: i64,
    pub patient_name: String,
    pub patient_mrn: String,
    pub clinician_name: String,
    pub started_at: DateTime<Utc>,
    pub complaint: String,
    /// The primary diagnosis (or the first), as shown.
    pub diagnosis: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
}

/// The note as typed (the form or the API).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NoteInput {
    pub complaint: String,
    pub history: String,
    pub examination: String,
    pub assessment: String,
    pub plan: String,
    /// `YYYY-MM-DD`, empty for none.
    pub follow_up_on: String,
    /// The template's fields, by key (see the visit's `template`); empty for none.
    pub fields: Values,
}

/// A checked note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteData {
    pub complaint: String,
    pub history: String,
    pub examination: String,
    pub assessment: String,
    pub plan: String,
    pub follow_up_on: Option<NaiveDate>,
    pub fields: Values,
}

impl NoteInput {
    pub fn section(&self, s: Section) -> &str {
        match s {
            Section::Complaint => &self.complaint,
            Section::History => &self.history,
            Section::Examination => &self.examination,
            Section::Assessment => &self.assessment,
            Section::Plan => &self.plan,
        }
    }

    /// `visit_day`: the follow-up cannot be before it; `layout`: the fields there may be.
    pub fn validate(&self, visit_day: NaiveDate, layout: &Layout) -> Result<NoteData, Errors> {
        let mut e = Errors::new();
        let fields = layout.values(&self.fields).unwrap_or_else(|errs| {
            e.absorb(errs);
            Values::new()
        });
        for s in Section::ALL {
            if self.section(s).chars().count() > MAX_SECTION {
                e.add(s.as_str(), "invalid.max_10000");
            }
        }
        let follow_up_on = match self.follow_up_on.trim() {
            "" => None,
            d => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Err(_) => {
                    e.add("follow_up_on", "invalid.iso_date");
                    None
                }
                Ok(d) if d < visit_day => {
                    e.add("follow_up_on", "invalid.follow_up_past");
                    None
                }
                Ok(d) => Some(d),
            },
        };
        let clean = |s: &str| s.trim_end().replace("\r\n", "\n");
        e.into_result(NoteData {
            complaint: clean(&self.complaint),
            history: clean(&self.history),
            examination: clean(&self.examination),
            assessment: clean(&self.assessment),
            plan: clean(&self.plan),
            follow_up_on,
            fields,
        })
    }
}

impl NoteData {
    pub fn section(&self, s: Section) -> &str {
        match s {
            Section::Complaint => &self.complaint,
            Section::History => &self.history,
            Section::Examination => &self.examination,
            Section::Assessment => &self.assessment,
            Section::Plan => &self.plan,
        }
    }

    /// The fields that differ from the visit as stored (names only: audit details never
    /// carry the text).
    pub fn changed_from(&self, v: &Visit) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Section::ALL
            .into_iter()
            .filter(|s| self.section(*s) != v.section(*s))
            .map(Section::as_str)
            .collect();
        if self.follow_up_on != v.follow_up_on {
            out.push("follow_up_on");
        }
        if self.fields != v.template_values.0 {
            out.push("fields");
        }
        out
    }
}

/// A diagnosis of a visit: coded (from a code set) or free text.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Diagnosis {
    pub id: i64,
    pub visit_id: i64,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub title: String,
    pub is_primary: bool,
}

impl Diagnosis {
    /// `E11.9 Type 2 diabetes…`, or the free text.
    pub fn label(&self) -> String {
        crate::domain::codes::label(
            self.code_system.as_deref(),
            self.code.as_deref(),
            &self.title,
        )
    }
}

/// A diagnosis to add: a code of the clinic's code set, or free text (`code` empty).
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DiagnosisInput {
    pub code: String,
    /// Free text, when there is no code (ignored with a code: the code set's title is used).
    pub text: String,
    pub primary: bool,
    /// Also put it on the patient's problem list (a chronic condition).
    pub chronic: bool,
}

/// A chronic condition on the chart. (Named `ProblemListEntry` in the OpenAPI document, where
/// `Problem` is the RFC 9457 error.)
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = ProblemListEntry)]
pub struct Problem {
    pub id: i64,
    pub patient_id: i64,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub title: String,
    pub noted_on: NaiveDate,
    pub resolved_on: Option<NaiveDate>,
}

impl Problem {
    pub fn label(&self) -> String {
        crate::domain::codes::label(
            self.code_system.as_deref(),
            self.code.as_deref(),
            &self.title,
        )
    }
}

/// A correction to a signed visit's section.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Amendment {
    pub id: i64,
    pub visit_id: i64,
    pub section: String,
    pub body: String,
    pub reason: String,
    pub amended_by: i64,
    pub amended_by_name: String,
    pub amended_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    #[error("not found")]
    NotFound,
    #[error("{0:?}")]
    Invalid(Errors),
    /// Saved meanwhile by another tab or person; the version now stored.
    #[error("the visit was changed meanwhile (now version {0})")]
    Conflict(i32),
    #[error("the visit is signed; correct it with an amendment")]
    Signed,
    #[error("the visit is not signed yet; edit it instead of amending")]
    NotSigned,
    /// Only clinicians (doctors, nurses) see patients.
    #[error("only a clinician can start a visit")]
    NotClinician,
    /// The appointment cannot start now (completed, cancelled, no-show).
    #[error("that appointment cannot start a visit (it is {0})")]
    AppointmentClosed(&'static str),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl VisitError {
    /// The message key shown to staff (field errors are shown by field instead).
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "visits.not_found",
            Self::Invalid(_) => "form.fix_errors",
            Self::Conflict(_) => "visits.conflict",
            Self::Signed => "visits.signed_final",
            Self::NotSigned => "visits.not_signed",
            Self::NotClinician => "visits.not_clinician",
            Self::AppointmentClosed(_) => "visits.appointment_closed",
            Self::Sql(_) => "error.internal",
        }
    }
}
