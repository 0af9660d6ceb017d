//! The harness of the services tests: `roundtable` service processes (`serve`, `api`,
//! `project`) started as children and killed on drop, tokens minted by `roundtable token
//! issue`, and a small HTTP client whose replies check the JSON error shape.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::common::Store;

/// The HS256 secret the services of a test verify tokens with, in a file of its own.
pub(crate) struct Secret {
    dir: tempfile::TempDir,
    bytes: Vec<u8>,
}

impl Secret {
    /// A fresh secret of 48 bytes, different for every call.
    pub(crate) fn new() -> Secret {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut seed = [0u8; 24];
        getrandom::fill(&mut seed).expect("random bytes");
        let bytes = hex::encode(seed).into_bytes();
        std::fs::write(dir.path().join("jwt-secret"), &bytes).expect("write the secret");
        Secret { dir, bytes }
    }

    /// The file holding it (for `--jwt-secret-file`).
    pub(crate) fn file(&self) -> PathBuf {
        self.dir.path().join("jwt-secret")
    }

    /// Its bytes, for tokens the CLI cannot make (expired ones).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `roundtable token issue --role ROLE [--negotiation N] [--partner P]`, signed with it.
    pub(crate) fn token(
        &self,
        role: &str,
        negotiation: Option<&str>,
        partner: Option<&str>,
    ) -> String {
        let file = self.file();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundtable"));
        cmd.args(["token", "issue", "--role", role, "--jwt-secret-file"])
            .arg(&file)
            .env_remove("ROUNDTABLE_JWT_SECRET");
        if let Some(n) = negotiation {
            cmd.args(["--negotiation", n]);
        }
        if let Some(p) = partner {
            cmd.args(["--partner", p]);
        }
        let out = cmd.output().expect("roundtable token issue runs");
        assert!(
            out.status.success(),
            "token issue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).expect("utf-8 token");
        let token = token.trim().to_owned();
        assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
        token
    }
}

/// A `roundtable` service process (`serve`, `api` or `project`), SIGKILLed and reaped on
/// drop. Its stderr (the logs) is collected and printed when a test fails.
pub(crate) struct Service {
    name: String,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    /// `http://127.0.0.1:PORT` for `serve` and `api`.
    pub(crate) base: String,
}

impl Service {
    /// `roundtable <store> serve` on a free loopback port, ready.
    pub(crate) async fn serve(store: &Store, secret: &Secret) -> Service {
        Service::http(store, secret, "serve").await
    }

    /// `roundtable <store> serve ARGS...` on a free loopback port, ready.
    #[allow(dead_code)] // used by tests/checkpoint.rs, not by every test that includes this file
    pub(crate) async fn serve_with(store: &Store, secret: &Secret, args: &[&str]) -> Service {
        Service::http_with(store, secret, "serve", args).await
    }

    /// `roundtable <store> api` on a free loopback port, ready.
    pub(crate) async fn api(store: &Store, secret: &Secret) -> Service {
        Service::http(store, secret, "api").await
    }

    /// `roundtable <store> project` (following the log until killed).
    pub(crate) fn project(store: &Store) -> Service {
        let (service, _) = Service::spawn(store, "project", &[]);
        service
    }

    async fn http(store: &Store, secret: &Secret, sub: &str) -> Service {
        Service::http_with(store, secret, sub, &[]).await
    }

    async fn http_with(store: &Store, secret: &Secret, sub: &str, extra: &[&str]) -> Service {
        let file = secret.file().display().to_string();
        let mut args = vec!["--listen", "127.0.0.1:0", "--jwt-secret-file", &file];
        args.extend_from_slice(extra);
        let (mut service, address) = Service::spawn(store, sub, &args);
        // It prints `roundtable: HTTP API on http://ADDR (...)` once it listens.
        match address.recv_timeout(Duration::from_secs(30)) {
            Ok(base) => service.base = base,
            Err(_) => panic!(
                "roundtable {sub} printed no address within 30 s:\n{}",
                service.log()
            ),
        }
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{}/readyz", service.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return service;
            }
            assert!(
                Instant::now() < deadline && service.is_running(),
                "roundtable {sub} not ready within 30 s:\n{}",
                service.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn spawn(store: &Store, sub: &str, args: &[&str]) -> (Service, mpsc::Receiver<String>) {
        let mut all = vec![sub];
        all.extend_from_slice(args);
        let mut child = store
            .command(&all)
            .env_remove("ROUNDTABLE_JWT_SECRET")
            .env_remove("ROUNDTABLE_LISTEN")
            .env_remove("ROUNDTABLE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start roundtable {sub}: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        // Drain stderr for the whole life of the process, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            const MARK: &str = "HTTP API on ";
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split(MARK).nth(1) {
                    let base = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(base.to_owned());
                }
                let mut log = sink
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                log.push_str(&line);
                log.push('\n');
            }
        });
        let service = Service {
            name: sub.to_owned(),
            child: Some(child),
            log,
            base: String::new(),
        };
        (service, rx)
    }

