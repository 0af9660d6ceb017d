//! Who may act: bearer tokens naming a [`Principal`], the keys that check them
//! ([`AuthConfig`]), minting ([`AuthConfig::mint`]) and the development mode.
//!
//! A token is a JWT signed with HS256 (a shared secret) or EdDSA (an Ed25519 key pair),
//! with the claims of [`Claims`]. The actor of a command is always the token's
//! principal, never a field of the body.
//!
//! A token is accepted only when (RFC 7519, RFC 8725): its signature checks with the
//! configured key and algorithm; its header marks no extension critical (`crit`: this
//! server understands none, RFC 7515 §4.1.11); `iss` and `aud` are the configured
//! [`TokenPolicy`]'s; `exp` has not passed and `nbf`, if present, has (both with
//! [`LEEWAY_SECS`]); `iat` is present and not in the future; it lives no longer than
//! the policy's maximum (`exp - iat`, and `exp - now`); and it carries a `jti`, which
//! is not on the deny-list of [`crate::revocation::Revocations`] (checked by the
//! extractor of [`Caller`] when the state holds one).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roundtable_domain::{Actor, NegotiationId, PartnerId};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::error::ApiError;

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Clock skew tolerated when checking `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// The default `iss` of minted tokens and the one required of presented tokens.
pub const DEFAULT_ISSUER: &str = "roundtable";

/// The default `aud` of minted tokens and the one required of presented tokens.
pub const DEFAULT_AUDIENCE: &str = "roundtable";

/// The default longest lifetime of a token (`exp - iat`): 90 days.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

/// Longest `jti` accepted, in bytes.
pub const MAX_JTI_BYTES: usize = 128;

/// What a token must say besides its signature: who issued it, for whom, for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// The `iss` minted and required (default [`DEFAULT_ISSUER`]).
    pub issuer: String,
    /// The `aud` minted and required (default [`DEFAULT_AUDIENCE`]).
    pub audience: String,
    /// The longest a token may live, `exp - iat` (default [`DEFAULT_MAX_LIFETIME`]);
    /// minting a longer one is refused, and so is a presented one.
    pub max_lifetime: Duration,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            max_lifetime: DEFAULT_MAX_LIFETIME,
        }
    }
}

/// The header that picks the actor in development mode (a partner id or `secretariat`).
pub const DEV_ACTOR_HEADER: &str = "x-roundtable-actor";

/// The role a token grants (claim `role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRole {
    /// Convenes negotiations: opens, admits, adopts, concludes.
    Secretariat,
    /// Acts as one partner in one negotiation.
    Partner,
    /// Reads everything in scope; sends no command.
    Auditor,
    /// A system reading in scope (a dashboard, an OCDS publisher); sends no command.
    Integration,
}

impl TokenRole {
    /// The `snake_case` name used in the claim and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Secretariat => "secretariat",
            TokenRole::Partner => "partner",
            TokenRole::Auditor => "auditor",
            TokenRole::Integration => "integration",
        }
    }
}

impl std::str::FromStr for TokenRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "secretariat" => Ok(TokenRole::Secretariat),
            "partner" => Ok(TokenRole::Partner),
            "auditor" => Ok(TokenRole::Auditor),
            "integration" => Ok(TokenRole::Integration),
            other => Err(format!(
                "unknown role {other:?}; expected secretariat, partner, auditor or integration"
            )),
        }
    }
}

/// Who a request comes from, as its token says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The secretariat of one negotiation, or (`None`) of every negotiation, such as a
    /// national PPP unit.
    Secretariat {
        /// The negotiation it convenes; `None`: all of them.
        negotiation: Option<NegotiationId>,
    },
    /// One partner of one negotiation: it acts only as itself and only there.
    Partner {
        /// Its negotiation.
        negotiation: NegotiationId,
        /// Itself.
        partner: PartnerId,
    },
    /// Reads one negotiation, or (`None`) all; may send no command.
    Auditor {
        /// The negotiation it audits; `None`: all of them.
        negotiation: Option<NegotiationId>,
    },
    /// A system that reads one negotiation, or (`None`) all; may send no command.
    Integration {
        /// The negotiation it reads; `None`: all of them.
        negotiation: Option<NegotiationId>,
    },
}

