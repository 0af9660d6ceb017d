//! The log key, checkpoints and proofs (docs/AUDIT.md, "Checkpoints"): thin
//! commands over `roundtable-checkpoint` and `roundtable_audit::anchor`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use roundtable_checkpoint::{CheckpointSigner, ED25519, SignerKey, VerifierKey};
use roundtable_domain::NegotiationId;

use crate::audit::write_to;
use crate::backend::Backend;

/// The file beside a log key that keeps every public key it has had, one verifier key
/// a line, oldest first: what verifiers need for checkpoints signed before a rotation.
pub(crate) fn public_file(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

fn fresh_seed() -> anyhow::Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(seed)
}

/// Writes `text` to `path` readable by its owner only (0600), through a temporary
/// file renamed over it.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp-new-key");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn append_public(key_file: &Path, key: &VerifierKey) -> anyhow::Result<PathBuf> {
    let path = public_file(key_file);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{key}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `roundtable keys log-generate --name DEPLOYMENT --key-file FILE`.
pub(crate) fn generate(name: &str, key_file: &Path) -> anyhow::Result<ExitCode> {
    generate_typed(name, key_file, ED25519, "log key")
}

/// `roundtable keys witness-generate --name WITNESS --key-file FILE`: a
/// cosignature/v1 key (type 0x04, c2sp.org/tlog-cosignature) for `roundtable witness`.
pub(crate) fn generate_witness(name: &str, key_file: &Path) -> anyhow::Result<ExitCode> {
    generate_typed(
        name,
        key_file,
        roundtable_checkpoint::COSIGNATURE_V1,
        "witness key",
    )
}

fn generate_typed(
    name: &str,
    key_file: &Path,
    sig_type: u8,
    what: &str,
) -> anyhow::Result<ExitCode> {
    if key_file.exists() {
        bail!(
            "{} already exists; use keys log-rotate to replace a log key",
            key_file.display()
        );
    }
    let key = SignerKey::from_seed(name, sig_type, fresh_seed()?)
        .with_context(|| format!("cannot make a {what} named {name:?}"))?;
    write_private(key_file, &(key.to_private_string() + "\n"))?;
    let public = append_public(key_file, &key.verifier())?;
    eprintln!(
        "wrote the {what} to {} (keep it secret) and its public key to {}",
        key_file.display(),
        public.display()
    );
    println!("{}", key.verifier());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn read_key(key_file: &Path) -> anyhow::Result<SignerKey> {
    let text = std::fs::read_to_string(key_file)
        .with_context(|| format!("cannot read the log key {}", key_file.display()))?;
    SignerKey::parse(text.trim())
        .with_context(|| format!("{} is not a log key", key_file.display()))
}

/// `roundtable keys log-rotate --key-file FILE`: a new key of the same name; the old
/// public key stays in FILE.pub so that old checkpoints keep verifying.
pub(crate) fn rotate(key_file: &Path) -> anyhow::Result<ExitCode> {
    let old = read_key(key_file)?;
    let key = SignerKey::from_seed(old.name(), ED25519, fresh_seed()?)?;
    let public = public_file(key_file);
    let known = std::fs::read_to_string(&public).unwrap_or_default();
    if !known.lines().any(|l| l == old.verifier().to_string()) {
        append_public(key_file, &old.verifier())?;
    }
    write_private(key_file, &(key.to_private_string() + "\n"))?;
    append_public(key_file, &key.verifier())?;
    eprintln!(
        "rotated the log key in {}: new key id {:08x}, old key id {:08x} kept in {}",
        key_file.display(),
        key.key_id(),
        old.key_id(),
        public.display()
    );
    println!("{}", key.verifier());
    Ok(ExitCode::SUCCESS)
}

/// `roundtable checkpoint ID --log-key FILE [--size N] [--output FILE]`.
pub(crate) async fn checkpoint(
    backend: &Backend,
    id: &NegotiationId,
    key_file: &Path,
    size: Option<u64>,
    output: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let signer = CheckpointSigner::new(read_key(key_file)?)?;
    let events = backend.store().read(id, 0, None).await?;
    if events.is_empty() {
        eprintln!(
            "error: negotiation {id} has no recorded events in {}",
            backend.describe()
        );
        return Ok(ExitCode::from(1));
    }
    let note = roundtable_audit::anchor::sign_checkpoint(&signer, &events, size)
        .with_context(|| format!("cannot make a checkpoint of {id}"))?;
    let size = size.unwrap_or(events.len() as u64);
    write_to(
        output,
        note.as_bytes(),
        &format!("the checkpoint of {id} at size {size}"),
    )
}

/// `roundtable prove ID --inclusion VERSION --size N` or `--consistency N M`, through
/// the application layer's use cases (as `GET .../proof/...`).
pub(crate) async fn prove(
    backend: &Backend,
    id: &NegotiationId,
    inclusion: Option<u64>,
    size: Option<u64>,
    consistency: Option<&[u64]>,
) -> anyhow::Result<ExitCode> {
    let log = &**backend.store();
    let json = match (inclusion, consistency) {
        (Some(version), None) => roundtable_app::checkpoints::inclusion(log, id, version, size)
            .await
            .map(serde_json::to_value),
        (None, Some([old, new])) => roundtable_app::checkpoints::consistency(log, id, *old, *new)
            .await
            .map(serde_json::to_value),
        _ => bail!("give --inclusion VERSION [--size N], or --consistency OLD NEW"),
    };
    let json = match json {
        Ok(json) => json?,
        Err(e @ roundtable_app::AppError::NotRecorded { .. }) => {
            return crate::audit::not_found(backend, e);
        }
        Err(e) => return Err(e.into()),
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(ExitCode::SUCCESS)
}

/// The log's verifier keys from `--log-key`: a verifier key, or a file of them (one a
/// line, such as the `.pub` file beside the log key).
pub(crate) fn verifier_keys(arg: &str) -> anyhow::Result<Vec<VerifierKey>> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?
    } else {
        arg.to_owned()
    };
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            if l.starts_with("PRIVATE+KEY+") {
                bail!("--log-key {arg}: line {} is a private key; give the public key (the .pub file)", i + 1);
            }
            VerifierKey::parse(l).with_context(|| format!("--log-key {arg}: line {} is not a verifier key", i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if keys.is_empty() {
        bail!("--log-key {arg} holds no verifier key");
    }
    Ok(keys)
}

/// The anchor of `verify FILE --checkpoint CP... --log-key KEY`.
pub(crate) fn anchor(
    checkpoints: &[PathBuf],
    log_key: &str,
) -> anyhow::Result<roundtable_audit::Anchor> {
    Ok(roundtable_audit::Anchor {
        checkpoints: checkpoints
            .iter()
            .map(|p| {
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read checkpoint {}", p.display()))
            })
            .collect::<anyhow::Result<_>>()?,
        log_keys: verifier_keys(log_key)?,
    })
}

/// The log's verifier keys to publish for the key in `key_file`: its own first, then
/// every other key of the `.pub` file beside it, newest first (the keys it had before
/// rotations).
pub(crate) fn published_keys(key_file: &Path, key: &SignerKey) -> Vec<VerifierKey> {
    let current = key.verifier();
    let mut keys = vec![current.clone()];
    let known = std::fs::read_to_string(public_file(key_file)).unwrap_or_default();
    for line in known.lines().rev() {
        if let Ok(k) = VerifierKey::parse(line.trim()) {
            if k != current && !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys
}
