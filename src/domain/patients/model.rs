//! What a patient record holds, and how raw input becomes a valid record.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::validation::Errors;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub const ALL: [Sex; 4] = [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
    Unknown,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Severe,
        Severity::Moderate,
        Severity::Mild,
        Severity::Unknown,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mild => "mild",
            Self::Moderate => "moderate",
            Self::Severe => "severe",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.trim())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Phone {
    /// mobile, home, work… (free text)
    #[serde(default)]
    pub label: String,
    pub number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Allergy {
    pub substance: String,
    #[serde(default)]
    pub reaction: String,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct EmergencyContact {
    pub name: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub phone: String,
}

pub const MAX_PHONES: usize = 5;
pub const MAX_ALLERGIES: usize = 20;

/// Input as typed (form or API): every field text, judged by [`PatientInput::validate`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatientInput {
    pub given_name: String,
    #[serde(default)]
    pub middle_name: Option<String>,
    pub family_name: String,
    pub sex: String,
    /// `YYYY-MM-DD` (also `DD.MM.YYYY`, `DD/MM/YYYY`).
    #[serde(default)]
    pub birth_date: Option<String>,
    /// The birth date given is an estimate.
    #[serde(default)]
    pub birth_date_estimated: Option<bool>,
    /// Age in years when the birth date is unknown; the birth date is then estimated.
    #[serde(default)]
    pub estimated_age: Option<String>,
    #[serde(default)]
    pub phones: Vec<Phone>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub national_id: Option<String>,
    #[serde(default)]
    pub insurance_id: Option<String>,
    #[serde(default)]
    pub emergency_contact: Option<EmergencyContact>,
    #[serde(default)]
    pub preferred_language: Option<String>,
    #[serde(default)]
    pub allergies: Vec<AllergyInput>,
    #[serde(default)]
    pub alerts: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct AllergyInput {
    pub substance: String,
    #[serde(default)]
    pub reaction: String,
    #[serde(default)]
    pub severity: String,
}

/// A valid patient record, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientData {
    pub given_name: String,
    pub middle_name: Option<String>,
    pub family_name: String,
    pub sex: Sex,
    pub birth_date: Option<NaiveDate>,
    pub birth_date_estimated: bool,
    pub phones: Vec<Phone>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub national_id: Option<String>,
    pub insurance_id: Option<String>,
    pub emergency_contact: Option<EmergencyContact>,
    pub preferred_language: Option<String>,
    pub allergies: Vec<Allergy>,
    pub alerts: Option<String>,
    pub notes: Option<String>,
}

/// Accepted date forms: ISO `2024-03-14`, and day-first `14.03.2024`, `14/03/2024`, `14-03-2024`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%d-%m-%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// Written in one of [`parse_date`]'s forms (so a failure means the day does not exist, as in
/// `2031-02-30`, not that the form is wrong).
fn looks_like_date(s: &str) -> bool {
    let parts: Vec<&str> = s.trim().split(['-', '.', '/']).collect();
    let digits = |p: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
    };
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2),
        [d, m, y] => digits(d, 1..=2) && digits(m, 1..=2) && digits(y, 4..=4),
        _ => false,
    }
}

/// Whole years from `birth` to `today`.
fn years_between(birth: NaiveDate, today: NaiveDate) -> i32 {
    today.year()
        - birth.year()
        - i32::from((today.month(), today.day()) < (birth.month(), birth.day()))
}

/// Digits of a phone number, if it looks like one (6-20 digits, only phone punctuation).
pub fn phone_digits(s: &str) -> Option<String> {
    let s = s.trim();
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return None;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (6..=20).contains(&digits.len()).then_some(digits)
}

/// What phone search matches on: the last 7 digits (the subscriber number, whatever country or
/// trunk prefix was typed).
pub fn phone_key(digits: &str) -> String {
    digits[digits.len().saturating_sub(7)..].to_owned()
}

