//! How the client proves who it is to NATS ([`NatsAuth`]) and how it checks the
//! server ([`NatsTls`]); secrets are held in [`Secret`], which never prints.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_nats::ConnectOptions;
use async_nats::rustls;
use roundtable_store::StoreError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// A secret (a password, a token, an NKey seed): `Debug` and `Display` print
/// `<redacted>`, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Reads a secret from `path`; surrounding white space (a final newline) is not
    /// part of it.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] naming the file (never its content) when it cannot
    /// be read or holds nothing.
    pub fn from_file(path: &Path, what: &str) -> Result<Secret, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Incompatible(format!(
                "cannot read the {what} file {}: {e}",
                path.display()
            ))
        })?;
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::Incompatible(format!(
                "the {what} file {} is empty",
                path.display()
            )));
        }
        Ok(Secret(text.to_owned()))
    }

    /// The secret itself, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

/// How the client authenticates to the server (nats-server's `authorization` block
/// or, for [`NatsAuth::CredentialsFile`], operator mode with JWTs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NatsAuth {
    /// Nothing beyond what the URL holds (`nats://user:password@host:4222` works too).
    #[default]
    None,
    /// A user name and password.
    UserPassword {
        /// The user.
        user: String,
        /// Its password.
        password: Secret,
    },
    /// A token (`authorization { token: ... }`).
    Token(Secret),
    /// An NKey seed (`SU...`): the client signs the server's nonce with it.
    NKeySeed(Secret),
    /// A credentials file (`.creds`, as `nsc` writes them): the user's JWT and NKey
    /// seed.
    CredentialsFile(PathBuf),
}

/// TLS to the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NatsTls {
    /// Refuse a connection without TLS (also set by any of the other fields, and by a
    /// `tls://` URL).
    pub required: bool,
    /// PEM file of the certificate authorities that sign the server's certificate
    /// (default: the platform's roots).
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client's certificate (chain), for servers that verify clients.
    pub client_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    pub client_key: Option<PathBuf>,
    /// The name the server's certificate must carry (default: the URL's host), for a
    /// server reached by an address or a name its certificate does not hold.
    pub server_name: Option<String>,
}

impl NatsTls {
    /// Whether TLS is asked for at all.
    pub fn enabled(&self) -> bool {
        self.required
            || self.ca_file.is_some()
            || self.client_cert.is_some()
            || self.client_key.is_some()
            || self.server_name.is_some()
    }

    /// Checks that a client certificate comes with its key and the server name is one.
    ///
    /// # Errors
    /// [`StoreError::Incompatible`] naming the setting.
    pub fn validate(&self) -> Result<(), StoreError> {
        match (&self.client_cert, &self.client_key) {
            (Some(_), None) => {
                return Err(StoreError::Incompatible(
                    "a NATS TLS client certificate needs its private key (--nats-tls-key)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(StoreError::Incompatible(
                    "a NATS TLS private key needs its certificate (--nats-tls-cert)".into(),
                ));
            }
            _ => {}
        }
        if let Some(name) = &self.server_name {
            ServerName::try_from(name.clone()).map_err(|e| {
                StoreError::Incompatible(format!("NATS TLS server name {name:?}: {e}"))
            })?;
        }
        Ok(())
    }

    /// The rustls client configuration: the CA file's roots (or the platform's), the
    /// client certificate, and a verifier that checks the server's certificate for
    /// [`NatsTls::server_name`] when it is set.
    fn client_config(&self) -> Result<rustls::ClientConfig, StoreError> {
        let bad = |what: String| StoreError::Incompatible(what);
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|e| bad(format!("NATS TLS CA file {}: {e}", path.display())))?;
                if certs.is_empty() {
                    return Err(bad(format!(
                        "NATS TLS CA file {} holds no certificate",
                        path.display()
                    )));
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| bad(format!("NATS TLS CA file {}: {e}", path.display())))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("NATS TLS: {e}")))?;
        let roots = Arc::new(roots);
        let builder = match &self.server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone())
                    .map_err(|e| bad(format!("NATS TLS server name {name:?}: {e}")))?;
                let inner =
                    rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
                        .build()
                        .map_err(|e| bad(format!("NATS TLS: {e}")))?;
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(NamedServer { inner, name }))
            }
            None => builder.with_root_certificates(roots),
        };
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|e| {
                        bad(format!(
                            "NATS TLS client certificate {}: {e}",
                            cert.display()
                        ))
                    })?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| bad(format!("NATS TLS client key {}: {e}", key.display())))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| bad(format!("NATS TLS client certificate and key: {e}")))
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

/// Checks the server's certificate for a configured name instead of the URL's host.
#[derive(Debug)]
struct NamedServer {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for NamedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `options` with `auth` and `tls` applied.
///
/// # Errors
/// [`StoreError::Incompatible`] when a file cannot be read or a setting is unusable.
pub(crate) async fn apply(
    mut options: ConnectOptions,
    auth: &NatsAuth,
    tls: &NatsTls,
) -> Result<ConnectOptions, StoreError> {
    // The client makes its own TLS configuration when the server asks for TLS and
    // none is configured here; with more than one provider compiled in, rustls needs
    // a process default (an error only says one is installed already).
    let _ = rustls::crypto::ring::default_provider().install_default();
    options = match auth {
        NatsAuth::None => options,
        NatsAuth::UserPassword { user, password } => {
            options.user_and_password(user.clone(), password.expose().to_owned())
        }
        NatsAuth::Token(token) => options.token(token.expose().to_owned()),
        NatsAuth::NKeySeed(seed) => options.nkey(seed.expose().to_owned()),
        NatsAuth::CredentialsFile(path) => options.credentials_file(path).await.map_err(|e| {
            StoreError::Incompatible(format!(
                "cannot use the NATS credentials file {}: {e}",
                path.display()
            ))
        })?,
    };
    if tls.enabled() {
        options = options
            .require_tls(true)
            .tls_client_config(tls.client_config()?);
    }
    Ok(options)
}