    /// `base` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Its stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the process still runs.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, as a crash would, and reap it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log();
            let tail: String = log
                .lines()
                .rev()
                .take(120)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!("--- last lines of roundtable {} ---\n{tail}", self.name);
        }
    }
}

/// An HTTP client with a 40 s timeout per request.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("reqwest client")
}

/// One HTTP answer, body read.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) bytes: Vec<u8>,
    /// The body as JSON (`Null` when it is not JSON).
    pub(crate) body: Value,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut body = if self.body.is_null() {
            String::from_utf8_lossy(&self.bytes).into_owned()
        } else {
            self.body.to_string()
        };
        if body.len() > 2000 {
            let mut end = 2000;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
            body.push_str("...");
        }
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

impl Reply {
    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error code, after checking the error shape: a JSON object of exactly a
    /// non-empty string `code` and a string `message`, served as application/json.
    pub(crate) fn code(&self) -> &str {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let obj = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not a JSON object: {self:?}"));
        assert_eq!(
            obj.len(),
            2,
            "error body has exactly code and message: {self:?}"
        );
        assert!(obj["message"].is_string(), "{self:?}");
        let code = obj["code"].as_str().unwrap_or_default();
        assert!(!code.is_empty(), "{self:?}");
        code
    }

    /// Asserts the status and the error code.
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{self:?}");
    }
}

/// A client of one service's HTTP API.
#[derive(Clone)]
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    /// A client of `service`.
    pub(crate) fn new(service: &Service) -> Api {
        Api::at(&service.base)
    }

    /// A client of the API at `base`.
    pub(crate) fn at(base: &str) -> Api {
        Api {
            client: http_client(),
            base: base.to_owned(),
        }
    }

    /// Sends a request built from `builder`, reading the whole answer.
    pub(crate) async fn send(&self, builder: reqwest::RequestBuilder) -> reqwest::Result<Reply> {
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?.to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            bytes,
            body,
        })
    }

    /// A request to `path` (`/v1/...`), with `token` as its bearer token when given.
    pub(crate) fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => builder.bearer_auth(t),
            None => builder,
        }
    }

    /// `GET path` with `token`.
    pub(crate) async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::GET, path, Some(token)))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// `POST /v1/negotiations/{negotiation}/commands` with a JSON body and extra headers.
    pub(crate) async fn command(
        &self,
        token: &str,
        negotiation: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.command_bytes(token, negotiation, body.to_string().into_bytes(), headers)
            .await
    }

    /// The same with raw body bytes (sent as application/json unless a header says
    /// otherwise).
    pub(crate) async fn command_bytes(
        &self,
        token: &str,
        negotiation: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let path = format!("/v1/negotiations/{negotiation}/commands");
        let mut builder = self.request(reqwest::Method::POST, &path, Some(token));
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "application/json");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        self.send(builder.body(body))
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Every recorded event of `negotiation`, through `/events`, page by page.
    pub(crate) async fn events(&self, token: &str, negotiation: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = 0;
        loop {
            let r = self
                .get(
                    token,
                    &format!("/v1/negotiations/{negotiation}/events?after={after}&limit=1000"),
                )
                .await;
            if r.status == 404 && after == 0 {
                return events;
            }
            assert_eq!(r.status, 200, "{r:?}");
            events.extend(r.body["events"].as_array().expect("events").iter().cloned());
            match r.body["next"].as_u64() {
                Some(next) => after = next,
                None => return events,
            }
        }
    }

    /// The view once it includes `version`, waiting (bounded) for the projection.
    pub(crate) async fn view_at_least(
        &self,
        token: &str,
        negotiation: &str,
        version: u64,
    ) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self
                .get(
                    token,
                    &format!("/v1/negotiations/{negotiation}?min_version={version}&wait_ms=30000"),
                )
                .await;
            let at = r.body["version"].as_u64().unwrap_or(0);
            if r.status == 200 && at >= version {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "the view of {negotiation} did not reach version {version}: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The lines of a minutes file that are commands, with their 1-based line numbers.
pub(crate) fn minutes(path: &Path) -> Vec<(usize, serde_json::Map<String, Value>)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| match serde_json::from_str(l) {
            Ok(Value::Object(fields)) => (i + 1, fields),
            other => panic!("line {} is not a JSON object: {other:?}", i + 1),
        })
        .collect()
}
