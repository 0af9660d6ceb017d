//! How the adapter names, shapes and talks to its stream.

use std::time::Duration;

use async_nats::jetstream::stream::{Config, DiscardPolicy, RetentionPolicy, StorageType};
use roundtable_store::StoreError;

use crate::auth::{NatsAuth, NatsTls};

/// Settings of a [`NatsStore`](crate::NatsStore).
///
/// [`NatsConfig::default`] is what production uses: stream `ROUNDTABLE_EVENTS` over
/// subjects `roundtable.events.>`, one replica, 5 second timeouts, no credentials
/// beyond the URL's, TLS only when the server asks for it. Its `Debug` shows no
/// secret ([`crate::Secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// Name of the JetStream stream holding every event (letters, digits, `-`, `_`).
    pub stream: String,
    /// Subject prefix: negotiation `n` lives on subject `<subject_prefix>.n`, and the
    /// stream captures `<subject_prefix>.>`. One or more `.`-separated tokens, without
    /// wildcards or white space.
    pub subject_prefix: String,
    /// Number of replicas of the stream (1 for a single server, 3 for a three-node
    /// cluster; at most 5).
    pub replicas: usize,
    /// How long to wait for one reply from the server: a publish acknowledgement, an
    /// API answer, the next message of a read.
    pub request_timeout: Duration,
    /// How long to wait for the connection to the server to open.
    pub connect_timeout: Duration,
    /// How long the server remembers a `Nats-Msg-Id` to drop a repeated publish
    /// (the stream's `duplicate_window`).
    pub duplicate_window: Duration,
    /// How often the client pings its server. After two unanswered pings it drops the
    /// connection and reconnects to another server of the list (or of the cluster), so
    /// a server that hangs without closing its sockets (paused, swapping, cut off by a
    /// network fault) is left within about three intervals.
    pub ping_interval: Duration,
    /// Whether connecting creates the event stream when it is missing (`true`, the
    /// default). With `false` a missing stream is left missing: the store then says so
    /// ([`NatsStore::log_exists`](crate::NatsStore::log_exists)) and
    /// [`NatsStore::create_log`](crate::NatsStore::create_log) makes it once the
    /// deployment's log identity allows it (`roundtable_app::identity`).
    pub create_stream: bool,
    /// How the client authenticates.
    pub auth: NatsAuth,
    /// TLS to the server.
    pub tls: NatsTls,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            stream: "ROUNDTABLE_EVENTS".into(),
            subject_prefix: "roundtable.events".into(),
            replicas: 1,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            duplicate_window: Duration::from_secs(120),
            ping_interval: Duration::from_secs(10),
            create_stream: true,
            auth: NatsAuth::None,
            tls: NatsTls::default(),
        }
    }
}