fn text(
    errors: &mut Errors,
    field: &'static str,
    v: Option<&str>,
    max: usize,
    required: bool,
) -> Option<String> {
    let t = v.map(str::trim).filter(|s| !s.is_empty());
    match t {
        None if required => {
            errors.add(field, "invalid.required");
            None
        }
        None => None,
        Some(s) if s.chars().count() > max => {
            errors.add(
                field,
                crate::i18n::msg("invalid.max_chars", &[("max", &max)]),
            );
            None
        }
        Some(s)
            if s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') =>
        {
            errors.add(field, "invalid.control_chars");
            None
        }
        Some(s) => Some(s.to_owned()),
    }
}

impl PatientInput {
    /// Checks every field; `today` is the clinic's date (for ages and future birth dates).
    pub fn validate(&self, today: NaiveDate) -> Result<PatientData, Errors> {
        let mut e = Errors::new();
        let given_name = text(&mut e, "given_name", Some(&self.given_name), 100, true);
        let middle_name = text(
            &mut e,
            "middle_name",
            self.middle_name.as_deref(),
            100,
            false,
        );
        let family_name = text(&mut e, "family_name", Some(&self.family_name), 100, true);
        for (field, v) in [
            ("given_name", &given_name),
            ("family_name", &family_name),
            ("middle_name", &middle_name),
        ] {
            if v.as_deref().is_some_and(|s| s.contains('\n')) {
                e.add(field, "invalid.one_line");
            }
        }
        let sex = Sex::parse(&self.sex);
        if sex.is_none() {
            e.add("sex", "invalid.sex");
        }

        let bd = self
            .birth_date
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let age = self
            .estimated_age
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let (birth_date, birth_date_estimated) = match (bd, age) {
            (Some(d), _) => match parse_date(d) {
                Some(d) if d > today => {
                    e.add("birth_date", "invalid.birth_future");
                    (None, false)
                }
                Some(d) if d.year() < 1880 => {
                    e.add("birth_date", "invalid.check_year");
                    (None, false)
                }
                Some(d) => {
                    // An age typed as well must agree with the birth date (within a year).
                    if let Some(a) = age {
                        let years = years_between(d, today);
                        if a.parse::<i32>().map_or(true, |a| (a - years).abs() > 1) {
                            e.add(
                                "estimated_age",
                                crate::i18n::msg("invalid.age_contradicts", &[("years", &years)]),
                            );
                        }
                    }
                    (Some(d), self.birth_date_estimated.unwrap_or(false))
                }
                None if looks_like_date(d) => {
                    e.add("birth_date", "invalid.no_such_date");
                    (None, false)
                }
                None => {
                    e.add("birth_date", "invalid.date_format");
                    (None, false)
                }
            },
            (None, Some(a)) => match a.parse::<u32>() {
                Ok(years) if years <= 130 => {
                    // Middle of the year the person was born in: off by at most six months.
                    let y = today.year() - years as i32;
                    let d =
                        NaiveDate::from_ymd_opt(y, 7, 1).map(|d| if d > today { today } else { d });
                    (d, true)
                }
                _ => {
                    e.add("estimated_age", "invalid.age");
                    (None, false)
                }
            },
            (None, None) => (None, false),
        };

        let mut phones = Vec::new();
        for (i, p) in self
            .phones
            .iter()
            .filter(|p| !p.number.trim().is_empty() || !p.label.trim().is_empty())
            .enumerate()
        {
            if i >= MAX_PHONES {
                e.add(
                    "phones",
                    crate::i18n::msg("invalid.max_phones", &[("max", &MAX_PHONES)]),
                );
                break;
            }
            if phone_digits(&p.number).is_none() {
                e.add(
                    "phones",
                    crate::i18n::msg("invalid.phone_n", &[("n", &(i + 1))]),
                );
                continue;
            }
            phones.push(Phone {
                label: p.label.trim().chars().take(30).collect(),
                number: p.number.trim().to_owned(),
            });
        }

        let email = text(&mut e, "email", self.email.as_deref(), 254, false);
        if let Some(m) = &email
            && crate::domain::auth::Email::parse(m).is_err()
        {
            e.add("email", "invalid.email");
        }
        let address = text(&mut e, "address", self.address.as_deref(), 500, false);
        let national_id = text(
            &mut e,
            "national_id",
            self.national_id.as_deref(),
            50,
            false,
        );
        let insurance_id = text(
            &mut e,
            "insurance_id",
            self.insurance_id.as_deref(),
            50,
            false,
        );
        let preferred_language = text(
            &mut e,
            "preferred_language",
            self.preferred_language.as_deref(),
            50,
            false,
        );
        let emergency_contact = match &self.emergency_contact {
            Some(c) if !(c.name.trim().is_empty() && c.phone.trim().is_empty()) => {
                let name = text(&mut e, "emergency_name", Some(&c.name), 100, true);
                let relation = text(&mut e, "emergency_relation", Some(&c.relation), 50, false);
                let phone = c.phone.trim();
                if !phone.is_empty() && phone_digits(phone).is_none() {
                    e.add("emergency_phone", "invalid.phone");
                }
                name.map(|name| EmergencyContact {
                    name,
                    relation: relation.unwrap_or_default(),
                    phone: phone.to_owned(),
                })
            }
            _ => None,
        };

        let mut allergies = Vec::new();
        for (i, a) in self
            .allergies
            .iter()
            .filter(|a| !a.substance.trim().is_empty() || !a.reaction.trim().is_empty())
            .enumerate()
        {
            if i >= MAX_ALLERGIES {
                e.add(
                    "allergies",
                    crate::i18n::msg("invalid.max_allergies", &[("max", &MAX_ALLERGIES)]),
                );
                break;
            }
            let substance = a.substance.trim();
            if substance.is_empty() || substance.chars().count() > 100 {
                e.add(
                    "allergies",
                    crate::i18n::msg("invalid.allergy_substance", &[("n", &(i + 1))]),
                );
                continue;
            }
            let severity = if a.severity.trim().is_empty() {
                Some(Severity::Unknown)
            } else {
                Severity::parse(&a.severity)
            };
            let Some(severity) = severity else {
                e.add(
                    "allergies",
                    crate::i18n::msg("invalid.allergy_severity", &[("n", &(i + 1))]),
                );
                continue;
            };
            allergies.push(Allergy {
                substance: substance.to_owned(),
                reaction: a.reaction.trim().chars().take(100).collect(),
                severity,
            });
        }
        let alerts = text(&mut e, "alerts", self.alerts.as_deref(), 500, false);
        let notes = text(&mut e, "notes", self.notes.as_deref(), 5000, false);

        match (given_name, family_name, sex) {
            (Some(given_name), Some(family_name), Some(sex)) if e.is_empty() => Ok(PatientData {
                given_name,
                middle_name,
                family_name,
                sex,
                birth_date,
                birth_date_estimated,
                phones,
                email: email.map(|m| m.to_lowercase()),
                address,
                national_id,
                insurance_id,
                emergency_contact,
                preferred_language,
                allergies,
                alerts,
                notes,
            }),
            _ => {
                if e.is_empty() {
                    e.add("_form", "invalid.incomplete");
                }
                Err(e)
            }
        }
    }
}

