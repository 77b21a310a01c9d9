//! Note templates: the fields and headings a kind of visit shows (an eye clinic's visual
//! acuity and eye pressures under the examination), chosen per appointment type, with the
//! clinic's default for the rest. A visit keeps a copy of its template (`Layout`), so that a
//! template changed later never changes a visit already written.
//!
//! Admins write a template as text, one line each:
//!
//! ```text
//! [examination] Eye examination
//! Visual acuity, right eye
//! Intraocular pressure, right | mmHg
//! ```
//!
//! `[section] heading` starts the fields of a section of the note (the heading, optional,
//! replaces the section's usual title); each line after it is a field, `label | unit`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::Section;
use crate::domain::validation::Errors;

pub const MAX_FIELDS: usize = 40;
pub const MAX_LABEL: usize = 80;
pub const MAX_UNIT: usize = 20;
pub const MAX_VALUE: usize = 500;

/// One field of a template: a short value recorded under a section of the note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Field {
    /// The field's name in `template_values` (from its label, unique in the template).
    pub key: String,
    pub label: String,
    /// Shown after the value (`mmHg`); empty for none.
    #[serde(default)]
    pub unit: String,
    pub section: Section,
}

/// A template's fields and headings (a visit's copy also carries the template's name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Layout {
    /// The template's name when the visit started (empty in the template itself).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Headings that replace a section's usual title.
    #[serde(default)]
    pub headings: BTreeMap<Section, String>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

impl Layout {
    /// No fields and no headings (visits from before templates).
    pub const EMPTY: Layout = Layout {
        name: String::new(),
        headings: BTreeMap::new(),
        fields: Vec::new(),
    };
}

/// The values of a visit's template fields, by key; a field left empty is absent.
pub type Values = BTreeMap<String, String>;

impl Layout {
    pub fn fields_of(&self, s: Section) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |f| f.section == s)
    }

    pub fn heading(&self, s: Section) -> Option<&str> {
        self.headings.get(&s).map(String::as_str)
    }

    /// Reads the text an admin wrote (see the module's documentation). Errors name the line.
    pub fn parse(text: &str) -> Result<Self, Errors> {
        let mut out = Layout::default();
        let mut e = Errors::new();
        let mut section: Option<Section> = None;
        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some((name, heading)) = rest.split_once(']') else {
                    e.add(
                        "layout",
                        crate::i18n::msg("invalid.template_bracket", &[("line", &line_no)]),
                    );
                    continue;
                };
                let name = name.trim().to_lowercase();
                let Some(s) = Section::parse(&name) else {
                    e.add(
                        "layout",
                        crate::i18n::msg(
                            "invalid.template_section",
                            &[("line", &line_no), ("name", &name)],
                        ),
                    );
                    continue;
                };
                let heading = heading.trim();
                if heading.chars().count() > MAX_LABEL {
                    e.add(
                        "layout",
                        crate::i18n::msg("invalid.template_heading", &[("line", &line_no)]),
                    );
                } else if !heading.is_empty() {
                    out.headings.insert(s, heading.to_owned());
                }
                section = Some(s);
                continue;
            }
            let Some(s) = section else {
                e.add(
                    "layout",
                    crate::i18n::msg("invalid.template_no_section", &[("line", &line_no)]),
                );
                continue;
            };
            let (label, unit) = match line.split_once('|') {
                Some((l, u)) => (l.trim(), u.trim()),
                None => (line, ""),
            };
            if label.is_empty() || label.chars().count() > MAX_LABEL {
                e.add(
                    "layout",
                    crate::i18n::msg("invalid.template_label", &[("line", &line_no)]),
                );
                continue;
            }
            if unit.chars().count() > MAX_UNIT {
                e.add(
                    "layout",
                    crate::i18n::msg("invalid.template_unit", &[("line", &line_no)]),
                );
                continue;
            }
            let key = unique_key(&out.fields, label);
            out.fields.push(Field {
                key,
                label: label.to_owned(),
                unit: unit.to_owned(),
                section: s,
            });
        }
        if out.fields.len() > MAX_FIELDS {
            e.add(
                "layout",
                crate::i18n::msg("invalid.template_too_many", &[("max", &MAX_FIELDS)]),
            );
        }
        e.into_result(out)
    }

    /// The text `parse` reads back to this layout.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for s in Section::ALL {
            let heading = self.heading(s);
            let mut fields = self.fields_of(s).peekable();
            if heading.is_none() && fields.peek().is_none() {
                continue;
            }
            out.push('[');
            out.push_str(s.as_str());
            out.push(']');
            if let Some(h) = heading {
                out.push(' ');
                out.push_str(h);
            }
            out.push('\n');
            for f in fields {
                out.push_str(&f.label);
                if !f.unit.is_empty() {
                    out.push_str(" | ");
                    out.push_str(&f.unit);
                }
                out.push('\n');
            }
        }
        out
    }

    /// Checks typed values against this layout: known fields only, each at most
    /// `MAX_VALUE` characters; empty ones are dropped.
    pub fn values(&self, typed: &Values) -> Result<Values, Errors> {
        let mut e = Errors::new();
        let mut out = Values::new();
        for (k, v) in typed {
            let Some(f) = self.fields.iter().find(|f| &f.key == k) else {
                e.add(
                    "fields",
                    crate::i18n::msg("invalid.template_unknown_field", &[("key", k)]),
                );
                continue;
            };
            let v = v.trim().replace("\r\n", "\n");
            if v.chars().count() > MAX_VALUE {
                e.add(
                    "fields",
                    crate::i18n::msg("invalid.template_value_long", &[("field", &f.label)]),
                );
            } else if !v.is_empty() {
                out.insert(k.clone(), v);
            }
        }
        e.into_result(out)
    }
}

