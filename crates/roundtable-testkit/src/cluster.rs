//! A JetStream cluster of `nats-server` processes on loopback, one config file per
//! node, whose nodes can be killed, restarted, paused and resumed one at a time.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::future::join_all;
use tempfile::TempDir;

use crate::TestkitError;
use crate::binary::ServerBinary;
use crate::process::{ServerProcess, log_path, pid_path, read_from, tail};
use crate::server::READY_TIMEOUT;

/// The JetStream domain every node of a test cluster shares.
pub const CLUSTER_DOMAIN: &str = "roundtable";

/// The cluster name in every node's `cluster` block.
pub const CLUSTER_NAME: &str = "roundtable-testkit";

/// How long one request to the JetStream API may take before the kit gives up on it.
const API_TIMEOUT: Duration = Duration::from_secs(2);

/// One node: its ports (fixed for its life, so that restarts rejoin the same routes),
/// its directory (config file, store, log, pid file) and its process while running.
#[derive(Debug)]
struct Node {
    name: String,
    client_port: u16,
    cluster_port: u16,
    http_port: u16,
    dir: PathBuf,
    process: Option<ServerProcess>,
    paused: bool,
}

impl Node {
    fn config_path(&self) -> PathBuf {
        self.dir.join("nats-server.conf")
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.join("store")
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }

    fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(ServerProcess::is_running)
    }

    /// Whether it is running and not paused: whether it can answer.
    fn answers(&mut self) -> bool {
        !self.paused && self.is_running()
    }

    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
        self.paused = false;
    }
}

/// A running JetStream cluster of `nats-server` processes on `127.0.0.1`, for one test.
///
/// Each node gets three ports reserved up front (client, route, monitoring) and a
/// directory of its own holding `nats-server.conf`, its JetStream store and its log.
/// Its config file:
///
/// ```text
/// server_name: rt-node-1
/// listen: 127.0.0.1:CLIENT_PORT
/// http: 127.0.0.1:MONITOR_PORT
/// jetstream { store_dir: "DIR/store", domain: roundtable, sync_interval: always }
/// cluster {
///   name: roundtable-testkit
///   listen: 127.0.0.1:ROUTE_PORT
///   routes: [nats-route://127.0.0.1:ROUTE_PORT_1, ...every node...]
/// }
/// ```
///
/// `sync_interval: always` makes every node fsync each message before it counts
/// towards the acknowledgement, as in `deploy/nats/cluster/`: acknowledged writes then
/// survive all the nodes being killed at once.
///
/// Nodes are numbered from 0. [`NatsCluster::kill`] (SIGKILL), [`NatsCluster::restart`]
/// (same ports, config and store), [`NatsCluster::pause`] (SIGSTOP: the process stays
/// but answers nothing, so the others stop hearing its heartbeats) and
/// [`NatsCluster::resume`] (SIGCONT) act on one node; [`NatsCluster::stream_leader`]
/// asks the JetStream API which node leads a stream. Dropping the cluster kills every
/// node and removes the directories; when dropped during a panic it first prints the
/// end of each node's log.
///
/// # Panics
/// The methods taking a node index panic when it is not below [`NatsCluster::size`].
#[derive(Debug)]
pub struct NatsCluster {
    // Declared before `dir`: processes are killed before their directories go.
    nodes: Vec<Node>,
    binary: ServerBinary,
    dir: TempDir,
}

impl NatsCluster {
    /// Starts a cluster of `size` nodes (3 for a cluster that survives the loss of
    /// one) with the `nats-server` found by [`ServerBinary::locate`], and waits until
    /// every node takes clients and JetStream has a meta leader.
    ///
    /// # Errors
    /// Those of [`ServerBinary::locate`] and of [`NatsCluster::start_with`].
    pub async fn start(size: usize) -> Result<NatsCluster, TestkitError> {
        NatsCluster::start_with(ServerBinary::locate()?, size).await
    }

