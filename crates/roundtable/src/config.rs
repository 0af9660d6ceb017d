//! The optional configuration file: `--config FILE` or `ROUNDTABLE_CONFIG`.
//!
//! A TOML file of the same settings as the flags, by their long names with `_` or
//! `-` (`nats_url`, `data_dir`, `listen`, `jwt_secret_file`...). Precedence: flags,
//! then environment variables, then the file, then built-in defaults: the file's values
//! become the defaults of the matching arguments.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Command;

/// `cmd` with the defaults the config file gives, when there is one.
///
/// # Errors
/// An unreadable file, malformed TOML, a value that is not a string, number or
/// boolean, or a setting no command has.
pub(crate) fn with_file_defaults(mut cmd: Command) -> anyhow::Result<Command> {
    let Some(path) = config_path() else {
        return Ok(cmd);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
    for (key, value) in table {
        let id = key.replace('-', "_");
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => bail!(
                "config file {}: {key} must be a string, number or boolean, not {other}",
                path.display()
            ),
        };
        // Parsed once at start-up; clap keeps defaults as 'static strings.
        let value: &'static str = Box::leak(text.into_boxed_str());
        let mut found = false;
        cmd = set_default(cmd, &id, value, &mut found);
        if !found || id == "config" {
            bail!(
                "config file {}: no command has a setting {key:?}",
                path.display()
            );
        }
    }
    Ok(cmd)
}

fn set_default(mut cmd: Command, id: &str, value: &'static str, found: &mut bool) -> Command {
    if cmd.get_arguments().any(|a| a.get_id() == id) {
        *found = true;
        cmd = cmd.mut_arg(id, |a| a.default_value(value));
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| set_default(sub, id, value, found));
    }
    cmd
}

fn config_path() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy().into_owned();
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("ROUNDTABLE_CONFIG").map(PathBuf::from)
}
