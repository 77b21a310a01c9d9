//! Form helpers: field errors shown next to inputs, safe redirect targets.

use std::collections::BTreeMap;

/// Messages per form field; `_form` for the form as a whole.
#[derive(Clone, Debug, Default)]
pub struct FormErrors(BTreeMap<&'static str, String>);

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &'static str, msg: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| msg.into());
    }

    pub fn with(field: &'static str, msg: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, msg);
        e
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_map(&self) -> &BTreeMap<&'static str, String> {
        &self.0
    }
}

/// A redirect target from a `next` parameter: only same-site absolute paths.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    if ok { next.to_owned() } else { "/".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets() {
        assert_eq!(safe_next("/settings/users"), "/settings/users");
        for bad in [
            "",
            "//evil.org/x",
            "https://evil.org",
            "/\\evil.org",
            "/login",
            "/logout",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
