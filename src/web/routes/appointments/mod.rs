//! Booking, viewing and moving appointments along their status flow.

pub mod actions;
pub mod new;
pub mod show;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A slot as offered in a form: its instant (the submitted value) and what people read.
#[derive(Clone, Debug)]
pub struct SlotChoice {
    pub value: String,
    pub label: String,
}

pub fn choices(tz: Tz, slots: &[DateTime<Utc>], with_date: bool) -> Vec<SlotChoice> {
    slots
        .iter()
        .map(|s| SlotChoice {
            value: s.to_rfc3339(),
            label: s
                .with_timezone(&tz)
                .format(if with_date { "%a %d %b %H:%M" } else { "%H:%M" })
                .to_string(),
        })
        .collect()
}
