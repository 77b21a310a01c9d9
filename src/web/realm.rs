//! A clinic's staff or the installation's operators: where accounts live, how their
//! transactions open and where their audit rows go. Sign-in and account pages are the same
//! code for both.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::{PgConnection, Postgres, Transaction};

use crate::app::AppState;
use crate::db::TenantDb;
use crate::domain::audit::{self, Event};
use crate::domain::auth::Accounts;
use crate::web::AppError;
use crate::web::site::CurrentTenant;

#[derive(Clone, Debug)]
pub enum Realm {
    Clinic(CurrentTenant),
    Console,
}

impl<S: Send + Sync> FromRequestParts<S> for Realm {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        Ok(match parts.extensions.get::<CurrentTenant>() {
            Some(t) => Realm::Clinic(t.clone()),
            None => Realm::Console,
        })
    }
}

impl Realm {
    pub fn kind(&self) -> Accounts {
        match self {
            Self::Clinic(_) => Accounts::Staff,
            Self::Console => Accounts::Operators,
        }
    }

    /// The `tenant` recorded in sessions of this realm.
    pub fn tenant_id(&self) -> Option<i64> {
        match self {
            Self::Clinic(t) => Some(t.id),
            Self::Console => None,
        }
    }

    /// A transaction in which this realm's accounts (and audit log) can be used.
    pub async fn begin(&self, state: &AppState) -> sqlx::Result<Transaction<'static, Postgres>> {
        match self {
            Self::Clinic(t) => TenantDb::begin(&state.db.pool, &t.db).await,
            Self::Console => crate::db::begin(&state.db.pool).await,
        }
    }

    pub async fn audit(
        &self,
        conn: &mut PgConnection,
        ctx: &audit::Context,
        ev: Event,
    ) -> sqlx::Result<()> {
        match self {
            Self::Clinic(_) => audit::record(conn, ctx, ev).await,
            Self::Console => audit::record_system(conn, ctx, ev, None).await,
        }
    }

    /// Words a password here must not be built on: the clinic's name and slug.
    pub fn site_words(&self) -> Vec<&str> {
        match self {
            Self::Clinic(t) => vec![t.display_name.as_str(), t.slug.as_str()],
            Self::Console => Vec::new(),
        }
    }

    /// The issuer an authenticator app shows next to the code.
    pub fn issuer(&self) -> String {
        match self {
            Self::Clinic(t) => format!("{} (ClinicBox)", t.display_name),
            Self::Console => "ClinicBox console".to_owned(),
        }
    }

    pub fn actor(&self, id: i64) -> audit::Actor {
        match self {
            Self::Clinic(_) => audit::Actor::User(id),
            Self::Console => audit::Actor::Operator(id),
        }
    }
}
