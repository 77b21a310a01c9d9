//! The drug list, prescribed items and their checks (dose, quantity, allergies).

use serde::Serialize;
use utoipa::ToSchema;

use super::dose::{self, Counted};
use crate::domain::patients::Allergy;
use crate::domain::validation::Errors;

/// A drug of the clinic's list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Drug {
    pub id: i64,
    pub generic_name: String,
    pub brand_names: String,
    pub strength: String,
    pub form: String,
    pub drug_class: String,
    pub pack_ml: Option<i32>,
    pub active: bool,
}

impl Drug {
    /// "Amoxicillin 500 mg capsule", as a prescription names it.
    pub fn label(&self) -> String {
        label(&self.generic_name, &self.strength, &self.form)
    }
}

pub fn label(generic: &str, strength: &str, form: &str) -> String {
    [generic, strength, form]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The drug form as typed (Settings → Drugs).
#[derive(Clone, Debug, Default)]
pub struct DrugInput {
    pub generic_name: String,
    pub brand_names: String,
    pub strength: String,
    pub form: String,
    pub drug_class: String,
    pub pack_ml: String,
    pub active: bool,
}

fn bounded(e: &mut Errors, field: &'static str, v: &str, max: usize, required: bool) -> String {
    let v = v.trim();
    if required && v.is_empty() {
        e.add(field, "invalid.required");
    } else if v.chars().count() > max {
        e.add(
            field,
            crate::i18n::msg("invalid.max_chars", &[("max", &max)]),
        );
    }
    v.to_owned()
}

/// An optional whole number in `range` (empty: none); `msg` next to the field otherwise.
fn optional_whole<T>(
    e: &mut Errors,
    field: &'static str,
    v: &str,
    range: std::ops::RangeInclusive<T>,
    msg: &'static str,
) -> Option<T>
where
    T: std::str::FromStr + PartialOrd,
{
    match v.trim() {
        "" => None,
        s => match s.parse::<T>() {
            Ok(n) if range.contains(&n) => Some(n),
            _ => {
                e.add(field, msg);
                None
            }
        },
    }
}

impl DrugInput {
    pub fn validate(&self) -> Result<Drug, Errors> {
        let mut e = Errors::new();
        let generic_name = bounded(&mut e, "generic_name", &self.generic_name, 120, true);
        let brand_names = bounded(&mut e, "brand_names", &self.brand_names, 300, false);
        let strength = bounded(&mut e, "strength", &self.strength, 60, false);
        let drug_class = bounded(&mut e, "drug_class", &self.drug_class, 80, false);
        let form = self.form.trim().to_owned();
        if !dose::FORMS.contains(&form.as_str()) {
            e.add("form", "invalid.rx_form");
        }
        let pack_ml = optional_whole(
            &mut e,
            "pack_ml",
            &self.pack_ml,
            1..=5000,
            "invalid.rx_pack_ml",
        );
        if !e.is_empty() {
            return Err(e);
        }
        Ok(Drug {
            id: 0,
            generic_name,
            brand_names,
            strength,
            form,
            drug_class,
            pack_ml,
            active: self.active,
        })
    }
}

/// A prescribed drug of a visit.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Item {
    pub id: i64,
    pub drug_id: Option<i64>,
    pub drug: String,
    pub form: String,
    /// As the doctor wrote it: `1-0-1`, `5 ml TDS`, or free text.
    pub dose: String,
    pub route: String,
    pub timing: String,
    pub days: Option<i16>,
    pub quantity: i32,
    pub quantity_unit: String,
    pub instructions: String,
    /// The allergy the doctor was warned of and prescribed despite.
    pub allergy_override: Option<String>,
}

impl Item {
    /// "10 tablets", "2 bottles".
    pub fn quantity_text(&self) -> String {
        quantity_text(self.quantity, &self.quantity_unit)
    }
}

