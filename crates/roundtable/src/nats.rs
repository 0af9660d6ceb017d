//! How the binary authenticates to NATS and checks its TLS (docs/NATS.md,
//! "Authentication and TLS"): global options, also from the environment and the
//! config file. Secrets are held in [`Secret`], whose `Debug` prints `<redacted>`.

use std::path::PathBuf;

use anyhow::bail;
use roundtable_nats::{NatsAuth, NatsConfig, NatsTls, Secret};

/// The NATS connection's credentials and TLS settings.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "NATS authentication and TLS")]
pub(crate) struct NatsOptions {
    /// NATS user name (with --nats-password or --nats-password-file).
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_USER")]
    nats_user: Option<String>,
    /// NATS password (prefer ROUNDTABLE_NATS_PASSWORD or --nats-password-file: a flag
    /// is visible to other users of the machine).
    #[arg(
        long,
        global = true,
        env = "ROUNDTABLE_NATS_PASSWORD",
        hide_env_values = true
    )]
    nats_password: Option<Secret>,
    /// A file holding the NATS password.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_PASSWORD_FILE")]
    nats_password_file: Option<PathBuf>,
    /// NATS token (prefer ROUNDTABLE_NATS_TOKEN or --nats-token-file).
    #[arg(
        long,
        global = true,
        env = "ROUNDTABLE_NATS_TOKEN",
        hide_env_values = true
    )]
    nats_token: Option<Secret>,
    /// A file holding the NATS token.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_TOKEN_FILE")]
    nats_token_file: Option<PathBuf>,
    /// A file holding the NKey seed (SU...) the client signs in with.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_NKEY_SEED_FILE")]
    nats_nkey_seed_file: Option<PathBuf>,
    /// A NATS credentials file (user JWT and seed, as nsc writes it).
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_CREDS")]
    nats_creds: Option<PathBuf>,
    /// Require TLS to NATS (implied by the other --nats-tls-* options and tls:// URLs).
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_TLS")]
    nats_tls: bool,
    /// PEM file of the certificate authorities of the NATS server's certificate
    /// (default: the platform's roots).
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_TLS_CA")]
    nats_tls_ca: Option<PathBuf>,
    /// PEM file of the client certificate, for a server that verifies clients.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_TLS_CERT")]
    nats_tls_cert: Option<PathBuf>,
    /// PEM file of the client certificate's private key.
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_TLS_KEY")]
    nats_tls_key: Option<PathBuf>,
    /// The name the NATS server's certificate must carry (default: the URL's host).
    #[arg(long, global = true, env = "ROUNDTABLE_NATS_TLS_SERVER_NAME")]
    nats_tls_server_name: Option<String>,
}

impl NatsOptions {
    /// The adapter's settings: these credentials and TLS, and `replicas`.
    ///
    /// # Errors
    /// More than one way to authenticate, a user without a password (or the reverse),
    /// an unreadable secret file.
    pub(crate) fn config(&self, replicas: usize) -> anyhow::Result<NatsConfig> {
        let read = |path: &PathBuf, what: &str| {
            Secret::from_file(path, what).map_err(|e| anyhow::anyhow!("{e}"))
        };
        let password = match (&self.nats_password, &self.nats_password_file) {
            (Some(_), Some(_)) => bail!("give --nats-password or --nats-password-file, not both"),
            (Some(p), None) => Some(p.clone()),
            (None, Some(f)) => Some(read(f, "NATS password")?),
            (None, None) => None,
        };
        let token = match (&self.nats_token, &self.nats_token_file) {
            (Some(_), Some(_)) => bail!("give --nats-token or --nats-token-file, not both"),
            (Some(t), None) => Some(t.clone()),
            (None, Some(f)) => Some(read(f, "NATS token")?),
            (None, None) => None,
        };
        let mut ways = Vec::new();
        match (&self.nats_user, password) {
            (Some(user), Some(password)) => ways.push(NatsAuth::UserPassword {
                user: user.clone(),
                password,
            }),
            (Some(_), None) => {
                bail!("--nats-user needs --nats-password or --nats-password-file")
            }
            (None, Some(_)) => bail!("a NATS password needs --nats-user"),
            (None, None) => {}
        }
        if let Some(token) = token {
            ways.push(NatsAuth::Token(token));
        }
        if let Some(file) = &self.nats_nkey_seed_file {
            ways.push(NatsAuth::NKeySeed(read(file, "NATS NKey seed")?));
        }
        if let Some(file) = &self.nats_creds {
            ways.push(NatsAuth::CredentialsFile(file.clone()));
        }
        if ways.len() > 1 {
            bail!(
                "give one way to authenticate to NATS: a user and password, a token, an NKey seed or a credentials file"
            );
        }
        Ok(NatsConfig {
            replicas,
            auth: ways.pop().unwrap_or_default(),
            tls: NatsTls {
                required: self.nats_tls,
                ca_file: self.nats_tls_ca.clone(),
                client_cert: self.nats_tls_cert.clone(),
                client_key: self.nats_tls_key.clone(),
                server_name: self.nats_tls_server_name.clone(),
            },
            ..NatsConfig::default()
        })
    }
}
