//! Diagnosis code sets: a shared, read-only reference table (`extensions.codes`) that every
//! clinic reads. ICD-10-CM ships inside the binary and is loaded by `clinicbox migrate`;
//! `clinicbox codes import` loads any other code set from a file of codes and titles.

pub mod file;
pub mod repo;

use std::io::Read;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

pub use file::{CodeRow, ParseError, parse};

/// The code set clinics use unless their settings name another.
pub const BUILTIN: &str = "icd10cm";
const BUILTIN_NAME: &str = "ICD-10-CM (CMS/NCHS, public domain)";
const BUILTIN_FILE: &[u8] = include_bytes!("../../../data/codes/icd10cm.tsv.gz");

/// A code found by a search.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Code {
    pub system: String,
    /// As stored (`E119`); `display` adds the dot (`E11.9`) for ICD-10.
    pub code: String,
    pub title: String,
    pub billable: bool,
}

impl Code {
    /// ICD-10 codes are printed with a dot after the category (`E11.9`); codes that have one
    /// already, or are three characters or fewer, are shown as they are.
    pub fn display(&self) -> String {
        display_code(&self.system, &self.code)
    }
}

/// A code as people write it: ICD-10 sets put a dot after the three-character category.
pub fn display_code(system: &str, code: &str) -> String {
    if system.starts_with("icd10") && code.len() > 3 && !code.contains('.') && code.is_ascii() {
        format!("{}.{}", &code[..3], &code[3..])
    } else {
        code.to_owned()
    }
}

/// `E11.9 Type 2 diabetes…` for a coded entry, the title alone for free text.
pub fn label(system: Option<&str>, code: Option<&str>, title: &str) -> String {
    match (system, code) {
        (Some(s), Some(c)) => format!("{} {title}", display_code(s, c)),
        _ => title.to_owned(),
    }
}

/// A loaded code set.
#[derive(Clone, Debug, Serialize)]
pub struct CodeSystem {
    pub system: String,
    pub name: String,
    pub codes: i32,
    pub loaded_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the code set name must be 1-32 lower-case letters, digits, '.', '_' or '-'")]
    BadSystem,
    #[error("the name must be 1-200 characters")]
    BadName,
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the file has no codes")]
    Empty,
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

pub fn valid_system(s: &str) -> bool {
    let mut chars = s.chars();
    (1..=32).contains(&s.len())
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Loads (or replaces) a code set inside the caller's transaction: clinics see the old set or
/// the new one, never a half. Returns how many codes it holds.
pub async fn load(
    conn: &mut sqlx::PgConnection,
    system: &str,
    name: &str,
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<usize, ImportError> {
    if !valid_system(system) {
        return Err(ImportError::BadSystem);
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ImportError::BadName);
    }
    let rows = parse(&gunzip_if_needed(data)?)?;
    if rows.is_empty() {
        return Err(ImportError::Empty);
    }
    repo::replace(conn, system, name, &rows, now).await?;
    Ok(rows.len())
}

/// Loads the built-in ICD-10-CM unless it is there already. Returns the codes loaded (0: it
/// was there).
pub async fn ensure_builtin(pool: &PgPool, now: DateTime<Utc>) -> Result<usize, ImportError> {
    let mut conn = pool.acquire().await?;
    // An installation migrated with an older set of migrations has no code tables yet.
    if !repo::tables_exist(&mut conn).await? || repo::system(&mut conn, BUILTIN).await?.is_some() {
        return Ok(0);
    }
    drop(conn);
    let mut tx = crate::db::begin(pool).await?;
    let n = load(&mut tx, BUILTIN, BUILTIN_NAME, BUILTIN_FILE, now).await?;
    tx.commit().await?;
    Ok(n)
}

/// The loaded code sets.
pub async fn systems(pool: &PgPool) -> sqlx::Result<Vec<CodeSystem>> {
    let mut conn = pool.acquire().await?;
    repo::systems(&mut conn).await
}

fn gunzip_if_needed(data: &[u8]) -> Result<Vec<u8>, ParseError> {
    if data.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(data)
            .read_to_end(&mut out)
            .map_err(|e| ParseError {
                line: 0,
                problem: format!("not a readable gzip file: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(data.to_vec())
    }
}

/// The words of a search as a PostgreSQL prefix query (`dia:* & mel:*`), or `None` when
/// nothing searchable is left. Only letters and digits reach the query.
pub fn prefix_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(|w| format!("{}:*", w.to_lowercase()))
        .collect();
    (!words.is_empty()).then(|| words.join(" & "))
}

/// A search that looks like a code (`E11`, `e11.9`, `J45.90`): the code without its dot, upper
/// case.
pub fn code_like(q: &str) -> Option<String> {
    let q = q.trim();
    let mut chars = q.chars();
    let first = chars.next()?;
    let second = chars.next()?;
    if first.is_ascii_alphabetic()
        && second.is_ascii_digit()
        && q.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        && q.len() <= 10
    {
        Some(q.replace('.', "").to_ascii_uppercase())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_from_words_and_codes() {
        assert_eq!(prefix_query("dia mel").as_deref(), Some("dia:* & mel:*"));
        assert_eq!(
            prefix_query("Type-2 'DM'").as_deref(),
            Some("type:* & 2:* & dm:*")
        );
        assert_eq!(prefix_query(" ;:& ! "), None);
        assert_eq!(code_like("e11.9").as_deref(), Some("E119"));
        assert_eq!(code_like("J45").as_deref(), Some("J45"));
        assert_eq!(code_like("diabetes"), None);
        assert_eq!(code_like("E"), None);
        assert_eq!(display_code("icd10cm", "E119"), "E11.9");
        assert_eq!(display_code("icd10cm", "E11"), "E11");
        assert_eq!(display_code("icd11", "1A00"), "1A00");
    }

    #[test]
    fn the_builtin_set_parses() {
        let rows = parse(&gunzip_if_needed(BUILTIN_FILE).unwrap()).unwrap();
        assert!(rows.len() > 90_000, "{}", rows.len());
        let e119 = rows.iter().find(|r| r.code == "E119").unwrap();
        assert_eq!(e119.title, "Type 2 diabetes mellitus without complications");
        assert!(e119.billable);
        assert!(!rows.iter().find(|r| r.code == "E11").unwrap().billable);
    }

    #[test]
    fn system_names() {
        assert!(valid_system("icd10cm"));
        assert!(valid_system("who-icd10.2019"));
        assert!(!valid_system("ICD"));
        assert!(!valid_system(""));
        assert!(!valid_system("-x"));
    }
}
