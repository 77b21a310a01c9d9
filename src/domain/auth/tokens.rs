//! API tokens: `cbx_` + 40 base32 characters (200 bits). Only their SHA-256 is stored; the
//! token itself is shown once.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "cbx_";
pub const DEFAULT_DAYS: i64 = 90;
pub const MAX_DAYS: i64 = 365;

pub struct NewToken {
    /// Shown to the user once, never stored.
    pub secret: String,
    pub hash: Vec<u8>,
    /// First characters, to recognise a token in a list.
    pub display_prefix: String,
}

pub fn generate() -> anyhow::Result<NewToken> {
    let b = crate::ops::secrets::random_bytes::<25>()?;
    let secret = format!(
        "{PREFIX}{}",
        data_encoding::BASE32_NOPAD.encode(&b).to_lowercase()
    );
    Ok(NewToken {
        hash: hash(&secret),
        display_prefix: secret[..PREFIX.len() + 6].to_owned(),
        secret,
    })
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.trim().as_bytes()).to_vec()
}

/// Looks like one of ours (cheap check before touching the database).
pub fn plausible(token: &str) -> bool {
    let t = token.trim();
    t.len() == PREFIX.len() + 40
        && t.starts_with(PREFIX)
        && t[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let t = generate().unwrap();
        assert!(plausible(&t.secret), "{}", t.secret);
        assert_eq!(hash(&t.secret), t.hash);
        assert!(t.secret.starts_with(&t.display_prefix));
        assert!(!plausible("cbx_short"));
        assert!(!plausible(&t.secret.to_uppercase()));
    }
}
