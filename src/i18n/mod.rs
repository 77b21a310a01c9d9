//! Every string staff see goes through here, so a clinic can switch language later by adding
//! a catalog. English is the reference catalog; a missing key falls back to it.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn all() -> &'static [Lang] {
        &[Lang::En]
    }

    fn source(self) -> &'static str {
        match self {
            Self::En => include_str!("en.toml"),
        }
    }
}

type Catalog = HashMap<String, String>;

fn catalogs() -> &'static HashMap<Lang, Catalog> {
    static C: OnceLock<HashMap<Lang, Catalog>> = OnceLock::new();
    C.get_or_init(|| {
        Lang::all()
            .iter()
            .map(|l| (*l, flatten(l.source())))
            .collect()
    })
}

fn flatten(src: &str) -> Catalog {
    fn walk(prefix: &str, t: &toml::Table, out: &mut Catalog) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                toml::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                _ => {}
            }
        }
    }
    let mut out = Catalog::new();
    if let Ok(t) = src.parse::<toml::Table>() {
        walk("", &t, &mut out);
    }
    out
}

/// A translator for one language. Cheap to copy into every page.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    /// The string for `key`, falling back to English, then to the key itself.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        let cats = catalogs();
        cats.get(&self.lang)
            .and_then(|c| c.get(key))
            .or_else(|| cats.get(&Lang::En).and_then(|c| c.get(key)))
            .map(String::as_str)
            .unwrap_or(key)
    }

    /// `t` with `{name}` placeholders filled in.
    pub fn tf(&self, key: &str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_owned();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }

    pub fn has(&self, key: &str) -> bool {
        catalogs()
            .get(&self.lang)
            .is_some_and(|c| c.contains_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_catalog_parses() {
        let en = catalogs().get(&Lang::En).unwrap();
        assert!(en.len() > 10, "{}", en.len());
        assert_eq!(Tr::default().t("no.such.key"), "no.such.key");
    }

    /// Every key used in templates or Rust code exists in the English catalog.
    #[test]
    fn every_used_key_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut missing = Vec::new();
        let mut files = Vec::new();
        for dir in ["templates", "src"] {
            collect(&root.join(dir), &mut files);
        }
        let tr = Tr::default();
        for f in files {
            if f.ends_with("i18n/mod.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for pat in ["t(\"", "tf(\""] {
                for (i, _) in text.match_indices(pat) {
                    // Only `tr.t("…")` / `.tf("…")` calls, not unrelated functions ending in t.
                    if !text[..i].ends_with('.') {
                        continue;
                    }
                    let rest = &text[i + pat.len()..];
                    let Some(end) = rest.find('"') else { continue };
                    let key = &rest[..end];
                    if key.contains('.') && !key.contains(' ') && !tr.has(key) {
                        missing.push(format!("{}: {key}", f.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "missing translations:\n{}",
            missing.join("\n")
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                collect(&p, out);
            } else if p.extension().is_some_and(|x| x == "html" || x == "rs") {
                out.push(p);
            }
        }
    }
}

#[cfg(test)]
mod dynamic_keys {
    use super::Tr;
    use crate::domain::auth::{Permission, Role};
    use crate::domain::patients::{Severity, Sex};
    use crate::domain::scheduling::Status;

    /// Keys built at run time (`status.{}`, `role.{}`…) exist for every value.
    #[test]
    fn every_enum_value_has_a_label() {
        let tr = Tr::default();
        let mut keys: Vec<String> = Vec::new();
        keys.extend(Status::ALL.iter().map(|s| format!("status.{}", s.as_str())));
        keys.extend(
            Status::ALL
                .iter()
                .flat_map(|s| s.next())
                .map(|s| format!("action.{}", s.as_str())),
        );
        keys.extend(Role::ALL.iter().map(|r| format!("role.{}", r.as_str())));
        keys.extend(
            Permission::ALL
                .iter()
                .map(|p| format!("perm.{}", p.as_str())),
        );
        keys.extend(Sex::ALL.iter().map(|s| format!("sex.{}", s.as_str())));
        keys.extend(
            Severity::ALL
                .iter()
                .map(|s| format!("severity.{}", s.as_str())),
        );
        for m in [
            "mrn",
            "phone",
            "birth_date",
            "name",
            "similar_name",
            "name_and_birth_date",
        ] {
            keys.push(format!("matched.{m}"));
        }
        for d in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
            keys.push(format!("weekday.{d}"));
        }
        for f in [
            "expired",
            "ended",
            "signed_out",
            "locked",
            "saved",
            "patient_deleted",
            "walk_in_added",
        ] {
            keys.push(format!("flash.{f}"));
        }
        let missing: Vec<&String> = keys.iter().filter(|k| !tr.has(k)).collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}