/// A key from the label (`Visual acuity, right eye` → `visual_acuity_right_eye`), unique
/// among `fields`; labels without Latin letters or digits get `field_<n>`.
fn unique_key(fields: &[Field], label: &str) -> String {
    let mut base = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            base.push(c.to_ascii_lowercase());
        } else if !base.is_empty() && !base.ends_with('_') {
            base.push('_');
        }
        if base.len() >= 40 {
            break;
        }
    }
    let base = base.trim_end_matches('_').to_owned();
    let base = if base.is_empty() {
        format!("field_{}", fields.len() + 1)
    } else {
        base
    };
    let taken = |k: &str| fields.iter().any(|f| f.key == k);
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|k| !taken(k))
        .unwrap_or(base)
}

/// A template as the settings page lists it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NoteTemplate {
    pub id: i64,
    pub name: String,
    #[schema(value_type = Layout)]
    pub layout: sqlx::types::Json<Layout>,
    pub is_default: bool,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
    /// The appointment types that use it.
    pub used_by: Vec<String>,
}

/// A template as typed on the settings page.
#[derive(Clone, Debug, Default)]
pub struct TemplateInput {
    pub name: String,
    /// The layout as text (see the module's documentation).
    pub layout: String,
    pub is_default: bool,
    pub active: bool,
}

impl TemplateInput {
    pub fn of(t: &NoteTemplate) -> Self {
        Self {
            name: t.name.clone(),
            layout: t.layout.to_text(),
            is_default: t.is_default,
            active: t.active,
        }
    }

