//! Which webhook URLs are refused, and the resolver deliveries connect through.
//!
//! A webhook makes the server send requests where a client says, so a URL pointing at
//! the cloud's instance metadata, at link-local or private networks, or at the server
//! itself could read what it must not. [`classify`] judges one address:
//!
//! | addresses | class | refused |
//! | --- | --- | --- |
//! | `169.254.169.254`, `169.254.170.2`, `100.100.100.200`, `168.63.129.16`, `192.0.0.192`, `fd00:ec2::254`, `fd00:ec2::23`, `fd20:ce::254` | metadata | always |
//! | `127.0.0.0/8`, `::1` | loopback | always |
//! | `169.254.0.0/16`, `fe80::/10` | link-local | always |
//! | `0.0.0.0/8`, `192.0.0.0/24`, `224.0.0.0/4`, `240.0.0.0/4`, `::`, `100::/64`, `ff00::/8` | not a host | always |
//! | `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `100.64.0.0/10`, `198.18.0.0/15`, `fc00::/7`, `fec0::/10`, `64:ff9b:1::/48` | private | unless [`UrlPolicy::allow_private`] |
//! | the host's own addresses | own | always |
//! | anything else | public | never |
//!
//! IPv6 addresses that embed an IPv4 one are judged by the address they embed:
//! IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, IPv4-translated
//! `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16` and Teredo `2001::/32`
//! (its client address). Host names refused whatever they resolve to:
//! [`METADATA_HOSTS`]. The operator may allow hosts ([`UrlPolicy::allowed_hosts`], as
//! written in URLs: allowing `127.0.0.1` does not allow `localhost`) and private
//! addresses ([`UrlPolicy::allow_private`]).
//!
//! The check runs at registration ([`UrlPolicy::check`]) and again at every attempt,
//! inside the resolver the HTTP client connects through ([`PolicyResolver`]): a name
//! is resolved once, its addresses judged, and the connection made only to those that
//! passed, so a name cannot resolve to a public address for the check and to a private
//! one for the connection (DNS rebinding). Proxies and redirects are never used.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Url;

/// Host names refused whatever they resolve to (cloud metadata services).
pub const METADATA_HOSTS: [&str; 6] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "metadata.azure.internal",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Cloud metadata addresses: AWS, GCP, Azure, OCI, DigitalOcean, OpenStack
/// (`169.254.169.254`), AWS ECS (`169.254.170.2`), Alibaba (`100.100.100.200`), Azure's
/// wire server (`168.63.129.16`), Oracle's legacy one (`192.0.0.192`).
pub const METADATA_V4: [Ipv4Addr; 5] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(168, 63, 129, 16),
    Ipv4Addr::new(192, 0, 0, 192),
];

/// Cloud metadata addresses over IPv6: AWS (`fd00:ec2::254`, its time service
/// `fd00:ec2::23`), GCP (`fd20:ce::254`).
pub const METADATA_V6: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
    Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254),
];

/// What kind of address an address is, for webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A public address: allowed.
    Public,
    /// A private network (RFC 1918, CGNAT, unique local...): refused unless the
    /// operator allows private addresses.
    Private,
    /// Loopback: refused.
    Loopback,
    /// Link-local: refused.
    LinkLocal,
    /// A cloud metadata service: refused.
    Metadata,
    /// Not the address of one host (unspecified, broadcast, multicast, reserved):
    /// refused.
    NotHost,
}

impl AddressClass {
    /// The class in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Private => "a private address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Metadata => "a cloud metadata address",
            AddressClass::NotHost => "not a host address",
        }
    }
}

