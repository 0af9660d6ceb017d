//! `GET /v1/negotiations/{id}/changes` over a real socket: Server-Sent Events that
//! resume after `Last-Event-ID` without gaps or repeats while commands are recorded.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use roundtable_api::{ApiState, AuthConfig, TokenRole, router};
use roundtable_app::CommandHandler;
use roundtable_domain::CommandEnvelope;
use roundtable_domain::minutes::parse_line;
use roundtable_sqlite::SqliteStore;
use roundtable_store::{Change, EventStore};

use crate::common::{MemoryViews, SECRET, n};

/// The commands of the sample minutes (Harbourside), in order.
fn sample() -> Vec<CommandEnvelope> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes/harbourside-waste.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .filter_map(|line| parse_line(line).unwrap())
        .map(|cmd| CommandEnvelope {
            command_id: cmd.command_id,
            negotiation_id: cmd.negotiation_id,
            actor: cmd.actor,
            occurred_at: cmd.at.unwrap(),
            command: cmd.command,
        })
        .collect()
}

/// One event of the stream.
#[derive(Debug)]
struct SseEvent {
    id: String,
    event: String,
    data: String,
}

/// Reads a stream's events as they come.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    async fn open(url: &str, token: &str, last_event_id: Option<u64>) -> SseReader {
        let mut request = reqwest::Client::new().get(url).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        SseReader {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments such as heartbeats skipped).
    async fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    id: String::new(),
                    event: String::new(),
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        event.id = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data.push_str(v);
                    }
                }
                if !event.data.is_empty() {
                    return event;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(60), self.response.chunk())
                .await
                .expect("an event within a minute")
                .unwrap()
                .expect("the stream goes on");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next change, checking the event's id and type against it.
    async fn change(&mut self) -> Change {
        let event = self.next().await;
        let change: Change = serde_json::from_str(&event.data).unwrap();
        assert_eq!(event.id, change.version.to_string());
        assert_eq!(event.event, change.event_type);
        assert!(!change.summary.is_empty());
        change
    }
}

#[tokio::test]
async fn server_sent_events_resume_after_last_event_id_without_gaps_while_commands_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open_in_dir(dir.path()).unwrap());
    let (closing, closed) = tokio::sync::watch::channel(false);
    let state = ApiState::new(
        store.clone(),
        Arc::new(MemoryViews::default()),
        AuthConfig::hs256(SECRET).unwrap(),
    )
    .with_shutdown(closed);
    let token = state
        .auth
        .mint(
            TokenRole::Integration,
            Some(n("harbourside-waste")),
            None,
            Duration::from_secs(600),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut shutdown = closing.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|c| *c).await;
            })
            .await
            .unwrap();
    });
    let url = format!("http://{addr}/v1/negotiations/harbourside-waste/changes");

    let commands = sample();
    assert_eq!(commands.len(), 73);
    let events: Arc<dyn EventStore> = store.clone();
    let handler = CommandHandler::new(events.clone());
    for cmd in &commands[..30] {
        handler.handle(cmd).await.unwrap();
    }

    // From the first change; stop after version 20.
    let mut first = SseReader::open(&format!("{url}?after=0"), &token, None).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&20) {
        seen.push(first.change().await.version);
    }
    drop(first);

    // The rest of the minutes are recorded while the client is away and after it
    // comes back.
    let recording = tokio::spawn(async move {
        let handler = CommandHandler::new(events);
        for cmd in &commands[30..] {
            handler.handle(cmd).await.unwrap();
            tokio::task::yield_now().await;
        }
    });
    let mut resumed = SseReader::open(&url, &token, Some(20)).await;
    while seen.last() != Some(&73) {
        let change = resumed.change().await;
        if change.version == 73 {
            assert_eq!(change.status.to_string_lossy(), "concluded");
        }
        seen.push(change.version);
    }
    recording.await.unwrap();
    assert_eq!(seen, (1..=73).collect::<Vec<_>>(), "no gap, no repeat");

    // Without Last-Event-ID or `after`, only new changes come: none here, so the
    // heartbeats keep it open until the server shuts down, which ends it.
    let mut live = SseReader::open(&url, &token, None).await;
    closing.send(true).unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(30), live.response.chunk())
        .await
        .expect("the stream ends at shutdown")
        .unwrap();
    assert!(ended.is_none() || live.buffer.is_empty());
    server.await.unwrap();
}

trait Lossy {
    fn to_string_lossy(&self) -> String;
}

impl Lossy for roundtable_domain::view::NegotiationStatus {
    fn to_string_lossy(&self) -> String {
        serde_json::to_value(self)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }
}

