//! Which webhook URLs are refused: those whose host is, or resolves to, a link-local,
//! metadata, loopback or unspecified address, unless the operator allows the host.
//!
//! A webhook makes the server send requests where a client says, so a URL pointing at
//! the cloud's instance metadata (`169.254.169.254`, `fd00:ec2::254`,
//! `metadata.google.internal`), at link-local addresses (`169.254.0.0/16`,
//! `fe80::/10`) or at the server itself (loopback) could read what it must not. The
//! check runs at registration and again before every attempt (a name may resolve
//! elsewhere later), and redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;

/// Host names refused whatever they resolve to.
pub const METADATA_HOSTS: [&str; 3] = ["metadata.google.internal", "metadata.goog", "metadata"];

/// Why a URL was refused. The message names the URL and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook url {url} is refused: {reason}")]
pub struct UrlRefused {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

/// The operator's rules for webhook URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Hosts (names or addresses, as written in the URL, lower case) allowed whatever
    /// they resolve to: `--allow-webhook-host 127.0.0.1` for a receiver on the same
    /// machine.
    pub allowed_hosts: Vec<String>,
}

impl UrlPolicy {
    /// A policy allowing `hosts` besides the default rules.
    pub fn allowing<I: IntoIterator<Item = S>, S: Into<String>>(hosts: I) -> UrlPolicy {
        UrlPolicy {
            allowed_hosts: hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Parses `url` and checks it: `http` or `https`, no credentials, a host; unless
    /// the host is allowed, neither a metadata name nor an address (given or resolved)
    /// that is link-local, metadata, loopback or unspecified.
    ///
    /// # Errors
    /// [`UrlRefused`], also when the name does not resolve.
    pub async fn check(&self, url: &str) -> Result<Url, UrlRefused> {
        let refuse = |reason: String| UrlRefused {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|e| refuse(format!("not a url: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refuse(format!(
                "scheme {} is not http or https",
                parsed.scheme()
            )));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refuse("credentials in the url are not allowed".into()));
        }
        let Some(host) = parsed.host_str().map(str::to_ascii_lowercase) else {
            return Err(refuse("it has no host".into()));
        };
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if self.allowed_hosts.iter().any(|h| *h == host || *h == bare) {
            return Ok(parsed);
        }
        if METADATA_HOSTS.contains(&bare.trim_end_matches('.')) {
            return Err(refuse(format!("{host} is a cloud metadata service")));
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addresses: Vec<IpAddr> = match bare.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((bare.as_str(), port))
                .await
                .map_err(|e| refuse(format!("{host} does not resolve: {e}")))?
                .map(|a| a.ip())
                .collect(),
        };
        for ip in addresses {
            if let Some(why) = forbidden(ip) {
                return Err(refuse(format!(
                    "{host} is (or resolves to) {ip}, {why}; an operator may allow the host"
                )));
            }
        }
        Ok(parsed)
    }
}

/// Why `ip` may not receive webhooks, if it may not.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || ip.is_broadcast() {
        Some("not a host address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let metadata = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    if ip == metadata {
        Some("a cloud metadata address")
    } else if (ip.segments()[0] & 0xffc0) == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("not a host address")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn metadata_link_local_and_loopback_are_refused_unless_allowed() {
        let policy = UrlPolicy::default();
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.10.1/hook",
            "http://[fe80::1]/hook",
            "http://[fd00:ec2::254]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://127.0.0.1:9000/hook",
            "http://localhost:9000/hook",
            "http://[::ffff:169.254.169.254]/",
            "ftp://example.org/",
            "http://user:pw@example.org/",
        ] {
            assert!(policy.check(url).await.is_err(), "{url} should be refused");
        }
        assert!(policy.check("https://203.0.113.7/hook").await.is_ok());
        assert!(policy.check("http://10.1.2.3:8080/hook").await.is_ok());
        let loopback = UrlPolicy::allowing(["127.0.0.1"]);
        assert!(loopback.check("http://127.0.0.1:9000/hook").await.is_ok());
        assert!(loopback.check("http://169.254.169.254/").await.is_err());
    }
}
