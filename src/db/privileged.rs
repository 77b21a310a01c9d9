//! The part of the database setup that needs a PostgreSQL superuser
//! (`migrations/privileged/setup.sql`): the auditor and provisioner roles, the functions that
//! create clinic roles, and the schema that owns the audit logs. The login role itself loses
//! CREATEROLE there, so that it can never become the role that owns the audit logs.
//!
//! The .deb runs it through the local postgres account on install and upgrade; for a database
//! elsewhere `clinicbox database setup-sql` prints it. `serve` and `migrate` refuse to run
//! until it is in place at [`VERSION`].

use sqlx::PgPool;

use crate::domain::tenants::Ident;

/// Bumped whenever `setup.sql` changes; checked by `serve`, `migrate` and `check`.
pub const VERSION: i32 = 1;

const SQL: &str = include_str!("../../migrations/privileged/setup.sql");

/// The setup script for the login role `login` (a validated identifier).
pub fn setup_sql(login: &Ident) -> String {
    SQL.replace("@LOGIN@", login.as_str())
}

/// The roles the setup creates for `login`.
pub fn auditor_role(login: &Ident) -> String {
    format!("{}_auditor", login.as_str())
}

/// What to tell an operator when the setup is missing or old.
pub fn instructions(login: &Ident) -> String {
    format!(
        "run the database setup as a PostgreSQL superuser: `clinicbox database setup-sql | sudo -u postgres psql -v ON_ERROR_STOP=1 -d <database>` (the .deb does this on install and upgrade; it creates the {login}_auditor and {login}_provisioner roles and takes CREATEROLE from {login})"
    )
}

/// `Ok` when the setup is in place at this binary's version.
pub async fn check(pool: &PgPool, login: &Ident) -> Result<(), String> {
    let version: Option<i32> =
        match sqlx::query_scalar!("SELECT max(version) FROM clinicbox_audit.setup")
            .fetch_one(pool)
            .await
        {
            Ok(v) => v,
            Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42P01") => None,
            Err(e) => return Err(format!("cannot read the database setup: {e}")),
        };
    match version {
        Some(v) if v >= VERSION => Ok(()),
        Some(v) => Err(format!(
            "the database setup is at version {v}, this clinicbox needs {VERSION}: {}",
            instructions(login)
        )),
        None => Err(format!(
            "the database setup has not been run: {}",
            instructions(login)
        )),
    }
}

/// Runs the setup on `superuser`, a superuser connection to the application's database (tests,
/// the demo and benchmarks own their cluster).
pub async fn run(superuser: &PgPool, login: &Ident) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(&setup_sql(login)).execute(superuser).await?;
    Ok(())
}
