//! Documents: the type told from the content, the size limit and the clinic's quota refused
//! with nothing left on disk, the authorized view and download, soft delete, the API, an
//! upload cut off by the client, one audit row per action.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::helpers::browser::Browser;
use crate::helpers::clinic::{clinic, patient, png};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

fn host() -> String {
    TestApp::clinic_host("alpha")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The clinic's stored files and the uploads in progress.
fn on_disk(app: &TestApp) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let data = app.config().storage.data_dir;
    (
        files_under(&data.join("documents").join("alpha")),
        files_under(&data.join("incoming")),
    )
}

async fn new_actions(
    app: &TestApp,
    c: &crate::helpers::clinic::Clinic,
    before: usize,
) -> Vec<(String, Option<i64>)> {
    app.audit_rows(&c.t).await[before..]
        .iter()
        .filter(|a| a.action != "auth.login")
        .map(|a| (a.action.clone(), a.patient_id))
        .collect()
}

fn pdf(extra: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    b.resize(b.len() + extra, b' ');
    b.extend_from_slice(b"\n%%EOF\n");
    b
}

#[tokio::test]
async fn a_photo_is_listed_opened_downloaded_and_deleted_with_one_audit_row_each() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Asha", "Rai", Some("1990-01-01"), None).await;
    let mut nurse = Browser::login_as(&app, &host(), &c.nurse).await;
    let photo = png(1200, 900);

    let before = app.audit_rows(&c.t).await.len();
    // The browser claims nothing useful; the content says PNG. No title: the file's name.
    let r = nurse
        .upload(
            &format!("/patients/{p}/documents"),
            &[("title", ""), ("category", "photo")],
            Some(("IMG_0042.PNG", "application/octet-stream", photo.clone())),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/patients/{p}#documents").as_str())
    );
    assert_eq!(
        new_actions(&app, &c, before).await,
        vec![("document.upload".to_owned(), Some(p))]
    );
    let (stored, incoming) = on_disk(&app);
    assert_eq!(stored.len(), 2, "the file and its thumbnail: {stored:?}");
    assert!(incoming.is_empty(), "{incoming:?}");
    let (id, sha, media, title, name, w, h): (i64, String, String, String, String, i32, i32) =
        sqlx::query_as(
            "SELECT id, sha256, media_type, title, file_name, width, height FROM tenant_alpha.documents",
        )
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(sha, hex::encode(Sha256::digest(&photo)));
    assert_eq!(
        (media.as_str(), title.as_str(), name.as_str()),
        ("image/png", "IMG_0042", "IMG_0042.PNG")
    );
    assert_eq!((w, h), (1200, 900));
    let original = stored
        .iter()
        .find(|f| !f.to_string_lossy().ends_with(".thumb.jpg"))
        .unwrap();
    assert_eq!(std::fs::read(original).unwrap(), photo);

    // The chart lists it with its thumbnail, in its one audited read.
    let before = app.audit_rows(&c.t).await.len();
    let chart = nurse.get(&format!("/patients/{p}")).await;
    assert_eq!(chart.status, StatusCode::OK);
    assert!(chart.contains("id=\"document-list\""), "{}", chart.body);
    assert!(chart.contains("data:image/jpeg;base64,"));
    assert!(chart.contains("IMG_0042"));
    assert_eq!(
        new_actions(&app, &c, before).await,
        vec![("patient.view".to_owned(), Some(p))]
    );

    // Shown inline and downloaded, each an audited read, with the content's own type.
    for (path, disposition) in [
        (format!("/documents/{id}"), "inline"),
        (format!("/documents/{id}/download"), "attachment"),
    ] {
        let before = app.audit_rows(&c.t).await.len();
        let r = nurse.client.get(nurse.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let hd = r.headers().clone();
        assert_eq!(hd["content-type"], "image/png");
        assert_eq!(hd["x-content-type-options"], "nosniff");
        let cd = hd["content-disposition"].to_str().unwrap().to_owned();
        assert!(
            cd.starts_with(disposition) && cd.contains("IMG_0042.PNG"),
            "{cd}"
        );
        assert!(
            hd["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'none'")
        );
        assert_eq!(r.bytes().await.unwrap().as_ref(), photo.as_slice());
        assert_eq!(
            new_actions(&app, &c, before).await,
            vec![("document.view".to_owned(), Some(p))],
            "{path}"
        );
    }

    // Reception (who scans referral letters) may open documents; billing may not, nor delete.
    let mut reception = Browser::login_as(&app, &host(), &c.reception).await;
    assert_eq!(
        reception.get(&format!("/documents/{id}")).await.status,
        StatusCode::OK
    );
    let mut billing = Browser::login_as(&app, &host(), &c.billing).await;
    assert_eq!(
        billing.get(&format!("/documents/{id}")).await.status,
        StatusCode::FORBIDDEN
    );
    let r = billing
        .post(&format!("/documents/{id}/delete"), &[("reason", "x")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Delete needs a reason; then the document is gone from the chart and its routes, the file
    // stays (soft delete), and the audit log says who and when.
    let r = nurse
        .post(&format!("/documents/{id}/delete"), &[("reason", " ")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("say why the document is deleted"), "{}", r.body);
    let before = app.audit_rows(&c.t).await.len();
    let r = nurse
        .post(
            &format!("/documents/{id}/delete"),
            &[("reason", "wrong patient")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        new_actions(&app, &c, before).await,
        vec![("document.delete".to_owned(), Some(p))]
    );
    assert_eq!(
        nurse.get(&format!("/documents/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !nurse
            .get(&format!("/patients/{p}"))
            .await
            .contains("IMG_0042")
    );
    assert_eq!(on_disk(&app).0.len(), 2);
    let reason: Option<String> =
        sqlx::query_scalar("SELECT delete_reason FROM tenant_alpha.documents WHERE id = $1")
            .bind(id)
            .fetch_one(&app.admin)
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("wrong patient"));
}

#[tokio::test]
async fn a_wrong_type_an_oversized_file_and_a_full_quota_are_refused_leaving_nothing() {
    // A quota of 1 MiB for the clinic.
    let app = spawn_app_with(|c| c.storage.document_quota_mb = 1).await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Asha", "Rai", Some("1990-01-01"), None).await;
    let mut doctor = Browser::login_as(&app, &host(), &c.doctor).await;
    let path = format!("/patients/{p}/documents");
    let docs = || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.documents")
            .fetch_one(&app.admin)
            .await
            .unwrap();
        n
    };

    // A web page named and labelled as a PDF.
    let r = doctor
        .upload(
            &path,
            &[("title", "Report")],
            Some((
                "report.pdf",
                "application/pdf",
                b"<html><script>alert(1)</script>".to_vec(),
            )),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.contains("only PDF, JPEG or PNG files can be added"),
        "{}",
        r.body
    );
    assert!(
        r.contains("value=\"Report\""),
        "what was typed is kept: {}",
        r.body
    );
    // A PNG signature with garbage behind it.
    let r = doctor
        .upload(
            &path,
            &[],
            Some((
                "x.png",
                "image/png",
                b"\x89PNG\r\n\x1a\nnot really".to_vec(),
            )),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("this image cannot be read"), "{}", r.body);
    // No file at all.
    let r = doctor.upload(&path, &[("title", "x")], None, true).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("choose a file to upload"));

    // Over the clinic's size limit (set to 1 MB).
    app.set_setting(&c.t, "documents.max_upload_mb", serde_json::json!(1))
        .await;
    let r = doctor
        .upload(
            &path,
            &[],
            Some(("big.pdf", "application/pdf", pdf(1024 * 1024 + 10))),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("the file is larger than 1 MB"), "{}", r.body);

    // Within the limit but over the quota: 600 kB fits, the second 600 kB does not.
    let r = doctor
        .upload(
            &path,
            &[],
            Some(("a.pdf", "application/pdf", pdf(600_000))),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = doctor
        .upload(
            &path,
            &[],
            Some(("b.pdf", "application/pdf", pdf(600_000))),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.contains("document storage is full"), "{}", r.body);

    // Without the CSRF token: refused before anything is read.
    let r = doctor
        .upload(
            &path,
            &[],
            Some(("c.pdf", "application/pdf", pdf(10))),
            false,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    assert_eq!(docs().await, 1);
    let (stored, incoming) = on_disk(&app);
    assert_eq!(stored.len(), 1, "only the accepted PDF: {stored:?}");
    assert!(incoming.is_empty(), "{incoming:?}");
}

#[tokio::test]
async fn the_api_uploads_lists_fetches_and_deletes_and_an_aborted_upload_leaves_nothing() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Asha", "Rai", Some("1990-01-01"), None).await;
    let other = patient(&app, &c.t, "Other", "Person", Some("1980-01-01"), None).await;
    let mut doctor = Browser::login_as(&app, &host(), &c.doctor).await;
    let others_visit = crate::helpers::clinic::walk_in_visit(&mut doctor, other).await;
    let visit = crate::helpers::clinic::walk_in_visit(&mut doctor, p).await;

    let api = format!("/api/v1/patients/{p}/documents");
    let lab = pdf(2000);
    let r = doctor
        .upload(
            &api,
            &[
                ("title", "CBC"),
                ("category", "lab"),
                ("visit_id", &visit.to_string()),
            ],
            Some(("cbc.pdf", "application/pdf", lab.clone())),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    // Another patient's visit is not this patient's.
    let r = doctor
        .upload(
            &api,
            &[("visit_id", &others_visit.to_string())],
            Some(("x.pdf", "application/pdf", pdf(10))),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = doctor
        .upload(
            &api,
            &[],
            Some(("x.txt", "text/plain", b"hello".to_vec())),
            true,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    assert!(
        r.json()["errors"]["file"]
            .as_str()
            .unwrap()
            .contains("PDF, JPEG or PNG"),
        "{}",
        r.body
    );

    let r = doctor.api(Method::GET, &api, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["visit_id"], visit);
    assert_eq!(list[0]["category"], "lab");
    assert_eq!(list[0]["sha256"], hex::encode(Sha256::digest(&lab)));
    assert!(list[0].get("storage_key").is_none());
    // The visit screen lists it.
    assert!(
        doctor
            .get(&format!("/visits/{visit}"))
            .await
            .contains("CBC")
    );

    let r = doctor
        .client
        .get(doctor.url(&format!("/api/v1/documents/{id}/content")))
        .header("X-CSRF-Token", &doctor.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), lab.as_slice());

    let r = doctor
        .api(
            Method::DELETE,
            &format!("/api/v1/documents/{id}"),
            Some(serde_json::json!({ "reason": "duplicate" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = doctor.api(Method::GET, &api, None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 0);

    // A client that sends half of a 5 MB upload and goes away: nothing stays, nothing is
    // recorded, and the server goes on serving.
    let (stored_before, _) = on_disk(&app);
    let boundary = "----cut";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n",
        doctor.csrf
    );
    let chunks = [
        bytes::Bytes::from(head),
        bytes::Bytes::from(vec![b'x'; 2 * 1024 * 1024]),
    ];
    // Half the body, then nothing: the client gives up and drops the request.
    let body = futures::stream::iter(chunks.map(Ok::<_, std::io::Error>))
        .chain(futures::stream::pending());
    let send = doctor
        .client
        .post(doctor.url(&format!("/patients/{p}/documents")))
        .header("Origin", &doctor.origin)
        .header("Sec-Fetch-Site", "same-origin")
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("Content-Length", 5 * 1024 * 1024)
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let cut = tokio::time::timeout(std::time::Duration::from_millis(800), send).await;
    assert!(
        cut.is_err(),
        "the server answered a half-sent upload: {cut:?}"
    );
    let mut gone = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if on_disk(&app).1.is_empty() {
            gone = true;
            break;
        }
    }
    assert!(
        gone,
        "the cut-off upload was left in incoming: {:?}",
        on_disk(&app).1
    );
    assert_eq!(on_disk(&app).0, stored_before);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_alpha.documents")
        .fetch_one(&app.admin)
        .await
        .unwrap();
    assert_eq!(n, 1);
    // Every pooled connection is usable (none was left inside a transaction).
    for _ in 0..12 {
        assert_eq!(
            doctor.get(&format!("/patients/{p}")).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn the_chart_inlines_the_newest_thumbnails_only() {
    let app = spawn_app().await;
    let c = clinic(&app, "alpha", "UTC").await;
    let p = patient(&app, &c.t, "Many", "Scans", Some("1990-01-01"), None).await;
    let mut nurse = Browser::login_as(&app, &host(), &c.nurse).await;
    for i in 0..26 {
        let name = format!("scan-{i}.png");
        let r = nurse
            .upload(
                &format!("/patients/{p}/documents"),
                &[("category", "imaging")],
                Some((name.as_str(), "image/png", png(16, 12))),
                true,
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    }
    let chart = nurse.get(&format!("/patients/{p}")).await;
    assert_eq!(chart.body.matches("class=\"document\"").count(), 26);
    assert_eq!(chart.body.matches("data:image/jpeg;base64,").count(), 24);
    assert!(chart.contains("Documents (26)"));
}