impl PatientData {
    pub fn phone_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .phones
            .iter()
            .filter_map(|p| phone_digits(&p.number))
            .map(|d| phone_key(&d))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Names of the fields that differ, for audit rows (never the values).
    pub fn changed_fields(&self, other: &PatientData) -> Vec<&'static str> {
        let mut c = Vec::new();
        macro_rules! cmp {
            ($($f:ident),*) => { $( if self.$f != other.$f { c.push(stringify!($f)); } )* };
        }
        cmp!(
            given_name,
            middle_name,
            family_name,
            sex,
            birth_date,
            birth_date_estimated,
            phones,
            email,
            address,
            national_id,
            insurance_id,
            emergency_contact,
            preferred_language,
            allergies,
            alerts,
            notes
        );
        c
    }
}

/// A stored patient.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Patient {
    pub id: i64,
    pub mrn: String,
    pub given_name: String,
    pub middle_name: Option<String>,
    pub family_name: String,
    pub sex: Sex,
    pub birth_date: Option<NaiveDate>,
    pub birth_date_estimated: bool,
    /// The first phone number, for lists.
    pub phone: Option<String>,
    pub phones: Vec<Phone>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub national_id: Option<String>,
    pub insurance_id: Option<String>,
    pub emergency_contact: Option<EmergencyContact>,
    pub preferred_language: Option<String>,
    pub allergies: Vec<Allergy>,
    pub alerts: Option<String>,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted: bool,
}

