//! The ACME client (instant-acme): the installation's account, one order per hostname, and
//! ACME Renewal Information.

use std::time::Duration;

use chrono::{DateTime, Utc};
use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, Problem, RetryPolicy,
};
use rustls::pki_types::CertificateDer;
use sqlx::PgPool;

use super::certs;
use super::repo;
use crate::config::TlsConfig;
use crate::ops::secrets::{Purpose, Secrets};

/// The challenge used for one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    Http01,
    TlsAlpn01,
}

impl Challenge {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::TlsAlpn01 => "tls-alpn-01",
        }
    }

    fn acme_type(self) -> ChallengeType {
        match self {
            Self::Http01 => ChallengeType::Http01,
            Self::TlsAlpn01 => ChallengeType::TlsAlpn01,
        }
    }
}

/// What kind of failure an order met: it decides how long to wait and what counts against the
/// CA's limit on failed validations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Validation failed, or the CA refused the request for a reason of its own: back off.
    Refused,
    /// The CA answered `rateLimited`: wait at least an hour.
    RateLimited,
    /// A rejected nonce, a 5xx, a connection refused or reset: nothing
    /// was validated, so retry soon and count nothing.
    Transient,
    /// The CA no longer knows the stored account (`accountDoesNotExist`): register a new one.
    AccountGone,
}

/// Why an order did not produce a certificate, in one sentence an operator can act on.
#[derive(Debug)]
pub struct OrderFailure {
    pub message: String,
    pub kind: FailureKind,
}

impl OrderFailure {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: FailureKind::Refused,
        }
    }
}

/// How an error of the ACME client is to be treated.
pub fn classify(e: &instant_acme::Error) -> FailureKind {
    match e {
        instant_acme::Error::Api(p) => {
            let kind = p
                .r#type
                .as_deref()
                .map(|t| t.rsplit(':').next().unwrap_or(t))
                .unwrap_or("");
            match kind {
                "rateLimited" => FailureKind::RateLimited,
                "accountDoesNotExist" => FailureKind::AccountGone,
                "badNonce" | "serverInternal" => FailureKind::Transient,
                _ if p.status.is_some_and(|s| s >= 500) => FailureKind::Transient,
                _ => FailureKind::Refused,
            }
        }
        // Connection refused or reset, TLS to the CA: the network, not the request. (A CA that
        // takes over two minutes to validate is not retried at once: `Timeout` backs off.)
        instant_acme::Error::Hyper(_) | instant_acme::Error::Other(_) => FailureKind::Transient,
        _ => FailureKind::Refused,
    }
}

/// Attempts of one order within a round when the failures are transient, and the pause
/// before each retry (doubling).
const TRANSIENT_ATTEMPTS: u32 = 5;
const TRANSIENT_FIRST_PAUSE: Duration = Duration::from_millis(500);

/// A problem document as one line: its detail and its short type.
pub fn describe(e: &instant_acme::Error) -> String {
    match e {
        instant_acme::Error::Api(p) => describe_problem(p),
        instant_acme::Error::Timeout(_) => "the CA did not finish in time".into(),
        other => {
            let s = other.to_string();
            s.lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect()
        }
    }
}

fn describe_problem(p: &Problem) -> String {
    let kind = p
        .r#type
        .as_deref()
        .map(|t| t.rsplit(':').next().unwrap_or(t))
        .unwrap_or("error");
    let detail = p.detail.as_deref().unwrap_or("no detail given");
    let detail: String = detail.chars().take(300).collect();
    format!("{detail} ({kind})")
}

pub struct Issued {
    pub chain_pem: String,
    pub key: rcgen::KeyPair,
}

/// The account of this installation at one CA.
pub struct Acme {
    account: Account,
    pub directory: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("tls.acme_root_ca {0}: {1}")]
    Root(String, String),
    #[error("ACME account at {0}: {1}")]
    Ca(String, String),
    #[error("the stored ACME account cannot be read ({0}); was the secret key file replaced?")]
    Stored(String),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