impl Principal {
    /// Builds a principal from a role and the ids that go with it.
    ///
    /// # Errors
    /// A message when a partner lacks its negotiation or partner id, or another role
    /// is given a partner id.
    pub fn new(
        role: TokenRole,
        negotiation: Option<NegotiationId>,
        partner: Option<PartnerId>,
    ) -> Result<Principal, String> {
        match (role, partner) {
            (TokenRole::Partner, Some(partner)) => match negotiation {
                Some(negotiation) => Ok(Principal::Partner {
                    negotiation,
                    partner,
                }),
                None => Err(format!(
                    "a partner token needs a negotiation_id (partner {partner})"
                )),
            },
            (TokenRole::Partner, None) => Err("a partner token needs a partner_id".into()),
            (role, Some(partner)) => Err(format!(
                "a {} token takes no partner_id (got {partner})",
                role.as_str()
            )),
            (TokenRole::Secretariat, None) => Ok(Principal::Secretariat { negotiation }),
            (TokenRole::Auditor, None) => Ok(Principal::Auditor { negotiation }),
            (TokenRole::Integration, None) => Ok(Principal::Integration { negotiation }),
        }
    }

    /// The role.
    pub fn role(&self) -> TokenRole {
        match self {
            Principal::Secretariat { .. } => TokenRole::Secretariat,
            Principal::Partner { .. } => TokenRole::Partner,
            Principal::Auditor { .. } => TokenRole::Auditor,
            Principal::Integration { .. } => TokenRole::Integration,
        }
    }

    /// The negotiation it is scoped to (`None`: every negotiation).
    pub fn negotiation(&self) -> Option<&NegotiationId> {
        match self {
            Principal::Secretariat { negotiation }
            | Principal::Auditor { negotiation }
            | Principal::Integration { negotiation } => negotiation.as_ref(),
            Principal::Partner { negotiation, .. } => Some(negotiation),
        }
    }

    /// Whether it may read `negotiation`.
    pub fn may_read(&self, negotiation: &NegotiationId) -> bool {
        self.negotiation().is_none_or(|n| n == negotiation)
    }

    /// The actor it is when it sends a command to `negotiation`.
    ///
    /// # Errors
    /// 403 `read_only` for an auditor or integration; 403 `forbidden` for a principal
    /// scoped to another negotiation.
    pub fn actor_in(&self, negotiation: &NegotiationId) -> Result<Actor, ApiError> {
        let actor = match self {
            Principal::Secretariat { .. } => Actor::Secretariat,
            Principal::Partner { partner, .. } => Actor::Partner(partner.clone()),
            Principal::Auditor { .. } | Principal::Integration { .. } => {
                return Err(ApiError::forbidden(
                    "read_only",
                    format!(
                        "an {} token may read but not send commands",
                        self.role().as_str()
                    ),
                ));
            }
        };
        if !self.may_read(negotiation) {
            return Err(self.out_of_scope(negotiation));
        }
        Ok(actor)
    }

    /// 403 `forbidden` for acting in or reading a negotiation outside its scope.
    pub(crate) fn out_of_scope(&self, negotiation: &NegotiationId) -> ApiError {
        let scope = self
            .negotiation()
            .map_or_else(String::new, ToString::to_string);
        ApiError::forbidden(
            "forbidden",
            format!(
                "{} may act only in negotiation {scope}, not in {negotiation}",
                self.describe()
            ),
        )
    }

    /// The principal in words, for messages and the `sub` claim of minted tokens.
    pub fn describe(&self) -> String {
        match self {
            Principal::Partner {
                negotiation,
                partner,
            } => format!("partner {partner} of {negotiation}"),
            other => match other.negotiation() {
                Some(n) => format!("the {} of {n}", other.role().as_str()),
                None => format!("the {} of every negotiation", other.role().as_str()),
            },
        }
    }

    fn subject(&self) -> String {
        match self {
            Principal::Partner {
                negotiation,
                partner,
            } => format!("partner:{partner}@{negotiation}"),
            other => match other.negotiation() {
                Some(n) => format!("{}@{n}", other.role().as_str()),
                None => format!("{}@*", other.role().as_str()),
            },
        }
    }
}

/// The claims of a Roundtable token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to (free text; `partner:lcc@lakeside-water` when minted here).
    pub sub: String,
    /// The role.
    pub role: TokenRole,
    /// The negotiation the token is scoped to; absent: every negotiation (not for partners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negotiation_id: Option<String>,
    /// The partner, for a partner token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    /// Expiry, seconds since the Unix epoch (required).
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch (required: the lifetime is `exp - iat`).
    #[serde(default)]
    pub iat: u64,
    /// Not before, seconds since the Unix epoch (optional; minted tokens carry `iat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The issuer (required; must be the policy's [`TokenPolicy::issuer`]).
    #[serde(default)]
    pub iss: String,
    /// The audience (required; must be the policy's [`TokenPolicy::audience`]).
    #[serde(default)]
    pub aud: String,
    /// The token's id (required, 1 to [`MAX_JTI_BYTES`] bytes): what
    /// `roundtable token revoke` names. Minted tokens carry a random UUID.
    #[serde(default)]
    pub jti: String,
}

