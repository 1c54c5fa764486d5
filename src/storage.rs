//! Files users trust us with: how they are written (temp file + fsync + rename,
//! so a crash never leaves a truncated file under the real name), the advisory lock that
//! serialises concurrent qtool processes, and the 0600 rule for anything secret.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

pub(crate) use qtool_common::fs::Sensitivity;

impl From<qtool_common::fs::FsError> for Error {
    fn from(e: qtool_common::fs::FsError) -> Self {
        Error::io(e.action, e.source)
    }
}

pub(crate) use qtool_common::fs::replace_unsafe_file_chars;

/// Create `dir` (and parents) private to the user.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<()> {
    Ok(qtool_common::fs::ensure_private_dir(dir)?)
}

/// Write `bytes` to `path` atomically (see [`qtool_common::fs::atomic_write`]); a symlink is
/// written through to its target.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8], sensitivity: Sensitivity) -> Result<()> {
    Ok(qtool_common::fs::atomic_write(path, bytes, sensitivity)?)
}

pub(crate) use qtool_common::fs::{Staged, remove_stale_temps};

/// A new version of `path` written and fsynced, put in place by [`Staged::commit`].
pub(crate) fn stage(path: &Path, bytes: &[u8], sensitivity: Sensitivity) -> Result<Staged> {
    Ok(qtool_common::fs::stage(path, bytes, sensitivity)?)
}

/// The exclusive advisory lock on `<dir>/.lock` under which every read-modify-write of the
/// context store happens, so concurrent `qtool context create` runs never lose data.
pub(crate) fn lock_dir(dir: &Path) -> Result<qtool_common::fs::DirLock> {
    qtool_common::fs::DirLock::acquire(dir, ".lock").map_err(|e| {
        let dir_shown = dir.display();
        Error::from(e).with_hint(format!(
            "qtool creates and locks {dir_shown}/.lock before it changes contexts: check that {dir_shown} is a directory you can write to (`ls -ld {dir_shown}`), or set QTOOL_CONFIG_DIR"
        ))
    })
}

/// Warn (once per file) when a secret file is readable by group or others.
#[cfg(unix)]
pub(crate) fn warn_if_loose(path: &Path) {
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