impl Acme {
    /// Loads the account stored for the configured directory, or registers one (once: it is
    /// stored before it is used, and later starts reuse it).
    pub async fn load_or_register(
        cfg: &TlsConfig,
        pool: &PgPool,
        secrets: &Secrets,
        now: DateTime<Utc>,
    ) -> Result<Self, AccountError> {
        let directory = cfg.acme_directory.clone();
        let builder = || match &cfg.acme_root_ca {
            Some(path) => Account::builder_with_root(path)
                .map_err(|e| AccountError::Root(path.display().to_string(), e.to_string())),
            None => {
                Account::builder().map_err(|e| AccountError::Ca(directory.clone(), e.to_string()))
            }
        };
        let contact = cfg.acme_email.as_ref().map(|e| format!("mailto:{e}"));
        if let Some((sealed, stored_contact)) = repo::load_account(pool, &directory).await? {
            let plain = secrets
                .decrypt(Purpose::AcmeAccount, &sealed)
                .map_err(|e| AccountError::Stored(e.to_string()))?;
            let creds: instant_acme::AccountCredentials =
                serde_json::from_slice(&plain).map_err(|e| AccountError::Stored(e.to_string()))?;
            let account = builder()?
                .from_credentials(creds)
                .await
                .map_err(|e| AccountError::Ca(directory.clone(), describe(&e)))?;
            if stored_contact != contact {
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                match account.update_contacts(&contacts).await {
                    Ok(()) => {
                        repo::set_account_contact(pool, &directory, contact.as_deref()).await?
                    }
                    Err(e) => {
                        tracing::warn!(error = %describe(&e), "could not update the ACME account's contact address")
                    }
                }
            }
            return Ok(Self { account, directory });
        }
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, creds) = builder()?
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                directory.clone(),
                None,
            )
            .await
            .map_err(|e| AccountError::Ca(directory.clone(), describe(&e)))?;
        let plain = serde_json::to_vec(&creds).map_err(|e| AccountError::Stored(e.to_string()))?;
        let sealed = secrets
            .encrypt(Purpose::AcmeAccount, &plain)
            .map_err(|e| AccountError::Stored(e.to_string()))?;
        repo::save_account(pool, &directory, contact.as_deref(), &sealed, now).await?;
        tracing::info!(directory = %directory, "registered the ACME account of this installation");
        Ok(Self { account, directory })
    }

    /// Registers a new account at the configured directory, replacing the stored one (which the
    /// CA no longer knows).
    pub async fn register_new(
        cfg: &TlsConfig,
        pool: &PgPool,
        secrets: &Secrets,
        now: DateTime<Utc>,
    ) -> Result<Self, AccountError> {
        repo::delete_account(pool, &cfg.acme_directory).await?;
        Self::load_or_register(cfg, pool, secrets, now).await
    }

    /// Orders a certificate for one hostname, answering `challenge`. Challenge answers are put
    /// in the database, so that whichever node the CA reaches can give them; they are removed
    /// again whatever the outcome.
    pub async fn issue(
        &self,
        pool: &PgPool,
        host: &str,
        challenge: Challenge,
        replaces: Option<&CertificateDer<'_>>,
        now: DateTime<Utc>,
    ) -> Result<Issued, OrderFailure> {
        let mut pause = TRANSIENT_FIRST_PAUSE;
        let mut attempt = 1;
        loop {
            let result = self.order(pool, host, challenge, replaces, now).await;
            if let Err(e) = repo::delete_challenges(pool, host).await {
                tracing::warn!(host, error = %e, "could not remove answered ACME challenges");
            }
            match result {
                // A fresh order: the CA reuses what it already validated for this account.
                Err(f) if f.kind == FailureKind::Transient && attempt < TRANSIENT_ATTEMPTS => {
                    tracing::info!(host, attempt, error = %f.message, "transient ACME error; ordering again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn order(
        &self,
        pool: &PgPool,
        host: &str,
        challenge: Challenge,
        replaces: Option<&CertificateDer<'_>>,
        now: DateTime<Utc>,
    ) -> Result<Issued, OrderFailure> {
        let ids = [Identifier::Dns(host.to_owned())];
        let replaced = replaces.and_then(|c| CertificateIdentifier::try_from(c).ok());
        let mut order = match replaced {
            Some(id) => match self
                .account
                .new_order(&NewOrder::new(&ids).replaces(id))
                .await
            {
                Ok(o) => Ok(o),
                // No ARI at this CA, or that certificate was already replaced: a plain order.
                Err(_) => self.account.new_order(&NewOrder::new(&ids)).await,
            },
            None => self.account.new_order(&NewOrder::new(&ids)).await,
        }
        .map_err(|e| OrderFailure {
            message: format!("the CA refused the order: {}", describe(&e)),
            kind: classify(&e),
        })?;

        let step = |what: &'static str| {
            move |e: instant_acme::Error| OrderFailure {
                message: format!("{what}: {}", describe(&e)),
                kind: classify(&e),
            }
        };
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(step("cannot read the authorization"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(OrderFailure::new(format!(
                        "the CA's authorization for {host} is {other:?}"
                    )));
                }
            }
            let mut ch = authz.challenge(challenge.acme_type()).ok_or_else(|| {
                OrderFailure::new(format!(
                    "the CA does not offer {} for {host}; set tls.challenge to another method",
                    challenge.as_str()
                ))
            })?;
            let key_auth = ch.key_authorization();
            repo::put_challenge(
                pool,
                &ch.token,
                host,
                challenge.as_str(),
                key_auth.as_str(),
                now,
            )
            .await
            .map_err(|e| OrderFailure::new(format!("cannot store the challenge answer: {e}")))?;
            ch.set_ready()
                .await
                .map_err(step("the CA refused the challenge"))?;
        }

        let patience = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(Duration::from_secs(120));
        let status = order.poll_ready(&patience).await;
        match status {
            Ok(OrderStatus::Ready) => {}
            Err(e) if classify(&e) == FailureKind::Transient => {
                return Err(step("waiting for validation")(e));
            }
            Ok(_) | Err(instant_acme::Error::Api(_)) => {
                let why = match (validation_error(&mut order).await, &status) {
                    (Some(why), _) => why,
                    (None, Err(e)) => describe(e),
                    (None, Ok(s)) => format!("the order became {s:?} without a reason"),
                };
                return Err(OrderFailure::new(format!(
                    "{} validation failed: {why}",
                    challenge.as_str()
                )));
            }
            Err(e) => return Err(step("waiting for validation")(e)),
        }

        let key = certs::generate_key().map_err(|e| OrderFailure::new(e.to_string()))?;
        let csr = certs::csr(host, &key).map_err(|e| OrderFailure::new(e.to_string()))?;
        order
            .finalize_csr(&csr)
            .await
            .map_err(step("the CA refused the certificate request"))?;
        let chain_pem = order
            .poll_certificate(&patience)
            .await
            .map_err(step("waiting for the certificate"))?;
        Ok(Issued { chain_pem, key })
    }

    /// The CA's suggested renewal window for a certificate (RFC 9773) and when to ask again;
    /// `None` when the CA does not offer renewal information.
    pub async fn renewal_window(
        &self,
        leaf: &CertificateDer<'_>,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>, Duration)>, String> {
        let id = CertificateIdentifier::try_from(leaf)?;
        match self.account.renewal_info(&id).await {
            Ok((info, retry)) => {
                let to = |t: time::OffsetDateTime| {
                    DateTime::<Utc>::from_timestamp(t.unix_timestamp(), 0)
                        .ok_or_else(|| "renewal window out of range".to_owned())
                };
                Ok(Some((
                    to(info.suggested_window.start)?,
                    to(info.suggested_window.end)?,
                    retry,
                )))
            }
            Err(instant_acme::Error::Unsupported(_)) => Ok(None),
            Err(e) => Err(describe(&e)),
        }
    }
}

/// The first challenge error the CA reports for an order that did not become ready.
async fn validation_error(order: &mut instant_acme::Order) -> Option<String> {
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        if let Ok(state) = authz.refresh().await
            && let Some(p) = state.challenges.iter().find_map(|c| c.error.as_ref())
        {
            return Some(describe_problem(p));
        }
    }
    None
}
