//! Fault injection: real `nats-server` processes on loopback (one node, and a
//! three-node JetStream cluster with the stream on 3 replicas), clients sending
//! commands with idempotency keys and recording every acknowledgement, while servers
//! are killed (SIGKILL), paused (SIGSTOP) past the cluster's election timeout and
//! resumed, `roundtable serve` and the projector are killed and restarted mid-load,
//! and clients retry after timeouts whose first attempt did succeed.
//!
//! Afterwards ([`load::check`]): every acknowledged command is in the log exactly once,
//! as the event it was acknowledged with; versions are gapless and the hash chains
//! verify; every stored view equals a fresh fold of its log; no command was
//! acknowledged twice with two different outcomes. Each run prints its counts (sent,
//! acknowledged, retried, found in the log, lost, duplicated...).
//!
//! The load is paced (a client waits [`PACE`] between commands) so that the suite
//! stays within a few minutes on two cores: fewer commands, real faults.

#[path = "common/load.rs"]
mod load;

use std::net::TcpListener;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use load::{Ack, Client, Ledger, Report};
use roundtable_app::{CommandHandler, HandleError, Handled};
use roundtable_domain::{Actor, CommandEnvelope, NegotiationId};
use roundtable_nats::{FeedConfig, NatsBuckets, NatsConfig, NatsEventFeed, NatsStore};
use roundtable_projector::ViewStore;
use roundtable_projector::{KvViewStore, Projector};
use roundtable_store::{EventStore, NoChanges};
use roundtable_testkit::{NatsCluster, NatsServer};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// The stream Roundtable creates.
const STREAM: &str = "ROUNDTABLE_EVENTS";

/// How long a client waits for one answer before it gives up on that attempt and
/// sends the command again (with the same idempotency key): the first attempt may
/// well have been recorded.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The pause between two commands of one client.
const PACE: Duration = Duration::from_millis(30);

/// The pause before a client tries a command again.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// How long a client keeps trying one command before it gives up (far longer than
/// any fault here lasts; a command given up is unacknowledged, not lost).
const GIVE_UP: Duration = Duration::from_secs(120);

/// A guard against a hang: how long the system may take to make progress again
/// after a fault (elections take 4 to 9 s on loopback).
const RECOVERY: Duration = Duration::from_secs(90);

/// Acknowledgements to wait for between two faults, so that each fault lands on a
/// system under load.
const PROGRESS: u64 = 25;

/// Negotiations per run, and clients per negotiation (each as its own partner, with
/// its own connection and command handler: several writers per negotiation).
const NEGOTIATIONS: usize = 3;
const CLIENTS_PER_NEGOTIATION: usize = 2;

fn store_config(replicas: usize) -> NatsConfig {
    NatsConfig {
        replicas,
        request_timeout: Duration::from_secs(2),
        ping_interval: Duration::from_secs(1),
        ..NatsConfig::default()
    }
}

