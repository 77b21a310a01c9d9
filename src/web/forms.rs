//! Form helpers: field errors shown next to inputs, safe redirect targets.

pub use crate::domain::validation::Errors as FormErrors;

/// A urlencoded body as ordered pairs, for forms with repeated fields (`phone_number` × 3).
#[derive(Debug, Default, Clone)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn parse(body: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key` ("" when absent).
    pub fn one(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Like `one`, `None` when absent or blank.
    pub fn opt(&self, key: &str) -> Option<String> {
        Some(self.one(key)).filter(|v| !v.trim().is_empty())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.one(key).as_str(), "1" | "on" | "true" | "yes")
    }
}

/// JSON routes accept JSON only: `application/json` (or a `+json` type), else 415, as axum's
/// own `Json` extractor answers.
pub fn require_json(headers: &axum::http::HeaderMap) -> Result<(), crate::web::AppError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json")) {
        Ok(())
    } else {
        Err(crate::web::AppError::UnsupportedMediaType)
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
