//! The seven "hours" fields (`hours_1` … `hours_7`, Monday first) that the opening-hours and
//! provider pages share.

use crate::domain::scheduling::repo::WeekRows;
use crate::domain::scheduling::slots::{format_ranges, parse_ranges};
use crate::web::forms::{FormErrors, Pairs};

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FIELDS: [&str; 7] = [
    "hours_1", "hours_2", "hours_3", "hours_4", "hours_5", "hours_6", "hours_7",
];

/// One line of the form: weekday number (1 = Monday), its short name, the ranges as text.
pub type WeekLine = (usize, &'static str, String);

/// The seven fields as rows, or the errors per day.
pub fn from_form(f: &Pairs, errors: &mut FormErrors) -> WeekRows {
    let mut rows = Vec::new();
    for (i, field) in FIELDS.iter().enumerate() {
        match parse_ranges(&f.one(field)) {
            Ok(r) => rows.extend(r.into_iter().map(|(s, e)| ((i + 1) as i16, s, e))),
            Err(e) => errors.add(field, e),
        }
    }
    rows
}

/// Per weekday, the stored ranges as text.
pub fn text(rows: &WeekRows) -> Vec<WeekLine> {
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let r: Vec<_> = rows
                .iter()
                .filter(|(w, _, _)| *w as usize == i + 1)
                .map(|(_, s, e)| (*s, *e))
                .collect();
            (i + 1, *d, format_ranges(&r))
        })
        .collect()
}

/// Per weekday, what was typed (to show it again with its error).
pub fn typed(f: &Pairs) -> Vec<WeekLine> {
    WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| (i + 1, *d, f.one(FIELDS[i])))
        .collect()
}