impl NatsConfig {
    /// The subjects the stream captures: `<subject_prefix>.>`.
    pub fn subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// Checks the names and numbers before anything is sent to a server.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] naming the bad setting.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bad = |what: String| Err(StoreError::Incompatible(what));
        if self.stream.is_empty()
            || !self
                .stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(format!(
                "stream name {:?} must be 1 or more letters, digits, '-' or '_'",
                self.stream
            ));
        }
        let token_ok = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '.' | '*' | '>'))
        };
        if !self.subject_prefix.split('.').all(token_ok) {
            return bad(format!(
                "subject prefix {:?} must be '.'-separated tokens without wildcards or white space",
                self.subject_prefix
            ));
        }
        if !(1..=5).contains(&self.replicas) {
            return bad(format!(
                "replicas {} is out of range: 1 to 5",
                self.replicas
            ));
        }
        for (what, d) in [
            ("request timeout", self.request_timeout),
            ("connect timeout", self.connect_timeout),
            ("duplicate window", self.duplicate_window),
            ("ping interval", self.ping_interval),
        ] {
            if d.is_zero() {
                return bad(format!("{what} must be more than zero"));
            }
        }
        if let NatsAuth::UserPassword { user, .. } = &self.auth {
            if user.is_empty() {
                return bad("a NATS user name must not be empty".to_owned());
            }
        }
        self.tls.validate()
    }

    /// The stream the adapter creates or updates on connect.
    ///
    /// File storage; `replicas` copies; limits retention with no limit at all (no
    /// maximum count, size or age: every event is kept); deleting or purging messages
    /// denied (`deny_delete`, `deny_purge`: the server refuses both, and refuses an
    /// update that would lift either); direct gets allowed (`allow_direct`); atomic
    /// batch publishes allowed (`allow_atomic`, ADR-50; dropped when the server is older
    /// than 2.12, which does not know it); the configured duplicate window.
    pub fn stream_config(&self) -> Config {
        Config {
            name: self.stream.clone(),
            description: Some("Roundtable events: one subject per negotiation, append-only".into()),
            subjects: vec![self.subjects()],
            storage: StorageType::File,
            num_replicas: self.replicas,
            retention: RetentionPolicy::Limits,
            // No limits, so nothing is ever discarded; the policy never applies.
            discard: DiscardPolicy::Old,
            max_messages: -1,
            max_bytes: -1,
            max_messages_per_subject: -1,
            max_age: Duration::ZERO,
            max_consumers: -1,
            deny_delete: true,
            deny_purge: true,
            allow_direct: true,
            allow_rollup: false,
            // Atomic batches (nats-server 2.12 and newer; left out on older servers):
            // `EventStore::append_batch` writes up to 1,000 events of a negotiation as
            // one all-or-nothing publish.
            allow_atomic_publish: true,
            duplicate_window: self.duplicate_window,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_production() {
        let c = NatsConfig::default();
        c.validate().expect("valid");
        assert_eq!(c.subjects(), "roundtable.events.>");
        let s = c.stream_config();
        assert_eq!(s.name, "ROUNDTABLE_EVENTS");
        assert_eq!(s.subjects, vec!["roundtable.events.>".to_owned()]);
        assert!(s.deny_delete && s.deny_purge && s.allow_direct);
        assert_eq!(s.storage, StorageType::File);
        assert_eq!(s.num_replicas, 1);
        assert_eq!(s.duplicate_window, Duration::from_secs(120));
    }

    #[test]
    fn no_secret_shows_in_debug_output() {
        for auth in [
            NatsAuth::UserPassword {
                user: "roundtable".into(),
                password: crate::Secret::new("pa55-w0rd-s3cret"),
            },
            NatsAuth::Token(crate::Secret::new("pa55-w0rd-s3cret")),
            NatsAuth::NKeySeed(crate::Secret::new("pa55-w0rd-s3cret")),
        ] {
            let config = NatsConfig {
                auth,
                ..NatsConfig::default()
            };
            let shown = format!("{config:?} {config:#?}");
            assert!(!shown.contains("pa55-w0rd-s3cret"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        let secret = crate::Secret::new("pa55-w0rd-s3cret");
        assert_eq!(format!("{secret} {secret:?}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "pa55-w0rd-s3cret");
    }

    #[test]
    fn bad_settings_are_refused() {
        let cases = [
            NatsConfig {
                stream: "a.b".into(),
                ..NatsConfig::default()
            },
            NatsConfig {
                stream: String::new(),
                ..NatsConfig::default()
            },
            NatsConfig {
                subject_prefix: "a.*".into(),
                ..NatsConfig::default()
            },
            NatsConfig {
                subject_prefix: "a..b".into(),
                ..NatsConfig::default()
            },
            NatsConfig {
                subject_prefix: "a b".into(),
                ..NatsConfig::default()
            },
            NatsConfig {
                replicas: 0,
                ..NatsConfig::default()
            },
            NatsConfig {
                request_timeout: Duration::ZERO,
                ..NatsConfig::default()
            },
            NatsConfig {
                tls: NatsTls {
                    client_cert: Some("client.pem".into()),
                    ..NatsTls::default()
                },
                ..NatsConfig::default()
            },
            NatsConfig {
                tls: NatsTls {
                    server_name: Some("not a name!".into()),
                    ..NatsTls::default()
                },
                ..NatsConfig::default()
            },
        ];
        for c in cases {
            assert!(
                matches!(c.validate(), Err(StoreError::Incompatible(_))),
                "{c:?}"
            );
        }
    }

    /// `deploy/nats/roundtable-events.stream.json` documents the stream Roundtable
    /// creates on a three-node cluster (`--replicas 3`), in the form `nats stream add
    /// --config` takes: it must say exactly what the adapter asks for.
    #[test]
    fn the_documented_cluster_stream_is_the_one_created() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/nats/roundtable-events.stream.json"
        );
        let text = std::fs::read_to_string(path).expect("the documented stream");
        let documented: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let documented = documented.as_object().expect("an object");
        let created = serde_json::to_value(
            NatsConfig {
                replicas: 3,
                ..NatsConfig::default()
            }
            .stream_config(),
        )
        .expect("serializes");
        let created = created.as_object().expect("an object");
        for (key, value) in created.iter().filter(|(_, v)| !v.is_null()) {
            assert_eq!(documented.get(key), Some(value), "{key} in {path}");
        }
        for (key, value) in documented {
            let unset =
                matches!(value, serde_json::Value::Bool(false)) || value.as_i64() == Some(0);
            assert!(
                created.get(key).is_some_and(|c| c == value) || unset,
                "{key} = {value} in {path} is not what the adapter sets"
            );
        }
    }
}
