//! Sessions of the web app: one-time sign-in links, the session cookie and the CSRF
//! token of each session, all held in memory (docs/WEB.md, "Sign-in"). A restart ends
//! every session and forgets which links were used (a link then works once more until
//! its token expires): that is this step's documented limitation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN};
use sha2::{Digest, Sha256};

use crate::Principal;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "rt_session";

/// The language cookie's name (set by the language switch).
pub const LANG_COOKIE: &str = "rt_lang";

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Who it acts as: the principal of the link's token (or, in development mode, the
    /// one picked).
    pub principal: Principal,
    /// When it ends, seconds since the Unix epoch: the token's `exp`, never later.
    pub expires_at: u64,
    /// The CSRF token every form of this session carries (64 hex digits).
    pub csrf: String,
}

/// Why a sign-in link starts no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkError {
    /// This link was used already.
    Used,
    /// Its token is not valid (the message says why).
    Invalid(String),
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Session>,
    /// SHA-256 of each used link token, with the token's expiry (then forgotten).
    used: HashMap<[u8; 32], u64>,
}

/// The sessions and used links of one server process.
#[derive(Default)]
pub struct Sessions {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// No sessions.
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// Marks the link whose token is `token` as used, once: the second call for the
    /// same token answers [`LinkError::Used`]. `expires_at` (the token's `exp`) is how
    /// long it must be remembered.
    ///
    /// # Errors
    /// [`LinkError::Used`].
    pub fn use_link(&self, token: &str, expires_at: u64) -> Result<(), LinkError> {
        let id: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = unix_now();
        let mut inner = self.lock();
        inner.used.retain(|_, exp| *exp >= now);
        if inner.used.contains_key(&id) {
            return Err(LinkError::Used);
        }
        inner.used.insert(id, expires_at);
        Ok(())
    }

    /// Starts a session for `principal` until `expires_at`; returns its id (the
    /// cookie's value, 64 hex digits).
    pub fn start(&self, principal: Principal, expires_at: u64) -> String {
        let id = random_hex();
        let session = Session {
            principal,
            expires_at,
            csrf: random_hex(),
        };
        let now = unix_now();
        let mut inner = self.lock();
        inner.sessions.retain(|_, s| s.expires_at > now);
        inner.sessions.insert(id.clone(), session);
        id
    }

    /// The live session whose id is `id`.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = unix_now();
        let inner = self.lock();
        inner
            .sessions
            .get(id)
            .filter(|s| s.expires_at > now)
            .cloned()
    }

    /// The live session of a request, from its cookie.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, SESSION_COOKIE)?;
        self.get(&id).map(|s| (id, s))
    }

    /// Ends the session `id`.
    pub fn end(&self, id: &str) {
        self.lock().sessions.remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// The `Set-Cookie` value of a session cookie: HttpOnly, SameSite=Strict, Path=/,
/// `Max-Age` until `expires_at`, Secure when `secure`.
pub fn session_cookie(id: &str, expires_at: u64, secure: bool) -> String {
    let max_age = expires_at.saturating_sub(unix_now());
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether the request came to us over HTTPS: its `Origin` is `https://...`, or a
/// proxy in front says `X-Forwarded-Proto: https`. Decides the cookie's `Secure`.
pub fn is_https(headers: &HeaderMap) -> bool {
    let origin = headers
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| o.starts_with("https://"));
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    origin || forwarded
}

/// Whether a form post may come from this request's page: its `Origin`, when the
/// browser sends one, names the host the request was sent to (`Host`). `null` or a
/// different host is refused.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Some(host) = headers.get(HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        // No system randomness: fall back on a hash of the time and a counter, still
        // unguessable enough for a development machine; logged.
        tracing::error!("the system has no randomness source for session ids");
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = Sha256::digest(t.to_be_bytes()).into();
    }
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_used_once() {
        let s = Sessions::new();
        let exp = unix_now() + 60;
        assert_eq!(s.use_link("t1", exp), Ok(()));
        assert_eq!(s.use_link("t1", exp), Err(LinkError::Used));
        assert_eq!(s.use_link("t2", exp), Ok(()));
    }

    #[test]
    fn sessions_end_and_expire() {
        let s = Sessions::new();
        let p = Principal::Auditor { negotiation: None };
        let id = s.start(p.clone(), unix_now() + 60);
        assert_eq!(s.get(&id).map(|s| s.principal), Some(p.clone()));
        s.end(&id);
        assert!(s.get(&id).is_none());
        let old = s.start(p, unix_now().saturating_sub(1));
        assert!(s.get(&old).is_none());
    }

    #[test]
    fn cookies_and_origins_are_read() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; rt_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        h.insert(HOST, "example.org:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(ORIGIN, "http://example.org:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        assert!(is_https(&h));
        assert!(session_cookie("x", unix_now() + 10, true).contains("; Secure"));
        assert!(!session_cookie("x", unix_now() + 10, false).contains("Secure"));
        assert!(tokens_match("abc", "abc") && !tokens_match("abc", "abd"));
    }
}
