//! The code-set file format: one code per line, `code<TAB>title` or `code<TAB>billable<TAB>title`
//! (billable `1`/`0`), or the same as CSV (`code,title` / `code,billable,title`, quoted as CSV
//! quotes). Lines starting with `#` and empty lines are skipped; a first line `code…` is a header.
//! UTF-8, optionally gzip-compressed.

/// One code of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRow {
    pub code: String,
    pub title: String,
    pub billable: bool,
}

/// What is wrong with a file, and on which line (1-based; 0: the file as a whole).
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct ParseError {
    pub line: usize,
    pub problem: String,
}

fn err(line: usize, problem: impl Into<String>) -> ParseError {
    ParseError {
        line,
        problem: problem.into(),
    }
}

fn valid_code(c: &str) -> bool {
    (1..=20).contains(&c.len())
        && c.chars().next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '.' || ch == '-')
}

pub fn parse(data: &[u8]) -> Result<Vec<CodeRow>, ParseError> {
    let text = std::str::from_utf8(data).map_err(|e| err(0, format!("not UTF-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let tabs = first.is_none_or(|l| l.contains('\t'));
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let fields: Vec<String> = if tabs {
            raw.split('\t').map(|f| f.trim().to_owned()).collect()
        } else {
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(raw.as_bytes());
            match r.records().next() {
                Some(Ok(rec)) => rec.iter().map(|f| f.trim().to_owned()).collect(),
                Some(Err(e)) => return Err(err(line, format!("not CSV: {e}"))),
                None => continue,
            }
        };
        if rows.is_empty()
            && fields
                .first()
                .is_some_and(|f| f.eq_ignore_ascii_case("code"))
        {
            continue;
        }
        let (code, billable, title) = match fields.as_slice() {
            [c, t] => (c, true, t),
            [c, b, t] => (
                c,
                match b.as_str() {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" => false,
                    other => {
                        return Err(err(line, format!("billable must be 1 or 0, not {other:?}")));
                    }
                },
                t,
            ),
            _ => {
                return Err(err(
                    line,
                    format!(
                        "expected code and title (or code, billable, title), found {} fields",
                        fields.len()
                    ),
                ));
            }
        };
        if !valid_code(code) {
            return Err(err(
                line,
                format!("{code:?} is not a code (letters, digits, '.', '-'; up to 20)"),
            ));
        }
        if title.is_empty() || title.chars().count() > 500 {
            return Err(err(line, "the title must be 1-500 characters"));
        }
        if !seen.insert(code.clone()) {
            return Err(err(line, format!("{code} appears twice")));
        }
        rows.push(CodeRow {
            code: code.clone(),
            title: title.clone(),
            billable,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_and_csv_files() {
        let tsv = "# a comment\ncode\ttitle\nA00\tCholera\nA00.0\tCholera due to Vibrio\n";
        let rows = parse(tsv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].code, "A00.0");
        let csv = "code,billable,title\n1A00,1,\"Cholera, classical\"\n1A01,0,Other\n";
        let rows = parse(csv.as_bytes()).unwrap();
        assert_eq!(rows[0].title, "Cholera, classical");
        assert!(!rows[1].billable);
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse(b"A00\tCholera\nA00\tAgain\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse(b"A00\tCholera\nbad code!\tX\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse(b"A00\tmaybe\tCholera\n").unwrap_err();
        assert!(e.problem.contains("billable"), "{e}");
        let e = parse(b"A00\n").unwrap_err();
        assert!(e.problem.contains("fields"), "{e}");
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
