//! The web app in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver by `fantoccini`, against the real
//! `roundtable serve` on the embedded store, each person signed in with a one-time link
//! from `roundtable token issue --link`.
//!
//! - the sample minutes (examples/minutes/harbourside-waste.jsonl) played through the
//!   pages by clicking and typing, as each actor in turn, end in the view the importer
//!   gives for the same file;
//! - a rejection is shown beside its form, with the input kept, and records nothing;
//! - a second browser sees another person's action live, without reloading;
//! - axe-core (npm, `.tools/npm`) finds no serious or critical violation on any page;
//! - contract version 2's pages (a round open beside the agreement in force, delivery,
//!   shortfalls, assets, who left; a clause's history; the audit report) pass axe-core and
//!   do not scroll sideways at 360 px, and a partner acts on them by keyboard alone;
//! - screenshots of each page at 1280 and 360 px wide, written to docs/screenshots/ when
//!   `ROUNDTABLE_WRITE_SCREENSHOTS=1` (else to a temporary directory).
//!
//! Run alone: `cargo nextest run -p roundtable --test browser`. Needs
//! `scripts/ensure-test-tools` (chromium, chromedriver, axe-core).

mod common;
#[path = "services/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Store, sample_minutes, workspace_root};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use harness::{Api, Secret, Service, minutes};
use serde_json::{Map, Value, json};

const NEGOTIATION: &str = "harbourside-waste";

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is missing: run scripts/ensure-test-tools (Debian: apt-get install chromium chromium-driver)")
    })
}

fn axe_source() -> String {
    let path = workspace_root().join(".tools/npm/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run scripts/ensure-test-tools to install axe-core",
            path.display()
        )
    })
}

/// A chromedriver process on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(tool("chromedriver"))
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A fresh headless Chromium with its own profile: 1280 px wide, or a 360 px
    /// phone.
    async fn browser(&self, narrow: bool) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--lang=en".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": tool("chromium").display().to_string() });
        if narrow {
            options["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": 360, "height": 780, "pixelRatio": 1.0 } });
        } else {
            args.push("--window-size=1280,900".to_owned());
        }
        options["args"] = json!(args);
        let mut caps = Map::new();
        caps.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            _profile: profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Browser {
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    async fn id(&self, id: &str) -> Element {
        match self.client.find(Locator::Id(id)).await {
            Ok(e) => e,
            Err(e) => panic!("no element #{id} on {}: {e}", self.url().await),
        }
    }

    async fn has(&self, id: &str) -> bool {
        self.client.find(Locator::Id(id)).await.is_ok()
    }

    async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// Clicks `button` and waits until the next page has loaded.
    async fn submit_with(&self, button: Element) {
        self.js("window.__before = true").await;
        button.click().await.expect("click");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let done = self
                .js("return window.__before === undefined && document.readyState === 'complete'")
                .await;
            if done == Value::Bool(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no page after the post on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Submits the form `#form`.
    async fn submit(&self, form: &str) {
        let f = self.id(form).await;
        let button = f
            .find(Locator::Css("button[type=submit]"))
            .await
            .expect("a submit button");
        self.submit_with(button).await;
    }

    /// Opens the `<details>` around `#form` by clicking its summary, if closed.
    async fn reveal(&self, form: &str) {
        let details = self
            .client
            .find(Locator::XPath(&format!(
                "//form[@id='{form}']/parent::details"
            )))
            .await;
        if let Ok(d) = details {
            if d.attr("open").await.ok().flatten().is_none() {
                d.find(Locator::Css("summary"))
                    .await
                    .expect("summary")
                    .click()
                    .await
                    .expect("click summary");
            }
        }
    }

    async fn field(&self, form: &str, name: &str) -> Element {
        self.id(form)
            .await
            .find(Locator::Css(&format!("[name='{name}']")))
            .await
            .unwrap_or_else(|e| panic!("no field {name} in #{form}: {e}"))
    }

    async fn typ(&self, form: &str, name: &str, value: &str) {
        let f = self.field(form, name).await;
        f.clear().await.expect("clear");
        if !value.is_empty() {
            f.send_keys(value).await.expect("type");
        }
    }

    async fn choose(&self, form: &str, name: &str, value: &str) {
        self.field(form, name)
            .await
            .select_by_value(value)
            .await
            .expect("select");
    }

    /// axe-core's serious and critical violations on the current page.
    async fn axe(&self, source: &str) -> Vec<String> {
        self.client
            .execute(source, vec![])
            .await
            .expect("axe loads");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }))))
                    .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
                vec![],
            )
            .await
            .expect("axe runs");
        result
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                format!(
                    "{} ({}): {} at {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                )
            })
            .collect()
    }

    /// What sticks out to the right of the viewport (outside regions that scroll on
    /// their own): empty when the page does not scroll sideways.
    async fn sideways(&self) -> Vec<String> {
        let found = self
            .js(
                "const w = document.documentElement.clientWidth;
                 if (document.documentElement.scrollWidth <= w) return [];
                 const out = Array.from(document.querySelectorAll('body *'))
                   .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > w + 1)
                   .slice(0, 8)
                   .map(e => e.tagName + '.' + e.className + '#' + e.id + ' right=' + Math.round(e.getBoundingClientRect().right));
                 return out.length ? out : ['the document is ' + document.documentElement.scrollWidth + ' px wide in ' + w + ' px'];",
            )
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    async fn screenshot(&self, dir: &Path, name: &str) {
        // The whole page: the window as tall as the document (at most 6000 px).
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }
}