impl Claims {
    /// The principal the claims name.
    ///
    /// # Errors
    /// A message when an id is malformed or the role and ids do not fit together.
    pub fn principal(&self) -> Result<Principal, String> {
        let negotiation = self
            .negotiation_id
            .as_deref()
            .map(NegotiationId::new)
            .transpose()
            .map_err(|e| e.to_string())?;
        let partner = self
            .partner_id
            .as_deref()
            .map(PartnerId::new)
            .transpose()
            .map_err(|e| e.to_string())?;
        Principal::new(self.role, negotiation, partner)
    }
}

/// Why an [`AuthConfig`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// The HS256 secret is shorter than [`MIN_SECRET_BYTES`].
    #[error("the HS256 secret is {0} bytes long; it must be at least 32")]
    ShortSecret(usize),
    /// A key or secret file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An environment variable is not set or not Unicode.
    #[error("environment variable {0} is not set")]
    MissingEnv(String),
    /// A PEM key could not be parsed.
    #[error("{what} is not an Ed25519 key in PEM form: {reason}")]
    BadKey {
        /// Which key.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The configuration holds no signing key (a public key only, or development mode).
    #[error("no signing key: {0}")]
    NoSigningKey(&'static str),
    /// The role and ids do not fit together.
    #[error("{0}")]
    BadPrincipal(String),
    /// The lifetime is zero.
    #[error("a token's lifetime must be longer than zero")]
    ZeroTtl,
    /// The lifetime is longer than the policy's maximum.
    #[error(
        "a token may live at most {max_hours} hours (--jwt-max-lifetime-hours); {asked_hours} were asked for"
    )]
    TooLong {
        /// What was asked for, in whole hours (rounded up).
        asked_hours: u64,
        /// The maximum, in hours.
        max_hours: u64,
    },
    /// The signer failed.
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

/// Keys that check (and, when the private half is present, sign) tokens, and the
/// [`TokenPolicy`] they are checked against.
pub struct TokenKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    policy: TokenPolicy,
}

/// A minted token and what an operator needs to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The token (a JWT).
    pub token: String,
    /// Its id (`jti`), for `roundtable token revoke`.
    pub jti: String,
    /// Its expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .field("can_sign", &self.encoding.is_some())
            .field("policy", &self.policy)
            .finish()
    }
}

/// How requests are authenticated.
#[derive(Debug)]
pub enum AuthConfig {
    /// Every request carries a bearer token checked with these keys.
    Tokens(TokenKeys),
    /// No tokens: every request acts as the secretariat of every negotiation, or as the
    /// partner named by header `X-Roundtable-Actor`. **Only for a server listening on
    /// loopback** ([`is_loopback`]); the binary says so loudly at start-up.
    Development,
}

