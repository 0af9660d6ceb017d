//! The three-node cluster of the test kit against the real `nats-server` on this
//! machine: nodes killed, restarted, paused and resumed, and the stream leader found.

use std::process::Command;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use roundtable_testkit::{CLUSTER_DOMAIN, NatsCluster};

const STREAM: &str = "KIT";
/// Longer than any election on loopback (nats-server elects within 4 to 9 s).
const ELECTION: Duration = Duration::from_secs(30);

async fn jetstream(cluster: &NatsCluster) -> jetstream::Context {
    let client = async_nats::ConnectOptions::new()
        .ping_interval(Duration::from_secs(1))
        .connect(cluster.url_list().as_slice())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", cluster.urls()));
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client)
}

async fn replicated_stream(js: &jetstream::Context) {
    js.create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec!["kit.>".into()],
        num_replicas: 3,
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create a stream with 3 replicas");
}

/// Publishes `payload`, trying again (same message id, so at most one copy is kept)
/// until the cluster acknowledges it.
async fn publish(js: &jetstream::Context, payload: String) {
    let deadline = Instant::now() + ELECTION;
    loop {
        let attempt = async {
            let headers = {
                let mut h = async_nats::HeaderMap::new();
                h.insert("Nats-Msg-Id", payload.as_str());
                h
            };
            js.publish_with_headers("kit.data", headers, payload.clone().into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(_) => return,
            Err(e) => assert!(Instant::now() < deadline, "publish {payload}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The message count of the stream, as its leader reports it, once it has one.
async fn messages(js: &jetstream::Context) -> u64 {
    let deadline = Instant::now() + ELECTION;
    loop {
        match js.get_stream(STREAM).await {
            Ok(mut s) => match s.info().await {
                Ok(info) => return info.state.messages,
                Err(e) => assert!(Instant::now() < deadline, "stream info: {e}"),
            },
            Err(e) => assert!(Instant::now() < deadline, "get stream: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn every_node_config_passes_the_server_config_test() {
    let cluster = NatsCluster::start(3).await.expect("start");
    for i in 0..cluster.size() {
        let config = cluster.config_path(i);
        let text = std::fs::read_to_string(&config).expect("config");
        assert!(text.contains("sync_interval: always"), "{text}");
        assert!(
            text.contains(&format!("domain: {CLUSTER_DOMAIN}")),
            "{text}"
        );
        assert_eq!(text.matches("nats-route://127.0.0.1:").count(), 3, "{text}");
        let out = Command::new(cluster.binary().path())
            .arg("-t")
            .arg("-c")
            .arg(&config)
            .output()
            .expect("run nats-server -t");
        assert!(
            out.status.success(),
            "{}: {}{}",
            config.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn a_killed_stream_leader_is_replaced_and_rejoins_with_every_message() {
    let mut cluster = NatsCluster::start(3).await.expect("start");
    assert_eq!(cluster.size(), 3);
    assert_eq!(cluster.urls().split(',').count(), 3);
    let js = jetstream(&cluster).await;
    replicated_stream(&js).await;
    for i in 0..10 {
        publish(&js, format!("before-{i}")).await;
    }
    let leader = cluster
        .wait_for_stream_leader(STREAM, None, ELECTION)
        .await
        .expect("a leader");
    assert_eq!(cluster.index_of(cluster.server_name(leader)), Some(leader));

    cluster.kill(leader);
    assert!(!cluster.is_running(leader));
    assert!(cluster.pid(leader).is_none());
    let next = cluster
        .wait_for_stream_leader(STREAM, Some(leader), ELECTION)
        .await
        .expect("a new leader");
    assert_ne!(next, leader);
    for i in 0..10 {
        publish(&js, format!("after-{i}")).await;
    }
    assert_eq!(messages(&js).await, 20);

    cluster.restart(leader).await.expect("restart");
    cluster
        .wait_until_ready(ELECTION)
        .await
        .expect("ready again");
    // The old leader catches up: kill the two others and it must still hold all 20
    // once one of them is back (two nodes make a quorum).
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let deadline = Instant::now() + ELECTION;
    loop {
        let jsz = node_stream_messages(&cluster, leader).await;
        if jsz == Some(20) {
            break;
        }
        assert!(Instant::now() < deadline, "{leader} holds {jsz:?} messages");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    cluster.kill(others[0]);
    cluster.kill(others[1]);
    cluster
        .restart(others[0])
        .await
        .expect("restart a follower");
    assert_eq!(messages(&js).await, 20);
}

#[tokio::test]
async fn a_paused_leader_loses_its_leadership_and_catches_up_when_resumed() {
    let mut cluster = NatsCluster::start(3).await.expect("start");
    let js = jetstream(&cluster).await;
    replicated_stream(&js).await;
    publish(&js, "first".into()).await;
    let leader = cluster
        .wait_for_stream_leader(STREAM, None, ELECTION)
        .await
        .expect("a leader");

    cluster.pause(leader).expect("pause");
    assert!(cluster.is_paused(leader));
    assert!(cluster.is_running(leader), "a paused node still runs");
    let next = cluster
        .wait_for_stream_leader(STREAM, Some(leader), ELECTION)
        .await
        .expect("a leader while one node is paused");
    assert_ne!(next, leader);
    for i in 0..5 {
        publish(&js, format!("while-paused-{i}")).await;
    }

    cluster.resume(leader).expect("resume");
    assert!(!cluster.is_paused(leader));
    cluster.resume(leader).expect("resuming twice does nothing");
    let deadline = Instant::now() + ELECTION;
    loop {
        let held = node_stream_messages(&cluster, leader).await;
        if held == Some(6) {
            break;
        }
        assert!(Instant::now() < deadline, "resumed node holds {held:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(messages(&js).await, 6);
}

#[tokio::test]
async fn killing_every_node_at_once_keeps_every_acknowledged_message() {
    let mut cluster = NatsCluster::start(3).await.expect("start");
    let js = jetstream(&cluster).await;
    replicated_stream(&js).await;
    for i in 0..25 {
        publish(&js, format!("m-{i}")).await;
    }
    cluster.kill_all();
    for i in 0..3 {
        assert!(!cluster.is_running(i));
    }
    cluster.restart_all().await.expect("restart all");
    cluster
        .wait_for_stream_leader(STREAM, None, ELECTION)
        .await
        .expect("a leader after the restart");
    assert_eq!(messages(&js).await, 25);
}

/// How many messages node `i` holds in [`STREAM`], from its own monitoring endpoint
/// (`/jsz?streams=true`), which answers for that node alone.
async fn node_stream_messages(cluster: &NatsCluster, i: usize) -> Option<u64> {
    let url = format!("{}/jsz?streams=true", cluster.monitor_url(i));
    let body = http_get(&url).await?;
    let jsz: serde_json::Value = serde_json::from_str(&body).ok()?;
    jsz.pointer("/account_details")?
        .as_array()?
        .iter()
        .flat_map(|a| {
            a.get("stream_detail")
                .and_then(|s| s.as_array())
                .into_iter()
                .flatten()
        })
        .find(|s| s.get("name").and_then(|n| n.as_str()) == Some(STREAM))?
        .pointer("/state/messages")?
        .as_u64()
}

/// The body of a plain HTTP/1.0 GET on loopback (the monitoring port), if it answers.
async fn http_get(url: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
    stream
        .write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut response))
        .await
        .ok()?
        .ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

/// The configurations the project ships (`deploy/nats/`) pass the server's own config
/// test, and the cluster's say what docs/OPERATIONS.md promises.
#[test]
fn the_deploy_configs_pass_the_server_config_test() {
    let binary = roundtable_testkit::ServerBinary::locate().expect("a nats-server");
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats");
    let mut configs = vec![deploy.join("single-node.conf")];
    for i in 1..=3 {
        configs.push(deploy.join(format!("cluster/node-{i}.conf")));
    }
    for config in &configs {
        let out = Command::new(binary.path())
            .arg("-t")
            .arg("-c")
            .arg(config)
            .output()
            .expect("run nats-server -t");
        assert!(
            out.status.success(),
            "{}: {}{}",
            config.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(config).expect("read");
        assert!(
            text.contains("sync_interval: always"),
            "{}",
            config.display()
        );
    }
    for (i, config) in configs[1..].iter().enumerate() {
        let text = std::fs::read_to_string(config).expect("read");
        assert!(
            text.contains(&format!("server_name: nats-{}", i + 1)),
            "{text}"
        );
        assert!(text.contains("domain: roundtable"), "{text}");
        for node in 1..=3 {
            assert!(
                text.contains(&format!("nats-route://nats-{node}:6222")),
                "{text}"
            );
        }
    }
}
