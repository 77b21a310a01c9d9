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

/// `s` in at most `n` characters, cut with `…` (a name in a narrow column or a chart label).
pub fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `key` in English (the key itself if it is not one): for messages that leave the program as
/// text outside a page, such as the API's problem+json and the command line.
pub fn en(key: &str) -> &str {
    Tr::new(Lang::En).t(key)
}

/// A message with arguments, in the form field errors carry it until a page or the API shows
/// it: `key?name=value&name=value` (values must not hold `&`; numbers and words do not).
pub fn msg(key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut s = key.to_owned();
    for (i, (name, value)) in args.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(name);
        s.push('=');
        s.push_str(&value.to_string().replace('&', "and"));
    }
    s
}

/// [`Tr::message`] in English (logs, the CLI, the API's problem+json).
pub fn en_message(m: &str) -> String {
    Tr::new(Lang::En).message(m)
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

    /// A message made by [`msg`] (or a bare key), in this language.
    pub fn message(&self, m: &str) -> String {
        let Some((key, query)) = m.split_once('?') else {
            return self.t(m).to_owned();
        };
        let args: Vec<(&str, &str)> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        self.tf(key, &args)
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

#[cfg(test)]
mod message_keys {
    /// The string literals given as a field's message (`errors.add("field", "…")`,
    /// `Errors::with("field", "…")`) anywhere in `src`: each must be a key of the English
    /// catalog, so that what staff read next to a field goes through translation.
    fn literal_messages(src: &str) -> Vec<String> {
        let mut out = Vec::new();
        for call in [".add(", "::with("] {
            let mut rest = src;
            while let Some(i) = rest.find(call) {
                rest = &rest[i + call.len()..];
                let args = rest.trim_start();
                // The first argument: a literal field name or an expression up to the comma.
                let Some(comma) = args.find(',') else {
                    continue;
                };
                let first = args[..comma].trim();
                let is_field = (first.starts_with('"') && first.ends_with('"'))
                    || first.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                if !is_field || first.is_empty() {
                    continue;
                }
                let second = args[comma + 1..].trim_start();
                // A message built in English at run time cannot be translated.
                let arg_end = second.find([')', '\n']).unwrap_or(second.len());
                if second.starts_with("format!(") || second[..arg_end].contains(".to_string(") {
                    out.push(format!("<built at run time: {}>", &second[..arg_end]));
                    continue;
                }
                let Some(lit) = second.strip_prefix('"') else {
                    continue;
                };
                if let Some(end) = lit.find('"') {
                    out.push(lit[..end].to_owned());
                }
            }
        }
        out
    }

    #[test]
    fn every_literal_field_message_is_a_catalog_key() {
        let tr = super::Tr::new(super::Lang::En);
        let mut missing = Vec::new();
        let mut seen = 0;
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    // Tests of a module may use any text.
                    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                    let keys_of_msg = code
                        .split("i18n::msg(\"")
                        .skip(1)
                        .chain(code.split(" msg(\"").skip(1))
                        .filter_map(|r| r.split('"').next().map(str::to_owned));
                    for m in literal_messages(code).into_iter().chain(keys_of_msg) {
                        seen += 1;
                        if !tr.has(&m) {
                            missing.push(format!("{}: {m:?}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(
            seen >= 40,
            "only {seen} messages found: is the scan still finding them?"
        );
        assert!(
            missing.is_empty(),
            "English literals instead of keys: {missing:#?}"
        );
    }

    #[test]
    fn a_message_with_arguments_is_filled_in() {
        let m = super::msg("invalid.max_chars", &[("max", &200)]);
        assert_eq!(m, "invalid.max_chars?max=200");
        assert_eq!(super::en_message(&m), "at most 200 characters");
        assert_eq!(super::en_message("invalid.required"), "required");
    }

    #[test]
    fn the_scan_finds_a_literal() {
        assert_eq!(
            literal_messages(r#"e.add("name", "too long"); Errors::with("x", "invalid.y")"#),
            vec!["too long".to_owned(), "invalid.y".to_owned()]
        );
        let built =
            literal_messages(r#"e.add("name", format!("at most {n}")); e.add(f, x.to_string())"#);
        assert_eq!(built.len(), 2, "{built:?}");
        assert!(built.iter().all(|m| m.starts_with("<built at run time")));
    }

    /// The audit log page names every action in words (issue 15, item 12).
    #[test]
    fn every_audit_action_has_words() {
        let src = include_str!("../domain/audit/mod.rs");
        let tr = super::Tr::new(super::Lang::En);
        let actions: Vec<&str> = src
            .lines()
            .filter_map(|l| l.trim().strip_prefix("pub const "))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        assert!(actions.len() >= 40, "found {}", actions.len());
        let missing: Vec<_> = actions
            .iter()
            .filter(|a| !tr.has(&format!("audit_action.{}", a.replace('.', "_"))))
            .collect();
        assert!(missing.is_empty(), "no words for {missing:?}");
    }
}
