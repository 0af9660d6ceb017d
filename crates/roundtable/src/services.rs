//! The long-running services: `serve` (HTTP API, projector and webhook deliveries in
//! one process), `api` and `project` (the pieces apart), and `token issue`.
//!
//! Shutdown: SIGINT or SIGTERM stops taking work; the HTTP server finishes the requests
//! in flight, the projector finishes and acknowledges its batch (its checkpoint), then
//! the NATS connection is drained.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use roundtable_api::revocation::Revocations;
use roundtable_api::{
    ApiState, AuthConfig, Principal, Readiness, StoreReadiness, TokenPolicy, TokenRole, is_loopback,
};
use roundtable_domain::{NegotiationId, PartnerId};
use roundtable_projector::{OverdueTimer, Projector, ViewStore};
use roundtable_store::Connection;
use roundtable_webhooks::WebhookStore;
use roundtable_webhooks::{KvWebhookStore, RetryPolicy, UrlPolicy, WebhookConfig, WebhookWorker};
use tokio::sync::watch;

use crate::backend::Backend;
use crate::limits::HttpOptions;

/// How HTTP requests are authenticated (docs/API.md, "Tokens").
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuthOptions {
    /// HS256: a file holding the shared secret tokens are signed with (at least 32 bytes).
    #[arg(long, env = "ROUNDTABLE_JWT_SECRET_FILE")]
    jwt_secret_file: Option<PathBuf>,
    /// EdDSA: the Ed25519 public key (PEM) tokens are verified with.
    #[arg(long, env = "ROUNDTABLE_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,
    /// EdDSA: the Ed25519 private key (PEM), needed only to mint tokens.
    #[arg(long, env = "ROUNDTABLE_JWT_PRIVATE_KEY")]
    jwt_private_key: Option<PathBuf>,
    /// Accept requests without tokens (acting as the secretariat, or as the partner
    /// named by the X-Roundtable-Actor header). Only on a loopback address.
    #[arg(long, env = "ROUNDTABLE_INSECURE_DEV_MODE")]
    insecure_dev_mode: bool,
    /// The issuer (`iss`) tokens are minted with and must carry.
    #[arg(long, env = "ROUNDTABLE_JWT_ISSUER", default_value = roundtable_api::auth::DEFAULT_ISSUER)]
    jwt_issuer: String,
    /// The audience (`aud`) tokens are minted with and must carry.
    #[arg(long, env = "ROUNDTABLE_JWT_AUDIENCE", default_value = roundtable_api::auth::DEFAULT_AUDIENCE)]
    jwt_audience: String,
    /// The longest a token may live (`exp - iat`), in hours: longer ones are neither
    /// minted nor accepted.
    #[arg(
        long,
        env = "ROUNDTABLE_JWT_MAX_LIFETIME_HOURS",
        default_value_t = 2160
    )]
    jwt_max_lifetime_hours: u64,
}

/// The environment variable holding an HS256 secret, as an alternative to a file.
const SECRET_ENV: &str = "ROUNDTABLE_JWT_SECRET";

impl AuthOptions {
    /// The token configuration these options select, with their policy (issuer,
    /// audience, maximum lifetime).
    pub(crate) fn config(&self, listen: Option<SocketAddr>) -> anyhow::Result<AuthConfig> {
        if self.jwt_issuer.trim().is_empty() || self.jwt_audience.trim().is_empty() {
            bail!("--jwt-issuer and --jwt-audience must not be empty");
        }
        if self.jwt_max_lifetime_hours == 0 {
            bail!("--jwt-max-lifetime-hours must be at least 1");
        }
        let policy = TokenPolicy {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            max_lifetime: Duration::from_secs(self.jwt_max_lifetime_hours.saturating_mul(3600)),
        };
        Ok(self.keys(listen)?.with_policy(policy))
    }

