//! Files users trust us with: where they live, how they are written (temp file + fsync + rename,
//! so a crash never leaves a truncated file under the real name), the advisory lock that
//! serialises concurrent qtool processes, and the 0600 rule for anything secret.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use qtool_common::fs::Sensitivity;

impl From<qtool_common::fs::FsError> for Error {
    fn from(e: qtool_common::fs::FsError) -> Self {
        Error::io(e.action, e.source)
    }
}

pub use qtool_common::fs::replace_unsafe_file_chars;

/// qtool's configuration directory: `$QTOOL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/qtool`, else
/// `~/.config/qtool` (also on macOS, like oxide, xh and atuin), or `%APPDATA%\qtool` on Windows.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(dir) = non_empty_env("QTOOL_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if cfg!(windows) {
        return dirs::config_dir().map(|d| d.join("qtool")).ok_or_else(|| {
            Error::config("cannot find %APPDATA%").with_hint("set QTOOL_CONFIG_DIR")
        });
    }
    if let Some(xdg) = non_empty_env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Ok(xdg.join("qtool"));
    }
    dirs::home_dir()
        .map(|h| h.join(".config").join("qtool"))
        .ok_or_else(|| {
            Error::config("cannot find the home directory").with_hint("set QTOOL_CONFIG_DIR")
        })
}

/// Cache directory (QEM session ids): `$QTOOL_CACHE_DIR`, else `<config dir>/cache` when the
/// config dir was overridden (keeps tests and portable set-ups self-contained), else the OS cache dir.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(dir) = non_empty_env("QTOOL_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty_env("QTOOL_CONFIG_DIR") {
        return Ok(PathBuf::from(dir).join("cache"));
    }
    match dirs::cache_dir() {
        Some(d) => Ok(d.join("qtool")),
        None => Ok(config_dir()?.join("cache")),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Create `dir` (and parents) private to the user.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    Ok(qtool_common::fs::ensure_private_dir(dir)?)
}

/// Write `bytes` to `path` atomically (see [`qtool_common::fs::atomic_write`]).
pub fn atomic_write(path: &Path, bytes: &[u8], sensitivity: Sensitivity) -> Result<()> {
    Ok(qtool_common::fs::atomic_write(path, bytes, sensitivity)?)
}

/// Open a new, uniquely named temp file next to the target (`.name.tmp-<pid>-<n>`).
pub fn create_temp(
    dir: &Path,
    file_name: &str,
    sensitivity: Sensitivity,
) -> Result<(PathBuf, File)> {
    Ok(qtool_common::fs::create_temp(dir, file_name, sensitivity)?)
}

/// The exclusive advisory lock on `<dir>/.lock` under which every read-modify-write of the
/// context store happens, so concurrent `qtool context create` runs never lose data.
pub fn lock_dir(dir: &Path) -> Result<qtool_common::fs::DirLock> {
    Ok(qtool_common::fs::DirLock::acquire(dir, ".lock")?)
}

/// Warn (once per file) when a secret file is readable by group or others.
#[cfg(unix)]
pub fn warn_if_loose(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        crate::output::warn(&format!(
            "{} is accessible by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        ));
    }
}

#[cfg(not(unix))]
pub fn warn_if_loose(_path: &Path) {}

/// Read a whole file, with a clear error naming it.
pub fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            Error::input(format!("{} is not UTF-8 text", path.display()))
        } else {
            Error::io(format!("reading {}", path.display()), e)
        }
    })
}
