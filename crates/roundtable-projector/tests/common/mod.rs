//! What the projector's tests share: a backend per test (the embedded store in a
//! temporary directory, or a real nats-server), projectors over fresh connections as
//! separate processes would open them, importing minutes, and comparing views.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use roundtable_app::{CommandHandler, Handled, load};
use roundtable_domain::minutes::parse_line;
use roundtable_domain::{CommandEnvelope, NegotiationId};
use roundtable_nats::{
    FeedConfig, NatsBuckets, NatsChangeSink, NatsConfig, NatsEventFeed, NatsStore,
};
use roundtable_projector::KvViewStore;
use roundtable_projector::ViewStore;
use roundtable_projector::{Projector, ProjectorConfig};
use roundtable_sqlite::{SqliteBuckets, SqliteEventFeed, SqliteStore};
use roundtable_store::{Change, ChangeSink, EventFeed, EventStore, FeedItem, StoreError};
use roundtable_testkit::NatsServer;
use tempfile::TempDir;

/// The consumer name the tests' projectors share unless a test says otherwise.
pub(crate) const NAME: &str = "roundtable-projector";

/// The vendored freshwater consultation (`tests/data/polis-freshwater/`, CC BY 4.0):
/// 3,748 events of one negotiation, `nz-freshwater`.
pub(crate) fn freshwater() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/polis-freshwater/polis-freshwater.jsonl")
}

/// The project's own sample minutes.
pub(crate) fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/minutes")
        .join(file)
}

/// The negotiation id of [`second_negotiation`].
pub(crate) const SECOND: &str = "dockside-waste";

