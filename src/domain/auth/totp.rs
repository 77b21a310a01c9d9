//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) and recovery codes.

use totp_rs::{Algorithm, Builder, Secret};

use crate::ops::secrets::{Purpose, Secrets, random_bytes};

pub const RECOVERY_CODES: usize = 10;

pub fn new_secret() -> anyhow::Result<Vec<u8>> {
    Ok(random_bytes::<20>()?.to_vec())
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<totp_rs::Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_issuer(Some(issuer.to_owned()))
        .with_account_name(account.to_owned())
        .build()
        .map_err(|e| anyhow::anyhow!("totp: {e}"))
}

/// The `otpauth://` URL an authenticator app scans.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<String> {
    // ':' separates issuer and account in the label; keep it out of the issuer.
    let issuer = issuer.replace(':', " ");
    totp(secret, &issuer, account)?
        .to_url()
        .map_err(|e| anyhow::anyhow!("totp url: {e}"))
}

pub fn secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The QR code as an SVG element (no script, no style: allowed by the CSP).
pub fn qr_svg(data: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(data.as_bytes())?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build())
}

/// The time step a code is valid for, if it is valid now and newer than `last_step`: each code
/// works once, and an older one never again.
pub fn check(secret: &[u8], code: &str, now_unix: u64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x", "x").ok()?;
    let step = i64::try_from(t.check(&code, now_unix)?).ok()?;
    match last_step {
        Some(last) if step <= last => None,
        _ => Some(step),
    }
}

/// The current code; for tests and for the CLI's self-check.
pub fn current_code(secret: &[u8], now_unix: u64) -> anyhow::Result<String> {
    Ok(totp(secret, "x", "x")?.generate(now_unix).to_string())
}

/// Ten codes like `k7d2m-qx9pa` (50 bits each), shown once; only their HMACs are stored.
pub fn new_recovery_codes() -> anyhow::Result<Vec<String>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let b = random_bytes::<7>()?;
            let s = data_encoding::BASE32_NOPAD.encode(&b).to_lowercase();
            Ok(format!("{}-{}", &s[0..5], &s[5..10]))
        })
        .collect()
}

/// Spaces, dashes and case do not matter when a recovery code is typed.
pub fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub fn recovery_code_hash(secrets: &Secrets, code: &str) -> Vec<u8> {
    secrets.mac(
        Purpose::RecoveryCode,
        normalize_recovery_code(code).as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_single_use_and_time_bound() {
        let secret = new_secret().unwrap();
        let now = 1_800_000_000;
        let code = current_code(&secret, now).unwrap();
        let step = check(&secret, &code, now, None).unwrap();
        assert_eq!(step, (now / 30) as i64);
        assert_eq!(
            check(&secret, &code, now, Some(step)),
            None,
            "replay refused"
        );
        assert!(
            check(&secret, &code, now + 30, None).is_some(),
            "one step of skew"
        );
        assert_eq!(check(&secret, &code, now + 120, None), None, "expired");
        assert_eq!(check(&secret, "12345", now, None), None);
        assert_eq!(check(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn url_and_qr() {
        let secret = new_secret().unwrap();
        let url = otpauth_url(&secret, "Demo: Clinic", "dr@demo.org").unwrap();
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        assert!(url.contains(&secret_base32(&secret)));
        let svg = qr_svg(&url).unwrap();
        assert!(svg.contains("<svg") && !svg.contains("<script") && !svg.contains("style="));
    }

    #[test]
    fn recovery_codes_normalise() {
        let codes = new_recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let s = Secrets::from_bytes([1; 32]).unwrap();
        let c = &codes[0];
        assert_eq!(
            recovery_code_hash(&s, c),
            recovery_code_hash(&s, &format!(" {} ", c.to_uppercase().replace('-', " ")))
        );
    }
}