/// A one-time sign-in link from `roundtable token issue --link`.
fn link(secret: &Secret, base: &str, by: &str) -> String {
    link_in(secret, base, NEGOTIATION, by)
}

/// A one-time sign-in link for `by` in `negotiation`.
fn link_in(secret: &Secret, base: &str, negotiation: &str, by: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundtable"));
    cmd.args([
        "token",
        "issue",
        "--ttl-hours",
        "2",
        "--link",
        base,
        "--jwt-secret-file",
    ])
    .arg(secret.file())
    .env_remove("ROUNDTABLE_JWT_SECRET");
    match by {
        "secretariat" => cmd.args(["--role", "secretariat", "--negotiation", negotiation]),
        "auditor" => cmd.args(["--role", "auditor"]),
        partner => cmd.args([
            "--role",
            "partner",
            "--negotiation",
            negotiation,
            "--partner",
            partner,
        ]),
    };
    let out = cmd.output().expect("token issue runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    assert!(url.starts_with(&format!("{base}/sign-in?token=")), "{url}");
    url
}

impl Browser {
    async fn sign_in(&self, url: &str) {
        self.goto(url).await;
        let button = self
            .client
            .find(Locator::Css("form[action='/sign-in'] button"))
            .await
            .expect("the sign-in button");
        self.submit_with(button).await;
        assert!(
            !self.url().await.contains("/sign-in"),
            "still on the sign-in page"
        );
    }

    async fn sign_out(&self) {
        let button = self
            .client
            .find(Locator::Css("form.signout button"))
            .await
            .expect("the sign-out button");
        self.submit_with(button).await;
    }
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    m.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Does what one minutes line says, through the pages, as the signed-in actor.
async fn play(b: &Browser, base: &str, line: usize, m: &Map<String, Value>) {
    let page = format!("{base}/negotiations/{NEGOTIATION}");
    let what = s(m, "do");
    if what == "open_negotiation" {
        b.goto(&format!("{base}/")).await;
    } else if !b.url().await.starts_with(&format!("{page}?v=")) {
        // After a post the browser is on the page already (redirected to `?v=N`).
        b.goto(&page).await;
    }
    let pid = s(m, "proposal_id");
    let form = match what {
        "open_negotiation" => {
            b.typ("open_negotiation", "negotiation_id", s(m, "negotiation_id"))
                .await;
            b.typ("open_negotiation", "title", s(m, "title")).await;
            b.typ("open_negotiation", "service", s(m, "service")).await;
            let rule = m
                .get("decision_rule")
                .and_then(Value::as_str)
                .unwrap_or("consent");
            b.choose("open_negotiation", "decision_rule", rule).await;
            "open_negotiation".to_owned()
        }
        "admit_partner" | "register_key" => {
            b.reveal(what).await;
            if what == "admit_partner" {
                b.typ(what, "partner_id", s(m, "partner_id")).await;
                b.typ(what, "name", s(m, "name")).await;
                b.choose(what, "kind", s(m, "kind")).await;
                b.choose(what, "role", s(m, "role")).await;
                if m.contains_key("public_key") {
                    b.typ(what, "public_key", s(m, "public_key")).await;
                }
            } else {
                b.choose(what, "partner_id", s(m, "partner_id")).await;
                b.typ(what, "public_key", s(m, "public_key")).await;
            }
            what.to_owned()
        }
        "propose" => {
            let clause = s(m, "clause_id");
            let amend = format!("propose-{clause}");
            let form = if b.has(&amend).await {
                amend
            } else {
                "propose".to_owned()
            };
            b.reveal(&form).await;
            b.typ(&form, "proposal_id", pid).await;
            if form == "propose" {
                b.typ(&form, "clause_id", clause).await;
            }
            b.typ(&form, "title", s(m, "title")).await;
            b.typ(&form, "text", s(m, "text")).await;
            b.typ(&form, "rationale", s(m, "rationale")).await;
            form
        }
        "endorse" | "retract_endorsement" | "withdraw_proposal" | "adopt" => {
            format!("{what}-{pid}")
        }
        "object" => {
            let form = format!("object-{pid}");
            b.reveal(&form).await;
            b.typ(&form, "objection_id", s(m, "objection_id")).await;
            b.typ(&form, "grounds", s(m, "grounds")).await;
            if m.get("blocking") == Some(&Value::Bool(true)) {
                b.field(&form, "blocking")
                    .await
                    .click()
                    .await
                    .expect("tick blocking");
            }
            form
        }
        "withdraw_objection" => format!("withdraw_objection-{}", s(m, "objection_id")),
        "commit" => {
            b.reveal("commit").await;
            b.typ("commit", "commitment_id", s(m, "commitment_id"))
                .await;
            b.typ("commit", "description", s(m, "description")).await;
            b.choose("commit", "kind", s(m, "kind")).await;
            b.typ("commit", "clause_id", s(m, "clause_id")).await;
            if let Some(a) = m.get("amount") {
                b.typ("commit", "amount", a["value"].as_str().unwrap_or(""))
                    .await;
                b.typ("commit", "currency", a["currency"].as_str().unwrap_or(""))
                    .await;
            }
            b.typ("commit", "due", s(m, "due")).await;
            "commit".to_owned()
        }
        "withdraw_commitment" => {
            let form = format!("withdraw_commitment-{}", s(m, "commitment_id"));
            b.reveal(&form).await;
            b.typ(&form, "reason", s(m, "reason")).await;
            form
        }
        "sign" | "conclude" => what.to_owned(),
        other => panic!("line {line}: no page plays {other}"),
    };
    b.submit(&form).await;
    let errors = b
        .client
        .find_all(Locator::Css("p.error"))
        .await
        .unwrap_or_default();
    if let Some(e) = errors.first() {
        panic!(
            "line {line} ({what}) was rejected: {}",
            e.text().await.unwrap_or_default()
        );
    }
}

/// The view without its last hash (which covers the events' times: the minutes' `at`
/// against the browser's now).
fn comparable(mut view: Value) -> Value {
    view.as_object_mut().map(|v| v.remove("last_event_hash"));
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_minutes_played_in_the_browser_end_as_the_import() {
    let axe = axe_source();
    let shots = match std::env::var_os("ROUNDTABLE_WRITE_SCREENSHOTS") {
        Some(_) => {
            let dir = workspace_root().join("docs/screenshots");
            std::fs::create_dir_all(&dir).expect("docs/screenshots");
            (dir, None)
        }
        None => {
            let t = tempfile::tempdir().expect("temp dir");
            (t.path().to_owned(), Some(t))
        }
    };
    let store = Store::embedded();
    let secret = Secret::new();
    let server = Service::serve(&store, &secret).await;
    let base = server.url("");
    let base = base.trim_end_matches('/').to_owned();
    let driver = Driver::start();
    let desk = driver.browser(false).await;
    let phone = driver.browser(true).await;
    let width = phone
        .js("return document.documentElement.clientWidth")
        .await;
    let _ = width;

    // The sign-in page, before anyone is signed in.
    desk.goto(&format!("{base}/")).await;
    let mut violations = Vec::new();
    violations.extend(
        desk.axe(&axe)
            .await
            .into_iter()
            .map(|v| format!("sign-in: {v}")),
    );
    desk.screenshot(&shots.0, "sign-in-1280").await;

    let file = sample_minutes("harbourside-waste.jsonl");
    let lines = minutes(&file);
    let mut signed_in: Option<String> = None;
    let mut watched = false;
    let mut shot_partner = false;
    let mut shot_secretariat = false;
    for (line, m) in &lines {
        let by = s(m, "by").to_owned();
        if signed_in.as_deref() != Some(by.as_str()) {
            if signed_in.is_some() {
                desk.sign_out().await;
            }
            desk.sign_in(&link(&secret, &base, &by)).await;
            signed_in = Some(by.clone());
        }
        // The first endorsement: a second browser, the secretariat's on a phone, watches
        // the page and sees it without reloading.
        if s(m, "do") == "endorse" && !watched {
            watched = true;
            phone.sign_in(&link(&secret, &base, "secretariat")).await;
            let pid = s(m, "proposal_id");
            phone
                .goto(&format!("{base}/negotiations/{NEGOTIATION}"))
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let cell = format!("document.getElementById('proposal-{pid}').textContent");
            let before = phone.js(&format!("return {cell}")).await;
            let started = Instant::now();
            play(&desk, &base, *line, m).await;
            loop {
                let now = phone.js(&format!("return {cell}")).await;
                if now != before {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(3),
                    "the second browser did not see the endorsement live"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            eprintln!(
                "the second browser saw the endorsement after {:?}",
                started.elapsed()
            );
            continue;
        }
        // Mid-negotiation, with proposals open: the secretariat's page before its first
        // adoption (on both browsers), a partner's before its first objection.
        let page = format!("{base}/negotiations/{NEGOTIATION}");
        if s(m, "do") == "adopt" && !shot_secretariat {
            shot_secretariat = true;
            desk.goto(&page).await;
            violations.extend(
                desk.axe(&axe)
                    .await
                    .into_iter()
                    .map(|v| format!("secretariat: {v}")),
            );
            desk.screenshot(&shots.0, "secretariat-1280").await;
            phone.goto(&page).await;
            violations.extend(
                phone
                    .axe(&axe)
                    .await
                    .into_iter()
                    .map(|v| format!("secretariat at 360 px: {v}")),
            );
            phone.screenshot(&shots.0, "secretariat-360").await;
            let sideways = phone.sideways().await;
            assert!(
                sideways.is_empty(),
                "the secretariat's page scrolls sideways at 360 px: {sideways:?}"
            );
        }
        if s(m, "do") == "object" && !shot_partner {
            shot_partner = true;
            desk.goto(&page).await;
            violations.extend(
                desk.axe(&axe)
                    .await
                    .into_iter()
                    .map(|v| format!("partner: {v}")),
            );
            desk.screenshot(&shots.0, "partner-1280").await;
        }
        play(&desk, &base, *line, m).await;
    }

    // The view the pages gave is the view the importer gives.
    let api = Api::new(&server);
    let auditor = secret.token("auditor", None, None);
    let played = api
        .get(
            &auditor,
            &format!(
                "/v1/negotiations/{NEGOTIATION}?min_version={}&wait_ms=10000",
                lines.len()
            ),
        )
        .await;
    assert_eq!(played.status, 200, "{played:?}");
    let imported = Store::embedded();
    let run = imported.import(&file, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let view = imported.run(&["view", NEGOTIATION, "--json"]);
    let expected: Value = serde_json::from_str(&view.stdout).expect("view JSON");
    assert_eq!(comparable(played.body.clone()), comparable(expected));
    assert_eq!(played.body["status"], "concluded");

    // Every page, read by axe and photographed at both widths.
    desk.sign_out().await;
    desk.sign_in(&link(&secret, &base, "secretariat")).await;
    let pages = [
        ("index", "/".to_owned()),
        ("concluded", format!("/negotiations/{NEGOTIATION}")),
        (
            "audit",
            format!("/negotiations/{NEGOTIATION}/audit?version=20&from=20&to=40"),
        ),
    ];
    for (name, path) in &pages {
        desk.goto(&format!("{base}{path}")).await;
        violations.extend(
            desk.axe(&axe)
                .await
                .into_iter()
                .map(|v| format!("{name}: {v}")),
        );
        desk.screenshot(&shots.0, &format!("{name}-1280")).await;
        phone.goto(&format!("{base}{path}")).await;
        violations.extend(
            phone
                .axe(&axe)
                .await
                .into_iter()
                .map(|v| format!("{name} at 360 px: {v}")),
        );
        phone.screenshot(&shots.0, &format!("{name}-360")).await;
        let sideways = phone.sideways().await;
        assert!(
            sideways.is_empty(),
            "{name} scrolls sideways at 360 px: {sideways:?}"
        );
    }
    assert!(
        violations.is_empty(),
        "axe-core found:\n{}",
        violations.join("\n")
    );
    desk.client.clone().close().await.ok();
    phone.client.clone().close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_is_shown_with_the_input_kept_and_records_nothing() {
    let axe = axe_source();
    let store = Store::embedded();
    let secret = Secret::new();
    let server = Service::serve(&store, &secret).await;
    let base = server.url("").trim_end_matches('/').to_owned();
    let driver = Driver::start();
    let b = driver.browser(true).await;
    let lines = minutes(&sample_minutes("harbourside-waste.jsonl"));
    // The opening and the admissions, then hcc's first proposal.
    let first_proposal = lines
        .iter()
        .position(|(_, m)| s(m, "do") == "propose")
        .expect("a proposal");
    let mut signed_in: Option<String> = None;
    for (line, m) in &lines[..=first_proposal] {
        let by = s(m, "by").to_owned();
        if signed_in.as_deref() != Some(by.as_str()) {
            if signed_in.is_some() {
                b.sign_out().await;
            }
            b.sign_in(&link(&secret, &base, &by)).await;
            signed_in = Some(by);
        }
        play(&b, &base, *line, m).await;
    }
    let api = Api::new(&server);
    let auditor = secret.token("auditor", None, None);
    let before = api.events(&auditor, NEGOTIATION).await.len();
    // The same proposal id again, with new text: the domain refuses it.
    let (_, m) = &lines[first_proposal];
    b.goto(&format!("{base}/negotiations/{NEGOTIATION}")).await;
    b.reveal("propose").await;
    b.typ("propose", "proposal_id", s(m, "proposal_id")).await;
    b.typ("propose", "clause_id", "another-clause").await;
    let typed = "Line one <em>kept</em>\nLine two";
    b.typ("propose", "text", typed).await;
    b.submit("propose").await;
    let error = b.id("propose-error").await.text().await.expect("text");
    assert!(error.contains("already exists"), "{error}");
    assert_eq!(
        b.id("propose-error")
            .await
            .attr("role")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("alert")
    );
    let kept = b
        .field("propose", "text")
        .await
        .prop("value")
        .await
        .ok()
        .flatten();
    assert_eq!(kept.as_deref(), Some(typed));
    let kept = b
        .field("propose", "clause_id")
        .await
        .prop("value")
        .await
        .ok()
        .flatten();
    assert_eq!(kept.as_deref(), Some("another-clause"));
    assert_eq!(
        api.events(&auditor, NEGOTIATION).await.len(),
        before,
        "nothing recorded"
    );
    let found = b.axe(&axe).await;
    assert!(found.is_empty(), "axe-core on the rejection: {found:?}");
    // A used link does not sign in again.
    let url = link(&secret, &base, "hcc");
    b.sign_out().await;
    b.sign_in(&url).await;
    b.sign_out().await;
    b.goto(&url).await;
    let button = b
        .client
        .find(Locator::Css("form[action='/sign-in'] button"))
        .await
        .expect("button");
    b.submit_with(button).await;
    let refused = b
        .client
        .find(Locator::Css("p.error"))
        .await
        .expect("refused")
        .text()
        .await
        .unwrap_or_default();
    assert!(refused.contains("used already"), "{refused}");
    b.client.clone().close().await.ok();
}

/// WebDriver's keys: Tab, Enter, Space.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const SPACE: &str = "\u{E00D}";

impl Browser {
    /// Presses `key` on whatever has the focus.
    async fn press(&self, key: &str) {
        let focused = self
            .client
            .active_element()
            .await
            .expect("a focused element");
        focused.send_keys(key).await.expect("a key press");
    }

    /// Presses Tab until the element `selector` has the focus (at most `max` times);
    /// how many presses it took.
    async fn tab_to(&self, selector: &str, max: usize) -> usize {
        let check = format!(
            "return document.activeElement === document.querySelector({})",
            serde_json::to_string(selector).unwrap()
        );
        for n in 1..=max {
            self.press(TAB).await;
            if self.js(&check).await == Value::Bool(true) {
                return n;
            }
        }
        panic!(
            "{selector} never had the focus after {max} presses of Tab on {}",
            self.url().await
        );
    }

    /// Presses `key` on the focused element and waits for the page it posts to.
    async fn press_and_wait(&self, key: &str) {
        self.js("window.__before = true").await;
        self.press(key).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while self
            .js("return window.__before === undefined && document.readyState === 'complete'")
            .await
            != Value::Bool(true)
        {
            assert!(
                Instant::now() < deadline,
                "no page after the key press on {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signs in with `url` by keyboard: Tab to the button, Enter.
    async fn sign_in_by_keyboard(&self, url: &str) {
        self.goto(url).await;
        self.tab_to("form[action='/sign-in'] button", 30).await;
        self.press_and_wait(ENTER).await;
        assert!(
            !self.url().await.contains("/sign-in"),
            "still on the sign-in page"
        );
    }
}

/// Contract version 2 in the browser. The Fieldbrook minutes, imported up to a round
/// with an amendment still open, give a page with every "after the signature" section;
/// that page, the tariff clause's history and the audit report pass axe-core at both
/// widths and do not scroll sideways at 360 px; then a partner, by keyboard alone (Tab,
/// Enter, Space; no click), signs in, endorses the amendment and reports a shortfall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_signature_pages_pass_axe_at_360_px_and_work_by_keyboard() {
    const FIELDBROOK: &str = "fieldbrook-sanitation";
    let axe = axe_source();
    let shots = match std::env::var_os("ROUNDTABLE_WRITE_SCREENSHOTS") {
        Some(_) => (workspace_root().join("docs/screenshots"), None),
        None => {
            let t = tempfile::tempdir().expect("temp dir");
            (t.path().to_owned(), Some(t))
        }
    };
    std::fs::create_dir_all(&shots.0).expect("screenshot dir");
    // The minutes up to the emptiers' endorsement of the round's amendment.
    let file = sample_minutes("fieldbrook-sanitation.jsonl");
    let text = std::fs::read_to_string(&file).expect("the minutes");
    let cut = text
        .lines()
        .position(|l| {
            l.contains(r#""by": "emptiers", "do": "endorse", "proposal_id": "p-tariff-3""#)
        })
        .expect("the emptiers' endorsement of p-tariff-3");
    let dir = tempfile::tempdir().expect("temp dir");
    let part = dir.path().join("fieldbrook-round.jsonl");
    let head: Vec<&str> = text.lines().take(cut).collect();
    std::fs::write(&part, head.join("\n") + "\n").expect("write the minutes");
    let store = Store::embedded();
    let run = store.import(&part, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let secret = Secret::new();
    let server = Service::serve(&store, &secret).await;
    let base = server.url("").trim_end_matches('/').to_owned();
    let driver = Driver::start();
    let desk = driver.browser(false).await;
    let phone = driver.browser(true).await;
    let sec = link_in(&secret, &base, FIELDBROOK, "secretariat");
    desk.sign_in(&sec).await;
    phone
        .sign_in(&link_in(&secret, &base, FIELDBROOK, "secretariat"))
        .await;

    let mut violations = Vec::new();
    let pages = [
        ("round", format!("/negotiations/{FIELDBROOK}")),
        (
            "clause-history",
            format!("/negotiations/{FIELDBROOK}/clauses/tariff"),
        ),
        ("report", format!("/v1/negotiations/{FIELDBROOK}/report")),
    ];
    for (name, path) in &pages {
        desk.goto(&format!("{base}{path}")).await;
        violations.extend(
            desk.axe(&axe)
                .await
                .into_iter()
                .map(|v| format!("{name}: {v}")),
        );
        desk.screenshot(&shots.0, &format!("{name}-1280")).await;
        phone.goto(&format!("{base}{path}")).await;
        violations.extend(
            phone
                .axe(&axe)
                .await
                .into_iter()
                .map(|v| format!("{name} at 360 px: {v}")),
        );
        phone.screenshot(&shots.0, &format!("{name}-360")).await;
        let sideways = phone.sideways().await;
        assert!(
            sideways.is_empty(),
            "{name} scrolls sideways at 360 px: {sideways:?}"
        );
    }
    // The round's page says what a secretariat must see.
    phone
        .goto(&format!("{base}/negotiations/{FIELDBROOK}"))
        .await;
    let round = phone.id("rounds-title").await;
    assert_eq!(round.text().await.unwrap(), "Agreement in force and rounds");
    let main = phone
        .js("return document.querySelector('main').innerText")
        .await;
    let main = main.as_str().unwrap_or_default();
    for expected in [
        "Round r-tariff-2029 is open",
        "What this round has changed against the agreement in force",
        "Assets by sector",
        "Declared assets no active commitment draws on",
        "Partners who left",
        "Delivered KES",
        "Shortfalls",
    ] {
        assert!(
            main.contains(expected),
            "the round's page lacks {expected:?}"
        );
    }
    assert!(
        violations.is_empty(),
        "axe-core found:\n{}",
        violations.join("\n")
    );

    // By keyboard alone, as the Emptiers' Association on a phone.
    let api = Api::new(&server);
    let auditor = secret.token("auditor", None, None);
    let before = api.events(&auditor, FIELDBROOK).await.len();
    phone.sign_out().await;
    phone
        .sign_in_by_keyboard(&link_in(&secret, &base, FIELDBROOK, "emptiers"))
        .await;
    // The first Tab stop is the skip link; Enter on it moves to the content.
    phone.tab_to("a.skip", 1).await;
    phone.press(ENTER).await;
    // Endorse the round's amendment with Space.
    let presses = phone.tab_to("#endorse-p-tariff-3 button", 400).await;
    eprintln!("the endorse button after {presses} presses of Tab");
    phone.press_and_wait(SPACE).await;
    assert!(
        !phone.has("endorse-p-tariff-3").await && phone.has("retract_endorsement-p-tariff-3").await,
        "the endorsement was not recorded"
    );
    // Report a shortfall on the Borough's subsidy: open the form with Enter on its
    // summary, type, pick the severity with the arrow keys, send with Enter.
    phone
        .goto(&format!("{base}/negotiations/{FIELDBROOK}"))
        .await;
    phone
        .tab_to(
            "details:has(> #report_shortfall-c-fbc-subsidy) > summary",
            600,
        )
        .await;
    phone.press(ENTER).await;
    phone.tab_to("#report_shortfall-c-fbc-subsidy-id", 3).await;
    phone.press(TAB).await; // the severity
    phone.press("\u{E015}").await; // Arrow down: major
    phone.press(TAB).await; // what fell short
    phone
        .press("the Ferry Row tanker missed two weeks of emptying")
        .await;
    phone
        .tab_to("#report_shortfall-c-fbc-subsidy button", 3)
        .await;
    phone.press_and_wait(ENTER).await;
    let errors = phone
        .client
        .find_all(Locator::Css("p.error"))
        .await
        .unwrap_or_default();
    if let Some(e) = errors.first() {
        panic!(
            "the shortfall was refused: {}",
            e.text().await.unwrap_or_default()
        );
    }
    let view = api
        .get(
            &auditor,
            &format!(
                "/v1/negotiations/{FIELDBROOK}?min_version={}&wait_ms=10000",
                before + 2
            ),
        )
        .await;
    assert_eq!(view.status, 200, "{view:?}");
    let endorsed = view.body["proposals"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["proposal_id"] == "p-tariff-3")
        .expect("p-tariff-3");
    assert!(
        endorsed["endorsed_by"]
            .as_array()
            .unwrap()
            .contains(&json!("emptiers"))
    );
    let reported = view.body["shortfalls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["description"] == "the Ferry Row tanker missed two weeks of emptying")
        .expect("the shortfall typed by keyboard");
    assert_eq!(reported["severity"], "major");
    assert_eq!(reported["reported_by"], "emptiers");
    assert_eq!(reported["commitment_id"], "c-fbc-subsidy");
    desk.client.clone().close().await.ok();
    phone.client.clone().close().await.ok();
}