impl AuthConfig {
    /// HS256 with a shared secret of at least [`MIN_SECRET_BYTES`] bytes.
    ///
    /// # Errors
    /// [`AuthConfigError::ShortSecret`].
    pub fn hs256(secret: &[u8]) -> Result<AuthConfig, AuthConfigError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AuthConfigError::ShortSecret(secret.len()));
        }
        Ok(AuthConfig::Tokens(TokenKeys {
            algorithm: Algorithm::HS256,
            decoding: DecodingKey::from_secret(secret),
            encoding: Some(EncodingKey::from_secret(secret)),
            policy: TokenPolicy::default(),
        }))
    }

    /// HS256 with the secret held in `path` (surrounding white space, such as a final
    /// newline, is not part of it).
    ///
    /// # Errors
    /// [`AuthConfigError::Read`], [`AuthConfigError::ShortSecret`].
    pub fn hs256_from_file(path: &Path) -> Result<AuthConfig, AuthConfigError> {
        let bytes = read(path)?;
        Self::hs256(bytes.trim_ascii())
    }

    /// HS256 with the secret held in environment variable `var`.
    ///
    /// # Errors
    /// [`AuthConfigError::MissingEnv`], [`AuthConfigError::ShortSecret`].
    pub fn hs256_from_env(var: &str) -> Result<AuthConfig, AuthConfigError> {
        let secret = std::env::var(var).map_err(|_| AuthConfigError::MissingEnv(var.to_owned()))?;
        Self::hs256(secret.trim().as_bytes())
    }

    /// EdDSA with an Ed25519 public key (SPKI PEM, `-----BEGIN PUBLIC KEY-----`) and,
    /// to mint tokens too, its private key (PKCS#8 PEM, `-----BEGIN PRIVATE KEY-----`),
    /// as `openssl genpkey -algorithm ed25519` writes them.
    ///
    /// # Errors
    /// [`AuthConfigError::BadKey`].
    pub fn ed25519(
        public_pem: &[u8],
        private_pem: Option<&[u8]>,
    ) -> Result<AuthConfig, AuthConfigError> {
        let decoding =
            DecodingKey::from_ed_pem(public_pem).map_err(|e| AuthConfigError::BadKey {
                what: "the public key",
                reason: e.to_string(),
            })?;
        let encoding = private_pem
            .map(|pem| {
                EncodingKey::from_ed_pem(pem).map_err(|e| AuthConfigError::BadKey {
                    what: "the private key",
                    reason: e.to_string(),
                })
            })
            .transpose()?;
        Ok(AuthConfig::Tokens(TokenKeys {
            algorithm: Algorithm::EdDSA,
            decoding,
            encoding,
            policy: TokenPolicy::default(),
        }))
    }

    /// [`AuthConfig::ed25519`] with the keys read from files.
    ///
    /// # Errors
    /// [`AuthConfigError::Read`], [`AuthConfigError::BadKey`].
    pub fn ed25519_from_files(
        public: &Path,
        private: Option<&Path>,
    ) -> Result<AuthConfig, AuthConfigError> {
        let public = read(public)?;
        let private = private.map(read).transpose()?;
        Self::ed25519(&public, private.as_deref())
    }

    /// The same keys checking (and minting) against `policy` instead of the default.
    /// Development mode has no tokens, so nothing changes there.
    pub fn with_policy(mut self, policy: TokenPolicy) -> AuthConfig {
        if let AuthConfig::Tokens(keys) = &mut self {
            keys.policy = policy;
        }
        self
    }

    /// The policy tokens are checked against (`None` in development mode).
    pub fn policy(&self) -> Option<&TokenPolicy> {
        match self {
            AuthConfig::Tokens(keys) => Some(&keys.policy),
            AuthConfig::Development => None,
        }
    }

    /// The development mode: no tokens. See [`AuthConfig::Development`].
    pub fn development() -> AuthConfig {
        AuthConfig::Development
    }

    /// Whether this is the development mode.
    pub fn is_development(&self) -> bool {
        matches!(self, AuthConfig::Development)
    }

    /// Mints a token for `role` (with its negotiation and, for a partner, its partner
    /// id), valid for `ttl`. This is what `roundtable token issue` calls.
    ///
    /// # Errors
    /// [`MintError`] when there is no signing key, the role and ids do not fit, or
    /// `ttl` is zero.
    pub fn mint(
        &self,
        role: TokenRole,
        negotiation: Option<NegotiationId>,
        partner: Option<PartnerId>,
        ttl: Duration,
    ) -> Result<String, MintError> {
        let principal =
            Principal::new(role, negotiation, partner).map_err(MintError::BadPrincipal)?;
        self.mint_principal(&principal, ttl)
    }

    /// Mints a token for `principal`, valid for `ttl`.
    ///
    /// # Errors
    /// As [`AuthConfig::mint`].
    pub fn mint_principal(
        &self,
        principal: &Principal,
        ttl: Duration,
    ) -> Result<String, MintError> {
        self.mint_token(principal, ttl).map(|m| m.token)
    }

    /// Mints a token for `principal`, valid for `ttl`, carrying the policy's `iss` and
    /// `aud`, `iat` and `nbf` now, and a new random `jti`; returns it with its id.
    ///
    /// # Errors
    /// As [`AuthConfig::mint`]; [`MintError::TooLong`] when `ttl` is longer than the
    /// policy's maximum lifetime.
    pub fn mint_token(
        &self,
        principal: &Principal,
        ttl: Duration,
    ) -> Result<MintedToken, MintError> {
        if ttl.is_zero() {
            return Err(MintError::ZeroTtl);
        }
        let policy = self.policy().cloned().unwrap_or_default();
        if ttl > policy.max_lifetime {
            return Err(MintError::TooLong {
                asked_hours: ttl.as_secs().div_ceil(3600),
                max_hours: policy.max_lifetime.as_secs() / 3600,
            });
        }
        let now = unix_now();
        let jti = uuid::Uuid::new_v4().to_string();
        let claims = Claims {
            sub: principal.subject(),
            role: principal.role(),
            negotiation_id: principal.negotiation().map(ToString::to_string),
            partner_id: match principal {
                Principal::Partner { partner, .. } => Some(partner.to_string()),
                _ => None,
            },
            exp: now.saturating_add(ttl.as_secs().max(1)),
            iat: now,
            nbf: Some(now),
            iss: policy.issuer,
            aud: policy.audience,
            jti: jti.clone(),
        };
        let token = self.sign(&claims)?;
        Ok(MintedToken {
            token,
            jti,
            exp: claims.exp,
        })
    }

    /// Signs arbitrary claims (tests use it for expired or odd tokens).
    ///
    /// # Errors
    /// [`MintError::NoSigningKey`], [`MintError::Sign`].
    pub fn sign(&self, claims: &Claims) -> Result<String, MintError> {
        let AuthConfig::Tokens(keys) = self else {
            return Err(MintError::NoSigningKey(
                "development mode has no keys; configure an HS256 secret or an Ed25519 key",
            ));
        };
        let Some(encoding) = &keys.encoding else {
            return Err(MintError::NoSigningKey(
                "only the public key is configured; the private key is needed to mint",
            ));
        };
        jsonwebtoken::encode(&Header::new(keys.algorithm), claims, encoding)
            .map_err(|e| MintError::Sign(e.to_string()))
    }

    /// Checks a bearer token and returns its principal.
    ///
    /// # Errors
    /// 401 `unauthenticated` naming the problem (expired, bad signature, malformed).
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let claims = self.verify_claims(token)?;
        claims.principal().map_err(|e| {
            ApiError::unauthenticated(format!("the bearer token names no valid principal: {e}"))
        })
    }

    /// Checks a token and returns its claims (with `exp`, which a web session started
    /// from a sign-in link must not outlive).
    ///
    /// # Errors
    /// As [`AuthConfig::verify`], except that the principal is not checked.
    pub fn verify_claims(&self, token: &str) -> Result<Claims, ApiError> {
        let AuthConfig::Tokens(keys) = self else {
            return Err(ApiError::unauthenticated(
                "development mode does not check tokens",
            ));
        };
        let policy = &keys.policy;
        // jsonwebtoken reads `crit` but acts on nothing in it; this server understands
        // no extension, so any critical one (or an empty list, RFC 7515 §4.1.11) fails.
        let header = jsonwebtoken::decode_header(token).map_err(|e| {
            ApiError::unauthenticated(format!(
                "the bearer token is not a valid Roundtable token: {e}"
            ))
        })?;
        if let Some(crit) = &header.crit {
            return Err(ApiError::unauthenticated(format!(
                "the bearer token's header marks extensions critical (crit: {crit:?}); this server understands none"
            )));
        }
        let mut validation = Validation::new(keys.algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&policy.issuer]);
        validation.set_audience(&[&policy.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &keys.decoding, &validation).map_err(|e| {
                let why = match e.kind() {
                    ErrorKind::ExpiredSignature => "the bearer token has expired".to_owned(),
                    ErrorKind::ImmatureSignature => {
                        "the bearer token is not valid before its nbf time".to_owned()
                    }
                    ErrorKind::InvalidIssuer => format!(
                        "the bearer token was made by another issuer (iss must be {:?})",
                        policy.issuer
                    ),
                    ErrorKind::InvalidAudience => format!(
                        "the bearer token is meant for another audience (aud must be {:?})",
                        policy.audience
                    ),
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        "the bearer token is not signed with this server's key".to_owned()
                    }
                    ErrorKind::MissingRequiredClaim(c) => {
                        format!("the bearer token has no {c} claim")
                    }
                    _ => format!("the bearer token is not a valid Roundtable token: {e}"),
                };
                ApiError::unauthenticated(why)
            })?;
        let claims = data.claims;
        check_lifetime(&claims, policy.max_lifetime, unix_now())?;
        if claims.jti.is_empty() {
            return Err(ApiError::unauthenticated(
                "the bearer token has no jti claim (its id, needed to revoke it)",
            ));
        }
        if claims.jti.len() > MAX_JTI_BYTES {
            return Err(ApiError::unauthenticated(format!(
                "the bearer token's jti is longer than {MAX_JTI_BYTES} bytes"
            )));
        }
        Ok(claims)
    }

    /// Authenticates a request from its headers.
    ///
    /// # Errors
    /// 401 without a valid bearer token (except in development mode); 400 for a
    /// malformed `X-Roundtable-Actor` in development mode.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        self.authenticate_with_id(headers).map(|(caller, _)| caller)
    }

    /// [`AuthConfig::authenticate`], with the token's `jti` (`None` in development
    /// mode), which the caller checks against the deny-list.
    ///
    /// # Errors
    /// As [`AuthConfig::authenticate`].
    pub fn authenticate_with_id(
        &self,
        headers: &HeaderMap,
    ) -> Result<(Caller, Option<String>), ApiError> {
        if self.is_development() {
            let actor = match headers.get(DEV_ACTOR_HEADER) {
                None => None,
                Some(v) => {
                    let v = v.to_str().unwrap_or("");
                    match Actor::parse(v) {
                        Ok(Actor::Secretariat) => None,
                        Ok(Actor::Partner(p)) => Some(p),
                        Err(e) => {
                            return Err(ApiError::bad_request(
                                "invalid_actor",
                                format!("X-Roundtable-Actor: {e}"),
                            ));
                        }
                    }
                }
            };
            return Ok((Caller::Development { partner: actor }, None));
        }
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(ApiError::unauthenticated(
                "no bearer token: send Authorization: Bearer <token>",
            ));
        };
        let value = value.to_str().unwrap_or("");
        // The scheme is case-insensitive (RFC 9110, section 11.1).
        let token = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated("the Authorization header must be \"Bearer <token>\"")
            })?;
        let claims = self.verify_claims(token)?;
        let principal = claims.principal().map_err(|e| {
            ApiError::unauthenticated(format!("the bearer token names no valid principal: {e}"))
        })?;
        Ok((Caller::Token(principal), Some(claims.jti)))
    }
}