    pub fn validate(&self) -> Result<(String, Layout), Errors> {
        let mut e = Errors::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_LABEL {
            e.add("name", "invalid.max_80");
        }
        if self.is_default && !self.active {
            e.add("active", "invalid.template_default_inactive");
        }
        let layout = Layout::parse(&self.layout).unwrap_or_else(|errs| {
            e.absorb(errs);
            Layout::default()
        });
        e.into_result((name.to_owned(), layout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EYE: &str = "[examination] Eye examination\n\
        Visual acuity, right eye\n\
        Visual acuity, left eye\n\
        Intraocular pressure (right) | mmHg\n\
        Intraocular pressure (left) | mmHg\n\
        \n\
        [plan]\n\
        Glasses\n";

    #[test]
    fn reads_sections_headings_fields_and_units() {
        let l = Layout::parse(EYE).unwrap();
        assert_eq!(l.heading(Section::Examination), Some("Eye examination"));
        assert_eq!(l.heading(Section::Plan), None);
        let keys: Vec<&str> = l.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "visual_acuity_right_eye",
                "visual_acuity_left_eye",
                "intraocular_pressure_right",
                "intraocular_pressure_left",
                "glasses"
            ]
        );
        assert_eq!(l.fields[2].unit, "mmHg");
        assert_eq!(l.fields[4].section, Section::Plan);
        assert_eq!(l.fields_of(Section::Examination).count(), 4);
    }

    #[test]
    fn text_reads_back_to_the_same_layout() {
        let l = Layout::parse(EYE).unwrap();
        assert_eq!(Layout::parse(&l.to_text()).unwrap(), l);
        assert_eq!(Layout::parse("").unwrap(), Layout::default());
    }

    #[test]
    fn keys_stay_unique_and_non_latin_labels_get_one() {
        let l = Layout::parse("[history]\nSmoking\nSmoking\nधूम्रपान\n").unwrap();
        let keys: Vec<&str> = l.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["smoking", "smoking_2", "field_3"]);
        assert_eq!(l.fields[2].label, "धूम्रपान");
    }

    #[test]
    fn bad_lines_are_named() {
        let msg = |t: &str| Layout::parse(t).unwrap_err().get("layout").unwrap().clone();
        assert_eq!(msg("IOP | mmHg"), "invalid.template_no_section?line=1");
        assert_eq!(
            msg("[exam]\nIOP"),
            "invalid.template_section?line=1&name=exam"
        );
        assert_eq!(msg("[plan\nx"), "invalid.template_bracket?line=1");
        let long = format!("[plan]\n\n{}", "x".repeat(81));
        assert_eq!(msg(&long), "invalid.template_label?line=3");
        assert_eq!(
            msg("[plan]\nDose | milligrams per kilogram"),
            "invalid.template_unit?line=2"
        );
        let many = format!("[plan]\n{}", "f\n".repeat(MAX_FIELDS + 1));
        assert_eq!(msg(&many), "invalid.template_too_many?max=40");
    }

    #[test]
    fn values_are_checked_against_the_layout() {
        let l = Layout::parse(EYE).unwrap();
        let mut typed = Values::new();
        typed.insert("visual_acuity_right_eye".into(), " 6/9 ".into());
        typed.insert("glasses".into(), String::new());
        let v = l.values(&typed).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v["visual_acuity_right_eye"], "6/9");

        typed.insert("weight".into(), "70".into());
        let e = l.values(&typed).unwrap_err();
        assert_eq!(
            e.get("fields").unwrap(),
            "invalid.template_unknown_field?key=weight"
        );
        let mut long = Values::new();
        long.insert("glasses".into(), "x".repeat(MAX_VALUE + 1));
        assert!(l.values(&long).is_err());
    }

    #[test]
    fn a_default_template_stays_active() {
        let t = TemplateInput {
            name: "General".into(),
            layout: String::new(),
            is_default: true,
            active: false,
        };
        assert!(t.validate().unwrap_err().get("active").is_some());
    }

    #[test]
    fn the_migration_seeds_a_layout_this_reads() {
        let sql = include_str!("../../../migrations/tenant/0010_note_templates.sql");
        let start = sql.find("'General consultation', '").unwrap() + 25;
        let end = sql[start..].find("}'").unwrap() + start + 1;
        let l: Layout = serde_json::from_str(&sql[start..end]).unwrap();
        assert_eq!(l.fields_of(Section::Examination).count(), 5);
        assert_eq!(Layout::parse(&l.to_text()).unwrap(), l);
    }
}