/// Connects to `urls`, trying again while the servers come up or elect a leader.
async fn connect(urls: &str, replicas: usize) -> NatsStore {
    let deadline = Instant::now() + RECOVERY;
    loop {
        match NatsStore::connect(urls, store_config(replicas)).await {
            Ok(store) => return store,
            Err(e) => assert!(Instant::now() < deadline, "connect to {urls}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn negotiations(run: &str) -> Vec<NegotiationId> {
    (0..NEGOTIATIONS)
        .map(|i| NegotiationId::new(format!("{run}-{i}")).expect("valid id"))
        .collect()
}

fn clients(negotiations: &[NegotiationId]) -> Vec<Client> {
    let mut clients = Vec::new();
    for negotiation in negotiations {
        for _ in 0..CLIENTS_PER_NEGOTIATION {
            let index = clients.len();
            clients.push(Client {
                index,
                negotiation: negotiation.clone(),
                partner: format!("partner-{index}"),
            });
        }
    }
    clients
}

/// The commands that open each negotiation and admit its clients' partners (as
/// HTTP bodies, all by the secretariat).
fn set_up_bodies(negotiation: &NegotiationId, clients: &[Client]) -> Vec<Value> {
    let mut bodies = vec![
        json!({"do": "open_negotiation", "title": format!("Faults {negotiation}"),
                                 "service": "water_sanitation"}),
    ];
    for c in clients.iter().filter(|c| &c.negotiation == negotiation) {
        bodies.push(json!({"do": "admit_partner", "partner_id": c.partner, "name": format!("Partner {}", c.index),
                           "sector": "civil_society", "kind": "community_organisation", "role": "signatory"}));
    }
    bodies
}

/// Waits until `count` more commands are acknowledged than `from`.
async fn progress(ledger: &Ledger, count: u64, what: &str) {
    let target = ledger.acknowledged() + count;
    let deadline = Instant::now() + RECOVERY;
    while ledger.acknowledged() < target {
        assert!(
            Instant::now() < deadline,
            "no progress after {what}: {} acknowledged, waiting for {target}",
            ledger.acknowledged()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------
// Clients through the command handler (as the API and the importer use it).

/// The clients of a run, sending until told to stop.
struct Fleet {
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// Stops the clients after their command in flight (which each finishes, with
    /// retries) and waits for them.
    async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.expect("a client task");
        }
    }
}

/// One client through its own command handler over its own connection.
fn spawn_handler_clients(
    clients: &[Client],
    urls: &str,
    replicas: usize,
    ledger: &Arc<Ledger>,
) -> Fleet {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = clients
        .iter()
        .cloned()
        .map(|client| {
            let (urls, ledger, stop) = (urls.to_owned(), ledger.clone(), stop.clone());
            tokio::spawn(async move {
                let store: Arc<dyn EventStore> = Arc::new(connect(&urls, replicas).await);
                let handler = CommandHandler::new(store);
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let (key, body) = client.command(n);
                    let cmd = CommandEnvelope {
                        command_id: load::command_id(&key),
                        negotiation_id: client.negotiation.clone(),
                        actor: Actor::parse(&client.partner).expect("a partner"),
                        occurred_at: Utc::now(),
                        command: load::parse(&body),
                    };
                    if handle_until_acknowledged(&handler, &cmd, &ledger)
                        .await
                        .is_none()
                    {
                        return;
                    }
                    if n % 5 == 4 {
                        // The response was "lost": the client sends it again.
                        let _ = handle_until_acknowledged(&handler, &cmd, &ledger).await;
                    }
                    n += 1;
                    tokio::time::sleep(PACE).await;
                }
            })
        })
        .collect();
    Fleet { stop, tasks }
}

/// Sends `cmd` until it is acknowledged (recorded now, or found recorded before),
/// waiting at most [`CLIENT_TIMEOUT`] for each answer; `None` when it is rejected or
/// [`GIVE_UP`] passes.
async fn handle_until_acknowledged(
    handler: &CommandHandler<dyn EventStore>,
    cmd: &CommandEnvelope,
    ledger: &Ledger,
) -> Option<Ack> {
    let id = cmd.command_id.as_str();
    let deadline = Instant::now() + GIVE_UP;
    loop {
        ledger.attempt(id, &cmd.negotiation_id);
        match tokio::time::timeout(CLIENT_TIMEOUT, handler.handle(cmd)).await {
            Ok(Ok(handled)) => {
                let event = handled.event();
                let ack = Ack {
                    event_id: event.event_id.to_string(),
                    version: event.version,
                    replayed: matches!(handled, Handled::AlreadyRecorded(_)),
                };
                ledger.ack(id, &cmd.negotiation_id, ack.clone());
                return Some(ack);
            }
            Ok(Err(HandleError::Rejected(r))) => {
                ledger.reject(
                    id,
                    &cmd.negotiation_id,
                    format!("{}: {}", r.code, r.message),
                );
                return None;
            }
            // Unavailable, conflicts: the outcome is unknown; the client times out:
            // the same. Send it again.
            Ok(Err(_)) | Err(_) => {}
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

/// Opens the run's negotiations and admits the clients' partners.
async fn set_up_with_handler(store: Arc<dyn EventStore>, clients: &[Client], ledger: &Ledger) {
    let handler = CommandHandler::new(store);
    let negotiations: Vec<NegotiationId> = {
        let mut n: Vec<NegotiationId> = clients.iter().map(|c| c.negotiation.clone()).collect();
        n.dedup();
        n
    };
    for negotiation in &negotiations {
        for (i, body) in set_up_bodies(negotiation, clients).iter().enumerate() {
            let cmd = CommandEnvelope {
                command_id: load::command_id(&format!("setup-{i}")),
                negotiation_id: negotiation.clone(),
                actor: Actor::Secretariat,
                occurred_at: Utc::now(),
                command: load::parse(body),
            };
            handle_until_acknowledged(&handler, &cmd, ledger)
                .await
                .unwrap_or_else(|| panic!("set-up command {i} of {negotiation} acknowledged"));
        }
    }
}

// ---------------------------------------------------------------------------------
// An in-process projector that can be killed (its task aborted mid-batch).

struct RunningProjector {
    task: JoinHandle<()>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// A projector on its own connection, opened as soon as the cluster lets it (it may be
/// electing leaders after a fault).
async fn projector(urls: &str, replicas: usize) -> Projector {
    let deadline = Instant::now() + RECOVERY;
    loop {
        let store = Arc::new(connect(urls, replicas).await);
        let opened = async {
            let views = KvViewStore::open(&NatsBuckets::new(store.clone())).await?;
            let config = FeedConfig {
                ack_wait: Duration::from_secs(2),
                ..FeedConfig::default()
            };
            let feed = NatsEventFeed::open(&store, config).await?;
            Ok::<_, roundtable_store::StoreError>((views, feed))
        };
        match opened.await {
            Ok((views, feed)) => {
                return Projector::new(store, Arc::new(views), Box::new(feed), Arc::new(NoChanges));
            }
            Err(e) => assert!(
                Instant::now() < deadline,
                "cannot open the projector's views and feed: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl RunningProjector {
    async fn start(urls: &str, replicas: usize) -> RunningProjector {
        let mut projector = projector(urls, replicas).await;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            projector
                .run_until(shutdown)
                .await
                .expect("the projector runs");
        });
        RunningProjector { task, stop }
    }

    /// Kills it mid-work: the task is dropped wherever it is, its batch unacknowledged.
    fn kill(self) {
        self.task.abort();
    }

    /// Asks it to stop after its batch, and waits.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The views bucket, opened as soon as the cluster answers.
async fn open_views(store: &Arc<NatsStore>) -> KvViewStore {
    let deadline = Instant::now() + RECOVERY;
    loop {
        match KvViewStore::open(&NatsBuckets::new(store.clone())).await {
            Ok(views) => return views,
            Err(e) => assert!(Instant::now() < deadline, "cannot open the views: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A fresh projector catches up (trying again while the cluster recovers), then the
/// log and the views are checked against the ledger.
async fn catch_up_and_check(
    urls: &str,
    replicas: usize,
    negotiations: &[NegotiationId],
    ledger: &Ledger,
) -> Report {
    let mut projector = projector(urls, replicas).await;
    let deadline = Instant::now() + RECOVERY;
    while let Err(e) = projector.catch_up().await {
        assert!(
            Instant::now() < deadline,
            "the projector cannot catch up: {e}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let store = Arc::new(connect(urls, replicas).await);
    let views = open_views(&store).await;
    load::check(&*store, Some(&views), negotiations, ledger).await
}

// ---------------------------------------------------------------------------------
// One node.

/// One `nats-server`: killed (SIGKILL) and restarted, then paused (SIGSTOP) and
/// resumed, while clients send commands and a projector projects (killed once too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_node_killed_and_paused_loses_nothing_acknowledged() {
    let started = Instant::now();
    let mut server = NatsServer::start().await.expect("start nats-server");
    let url = server.url();
    let negotiations = negotiations("one-node");
    let clients = clients(&negotiations);
    let ledger = Arc::new(Ledger::default());
    set_up_with_handler(Arc::new(connect(&url, 1).await), &clients, &ledger).await;
    let mut projecting = RunningProjector::start(&url, 1).await;
    let fleet = spawn_handler_clients(&clients, &url, 1, &ledger);
    progress(&ledger, PROGRESS, "the start").await;

    server.kill();
    println!("one node: killed the server");
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.restart().await.expect("restart");
    progress(&ledger, PROGRESS, "the restart").await;

    projecting.kill();
    println!("one node: killed the projector");
    progress(&ledger, PROGRESS / 2, "the projector's kill").await;
    projecting = RunningProjector::start(&url, 1).await;

    server.pause().expect("pause");
    println!("one node: paused the server");
    tokio::time::sleep(CLIENT_TIMEOUT * 2).await;
    server.resume().expect("resume");
    progress(&ledger, PROGRESS, "the pause").await;

    fleet.stop().await;
    projecting.stop().await;
    let report = catch_up_and_check(&url, 1, &negotiations, &ledger).await;
    report.assert_clean("one node");
    println!("one node: {:.1} s", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------
// Three nodes.

/// A three-node cluster (stream on 3 replicas): the stream leader killed and restarted,
/// then a follower, then all three nodes at once; then the leader paused past the
/// election timeout (the others elect a new one) and resumed. Clients send all along;
/// a projector runs all along and is killed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_killed_one_by_one_all_at_once_and_paused_lose_nothing_acknowledged() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3).await.expect("start a cluster");
    let urls = cluster.urls();
    let negotiations = negotiations("cluster");
    let clients = clients(&negotiations);
    let ledger = Arc::new(Ledger::default());
    set_up_with_handler(Arc::new(connect(&urls, 3).await), &clients, &ledger).await;
    let mut projecting = RunningProjector::start(&urls, 3).await;
    let fleet = spawn_handler_clients(&clients, &urls, 3, &ledger);
    progress(&ledger, PROGRESS, "the start").await;

    // The stream leader.
    let leader = leader(&mut cluster, None).await;
    cluster.kill(leader);
    println!("cluster: killed the stream leader (node {leader})");
    let next = self::leader(&mut cluster, Some(leader)).await;
    println!("cluster: node {next} leads the stream");
    progress(&ledger, PROGRESS, "the leader's kill").await;
    cluster
        .restart(leader)
        .await
        .expect("restart the old leader");
    cluster.wait_until_ready(RECOVERY).await.expect("ready");
    progress(&ledger, PROGRESS, "the old leader's restart").await;

    // A follower, and the projector.
    let leader = self::leader(&mut cluster, None).await;
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    cluster.kill(follower);
    println!("cluster: killed a follower (node {follower})");
    projecting.kill();
    println!("cluster: killed the projector");
    progress(&ledger, PROGRESS, "the follower's kill").await;
    projecting = RunningProjector::start(&urls, 3).await;
    cluster
        .restart(follower)
        .await
        .expect("restart the follower");
    cluster.wait_until_ready(RECOVERY).await.expect("ready");
    progress(&ledger, PROGRESS, "the follower's restart").await;

    // Every node at once.
    cluster.kill_all();
    println!("cluster: killed all three nodes");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.restart_all().await.expect("restart all");
    println!("cluster: restarted all three nodes");
    progress(&ledger, PROGRESS, "the restart of all nodes").await;

    // The leader paused until the others have elected another.
    let leader = self::leader(&mut cluster, None).await;
    cluster.pause(leader).expect("pause");
    println!("cluster: paused the stream leader (node {leader})");
    let next = self::leader(&mut cluster, Some(leader)).await;
    println!("cluster: node {next} leads the stream while node {leader} is paused");
    progress(&ledger, PROGRESS, "the pause").await;
    cluster.resume(leader).expect("resume");
    println!("cluster: resumed node {leader}");
    progress(&ledger, PROGRESS, "the resume").await;

    fleet.stop().await;
    projecting.stop().await;
    cluster.wait_until_ready(RECOVERY).await.expect("ready");
    let report = catch_up_and_check(&urls, 3, &negotiations, &ledger).await;
    report.assert_clean("three nodes");
    println!("three nodes: {:.1} s", started.elapsed().as_secs_f64());
}

/// The node leading the stream (other than `not`), once there is one.
async fn leader(cluster: &mut NatsCluster, not: Option<usize>) -> usize {
    cluster
        .wait_for_stream_leader(STREAM, not, RECOVERY)
        .await
        .expect("a stream leader")
}

// ---------------------------------------------------------------------------------
// `roundtable serve` and `roundtable project` processes, over HTTP.

/// How long the supervisor waits before starting a process that exited, as systemd's
/// `RestartSec=1` with `Restart=always` (deploy/systemd/).
const RESTART_SEC: Duration = Duration::from_secs(1);

/// A `roundtable` service process on the cluster, supervised as systemd (or Kubernetes)
/// would: whenever it exits, because it was killed or because it gave up (NATS
/// unreachable at start-up during an election), it is started again after
/// [`RESTART_SEC`]. SIGKILLed on drop; its stderr goes to a log file shown when the
/// test fails.
struct Service {
    name: String,
    state: Arc<std::sync::Mutex<Supervised>>,
    stop: Arc<AtomicBool>,
    supervisor: Option<std::thread::JoinHandle<()>>,
    log: tempfile::NamedTempFile,
}

/// The supervised process and how often it was started.
struct Supervised {
    child: Option<Child>,
    exited_at: Option<Instant>,
    starts: u32,
}

impl Service {
    fn start(urls: &str, args: &[&str]) -> Service {
        let mut all = vec![
            "--nats-url".to_owned(),
            urls.to_owned(),
            "--replicas".to_owned(),
            "3".to_owned(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let log_path = log.path().to_owned();
        let state = Arc::new(std::sync::Mutex::new(Supervised {
            child: None,
            exited_at: None,
            starts: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let supervisor = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    {
                        let mut s = lock(&state);
                        if let Some(child) = s.child.as_mut() {
                            if matches!(child.try_wait(), Ok(Some(_))) {
                                s.child = None;
                                s.exited_at = Some(Instant::now());
                            }
                        }
                        let due = s.exited_at.is_none_or(|t| t.elapsed() >= RESTART_SEC);
                        if s.child.is_none() && due {
                            s.child = Some(spawn_roundtable(&all, &log_path));
                            s.starts += 1;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Service {
            name: args.first().copied().unwrap_or_default().to_owned(),
            state,
            stop,
            supervisor: Some(supervisor),
            log,
        }
    }

    /// SIGKILL, as a crash would; the supervisor starts it again.
    fn crash(&self) {
        let mut s = lock(&self.state);
        if let Some(mut child) = s.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            s.exited_at = Some(Instant::now());
        }
    }

    /// How many times it was started (1 + restarts).
    fn starts(&self) -> u32 {
        lock(&self.state).starts
    }
}

fn lock(state: &std::sync::Mutex<Supervised>) -> std::sync::MutexGuard<'_, Supervised> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn spawn_roundtable(args: &[String], log: &std::path::Path) -> Child {
    Process::new(env!("CARGO_BIN_EXE_roundtable"))
        .args(args)
        .env_remove("ROUNDTABLE_JWT_SECRET")
        .env_remove("ROUNDTABLE_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .append(true)
                .open(log)
                .expect("the log file"),
        )
        .spawn()
        .expect("start roundtable")
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(supervisor) = self.supervisor.take() {
            let _ = supervisor.join();
        }
        self.crash();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!(
                "--- end of the log of roundtable {} (started {} times):\n{}",
                self.name,
                self.starts(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// A free loopback port (bound, then released for `serve` to take, again and again).
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One command over HTTP, until acknowledged (201 recorded, 200 replayed); `None`
/// when rejected (a 4xx other than a concurrency conflict) or after [`GIVE_UP`].
async fn post_until_acknowledged(
    http: &reqwest::Client,
    base: &str,
    client: Option<&Client>,
    negotiation: &NegotiationId,
    key: &str,
    body: &Value,
    ledger: &Ledger,
) -> Option<Ack> {
    let actor = client.map_or("secretariat", |c| c.partner.as_str());
    let id = roundtable_app::commands::keyed_command_id(
        &Actor::parse(actor).expect("an actor"),
        negotiation,
        key,
    );
    let id = id.as_str();
    let deadline = Instant::now() + GIVE_UP;
    loop {
        ledger.attempt(id, negotiation);
        let sent = http
            .post(format!("{base}/v1/negotiations/{negotiation}/commands"))
            .header("Idempotency-Key", key)
            .header("X-Roundtable-Actor", actor)
            .json(body)
            .send()
            .await;
        if let Ok(response) = sent {
            let status = response.status().as_u16();
            let reply: Value = response.json().await.unwrap_or(Value::Null);
            match status {
                200 | 201 => {
                    let ack = Ack {
                        event_id: reply["event"]["event_id"]
                            .as_str()
                            .expect("the event's id")
                            .to_owned(),
                        version: reply["version"].as_u64().expect("the version"),
                        replayed: status == 200,
                    };
                    ledger.ack(id, negotiation, ack.clone());
                    return Some(ack);
                }
                409 if reply["code"] == "concurrent_modification" => {}
                400..=499 => {
                    ledger.reject(id, negotiation, format!("{status}: {reply}"));
                    return None;
                }
                _ => {}
            }
        }
        // No answer in time, no server, or 5xx: the outcome is unknown. Send it again.
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

fn spawn_http_clients(clients: &[Client], base: &str, ledger: &Arc<Ledger>) -> Fleet {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = clients
        .iter()
        .cloned()
        .map(|client| {
            let (base, ledger, stop) = (base.to_owned(), ledger.clone(), stop.clone());
            tokio::spawn(async move {
                let http = http_client();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let (key, body) = client.command(n);
                    let send = || {
                        post_until_acknowledged(
                            &http,
                            &base,
                            Some(&client),
                            &client.negotiation,
                            &key,
                            &body,
                            &ledger,
                        )
                    };
                    if send().await.is_none() {
                        return;
                    }
                    if n % 5 == 4 {
                        let _ = send().await;
                    }
                    n += 1;
                    tokio::time::sleep(PACE).await;
                }
            })
        })
        .collect();
    Fleet { stop, tasks }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// Waits until the stored view of every negotiation has reached its log's last
/// version (the projector processes have caught up).
async fn views_caught_up(urls: &str, negotiations: &[NegotiationId]) {
    let store = Arc::new(connect(urls, 3).await);
    let views = open_views(&store).await;
    let deadline = Instant::now() + RECOVERY;
    for n in negotiations {
        loop {
            let last = store.last_version(n).await.unwrap_or(u64::MAX);
            let have = views
                .get(n)
                .await
                .ok()
                .flatten()
                .map_or(0, |s| s.view.version);
            if have == last {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{n}: the view stayed at version {have}, the log is at {last}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `roundtable serve` (the API and a projector) and a second `roundtable project` on a
/// three-node cluster, clients over HTTP: `serve` killed (SIGKILL) and restarted on the
/// same port, the separate projector killed and restarted, and the stream leader killed
/// under them, all mid-load. The views the processes store must equal a fresh fold, and
/// `roundtable verify --negotiation` must pass each negotiation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_projector_killed_mid_load_over_http_lose_nothing_acknowledged() {
    let started = Instant::now();
    let mut cluster = NatsCluster::start(3).await.expect("start a cluster");
    let urls = cluster.urls();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let serve = Service::start(
        &urls,
        &["serve", "--listen", &listen, "--insecure-dev-mode"],
    );
    let project = Service::start(&urls, &["project"]);
    let negotiations = negotiations("http");
    let clients = clients(&negotiations);
    let ledger = Arc::new(Ledger::default());
    let http = http_client();
    for negotiation in &negotiations {
        for (i, body) in set_up_bodies(negotiation, &clients).iter().enumerate() {
            post_until_acknowledged(
                &http,
                &base,
                None,
                negotiation,
                &format!("setup-{i}"),
                body,
                &ledger,
            )
            .await
            .unwrap_or_else(|| panic!("set-up command {i} of {negotiation} acknowledged"));
        }
    }
    let fleet = spawn_http_clients(&clients, &base, &ledger);
    progress(&ledger, PROGRESS, "the start").await;

    serve.crash();
    println!("http: killed roundtable serve");
    progress(&ledger, PROGRESS, "the restart of serve").await;

    project.crash();
    println!("http: killed roundtable project");
    progress(&ledger, PROGRESS, "the projector's kill").await;

    let leader = leader(&mut cluster, None).await;
    cluster.kill(leader);
    println!("http: killed the stream leader (node {leader})");
    progress(&ledger, PROGRESS, "the leader's kill").await;
    cluster
        .restart(leader)
        .await
        .expect("restart the old leader");
    cluster.wait_until_ready(RECOVERY).await.expect("ready");

    serve.crash();
    project.crash();
    println!("http: killed roundtable serve and roundtable project together");
    progress(&ledger, PROGRESS, "the second restart of serve").await;

    fleet.stop().await;
    views_caught_up(&urls, &negotiations).await;
    let store = Arc::new(connect(&urls, 3).await);
    let views = open_views(&store).await;
    let report = load::check(
        &*store,
        Some(&views as &dyn ViewStore),
        &negotiations,
        &ledger,
    )
    .await;
    for n in &negotiations {
        let verified = Process::new(env!("CARGO_BIN_EXE_roundtable"))
            .args(["--nats-url", &urls, "verify", "--negotiation", n.as_str()])
            .output()
            .expect("roundtable verify runs");
        assert!(
            verified.status.success(),
            "{n}: roundtable verify failed: {}{}",
            String::from_utf8_lossy(&verified.stdout),
            String::from_utf8_lossy(&verified.stderr)
        );
    }
    println!(
        "http: roundtable serve started {} times, roundtable project {} times",
        serve.starts(),
        project.starts()
    );
    drop(serve);
    drop(project);
    report.assert_clean("http");
    println!("http: {:.1} s", started.elapsed().as_secs_f64());
}