/// An authenticated caller: a token's principal, or a development-mode caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The principal of a checked token.
    Token(Principal),
    /// Development mode: the secretariat of every negotiation, or the partner named
    /// by `X-Roundtable-Actor`.
    Development {
        /// The partner acted as, if any.
        partner: Option<PartnerId>,
    },
}

impl Caller {
    /// The principal this caller is when it deals with `negotiation` (`None` when
    /// listing).
    pub fn principal(&self, negotiation: Option<&NegotiationId>) -> Principal {
        match self {
            Caller::Token(p) => p.clone(),
            Caller::Development { partner } => match (partner, negotiation) {
                (Some(partner), Some(n)) => Principal::Partner {
                    negotiation: n.clone(),
                    partner: partner.clone(),
                },
                _ => Principal::Secretariat { negotiation: None },
            },
        }
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        // A web session may read (the live page's change stream, the audit page's
        // downloads), never write: a cookie is sent by the browser on its own.
        let reading = matches!(parts.method, Method::GET | Method::HEAD);
        if reading
            && !parts
                .headers
                .contains_key(axum::http::header::AUTHORIZATION)
        {
            if let Some((_, session)) = state.sessions.from_headers(&parts.headers) {
                return Ok(Caller::Token(crate::web::from_web(&session.principal)));
            }
        }
        let (caller, jti) = state.auth.authenticate_with_id(&parts.headers)?;
        if let (Some(jti), Some(revocations)) = (jti, &state.revocations) {
            let revoked = match revocations.is_revoked(&jti).await {
                Ok(revoked) => revoked,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the token deny-list");
                    // A store that lost its event log lost the deny-list with it: say
                    // that, not "retry" (docs/OPERATIONS.md, "When the event log is lost").
                    if let Err(missing @ roundtable_store::StoreError::LogMissing(_)) =
                        state.events.negotiations().await
                    {
                        return Err(ApiError::from_store(missing, "the event log"));
                    }
                    return Err(ApiError::unavailable(
                        "cannot check whether the bearer token was revoked; retry",
                    ));
                }
            };
            if revoked {
                return Err(ApiError::unauthenticated(
                    "the bearer token has been revoked",
                ));
            }
        }
        Ok(caller)
    }
}