/// The sample minutes (`harbourside-waste`) under the negotiation id [`SECOND`],
/// written as a file of their own in `dir`: a second negotiation with a log of its
/// own, for the tests that need two.
pub(crate) fn second_negotiation(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(example("harbourside-waste.jsonl")).expect("read");
    let renamed = text.replace(
        r#""negotiation_id": "harbourside-waste""#,
        &format!(r#""negotiation_id": "{SECOND}""#),
    );
    assert_eq!(
        renamed.matches(SECOND).count(),
        73,
        "every command line renamed"
    );
    let path = dir.join(format!("{SECOND}.jsonl"));
    std::fs::write(&path, renamed).expect("write");
    path
}

/// One backing store for one test.
pub(crate) enum Env {
    /// The embedded store, one file in a temporary directory.
    Sqlite { dir: TempDir },
    /// A nats-server of its own.
    Nats { server: NatsServer },
}

/// A projector's connections, as one process would hold them.
pub(crate) struct Client {
    pub(crate) events: Arc<dyn EventStore>,
    pub(crate) views: Arc<dyn ViewStore>,
    nats: Option<Arc<NatsStore>>,
    sqlite: Option<SqliteStore>,
}

impl Env {
    pub(crate) async fn sqlite() -> Env {
        Env::Sqlite {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) async fn nats() -> Env {
        Env::Nats {
            server: NatsServer::start().await.expect("start nats-server"),
        }
    }

    pub(crate) fn is_nats(&self) -> bool {
        matches!(self, Env::Nats { .. })
    }

    /// New connections to the backing store.
    pub(crate) async fn client(&self) -> Client {
        match self {
            Env::Sqlite { dir } => {
                let path = dir.path().to_owned();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open_in_dir(&path))
                    .await
                    .expect("open task")
                    .expect("open the store");
                Client {
                    events: Arc::new(store.clone()),
                    views: Arc::new(
                        KvViewStore::open(&SqliteBuckets::new(&store))
                            .await
                            .expect("views"),
                    ),
                    nats: None,
                    sqlite: Some(store),
                }
            }
            Env::Nats { server } => {
                let store = NatsStore::connect(&server.url(), NatsConfig::default())
                    .await
                    .expect("connect");
                let store = Arc::new(store);
                let views = KvViewStore::open(&NatsBuckets::new(store.clone()))
                    .await
                    .expect("views");
                Client {
                    events: store.clone(),
                    views: Arc::new(views),
                    nats: Some(store),
                    sqlite: None,
                }
            }
        }
    }

    /// A raw NATS client of the test's server.
    pub(crate) async fn raw_nats(&self) -> async_nats::Client {
        let Env::Nats { server } = self else {
            panic!("not a nats test")
        };
        async_nats::connect(server.url()).await.expect("connect")
    }

    /// Records an entry that is not an event for negotiation `x`: a message
    /// published by hand on `roundtable.events.x`, or a row written behind the
    /// store's back.
    pub(crate) async fn record_garbage(&self) {
        self.record_garbage_on("x", 1).await;
    }

    /// Records an entry that is not an event on `negotiation`'s subject (NATS), or as
    /// its row at `version` (embedded, where a row needs a version).
    pub(crate) async fn record_garbage_on(&self, negotiation: &str, version: u64) {
        match self {
            Env::Nats { .. } => {
                let js = async_nats::jetstream::new(self.raw_nats().await);
                js.publish(
                    format!("roundtable.events.{negotiation}"),
                    "this is not an event".into(),
                )
                .await
                .expect("publish")
                .await
                .expect("stored");
            }
            Env::Sqlite { dir } => {
                let conn =
                    rusqlite::Connection::open(dir.path().join(roundtable_sqlite::DB_FILE_NAME))
                        .expect("raw open");
                conn.busy_timeout(Duration::from_secs(10))
                    .expect("busy timeout");
                conn.execute(
                    "INSERT INTO events
                        (negotiation_id, version, command_id, event_id, event_type, recorded_at, body)
                     VALUES (?1, ?2, 'garbage', 'garbage', 'garbage', 'now', x'6e6f7420616e206576656e74')",
                    rusqlite::params![negotiation, i64::try_from(version).expect("small")],
                )
                .expect("insert");
            }
        }
    }
}

impl Client {
    /// A feed under `name`; on NATS, entries not acknowledged come again after a
    /// second.
    pub(crate) async fn feed(&self, name: &str) -> Box<dyn EventFeed> {
        if let Some(store) = &self.nats {
            let config = FeedConfig {
                ack_wait: Duration::from_secs(1),
                ..FeedConfig::named(name)
            };
            Box::new(NatsEventFeed::open(store, config).await.expect("feed"))
        } else {
            let store = self.sqlite.as_ref().expect("a store");
            Box::new(SqliteEventFeed::open(store, name).await.expect("feed"))
        }
    }

    /// The key-value buckets of the backend.
    pub(crate) fn buckets(&self) -> Arc<dyn roundtable_store::KvBuckets> {
        match (&self.nats, &self.sqlite) {
            (Some(store), _) => Arc::new(NatsBuckets::new(store.clone())),
            (None, Some(store)) => Arc::new(SqliteBuckets::new(store)),
            (None, None) => unreachable!("a client has a store"),
        }
    }

    /// The change sink of the backend: NATS subjects, or nothing.
    pub(crate) fn sink(&self) -> Arc<dyn ChangeSink> {
        match &self.nats {
            Some(store) => Arc::new(NatsChangeSink::new(store)),
            None => Arc::new(roundtable_store::NoChanges),
        }
    }

    /// A projector under `name` whose changes go both to the backend's sink and to
    /// `recorder`.
    pub(crate) async fn projector(&self, name: &str, recorder: &Recorder) -> Projector {
        let changes = Arc::new(Tee {
            first: self.sink(),
            second: recorder.clone(),
        });
        Projector::new(
            self.events.clone(),
            self.views.clone(),
            self.feed(name).await,
            changes,
        )
    }

    /// Like [`Client::projector`] with other settings.
    pub(crate) async fn projector_with(
        &self,
        name: &str,
        recorder: &Recorder,
        config: ProjectorConfig,
    ) -> Projector {
        self.projector(name, recorder).await.with_config(config)
    }
}

/// Feeds the minutes in `path` through the command handler; every line must be
/// accepted. Returns how many events were recorded.
pub(crate) async fn import(events: Arc<dyn EventStore>, path: &Path) -> u64 {
    let handler = CommandHandler::new(events);
    let text = std::fs::read_to_string(path).expect("read minutes");
    let mut recorded = 0;
    for (n, line) in text.lines().enumerate() {
        let parsed = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let Some(cmd) = parsed else { continue };
        let cmd = CommandEnvelope {
            command_id: cmd.command_id,
            negotiation_id: cmd.negotiation_id,
            actor: cmd.actor,
            occurred_at: cmd.at.expect("every minutes line has a time"),
            command: cmd.command,
        };
        match handler.handle(&cmd).await {
            Ok(Handled::Recorded(_)) => recorded += 1,
            Ok(Handled::AlreadyRecorded(_)) => {}
            Err(e) => panic!("{} line {}: {e}", path.display(), n + 1),
        }
    }
    recorded
}

/// Every negotiation's stored view is the fold of its events, byte for byte as JSON,
/// and there is no other view. Returns the number of events of all of them.
pub(crate) async fn assert_views_are_the_fold(client: &Client) -> u64 {
    let negotiations = client.events.negotiations().await.expect("negotiations");
    let negotiations: Vec<NegotiationId> = negotiations
        .into_iter()
        .filter(|n| n.as_str() != "x")
        .collect();
    assert_eq!(client.views.list().await.expect("list"), negotiations);
    let mut events = 0;
    for n in &negotiations {
        let folded = load(&*client.events, n).await.expect("load");
        let stored = client.views.get(n).await.expect("get").expect("a view");
        let folded = folded.view.expect("opened");
        assert_eq!(stored.view.version, folded.version, "{n}");
        assert!(
            serde_json::to_vec(&stored.view).expect("json")
                == serde_json::to_vec(&folded).expect("json"),
            "{n}: the stored view differs from the fold of its events"
        );
        events += folded.version;
    }
    events
}

/// The stored views as JSON, by negotiation.
pub(crate) async fn snapshot(client: &Client) -> Vec<(NegotiationId, Vec<u8>)> {
    let mut out = Vec::new();
    for n in client.views.list().await.expect("list") {
        let stored = client.views.get(&n).await.expect("get").expect("a view");
        out.push((n, serde_json::to_vec(&stored.view).expect("json")));
    }
    out
}

/// A change sink that keeps every change, shared between projectors.
#[derive(Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Change>>>);

impl Recorder {
    pub(crate) fn changes(&self) -> Vec<Change> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl ChangeSink for Recorder {
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(change.clone());
        Ok(())
    }
}

struct Tee {
    first: Arc<dyn ChangeSink>,
    second: Recorder,
}

#[async_trait]
impl ChangeSink for Tee {
    async fn publish(&self, change: &Change) -> Result<(), StoreError> {
        self.first.publish(change).await?;
        self.second.publish(change).await
    }

    async fn last_announced(
        &self,
        negotiation: &roundtable_domain::NegotiationId,
    ) -> Result<Option<u64>, StoreError> {
        self.first.last_announced(negotiation).await
    }
}

/// Exactly one change per recorded event of every negotiation (`x` aside), and for each
/// negotiation, versions 1, 2, 3... When `in_order`, also in that order as published.
pub(crate) async fn assert_one_change_per_event(
    client: &Client,
    changes: &[Change],
    in_order: bool,
) {
    let negotiations = client.events.negotiations().await.expect("negotiations");
    let mut total = 0;
    for n in negotiations.iter().filter(|n| n.as_str() != "x") {
        let events = client.events.read(n, 0, None).await.expect("read");
        let mut mine: Vec<&Change> = changes.iter().filter(|c| &c.negotiation_id == n).collect();
        if !in_order {
            mine.sort_by_key(|c| c.version);
        }
        let versions: Vec<u64> = mine.iter().map(|c| c.version).collect();
        let expected: Vec<u64> = (1..=events.len() as u64).collect();
        assert_eq!(
            versions, expected,
            "{n}: one change per event, in version order"
        );
        for (c, e) in mine.iter().zip(&events) {
            assert_eq!(c.event_id, e.event_id);
            assert_eq!(c.event_type, e.event_type());
        }
        total += events.len();
    }
    assert_eq!(changes.len(), total, "no change for anything else");
}

/// A feed wrapper whose acknowledgements fail from the `fail_from`-th on: the process
/// dies after storing views and before acknowledging.
pub(crate) struct FailingAck {
    pub(crate) inner: Box<dyn EventFeed>,
    pub(crate) acks: usize,
    pub(crate) fail_from: usize,
}

#[async_trait]
impl EventFeed for FailingAck {
    async fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<FeedItem>, StoreError> {
        self.inner.next(max, wait).await
    }

    async fn ack(&mut self, position: u64) -> Result<(), StoreError> {
        self.acks += 1;
        if self.acks >= self.fail_from {
            return Err(StoreError::unavailable("killed before the ack"));
        }
        self.inner.ack(position).await
    }

    async fn lag(&mut self) -> Result<u64, StoreError> {
        self.inner.lag().await
    }

    async fn reset(&mut self) -> Result<(), StoreError> {
        self.inner.reset().await
    }
}

/// Runs the same async check on both backends: `both!(check)` makes
/// `sqlite::check` and `nats::check`.
#[macro_export]
macro_rules! both {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($crate::common::Env::sqlite().await).await;
                }
            )*
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check($crate::common::Env::nats().await).await;
                }
            )*
        }
    };
}
