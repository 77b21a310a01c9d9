//! The clinic's profile and branding: its name, logo and colour (kept by the control plane,
//! which every page of the clinic reads already: the header, the sign-in page, printouts), and
//! the letterhead's address, phone, email, tax and registration numbers and footer (clinic
//! settings, printed on prescriptions). The logo's bytes live in the clinic's own schema
//! (`clinic_logo`), so that the clinic's backup carries them.

use sha2::Digest;

use super::{Letterhead, keys};
use crate::domain::audit::action;
use crate::domain::clinic::Clinic;
use crate::domain::documents::content::MediaType;
use crate::domain::tenants::model::is_hex_color;
use crate::domain::tenants::{Branding, Tenant};
use crate::domain::validation::Errors;

/// The largest logo accepted, in bytes.
pub const MAX_LOGO: usize = 512 * 1024;
/// The largest logo, in pixels on its longer side (PNG and JPEG).
pub const MAX_LOGO_PIXELS: u32 = 4000;

/// The profile as typed (the form) or as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub display_name: String,
    pub primary_color: String,
    pub letterhead: Letterhead,
}

/// What to do with the logo.
#[derive(Clone, Debug, Default)]
pub enum LogoChange {
    #[default]
    Keep,
    Remove,
    /// A new file, checked by `check_logo`.
    Replace(Vec<u8>),
}

/// A logo as stored and served.
#[derive(Clone, Debug)]
pub struct Logo {
    pub media_type: String,
    pub body: Vec<u8>,
    /// Hex SHA-256; its first 16 characters are the logo's version in the page's URL.
    pub sha256: String,
}

fn limit(e: &mut Errors, field: &'static str, v: &str, max: usize) {
    if v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        e.add(
            field,
            crate::i18n::msg("invalid.max_chars", &[("max", &max)]),
        );
    }
}

impl Profile {
    /// Trimmed and checked; every problem named by its field.
    pub fn validate(&self) -> Result<Profile, Errors> {
        let mut e = Errors::new();
        let clean = |s: &str| s.trim().replace("\r\n", "\n");
        let l = &self.letterhead;
        let p = Profile {
            display_name: clean(&self.display_name),
            primary_color: self.primary_color.trim().to_lowercase(),
            letterhead: Letterhead {
                address: clean(&l.address),
                phone: clean(&l.phone),
                email: clean(&l.email).to_lowercase(),
                tax_number: clean(&l.tax_number),
                registration_number: clean(&l.registration_number),
                footer: clean(&l.footer),
            },
        };
        let l = &p.letterhead;
        if p.display_name.is_empty()
            || crate::domain::tenants::model::DisplayName::parse(&p.display_name).is_err()
            || p.display_name.chars().count() > 100
        {
            e.add("display_name", "invalid.clinic_name");
        }
        if !is_hex_color(&p.primary_color) {
            e.add("primary_color", "invalid.color");
        }
        limit(&mut e, "address", &l.address, 300);
        limit(&mut e, "phone", &l.phone, 40);
        if l.phone.contains('\n') {
            e.add(
                "phone",
                crate::i18n::msg("invalid.max_chars", &[("max", &40)]),
            );
        }
        let email_ok = l.email.is_empty()
            || (l.email.chars().count() <= 120
                && !l.email.chars().any(char::is_whitespace)
                && l.email
                    .split_once('@')
                    .is_some_and(|(a, d)| !a.is_empty() && d.contains('.') && !d.contains('@')));
        if !email_ok {
            e.add("email", "invalid.email");
        }
        limit(&mut e, "tax_number", &l.tax_number, 40);
        limit(&mut e, "registration_number", &l.registration_number, 60);
        limit(&mut e, "footer", &l.footer, 300);
        e.into_result(p)
    }
}

/// The logo's type, from its content: PNG or JPEG that decode (within `MAX_LOGO_PIXELS`), or
/// an SVG without scripts, event handlers, external references or embedded HTML.
pub fn check_logo(bytes: &[u8]) -> Result<&'static str, &'static str> {
    if bytes.is_empty() {
        return Err("invalid.logo_missing");
    }
    if bytes.len() > MAX_LOGO {
        return Err("invalid.logo_too_large");
    }
    match MediaType::sniff(bytes) {
        Some(kind @ (MediaType::Png | MediaType::Jpeg)) => {
            let format = if kind == MediaType::Png {
                image::ImageFormat::Png
            } else {
                image::ImageFormat::Jpeg
            };
            let r = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
            match r.into_dimensions() {
                Ok((w, h)) if w.max(h) <= MAX_LOGO_PIXELS && w > 0 && h > 0 => Ok(kind.as_str()),
                Ok(_) => Err("invalid.logo_pixels"),
                Err(_) => Err("invalid.document_unreadable"),
            }
        }
        Some(MediaType::Pdf) => Err("invalid.logo_type"),
        None => svg(bytes),
    }
}

