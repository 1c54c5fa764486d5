//! Files users trust us with, written so that a crash never leaves a truncated file under the
//! real name (temp file + fsync + rename), serialised between processes by an advisory lock, and
//! created 0600 when they hold secrets.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// An I/O failure and what we were doing ("writing /x/contexts.toml"). Each caller turns it
/// into its own error type, keeping the operating system's [`io::Error`] for classification.
#[derive(Debug)]
pub struct FsError {
    pub action: String,
    pub source: io::Error,
}

impl FsError {
    fn new(action: impl Into<String>, source: io::Error) -> FsError {
        FsError {
            action: action.into(),
            source,
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.action, self.source)
    }
}

impl std::error::Error for FsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

pub type Result<T> = std::result::Result<T, FsError>;

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
        .map_err(|e| FsError::new(format!("creating directory {}", dir.display()), e))
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
    let result = (|| -> io::Result<()> {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp_path, path)?;
        sync_dir(dir);
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp_path);
        FsError::new(format!("writing {}", path.display()), e)
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
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(FsError::new(
                    format!("creating a file in {}", dir.display()),
                    e,
                ));
            }
        }
    }
}

/// Make a rename in `dir` durable. Failure only weakens durability, never correctness.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) {}

/// An exclusive advisory lock on a file in a directory, held until dropped. Every
/// read-modify-write of a shared set of files happens under it, so concurrent processes never
/// lose each other's changes.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Wait for the lock on `<dir>/<name>`.
    pub fn acquire(dir: &Path, name: &str) -> Result<DirLock> {
        let (file, path) = open_lock_file(dir, name)?;
        file.lock()
            .map_err(|e| FsError::new(format!("locking {}", path.display()), e))?;
        Ok(DirLock { _file: file })
    }

    /// Take the lock on `<dir>/<name>` if nobody holds it; `Ok(None)` when someone does.
    pub fn try_acquire(dir: &Path, name: &str) -> Result<Option<DirLock>> {
        let (file, path) = open_lock_file(dir, name)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DirLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => {
                Err(FsError::new(format!("locking {}", path.display()), e))
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
        .map_err(|e| FsError::new(format!("opening lock {}", path.display()), e))?;
    Ok((file, path))
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

    #[test]
    fn second_try_acquire_is_refused_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let held = DirLock::try_acquire(dir.path(), ".lock").unwrap();
        assert!(held.is_some());
        assert!(DirLock::try_acquire(dir.path(), ".lock").unwrap().is_none());
        drop(held);
        assert!(DirLock::try_acquire(dir.path(), ".lock").unwrap().is_some());
    }
}
