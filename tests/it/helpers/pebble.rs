//! A real ACME CA for tests: Debian's `pebble` and `pebble-challtestsrv` (its DNS server), on
//! free loopback ports, started and stopped by this process.
//!
//! pebble-challtestsrv answers every A query with 127.0.0.1 unless a test says otherwise, so
//! pebble validates against the ClinicBox listeners whose ports it is given.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct Pebble {
    _dir: tempfile::TempDir,
    pebble: Child,
    nonce_reject: u8,
    chall: Child,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA certificate for pebble's own HTTPS API (`tls.acme_root_ca`).
    pub api_ca: PathBuf,
    api_ca_pem: String,
    mgmt: SocketAddr,
    chall_mgmt: SocketAddr,
    /// challtestsrv's DNS server (`tls.preflight_resolver`).
    pub dns: SocketAddr,
}

pub fn available() -> bool {
    ["pebble", "pebble-challtestsrv"].iter().all(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn free_udp_port() -> SocketAddr {
    // The DNS server listens on UDP and TCP: find a port free for both.
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        if std::net::UdpSocket::bind(addr).is_ok() {
            return addr;
        }
    }
}

impl Pebble {
    /// Starts challtestsrv and pebble, validating HTTP-01 on `http_port` and TLS-ALPN-01 on
    /// `tls_port`; `nonce_reject` percent of nonces are refused (pebble's default is 5).
    pub async fn start(http_port: u16, tls_port: u16, nonce_reject: u8) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // pebble's API certificate: a CA and a leaf for 127.0.0.1/localhost.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::default();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, "Pebble API test CA");
        ca_params.distinguished_name = dn;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        let api_ca = dir.path().join("api-ca.pem");
        std::fs::write(&api_ca, ca.pem()).unwrap();
        std::fs::write(dir.path().join("api.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("api.key"), leaf_key.serialize_pem()).unwrap();

        let listen = free_port();
        let mgmt = free_port();
        let dns = free_udp_port();
        let chall_mgmt = free_port();
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": listen.to_string(),
                "managementListenAddress": mgmt.to_string(),
                "certificate": dir.path().join("api.pem"),
                "privateKey": dir.path().join("api.key"),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();

        let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let chall = Command::new("pebble-challtestsrv")
            .args([
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                &dns.to_string(),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &chall_mgmt.to_string(),
            ])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .kill_on_drop(true)
            .spawn()
            .expect("start pebble-challtestsrv");
        let pebble = spawn_pebble(dir.path(), dns, nonce_reject);
        let p = Self {
            nonce_reject,
            directory: format!("https://{listen}/dir"),
            api_ca,
            api_ca_pem: ca.pem(),
            mgmt,
            chall_mgmt,
            dns,
            pebble,
            chall,
            _dir: dir,
        };
        p.wait_ready().await;
        p
    }

    /// Stops pebble and starts it again at the same address: a CA that has forgotten every
    /// account, order and certificate.
    pub async fn restart(&mut self) {
        let _ = self.pebble.kill().await;
        self.pebble = spawn_pebble(self._dir.path(), self.dns, self.nonce_reject);
        self.wait_ready().await;
    }

    fn api_client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.api_ca_pem.as_bytes()).unwrap()])
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    async fn wait_ready(&self) {
        let c = self.api_client();
        let started = Instant::now();
        loop {
            let dir_ok = c
                .get(&self.directory)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            let chall_ok = reqwest::Client::new()
                .post(format!("http://{}/clear-a", self.chall_mgmt))
                .body(r#"{"host":"ready.test"}"#)
                .send()
                .await
                .is_ok();
            if dir_ok && chall_ok {
                return;
            }
            // Generous: on two busy cores, several pebbles start at once with the whole suite.
            assert!(
                started.elapsed() <= Duration::from_secs(60),
                "pebble did not start within 60 s (directory {}): {}",
                self.directory,
                self.err_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn err_tail(&self) -> String {
        let err = std::fs::read_to_string(self._dir.path().join("pebble.err")).unwrap_or_default();
        let tail: Vec<&str> = err.lines().rev().take(15).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// The root that signs the certificates pebble issues.
    pub async fn issuing_root(&self) -> String {
        self.api_client()
            .get(format!("https://{}/roots/0", self.mgmt))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Makes `host` resolve to `ip` in pebble's DNS (and in the preflight's).
    pub async fn set_a(&self, host: &str, ip: &str) {
        let r = reqwest::Client::new()
            .post(format!("http://{}/add-a", self.chall_mgmt))
            .json(&serde_json::json!({ "host": host, "addresses": [ip] }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "add-a: {}", r.status());
    }

    pub async fn clear_a(&self, host: &str) {
        let r = reqwest::Client::new()
            .post(format!("http://{}/clear-a", self.chall_mgmt))
            .json(&serde_json::json!({ "host": host }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "clear-a: {}", r.status());
    }
}

fn spawn_pebble(dir: &std::path::Path, dns: SocketAddr, nonce_reject: u8) -> Child {
    let log = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
            .unwrap()
    };
    Command::new("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .arg("-dnsserver")
        .arg(dns.to_string())
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", nonce_reject.to_string())
        .stdout(log("pebble.log"))
        .stderr(log("pebble.err"))
        .kill_on_drop(true)
        .spawn()
        .expect("start pebble")
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.pebble.start_kill();
        let _ = self.chall.start_kill();
    }
}
