//! Document units of work: each opens the clinic transaction, does one thing, writes its one
//! audit event and commits.
//!
//! An upload finishes in a task of its own: once the file is received, a client that goes away
//! does not cut the quota check, the insert and the move into the store in half.

use std::sync::Arc;

use super::content::{self, MediaType};
use super::model::{Document, DocumentError, Limits, UploadInput};
use super::repo::{self, NewDocument};
use super::store::{Incoming, Store};
use crate::domain::audit::action;
use crate::domain::clinic::Clinic;
use crate::domain::settings::keys;
use crate::domain::validation::Errors;
use crate::domain::{patients, visits};

/// Default and largest upload size setting, in MiB.
pub const DEFAULT_MAX_UPLOAD_MB: i64 = 20;
pub const MAX_UPLOAD_MB_RANGE: std::ops::RangeInclusive<i64> = 1..=100;

/// The clinic's largest upload, in bytes.
pub(in crate::domain) async fn max_file(conn: &mut sqlx::PgConnection) -> sqlx::Result<u64> {
    let mb = keys::MAX_UPLOAD_MB
        .get(conn)
        .await?
        .filter(|m| MAX_UPLOAD_MB_RANGE.contains(m))
        .unwrap_or(DEFAULT_MAX_UPLOAD_MB);
    Ok(mb as u64 * 1024 * 1024)
}

