//! Webhook deliveries end to end, on both backends: a receiver on 127.0.0.1 that
//! fails, goes away and comes back gets every change once (after de-duplication by
//! delivery id), in order, signed; one that never recovers ends with its deliveries
//! in the dead-letter list, and a replay delivers them.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use chrono::Utc;
use roundtable_app::CommandHandler;
use roundtable_domain::CommandEnvelope;
use roundtable_domain::minutes::parse_line;
use roundtable_nats::{NatsBuckets, NatsChangeSink, NatsConfig, NatsEventFeed, NatsStore};
use roundtable_projector::{KvViewStore, OverdueTimer, Projector};
use roundtable_store::{Change, EventStore, Selection};
use roundtable_testkit::NatsServer;
use roundtable_webhooks::KvWebhookStore;
use roundtable_webhooks::policy::Lookup;
use roundtable_webhooks::{
    Deliverer, RetryPolicy, UrlPolicy, WebhookConfig, WebhookWorker, outcome, verify,
};
use roundtable_webhooks::{Webhook, WebhookId, WebhookStore};
use tokio::sync::oneshot;

const SECRET: &str = "test-secret-of-the-receiver-0001";

/// The project's sample minutes (73 events of `harbourside-waste`).
fn sample_minutes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minutes/harbourside-waste.jsonl")
}

/// The number of events of [`sample_minutes`].
const SAMPLE_EVENTS: u64 = 73;

/// Feeds every line of `path` through the command handler.
async fn import(events: Arc<dyn EventStore>, path: &Path) -> u64 {
    let handler = CommandHandler::new(events);
    let text = std::fs::read_to_string(path).expect("read minutes");
    let mut recorded = 0;
    for line in text.lines() {
        let Some(cmd) = parse_line(line).expect("a minutes line") else {
            continue;
        };
        let cmd = CommandEnvelope {
            command_id: cmd.command_id,
            negotiation_id: cmd.negotiation_id,
            actor: cmd.actor,
            occurred_at: cmd.at.expect("a time"),
            command: cmd.command,
        };
        handler.handle(&cmd).await.expect("accepted");
        recorded += 1;
    }
    recorded
}

/// What the receiver answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    Fail,
    Accept,
}

/// One request as received.
#[derive(Clone)]
struct Received {
    delivery: String,
    timestamp: String,
    signature: String,
    body: Bytes,
    accepted: bool,
}

#[derive(Clone)]
struct Receiver {
    answer: Arc<Mutex<Answer>>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn new(answer: Answer) -> Receiver {
        Receiver {
            answer: Arc::new(Mutex::new(answer)),
            got: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = answer;
    }

    fn got(&self) -> Vec<Received> {
        self.got
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The accepted deliveries, first receipt of each delivery id only, in order.
    fn delivered(&self) -> Vec<Change> {
        let mut seen = BTreeSet::new();
        self.got()
            .into_iter()
            .filter(|r| r.accepted && seen.insert(r.delivery.clone()))
            .map(|r| serde_json::from_slice(&r.body).expect("a change"))
            .collect()
    }

    /// Serves on `addr` until the returned sender is dropped or used; every answer
    /// closes its connection, so that stopping the server refuses the next attempt.
    async fn serve(&self, addr: SocketAddr) -> (SocketAddr, oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let local = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/hook", post(hook))
            .with_state(self.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        tokio::spawn(async move {
            let _ = rx.await;
            server.abort();
        });
        (local, tx)
    }
}

async fn hook(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1]) {
    let answer = *receiver
        .answer
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    receiver
        .got
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received {
            delivery: text("roundtable-delivery"),
            timestamp: text("roundtable-timestamp"),
            signature: text("roundtable-signature"),
            body,
            accepted: answer == Answer::Accept,
        });
    let status = match answer {
        Answer::Accept => StatusCode::NO_CONTENT,
        Answer::Fail => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, [(header::CONNECTION, "close")])
}

/// Waits (up to a minute, so a broken build fails instead of hanging) until `done`.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("gave up waiting until {what}");
}

fn fast(max_attempts: u32) -> WebhookConfig {
    WebhookConfig {
        retry: RetryPolicy {
            max_attempts,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(40),
        },
        attempt_timeout: Duration::from_secs(5),
        poll_wait: Duration::from_millis(100),
        refresh_every: Duration::from_millis(100),
    }
}