    fn keys(&self, listen: Option<SocketAddr>) -> anyhow::Result<AuthConfig> {
        if self.insecure_dev_mode {
            let Some(addr) = listen.filter(is_loopback) else {
                bail!(
                    "--insecure-dev-mode (no tokens) is allowed only on a loopback address such as 127.0.0.1:8080"
                );
            };
            let banner = "!! DEVELOPMENT MODE: no tokens are checked; anyone who reaches";
            eprintln!(
                "{banner} {addr} acts as the secretariat or any partner. Never use this with real negotiations. !!"
            );
            tracing::warn!(%addr, "development mode: requests are not authenticated");
            return Ok(AuthConfig::development());
        }
        if let Some(public) = &self.jwt_public_key {
            return AuthConfig::ed25519_from_files(public, self.jwt_private_key.as_deref())
                .context("cannot load the EdDSA token keys");
        }
        if let Some(file) = &self.jwt_secret_file {
            return AuthConfig::hs256_from_file(file).context("cannot load the HS256 token secret");
        }
        if std::env::var_os(SECRET_ENV).is_some() {
            return AuthConfig::hs256_from_env(SECRET_ENV)
                .context("cannot use the HS256 token secret");
        }
        bail!(
            "no token key: give --jwt-secret-file FILE, set {SECRET_ENV}, or --jwt-public-key FILE \
             (or, on a loopback address only, --insecure-dev-mode)"
        )
    }
}

/// `roundtable token issue`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TokenArgs {
    /// The role: secretariat, partner, auditor or integration.
    #[arg(long)]
    role: TokenRole,
    /// The negotiation it is scoped to (required for a partner; omitted: every negotiation).
    #[arg(long)]
    negotiation: Option<String>,
    /// The partner it acts as (role partner only).
    #[arg(long)]
    partner: Option<String>,
    /// How long it is valid, in hours.
    #[arg(long, default_value_t = 24)]
    ttl_hours: u64,
    /// Print a one-time sign-in link for the web app instead of the token: the base
    /// URL people reach the server at (`https://roundtable.example.org`).
    #[arg(long, value_name = "BASE_URL")]
    link: Option<String>,
    #[command(flatten)]
    auth: AuthOptions,
}

impl TokenArgs {
    /// The negotiation given with `--negotiation`, as typed.
    pub(crate) fn negotiation(&self) -> Option<&str> {
        self.negotiation.as_deref()
    }

    /// The partner given with `--partner`, as typed.
    pub(crate) fn partner(&self) -> Option<&str> {
        self.partner.as_deref()
    }
}