/// An SVG logo, shown only through `<img>` (where scripts never run) and served with a policy
/// that forbids them; refused anyway when it carries anything active or external.
fn svg(bytes: &[u8]) -> Result<&'static str, &'static str> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err("invalid.logo_type");
    };
    let lower = text.to_lowercase();
    let start = lower.trim_start_matches('\u{feff}').trim_start();
    let is_svg = (start.starts_with("<svg") || start.starts_with("<?xml"))
        && lower.contains("<svg")
        && lower.contains("</svg>");
    if !is_svg {
        return Err("invalid.logo_type");
    }
    let active = [
        "<script",
        "<foreignobject",
        "<iframe",
        "<object",
        "<embed",
        "javascript:",
        "<!entity",
        "<!doctype",
        "href=\"http",
        "href='http",
        "href=\"//",
        "href='//",
        "url(http",
        "url(//",
        "@import",
    ];
    let handler = lower
        .match_indices(" on")
        .chain(lower.match_indices("\non"))
        .chain(lower.match_indices("\ton"))
        .any(|(i, _)| {
            let rest = &lower[i + 3..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            !name.is_empty() && rest[name.len()..].trim_start().starts_with('=')
        });
    if handler || active.iter().any(|a| lower.contains(a)) {
        return Err("invalid.logo_svg_active");
    }
    Ok("image/svg+xml")
}

/// The profile as the settings page shows it.
pub async fn load(c: &Clinic, tenant: &Tenant) -> sqlx::Result<Profile> {
    let mut u = c.begin().await?;
    let letterhead = Letterhead::read(&mut u).await?;
    u.finish_without_clinical_data().await?;
    Ok(Profile {
        display_name: tenant.display_name.clone(),
        primary_color: tenant.branding.primary_color.clone(),
        letterhead,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0:?}")]
    Invalid(Errors),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
}

/// Saves the profile and logo; returns the names of what changed (one `settings.branding`
/// event names them). The clinic's transaction (letterhead, logo, the audit event) commits
/// first, then the control plane's row (name, colour, the logo's version): a failure between
/// the two leaves an audit event for a change that did not show, never a change without one.
pub async fn save(
    c: &Clinic,
    tenant: &Tenant,
    typed: &Profile,
    logo: LogoChange,
) -> Result<Vec<&'static str>, ProfileError> {
    let p = typed.validate().map_err(ProfileError::Invalid)?;
    let logo = match logo {
        LogoChange::Replace(bytes) => match check_logo(&bytes) {
            Ok(media_type) => Some(Some(Logo {
                media_type: media_type.to_owned(),
                sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                body: bytes,
            })),
            Err(m) => return Err(ProfileError::Invalid(Errors::with("logo", m))),
        },
        LogoChange::Remove => Some(None),
        LogoChange::Keep => None,
    };
    let mut u = c.begin().await?;
    let old = Letterhead::read(&mut u).await?;
    let new = &p.letterhead;
    let mut changed = Vec::new();
    for (name, key, was, now) in [
        (
            "address",
            &keys::LETTERHEAD_ADDRESS,
            &old.address,
            &new.address,
        ),
        ("phone", &keys::LETTERHEAD_PHONE, &old.phone, &new.phone),
        ("email", &keys::LETTERHEAD_EMAIL, &old.email, &new.email),
        (
            "tax_number",
            &keys::TAX_NUMBER,
            &old.tax_number,
            &new.tax_number,
        ),
        (
            "registration_number",
            &keys::REGISTRATION_NUMBER,
            &old.registration_number,
            &new.registration_number,
        ),
        ("footer", &keys::LETTERHEAD_FOOTER, &old.footer, &new.footer),
    ] {
        if was != now {
            key.set(&mut u, now, c.at()).await?;
            changed.push(name);
        }
    }
    let mut branding = tenant.branding.clone();
    match &logo {
        Some(Some(l)) if tenant.branding.logo.as_deref() != Some(&l.sha256[..16]) => {
            sqlx::query!(
                "INSERT INTO clinic_logo (media_type, body, sha256, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (only_one) DO UPDATE SET media_type = EXCLUDED.media_type,
                        body = EXCLUDED.body, sha256 = EXCLUDED.sha256, updated_at = EXCLUDED.updated_at",
                l.media_type,
                l.body,
                l.sha256,
                c.at()
            )
            .execute(&mut *u)
            .await?;
            branding.logo = Some(l.sha256[..16].to_owned());
            changed.push("logo");
        }
        Some(None) if tenant.branding.logo.is_some() => {
            sqlx::query!("DELETE FROM clinic_logo")
                .execute(&mut *u)
                .await?;
            branding.logo = None;
            changed.push("logo");
        }
        _ => {}
    }
    if p.primary_color != tenant.branding.primary_color {
        branding.primary_color = p.primary_color.clone();
        changed.push("primary_color");
    }
    if p.display_name != tenant.display_name {
        changed.push("display_name");
    }
    if changed.is_empty() {
        u.finish_without_clinical_data().await?;
        return Ok(changed);
    }
    let ev = u
        .event(action::BRANDING_SETTINGS)
        .resource("settings", "branding")
        .details(serde_json::json!({ "changed": changed }));
    u.audit_and_commit(ev).await?;
    if branding != tenant.branding || p.display_name != tenant.display_name {
        let json = serde_json::to_value(&branding).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query!(
            "UPDATE clinicbox.tenants SET display_name = $2, branding = $3 WHERE id = $1",
            tenant.id,
            p.display_name,
            json
        )
        .execute(c.pool())
        .await?;
    }
    Ok(changed)
}