fn webhook(addr: SocketAddr) -> Webhook {
    Webhook {
        id: WebhookId::generate(),
        url: format!("http://{addr}/hook"),
        negotiations: Selection::All,
        event_types: Selection::All,
        secret: SECRET.to_owned(),
        created_at: Utc::now(),
        created_by: "the secretariat of every negotiation".to_owned(),
    }
}

/// A backend: its event store, webhook store, and (on NATS) a way to publish the
/// changes, as the projector beside `roundtable serve` does.
struct Backend {
    ports: roundtable_store::Ports,
    events: Arc<dyn EventStore>,
    webhooks: Arc<dyn WebhookStore>,
    nats: Option<(Arc<NatsStore>, NatsServer)>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("tempdir");
        let ports = roundtable_sqlite::open(dir.path()).expect("open");
        let webhooks = KvWebhookStore::open(&*ports.kv, ports.change_feeds.clone())
            .await
            .expect("webhooks");
        Backend {
            events: ports.events.clone(),
            ports,
            webhooks: Arc::new(webhooks),
            nats: None,
            _dir: Some(dir),
        }
    }

    async fn nats() -> Backend {
        let server = NatsServer::start().await.expect("nats-server");
        let store = Arc::new(
            NatsStore::connect(&server.url(), NatsConfig::default())
                .await
                .expect("connect"),
        );
        let ports = roundtable_nats::ports(store.clone(), &server.url());
        let webhooks = KvWebhookStore::open(&*ports.kv, ports.change_feeds.clone())
            .await
            .expect("webhooks");
        Backend {
            events: store.clone(),
            ports,
            webhooks: Arc::new(webhooks),
            nats: Some((store, server)),
            _dir: None,
        }
    }

    /// Imports the sample minutes and, on NATS, projects them (publishing their changes).
    async fn import_sample(&self) {
        assert_eq!(
            import(self.events.clone(), &sample_minutes()).await,
            SAMPLE_EVENTS
        );
        if let Some((store, _)) = &self.nats {
            let views = Arc::new(
                KvViewStore::open(&NatsBuckets::new(store.clone()))
                    .await
                    .expect("views"),
            );
            let feed = NatsEventFeed::open(store, roundtable_nats::FeedConfig::default())
                .await
                .expect("feed");
            let mut projector = Projector::new(
                self.events.clone(),
                views,
                Box::new(feed),
                Arc::new(NatsChangeSink::new(store)),
            );
            projector.catch_up().await.expect("project");
        }
    }

    /// Imports `minutes` and projects them over the backend's own ports (views in its
    /// key-value buckets, changes to its sink), as `roundtable serve` does.
    async fn import_and_project(&self, minutes: &Path) {
        import(self.events.clone(), minutes).await;
        let views = Arc::new(KvViewStore::open(&*self.ports.kv).await.expect("views"));
        let feed = self
            .ports
            .feeds
            .open("roundtable-projector")
            .await
            .expect("feed");
        let mut projector =
            Projector::new(self.events.clone(), views, feed, self.ports.changes.clone());
        projector.catch_up().await.expect("project");
    }

    /// A new overdue timer over the backend's ports, whose today is `today`.
    async fn overdue_timer(&self, today: chrono::NaiveDate) -> OverdueTimer {
        let views = Arc::new(KvViewStore::open(&*self.ports.kv).await.expect("views"));
        OverdueTimer::open(&*self.ports.kv, views, self.ports.changes.clone())
            .await
            .expect("timer")
            .with_clock(Arc::new(move || today))
    }

    fn worker(&self, config: WebhookConfig) -> oneshot::Sender<()> {
        let worker = WebhookWorker::new(
            self.webhooks.clone(),
            config,
            UrlPolicy::allowing(["127.0.0.1"]),
        )
        .expect("worker");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(worker.run_until(async move {
            let _ = rx.await;
        }));
        tx
    }
}

fn assert_every_change_once_in_order(receiver: &Receiver) {
    let delivered = receiver.delivered();
    let versions: Vec<u64> = delivered.iter().map(|c| c.version).collect();
    assert_eq!(versions, (1..=SAMPLE_EVENTS).collect::<Vec<_>>());
    assert!(
        delivered
            .iter()
            .all(|c| c.negotiation_id.as_str() == "harbourside-waste")
    );
}

