//! libpq environment for `pg_dump`/`pg_restore`, so the password never appears on a command line.

use std::collections::BTreeMap;

use crate::config::DatabaseUrl;

/// `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`… for a database URL.
pub fn libpq_env(url: &DatabaseUrl) -> BTreeMap<&'static str, String> {
    let mut env = BTreeMap::new();
    let Ok(u) = url::Url::parse(&url.normalized()) else {
        return env;
    };
    if let Some(h) = u.host_str().filter(|h| !h.is_empty()) {
        env.insert("PGHOST", h.trim_matches(['[', ']']).to_owned());
    }
    if let Some(p) = u.port() {
        env.insert("PGPORT", p.to_string());
    }
    if !u.username().is_empty() {
        env.insert("PGUSER", decode(u.username()));
    }
    if let Some(p) = u.password() {
        env.insert("PGPASSWORD", decode(p));
    }
    let db = u.path().trim_start_matches('/');
    if !db.is_empty() {
        env.insert("PGDATABASE", decode(db));
    }
    for (k, v) in u.query_pairs() {
        let var = match k.as_ref() {
            "host" => "PGHOST",
            "port" => "PGPORT",
            "user" => "PGUSER",
            "password" => "PGPASSWORD",
            "dbname" => "PGDATABASE",
            "sslmode" => "PGSSLMODE",
            "sslrootcert" => "PGSSLROOTCERT",
            "sslcert" => "PGSSLCERT",
            "sslkey" => "PGSSLKEY",
            _ => continue,
        };
        env.insert(var, v.into_owned());
    }
    env
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url() {
        let u =
            DatabaseUrl::parse("postgres://clinicbox@/clinicbox?host=/var/run/postgresql").unwrap();
        let e = libpq_env(&u);
        assert_eq!(e["PGHOST"], "/var/run/postgresql");
        assert_eq!(e["PGUSER"], "clinicbox");
        assert_eq!(e["PGDATABASE"], "clinicbox");
        assert!(!e.contains_key("PGPASSWORD"));
    }

    #[test]
    fn tcp_url_with_password() {
        let u =
            DatabaseUrl::parse("postgres://cb:p%40ss@db.local:6543/cbx?sslmode=require").unwrap();
        let e = libpq_env(&u);
        assert_eq!(e["PGHOST"], "db.local");
        assert_eq!(e["PGPORT"], "6543");
        assert_eq!(e["PGPASSWORD"], "p@ss");
        assert_eq!(e["PGSSLMODE"], "require");
    }
}
