//! Settings → Profile and branding: the clinic's name, colour and logo show in the header, on
//! the sign-in page and on printouts at once; the letterhead prints on the prescription; bad
//! input is refused next to its field with nothing changed; one audit row per save.

use reqwest::StatusCode;

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{clinic, png};
use crate::helpers::{TestApp, spawn_app};

const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="4" fill="#0e7490"/></svg>"##;

fn fields<'a>(name: &'a str, color: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("display_name", name),
        ("primary_color", color),
        ("address", "Lakeside, Pokhara"),
        ("phone", "+977 61 000000"),
        ("email", email),
        ("tax_number", "601234567"),
        ("registration_number", "DHO-KSK-1234"),
        ("footer", "Open every day but Saturday afternoon"),
    ]
}

#[tokio::test]
async fn the_clinic_sets_its_name_logo_colour_and_letterhead() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let host = TestApp::clinic_host("alpha");
    let mut admin = Browser::login_as(&app, &host, &c.admin).await;
    let page = admin.get("/settings/branding").await;
    assert_eq!(page.status, StatusCode::OK);
    let before = app.audit_rows(&c.t).await.len();

    // Refused, field by field, keeping what was typed; nothing changes.
    let bad = admin
        .upload_as(
            "/settings/branding",
            &fields("", "blue", "desk at lakeside"),
            "logo",
            None,
            true,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.contains("id=\"display_name-error\""), "{}", bad.body);
    assert!(bad.contains("id=\"primary_color-error\""));
    assert!(bad.contains("id=\"email-error\""));
    assert!(
        bad.contains("value=\"desk at lakeside\""),
        "typed values stay"
    );
    for (file, mime, bytes, message) in [
        (
            "x.pdf",
            "image/png",
            b"%PDF-1.7 fake".to_vec(),
            "must be a PNG, JPEG or SVG",
        ),
        (
            "x.svg",
            "image/svg+xml",
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>"#.to_vec(),
            "contains scripts",
        ),
        (
            "big.png",
            "image/png",
            vec![0u8; 600 * 1024],
            "larger than 512 KB",
        ),
    ] {
        let r = admin
            .upload_as(
                "/settings/branding",
                &fields("Lakeside Clinic", "#0e7490", "desk@lakeside.example"),
                "logo",
                Some((file, mime, bytes)),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{file}");
        assert!(r.contains(message), "{file}: {}", r.body);
        assert!(r.contains("id=\"logo-error\""));
    }
    assert_eq!(app.audit_rows(&c.t).await.len(), before, "nothing saved");
    assert!(!admin.get("/").await.contains("Lakeside Clinic"));
    let before = app.audit_rows(&c.t).await.len();

    // Saved: one audit row, and every page shows it at once.
    let ok = admin
        .upload_as(
            "/settings/branding",
            &fields("Lakeside Clinic", "#0e7490", "desk@lakeside.example"),
            "logo",
            Some(("logo.svg", "image/svg+xml", SVG.as_bytes().to_vec())),
            true,
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let rows = app.audit_rows(&c.t).await;
    let actions: Vec<&str> = rows[before..].iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["settings.branding"]);
    let changed = rows[before].details["changed"].to_string();
    for f in [
        "logo",
        "primary_color",
        "display_name",
        "tax_number",
        "footer",
    ] {
        assert!(changed.contains(f), "{f} in {changed}");
    }
    let home = admin.get("/").await;
    assert!(
        home.contains("<span>Lakeside Clinic</span>"),
        "{}",
        home.body
    );
    let logo_url = {
        let at = home
            .body
            .find("/logo?v=")
            .expect("the header shows the logo");
        home.body[at..at + 24].to_owned()
    };
    let mut anon = Browser::new(&app, &host);
    let sign_in = anon.get("/login").await;
    assert!(sign_in.contains(&logo_url) && sign_in.contains("Lakeside Clinic"));
    let logo = anon.get(&logo_url).await;
    assert_eq!(logo.status, StatusCode::OK);
    assert_eq!(logo.headers["content-type"], "image/svg+xml");
    assert_eq!(logo.headers["x-content-type-options"], "nosniff");
    assert!(
        logo.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert!(
        logo.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(logo.body, SVG);
    let css = anon
        .get(&{
            let at = sign_in.body.find("/theme.css?v=").unwrap();
            sign_in.body[at..at + 21].to_owned()
        })
        .await;
    assert!(css.contains("#0e7490"), "{}", css.body);
    // Printouts carry the logo in their letterhead (the day list).
    let day_list = admin.get("/schedule/print").await;
    assert!(
        day_list.contains("class=\"letterhead-logo\""),
        "{}",
        day_list.body
    );

    // Saving the same again changes nothing and writes nothing.
    let same = admin
        .upload_as(
            "/settings/branding",
            &fields("Lakeside Clinic", "#0e7490", "desk@lakeside.example"),
            "logo",
            None,
            true,
        )
        .await;
    assert_eq!(same.status, StatusCode::SEE_OTHER);
    let saves = app
        .audit_rows(&c.t)
        .await
        .iter()
        .filter(|r| r.action == "settings.branding")
        .count();
    assert_eq!(saves, 1, "nothing changed, nothing written");

    // A PNG replaces it (a new version in the URL); removing it drops it from the pages.
    let r = admin
        .upload_as(
            "/settings/branding",
            &fields("Lakeside Clinic", "#0e7490", "desk@lakeside.example"),
            "logo",
            Some(("logo.png", "image/png", png(40, 20))),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let home = admin.get("/").await;
    assert!(home.contains("/logo?v=") && !home.contains(&logo_url));
    let mut remove = fields("Lakeside Clinic", "#0e7490", "desk@lakeside.example");
    remove.push(("remove_logo", "1"));
    let r = admin
        .upload_as("/settings/branding", &remove, "logo", None, true)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(!admin.get("/").await.contains("/logo?v="));
    assert_eq!(anon.get("/logo").await.status, StatusCode::NOT_FOUND);
}