    /// Starts a cluster of `size` nodes running `binary`.
    ///
    /// # Errors
    /// [`TestkitError::Io`] when a directory, file, port or process cannot be made;
    /// [`TestkitError::Start`] when a node exits early or the cluster is not ready
    /// within [`READY_TIMEOUT`], with the end of the logs.
    pub async fn start_with(
        binary: ServerBinary,
        size: usize,
    ) -> Result<NatsCluster, TestkitError> {
        if size == 0 {
            return Err(TestkitError::Start(
                "a cluster needs at least one node".into(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("roundtable-nats-cluster-")
            .tempdir()
            .map_err(|e| TestkitError::Io(format!("cannot create a temporary directory: {e}")))?;
        let ports = free_ports(3 * size)?;
        let mut nodes = Vec::with_capacity(size);
        for i in 0..size {
            let node_dir = dir.path().join(format!("node-{}", i + 1));
            fs::create_dir_all(node_dir.join("store")).map_err(|e| {
                TestkitError::Io(format!("cannot create {}: {e}", node_dir.display()))
            })?;
            nodes.push(Node {
                name: format!("rt-node-{}", i + 1),
                client_port: ports[3 * i],
                cluster_port: ports[3 * i + 1],
                http_port: ports[3 * i + 2],
                dir: node_dir,
                process: None,
                paused: false,
            });
        }
        let routes: Vec<u16> = nodes.iter().map(|n| n.cluster_port).collect();
        for node in &nodes {
            let path = node.config_path();
            fs::write(&path, node_config(node, &routes))
                .map_err(|e| TestkitError::Io(format!("cannot write {}: {e}", path.display())))?;
        }
        let mut cluster = NatsCluster { nodes, binary, dir };
        cluster.restart_all().await?;
        Ok(cluster)
    }

    /// The number of nodes.
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// The client URL of node `i`: `nats://127.0.0.1:PORT`.
    pub fn url(&self, i: usize) -> String {
        self.node(i).url()
    }

    /// The client URLs of every node, comma-separated, as Roundtable's `--nats-url`
    /// takes them: a client connects to whichever node answers (and reconnects to
    /// another when its node dies).
    pub fn urls(&self) -> String {
        self.url_list().join(",")
    }

    /// The client URL of every node, in node order (for `async_nats::connect`, which
    /// takes a list rather than a comma-separated string).
    pub fn url_list(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// The monitoring URL of node `i` (`/healthz`, `/jsz`, `/varz`):
    /// `http://127.0.0.1:PORT`.
    pub fn monitor_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.node(i).http_port)
    }

    /// The `server_name` of node `i` (`rt-node-1` for node 0), as JetStream reports
    /// leaders and replicas.
    pub fn server_name(&self, i: usize) -> &str {
        &self.node(i).name
    }

    /// The index of the node called `name`, if any.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The config file of node `i`.
    pub fn config_path(&self, i: usize) -> PathBuf {
        self.node(i).config_path()
    }

    /// The JetStream store directory of node `i`.
    pub fn store_dir(&self, i: usize) -> PathBuf {
        self.node(i).store_dir()
    }

    /// Everything node `i` has logged so far, across restarts.
    pub fn log(&self, i: usize) -> String {
        read_from(&log_path(&self.node(i).dir), 0)
    }

    /// The directory holding every node's files (`node-1/`, `node-2/`...: config file,
    /// store, log); removed when the cluster is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The executable the nodes run.
    pub fn binary(&self) -> &ServerBinary {
        &self.binary
    }

    /// The process id of node `i`, while it runs (paused or not).
    pub fn pid(&mut self, i: usize) -> Option<u32> {
        let node = self.node_mut(i);
        let process = node.process.as_mut()?;
        process.is_running().then(|| process.id())
    }

    /// Whether node `i`'s process is running (paused counts as running).
    pub fn is_running(&mut self, i: usize) -> bool {
        self.node_mut(i).is_running()
    }

    /// Whether node `i` is paused (SIGSTOP) and not yet resumed.
    pub fn is_paused(&self, i: usize) -> bool {
        self.node(i).paused
    }

    /// Kills node `i` with SIGKILL, as a crash or power loss would, and reaps it.
    /// Does nothing when it is not running.
    pub fn kill(&mut self, i: usize) {
        self.node_mut(i).kill();
    }

    /// Kills every node at once (SIGKILL), as a power loss of the whole site would.
    pub fn kill_all(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }

    /// Starts node `i` again with its config file (same ports, routes and store),
    /// killing it first if it still runs, and waits until it takes clients.
    ///
    /// It rejoins the cluster in the background; [`NatsCluster::wait_until_ready`]
    /// waits until its JetStream answers too.
    ///
    /// # Errors
    /// [`TestkitError::Start`] when it exits early, does not take clients within
    /// [`READY_TIMEOUT`], or comes back on another port (its port was taken).
    pub async fn restart(&mut self, i: usize) -> Result<(), TestkitError> {
        self.node_mut(i).kill();
        let process = start_node(&self.binary, self.node(i)).await?;
        self.node_mut(i).process = Some(process);
        Ok(())
    }

    /// Starts every node that is not running (all at once, as after a site-wide power
    /// loss), then waits until the cluster is ready ([`NatsCluster::wait_until_ready`]).
    ///
    /// # Errors
    /// As [`NatsCluster::restart`] and [`NatsCluster::wait_until_ready`].
    pub async fn restart_all(&mut self) -> Result<(), TestkitError> {
        let down: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].is_running())
            .collect();
        for &i in &down {
            self.nodes[i].kill();
        }
        let binary = &self.binary;
        let nodes = &self.nodes;
        let started = join_all(down.iter().map(|&i| start_node(binary, &nodes[i]))).await;
        let mut first_error = None;
        for (i, result) in down.into_iter().zip(started) {
            match result {
                Ok(process) => self.nodes[i].process = Some(process),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        self.wait_until_ready(READY_TIMEOUT).await
    }

    /// Pauses node `i` with SIGSTOP: the process keeps its sockets but answers nothing,
    /// so the other nodes stop hearing its heartbeats and, after their election
    /// timeout, treat it as gone (a stream it led gets a new leader). Its clients'
    /// requests time out.
    ///
    /// # Errors
    /// [`TestkitError::Io`] when the node does not run or the signal cannot be sent.
    pub fn pause(&mut self, i: usize) -> Result<(), TestkitError> {
        let node = self.node_mut(i);
        let Some(process) = node.process.as_ref() else {
            return Err(TestkitError::Io(format!("{} is not running", node.name)));
        };
        process.pause()?;
        node.paused = true;
        Ok(())
    }

    /// Resumes node `i` with SIGCONT after [`NatsCluster::pause`]: it finds that the
    /// cluster moved on and catches up. Does nothing when it is not paused.
    ///
    /// # Errors
    /// [`TestkitError::Io`] when the signal cannot be sent.
    pub fn resume(&mut self, i: usize) -> Result<(), TestkitError> {
        let node = self.node_mut(i);
        if !node.paused {
            return Ok(());
        }
        if let Some(process) = node.process.as_ref() {
            process.signal("CONT")?;
        }
        node.paused = false;
        Ok(())
    }

    /// Waits up to `timeout` until every node that runs and is not paused answers a
    /// JetStream API request (`$JS.API.INFO`) without error: the meta leader is elected
    /// and the node has joined it.
    ///
    /// # Errors
    /// [`TestkitError::Start`] when that does not happen in time, with the last answer
    /// and the end of the logs.
    pub async fn wait_until_ready(&mut self, timeout: Duration) -> Result<(), TestkitError> {
        let deadline = Instant::now() + timeout;
        let urls: Vec<String> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.answers().then(|| n.url()))
            .collect();
        for url in urls {
            loop {
                let last = match api_request(&url, "$JS.API.INFO").await {
                    Ok(reply) if reply.get("error").is_none() => break,
                    Ok(reply) => reply.to_string(),
                    Err(e) => e,
                };
                if Instant::now() >= deadline {
                    return Err(TestkitError::Start(format!(
                        "JetStream at {url} was not ready within {timeout:?} (last answer: {last}); {}",
                        self.log_tails(20)
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The node leading `stream` now, asked of the JetStream API
    /// (`$JS.API.STREAM.INFO.<stream>`, answered by the leader) through the first node
    /// that answers. `None` when no node answers, the stream has no leader at the
    /// moment (an election is under way), or the leader is not a node of this cluster.
    ///
    /// # Errors
    /// [`TestkitError::Start`] when the API answers with an error other than "no
    /// leader right now" (the stream does not exist, for instance).
    pub async fn stream_leader(&mut self, stream: &str) -> Result<Option<usize>, TestkitError> {
        let urls: Vec<String> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.answers().then(|| n.url()))
            .collect();
        let subject = format!("$JS.API.STREAM.INFO.{stream}");
        for url in urls {
            let Ok(reply) = api_request(&url, &subject).await else {
                continue;
            };
            if let Some(error) = reply.get("error") {
                // 10008: JetStream temporarily unavailable; 503: no leader right now.
                let code = error.get("err_code").and_then(serde_json::Value::as_u64);
                let status = error.get("code").and_then(serde_json::Value::as_u64);
                if code == Some(10008) || status == Some(503) {
                    continue;
                }
                return Err(TestkitError::Start(format!(
                    "stream info of {stream} at {url}: {error}"
                )));
            }
            let leader = reply
                .pointer("/cluster/leader")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            return Ok(self.index_of(leader));
        }
        Ok(None)
    }

    /// Waits up to `timeout` for `stream` to have a leader other than `not` (a node
    /// just killed or paused, whose leadership may still be reported for a while), and
    /// returns it.
    ///
    /// # Errors
    /// [`TestkitError::Start`] when there is none in time; those of
    /// [`NatsCluster::stream_leader`].
    pub async fn wait_for_stream_leader(
        &mut self,
        stream: &str,
        not: Option<usize>,
        timeout: Duration,
    ) -> Result<usize, TestkitError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.stream_leader(stream).await? {
                Some(leader) if Some(leader) != not => return Ok(leader),
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(TestkitError::Start(format!(
                    "stream {stream} had no leader{} within {timeout:?}",
                    not.map_or_else(String::new, |n| format!(
                        " other than {}",
                        self.nodes[n].name
                    ))
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn node(&self, i: usize) -> &Node {
        assert!(
            i < self.nodes.len(),
            "no node {i} in a cluster of {}",
            self.nodes.len()
        );
        &self.nodes[i]
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        let size = self.nodes.len();
        assert!(i < size, "no node {i} in a cluster of {size}");
        &mut self.nodes[i]
    }

    /// The last `lines` lines of every node's log, for error messages.
    fn log_tails(&self, lines: usize) -> String {
        let mut text = String::new();
        for node in &self.nodes {
            let _ = write!(
                text,
                "\n--- end of {} log ({}):\n{}",
                node.name,
                log_path(&node.dir).display(),
                tail(&read_from(&log_path(&node.dir), 0), lines)
            );
        }
        text
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        self.kill_all();
        if std::thread::panicking() {
            eprintln!("{}\n---", self.log_tails(40));
        }
    }
}

/// Starts one node with its config file and checks it listens on its own port.
async fn start_node(binary: &ServerBinary, node: &Node) -> Result<ServerProcess, TestkitError> {
    let args: Vec<OsString> = vec!["-c".into(), node.config_path().into_os_string()];
    let (process, port) = ServerProcess::start(
        binary,
        &args,
        &pid_path(&node.dir),
        &log_path(&node.dir),
        READY_TIMEOUT,
    )
    .await?;
    if port != node.client_port {
        return Err(TestkitError::Start(format!(
            "{} listens on port {port} instead of {}",
            node.name, node.client_port
        )));
    }
    Ok(process)
}

/// The config file of `node` in a cluster whose route ports are `routes`.
fn node_config(node: &Node, routes: &[u16]) -> String {
    let routes: Vec<String> = routes
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect();
    format!(
        "# Written by roundtable-testkit for one test.\n\
         server_name: {name}\n\
         listen: 127.0.0.1:{client}\n\
         http: 127.0.0.1:{http}\n\
         jetstream {{\n  store_dir: {store}\n  domain: {CLUSTER_DOMAIN}\n  sync_interval: always\n}}\n\
         cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{cluster}\n  routes: [{routes}]\n}}\n",
        name = node.name,
        client = node.client_port,
        http = node.http_port,
        store = quoted(&node.store_dir()),
        cluster = node.cluster_port,
        routes = routes.join(", "),
    )
}

/// A path as a double-quoted config string.
fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `n` distinct free loopback ports: all bound at once (so they differ), then released
/// for the servers to take.
fn free_ports(n: usize) -> Result<Vec<u16>, TestkitError> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind(("127.0.0.1", 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TestkitError::Io(format!("cannot reserve a loopback port: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TestkitError::Io(format!("cannot read a reserved port: {e}")))
}

/// One request to the JetStream API of the server at `url` (a connection of its own,
/// so that the answer comes from that very node), parsed as JSON.
async fn api_request(url: &str, subject: &str) -> Result<serde_json::Value, String> {
    let attempt = async {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(API_TIMEOUT)
            .max_reconnects(1)
            .connect(url)
            .await
            .map_err(|e| format!("cannot connect to {url}: {e}"))?;
        let reply = client
            .request(subject.to_owned(), "".into())
            .await
            .map_err(|e| format!("{subject} at {url}: {e}"))?;
        serde_json::from_slice(&reply.payload).map_err(|e| format!("{subject} at {url}: {e}"))
    };
    tokio::time::timeout(API_TIMEOUT * 2, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("{subject} at {url}: no answer")))
}