async fn a_receiver_that_fails_then_is_down_then_recovers_gets_everything_once(backend: Backend) {
    let receiver = Receiver::new(Answer::Fail);
    let (addr, stop) = receiver.serve("127.0.0.1:0".parse().expect("addr")).await;
    let hook = webhook(addr);
    backend.webhooks.register(&hook).await.expect("register");
    let worker = backend.worker(fast(10_000));
    backend.import_sample().await;

    // It answers 500 for its first attempts...
    until("three attempts failed", || receiver.got().len() >= 3).await;
    // ...then is down for a while...
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let failed_before = receiver.got().len();
    // ...then recovers, on the same address.
    receiver.set(Answer::Accept);
    let (_, stop) = receiver.serve(addr).await;
    until("every change delivered", || {
        receiver.delivered().len() >= SAMPLE_EVENTS as usize
    })
    .await;
    assert!(receiver.got().len() > failed_before);
    assert_every_change_once_in_order(&receiver);

    // Signatures verify with the shared secret, and not with another.
    for r in receiver.got() {
        let now = Utc::now().timestamp();
        assert_eq!(
            verify(SECRET.as_bytes(), &r.timestamp, &r.signature, &r.body, now),
            Ok(())
        );
        assert!(verify(b"another-secret", &r.timestamp, &r.signature, &r.body, now).is_err());
        let change: Change = serde_json::from_slice(&r.body).expect("change");
        assert_eq!(r.delivery, hook.delivery_id(&change));
    }
    assert!(
        backend
            .webhooks
            .dead_letters(&hook.id)
            .await
            .expect("letters")
            .is_empty()
    );
    let _ = worker.send(());
    let _ = stop.send(());
}

async fn a_receiver_that_never_recovers_gets_everything_on_replay(backend: Backend) {
    let receiver = Receiver::new(Answer::Fail);
    let (addr, _stop) = receiver.serve("127.0.0.1:0".parse().expect("addr")).await;
    let hook = webhook(addr);
    backend.webhooks.register(&hook).await.expect("register");
    let worker = backend.worker(fast(2));
    backend.import_sample().await;

    let store = backend.webhooks.clone();
    let id = hook.id.clone();
    let mut letters = Vec::new();
    for _ in 0..3000 {
        letters = store.dead_letters(&id).await.expect("letters");
        if letters.len() == SAMPLE_EVENTS as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        letters.len(),
        SAMPLE_EVENTS as usize,
        "every delivery parked"
    );
    assert!(
        letters
            .iter()
            .all(|l| l.attempts == 2 && l.last_error == "HTTP 500")
    );
    let versions: Vec<u64> = letters.iter().map(|l| l.change.version).collect();
    assert_eq!(versions, (1..=SAMPLE_EVENTS).collect::<Vec<_>>());
    assert!(receiver.delivered().is_empty());

    receiver.set(Answer::Accept);
    assert_eq!(
        store.request_replay(&id).await.expect("replay"),
        SAMPLE_EVENTS as usize
    );
    until("every dead letter replayed", || {
        receiver.delivered().len() >= SAMPLE_EVENTS as usize
    })
    .await;
    assert_every_change_once_in_order(&receiver);
    for _ in 0..3000 {
        if store.dead_letters(&id).await.expect("letters").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(store.dead_letters(&id).await.expect("letters").is_empty());
    let _ = worker.send(());
}

#[tokio::test]
async fn embedded_receiver_fails_goes_down_recovers_and_gets_everything_once() {
    a_receiver_that_fails_then_is_down_then_recovers_gets_everything_once(Backend::sqlite().await)
        .await;
}

#[tokio::test]
async fn nats_receiver_fails_goes_down_recovers_and_gets_everything_once() {
    a_receiver_that_fails_then_is_down_then_recovers_gets_everything_once(Backend::nats().await)
        .await;
}

#[tokio::test]
async fn embedded_dead_letters_are_delivered_on_replay() {
    a_receiver_that_never_recovers_gets_everything_on_replay(Backend::sqlite().await).await;
}

#[tokio::test]
async fn nats_dead_letters_are_delivered_on_replay() {
    a_receiver_that_never_recovers_gets_everything_on_replay(Backend::nats().await).await;
}

/// A name service answering what the test says, which it may change between lookups.
#[derive(Default)]
struct FakeDns(Mutex<HashMap<String, Vec<IpAddr>>>);

impl FakeDns {
    fn set(&self, name: &str, address: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), vec![address.parse().expect("an address")]);
    }
}

#[async_trait::async_trait]
impl Lookup for FakeDns {
    async fn lookup(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(host)
            .cloned()
            .ok_or_else(|| std::io::Error::other(format!("no such name {host}")))
    }
}

