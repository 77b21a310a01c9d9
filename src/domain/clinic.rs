//! The clinic unit of work: the one way to a clinic's tables and its audit log.
//!
//! A [`Clinic`] says who acts, where and when: the clinic's schema and role, the acting identity
//! and the request's audit context. Anyone may hold one (the web layer builds it from the
//! signed-in user, the CLI for the system); it opens nothing by itself. The domain's entry
//! points (`<area>::work`) take it, open a [`Unit`] — a transaction as the clinic's role, with the
//! clinic's schema and audit log on the search path — do one thing, write that thing's audit
//! event and commit. `Unit` can only be opened inside `crate::domain`, and `commit` refuses a
//! unit of work that read or changed clinical data without exactly one audit event, so neither
//! a handler nor a forgetful entry point can skip the row.
//!
//! Reads that name no patient (the clinic's time zone, opening hours, appointment types,
//! providers, free times) are not clinical data: [`Unit::finish_without_clinical_data`] ends
//! such a unit without an event, and refuses one that wrote an event.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::audit::{self, Actor, Context, Event};
use super::tenants::TenantIdent;

/// Who acts, in which clinic, from where and when.
#[derive(Clone, Debug)]
pub struct Clinic {
    pool: PgPool,
    tenant: TenantIdent,
    actor: Actor,
    ctx: Context,
    /// `"api"` for the JSON API, `"cli"` for the command line: added to each event's details.
    via: Option<&'static str>,
    /// The clinic's name and slug: words a password here must not be built on.
    names: Vec<String>,
}

impl Clinic {
    pub fn new(pool: PgPool, tenant: TenantIdent, actor: Actor, ctx: Context) -> Self {
        Self {
            pool,
            tenant,
            actor,
            ctx,
            via: None,
            names: Vec::new(),
        }
    }

    /// The clinic's name and slug, kept out of its staff's passwords.
    pub fn named(mut self, display_name: &str, slug: &str) -> Self {
        self.names = vec![display_name.to_owned(), slug.to_owned()];
        self
    }

    pub fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    /// The channel the action came through, recorded in its audit event.
    pub fn via(mut self, channel: &'static str) -> Self {
        self.via = Some(channel);
        self
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The acting staff member's account id, if a staff member acts.
    pub fn user_id(&self) -> Option<i64> {
        match self.actor {
            Actor::User(id) => Some(id),
            _ => None,
        }
    }

    /// The request's time (the injected clock's).
    pub fn at(&self) -> DateTime<Utc> {
        self.ctx.at
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub fn tenant(&self) -> &TenantIdent {
        &self.tenant
    }

    /// The installation's pool, for the control plane's own rows (a clinic's name and
    /// branding); clinic data goes through `begin`.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Opens the clinic's transaction. Only the domain's entry points do this.
    pub(in crate::domain) async fn begin(&self) -> Result<Unit<'_>, sqlx::Error> {
        let tx = crate::db::TenantDb::begin(&self.pool, &self.tenant).await?;
        Ok(Unit {
            tx,
            clinic: self,
            events: 0,
        })
    }
}

/// One clinic transaction and the audit event it owes. Dropped without `commit`, it rolls back.
#[must_use = "a unit of work is rolled back unless committed"]
pub struct Unit<'c> {
    tx: Transaction<'static, Postgres>,
    clinic: &'c Clinic,
    events: u32,
}

/// A unit of work ended without its audit event (or with more than one): a bug in an entry
/// point, refused so that it cannot commit unaudited clinical data.
#[derive(Debug, thiserror::Error)]
#[error("unit of work for {action} wrote {events} audit events, not exactly one")]
pub struct UnauditedWork {
    pub action: &'static str,
    pub events: u32,
}

impl From<UnauditedWork> for sqlx::Error {
    fn from(e: UnauditedWork) -> Self {
        sqlx::Error::Protocol(e.to_string())
    }
}

impl<'c> Unit<'c> {
    /// An event by the acting identity, to fill in and pass to [`Unit::audit`].
    pub(in crate::domain) fn event(&self, action: &'static str) -> Event {
        Event::new(action, self.clinic.actor)
    }

    /// An event by someone the unit of work has just identified (sign-in, tokens).
    pub(in crate::domain) fn event_by(&self, action: &'static str, actor: Actor) -> Event {
        Event::new(action, actor)
    }

    pub(in crate::domain) fn clinic(&self) -> &'c Clinic {
        self.clinic
    }

    /// Whether the acting staff member's role grants `p` (the system or an operator acting in
    /// the clinic: no). For what a unit of work reads only for those who may see it.
    pub(in crate::domain) async fn actor_can(
        &mut self,
        p: crate::domain::auth::Permission,
    ) -> sqlx::Result<bool> {
        let Some(id) = self.clinic.user_id() else {
            return Ok(false);
        };
        Ok(crate::domain::auth::repo::role_of(&mut self.tx, id)
            .await?
            .and_then(|r| crate::domain::auth::Role::parse(&r))
            .is_some_and(|r| r.can(p)))
    }

    /// Writes the unit's audit event, in its transaction.
    pub(in crate::domain) async fn audit(&mut self, mut ev: Event) -> sqlx::Result<()> {
        if let (Some(via), serde_json::Value::Object(d)) = (self.clinic.via, &mut ev.details) {
            d.entry("via").or_insert_with(|| via.into());
        }
        audit::record(&mut self.tx, &self.clinic.ctx, ev).await?;
        self.events += 1;
        Ok(())
    }

    /// Commits, if exactly one audit event was written; otherwise rolls back and fails.
    pub(in crate::domain) async fn commit(self) -> sqlx::Result<()> {
        if self.events != 1 {
            let events = self.events;
            self.tx.rollback().await?;
            return Err(UnauditedWork {
                action: "commit",
                events,
            }
            .into());
        }
        self.tx.commit().await
    }

    /// Writes `ev` and commits: the usual last step of an entry point.
    pub(in crate::domain) async fn audit_and_commit(mut self, ev: Event) -> sqlx::Result<()> {
        self.audit(ev).await?;
        self.commit().await
    }

    /// Ends a unit of work that read nothing naming a patient (no event).
    pub(in crate::domain) async fn finish_without_clinical_data(self) -> sqlx::Result<()> {
        if self.events != 0 {
            return Err(UnauditedWork {
                action: "read without clinical data",
                events: self.events,
            }
            .into());
        }
        self.tx.commit().await
    }

    /// Rolls back: nothing was done (a refused change). An event already written goes with it,
    /// so a refusal worth recording is recorded with [`Unit::audit_and_commit`] instead.
    pub(in crate::domain) async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for Unit<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Unit<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
