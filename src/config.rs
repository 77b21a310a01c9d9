//! `/etc/clinicbox/clinicbox.toml` plus the `CLINICBOX_<SECTION>_<KEY>` environment overlay.
//!
//! Unknown keys are errors; every error names the key and where its value came from.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

use crate::domain::tenants::Hostname;

pub const DEFAULT_PATH: &str = "/etc/clinicbox/clinicbox.toml";
const ENV_PREFIX: &str = "CLINICBOX_";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// Request budgets per minute (rate limits): the starting values of the settings an operator
/// changes on the console's Security page (which then win).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sign-in attempts (password or code) for one account from one address. Default 10.
    #[serde(default = "LimitsConfig::default_login")]
    pub login_per_minute: u32,
    /// Sign-in attempts from one address, any account (a whole clinic behind one NAT).
    /// Default 300.
    #[serde(default = "LimitsConfig::default_login_address")]
    pub login_per_minute_per_address: u32,
    /// API requests with one token or session. Default 600.
    #[serde(default = "LimitsConfig::default_api")]
    pub api_per_minute: u32,
    /// API requests from one address, any credential. Default 6000.
    #[serde(default = "LimitsConfig::default_api_address")]
    pub api_per_minute_per_address: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_per_minute: Self::default_login(),
            login_per_minute_per_address: Self::default_login_address(),
            api_per_minute: Self::default_api(),
            api_per_minute_per_address: Self::default_api_address(),
        }
    }
}