pub fn quantity_text(n: i32, unit: &str) -> String {
    if n == 1 || unit == "ml" {
        format!("{n} {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// A prescription line as typed on the visit screen or sent to the API.
#[derive(Clone, Debug, Default)]
pub struct ItemInput {
    /// An id of the clinic's drug list, or empty with `other` typed.
    pub drug_id: String,
    /// A drug not in the list, by name.
    pub other: String,
    /// The form of a drug typed by hand.
    pub other_form: String,
    pub dose: String,
    pub route: String,
    pub timing: String,
    pub days: String,
    pub quantity: String,
    pub instructions: String,
    /// Prescribe although it matches a recorded allergy.
    pub confirm_allergy: bool,
}

/// A prescription line checked, ready to store.
#[derive(Clone, Debug)]
pub struct ItemData {
    pub drug_id: Option<i64>,
    pub drug: String,
    pub form: String,
    pub dose: String,
    pub route: String,
    pub timing: String,
    pub days: Option<i16>,
    pub quantity: i32,
    pub quantity_unit: String,
    /// Whether the doctor typed the quantity (a set keeps it, otherwise it is computed).
    pub quantity_typed: bool,
    pub instructions: String,
    pub allergy_override: Option<String>,
}

impl ItemInput {
    /// The line checked against the drug it names (`None` for one typed by hand) and the
    /// patient's allergies.
    pub fn validate(&self, drug: Option<&Drug>, allergies: &[Allergy]) -> Result<ItemData, Errors> {
        let mut e = Errors::new();
        let (drug_id, name, form, pack, terms) = match drug {
            Some(d) => (
                Some(d.id),
                d.label(),
                d.form.clone(),
                d.pack_ml,
                vec![
                    d.generic_name.clone(),
                    d.brand_names.clone(),
                    d.drug_class.clone(),
                ],
            ),
            None => {
                let other = self.other.trim();
                if other.is_empty() {
                    e.add("rx_drug", "invalid.rx_drug");
                } else if other.chars().count() > 200 {
                    e.add(
                        "rx_drug",
                        crate::i18n::msg("invalid.max_chars", &[("max", &200)]),
                    );
                }
                let form = match self.other_form.trim() {
                    "" => "other".to_owned(),
                    f if dose::FORMS.contains(&f) => f.to_owned(),
                    _ => {
                        e.add("rx_drug", "invalid.rx_form");
                        "other".to_owned()
                    }
                };
                (None, other.to_owned(), form, None, vec![other.to_owned()])
            }
        };
        let written = self.dose.split_whitespace().collect::<Vec<_>>().join(" ");
        if written.is_empty() {
            e.add("rx_dose", "invalid.rx_dose");
        } else if written.chars().count() > 60 {
            e.add(
                "rx_dose",
                crate::i18n::msg("invalid.max_chars", &[("max", &60)]),
            );
        }
        let route = match self.route.trim() {
            "" => dose::default_route(&form).to_owned(),
            r if dose::ROUTES.contains(&r) => r.to_owned(),
            _ => {
                e.add("rx_route", "invalid.rx_route");
                String::new()
            }
        };
        let timing = self.timing.trim().to_owned();
        if !dose::TIMINGS.contains(&timing.as_str()) {
            e.add("rx_timing", "invalid.rx_timing");
        }
        let days = optional_whole(&mut e, "rx_days", &self.days, 1..=365, "invalid.rx_days");
        let instructions = bounded(&mut e, "rx_instructions", &self.instructions, 300, false);
        let typed = optional_whole(
            &mut e,
            "rx_quantity",
            &self.quantity,
            1..=100_000,
            "invalid.rx_quantity",
        );
        let computed = dose::parse(&written)
            .and_then(|d| dose::quantity(&d, &form, days.map(|d| d as u32), pack));
        let (quantity, unit) = match (typed, &computed) {
            (Some(n), _) => (
                n,
                match (&computed, dose::counted(&form)) {
                    (Some(q), _) => q.unit,
                    (None, Counted::Units) => {
                        if form == "capsule" {
                            "capsule"
                        } else {
                            "tablet"
                        }
                    }
                    (None, Counted::Millilitres) => "ml",
                    (None, Counted::ByHand) => "pack",
                }
                .to_owned(),
            ),
            (None, Some(q)) => (q.amount, q.unit.to_owned()),
            (None, None) => {
                if !written.is_empty() && e.get("rx_quantity").is_none() {
                    e.add("rx_quantity", "invalid.rx_quantity_needed");
                }
                (0, String::new())
            }
        };
        let allergy = allergy_match(allergies, &terms);
        let allergy_override = match allergy {
            Some(a) if !self.confirm_allergy => {
                e.add(
                    "rx_allergy",
                    crate::i18n::msg(
                        "invalid.rx_allergy",
                        &[("drug", &name), ("substance", &a.substance)],
                    ),
                );
                None
            }
            Some(a) => Some(a.substance.clone()),
            None => None,
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(ItemData {
            drug_id,
            drug: name,
            form,
            dose: written,
            route,
            timing,
            days,
            quantity,
            quantity_unit: unit,
            quantity_typed: typed.is_some(),
            instructions,
            allergy_override,
        })
    }
}

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_owned)
        .collect()
}

/// The first recorded allergy that a drug's names or class match: a word of one begins the
/// other's ("penicillin" matches the class "penicillins", "sulfa" matches "sulfamethoxazole").
pub fn allergy_match<'a>(allergies: &'a [Allergy], terms: &[String]) -> Option<&'a Allergy> {
    let drug: Vec<String> = terms.iter().flat_map(|t| words(t)).collect();
    allergies.iter().find(|a| {
        words(&a.substance).iter().any(|w| {
            drug.iter()
                .any(|d| d.starts_with(w.as_str()) || w.starts_with(d.as_str()))
        })
    })
}

