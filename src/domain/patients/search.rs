//! Finding a patient from one search box: MRN, phone, birth date or name — misspelt,
//! without accents, given or family name first.
//!
//! Names are matched on folded copies (`extensions.fold`: lowercase, no accents) kept in byte
//! order, so a prefix is a btree range scan that returns rows already sorted and stops after
//! the page. Misspelt words are corrected against `name_words` (every distinct name word, a
//! small table with a pg_trgm index) and the corrections looked up in `name_tokens` (GIN).
//! Neither step depends on how many patients the clinic has. See docs/search.md.

use std::collections::HashSet;

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::model::{PatientSummary, parse_date, phone_digits, phone_key};
use super::repo::{SUMMARY, summary_rows};

pub const DEFAULT_LIMIT: i64 = 20;

/// `prefix` and the smallest string greater than every string starting with it (byte order).
fn prefix_range(prefix: &str) -> (String, String) {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return (prefix.to_owned(), chars.into_iter().collect());
        }
    }
    (prefix.to_owned(), "\u{10FFFF}".to_owned())
}

/// Words of a folded query, split like the `patients_tokens` trigger splits names.
fn words(folded: &str) -> Vec<String> {
    folded
        .split(|c: char| c.is_whitespace() || ",.'-".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

struct Collected {
    rows: Vec<PatientSummary>,
    seen: HashSet<i64>,
    limit: usize,
}

impl Collected {
    fn add(&mut self, rows: Vec<PatientSummary>) {
        for r in rows {
            if self.rows.len() >= self.limit {
                return;
            }
            if self.seen.insert(r.id) {
                self.rows.push(r);
            }
        }
    }
    fn full(&self) -> bool {
        self.rows.len() >= self.limit
    }
}

/// Searches inside the caller's clinic transaction. Exact MRN and phone matches come first,
/// then birth date, then names by prefix, then names with corrected spelling.
pub async fn search(
    conn: &mut PgConnection,
    query: &str,
    limit: i64,
) -> sqlx::Result<Vec<PatientSummary>> {
    let q = query.trim();
    let limit = limit.clamp(1, 100);
    let mut out = Collected {
        rows: Vec::new(),
        seen: HashSet::new(),
        limit: limit as usize,
    };
    if q.is_empty() || q.chars().count() > 200 {
        return Ok(out.rows);
    }

    if !q.contains(char::is_whitespace) && q.chars().any(|c| c.is_ascii_digit()) && q.len() <= 40 {
        out.add(
            summary_rows!(
                &mut *conn,
                "'mrn'",
                "WHERE deleted_at IS NULL
                    AND mrn IN (upper($1),
                                (SELECT value #>> '{}' FROM settings WHERE key = 'patients.mrn_prefix')
                                    || lpad($1, greatest(6, length($1)), '0'))",
                q
            )?,
        );
    }
    // "17.05.1980" is a birth date, not a phone number.
    if let Some(digits) = phone_digits(q).filter(|d| d.len() >= 7 && parse_date(q).is_none()) {
        out.add(summary_rows!(
            &mut *conn,
            "'phone'",
            "WHERE deleted_at IS NULL AND phone_keys @> ARRAY[$1]
                  ORDER BY family_norm, given_norm LIMIT $2",
            phone_key(&digits),
            limit
        )?);
        return Ok(out.rows);
    }

    // A date anywhere in the query filters by birth date; the rest is a name.
    let mut date: Option<NaiveDate> = None;
    let mut name_parts = Vec::new();
    for part in q.split_whitespace() {
        match parse_date(part) {
            Some(d) if date.is_none() => date = Some(d),
            _ => name_parts.push(part),
        }
    }
    if !out.rows.is_empty() && name_parts.len() <= 1 && date.is_none() {
        return Ok(out.rows);
    }
    if name_parts.is_empty() {
        if let Some(d) = date {
            out.add(summary_rows!(
                &mut *conn,
                "'birth_date'",
                "WHERE deleted_at IS NULL AND birth_date = $1
                      ORDER BY family_norm, given_norm LIMIT $2",
                d,
                limit
            )?);
        }
        return Ok(out.rows);
    }

    let folded: String = sqlx::query_scalar!(
        r#"SELECT extensions.fold($1) AS "v!""#,
        name_parts.join(" ")
    )
    .fetch_one(&mut *conn)
    .await?;
    let tokens = words(&folded);
    if tokens.is_empty() {
        return Ok(out.rows);
    }
    by_prefix(conn, &tokens, date, limit, &mut out).await?;
    if !out.full() {
        by_corrected_words(conn, &tokens, date, limit, &mut out).await?;
    }
    Ok(out.rows)
}

/// First word as given name and the rest as family name, and the other way round; each half
/// is a prefix. One word: family names first, then given names.
async fn by_prefix(
    conn: &mut PgConnection,
    tokens: &[String],
    date: Option<NaiveDate>,
    limit: i64,
    out: &mut Collected,
) -> sqlx::Result<()> {
    let (a_lo, a_hi) = prefix_range(&tokens[0]);
    let rest = tokens[1..].join(" ");
    let (b_lo, b_hi) = if rest.is_empty() {
        (String::new(), "\u{10FFFF}".to_owned())
    } else {
        prefix_range(&rest)
    };
    // The union has no table behind its columns, so the non-null ones are marked "!".
    let rows: Vec<PatientSummary> = sqlx::query_as!(
        PatientSummary,
        r#"SELECT id AS "id!", mrn AS "mrn!", given_name AS "given_name!",
                  middle_name AS "middle_name?", family_name AS "family_name!", sex AS "sex!",
                  birth_date AS "birth_date?", birth_date_estimated AS "birth_date_estimated!",
                  phone AS "phone?", 'name' AS "matched!"
           FROM ((SELECT id, mrn, given_name, middle_name, family_name, sex, birth_date,
                         birth_date_estimated, phones -> 0 ->> 'number' AS phone,
                         family_norm, given_norm, 1 AS rank FROM patients
           WHERE deleted_at IS NULL
             AND family_norm >= $1 AND family_norm < $2
             AND given_norm >= $3 AND given_norm < $4
             AND ($6::date IS NULL OR birth_date = $6)
           ORDER BY family_norm, given_norm LIMIT $5)
         UNION ALL
         (SELECT id, mrn, given_name, middle_name, family_name, sex, birth_date,
                 birth_date_estimated, phones -> 0 ->> 'number' AS phone,
                 family_norm, given_norm, 2 AS rank FROM patients
           WHERE deleted_at IS NULL
             AND given_norm >= $1 AND given_norm < $2
             AND family_norm >= $3 AND family_norm < $4
             AND ($6::date IS NULL OR birth_date = $6)
           ORDER BY given_norm, family_norm LIMIT $5)) u
         ORDER BY rank, family_norm, given_norm
         LIMIT $5"#,
        &a_lo,
        &a_hi,
        &b_lo,
        &b_hi,
        limit,
        date
    )
    .fetch_all(&mut *conn)
    .await?;
    out.add(rows);
    Ok(())
}

/// Corrects each word against the clinic's name vocabulary (pg_trgm similarity), then finds
/// patients whose names contain the corrections: first every word's best correction, then any
/// close correction of each word.
async fn by_corrected_words(
    conn: &mut PgConnection,
    tokens: &[String],
    date: Option<NaiveDate>,
    limit: i64,
    out: &mut Collected,
) -> sqlx::Result<()> {
    // Candidates per word: trigram neighbours (pg_trgm, any typo that keeps most letters) and
    // words within two edits that start with the same letter (fuzzystrmatch: transpositions such
    // as "smtih"). Very short words cannot be corrected; they must match as typed.
    let tokens: Vec<&String> = tokens.iter().take(4).collect();
    let rows: Vec<(i32, String, f32)> = sqlx::query!(r#"SELECT t.i::int AS "i!", w.word AS "word!", w.score AS "score!"
           FROM unnest($1::text[]) WITH ORDINALITY AS t(tok, i)
           CROSS JOIN LATERAL (
               SELECT word, max(score)::real AS score FROM (
                   SELECT word, similarity(word, t.tok) AS score FROM name_words
                    WHERE length(t.tok) >= 3 AND word % t.tok
                   UNION ALL
                   SELECT word, 1.0 - levenshtein(word, t.tok)::real / greatest(length(word), length(t.tok))
                     FROM name_words
                    WHERE length(t.tok) >= 3
                      AND word >= left(t.tok, 1) AND word < left(t.tok, 1) || chr(1114111)
                      AND abs(length(word) - length(t.tok)) <= 2
                      AND levenshtein_less_equal(word, t.tok, 2) <= 2
               ) c
               GROUP BY word
               ORDER BY 2 DESC, word
               LIMIT 3) w
         UNION ALL
         SELECT t.i::int, t.tok, 1.0 FROM unnest($1::text[]) WITH ORDINALITY AS t(tok, i)
          WHERE length(t.tok) < 3
         ORDER BY 1, 3 DESC"#, &tokens.iter().map(|t| t.as_str()).collect::<Vec<_>>()[..] as _)
    .map(|r| (r.i, r.word, r.score))
    .fetch_all(&mut *conn)
    .await?;
    let mut alternatives: Vec<Vec<String>> = vec![Vec::new(); tokens.len()];
    for (i, word, _) in rows {
        if let Some(slot) = alternatives.get_mut((i - 1) as usize) {
            slot.push(word);
        }
    }
    // A word that resembles no name at all is left out, as long as another word remains.
    alternatives.retain(|a| !a.is_empty());
    if alternatives.is_empty() {
        return Ok(());
    }
    let best: Vec<String> = alternatives.iter().map(|a| a[0].clone()).collect();
    let rows: Vec<PatientSummary> = summary_rows!(
        &mut *conn,
        "'similar_name'",
        "WHERE deleted_at IS NULL AND name_tokens @> $1
            AND ($3::date IS NULL OR birth_date = $3)
          LIMIT $2",
        &best[..],
        limit,
        date
    )?;
    out.add(sorted(rows));
    if out.full() || alternatives.iter().all(|a| a.len() == 1) {
        return Ok(());
    }
    // Any alternative per word: one overlap test per word, all of them required.
    let mut conditions = Vec::new();
    for (i, _) in alternatives.iter().enumerate() {
        conditions.push(format!("name_tokens && ${}", i + 3));
    }
    let sql = format!(
        "SELECT {SUMMARY}, 'similar_name' AS matched FROM patients
          WHERE deleted_at IS NULL AND {}
            AND ($2::date IS NULL OR birth_date = $2)
          LIMIT $1",
        conditions.join(" AND ")
    );
    let mut q = sqlx::query_as::<_, PatientSummary>(&sql)
        .bind(limit)
        .bind(date);
    for a in &alternatives {
        q = q.bind(a);
    }
    out.add(sorted(q.fetch_all(&mut *conn).await?));
    Ok(())
}

fn sorted(mut rows: Vec<PatientSummary>) -> Vec<PatientSummary> {
    rows.sort_by(|a, b| {
        (a.family_name.to_lowercase(), a.given_name.to_lowercase())
            .cmp(&(b.family_name.to_lowercase(), b.given_name.to_lowercase()))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(prefix_range("garc"), ("garc".into(), "gard".into()));
        assert_eq!(prefix_range("z"), ("z".into(), "{".into()));
        let (_, hi) = prefix_range("ša");
        assert_eq!(hi, "šb");
    }

    #[test]
    fn query_words() {
        assert_eq!(words("garcia, maria-jose"), vec!["garcia", "maria", "jose"]);
        assert_eq!(words("o'brien"), vec!["o", "brien"]);
    }
}
