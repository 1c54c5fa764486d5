//! Files users trust us with: where they live, how they are written (temp file + fsync + rename,
//! so a crash never leaves a truncated file under the real name), the advisory lock that
//! serialises concurrent qtool processes, and the 0600 rule for anything secret.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether a file holds secrets (created 0600) or not (0644, still never group-writable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    Public,
    Secret,
}

impl Sensitivity {
    #[cfg(unix)]
    fn mode(self) -> u32 {
        match self {
            Sensitivity::Public => 0o644,
            Sensitivity::Secret => 0o600,
        }
    }
}

/// `name` with the characters no file name may hold on Windows, macOS or Linux (path
/// separators, reserved and control characters) replaced by `_`.
pub fn replace_unsafe_file_chars(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

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
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::io(format!("creating directory {}", dir.display()), e))
}

/// Write `bytes` to `path` atomically: a temp file in the same directory, created with the final
/// permissions, fsynced, then renamed over the target, then the directory fsynced.
/// Readers see the old file or the new one, never a mix; a crash leaves at worst a stray temp file.
pub fn atomic_write(path: &Path, bytes: &[u8], sensitivity: Sensitivity) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp_path, mut file) = create_temp(dir, &file_name, sensitivity)?;
    let result = (|| -> std::io::Result<()> {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp_path, path)?;
        sync_dir(dir);
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp_path);
        Error::io(format!("writing {}", path.display()), e)
    })
}

/// Open a new, uniquely named temp file next to the target (`.name.tmp-<pid>-<n>`).
pub fn create_temp(
    dir: &Path,
    file_name: &str,
    sensitivity: Sensitivity,
) -> Result<(PathBuf, File)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{file_name}.tmp-{}-{n}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(sensitivity.mode());
        }
        #[cfg(not(unix))]
        let _ = sensitivity;
        match options.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("creating a file in {}", dir.display()),
                    e,
                ));
            }
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) {
    // Makes the rename itself durable; failure only weakens durability, never correctness.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

/// An exclusive advisory lock on `<dir>/.lock`, held until dropped. Every read-modify-write of
/// the context store happens under it, so concurrent `qtool context create` runs never lose data.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Wait for the lock on `<dir>/.lock`.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let (file, path) = open_lock_file(dir, ".lock")?;
        file.lock()
            .map_err(|e| Error::io(format!("locking {}", path.display()), e))?;
        Ok(DirLock { _file: file })
    }

    /// Take the lock on `<dir>/<name>` if nobody holds it; `Ok(None)` when someone does.
    pub fn try_acquire(dir: &Path, name: &str) -> Result<Option<DirLock>> {
        let (file, path) = open_lock_file(dir, name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DirLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(Error::io(format!("locking {}", path.display()), e))
            }
        }
    }
}

fn open_lock_file(dir: &Path, name: &str) -> Result<(File, PathBuf)> {
    ensure_private_dir(dir)?;
    let path = dir.join(name);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(&path)
        .map_err(|e| Error::io(format!("opening lock {}", path.display()), e))?;
    Ok((file, path))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("credentials.toml");
        atomic_write(&path, b"one", Sensitivity::Secret).unwrap();
        atomic_write(&path, b"two", Sensitivity::Secret).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