/// The clinic's upload limits and what its documents take now.
pub async fn limits(c: &Clinic, quota: u64) -> Result<Limits, DocumentError> {
    let mut u = c.begin().await?;
    let quota = crate::domain::settings::plan::Limits::read(&mut u)
        .await?
        .document_quota(quota);
    let max_file = max_file(&mut u).await?;
    let used = repo::used_bytes(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(Limits {
        max_file,
        quota,
        used: used.max(0) as u64,
    })
}

/// The clinic's largest upload, in bytes: what an upload handler receives at most.
pub async fn max_upload(c: &Clinic) -> Result<u64, DocumentError> {
    let mut u = c.begin().await?;
    let max = max_file(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(max)
}

/// The documents of a chart, read in the chart's own unit of work.
pub struct OfChart {
    pub list: Vec<Document>,
    /// The clinic's largest upload, in bytes (the upload form says it).
    pub max_file: u64,
}

pub(in crate::domain) async fn of_visit(
    conn: &mut sqlx::PgConnection,
    visit: i64,
) -> sqlx::Result<OfChart> {
    Ok(OfChart {
        list: repo::of_visit(conn, visit).await?,
        max_file: max_file(conn).await?,
    })
}

pub(in crate::domain) async fn of_chart(
    conn: &mut sqlx::PgConnection,
    patient: i64,
) -> sqlx::Result<OfChart> {
    Ok(OfChart {
        list: repo::of_patient(conn, patient).await?,
        max_file: max_file(conn).await?,
    })
}

/// Where an upload goes.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Patient(i64),
    Visit(i64),
    /// A visit that must be this patient's (the API names both).
    VisitOf {
        patient: i64,
        visit: i64,
    },
}

/// Only one image is decoded at a time: a phone photo takes tens of MB while it is.
static DECODING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Keeps a received file as a document of the patient (or visit). Refused with a message by
/// field — `file` for a type that is not PDF, JPEG or PNG, a file over the size limit or over
/// the clinic's quota — and then nothing of it stays on disk.
pub async fn upload(
    c: &Clinic,
    store: Arc<dyn Store>,
    quota: u64,
    target: Target,
    input: UploadInput,
    file: Incoming,
) -> Result<i64, DocumentError> {
    let c = c.clone();
    tokio::spawn(async move { upload_now(&c, &*store, quota, target, &input, file).await })
        .await
        .map_err(|e| DocumentError::Io(std::io::Error::other(e)))?
}

fn refused(key: &'static str) -> DocumentError {
    DocumentError::Invalid(Errors::with("file", key))
}

async fn upload_now(
    c: &Clinic,
    store: &dyn Store,
    quota: u64,
    target: Target,
    input: &UploadInput,
    mut file: Incoming,
) -> Result<i64, DocumentError> {
    let (title, category) = input.validate().map_err(DocumentError::Invalid)?;
    if file.size() == 0 {
        return Err(refused("invalid.document_empty"));
    }
    let sha256 = file.finish().await?;
    let kind = MediaType::sniff(file.head()).ok_or_else(|| refused("invalid.document_type"))?;
    let thumb = if kind.is_image() {
        let _turn = DECODING
            .acquire()
            .await
            .map_err(|e| DocumentError::Io(std::io::Error::other(e)))?;
        let path = file.path().to_owned();
        let t = tokio::task::spawn_blocking(move || {
            std::fs::read(path).map(|b| content::thumbnail(&b, kind))
        })
        .await
        .map_err(|e| DocumentError::Io(std::io::Error::other(e)))??;
        Some(t.ok_or_else(|| refused("invalid.document_unreadable"))?)
    } else {
        None
    };
    let size = file.size();
    let thumb_len = thumb.as_ref().map_or(0, |t| t.jpeg.len() as u64);

    let mut u = c.begin().await?;
    let max = max_file(&mut u).await?;
    if size > max {
        u.rollback().await?;
        return Err(DocumentError::Invalid(Errors::with(
            "file",
            crate::i18n::msg("invalid.document_too_large", &[("mb", &(max >> 20))]),
        )));
    }
    let (patient, visit) = match target {
        Target::Patient(p) => (p, None),
        Target::Visit(v) | Target::VisitOf { visit: v, .. } => {
            let visit = visits::repo::get(&mut u, v)
                .await?
                .filter(|visit| match target {
                    Target::VisitOf { patient, .. } => visit.patient_id == patient,
                    _ => true,
                })
                .ok_or(DocumentError::NotFound)?;
            if visit.signed_at.is_some() {
                return Err(DocumentError::VisitSigned);
            }
            (visit.patient_id, Some(v))
        }
    };
    if patients::repo::get(&mut u, patient)
        .await?
        .is_none_or(|p| p.deleted)
    {
        return Err(DocumentError::NotFound);
    }
    repo::lock_uploads(&mut u).await?;
    let used = repo::used_bytes(&mut u).await?.max(0) as u64;
    // The clinic's plan may set its own quota (`settings::plan`).
    let quota = crate::domain::settings::plan::Limits::read(&mut u)
        .await?
        .document_quota(quota);
    if used + size + thumb_len > quota {
        u.rollback().await?;
        return Err(DocumentError::Invalid(Errors::with(
            "file",
            crate::i18n::msg(
                "invalid.document_quota",
                &[
                    ("used", &super::model::size_label(used as i64)),
                    ("quota", &super::model::size_label(quota as i64)),
                ],
            ),
        )));
    }
    let key = uuid::Uuid::new_v4().to_string();
    let file_name = content::clean_file_name(&input.file_name, kind);
    let id = repo::insert(
        &mut u,
        &NewDocument {
            patient_id: patient,
            visit_id: visit,
            category: &category,
            title: &title,
            media_type: kind.as_str(),
            file_name: &file_name,
            size_bytes: size as i64,
            sha256: &sha256,
            storage_key: &key,
            thumb_bytes: thumb.as_ref().map(|t| t.jpeg.len() as i32),
            width: thumb.as_ref().map(|t| t.width as i32),
            height: thumb.as_ref().map(|t| t.height as i32),
            uploaded_by: c.user_id(),
            uploaded_at: c.at(),
        },
    )
    .await?;
    store.put(&key, file).await?;
    if let Some(t) = &thumb {
        let thumb_key = format!("{key}.thumb.jpg");
        if let Err(e) = store.put_bytes(&thumb_key, &t.jpeg).await {
            let _ = store.remove(&key).await;
            return Err(e.into());
        }
    }
    let ev = u
        .event(action::DOCUMENT_UPLOADED)
        .resource("document", id)
        .patient(patient)
        .details(serde_json::json!({
            "visit": visit, "category": category, "media_type": kind.as_str(),
            "bytes": size, "sha256": sha256,
        }));
    if let Err(e) = u.audit_and_commit(ev).await {
        // Whether the commit reached the database is not known: the files stay (an
        // unreferenced file costs disk; a referenced one missing would lose a record).
        tracing::warn!(document = id, key = %key, "document stored but its commit failed");
        return Err(e.into());
    }
    Ok(id)
}

/// Why a document is opened: recorded in the audit event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    View,
    Download,
    Thumbnail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Download => "download",
            Self::Thumbnail => "thumbnail",
        }
    }
}

/// The document and its file (or its thumbnail). Deleted documents are not found.
pub async fn open(
    c: &Clinic,
    store: &dyn Store,
    id: i64,
    purpose: Purpose,
) -> Result<(Document, Vec<u8>), DocumentError> {
    let mut u = c.begin().await?;
    let Some(d) = repo::get(&mut u, id).await? else {
        u.rollback().await?;
        return Err(DocumentError::NotFound);
    };
    let key = match purpose {
        Purpose::Thumbnail => d.thumb_key().ok_or(DocumentError::NotFound)?,
        _ => d.storage_key.clone(),
    };
    let ev = u
        .event(action::DOCUMENT_VIEWED)
        .resource("document", id)
        .patient(d.patient_id)
        .details(serde_json::json!({ "purpose": purpose.as_str() }));
    u.audit_and_commit(ev).await?;
    let bytes = store.get(&key).await.inspect_err(|e| {
        tracing::error!(document = id, error = %e, "document file cannot be read");
    })?;
    Ok((d, bytes))
}

