//! Finding the `nats-server` executable and asking it its version.

use std::env;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TestkitError;
use crate::version::{INSTALL_HINT, MIN_VERSION, Version};

/// The environment variable naming the `nats-server` executable to use, overriding `PATH`.
pub const BINARY_ENV: &str = "ROUNDTABLE_NATS_SERVER";

/// A `nats-server` executable and the version it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBinary {
    path: PathBuf,
    version: Version,
}

impl ServerBinary {
    /// The executable tests should use: the path in [`BINARY_ENV`] when set (and not
    /// empty), else the first `nats-server` on `PATH`, checked to be at least
    /// [`MIN_VERSION`] (2.10.0).
    ///
    /// A wrapper script on `PATH` (such as a pyenv shim) is fine as long as it `exec`s
    /// the server, so that the process started is the server itself.
    ///
    /// # Errors
    /// [`TestkitError::NotFound`] when there is no such executable,
    /// [`TestkitError::Version`] when it cannot tell its version, and
    /// [`TestkitError::TooOld`] when it is older than 2.10.0.
    pub fn locate() -> Result<ServerBinary, TestkitError> {
        let path = match env::var_os(BINARY_ENV).filter(|v| !v.is_empty()) {
            Some(path) => PathBuf::from(path),
            None => find_on_path("nats-server", env::var_os("PATH")).ok_or_else(|| {
                TestkitError::NotFound(format!(
                    "no nats-server on PATH and {BINARY_ENV} is not set; {INSTALL_HINT}"
                ))
            })?,
        };
        ServerBinary::at(&path)?.require_supported()
    }

    /// This binary, if its version is at least [`MIN_VERSION`] (2.10.0).
    ///
    /// # Errors
    /// [`TestkitError::TooOld`], naming the version and path and how to get a current one.
    pub fn require_supported(self) -> Result<ServerBinary, TestkitError> {
        if self.version.is_supported() {
            return Ok(self);
        }
        Err(TestkitError::TooOld {
            version: self.version.to_string(),
            path: self.path.display().to_string(),
            message: format!(
                "nats-server {} at {} is too old: Roundtable needs {MIN_VERSION} or newer; {INSTALL_HINT} (or point {BINARY_ENV} at one)",
                self.version,
                self.path.display()
            ),
        })
    }

    /// The executable at `path`, whatever its version (so that a test can start an old
    /// server on purpose). Runs `path --version` once.
    ///
    /// # Errors
    /// [`TestkitError::NotFound`] when `path` cannot be run, [`TestkitError::Version`]
    /// when its output holds no version.
    pub fn at(path: impl AsRef<Path>) -> Result<ServerBinary, TestkitError> {
        let path = path.as_ref().to_path_buf();
        let output = Command::new(&path).arg("--version").output().map_err(|e| {
            TestkitError::NotFound(format!(
                "cannot run {} --version: {e}; {INSTALL_HINT}",
                path.display()
            ))
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let version = Version::from_version_output(&text).ok_or_else(|| {
            TestkitError::Version(format!(
                "{} --version printed no version: {:?}",
                path.display(),
                text.trim()
            ))
        })?;
        Ok(ServerBinary { path, version })
    }

    /// Where the executable is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version it reported.
    pub fn version(&self) -> &Version {
        &self.version
    }
}

/// The first executable file called `name` in the directories of `path_var`.
fn find_on_path(name: &str, path_var: Option<OsString>) -> Option<PathBuf> {
    env::split_paths(&path_var?)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_on_path_in_order() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let plain = a.path().join("tool");
        std::fs::write(&plain, "not executable").expect("write");
        let exe = b.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let var = env::join_paths([a.path(), b.path()]).expect("join");
        assert_eq!(find_on_path("tool", Some(var.clone())), Some(exe));
        assert_eq!(find_on_path("other", Some(var)), None);
        assert_eq!(find_on_path("tool", None), None);
    }

    #[test]
    fn a_missing_binary_is_not_found() {
        let err = ServerBinary::at("/nonexistent/nats-server").expect_err("missing");
        assert!(matches!(err, TestkitError::NotFound(_)), "{err:?}");
    }
}