/// Prints a signed token for the principal `args` name.
pub(crate) fn issue_token(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    if args.auth.insecure_dev_mode {
        bail!("development mode has no tokens to issue");
    }
    let auth = args.auth.config(None)?;
    let negotiation = args
        .negotiation
        .as_deref()
        .map(NegotiationId::new)
        .transpose()
        .context("--negotiation")?;
    let partner = args
        .partner
        .as_deref()
        .map(PartnerId::new)
        .transpose()
        .context("--partner")?;
    let principal = Principal::new(args.role, negotiation, partner)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("cannot mint the token")?;
    let minted = auth
        .mint_token(
            &principal,
            Duration::from_secs(args.ttl_hours.saturating_mul(3600)),
        )
        .context("cannot mint the token")?;
    let token = minted.token;
    eprintln!(
        "token id (jti): {}; revoke it with: roundtable token revoke {}",
        minted.jti, minted.jti
    );
    match &args.link {
        Some(base) => {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                bail!("--link {base:?} must be an http:// or https:// base URL");
            }
            println!("{}", roundtable_web::sign_in_link(base, &token));
        }
        None => println!("{token}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `roundtable token revoke JTI`: puts the token on the store's deny-list, so every
/// server over this store refuses it from its next request on.
pub(crate) async fn revoke_token(
    backend: &Backend,
    jti: &str,
    reason: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let revocations = Revocations::open(&*backend.ports().kv)
        .await
        .context("cannot open the token deny-list")?;
    let new = revocations
        .revoke(jti, reason)
        .await
        .context("cannot revoke the token")?;
    if new {
        println!("revoked token {jti}: refused from the next request on");
    } else {
        println!("token {jti} was revoked already");
    }
    drain(backend).await;
    Ok(ExitCode::SUCCESS)
}

/// `roundtable token revoked`: the deny-list, one JSON object per line.
pub(crate) async fn list_revoked(backend: &Backend) -> anyhow::Result<ExitCode> {
    let revocations = Revocations::open(&*backend.ports().kv)
        .await
        .context("cannot open the token deny-list")?;
    for entry in revocations.list().await? {
        println!("{}", serde_json::to_string(&entry)?);
    }
    drain(backend).await;
    Ok(ExitCode::SUCCESS)
}

/// A future that completes once shutdown is asked for (by a signal, or by a
/// component that stopped: [`Shutdown::trigger`]).
#[derive(Clone)]
struct Shutdown(watch::Receiver<bool>, Arc<watch::Sender<bool>>);

impl Shutdown {
    /// Listens for SIGINT and SIGTERM.
    fn on_signals() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        let tx = Arc::new(tx);
        let trigger = tx.clone();
        tokio::spawn(async move {
            let interrupt = tokio::signal::ctrl_c();
            #[cfg(unix)]
            let terminate = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let terminate = std::future::pending::<()>();
            tokio::select! {
                _ = interrupt => {}
                () = terminate => {}
            }
            tracing::info!("shutdown requested: finishing work in flight");
            let _ = tx.send(true);
        });
        Shutdown(rx, trigger)
    }

    /// Asks every component to stop.
    fn trigger(&self) {
        let _ = self.1.send(true);
    }

    /// Whether shutdown was asked for.
    fn requested(&self) -> bool {
        *self.0.borrow()
    }

    async fn wait(mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }
}

/// `/readyz`: the connection is up and the stores answer.
struct PortsReadiness {
    stores: StoreReadiness,
    connection: Arc<dyn Connection>,
}

#[async_trait]
impl Readiness for PortsReadiness {
    async fn check(&self) -> Result<(), String> {
        self.connection.check().await?;
        if let Ok(false) = self.connection.log_exists().await {
            return Err("the event stream is missing".into());
        }
        self.stores.check().await
    }
}

/// Webhook deliveries (docs/INTEGRATIONS.md).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WebhookOptions {
    /// A webhook host (name or address, as written in URLs) allowed even though it is,
    /// or resolves to, a loopback, link-local or metadata address; repeat, or separate
    /// with commas. For a receiver on this machine: 127.0.0.1.
    #[arg(
        long = "allow-webhook-host",
        env = "ROUNDTABLE_ALLOW_WEBHOOK_HOSTS",
        value_delimiter = ','
    )]
    allow_webhook_host: Vec<String>,
    /// Allow webhooks to private addresses (10/8, 172.16/12, 192.168/16, 100.64/10,
    /// fc00::/7...): for receivers inside the operator's own network. Loopback,
    /// link-local, metadata and this host's own addresses stay refused.
    #[arg(long, env = "ROUNDTABLE_ALLOW_PRIVATE_WEBHOOKS")]
    allow_private_webhooks: bool,
    /// Attempts of one delivery before it is parked in the dead-letter list.
    #[arg(long, env = "ROUNDTABLE_WEBHOOK_MAX_ATTEMPTS", default_value_t = 50)]
    webhook_max_attempts: u32,
    /// The longest pause between two attempts, in seconds (backoff doubles from 1 s up
    /// to it, with full jitter).
    #[arg(
        long,
        env = "ROUNDTABLE_WEBHOOK_MAX_BACKOFF_SECS",
        default_value_t = 300
    )]
    webhook_max_backoff_secs: u64,
    /// The longest one attempt may take, in seconds.
    #[arg(long, env = "ROUNDTABLE_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    webhook_timeout_secs: u64,
}

impl WebhookOptions {
    fn policy(&self) -> UrlPolicy {
        UrlPolicy::allowing(self.allow_webhook_host.iter().map(|h| h.trim()))
            .with_private(self.allow_private_webhooks)
    }

    fn config(&self) -> WebhookConfig {
        let defaults = WebhookConfig::default();
        WebhookConfig {
            retry: RetryPolicy {
                max_attempts: self.webhook_max_attempts.max(1),
                max_backoff: Duration::from_secs(self.webhook_max_backoff_secs.max(1)),
                ..defaults.retry
            },
            attempt_timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            ..defaults
        }
    }
}

/// Signed checkpoints made by the server (docs/AUDIT.md, "Checkpoints made by the
/// server"; docs/OPERATIONS.md).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CheckpointOptions {
    /// The log key (`roundtable keys log-generate`): with it, the server signs
    /// checkpoints of every negotiation's log and serves them, with the proofs and the
    /// verifier keys of the .pub file beside it. Without it, no checkpoint is signed.
    #[arg(long, value_name = "FILE", env = "ROUNDTABLE_LOG_KEY_FILE")]
    log_key_file: Option<PathBuf>,
    /// Sign a checkpoint once this many events are not covered by one.
    #[arg(
        long,
        value_name = "N",
        env = "ROUNDTABLE_CHECKPOINT_EVERY_EVENTS",
        default_value_t = 1_000
    )]
    checkpoint_every_events: u64,
    /// Sign a checkpoint once new events have waited this many seconds for one.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "ROUNDTABLE_CHECKPOINT_EVERY_SECS",
        default_value_t = 10
    )]
    checkpoint_every_secs: u64,
}