impl LimitsConfig {
    fn default_login() -> u32 {
        10
    }
    fn default_login_address() -> u32 {
        300
    }
    fn default_api_address() -> u32 {
        6000
    }
    fn default_api() -> u32 {
        600
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    /// Kept small on purpose: every backend that touches many clinic schemas caches their
    /// catalogs (~11 KB per table), so connections are also recycled (see `db::connect`).
    #[serde(default = "DatabaseConfig::default_max_connections")]
    pub max_connections: u32,
}

impl DatabaseConfig {
    fn default_max_connections() -> u32 {
        10
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub base_domain: Hostname,
    pub console_host: Hostname,
    #[serde(default = "ServerConfig::default_http")]
    pub http_listen: SocketAddr,
    #[serde(default = "ServerConfig::default_https")]
    pub https_listen: SocketAddr,
    /// Seconds a request may take before it is answered with 408/503.
    #[serde(default = "ServerConfig::default_timeout")]
    pub request_timeout_secs: u64,
    /// Largest request body accepted, in bytes (document uploads have their own limit).
    #[serde(default = "ServerConfig::default_body")]
    pub max_body_bytes: usize,
    /// Open client connections served at once; further ones wait in the listen queue.
    #[serde(default = "ServerConfig::default_max_connections")]
    pub max_connections: usize,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For`/`X-Forwarded-Proto`
    /// are believed. Empty: the headers are ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<ProxyNet>,
    /// Bearer token that lets non-loopback clients read `/metrics`. Unset: loopback only.
    #[serde(default)]
    pub metrics_token: Option<Secret>,
}

/// A secret value from the config: never shown by Debug.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Secret {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() < 16 {
            return Err("must be at least 16 characters (e.g. `openssl rand -hex 24`)".into());
        }
        Ok(Self(s))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// An address or CIDR range in `server.trusted_proxies`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ProxyNet(pub sqlx::types::ipnetwork::IpNetwork);

impl TryFrom<String> for ProxyNet {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.trim().parse().map(Self).map_err(|_| {
            format!("`{s}` is not an IP address or CIDR range (e.g. 10.0.0.5 or 10.0.0.0/24)")
        })
    }
}

impl ProxyNet {
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.0.contains(ip)
    }
}

impl ServerConfig {
    /// How long a request may take (at least a second).
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.request_timeout_secs.max(1))
    }

    /// Which hostnames belong to whom: `<slug>.<base_domain>` and the console host.
    pub fn host_rules(&self) -> crate::domain::tenants::HostRules {
        crate::domain::tenants::HostRules {
            base_domain: self.base_domain.clone(),
            console_host: self.console_host.clone(),
        }
    }

    fn default_http() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 80))
    }
    fn default_https() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 443))
    }
    fn default_timeout() -> u64 {
        30
    }
    fn default_body() -> usize {
        1024 * 1024
    }
    fn default_max_connections() -> usize {
        4096
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    #[default]
    Acme,
    Manual,
    Off,
}

/// How ACME proves control of a hostname.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, serde::Serialize)]
pub enum ChallengeKind {
    /// HTTP-01 on port 80.
    #[serde(rename = "http-01")]
    Http01,
    /// TLS-ALPN-01 on port 443 (port 80 may stay closed).
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
    /// HTTP-01 first; after a failed HTTP-01 attempt the next one uses TLS-ALPN-01.
    #[default]
    #[serde(rename = "auto")]
    Auto,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub mode: TlsMode,
    #[serde(default)]
    pub acme_email: Option<String>,
    #[serde(default = "TlsConfig::default_directory")]
    pub acme_directory: String,
    /// A PEM root certificate trusted for the ACME server's own HTTPS API (test CAs).
    #[serde(default)]
    pub acme_root_ca: Option<PathBuf>,
    #[serde(default)]
    pub challenge: ChallengeKind,
    /// Check DNS and reachability before ordering, and skip the order when they are wrong.
    #[serde(default = "TlsConfig::default_true")]
    pub preflight: bool,
    /// DNS server (ip:port) the preflight asks instead of /etc/resolv.conf.
    #[serde(default)]
    pub preflight_resolver: Option<SocketAddr>,
    /// The first retry after a failed order; each further failure waits ten times longer, at
    /// most six hours. Default 60.
    #[serde(default = "TlsConfig::default_first_retry")]
    pub first_retry_secs: u64,
    /// `tls.mode = "manual"`: PEM certificate chain (leaf first) and private key. Both are
    /// re-read on SIGHUP (`systemctl reload clinicbox`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// Seconds a client has to finish the TLS handshake. Default 10.
    #[serde(default = "TlsConfig::default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            mode: TlsMode::default(),
            acme_email: None,
            acme_directory: Self::default_directory(),
            acme_root_ca: None,
            challenge: ChallengeKind::default(),
            preflight: true,
            preflight_resolver: None,
            first_retry_secs: Self::default_first_retry(),
            cert_file: None,
            key_file: None,
            handshake_timeout_secs: Self::default_handshake_timeout(),
        }
    }
}

impl TlsConfig {
    fn default_directory() -> String {
        "https://acme-v02.api.letsencrypt.org/directory".to_owned()
    }
    fn default_true() -> bool {
        true
    }
    fn default_first_retry() -> u64 {
        60
    }
    fn default_handshake_timeout() -> u64 {
        10
    }

    /// Rules that involve more than one key.
    fn check(&self) -> Result<(), String> {
        if self.mode == TlsMode::Manual && (self.cert_file.is_none() || self.key_file.is_none()) {
            return Err(
                "tls.mode = \"manual\" needs both `tls.cert_file` and `tls.key_file`".into(),
            );
        }
        if let Some(email) = &self.acme_email {
            let ok = email.split_once('@').is_some_and(|(u, d)| {
                !u.is_empty() && d.contains('.') && !email.contains(char::is_whitespace)
            });
            if !ok {
                return Err(format!(
                    "key `tls.acme_email`: `{email}` is not an e-mail address"
                ));
            }
        }
        if !self.acme_directory.starts_with("https://") {
            return Err("key `tls.acme_directory`: must be an https:// URL".into());
        }
        if self.first_retry_secs == 0 || self.handshake_timeout_secs == 0 {
            return Err(
                "keys `tls.first_retry_secs` and `tls.handshake_timeout_secs` must be at least 1"
                    .into(),
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    #[serde(default = "StorageConfig::default_data_dir")]
    pub data_dir: PathBuf,
    /// 32-byte secret key (hex) that encrypts TOTP secrets and TLS keys; created if missing.
    #[serde(default = "StorageConfig::default_key_file")]
    pub key_file: PathBuf,
    /// Storage each clinic's documents may take, in MiB (default 10240: 10 GiB).
    #[serde(default = "StorageConfig::default_document_quota")]
    pub document_quota_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: Self::default_data_dir(),
            key_file: Self::default_key_file(),
            document_quota_mb: Self::default_document_quota(),
        }
    }
}

impl StorageConfig {
    fn default_data_dir() -> PathBuf {
        PathBuf::from("/var/lib/clinicbox")
    }
    fn default_key_file() -> PathBuf {
        PathBuf::from("/etc/clinicbox/secret.key")
    }
    fn default_document_quota() -> u64 {
        10 * 1024
    }

    /// The quota in bytes.
    pub fn document_quota_bytes(&self) -> u64 {
        self.document_quota_mb.saturating_mul(1024 * 1024)
    }

    /// Uploads in progress: beside the documents (one filesystem, so that keeping one is a
    /// rename) but outside them (backups never carry half an upload).
    pub fn incoming_dir(&self) -> PathBuf {
        self.data_dir.join("incoming")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// When set, JSON lines are also written to `<dir>/clinicbox.<date>.log`, rotated daily.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    #[serde(default = "LogConfig::default_keep_days")]
    pub keep_days: u16,
    /// A tracing filter such as `info` or `info,clinicbox=debug`.
    #[serde(default)]
    pub level: Option<String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            dir: None,
            keep_days: Self::default_keep_days(),
            level: None,
        }
    }
}

impl LogConfig {
    fn default_keep_days() -> u16 {
        14
    }
}

/// A PostgreSQL URL. Its password never appears in Debug/Display output.
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(s: &str) -> Result<Self, String> {
        if !(s.starts_with("postgres://") || s.starts_with("postgresql://")) {
            return Err("must start with postgres:// (e.g. postgres://clinicbox@/clinicbox?host=/var/run/postgresql)".into());
        }
        let url = Self(s.to_owned());
        sqlx::postgres::PgConnectOptions::from_str(&url.normalized())
            .map_err(|_| "is not a valid PostgreSQL connection URL".to_owned())?;
        Ok(url)
    }

    /// The role it connects as.
    pub fn user(&self) -> Option<String> {
        sqlx::postgres::PgConnectOptions::from_str(&self.normalized())
            .ok()
            .map(|o| o.get_username().to_owned())
            .filter(|u| !u.is_empty())
    }

    /// libpq accepts `postgres://user@/db?host=/socket` (user, no host); the `url` crate does
    /// not. This moves the credentials into query parameters in that case, which both accept.
    pub fn normalized(&self) -> String {
        let s = &self.0;
        let Some(scheme_end) = s.find("://") else {
            return s.clone();
        };
        let rest = &s[scheme_end + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (auth, tail) = rest.split_at(auth_end);
        let Some((userinfo, host)) = auth.rsplit_once('@') else {
            return s.clone();
        };
        if !host.is_empty() {
            return s.clone();
        }
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        };
        let mut extra = url::form_urlencoded::Serializer::new(String::new());
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            extra.append_pair("user", &decode(user));
        }
        if let Some(p) = password {
            extra.append_pair("password", &decode(p));
        }
        let extra = extra.finish();
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (tail, None),
        };
        let query = match query {
            Some(q) if !q.is_empty() => format!("{q}&{extra}"),
            _ => extra,
        };
        format!("{}{path}?{query}", &s[..scheme_end + 3])
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        let s = &self.0;
        let Some(scheme_end) = s.find("://") else {
            return "***".into();
        };
        let rest = &s[scheme_end + 3..];
        let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let auth = &rest[..auth_end];
        match auth.rfind('@') {
            Some(at) => {
                let userinfo = &auth[..at];
                let user = userinfo.split(':').next().unwrap_or("");
                let masked = if userinfo.contains(':') {
                    format!("{user}:***")
                } else {
                    user.to_owned()
                };
                format!("{}{}@{}", &s[..scheme_end + 3], masked, &rest[at + 1..])
            }
            None => s.clone(),
        }
    }
}