/// Registers a webhook for `name`, runs a worker resolving through `dns` with
/// `policy`, imports the sample, and returns the dead letters once every change has
/// one (or the deliveries, when `delivered` is expected).
async fn deliver_via_name(
    name: &str,
    dns: Arc<FakeDns>,
    policy: UrlPolicy,
    receiver: &Receiver,
    addr: SocketAddr,
    expect_delivered: bool,
) -> Vec<roundtable_webhooks::DeadLetter> {
    let backend = Backend::sqlite().await;
    let hook = Webhook {
        url: format!("http://{name}:{}/hook", addr.port()),
        ..webhook(addr)
    };
    backend.webhooks.register(&hook).await.expect("register");
    let deliverer = Deliverer::with_lookup(&fast(1), policy, dns).expect("client");
    let worker = WebhookWorker::with_deliverer(backend.webhooks.clone(), fast(1), deliverer);
    let (stop, rx) = oneshot::channel::<()>();
    tokio::spawn(worker.run_until(async move {
        let _ = rx.await;
    }));
    backend.import_sample().await;
    let mut letters = Vec::new();
    for _ in 0..3000 {
        if expect_delivered && receiver.delivered().len() == SAMPLE_EVENTS as usize {
            break;
        }
        letters = backend
            .webhooks
            .dead_letters(&hook.id)
            .await
            .expect("letters");
        if letters.len() == SAMPLE_EVENTS as usize {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    letters
}

/// DNS rebinding: the name passes the check at registration (a public address), then
/// resolves to loopback, where a receiver listens, when the deliveries are made. The
/// deliveries are refused, and the receiver gets nothing: the client connects only to
/// the addresses its resolver judged. A name resolving to a private address is refused
/// the same way; with the name allowed, it is delivered to (the fake name service is
/// what the client connects by).
#[tokio::test]
async fn a_name_resolving_to_a_refused_address_at_delivery_time_gets_nothing() {
    let receiver = Receiver::new(Answer::Accept);
    let (addr, _stop) = receiver.serve("127.0.0.1:0".parse().expect("addr")).await;
    let dns = Arc::new(FakeDns::default());
    let name = "hooks.partner.test";
    let url = format!("http://{name}:{}/hook", addr.port());

    dns.set(name, "203.0.113.7");
    UrlPolicy::default()
        .check_with(&url, &*dns)
        .await
        .expect("a public address passes at registration");
    dns.set(name, "127.0.0.1");
    let letters = deliver_via_name(
        name,
        dns.clone(),
        UrlPolicy::default(),
        &receiver,
        addr,
        false,
    )
    .await;
    assert_eq!(
        letters.len(),
        SAMPLE_EVENTS as usize,
        "every delivery refused"
    );
    assert!(
        letters.iter().all(|l| l.last_error == outcome::REFUSED),
        "{:?}",
        letters.first().map(|l| &l.last_error)
    );
    assert!(
        receiver.got().is_empty(),
        "nothing reached the loopback receiver"
    );

    dns.set(name, "10.0.0.5");
    let letters = deliver_via_name(
        name,
        dns.clone(),
        UrlPolicy::default(),
        &receiver,
        addr,
        false,
    )
    .await;
    assert_eq!(letters.len(), SAMPLE_EVENTS as usize);
    assert!(letters.iter().all(|l| l.last_error == outcome::REFUSED));

    // The control: the operator allows the name, so it is delivered to, at the address
    // the fake name service gives (what the client connects to).
    dns.set(name, "127.0.0.1");
    deliver_via_name(
        name,
        dns.clone(),
        UrlPolicy::allowing([name]),
        &receiver,
        addr,
        true,
    )
    .await;
    assert_every_change_once_in_order(&receiver);
}

/// What a failed delivery records says no more than whether it could connect: a
/// closed port and a port that speaks something else than HTTP do not read as what
/// they are in detail, and a metadata address is refused before any connection.
#[tokio::test]
async fn dead_letters_say_little_about_the_target() {
    let receiver = Receiver::new(Answer::Accept);
    let dns = Arc::new(FakeDns::default());
    let loopback = || UrlPolicy::allowing(["127.0.0.1"]);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let letters = deliver_via_name(
        "127.0.0.1",
        dns.clone(),
        loopback(),
        &receiver,
        closed,
        false,
    )
    .await;
    assert_eq!(letters.len(), SAMPLE_EVENTS as usize);
    assert!(
        letters
            .iter()
            .all(|l| l.last_error == outcome::CANNOT_CONNECT)
    );

    let talker = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let talking = talker.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = talker.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = socket.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
            let _ = socket.shutdown().await;
        }
    });
    let letters = deliver_via_name(
        "127.0.0.1",
        dns.clone(),
        loopback(),
        &receiver,
        talking,
        false,
    )
    .await;
    assert_eq!(letters.len(), SAMPLE_EVENTS as usize);
    assert!(
        letters
            .iter()
            .all(|l| l.last_error == outcome::NO_HTTP_ANSWER),
        "{:?}",
        letters.first().map(|l| &l.last_error)
    );

    let letters =
        deliver_via_name("169.254.169.254", dns, loopback(), &receiver, closed, false).await;
    assert_eq!(letters.len(), SAMPLE_EVENTS as usize);
    assert!(letters.iter().all(|l| l.last_error == outcome::REFUSED));
    assert!(receiver.got().is_empty());
}

