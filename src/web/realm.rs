//! A clinic's staff or the installation's operators, as the request found them: which
//! accounts, which sessions, which issuer. Their transactions and audit rows are the
//! domain's (`domain::auth::realm`, `domain::auth::signin`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::domain::audit;
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

    /// The domain's realm (for its units of work), with this request's audit context.
    pub fn domain(
        &self,
        state: &AppState,
        ctx: &audit::Context,
    ) -> crate::domain::auth::realm::Realm {
        use crate::domain::auth::realm::Realm as R;
        match self {
            Self::Clinic(t) => R::clinic(
                state.db.pool.clone(),
                t.db.clone(),
                &self.site_words(),
                ctx.clone(),
            ),
            Self::Console => R::console(state.db.pool.clone(), ctx.clone()),
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
