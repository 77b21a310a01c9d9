//! Documents as the chart lists them, what an upload carries, and why one is refused.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::content::MediaType;
use crate::domain::validation::Errors;

/// A document on a patient's chart (or one of their visits).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Document {
    pub id: i64,
    pub patient_id: i64,
    /// The visit it belongs to, if it was added from one.
    pub visit_id: Option<i64>,
    /// `lab`, `imaging`, `referral`, `photo`, `consent`, `prescription` or `other`.
    pub category: String,
    pub title: String,
    /// `application/pdf`, `image/jpeg` or `image/png`, as found in the content.
    pub media_type: String,
    pub file_name: String,
    pub size_bytes: i64,
    /// SHA-256 of the file (hex).
    pub sha256: String,
    #[serde(skip)]
    pub storage_key: String,
    /// Size of the thumbnail (images only).
    #[serde(skip)]
    pub thumb_bytes: Option<i32>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub uploaded_by: Option<i64>,
    /// The uploader's name.
    pub uploaded_by_name: Option<String>,
    pub uploaded_at: DateTime<Utc>,
}

impl Document {
    pub fn kind(&self) -> Option<MediaType> {
        MediaType::parse(&self.media_type)
    }

    pub fn is_image(&self) -> bool {
        self.kind().is_some_and(MediaType::is_image)
    }

    /// Where its thumbnail is kept, if it has one.
    pub fn thumb_key(&self) -> Option<String> {
        self.thumb_bytes
            .map(|_| format!("{}.thumb.jpg", self.storage_key))
    }

    /// "1.2 MB", "380 kB".
    pub fn size_label(&self) -> String {
        size_label(self.size_bytes)
    }

    /// The message key of its category.
    pub fn category_key(&self) -> String {
        format!("documents.category_{}", self.category)
    }
}

pub fn size_label(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b >= 1_000_000.0 {
        format!("{:.1} MB", b / 1_000_000.0)
    } else if b >= 1_000.0 {
        format!("{:.0} kB", b / 1_000.0)
    } else {
        format!("{bytes} B")
    }
}

pub const CATEGORIES: [&str; 7] = [
    "lab",
    "imaging",
    "referral",
    "photo",
    "consent",
    "prescription",
    "other",
];

/// What the uploader typed next to the file.
#[derive(Clone, Debug, Default)]
pub struct UploadInput {
    pub title: String,
    pub category: String,
    /// The name the file had on the device.
    pub file_name: String,
}

impl UploadInput {
    /// The title (the file name without its ending when left empty) and the category.
    pub fn validate(&self) -> Result<(String, String), Errors> {
        let mut e = Errors::new();
        let mut title = self.title.trim().to_owned();
        if title.is_empty() {
            let name = self.file_name.rsplit(['/', '\\']).next().unwrap_or("");
            title = name
                .rsplit_once('.')
                .map_or(name, |(base, _)| base)
                .trim()
                .to_owned();
        }
        if title.is_empty() {
            e.add("title", "invalid.document_title");
        } else if title.chars().any(char::is_control) {
            e.add("title", "invalid.control_chars");
        } else if title.chars().count() > 200 {
            e.add("title", "invalid.max_200");
        }
        let category = match self.category.trim() {
            "" => "other",
            c => c,
        };
        if !CATEGORIES.contains(&category) {
            e.add("category", "invalid.document_category");
        }
        e.into_result((title, category.to_owned()))
    }
}

/// The limits an upload must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest file, in bytes (the clinic's setting).
    pub max_file: u64,
    /// The clinic's storage quota, in bytes.
    pub quota: u64,
    /// What the clinic's documents take now, in bytes.
    pub used: u64,
}

impl Limits {
    pub fn max_file_mb(&self) -> u64 {
        self.max_file / (1024 * 1024)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("not found")]
    NotFound,
    #[error("{0:?}")]
    Invalid(Errors),
    /// A signed visit takes no more documents; they go on the chart.
    #[error("the visit is signed")]
    VisitSigned,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("document store: {0}")]
    Io(#[from] std::io::Error),
}

impl DocumentError {
    pub fn message(&self) -> &'static str {
        match self {
            Self::NotFound => "documents.not_found",
            Self::Invalid(_) => "form.fix_errors",
            Self::VisitSigned => "documents.visit_signed",
            Self::Sql(_) | Self::Io(_) => "error.internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_title_defaults_to_the_file_name_and_the_category_to_other() {
        let i = UploadInput {
            file_name: "C:\\scans\\CBC 2026-11.pdf".into(),
            ..Default::default()
        };
        assert_eq!(
            i.validate().unwrap(),
            ("CBC 2026-11".to_owned(), "other".to_owned())
        );
        let bad = UploadInput {
            title: "x".repeat(201),
            category: "selfie".into(),
            file_name: "a.png".into(),
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(e.get("title").map(String::as_str), Some("invalid.max_200"));
        assert_eq!(
            e.get("category").map(String::as_str),
            Some("invalid.document_category")
        );
        assert!(UploadInput::default().validate().is_err());
        let ctl = UploadInput {
            title: "CBC\u{0}".into(),
            ..Default::default()
        };
        assert_eq!(
            ctl.validate().unwrap_err().get("title").map(String::as_str),
            Some("invalid.control_chars")
        );
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_label(20 * 1024 * 1024), "21.0 MB");
        assert_eq!(size_label(380_400), "380 kB");
        assert_eq!(size_label(12), "12 B");
    }
}