/// Whether `addr` is a loopback address (127.0.0.0/8, `::1`, or `::ffff:127.x.y.z`).
///
/// The binary must enable [`AuthConfig::Development`] only when the address it listens
/// on passes this check: without tokens anyone who reaches the port is the secretariat.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Refuses a token issued in the future or living longer than `max`.
fn check_lifetime(claims: &Claims, max: Duration, now: u64) -> Result<(), ApiError> {
    if claims.iat == 0 {
        return Err(ApiError::unauthenticated(
            "the bearer token has no iat claim, so its lifetime cannot be told",
        ));
    }
    if claims.iat > now.saturating_add(LEEWAY_SECS) {
        return Err(ApiError::unauthenticated(
            "the bearer token says it was issued in the future (iat)",
        ));
    }
    let max = max.as_secs();
    let lifetime = claims.exp.saturating_sub(claims.iat);
    let remaining = claims.exp.saturating_sub(now);
    if lifetime > max || remaining > max.saturating_add(LEEWAY_SECS) {
        return Err(ApiError::unauthenticated(format!(
            "the bearer token lives longer than this server's maximum of {} hours (exp - iat)",
            max / 3600
        )));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, AuthConfigError> {
    std::fs::read(path).map_err(|source| AuthConfigError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> NegotiationId {
        NegotiationId::new(s).unwrap()
    }

    fn p(s: &str) -> PartnerId {
        PartnerId::new(s).unwrap()
    }

    #[test]
    fn roles_and_ids_must_fit_together() {
        assert!(Principal::new(TokenRole::Partner, Some(n("a")), None).is_err());
        assert!(Principal::new(TokenRole::Partner, None, Some(p("lcc"))).is_err());
        assert!(Principal::new(TokenRole::Auditor, None, Some(p("lcc"))).is_err());
        assert_eq!(
            Principal::new(TokenRole::Secretariat, None, None).unwrap(),
            Principal::Secretariat { negotiation: None }
        );
    }

    #[test]
    fn scope_decides_what_may_be_read_and_done() {
        let partner = Principal::Partner {
            negotiation: n("a"),
            partner: p("lcc"),
        };
        assert!(partner.may_read(&n("a")));
        assert!(!partner.may_read(&n("b")));
        assert_eq!(partner.actor_in(&n("a")).unwrap(), Actor::Partner(p("lcc")));
        assert_eq!(partner.actor_in(&n("b")).unwrap_err().code(), "forbidden");
        let auditor = Principal::Auditor { negotiation: None };
        assert!(auditor.may_read(&n("z")));
        assert_eq!(auditor.actor_in(&n("z")).unwrap_err().code(), "read_only");
        let unit = Principal::Secretariat { negotiation: None };
        assert_eq!(unit.actor_in(&n("z")).unwrap(), Actor::Secretariat);
    }

    #[test]
    fn minted_tokens_verify_and_others_do_not() {
        let auth = AuthConfig::hs256(&[7; 32]).unwrap();
        let token = auth
            .mint(
                TokenRole::Partner,
                Some(n("a")),
                Some(p("lcc")),
                Duration::from_secs(60),
            )
            .unwrap();
        assert_eq!(
            auth.verify(&token).unwrap(),
            Principal::Partner {
                negotiation: n("a"),
                partner: p("lcc")
            }
        );
        let other = AuthConfig::hs256(&[8; 32]).unwrap();
        assert_eq!(other.verify(&token).unwrap_err().code(), "unauthenticated");
        assert!(matches!(
            AuthConfig::hs256(b"short"),
            Err(AuthConfigError::ShortSecret(5))
        ));
    }

    #[test]
    fn development_callers_are_the_secretariat_or_the_named_partner() {
        let dev = AuthConfig::development();
        let mut headers = HeaderMap::new();
        let caller = dev.authenticate(&headers).unwrap();
        assert_eq!(
            caller.principal(Some(&n("a"))),
            Principal::Secretariat { negotiation: None }
        );
        headers.insert(DEV_ACTOR_HEADER, "lcc".parse().unwrap());
        let caller = dev.authenticate(&headers).unwrap();
        assert_eq!(
            caller.principal(Some(&n("a"))),
            Principal::Partner {
                negotiation: n("a"),
                partner: p("lcc")
            }
        );
        assert_eq!(
            caller.principal(None),
            Principal::Secretariat { negotiation: None }
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let auth = AuthConfig::hs256(&[7; 32]).unwrap();
        let token = auth
            .mint(TokenRole::Auditor, None, None, Duration::from_secs(60))
            .unwrap();
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::header::AUTHORIZATION,
                format!("{scheme} {token}").parse().unwrap(),
            );
            assert!(auth.authenticate(&headers).is_ok(), "{scheme}");
        }
    }

    #[test]
    fn loopback_is_recognised() {
        for ok in [
            "127.0.0.1:80",
            "127.1.2.3:1",
            "[::1]:80",
            "[::ffff:127.0.0.1]:80",
        ] {
            assert!(is_loopback(&ok.parse().unwrap()), "{ok}");
        }
        for bad in ["0.0.0.0:80", "10.0.0.1:80", "[::]:80", "192.168.1.1:80"] {
            assert!(!is_loopback(&bad.parse().unwrap()), "{bad}");
        }
    }
    /// Signs `claims` as they are, with `header` (HS256 over the tests' key).
    fn raw(header: Header, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[7; 32])).unwrap()
    }

    /// Claims a server with the default policy accepts, with `changes` applied.
    fn good(changes: serde_json::Value) -> serde_json::Value {
        let now = unix_now();
        let mut claims = serde_json::json!({
            "sub": "auditor@*", "role": "auditor", "iat": now, "nbf": now, "exp": now + 600,
            "iss": "roundtable", "aud": "roundtable", "jti": "t-1",
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }

    fn hs() -> Header {
        Header::new(Algorithm::HS256)
    }

    fn refusal(token: &str) -> String {
        let auth = AuthConfig::hs256(&[7; 32]).unwrap();
        match auth.verify(token) {
            Ok(p) => panic!("accepted as {p:?}"),
            Err(e) => {
                assert_eq!(e.code(), "unauthenticated");
                e.message().to_owned()
            }
        }
    }

    #[test]
    fn a_well_formed_token_is_accepted() {
        let auth = AuthConfig::hs256(&[7; 32]).unwrap();
        assert_eq!(
            auth.verify(&raw(hs(), good(serde_json::json!({}))))
                .unwrap(),
            Principal::Auditor { negotiation: None }
        );
    }

    #[test]
    fn a_token_not_valid_yet_is_refused() {
        let m = refusal(&raw(
            hs(),
            good(serde_json::json!({"nbf": unix_now() + 3600})),
        ));
        assert!(m.contains("not valid before"), "{m}");
    }

    #[test]
    fn issuer_and_audience_are_pinned() {
        let m = refusal(&raw(hs(), good(serde_json::json!({"iss": "someone-else"}))));
        assert!(m.contains("issuer"), "{m}");
        let m = refusal(&raw(hs(), good(serde_json::json!({"iss": null}))));
        assert!(m.contains("iss"), "{m}");
        let m = refusal(&raw(
            hs(),
            good(serde_json::json!({"aud": "another-service"})),
        ));
        assert!(m.contains("audience"), "{m}");
        let m = refusal(&raw(hs(), good(serde_json::json!({"aud": null}))));
        assert!(m.contains("aud"), "{m}");
    }

    #[test]
    fn the_configured_issuer_and_audience_are_minted_and_required() {
        // Configured otherwise, the server takes its own and refuses the default.
        let auth = AuthConfig::hs256(&[7; 32])
            .unwrap()
            .with_policy(TokenPolicy {
                issuer: "https://roundtable.example.org".into(),
                audience: "lakeside".into(),
                ..TokenPolicy::default()
            });
        assert!(
            auth.verify(&raw(hs(), good(serde_json::json!({}))))
                .is_err()
        );
        let ours = raw(
            hs(),
            good(serde_json::json!({"iss": "https://roundtable.example.org", "aud": "lakeside"})),
        );
        assert!(auth.verify(&ours).is_ok());
        // What it mints carries them.
        let minted = auth
            .mint_token(
                &Principal::Auditor { negotiation: None },
                Duration::from_secs(60),
            )
            .unwrap();
        let claims = auth.verify_claims(&minted.token).unwrap();
        assert_eq!(claims.iss, "https://roundtable.example.org");
        assert_eq!(claims.aud, "lakeside");
        assert_eq!(claims.jti, minted.jti);
        assert!(!minted.jti.is_empty());
    }

    #[test]
    fn unknown_critical_headers_are_refused() {
        let mut header = hs();
        header.crit = Some(vec!["exp-policy".into()]);
        header.extras.insert("exp-policy".into(), "lax".into());
        let m = refusal(&raw(header, good(serde_json::json!({}))));
        assert!(m.contains("crit"), "{m}");
        let mut header = hs();
        header.crit = Some(vec![]);
        assert!(refusal(&raw(header, good(serde_json::json!({})))).contains("crit"));
    }

    #[test]
    fn a_token_may_not_live_longer_than_the_maximum() {
        let now = unix_now();
        // exp in the year 584 billion.
        let m = refusal(&raw(hs(), good(serde_json::json!({"exp": u64::MAX}))));
        assert!(m.contains("longer than"), "{m}");
        // One second over the default maximum.
        let max = 90 * 24 * 3600;
        let m = refusal(&raw(
            hs(),
            good(serde_json::json!({"iat": now, "exp": now + max + 1})),
        ));
        assert!(m.contains("longer than"), "{m}");
        // No issue time: its lifetime cannot be told.
        let m = refusal(&raw(hs(), good(serde_json::json!({"iat": null}))));
        assert!(m.contains("iat"), "{m}");
        // Issued in the future.
        let m = refusal(&raw(
            hs(),
            good(serde_json::json!({"iat": now + 3600, "exp": now + 4000})),
        ));
        assert!(m.contains("future"), "{m}");
    }

    #[test]
    fn a_configured_maximum_lifetime_applies_to_verifying_and_minting() {
        // A smaller configured maximum applies, to verifying and to minting.
        let auth = AuthConfig::hs256(&[7; 32])
            .unwrap()
            .with_policy(TokenPolicy {
                max_lifetime: Duration::from_secs(300),
                ..TokenPolicy::default()
            });
        assert!(
            auth.verify(&raw(hs(), good(serde_json::json!({}))))
                .is_err()
        );
        assert!(matches!(
            auth.mint(TokenRole::Auditor, None, None, Duration::from_secs(301)),
            Err(MintError::TooLong { .. })
        ));
        assert!(
            auth.mint(TokenRole::Auditor, None, None, Duration::from_secs(300))
                .is_ok()
        );
    }

    #[test]
    fn a_token_without_an_id_is_refused() {
        let m = refusal(&raw(hs(), good(serde_json::json!({"jti": null}))));
        assert!(m.contains("jti"), "{m}");
    }
}