/// The Fieldbrook minutes (87 events of `fieldbrook-sanitation`).
fn fieldbrook_minutes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/minutes/fieldbrook-sanitation.jsonl")
}

/// The number of events of [`fieldbrook_minutes`].
const FIELDBROOK_EVENTS: usize = 87;

async fn a_webhook_gets_each_overdue_announcement_once(backend: Backend) {
    let receiver = Receiver::new(Answer::Accept);
    let (addr, stop) = receiver.serve("127.0.0.1:0".parse().expect("addr")).await;
    let hook = webhook(addr);
    backend.webhooks.register(&hook).await.expect("register");
    let worker = backend.worker(fast(10));
    backend.import_and_project(&fieldbrook_minutes()).await;
    let today = chrono::NaiveDate::from_ymd_opt(2029, 10, 1).expect("a date");
    let first = backend
        .overdue_timer(today)
        .await
        .tick()
        .await
        .expect("tick");
    assert_eq!(first.len(), 2, "c-fbc-subsidy and c-emptiers-tankers");
    until("the events and the two announcements delivered", || {
        receiver.delivered().len() >= FIELDBROOK_EVENTS + 2
    })
    .await;
    let delivered = receiver.delivered();
    assert_eq!(
        &delivered[FIELDBROOK_EVENTS..],
        &first[..],
        "after the events"
    );
    let overdue_ids: Vec<String> = receiver
        .got()
        .iter()
        .map(|r| r.delivery.clone())
        .filter(|d| d.contains(":overdue:"))
        .collect();
    assert_eq!(
        overdue_ids,
        [
            format!(
                "{}:fieldbrook-sanitation:overdue:c-fbc-subsidy:2029-09-30",
                hook.id
            ),
            format!(
                "{}:fieldbrook-sanitation:overdue:c-emptiers-tankers:2029-09-30",
                hook.id
            ),
        ]
    );

    // A restarted worker and a restarted timer: the Fieldbrook announcements are not
    // delivered again. The sample minutes' own announcements, made after them, show
    // that the feed went past where a repeat would have come.
    let _ = worker.send(());
    let worker = backend.worker(fast(10));
    backend.import_and_project(&sample_minutes()).await;
    let second = backend
        .overdue_timer(today)
        .await
        .tick()
        .await
        .expect("tick");
    assert!(
        !second.is_empty()
            && second
                .iter()
                .all(|c| c.negotiation_id.as_str() == "harbourside-waste"),
        "only the sample minutes' commitments are newly overdue: {second:?}"
    );
    let total = FIELDBROOK_EVENTS + 2 + SAMPLE_EVENTS as usize + second.len();
    until("every change and announcement delivered", || {
        receiver.delivered().len() >= total
    })
    .await;
    let delivered = receiver.delivered();
    assert_eq!(delivered.len(), total);
    assert_eq!(&delivered[total - second.len()..], &second[..]);
    let repeats = receiver
        .got()
        .iter()
        .filter(|r| r.delivery.contains(":fieldbrook-sanitation:overdue:"))
        .count();
    assert_eq!(repeats, 2, "each Fieldbrook announcement was posted once");
    let _ = worker.send(());
    let _ = stop.send(());
}

#[tokio::test]
async fn embedded_webhook_gets_each_overdue_announcement_once() {
    a_webhook_gets_each_overdue_announcement_once(Backend::sqlite().await).await;
}

#[tokio::test]
async fn nats_webhook_gets_each_overdue_announcement_once() {
    a_webhook_gets_each_overdue_announcement_once(Backend::nats().await).await;
}