impl TryFrom<String> for DatabaseUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config file {0} does not exist; copy packaging/clinicbox.toml.example there or pass --config"
    )]
    Missing(PathBuf),
    #[error("config file {path}: cannot read it: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// The address staff type for `path` on `host`, as this installation serves it (scheme,
    /// and the port when it is not the default).
    pub fn url_of(&self, host: &str, path: &str) -> String {
        let scheme = if self.tls.mode == TlsMode::Off {
            "http"
        } else {
            "https"
        };
        let port = match (
            self.tls.mode,
            self.server.http_listen.port(),
            self.server.https_listen.port(),
        ) {
            (TlsMode::Off, 80, _) => String::new(),
            (TlsMode::Off, p, _) => format!(":{p}"),
            (_, _, 443) => String::new(),
            (_, _, p) => format!(":{p}"),
        };
        format!("{scheme}://{host}{port}{path}")
    }

    /// Reads `path` and overlays `CLINICBOX_*` variables from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Like [`Config::load`] with an explicit environment, so tests do not touch process state.
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(path.to_owned()));
            }
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: path.to_owned(),
                    source,
                });
            }
            Ok(_) => {}
        }
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_and_env(&text, path, env)
    }

    pub fn from_toml_and_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        // Parse once ourselves so syntax errors carry line numbers.
        text.parse::<toml::Table>()
            .map_err(|e| invalid(format!("TOML syntax error: {}", e.message())))?;

        let mut fig = Figment::from(Toml::string(text));
        for (k, v) in env {
            let Some(rest) = k.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // CLINICBOX_CONFIG names the file itself; it is not a key inside it.
            if rest == "CONFIG" {
                continue;
            }
            let Some((section, key)) = rest.split_once('_') else {
                return Err(invalid(format!(
                    "environment variable {k} does not name a key: use CLINICBOX_<SECTION>_<KEY>, e.g. CLINICBOX_DATABASE_URL"
                )));
            };
            let dotted = format!(
                "{}.{}",
                section.to_ascii_lowercase(),
                key.to_ascii_lowercase()
            );
            fig = fig.merge(EnvValue::new(&k, &dotted, &v));
        }
        let cfg = fig
            .extract::<Config>()
            .map_err(|e| invalid(describe_figment_error(e)))?;
        cfg.tls.check().map_err(invalid)?;
        if cfg.server.max_connections == 0 {
            return Err(invalid(
                "key `server.max_connections` must be at least 1".into(),
            ));
        }
        Ok(cfg)
    }
}

