//! A browser-like client for one host: keeps cookies, picks up the CSRF token from pages, and
//! sends forms the way a browser does (same-origin `Origin` header, `_csrf` field).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::{TestApp, TestUser};

pub struct Browser {
    pub client: reqwest::Client,
    pub origin: String,
    pub csrf: String,
}

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    /// Where a redirect points (the client does not follow redirects).
    pub location: Option<String>,
}

impl Page {
    pub fn contains(&self, s: &str) -> bool {
        self.body.contains(s)
    }

    /// The text of the first element with this id, e.g. `<code id="new-token">…</code>`.
    pub fn by_id(&self, id: &str) -> Option<String> {
        let start = self.body.find(&format!("id=\"{id}\""))?;
        let gt = self.body[start..].find('>')? + start + 1;
        let end = self.body[gt..].find('<')? + gt;
        Some(html_unescape(self.body[gt..end].trim()))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

fn csrf_of(body: &str) -> Option<String> {
    let i = body.find("name=\"csrf-token\" content=\"")?;
    let rest = &body[i + "name=\"csrf-token\" content=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

impl Browser {
    pub fn new(app: &TestApp, host: &str) -> Self {
        Self {
            client: app.client(),
            origin: format!("http://{host}:{}", app.addr.port()),
            csrf: String::new(),
        }
    }

    /// A browser with its own client (cookie store on) for `origin`, e.g. over HTTPS.
    pub fn with_client(client: reqwest::Client, origin: &str) -> Self {
        Self {
            client,
            origin: origin.to_owned(),
            csrf: String::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    async fn read(&mut self, r: reqwest::Response) -> Page {
        let status = r.status();
        let headers = r.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = r.text().await.unwrap_or_default();
        if let Some(t) = csrf_of(&body).filter(|t| !t.is_empty()) {
            self.csrf = t;
        }
        Page {
            status,
            headers,
            body,
            location,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        self.read(r).await
    }

    /// Makes sure a CSRF token is known (a page visit creates the session).
    pub async fn ensure_csrf(&mut self) {
        if self.csrf.is_empty() {
            self.get("/login").await;
        }
    }

    /// A form POST as a browser sends it.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.ensure_csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        form.extend_from_slice(fields);
        let r = self
            .client
            .post(self.url(path))
            .header("Origin", &self.origin)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap();
        self.read(r).await
    }

    /// A multipart form POST (a document upload) as a browser sends it: the CSRF token as the
    /// first part (unless `csrf` is false), then `fields`, then the file.
    pub async fn upload(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, Vec<u8>)>,
        csrf: bool,
    ) -> Page {
        self.upload_as(path, fields, "file", file, csrf).await
    }

    /// `upload` with the file in the part named `part`.
    pub async fn upload_as(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        part: &str,
        file: Option<(&str, &str, Vec<u8>)>,
        csrf: bool,
    ) -> Page {
        self.ensure_csrf().await;
        let mut form = reqwest::multipart::Form::new();
        if csrf {
            form = form.text("_csrf", self.csrf.clone());
        }
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let part_name = part;
        if let Some((name, mime, bytes)) = file {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap();
            form = form.part(part_name.to_owned(), part);
        }
        let r = self
            .client
            .post(self.url(path))
            .header("Origin", &self.origin)
            .header("Sec-Fetch-Site", "same-origin")
            .multipart(form)
            .send()
            .await
            .unwrap();
        self.read(r).await
    }

    /// A form POST as the page's script sends it: with extra headers (e.g. `X-Autosave`).
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        self.ensure_csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        form.extend_from_slice(fields);
        let mut req = self
            .client
            .post(self.url(path))
            .header("Origin", &self.origin)
            .header("Sec-Fetch-Site", "same-origin")
            .form(&form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }

    /// A POST without the CSRF token, or from another origin.
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let mut req = self.client.post(self.url(path)).form(fields);
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }

    /// Signs in (password step). Like a browser, it then follows the redirects to a page, so
    /// the new session's CSRF token is known; the returned page is the sign-in response.
    pub async fn login(&mut self, email: &str, password: &str) -> Page {
        self.get("/login").await;
        let p = self
            .post("/login", &[("email", email), ("password", password)])
            .await;
        self.follow(&p).await;
        p
    }

    /// GETs along a redirect chain (a few hops at most), picking up the CSRF token.
    pub async fn follow(&mut self, p: &Page) {
        let mut next = p.location.clone().filter(|_| p.status.is_redirection());
        for _ in 0..4 {
            let Some(loc) = next else { break };
            let page = self.get(&loc).await;
            next = page
                .location
                .clone()
                .filter(|_| page.status.is_redirection());
        }
    }

    /// Signs in and asserts it worked.
    pub async fn login_as(app: &TestApp, host: &str, user: &TestUser) -> Self {
        let mut b = Self::new(app, host);
        let p = b.login(&user.email, &user.password).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "login failed: {}", p.body);
        assert_eq!(p.location.as_deref(), Some("/"));
        b
    }

    /// JSON request with the session cookie (and the CSRF header for unsafe methods).
    pub async fn api(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Page {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("X-CSRF-Token", &self.csrf)
            .header("Origin", &self.origin);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }
}

/// An API client with a bearer token and no cookies.
pub async fn bearer(
    app: &TestApp,
    host: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Page {
    let client = super::client_for(app.addr);
    let mut req = client
        .request(method, format!("http://{host}:{}{path}", app.addr.port()))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let mut b = Browser {
        client,
        origin: String::new(),
        csrf: String::new(),
    };
    b.read(r).await
}