/// The checkpoint store, the signer and the keys to publish, when a log key is given.
struct Checkpointing {
    store: roundtable_app::checkpoints::CheckpointStore,
    signer: roundtable_checkpoint::CheckpointSigner,
    keys: Vec<roundtable_checkpoint::VerifierKey>,
    policy: roundtable_app::checkpoints::CheckpointPolicy,
}

impl CheckpointOptions {
    async fn open(&self, backend: &Backend) -> anyhow::Result<Option<Checkpointing>> {
        let Some(file) = &self.log_key_file else {
            return Ok(None);
        };
        let key = crate::checkpoint::read_key(file)?;
        let keys = crate::checkpoint::published_keys(file, &key);
        let signer = roundtable_checkpoint::CheckpointSigner::new(key)
            .with_context(|| format!("{} cannot sign checkpoints", file.display()))?;
        let store =
            roundtable_app::checkpoints::CheckpointStore::open(&*backend.ports().kv).await?;
        let every = Duration::from_secs(self.checkpoint_every_secs);
        Ok(Some(Checkpointing {
            store,
            signer,
            keys,
            policy: roundtable_app::checkpoints::CheckpointPolicy {
                every_events: self.checkpoint_every_events.max(1),
                every,
                poll: every.clamp(Duration::from_millis(200), Duration::from_secs(1)),
            },
        }))
    }
}

/// The backend's webhook store, over its key-value port and change feeds.
async fn webhook_store(backend: &Backend) -> anyhow::Result<Arc<dyn WebhookStore>> {
    Ok(Arc::new(KvWebhookStore::from_ports(backend.ports()).await?))
}

async fn api_state(
    backend: &Backend,
    auth: AuthConfig,
    webhooks: &WebhookOptions,
    http: &HttpOptions,
    shutdown: &Shutdown,
    checkpoints: Option<&Checkpointing>,
) -> anyhow::Result<ApiState> {
    let views = backend.views().await?;
    let ports = backend.ports();
    let mut state = ApiState::new(backend.store().clone(), views.clone(), auth)
        .with_webhooks(webhook_store(backend).await?, webhooks.policy())
        .with_revocations(Arc::new(
            Revocations::open(&*ports.kv)
                .await
                .context("cannot open the token deny-list")?,
        ))
        .with_shutdown(shutdown.0.clone())
        .with_limits(http.limits()?);
    state.handler = Arc::new(backend.handler());
    let state = match checkpoints {
        Some(c) => state.with_checkpoints(c.store.clone(), c.keys.clone()),
        None => state,
    };
    let state = state.with_readiness(Arc::new(PortsReadiness {
        stores: StoreReadiness::new(backend.store().clone(), views),
        connection: ports.connection.clone(),
    }));
    let announcements = ports
        .kv
        .open(
            roundtable_store::overdue::OVERDUE_BUCKET,
            "Roundtable: overdue commitments announced",
        )
        .await?;
    let state = state.with_overdue(announcements);
    Ok(match &ports.watch {
        Some(watch) => state.with_change_watch(watch.clone()),
        None => state,
    })
}

/// A projector over the backend's feed, views and change notifications.
pub(crate) async fn projector(backend: &Backend) -> anyhow::Result<Projector> {
    let ports = backend.ports();
    let views: Arc<dyn ViewStore> = backend.views().await?;
    let feed = ports.feeds.open(roundtable_nats::DEFAULT_CONSUMER).await?;
    // The changes stream exists from start-up, so an integration can create its
    // durable consumer before the first change (docs/INTEGRATIONS.md).
    ports.changes.prepare().await?;
    Ok(Projector::new(
        ports.events.clone(),
        views,
        feed,
        ports.changes.clone(),
    ))
}

/// The overdue timer over the backend's views, announcements bucket and change sink
/// (docs/INTEGRATIONS.md, "Overdue commitments").
pub(crate) async fn overdue_timer(backend: &Backend) -> anyhow::Result<OverdueTimer> {
    let ports = backend.ports();
    let views: Arc<dyn ViewStore> = backend.views().await?;
    Ok(OverdueTimer::open(&*ports.kv, views, ports.changes.clone()).await?)
}

/// The sockets `serve` and `api` listen on, bound before anything else starts, so
/// that an address in use ends the process at once.
struct Listeners {
    api: tokio::net::TcpListener,
    metrics: Option<tokio::net::TcpListener>,
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for {what} (is another process using it? choose another with --listen or --metrics-listen)")
    })
}