/// The patient's documents (the API's list; the chart lists them in its own read).
pub async fn of_patient(c: &Clinic, patient: i64) -> Result<Vec<Document>, DocumentError> {
    let mut u = c.begin().await?;
    if patients::repo::get(&mut u, patient).await?.is_none() {
        u.rollback().await?;
        return Err(DocumentError::NotFound);
    }
    let docs = repo::of_patient(&mut u, patient).await?;
    let ev = u
        .event(action::DOCUMENTS_LISTED)
        .resource("patient", patient)
        .patient(patient)
        .details(serde_json::json!({ "count": docs.len() }));
    u.audit_and_commit(ev).await?;
    Ok(docs)
}

/// Soft-deletes a document, with the reason. The file stays (a backup or an auditor may need
/// it); the document is no longer listed or served, and no longer counts against the quota.
pub async fn delete(c: &Clinic, id: i64, reason: &str) -> Result<i64, DocumentError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DocumentError::Invalid(Errors::with(
            "reason",
            "invalid.document_delete_reason",
        )));
    }
    if reason.chars().count() > 500 {
        return Err(DocumentError::Invalid(Errors::with(
            "reason",
            "invalid.max_500",
        )));
    }
    let mut u = c.begin().await?;
    let Some(patient) = repo::soft_delete(&mut u, id, c.user_id(), reason, c.at()).await? else {
        u.rollback().await?;
        return Err(DocumentError::NotFound);
    };
    let ev = u
        .event(action::DOCUMENT_DELETED)
        .resource("document", id)
        .patient(patient);
    u.audit_and_commit(ev).await?;
    Ok(patient)
}

/// Thumbnails as `data:` URLs for a page that has just read the documents (in its own audited
/// unit of work), in the order given; `None` for PDFs and for a thumbnail that cannot be read.
pub async fn thumbnails(store: &dyn Store, docs: &[Document]) -> Vec<Option<String>> {
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let url = match d.thumb_key() {
            Some(k) => match store.get(&k).await {
                Ok(b) => Some(format!(
                    "data:image/jpeg;base64,{}",
                    data_encoding::BASE64.encode(&b)
                )),
                Err(e) => {
                    tracing::warn!(document = d.id, error = %e, "thumbnail cannot be read");
                    None
                }
            },
            None => None,
        };
        out.push(url);
    }
    out
}

/// The patient a document is being added to (the upload page's heading), the visit's id when
/// it goes to a visit, and the clinic's largest upload in bytes. An audited read of the patient.
pub async fn upload_target(
    c: &Clinic,
    target: Target,
) -> Result<(patients::Patient, Option<i64>, u64), DocumentError> {
    let mut u = c.begin().await?;
    let (patient, visit) = match target {
        Target::Patient(p) => (p, None),
        Target::Visit(v) | Target::VisitOf { visit: v, .. } => {
            match visits::repo::get(&mut u, v).await? {
                Some(visit) => (visit.patient_id, Some(v)),
                None => {
                    u.rollback().await?;
                    return Err(DocumentError::NotFound);
                }
            }
        }
    };
    let Some(p) = patients::repo::get(&mut u, patient)
        .await?
        .filter(|p| !p.deleted)
    else {
        u.rollback().await?;
        return Err(DocumentError::NotFound);
    };
    let max = max_file(&mut u).await?;
    let ev = u
        .event(action::PATIENT_VIEW)
        .resource("patient", patient)
        .patient(patient)
        .details(serde_json::json!({ "for": "document_upload", "visit": visit }));
    u.audit_and_commit(ev).await?;
    Ok((p, visit, max))
}

/// A document's details without its file (the delete page). An audited read.
pub async fn get(c: &Clinic, id: i64) -> Result<Document, DocumentError> {
    let mut u = c.begin().await?;
    let Some(d) = repo::get(&mut u, id).await? else {
        u.rollback().await?;
        return Err(DocumentError::NotFound);
    };
    let ev = u
        .event(action::DOCUMENT_VIEWED)
        .resource("document", id)
        .patient(d.patient_id)
        .details(serde_json::json!({ "purpose": "details" }));
    u.audit_and_commit(ev).await?;
    Ok(d)
}