/// The clinic's logo (public: the sign-in page shows it), read as the clinic's role.
pub async fn logo(pool: &sqlx::PgPool, tenant: &Tenant) -> sqlx::Result<Option<Logo>> {
    let mut tx = crate::db::TenantDb::begin(pool, &tenant.db).await?;
    let l = sqlx::query_as!(
        Logo,
        "SELECT media_type, body, sha256 FROM clinic_logo WHERE only_one"
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(l)
}

/// The branding as a page of the clinic shows it: the logo's URL (with its version).
pub fn logo_url(b: &Branding) -> Option<String> {
    b.logo.as_ref().map(|v| format!("/logo?v={v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Profile {
        Profile {
            display_name: " City Clinic ".into(),
            primary_color: "#1F6F8B".into(),
            letterhead: Letterhead {
                email: "Desk@City.example ".into(),
                tax_number: "PAN 601234567".into(),
                ..Letterhead::default()
            },
        }
    }

    #[test]
    fn a_profile_is_trimmed_and_checked_field_by_field() {
        let p = ok().validate().unwrap();
        assert_eq!(p.display_name, "City Clinic");
        assert_eq!(p.primary_color, "#1f6f8b");
        assert_eq!(p.letterhead.email, "desk@city.example");
        let bad = Profile {
            display_name: " ".into(),
            primary_color: "red".into(),
            letterhead: Letterhead {
                email: "desk at city".into(),
                phone: "1".repeat(41),
                footer: "x".repeat(301),
                ..Letterhead::default()
            },
        };
        let e = bad.validate().unwrap_err();
        for f in ["display_name", "primary_color", "email", "phone", "footer"] {
            assert!(e.get(f).is_some(), "{f}: {e:?}");
        }
    }

    #[test]
    fn logos_are_checked_by_content() {
        let mut png = std::io::Cursor::new(Vec::new());
        image::RgbImage::new(4, 4)
            .write_to(&mut png, image::ImageFormat::Png)
            .unwrap();
        assert_eq!(check_logo(png.get_ref()), Ok("image/png"));
        assert_eq!(check_logo(b"%PDF-1.7 ..."), Err("invalid.logo_type"));
        assert_eq!(check_logo(b"GIF89a......"), Err("invalid.logo_type"));
        assert_eq!(check_logo(&[]), Err("invalid.logo_missing"));
        assert_eq!(
            check_logo(&vec![b' '; MAX_LOGO + 1]),
            Err("invalid.logo_too_large")
        );
        let svg = br##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="#1f6f8b"/></svg>"##;
        assert_eq!(check_logo(svg), Ok("image/svg+xml"));
        for bad in [
            r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:x()">x</a></svg>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg"><image href="https://x.example/t.png"/></svg>"#,
            r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><svg></svg>"#,
        ] {
            assert_eq!(
                check_logo(bad.as_bytes()),
                Err("invalid.logo_svg_active"),
                "{bad}"
            );
        }
        // A truncated PNG: the right magic, no image.
        assert_eq!(
            check_logo(&png.get_ref()[..20]),
            Err("invalid.document_unreadable")
        );
    }
}
