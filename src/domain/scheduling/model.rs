//! Appointments, their status flow, types and providers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Booked,
    Arrived,
    InConsultation,
    Completed,
    NoShow,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Booked,
        Status::Arrived,
        Status::InConsultation,
        Status::Completed,
        Status::NoShow,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Arrived => "arrived",
            Self::InConsultation => "in_consultation",
            Self::Completed => "completed",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// booked → arrived (check-in) → in consultation → completed; booked → no-show;
    /// booked or arrived → cancelled. Everything else is refused.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Booked, Arrived)
                | (Booked, NoShow)
                | (Booked, Cancelled)
                | (Arrived, InConsultation)
                | (Arrived, Cancelled)
                | (InConsultation, Completed)
        )
    }

    /// The statuses reachable from here, in the order buttons are shown.
    pub fn next(self) -> Vec<Status> {
        Self::ALL
            .into_iter()
            .filter(|t| self.can_become(*t) && *t != Status::Cancelled)
            .collect()
    }

    /// Still occupies the provider's time.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Cancelled | Self::NoShow)
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AppointmentType {
    pub id: i64,
    pub name: String,
    pub duration_minutes: i32,
    pub color: String,
    pub active: bool,
    /// The note template its visits start with (none: the clinic's default).
    pub note_template_id: Option<i64>,
}

/// A clinician who can be booked.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Provider {
    pub id: i64,
    pub display_name: String,
    pub role: String,
}

/// An appointment with what lists and pages show about it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Appointment {
    pub id: i64,
    pub patient_id: i64,
    pub patient_mrn: String,
    pub patient_name: String,
    pub provider_id: Option<i64>,
    pub provider_name: Option<String>,
    pub type_id: Option<i64>,
    pub type_name: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[sqlx(try_from = "String")]
    pub status: StatusText,
    pub walk_in: bool,
    pub queue_number: Option<i32>,
    pub reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub arrived_at: Option<DateTime<Utc>>,
}

/// `Status` read from a text column (unknown text reads as cancelled, which hides it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct StatusText(pub Status);

impl From<String> for StatusText {
    fn from(s: String) -> Self {
        StatusText(Status::parse(&s).unwrap_or(Status::Cancelled))
    }
}

impl Appointment {
    pub fn status(&self) -> Status {
        self.status.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_flow() {
        use Status::*;
        let allowed = [
            (Booked, Arrived),
            (Arrived, InConsultation),
            (InConsultation, Completed),
            (Booked, NoShow),
            (Booked, Cancelled),
            (Arrived, Cancelled),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
        assert_eq!(Booked.next(), vec![Arrived, NoShow]);
        assert!(Completed.next().is_empty());
    }
}
