//! Where accounts live: a clinic's staff (in its schema, events in its audit log) or the
//! installation's operators (control schema, the system audit log). Sign-in and the own-account
//! pages are the same code for both; their units of work (`signin`) open the realm's
//! transaction here, inside the domain.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::repo::Accounts;
use crate::domain::audit::{self, Actor, Context, Event};
use crate::domain::tenants::TenantIdent;

#[derive(Clone, Debug)]
enum Place {
    Clinic(TenantIdent),
    Console,
}

/// A realm of accounts, with the request's audit context.
#[derive(Clone, Debug)]
pub struct Realm {
    pool: PgPool,
    place: Place,
    ctx: Context,
    /// Words a password here must not be built on (the clinic's name and slug).
    names: Vec<String>,
}

impl Realm {
    pub fn clinic(pool: PgPool, tenant: TenantIdent, names: &[&str], ctx: Context) -> Self {
        Self {
            pool,
            place: Place::Clinic(tenant),
            ctx,
            names: names.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    pub fn console(pool: PgPool, ctx: Context) -> Self {
        Self {
            pool,
            place: Place::Console,
            ctx,
            names: Vec::new(),
        }
    }

    pub fn kind(&self) -> Accounts {
        match self.place {
            Place::Clinic(_) => Accounts::Staff,
            Place::Console => Accounts::Operators,
        }
    }

    pub fn actor(&self, id: i64) -> Actor {
        match self.place {
            Place::Clinic(_) => Actor::User(id),
            Place::Console => Actor::Operator(id),
        }
    }

    pub fn at(&self) -> chrono::DateTime<chrono::Utc> {
        self.ctx.at
    }

    pub(in crate::domain) fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    /// A transaction in which this realm's accounts (and audit log) can be used.
    pub(in crate::domain) async fn begin(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        match &self.place {
            Place::Clinic(t) => crate::db::TenantDb::begin(&self.pool, t).await,
            Place::Console => crate::db::begin(&self.pool).await,
        }
    }

    /// Writes `ev` to this realm's audit log, inside its transaction.
    pub(in crate::domain) async fn audit(
        &self,
        conn: &mut PgConnection,
        ev: Event,
    ) -> sqlx::Result<()> {
        match self.place {
            Place::Clinic(_) => audit::record(conn, &self.ctx, ev).await,
            Place::Console => audit::record_system(conn, &self.ctx, ev, None).await,
        }
    }
}