/// One `CLINICBOX_*` variable as a figment provider. Values are parsed the way figment parses
/// environment values ("14" becomes an integer, "true" a bool), and strings stay strings.
struct EnvValue {
    var: String,
    key: String,
    value: String,
}

impl EnvValue {
    fn new(var: &str, key: &str, value: &str) -> Self {
        Self {
            var: var.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }
}

impl figment::Provider for EnvValue {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(format!("environment variable {}", self.var))
    }
    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let value: figment::value::Value = self
            .value
            .parse()
            .unwrap_or_else(|_| figment::value::Value::from(self.value.clone()));
        let dict = figment::util::nest(&self.key, value)
            .into_dict()
            .unwrap_or_default();
        Ok(figment::Profile::Default.collect(dict))
    }
}

fn describe_figment_error(e: figment::Error) -> String {
    let mut out = Vec::new();
    for err in e {
        let key = if err.path.is_empty() {
            String::new()
        } else {
            format!("key `{}`: ", err.path.join("."))
        };
        let from = err
            .metadata
            .as_ref()
            .filter(|m| m.name.starts_with("environment variable"))
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        let kind = match &err.kind {
            figment::error::Kind::UnknownField(field, _) => {
                format!("unknown key `{field}`")
            }
            figment::error::Kind::MissingField(field) => {
                format!("missing required key `{field}`")
            }
            other => other.to_string(),
        };
        out.push(format!("{key}{kind}{from}"));
    }
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[database]
url = "postgres://clinicbox:s3cretpw@/clinicbox?host=/var/run/postgresql"
[server]
base_domain = "clinics.example.com"
console_host = "admin.clinics.example.com"
"#;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        Config::from_toml_and_env(
            text,
            Path::new("/etc/clinicbox/clinicbox.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn socket_url_with_user_is_accepted() {
        let u =
            DatabaseUrl::parse("postgres://clinicbox@/clinicbox?host=/var/run/postgresql").unwrap();
        assert_eq!(
            u.normalized(),
            "postgres:///clinicbox?host=/var/run/postgresql&user=clinicbox"
        );
        let u = DatabaseUrl::parse("postgres://cb:p%2Bw@/db?host=/run").unwrap();
        let opts: sqlx::postgres::PgConnectOptions = u.normalized().parse().unwrap();
        assert_eq!(opts.get_username(), "cb");
        assert_eq!(opts.get_database(), Some("db"));
        let tcp = DatabaseUrl::parse("postgres://cb:pw@db.local:5432/x").unwrap();
        assert_eq!(tcp.normalized(), "postgres://cb:pw@db.local:5432/x");
    }

    #[test]
    fn defaults_apply() {
        let c = load(GOOD, &[]).unwrap();
        assert_eq!(c.server.http_listen.port(), 80);
        assert_eq!(c.tls.mode, TlsMode::Acme);
        assert_eq!(c.log.keep_days, 14);
        assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/clinicbox"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = load(GOOD, &[]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cretpw"), "{dbg}");
        assert!(dbg.contains("clinicbox:***@"), "{dbg}");
    }

    #[test]
    fn env_overrides_file() {
        let c = load(
            GOOD,
            &[
                ("CLINICBOX_LOG_KEEP_DAYS", "30"),
                ("CLINICBOX_SERVER_BASE_DOMAIN", "other.example.org"),
                ("CLINICBOX_TLS_MODE", "off"),
                ("CLINICBOX_CONFIG", "/x.toml"),
                ("UNRELATED", "1"),
            ],
        )
        .unwrap();
        assert_eq!(c.log.keep_days, 30);
        assert_eq!(c.server.base_domain.as_str(), "other.example.org");
        assert_eq!(c.tls.mode, TlsMode::Off);
    }

    #[test]
    fn unknown_key_is_named_with_file() {
        let e = load(&format!("{GOOD}\n[storage]\ndata_dri = \"/x\"\n"), &[]).unwrap_err();
        assert!(e.contains("/etc/clinicbox/clinicbox.toml"), "{e}");
        assert!(e.contains("data_dri"), "{e}");
        let e = load(&format!("{GOOD}\n[bogus]\nx = 1\n"), &[]).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn unknown_env_key_is_named() {
        let e = load(GOOD, &[("CLINICBOX_SERVER_BASE_DOMIAN", "x.org")]).unwrap_err();
        assert!(e.contains("base_domian"), "{e}");
        assert!(e.contains("CLINICBOX_SERVER_BASE_DOMIAN"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = load(&GOOD.replace("postgres://", "mysql://"), &[]).unwrap_err();
        assert!(e.contains("database.url"), "{e}");
        let e = load(GOOD, &[("CLINICBOX_LOG_KEEP_DAYS", "soon")]).unwrap_err();
        assert!(e.contains("log.keep_days"), "{e}");
        assert!(e.contains("CLINICBOX_LOG_KEEP_DAYS"), "{e}");
        let e = load(&GOOD.replace("admin.clinics", "admin_x.clinics"), &[]).unwrap_err();
        assert!(e.contains("server.console_host"), "{e}");
        let e = load(&format!("{GOOD}\n[tls]\nmode = \"sometimes\"\n"), &[]).unwrap_err();
        assert!(e.contains("tls.mode"), "{e}");
    }

    #[test]
    fn missing_required_key_is_named() {
        let e = load(
            "[server]\nbase_domain=\"a.org\"\nconsole_host=\"b.org\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.contains("database"), "{e}");
        let e = load(&GOOD.replace("console_host", "#"), &[]).unwrap_err();
        assert!(e.contains("console_host"), "{e}");
    }

    #[test]
    fn tls_keys_are_checked_together() {
        let manual = format!("{GOOD}\n[tls]\nmode = \"manual\"\ncert_file = \"/etc/c.pem\"\n");
        let e = load(&manual, &[]).unwrap_err();
        assert!(e.contains("tls.key_file"), "{e}");
        let ok = load(&format!("{manual}key_file = \"/etc/k.pem\"\n"), &[]).unwrap();
        assert_eq!(ok.tls.mode, TlsMode::Manual);
        let e = load(GOOD, &[("CLINICBOX_TLS_ACME_EMAIL", "not an email")]).unwrap_err();
        assert!(e.contains("tls.acme_email"), "{e}");
        let e = load(&format!("{GOOD}\n[tls]\nchallenge = \"dns-01\"\n"), &[]).unwrap_err();
        assert!(e.contains("tls.challenge"), "{e}");
        let c = load(
            &format!("{GOOD}\n[tls]\nchallenge = \"tls-alpn-01\"\n"),
            &[],
        )
        .unwrap();
        assert_eq!(c.tls.challenge, ChallengeKind::TlsAlpn01);
        assert_eq!(load(GOOD, &[]).unwrap().tls.challenge, ChallengeKind::Auto);
    }

    #[test]
    fn trusted_proxies_parse_and_match() {
        let c = load(
            &GOOD.replace(
                "[server]\n",
                "[server]\ntrusted_proxies = [\"10.0.0.0/24\", \"192.0.2.7\"]\n",
            ),
            &[],
        )
        .unwrap();
        let p = &c.server.trusted_proxies;
        assert!(p[0].contains("10.0.0.9".parse().unwrap()));
        assert!(!p[0].contains("10.0.1.9".parse().unwrap()));
        assert!(p[1].contains("::ffff:192.0.2.7".parse().unwrap()));
        let e = load(
            &GOOD.replace("[server]\n", "[server]\ntrusted_proxies = [\"proxy\"]\n"),
            &[],
        )
        .unwrap_err();
        assert!(e.contains("server.trusted_proxies"), "{e}");
    }

    #[test]
    fn example_config_is_valid_with_every_commented_key_enabled() {
        let text = include_str!("../packaging/clinicbox.toml.example");
        load(text, &[]).unwrap();
        // Uncommenting `#key = value` lines turns on every documented optional key: each must
        // exist and its example value must be accepted.
        let all: String = text
            .lines()
            .map(|l| {
                let bare = l.strip_prefix('#').unwrap_or(l);
                let is_key = bare.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                });
                if l.starts_with('#') && is_key {
                    bare
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let c = load(&all, &[]).unwrap();
        assert_eq!(c.server.trusted_proxies.len(), 2);
        assert!(c.server.metrics_token.is_some());
        assert!(c.tls.cert_file.is_some());
    }

    #[test]
    fn syntax_error_names_file() {
        let e = load("[database\nurl=1", &[]).unwrap_err();
        assert!(e.contains("TOML syntax error"), "{e}");
        assert!(e.contains("clinicbox.toml"), "{e}");
    }
}