/// A doctor's favourite or set, as listed on the visit screen.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SetSummary {
    pub id: i64,
    pub name: String,
    pub items: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patients::Severity;

    fn allergy(s: &str) -> Allergy {
        Allergy {
            substance: s.into(),
            reaction: String::new(),
            severity: Severity::Severe,
        }
    }

    fn amoxicillin() -> Drug {
        Drug {
            id: 7,
            generic_name: "Amoxicillin".into(),
            brand_names: "Amoxil, Novamox".into(),
            strength: "500 mg".into(),
            form: "capsule".into(),
            drug_class: "Penicillin".into(),
            pack_ml: None,
            active: true,
        }
    }

    fn line(dose: &str, days: &str) -> ItemInput {
        ItemInput {
            dose: dose.into(),
            days: days.into(),
            ..ItemInput::default()
        }
    }

    #[test]
    fn an_allergy_to_the_drug_or_its_class_warns_until_confirmed() {
        let d = amoxicillin();
        for a in ["Penicillin", "penicillins", "amoxicillin", "NOVAMOX"] {
            let e = line("1-1-1", "5")
                .validate(Some(&d), &[allergy(a)])
                .unwrap_err();
            assert!(e.get("rx_allergy").is_some(), "{a}");
        }
        assert!(
            line("1-1-1", "5")
                .validate(Some(&d), &[allergy("Sulfa"), allergy("Latex")])
                .is_ok()
        );
        let ok = ItemInput {
            confirm_allergy: true,
            ..line("1-1-1", "5")
        }
        .validate(Some(&d), &[allergy("Penicillin")])
        .unwrap();
        assert_eq!(ok.allergy_override.as_deref(), Some("Penicillin"));
        assert_eq!((ok.quantity, ok.quantity_unit.as_str()), (15, "capsule"));
    }

    #[test]
    fn a_quantity_that_cannot_be_computed_must_be_typed() {
        let d = amoxicillin();
        let e = line("SOS", "").validate(Some(&d), &[]).unwrap_err();
        assert!(e.get("rx_quantity").is_some());
        let ok = ItemInput {
            quantity: "10".into(),
            ..line("SOS", "")
        }
        .validate(Some(&d), &[])
        .unwrap();
        assert_eq!((ok.quantity, ok.quantity_unit.as_str()), (10, "capsule"));
        let e = line("", "0").validate(None, &[]).unwrap_err();
        assert!(
            e.get("rx_drug").is_some() && e.get("rx_dose").is_some() && e.get("rx_days").is_some()
        );
    }
}