#[tokio::test]
async fn a_bad_last_event_id_and_a_foreign_token_are_refused() {
    let h = crate::common::Harness::new();
    h.seed("harbourside-waste").await;
    let request = |token: &str, last: &str| {
        axum::http::Request::get("/v1/negotiations/harbourside-waste/changes")
            .header("authorization", format!("Bearer {token}"))
            .header("last-event-id", last)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let r = h.send(request(&h.secretariat(), "seven")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_last_event_id");
    let other = h.token(TokenRole::Auditor, Some("another-one"), None);
    let r = h.send(request(&other, "1")).await;
    assert_eq!(r.status, 403);
    let r = h
        .get(&h.secretariat(), "/v1/negotiations/nothing-here/changes")
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "negotiation_not_found");
}

/// The commands of the Fieldbrook minutes (87 events), in order.
fn fieldbrook() -> Vec<CommandEnvelope> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes/fieldbrook-sanitation.jsonl");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|line| parse_line(line).unwrap())
        .map(|cmd| CommandEnvelope {
            command_id: cmd.command_id,
            negotiation_id: cmd.negotiation_id,
            actor: cmd.actor,
            occurred_at: cmd.at.unwrap(),
            command: cmd.command,
        })
        .collect()
}

/// Server-Sent Events carry the overdue timer's announcements after the events, with
/// the version of the last event as their id; a stream resumed before that version
/// gets them again in place, after the events.
async fn overdue_on_server_sent_events(ports: roundtable_store::Ports) {
    let kv = ports
        .kv
        .open(roundtable_store::overdue::OVERDUE_BUCKET, "overdue")
        .await
        .unwrap();
    let views: Arc<dyn roundtable_projector::ViewStore> = Arc::new(
        roundtable_projector::KvViewStore::open(&*ports.kv)
            .await
            .unwrap(),
    );
    let (closing, closed) = tokio::sync::watch::channel(false);
    let mut state = ApiState::new(
        ports.events.clone(),
        views.clone(),
        AuthConfig::hs256(SECRET).unwrap(),
    )
    .with_shutdown(closed)
    .with_overdue(kv);
    if let Some(watch) = &ports.watch {
        state = state.with_change_watch(watch.clone());
    }
    let token = state
        .auth
        .mint(
            TokenRole::Integration,
            Some(n("fieldbrook-sanitation")),
            None,
            Duration::from_secs(600),
        )
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut shutdown = closing.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|c| *c).await;
            })
            .await
            .unwrap();
    });
    let url = format!("http://{addr}/v1/negotiations/fieldbrook-sanitation/changes");
    let handler = CommandHandler::new(ports.events.clone());
    for cmd in &fieldbrook() {
        handler.handle(cmd).await.unwrap();
    }
    let mut projector = roundtable_projector::Projector::new(
        ports.events.clone(),
        views.clone(),
        ports.feeds.open("roundtable-projector").await.unwrap(),
        ports.changes.clone(),
    );
    projector.catch_up().await.unwrap();

    let mut live = SseReader::open(&format!("{url}?after=0"), &token, None).await;
    for version in 1..=87 {
        assert_eq!(live.change().await.version, version);
    }
    let today = chrono::NaiveDate::from_ymd_opt(2029, 10, 1).unwrap();
    let timer = roundtable_projector::OverdueTimer::open(&*ports.kv, views, ports.changes.clone())
        .await
        .unwrap()
        .with_clock(Arc::new(move || today));
    let announced = timer.tick().await.unwrap();
    assert_eq!(announced.len(), 2);
    let got = vec![live.change().await, live.change().await];
    assert_eq!(got, announced, "the live stream shows them once made");
    assert!(
        got.iter()
            .all(|c| c.event_type == "commitment_overdue" && c.version == 87)
    );

    let mut resumed = SseReader::open(&url, &token, Some(80)).await;
    let mut versions = Vec::new();
    for _ in 0..9 {
        let change = resumed.change().await;
        versions.push((change.version, change.event_type));
    }
    assert_eq!(
        versions.iter().map(|v| v.0).collect::<Vec<_>>(),
        [81, 82, 83, 84, 85, 86, 87, 87, 87]
    );
    assert_eq!(versions[7].1, "commitment_overdue");
    assert_eq!(versions[8].1, "commitment_overdue");
    assert_ne!(versions[6].1, "commitment_overdue");
    drop((live, resumed));
    closing.send(true).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn server_sent_events_carry_overdue_announcements_embedded() {
    let dir = tempfile::tempdir().unwrap();
    overdue_on_server_sent_events(roundtable_sqlite::open(dir.path()).unwrap()).await;
}

#[tokio::test]
async fn server_sent_events_carry_overdue_announcements_nats() {
    let server = roundtable_testkit::NatsServer::start().await.unwrap();
    let store = Arc::new(
        roundtable_nats::NatsStore::connect(&server.url(), roundtable_nats::NatsConfig::default())
            .await
            .unwrap(),
    );
    overdue_on_server_sent_events(roundtable_nats::ports(store, &server.url())).await;
}
