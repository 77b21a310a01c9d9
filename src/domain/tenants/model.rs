//! Validated names for clinics. Database identifiers (schema, role) are derived only from these.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A clinic's short name: `^[a-z][a-z0-9-]{1,30}$`, and not ending in `-` so that
/// `<slug>.<base_domain>` is always a valid DNS name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error(
        "clinic slug {0:?} is invalid: use 2-31 characters, lowercase letters, digits and '-', starting with a letter and not ending with '-'"
    )]
    Slug(String),
    #[error("hostname {0:?} is invalid: {1}")]
    Hostname(String, &'static str),
    #[error("database role name {0:?} is not usable: {1}")]
    Role(String, &'static str),
    #[error("clinic name must be 1-200 characters")]
    DisplayName,
}

impl Slug {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        let ok = (2..=31).contains(&b.len())
            && b[0].is_ascii_lowercase()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Slug(s.chars().take(64).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `tenant_<slug>` with `-` mapped to `_` (slugs never contain `_`, so the mapping is one-to-one).
    pub fn schema_name(&self) -> Ident {
        Ident(format!("tenant_{}", self.0.replace('-', "_")))
    }

    /// `<login role>_t_<slug>`: namespaced by the application's login role so that several
    /// installations (or test databases) can share one PostgreSQL cluster.
    pub fn role_name(&self, login_role: &Ident) -> Ident {
        Ident(format!("{}_t_{}", login_role.0, self.0.replace('-', "_")))
    }
}

impl TryFrom<String> for Slug {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> String {
        s.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A PostgreSQL identifier made only of `[a-z0-9_]`, starting with a letter or `_`, at most
/// 63 bytes, so it can be interpolated into DDL without any quoting surprises.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident(String);

/// Longest login role name that still leaves room for `_t_` and a 31-character slug in 63 bytes.
pub const MAX_LOGIN_ROLE_LEN: usize = 29;

impl Ident {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 63 {
            return Err(NameError::Role(s.to_owned(), "must be 1-63 characters"));
        }
        if !(b[0].is_ascii_lowercase() || b[0] == b'_')
            || !b
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
        {
            return Err(NameError::Role(
                s.to_owned(),
                "only lowercase letters, digits and '_' are supported",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The application's login role, which prefixes every clinic role.
    pub fn parse_login_role(s: &str) -> Result<Self, NameError> {
        let id = Self::parse(s)?;
        if id.0.len() > MAX_LOGIN_ROLE_LEN {
            return Err(NameError::Role(
                s.to_owned(),
                "must be at most 29 characters so clinic role names fit PostgreSQL's 63-byte limit",
            ));
        }
        Ok(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Double-quoted form for DDL. The character set already excludes quotes; quoting also keeps
    /// reserved words (`user`, `order`) safe.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// `clinicbox_audit`: the installation's audit log (and the logs' heads).
    pub fn system_audit() -> Self {
        Self("clinicbox_audit".to_owned())
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A DNS hostname as clinics and the console are reached by: lowercase, no port, no trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let err = |why| NameError::Hostname(s.chars().take(80).collect(), why);
        let lower = s.trim().trim_end_matches('.').to_ascii_lowercase();
        if lower.is_empty() || lower.len() > 253 {
            return Err(err("must be 1-253 characters"));
        }
        if lower.contains(':') || lower.contains('/') {
            return Err(err("give the name only, without scheme, port or path"));
        }
        for label in lower.split('.') {
            let lb = label.as_bytes();
            if lb.is_empty() || lb.len() > 63 {
                return Err(err("each dot-separated part must be 1-63 characters"));
            }
            if !lb
                .iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            {
                return Err(err("only letters, digits, '-' and '.' are allowed"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(err("a part may not start or end with '-'"));
            }
        }
        if lower
            .split('.')
            .all(|l| l.bytes().all(|c| c.is_ascii_digit()))
        {
            return Err(err("an IP address is not a hostname"));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The clinic slug when this host is `<slug>.<base>`.
    pub fn slug_under(&self, base: &Hostname) -> Option<Slug> {
        let prefix = self.0.strip_suffix(base.as_str())?.strip_suffix('.')?;
        Slug::parse(prefix).ok()
    }

    pub fn subdomain(slug: &Slug, base: &Hostname) -> Hostname {
        Hostname(format!("{}.{}", slug.as_str(), base.as_str()))
    }
}

impl TryFrom<String> for Hostname {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Hostname> for String {
    fn from(h: Hostname) -> String {
        h.0
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a clinic's staff see as its name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let t = s.trim();
        let n = t.chars().count();
        if n == 0 || n > 200 || t.chars().any(char::is_control) {
            return Err(NameError::DisplayName);
        }
        Ok(Self(t.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// Per-clinic look: shown in the layout. Colours are validated `#rrggbb` so they can be put
/// into a stylesheet without escaping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    #[serde(default = "Branding::default_primary")]
    pub primary_color: String,
    /// The logo's version (the first 16 hex digits of its SHA-256), if the clinic has one; its
    /// bytes are in the clinic's schema (`clinic_logo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            primary_color: Self::default_primary(),
            logo: None,
        }
    }
}

impl Branding {
    fn default_primary() -> String {
        "#1f6f8b".to_owned()
    }

    /// Reads the stored JSON, replacing anything invalid by the default rather than failing a page.
    pub fn from_json(v: &serde_json::Value) -> Self {
        let mut b: Branding = serde_json::from_value(v.clone()).unwrap_or_default();
        if !is_hex_color(&b.primary_color) {
            b.primary_color = Self::default_primary();
        }
        if b.logo
            .as_ref()
            .is_some_and(|v| v.len() != 16 || !v.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            b.logo = None;
        }
        b
    }
}

pub fn is_hex_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|c| c.is_ascii_hexdigit())
}

/// A clinic as the control plane knows it.
#[derive(Clone, Debug, Serialize)]
pub struct Tenant {
    pub id: i64,
    pub slug: Slug,
    pub display_name: String,
    pub status: TenantStatus,
    #[serde(skip)]
    pub db: TenantIdent,
    pub schema_version: i64,
    pub branding: Branding,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The schema and role that hold one clinic's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantIdent {
    pub schema: Ident,
    pub role: Ident,
}

impl TenantIdent {
    /// `tenant_<slug>_audit`: the clinic's audit log, owned by the auditor role (see
    /// `migrations/privileged/setup.sql`), written and read by the clinic's role.
    pub fn audit_schema(&self) -> Ident {
        Ident(format!("{}_audit", self.schema.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in [
            "ab",
            "demo",
            "city-clinic",
            "a1",
            "x234567890123456789012345678901",
        ] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "1abc",
            "Demo",
            "ab_c",
            "ab-",
            "a b",
            "x2345678901234567890123456789012",
            "tenant;drop",
            "é-clinic",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_identifiers() {
        let s = Slug::parse("city-clinic").unwrap();
        let login = Ident::parse_login_role("clinicbox").unwrap();
        assert_eq!(s.schema_name().as_str(), "tenant_city_clinic");
        assert_eq!(s.role_name(&login).as_str(), "clinicbox_t_city_clinic");
        let longest = Slug::parse("x234567890123456789012345678901").unwrap();
        let login = Ident::parse_login_role("a2345678901234567890123456789").unwrap();
        assert!(longest.role_name(&login).as_str().len() <= 63);
        assert!(Ident::parse_login_role("a23456789012345678901234567890").is_err());
        assert!(Ident::parse("Bad\"name").is_err());
    }

    #[test]
    fn hostnames() {
        assert_eq!(
            Hostname::parse("Demo.Example.COM.").unwrap().as_str(),
            "demo.example.com"
        );
        assert!(Hostname::parse("localhost").is_ok());
        for bad in [
            "",
            "a..b",
            "-a.com",
            "a-.com",
            "a.com:443",
            "https://a.com",
            "1.2.3.4",
            "a_b.com",
        ] {
            assert!(Hostname::parse(bad).is_err(), "{bad}");
        }
        let base = Hostname::parse("clinics.example.com").unwrap();
        let h = Hostname::parse("demo.clinics.example.com").unwrap();
        assert_eq!(h.slug_under(&base).unwrap().as_str(), "demo");
        assert!(
            Hostname::parse("a.b.clinics.example.com")
                .unwrap()
                .slug_under(&base)
                .is_none()
        );
        assert!(
            Hostname::parse("democlinics.example.com")
                .unwrap()
                .slug_under(&base)
                .is_none()
        );
    }

    #[test]
    fn branding_is_sanitised() {
        let b = Branding::from_json(&serde_json::json!({"primary_color": "red;}body{x"}));
        assert_eq!(b, Branding::default());
        let b = Branding::from_json(&serde_json::json!({"primary_color": "#AbC123"}));
        assert_eq!(b.primary_color, "#AbC123");
    }
}