impl Listeners {
    async fn bind(listen: SocketAddr, http: &HttpOptions) -> anyhow::Result<Listeners> {
        let api = bind(listen, "the HTTP API").await?;
        let metrics = match http.metrics_listen() {
            Some(addr) => Some(bind(addr, "the metrics").await?),
            None => None,
        };
        Ok(Listeners { api, metrics })
    }
}

async fn serve_http(
    listeners: Listeners,
    state: ApiState,
    http: &HttpOptions,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let limits = http.connections()?;
    let local = listeners.api.local_addr().context("the API socket")?;
    tracing::info!(%local, ?limits, "HTTP API listening");
    eprintln!("roundtable: HTTP API on http://{local} (OpenAPI at /openapi.json)");
    let api = supervised(
        "HTTP server",
        async {
            roundtable_api::serve(
                listeners.api,
                roundtable_api::router(state),
                limits,
                shutdown.clone().wait(),
            )
            .await
            .map_err(anyhow::Error::from)
        },
        &shutdown,
    );
    let metrics = async {
        let Some(listener) = listeners.metrics else {
            return Ok(());
        };
        let local = listener.local_addr().context("the metrics socket")?;
        tracing::info!(%local, "metrics listening");
        eprintln!("roundtable: metrics on http://{local}/metrics");
        supervised(
            "metrics HTTP server",
            async {
                roundtable_api::serve(
                    listener,
                    roundtable_api::metrics_router(),
                    limits,
                    shutdown.clone().wait(),
                )
                .await
                .map_err(anyhow::Error::from)
            },
            &shutdown,
        )
        .await
    };
    let (api, metrics) = tokio::join!(api, metrics);
    api.and(metrics)
}

/// Runs one component of the process. If it stops before shutdown was asked for (an
/// error, or an end of its own), it is logged as such, every other component is asked
/// to stop, and the error is returned: the process then exits non-zero, rather than
/// running on without it.
async fn supervised<F>(name: &str, component: F, shutdown: &Shutdown) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let result = component.await;
    if shutdown.requested() {
        return result.with_context(|| format!("the {name} failed while stopping"));
    }
    let error = match result {
        Err(e) => e.context(format!("the {name} failed; stopping the process")),
        Ok(()) => anyhow::anyhow!("the {name} stopped on its own; stopping the process"),
    };
    tracing::error!(
        component = name,
        error = format!("{error:#}"),
        "component stopped"
    );
    shutdown.trigger();
    Err(error)
}

/// Marks the views stale if the event log disappears while the service runs
/// ([`crate::logwatch`]), until shutdown.
async fn watch_log(backend: &Backend, shutdown: &Shutdown) -> anyhow::Result<()> {
    let views = backend.views().await?;
    tokio::spawn(crate::logwatch::watch(
        backend.ports().connection.clone(),
        views,
        shutdown.clone().wait(),
    ));
    Ok(())
}

async fn drain(backend: &Backend) {
    backend.ports().connection.close().await;
}

/// Runs `projector` until shutdown, restarting it after a store failure (a NATS outage,
/// the event stream gone while an operator restores it: docs/OPERATIONS.md, "When the
/// event log is lost") with a backoff from 1 s doubling to 30 s, so that `serve` goes on
/// answering reads, with stale marks, meanwhile. Returns once shutdown is asked for.
async fn keep_projecting(
    backend: &Backend,
    projector: &mut Projector,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let mut pause = Duration::from_secs(1);
    loop {
        match projector.run_until(shutdown.clone().wait()).await {
            Ok(stats) => {
                tracing::info!(?stats, "projector stopped");
                return Ok(());
            }
            Err(e) if shutdown.requested() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?pause, "the projector stopped on a store failure; restarting it");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shutdown.clone().wait() => return Ok(()),
                }
                pause = (pause * 2).min(Duration::from_secs(30));
                match self::projector(backend).await {
                    Ok(fresh) => *projector = fresh,
                    Err(e) => tracing::warn!(error = %e, "cannot restart the projector yet"),
                }
            }
        }
    }
}

