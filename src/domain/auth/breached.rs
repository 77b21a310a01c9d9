//! Passwords known from breaches, refused when chosen: a Bloom filter (`breached.bloom`, ~160 KB,
//! false positives about one in a million) of every password of 12 characters or more
//! (shorter ones are refused anyway) in the top 1,000,000 of the xato "10 million passwords"
//! list, compared lowercased. The list was taken from the `passablewords` 1.0.1 crate on
//! crates.io (`src/common-passwords.txt`, MIT; the list itself is from SecLists, MIT).
//! Regenerate with `clinicbox dev breached-filter --list <file> --out src/domain/auth/breached.bloom`.
//!
//! A clinic LAN often cannot reach an online breach service, so the list ships with the binary.

use sha2::{Digest, Sha256};

const MAGIC: &[u8; 8] = b"CBXBLM01";
static FILTER: &[u8] = include_bytes!("breached.bloom");

struct Filter<'a> {
    k: u32,
    bits: u64,
    data: &'a [u8],
}

fn parse(raw: &[u8]) -> Option<Filter<'_>> {
    let rest = raw.strip_prefix(MAGIC)?;
    let k = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let bits = u64::from_le_bytes(rest.get(4..12)?.try_into().ok()?);
    let data = rest.get(12..)?;
    (bits > 0 && (data.len() as u64) * 8 >= bits).then_some(Filter { k, bits, data })
}

fn positions(word: &str, k: u32, bits: u64) -> impl Iterator<Item = u64> {
    let d = Sha256::digest(word.to_lowercase().as_bytes());
    let h1 = u64::from_le_bytes(d[..8].try_into().unwrap_or_default());
    let h2 = u64::from_le_bytes(d[8..16].try_into().unwrap_or_default()) | 1;
    (0..u64::from(k)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % bits)
}

/// Whether `password` (compared lowercased) is in the list.
pub fn contains(password: &str) -> bool {
    let Some(f) = parse(FILTER) else {
        return false;
    };
    positions(password, f.k, f.bits).all(|p| f.data[(p / 8) as usize] & (1 << (p % 8)) != 0)
}

/// Builds the filter file from a list, one password per line (dev tool).
pub fn build<'a>(words: impl Iterator<Item = &'a str> + Clone, false_positive: f64) -> Vec<u8> {
    let n = words.clone().count().max(1) as f64;
    let bits = (-(n * false_positive.ln()) / (std::f64::consts::LN_2.powi(2))).ceil() as u64;
    let k = ((bits as f64 / n) * std::f64::consts::LN_2)
        .round()
        .max(1.0) as u32;
    let mut data = vec![0u8; bits.div_ceil(8) as usize];
    for w in words {
        for p in positions(w, k, bits) {
            data[(p / 8) as usize] |= 1 << (p % 8);
        }
    }
    let mut out = Vec::with_capacity(20 + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&k.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_breached_passwords_are_found_and_others_are_not() {
        for pw in [
            "password1234",
            "Password1234",
            "qwertyuiop123",
            "iloveyou1234",
        ] {
            assert!(contains(pw), "{pw}");
        }
        for pw in [
            "velvet-harbor-piano-73",
            "correct horse battery staple",
            "Tq7#mZ2pL9w!Tq7#mZ2pL9w!",
        ] {
            assert!(!contains(pw), "{pw}");
        }
    }

    #[test]
    fn a_built_filter_answers_for_its_words() {
        let words = ["alpha-one", "bravo-two", "charlie-three"];
        let f = build(words.iter().copied(), 1e-6);
        let parsed = parse(&f).unwrap();
        for w in words {
            assert!(
                positions(w, parsed.k, parsed.bits)
                    .all(|p| parsed.data[(p / 8) as usize] & (1 << (p % 8)) != 0)
            );
        }
    }
}