/// The class of `ip`, judging an IPv6 address that embeds an IPv4 one by the IPv4
/// address (see the module's table). Pure: the host's own addresses are told apart by
/// [`is_own_address`].
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address embeds, if it is one of the forms that do:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d` (not `::` or `::1`), NAT64 `64:ff9b::/96`, 6to4 `2002:AABB:CCDD::/48`,
/// Teredo `2001:0::/32` (the client address, stored inverted in the last 32 bits).
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            a as u8,
            (b >> 8) as u8,
            b as u8,
        )),
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(last))),
        _ => None,
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if METADATA_V4.contains(&ip) {
        AddressClass::Metadata
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if a == 0 || (a, b, c) == (192, 0, 0) || a >= 224 {
        // This network, IETF protocol assignments, multicast, reserved, broadcast.
        AddressClass::NotHost
    } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) || (a == 198 && (b & 0xfe) == 18) {
        // RFC 1918, CGNAT (RFC 6598), benchmarking (RFC 2544).
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if METADATA_V6.contains(&ip) {
        AddressClass::Metadata
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if (s[0] & 0xffc0) == 0xfe80 {
        AddressClass::LinkLocal
    } else if ip.is_unspecified() || (s[0] & 0xff00) == 0xff00 || s[..4] == [0x100, 0, 0, 0] {
        // Unspecified, multicast, discard-only (RFC 6666).
        AddressClass::NotHost
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 || s[..3] == [0x64, 0xff9b, 1]
    {
        // Unique local (RFC 4193), site-local (deprecated), local-use NAT64 (RFC 8215).
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

/// Whether `ip` is one of this host's own addresses: one a socket can be bound to.
pub fn is_own_address(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

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
    /// they are or resolve to: `--allow-webhook-host 127.0.0.1` for a receiver on the
    /// same machine.
    pub allowed_hosts: Vec<String>,
    /// Whether private addresses ([`AddressClass::Private`]) may receive webhooks
    /// (`--allow-private-webhooks`): for receivers inside the operator's network.
    pub allow_private: bool,
}

impl UrlPolicy {
    /// A policy allowing `hosts` besides the default rules.
    pub fn allowing<I: IntoIterator<Item = S>, S: Into<String>>(hosts: I) -> UrlPolicy {
        UrlPolicy {
            allowed_hosts: hosts
                .into_iter()
                .map(|h| h.into().to_ascii_lowercase())
                .collect(),
            allow_private: false,
        }
    }

    /// The same policy, allowing private addresses too (or not).
    pub fn with_private(mut self, allow: bool) -> UrlPolicy {
        self.allow_private = allow;
        self
    }

    fn host_allowed(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(bare))
    }

    /// Whether `ip`, an address of host `host`, may receive webhooks; otherwise why
    /// not, in words (`10.0.0.5, a private address`).
    ///
    /// # Errors
    /// The reason.
    pub fn judge(&self, host: &str, ip: IpAddr) -> Result<(), String> {
        if self.host_allowed(host) {
            return Ok(());
        }
        let class = classify(ip);
        let shown = match ip {
            IpAddr::V6(v6) => match embedded_ipv4(v6) {
                Some(v4) => format!("{ip} (embedding {v4})"),
                None => ip.to_string(),
            },
            IpAddr::V4(_) => ip.to_string(),
        };
        match class {
            AddressClass::Public | AddressClass::Private if is_own_address(ip) => {
                Err(format!("{shown}, an address of this server itself"))
            }
            AddressClass::Public => Ok(()),
            AddressClass::Private if self.allow_private => Ok(()),
            other => Err(format!("{shown}, {}", other.describe())),
        }
    }

    /// Parses `url` and checks what can be checked without resolving it: `http` or
    /// `https`, no credentials, a host that is not a metadata name and, when it is an
    /// address, one [`UrlPolicy::judge`] lets through. Returns the URL and its host.
    ///
    /// # Errors
    /// [`UrlRefused`].
    pub fn check_static(&self, url: &str) -> Result<(Url, Option<String>), UrlRefused> {
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
        if self.host_allowed(&host) {
            return Ok((parsed, None));
        }
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if METADATA_HOSTS.contains(&bare.trim_end_matches('.')) {
            return Err(refuse(format!("{host} is a cloud metadata service")));
        }
        match bare.parse::<IpAddr>() {
            Ok(ip) => {
                self.judge(&host, ip)
                    .map_err(|why| refuse(format!("{why}; an operator may allow the host")))?;
                Ok((parsed, None))
            }
            Err(_) => Ok((parsed, Some(bare))),
        }
    }

    /// Parses `url` and checks it: [`UrlPolicy::check_static`], then every address
    /// the name resolves to (through the system resolver) with [`UrlPolicy::judge`].
    ///
    /// # Errors
    /// [`UrlRefused`], also when the name does not resolve.
    pub async fn check(&self, url: &str) -> Result<Url, UrlRefused> {
        self.check_with(url, &SystemLookup).await
    }

    /// [`UrlPolicy::check`] resolving through `lookup`.
    ///
    /// # Errors
    /// As [`UrlPolicy::check`].
    pub async fn check_with(&self, url: &str, lookup: &dyn Lookup) -> Result<Url, UrlRefused> {
        let (parsed, name) = self.check_static(url)?;
        if let Some(name) = name {
            let port = parsed.port_or_known_default().unwrap_or(443);
            self.resolve(&name, port, lookup)
                .await
                .map_err(|reason| UrlRefused {
                    url: url.to_owned(),
                    reason,
                })?;
        }
        Ok(parsed)
    }

    /// Resolves `name` through `lookup` and returns its addresses, when every one is
    /// allowed.
    async fn resolve(
        &self,
        name: &str,
        port: u16,
        lookup: &dyn Lookup,
    ) -> Result<Vec<IpAddr>, String> {
        let addresses = lookup
            .lookup(name, port)
            .await
            .map_err(|e| format!("{name} does not resolve: {e}"))?;
        if addresses.is_empty() {
            return Err(format!("{name} resolves to no address"));
        }
        for ip in &addresses {
            self.judge(name, *ip).map_err(|why| {
                format!("{name} resolves to {why}; an operator may allow the host")
            })?;
        }
        Ok(addresses)
    }
}

/// Resolves host names: the system's resolver ([`SystemLookup`]), or a test's.
#[async_trait]
pub trait Lookup: Send + Sync + 'static {
    /// The addresses of `host` (a name, not an address literal).
    ///
    /// # Errors
    /// The name does not resolve.
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

#[async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, port))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// The resolver deliveries connect through: resolves a name once with its [`Lookup`],
/// judges every address with the [`UrlPolicy`], and hands the HTTP client only those
/// addresses, so the connection goes to an address that was checked. A name with any
/// refused address is refused whole ([`Refused`]).
#[derive(Clone)]
pub struct PolicyResolver {
    policy: UrlPolicy,
    lookup: Arc<dyn Lookup>,
}

impl PolicyResolver {
    /// Resolves through `lookup`, judging with `policy`.
    pub fn new(policy: UrlPolicy, lookup: Arc<dyn Lookup>) -> PolicyResolver {
        PolicyResolver { policy, lookup }
    }
}

/// The resolver's refusal of a name (its addresses are not allowed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_ascii_lowercase();
            let addresses = this
                .policy
                .resolve(&host, 0, &*this.lookup)
                .await
                .map_err(|why| {
                    Box::new(Refused(why)) as Box<dyn std::error::Error + Send + Sync>
                })?;
            let addrs: reqwest::dns::Addrs = Box::new(
                addresses
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, 0))
                    .collect::<Vec<_>>()
                    .into_iter(),
            );
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn the_address_table() {
        use AddressClass::*;
        let table = [
            ("203.0.113.7", Public),
            ("8.8.8.8", Public),
            ("2001:db8::1", Public),
            ("2606:4700::1111", Public),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("100.128.0.1", Public),
            ("198.18.0.1", Private),
            ("fd12:3456::1", Private),
            ("fc00::1", Private),
            ("fec0::1", Private),
            ("127.0.0.1", Loopback),
            ("127.9.9.9", Loopback),
            ("::1", Loopback),
            ("169.254.10.1", LinkLocal),
            ("fe80::1", LinkLocal),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("168.63.129.16", Metadata),
            ("192.0.0.192", Metadata),
            ("fd00:ec2::254", Metadata),
            ("fd00:ec2::23", Metadata),
            ("fd20:ce::254", Metadata),
            ("0.0.0.0", NotHost),
            ("0.1.2.3", NotHost),
            ("255.255.255.255", NotHost),
            ("224.0.0.1", NotHost),
            ("240.0.0.1", NotHost),
            ("::", NotHost),
            ("ff02::1", NotHost),
            ("100::1", NotHost),
            // IPv6 forms embedding IPv4: judged by what they embed.
            ("::ffff:10.0.0.1", Private),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:203.0.113.7", Public),
            ("::10.0.0.1", Private),
            ("::127.0.0.1", Loopback),
            ("::169.254.169.254", Metadata),
            ("::ffff:0:192.168.0.1", Private),
            ("64:ff9b::10.0.0.1", Private),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::169.254.169.254", Metadata),
            ("64:ff9b::203.0.113.7", Public),
            ("2002:a00:1::", Private),
            ("2002:7f00:1::1", Loopback),
            ("2002:a9fe:a9fe::", Metadata),
            ("2002:cb00:7107::", Public),
            // Teredo: the client address is stored inverted (~10.0.0.1).
            ("2001:0:4136:e378:8000:63bf:f5ff:fffe", Private),
            ("64:ff9b:1::a00:1", Private),
        ];
        for (address, expected) in table {
            assert_eq!(class(address), expected, "{address}");
        }
    }

    #[test]
    fn embedded_addresses_are_found() {
        let e = |s: &str| embedded_ipv4(s.parse().unwrap());
        assert_eq!(e("::ffff:1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(e("::1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(e("64:ff9b::1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(e("2002:102:304::"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(e("::1"), None);
        assert_eq!(e("::"), None);
        assert_eq!(e("2001:db8::1"), None);
    }

    #[test]
    fn private_addresses_need_the_operator_and_metadata_never_passes() {
        let strict = UrlPolicy::default();
        let open = UrlPolicy::default().with_private(true);
        let ten: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(
            strict
                .judge("hooks.internal", ten)
                .unwrap_err()
                .contains("private")
        );
        assert!(open.judge("hooks.internal", ten).is_ok());
        for ip in ["169.254.169.254", "100.100.100.200", "127.0.0.1", "fe80::1"] {
            assert!(open.judge("x", ip.parse().unwrap()).is_err(), "{ip}");
        }
        // An allowed host is allowed by name as written, not by what names resolve to.
        let loopback = UrlPolicy::allowing(["127.0.0.1"]);
        assert!(
            loopback
                .judge("127.0.0.1", "127.0.0.1".parse().unwrap())
                .is_ok()
        );
        assert!(
            loopback
                .judge("receiver.test", "127.0.0.1".parse().unwrap())
                .is_err()
        );
        let named = UrlPolicy::allowing(["receiver.test"]);
        assert!(
            named
                .judge("receiver.test", "127.0.0.1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn the_hosts_own_addresses_are_refused() {
        // The address this host sends from towards a public one (UDP connect sends
        // nothing); a host without a route has none to test.
        let Ok(socket) = std::net::UdpSocket::bind("0.0.0.0:0") else {
            return;
        };
        if socket.connect("203.0.113.1:9").is_err() {
            return;
        }
        let own = socket.local_addr().unwrap().ip();
        assert!(is_own_address(own), "{own}");
        let why = UrlPolicy::default()
            .with_private(true)
            .judge("me.test", own)
            .unwrap_err();
        assert!(
            why.contains("this server itself") || why.contains("loopback"),
            "{why}"
        );
        assert!(!is_own_address("203.0.113.1".parse().unwrap()));
    }

    #[tokio::test]
    async fn metadata_link_local_loopback_and_private_are_refused_unless_allowed() {
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
            "http://[::ffff:10.0.0.1]/",
            "http://[::10.0.0.1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:c0a8:101::]/",
            "http://10.1.2.3:8080/hook",
            "http://172.20.0.1/hook",
            "http://192.168.0.10/hook",
            "http://100.64.1.1/hook",
            "http://100.100.100.200/latest/meta-data/",
            "ftp://example.org/",
            "http://user:pw@example.org/",
        ] {
            assert!(policy.check(url).await.is_err(), "{url} should be refused");
        }
        assert!(policy.check("https://203.0.113.7/hook").await.is_ok());
        let private = UrlPolicy::default().with_private(true);
        assert!(private.check("http://10.1.2.3:8080/hook").await.is_ok());
        assert!(private.check("http://[::ffff:10.1.2.3]/hook").await.is_ok());
        assert!(private.check("http://169.254.169.254/").await.is_err());
        let loopback = UrlPolicy::allowing(["127.0.0.1"]);
        assert!(loopback.check("http://127.0.0.1:9000/hook").await.is_ok());
        assert!(loopback.check("http://169.254.169.254/").await.is_err());
    }
}