impl Patient {
    pub fn full_name(&self) -> String {
        match &self.middle_name {
            Some(m) => format!("{} {} {}", self.given_name, m, self.family_name),
            None => format!("{} {}", self.given_name, self.family_name),
        }
    }

    pub fn data(&self) -> PatientData {
        PatientData {
            given_name: self.given_name.clone(),
            middle_name: self.middle_name.clone(),
            family_name: self.family_name.clone(),
            sex: self.sex,
            birth_date: self.birth_date,
            birth_date_estimated: self.birth_date_estimated,
            phones: self.phones.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            national_id: self.national_id.clone(),
            insurance_id: self.insurance_id.clone(),
            emergency_contact: self.emergency_contact.clone(),
            preferred_language: self.preferred_language.clone(),
            allergies: self.allergies.clone(),
            alerts: self.alerts.clone(),
            notes: self.notes.clone(),
        }
    }

    /// Input that reproduces this record (to prefill the edit form).
    pub fn to_input(&self) -> PatientInput {
        PatientInput {
            given_name: self.given_name.clone(),
            middle_name: self.middle_name.clone(),
            family_name: self.family_name.clone(),
            sex: self.sex.as_str().to_owned(),
            birth_date: self.birth_date.map(|d| d.format("%Y-%m-%d").to_string()),
            birth_date_estimated: Some(self.birth_date_estimated),
            estimated_age: None,
            phones: self.phones.clone(),
            email: self.email.clone(),
            address: self.address.clone(),
            national_id: self.national_id.clone(),
            insurance_id: self.insurance_id.clone(),
            emergency_contact: self.emergency_contact.clone(),
            preferred_language: self.preferred_language.clone(),
            allergies: self
                .allergies
                .iter()
                .map(|a| AllergyInput {
                    substance: a.substance.clone(),
                    reaction: a.reaction.clone(),
                    severity: a.severity.as_str().to_owned(),
                })
                .collect(),
            alerts: self.alerts.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// Age as shown in headers and lists: years, or months/weeks for infants; `~` when estimated.
pub fn age_label(birth: NaiveDate, estimated: bool, today: NaiveDate) -> String {
    let months = (today.year() - birth.year()) * 12 + today.month() as i32
        - birth.month() as i32
        - i32::from(today.day() < birth.day());
    let label = if months >= 24 {
        format!("{} y", months / 12)
    } else if months >= 1 {
        format!("{months} mo")
    } else {
        format!("{} wk", (today - birth).num_weeks().max(0))
    };
    if estimated {
        format!("~{label}")
    } else {
        label
    }
}

/// One search result.
#[derive(Clone, Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PatientSummary {
    pub id: i64,
    pub mrn: String,
    pub given_name: String,
    pub middle_name: Option<String>,
    pub family_name: String,
    pub sex: String,
    pub birth_date: Option<NaiveDate>,
    pub birth_date_estimated: bool,
    pub phone: Option<String>,
    /// Why it matched: mrn, phone, birth_date, name, similar_name.
    pub matched: String,
}

impl PatientSummary {
    pub fn full_name(&self) -> String {
        match &self.middle_name {
            Some(m) => format!("{} {} {}", self.given_name, m, self.family_name),
            None => format!("{} {}", self.given_name, self.family_name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
    }

    fn input() -> PatientInput {
        PatientInput {
            given_name: " Ana ".into(),
            family_name: "Núñez".into(),
            sex: "female".into(),
            birth_date: Some("14.03.1985".into()),
            phones: vec![Phone {
                label: "mobile".into(),
                number: "+977 984-123 4567".into(),
            }],
            allergies: vec![AllergyInput {
                substance: "Penicillin".into(),
                reaction: "rash".into(),
                severity: "severe".into(),
            }],
            ..PatientInput::default()
        }
    }

    #[test]
    fn a_valid_record() {
        let d = input().validate(today()).unwrap();
        assert_eq!(d.given_name, "Ana");
        assert_eq!(d.birth_date, NaiveDate::from_ymd_opt(1985, 3, 14));
        assert_eq!(d.phone_keys(), vec!["1234567".to_string()]);
        assert_eq!(d.allergies[0].severity, Severity::Severe);
    }

    #[test]
    fn clear_messages_per_field() {
        let mut i = input();
        i.given_name = "  ".into();
        i.sex = "x".into();
        i.birth_date = Some("2027-01-01".into());
        i.phones[0].number = "call me".into();
        i.email = Some("not-an-email".into());
        i.allergies[0].severity = "deadly".into();
        let e = i.validate(today()).unwrap_err();
        for f in [
            "given_name",
            "sex",
            "birth_date",
            "phones",
            "email",
            "allergies",
        ] {
            assert!(e.get(f).is_some(), "{f}: {e:?}");
        }
        let mut i = input();
        i.birth_date = Some("31/02/2000".into());
        assert!(i.validate(today()).unwrap_err().get("birth_date").is_some());
    }

    #[test]
    fn estimated_age() {
        let mut i = input();
        i.birth_date = None;
        i.estimated_age = Some("45".into());
        let d = i.validate(today()).unwrap();
        assert!(d.birth_date_estimated);
        assert_eq!(d.birth_date, NaiveDate::from_ymd_opt(1981, 7, 1));
        assert_eq!(age_label(d.birth_date.unwrap(), true, today()), "~44 y");
        i.estimated_age = Some("200".into());
        assert!(i.validate(today()).is_err());
    }

    #[test]
    fn ages() {
        let t = today();
        assert_eq!(
            age_label(NaiveDate::from_ymd_opt(1985, 3, 14).unwrap(), false, t),
            "40 y"
        );
        assert_eq!(
            age_label(NaiveDate::from_ymd_opt(2025, 11, 2).unwrap(), false, t),
            "4 mo"
        );
        assert_eq!(
            age_label(NaiveDate::from_ymd_opt(2026, 2, 16).unwrap(), false, t),
            "2 wk"
        );
    }

    #[test]
    fn changed_fields_name_fields_only() {
        let a = input().validate(today()).unwrap();
        let mut b = a.clone();
        b.notes = Some("x".into());
        b.family_name = "Nunez".into();
        assert_eq!(a.changed_fields(&b), vec!["family_name", "notes"]);
    }

    #[test]
    fn phones() {
        assert_eq!(phone_digits("(01) 4-123 456").as_deref(), Some("014123456"));
        assert_eq!(phone_digits("12345"), None);
        assert_eq!(phone_digits("555-CALL"), None);
        assert_eq!(phone_key("9779841234567"), "1234567");
    }

    /// Issue 15, item 14: a date in the right form that does not exist says so; an age that
    /// contradicts the birth date is refused, one that agrees is accepted.
    #[test]
    fn impossible_dates_and_contradicting_ages_are_named() {
        let mut i = input();
        i.birth_date = Some("2031-02-30".into());
        let e = i.validate(today()).unwrap_err();
        assert_eq!(
            e.get("birth_date").map(String::as_str),
            Some("invalid.no_such_date")
        );
        i.birth_date = Some("30.02.1990".into());
        let e = i.validate(today()).unwrap_err();
        assert_eq!(
            e.get("birth_date").map(String::as_str),
            Some("invalid.no_such_date")
        );
        i.birth_date = Some("yesterday".into());
        let e = i.validate(today()).unwrap_err();
        assert_eq!(
            e.get("birth_date").map(String::as_str),
            Some("invalid.date_format")
        );

        let mut i = input();
        i.estimated_age = Some("70".into());
        let e = i.validate(today()).unwrap_err();
        assert_eq!(
            crate::i18n::en_message(e.get("estimated_age").unwrap()),
            "does not match the birth date (40 years): correct one of them or leave the age empty"
        );
        i.estimated_age = Some("41".into());
        assert!(i.validate(today()).is_ok(), "within a year of 40 agrees");
    }
}