/// `roundtable serve`: the HTTP API and the projector in one process.
///
/// The sockets are bound first: an address in use is an error at once. Then the HTTP
/// server, the projector and the webhook worker run together; if one of them stops
/// before a signal asked for it, the others are stopped and the process exits non-zero
/// with the reason ([`supervised`]).
pub(crate) async fn serve(
    backend: &Backend,
    listen: SocketAddr,
    auth: &AuthOptions,
    webhooks: &WebhookOptions,
    http: &HttpOptions,
    checkpoints: &CheckpointOptions,
) -> anyhow::Result<ExitCode> {
    let auth = auth.config(Some(listen))?;
    http.connections()?;
    let listeners = Listeners::bind(listen, http).await?;
    let shutdown = Shutdown::on_signals();
    let checkpointing = checkpoints.open(backend).await?;
    let state = api_state(
        backend,
        auth,
        webhooks,
        http,
        &shutdown,
        checkpointing.as_ref(),
    )
    .await?;
    watch_log(backend, &shutdown).await?;
    let mut projector = projector(backend).await?;
    let worker = WebhookWorker::new(
        webhook_store(backend).await?,
        webhooks.config(),
        webhooks.policy(),
    )
    .context("cannot make the webhook HTTP client")?;
    let serving = serve_http(listeners, state, http, shutdown.clone());
    let projecting = supervised(
        "projector",
        keep_projecting(backend, &mut projector, &shutdown),
        &shutdown,
    );
    let delivering = supervised(
        "webhook worker",
        async {
            worker.run_until(shutdown.clone().wait()).await;
            anyhow::Ok(())
        },
        &shutdown,
    );
    let signing = supervised(
        "checkpointer",
        async {
            match checkpointing {
                Some(c) => {
                    let mut checkpointer = roundtable_app::checkpoints::Checkpointer::new(
                        backend.store().clone(),
                        c.store,
                        c.signer,
                        c.policy,
                    );
                    checkpointer
                        .run_until(shutdown.clone().wait(), |_| {})
                        .await;
                }
                // Without a log key there is nothing to sign: wait with the others.
                None => shutdown.clone().wait().await,
            }
            anyhow::Ok(())
        },
        &shutdown,
    );
    let timer = overdue_timer(backend).await?;
    let announcing = supervised(
        "overdue timer",
        async {
            timer.run_until(shutdown.0.clone()).await;
            anyhow::Ok(())
        },
        &shutdown,
    );
    let (serving, projecting, delivering, signing, announcing) =
        tokio::join!(serving, projecting, delivering, signing, announcing);
    drain(backend).await;
    serving?;
    projecting?;
    delivering?;
    signing?;
    announcing?;
    Ok(ExitCode::SUCCESS)
}

/// `roundtable api`: the HTTP API alone (run `roundtable project` beside it).
pub(crate) async fn api(
    backend: &Backend,
    listen: SocketAddr,
    auth: &AuthOptions,
    webhooks: &WebhookOptions,
    http: &HttpOptions,
    checkpoints: &CheckpointOptions,
) -> anyhow::Result<ExitCode> {
    let auth = auth.config(Some(listen))?;
    http.connections()?;
    let listeners = Listeners::bind(listen, http).await?;
    let shutdown = Shutdown::on_signals();
    // The API serves the checkpoints kept (signed by `serve` elsewhere); it signs none.
    let checkpointing = checkpoints.open(backend).await?;
    let state = api_state(
        backend,
        auth,
        webhooks,
        http,
        &shutdown,
        checkpointing.as_ref(),
    )
    .await?;
    watch_log(backend, &shutdown).await?;
    let result = serve_http(listeners, state, http, shutdown).await;
    drain(backend).await;
    result.map(|()| ExitCode::SUCCESS)
}

/// What `roundtable project` does.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ProjectMode {
    /// Keep projecting until a signal.
    Follow,
    /// Catch up, print the stats, exit.
    Once,
    /// Drop the stored views, rebuild them from the log, exit.
    Rebuild,
    /// Print how far behind the projection is, exit.
    Status,
}

/// `roundtable project`.
pub(crate) async fn project(backend: &Backend, mode: ProjectMode) -> anyhow::Result<ExitCode> {
    let mut projector = projector(backend).await?;
    let stats = match mode {
        ProjectMode::Follow => {
            let shutdown = Shutdown::on_signals();
            let timer = overdue_timer(backend).await?;
            let (stats, ()) = tokio::join!(
                projector.run_until(shutdown.clone().wait()),
                timer.run_until(shutdown.0.clone())
            );
            stats?
        }
        ProjectMode::Once => projector.catch_up().await?,
        ProjectMode::Rebuild => projector.rebuild().await?,
        ProjectMode::Status => {
            let lag = projector.lag().await?;
            println!("{}", serde_json::json!({ "lag": lag }));
            drain(backend).await;
            return Ok(ExitCode::SUCCESS);
        }
    };
    drain(backend).await;
    println!("{}", serde_json::to_string(&stats)?);
    Ok(ExitCode::SUCCESS)
}
