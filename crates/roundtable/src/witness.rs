//! `roundtable witness`: fetch a negotiation's latest checkpoint from a server, check
//! that it extends the last one this witness cosigned (a consistency proof from the
//! server, verified here), cosign it (c2sp.org/tlog-cosignature) and send the
//! cosignature back; or refuse it and report a split view (docs/AUDIT.md,
//! "Witnesses"). Run it from cron: it keeps the last checkpoint it holds of each
//! origin in a state directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use roundtable_checkpoint::merkle::Hash;
use roundtable_checkpoint::{LogCheckpoint, Note, Witness, WitnessError, verify_checkpoint};
use serde_json::Value;

/// The options of `roundtable witness`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WitnessArgs {
    /// The negotiation to witness.
    negotiation_id: String,
    /// The server's base URL (`https://roundtable.example.org`).
    #[arg(long, value_name = "URL")]
    server: String,
    /// A bearer token that may read the negotiation (`roundtable token issue`).
    #[arg(long, env = "ROUNDTABLE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The log's verifier key, or a file of them (the .pub file): obtained once, over
    /// a channel you trust, never from the server being checked.
    #[arg(long, value_name = "KEY")]
    log_key: String,
    /// The witness's cosignature key (`roundtable keys witness-generate`).
    #[arg(long, value_name = "FILE")]
    witness_key: PathBuf,
    /// Where the last checkpoint cosigned of each log is kept (created if missing).
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf,
}

fn state_file(dir: &Path, origin: &str) -> PathBuf {
    let name: String = origin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{name}.checkpoint"))
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self
            .http
            .request(method, format!("{}{path}", self.base.trim_end_matches('/')));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn text(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .with_context(|| format!("cannot reach {}{path}", self.base))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            bail!("GET {path} answered {status}: {}", body.trim());
        }
        Ok(body)
    }
}

fn hashes(proof: &Value) -> anyhow::Result<Vec<Hash>> {
    proof["proof"]
        .as_array()
        .context("the consistency proof has no \"proof\" list")?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            h.as_str()
                .and_then(|s| hex::decode(s).ok())
                .and_then(|b| b.try_into().ok())
                .with_context(|| {
                    format!(
                        "hash {} of the consistency proof is not 32 bytes of hex",
                        i + 1
                    )
                })
        })
        .collect()
}

/// Runs one round of the witness. Exit status: 0 cosigned (or already held); 1 the
/// checkpoint was refused (a split view, a rollback, a bad signature); 2 an error.
pub(crate) async fn run(args: &WitnessArgs) -> anyhow::Result<ExitCode> {
    let id = roundtable_domain::NegotiationId::new(args.negotiation_id.clone())
        .context("the negotiation id")?;
    let log_keys = crate::checkpoint::verifier_keys(&args.log_key)?;
    let key = crate::checkpoint::read_key(&args.witness_key)?;
    let witness = Witness::new(key, log_keys.clone()).with_context(|| {
        format!(
            "{} is not a witness key: make one with roundtable keys witness-generate",
            args.witness_key.display()
        )
    })?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot make an HTTP client")?,
        base: args.server.clone(),
        token: args.token.clone(),
    };
    let note = client
        .text(&format!("/v1/negotiations/{id}/checkpoint"))
        .await?;
    let new = match verify_checkpoint(&note, &log_keys) {
        Ok(v) => v.checkpoint,
        Err(e) => {
            eprintln!("refused: the server's checkpoint of {id} is not accepted: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let origin = new.to_checkpoint().origin;
    std::fs::create_dir_all(&args.state_dir)
        .with_context(|| format!("cannot create {}", args.state_dir.display()))?;
    let state = state_file(&args.state_dir, &origin);
    let held: Option<LogCheckpoint> = match std::fs::read_to_string(&state) {
        Ok(text) => Some(
            verify_checkpoint(&text, &log_keys)
                .with_context(|| {
                    format!("the checkpoint held in {} is not usable", state.display())
                })?
                .checkpoint,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", state.display())),
    };
    let proof = match &held {
        Some(h) if h.size > 0 && h.size <= new.size => {
            let body = client
                .text(&format!(
                    "/v1/negotiations/{id}/proof/consistency?old={}&new={}",
                    h.size, new.size
                ))
                .await?;
            let json: Value =
                serde_json::from_str(&body).context("the consistency proof is not JSON")?;
            hashes(&json)?
        }
        _ => Vec::new(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let witnessed = match witness.check(held.as_ref(), &note, &proof, now) {
        Ok(w) => w,
        Err(e @ (WitnessError::SplitView { .. } | WitnessError::Rollback { .. })) => {
            eprintln!("refused, not cosigned: {e}");
            if let Some(h) = &held {
                eprintln!(
                    "the checkpoint held (size {}, root {}) stays in {}: keep it as evidence",
                    h.size,
                    hex::encode(h.root),
                    state.display()
                );
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            eprintln!("refused, not cosigned: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let response = client
        .request(
            reqwest::Method::POST,
            &format!("/v1/negotiations/{id}/checkpoint/cosignatures"),
        )
        .json(&serde_json::json!({
            "witness_key": witness.verifier().to_string(),
            "note": witnessed.note,
        }))
        .send()
        .await
        .with_context(|| format!("cannot reach {}", args.server))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!(
            "the server refused the cosignature: {status}: {}",
            body.trim()
        );
    }
    // Hold the log's note (without other witnesses' lines) for the next round.
    let held_note = Note::parse(&note)
        .map(|n| {
            let mut plain = Note::new(n.text().to_owned()).unwrap_or(n.clone());
            for s in n.signatures() {
                if log_keys.iter().any(|k| k.names(&s.name, s.key_id)) {
                    let _ = plain.add_signature(s.clone());
                }
            }
            plain.to_string()
        })
        .unwrap_or(note);
    let tmp = state.with_extension("checkpoint.tmp");
    std::fs::write(&tmp, held_note)
        .and_then(|()| std::fs::rename(&tmp, &state))
        .with_context(|| format!("cannot write {}", state.display()))?;
    println!(
        "cosigned {origin} at size {} (root {}){}",
        new.size,
        hex::encode(new.root),
        match &held {
            Some(h) => format!(", consistent with size {} held", h.size),
            None => ", the first held".to_owned(),
        }
    );
    Ok(ExitCode::SUCCESS)
}
