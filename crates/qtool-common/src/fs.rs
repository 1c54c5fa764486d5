//! Files users trust us with, written so that a crash never leaves a truncated file under the
//! real name (temp file + fsync + rename), serialised between processes by an advisory lock, and
//! created 0600 when they hold secrets. A path that is a symlink (dotfile managers) is written
//! through to its target, atomically in the target's folder, so the link stays a link.

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
/// Readers see the old file or the new one, never a mix; a crash leaves at worst a stray temp file
/// (see [`remove_stale_temps`]). A symlink is written through to its target.
pub fn atomic_write(path: &Path, bytes: &[u8], sensitivity: Sensitivity) -> Result<()> {
    stage(path, bytes, sensitivity)?.commit()
}

/// A file's new content written and fsynced next to it, not yet in place: [`Staged::commit`]
/// renames it over the file; dropping it uncommitted removes it. Staging several files before
/// committing any makes a failure while writing (a full disk) leave all of them as they were.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    /// The file replaced: `path`, or the target its symlinks lead to.
    target: PathBuf,
    /// The path as given (for messages).
    shown: PathBuf,
    committed: bool,
}

impl Staged {
    /// Put the new content in place (rename, then fsync the folder).
    pub fn commit(mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| FsError::new(format!("writing {}", self.shown.display()), e))?;
        self.committed = true;
        sync_dir(parent_of(&self.target));
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Write `bytes` for `path` into a temp file next to the file (its symlink's target), with the
/// final permissions, and fsync it; see [`Staged`].
pub fn stage(path: &Path, bytes: &[u8], sensitivity: Sensitivity) -> Result<Staged> {
    let target = resolve_symlinks(path)?;
    let dir = parent_of(&target);
    ensure_private_dir(dir)?;
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, mut file) = create_temp_with_mode(dir, &file_name, mode_for(&target, sensitivity))?;
    let staged = Staged {
        tmp,
        target,
        shown: path.to_path_buf(),
        committed: false,
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| FsError::new(format!("writing {}", path.display()), e))?;
    Ok(staged)
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `path`, or the file its chain of symlinks leads to (which need not exist yet).
pub fn resolve_symlinks(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As many hops as the kernel follows (Linux: 40).
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current).map_err(|e| {
                    FsError::new(format!("reading the symlink {}", current.display()), e)
                })?;
                current = parent_of(&current).join(link);
            }
            _ => return Ok(current),
        }
    }
    Err(FsError::new(
        format!("following the symlinks of {}", path.display()),
        io::Error::other("too many levels of symbolic links"),
    ))
}

/// Remove the temp files [`atomic_write`] left for `path` (its symlink's target) when a writer
/// was killed: `.name.tmp-*` next to it. Call only under the lock every writer of `path` holds,
/// so no live writer's temp file is taken. Failures only leave the files.
pub fn remove_stale_temps(path: &Path) {
    let Ok(target) = resolve_symlinks(path) else {
        return;
    };
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = fs::read_dir(parent_of(&target)) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_string_lossy().starts_with(&prefix)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if is_ours {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The mode of a new version of `target`: the sensitivity's, never looser than the file's own
/// (a `contexts.toml` someone made 0600 stays 0600).
#[cfg(unix)]
fn mode_for(target: &Path, sensitivity: Sensitivity) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    match fs::metadata(target) {
        Ok(meta) => sensitivity.mode() & meta.permissions().mode() & 0o777 | 0o600,
        Err(_) => sensitivity.mode(),
    }
}

#[cfg(not(unix))]
fn mode_for(_target: &Path, _sensitivity: Sensitivity) -> u32 {
    0
}

/// Open a new, uniquely named temp file next to the target (`.name.tmp-<pid>-<n>`).
pub fn create_temp(
    dir: &Path,
    file_name: &str,
    sensitivity: Sensitivity,
) -> Result<(PathBuf, File)> {
    #[cfg(unix)]
    let mode = sensitivity.mode();
    #[cfg(not(unix))]
    let mode = {
        let _ = sensitivity;
        0
    };
    create_temp_with_mode(dir, file_name, mode)
}

fn create_temp_with_mode(dir: &Path, file_name: &str, mode: u32) -> Result<(PathBuf, File)> {
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
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
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

    #[cfg(unix)]
    #[test]
    fn symlinks_are_written_through_to_their_target() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        fs::create_dir(&dotfiles).unwrap();
        let target = dotfiles.join("qtool-credentials.toml");
        fs::write(&target, "old").unwrap();
        let config = dir.path().join("config");
        fs::create_dir(&config).unwrap();
        let link = config.join("credentials.toml");
        std::os::unix::fs::symlink("../dotfiles/qtool-credentials.toml", &link).unwrap();
        atomic_write(&link, b"new", Sensitivity::Secret).unwrap();
        atomic_write(&link, b"newer", Sensitivity::Secret).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "newer");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // A dangling link creates its target.
        let dangling = config.join("contexts.toml");
        std::os::unix::fs::symlink(dotfiles.join("contexts.toml"), &dangling).unwrap();
        atomic_write(&dangling, b"c", Sensitivity::Public).unwrap();
        assert_eq!(
            fs::read_to_string(dotfiles.join("contexts.toml")).unwrap(),
            "c"
        );
        // A public file someone made private stays private.
        fs::set_permissions(
            dotfiles.join("contexts.toml"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        atomic_write(&dangling, b"d", Sensitivity::Public).unwrap();
        assert_eq!(
            fs::metadata(dotfiles.join("contexts.toml"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        // A loop is an error, not a hang.
        let a = config.join("a");
        std::os::unix::fs::symlink(config.join("b"), &a).unwrap();
        std::os::unix::fs::symlink(&a, config.join("b")).unwrap();
        assert!(atomic_write(&a, b"x", Sensitivity::Public).is_err());
    }

    #[test]
    fn staged_files_change_nothing_until_committed_and_stale_temps_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contexts.toml");
        atomic_write(&path, b"one", Sensitivity::Public).unwrap();
        let staged = stage(&path, b"two", Sensitivity::Public).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one");
        drop(staged);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temp removed");
        stage(&path, b"three", Sensitivity::Public)
            .unwrap()
            .commit()
            .unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "three");

        // What a killed writer leaves, and files of other names, which stay.
        fs::write(dir.path().join(".contexts.toml.tmp-999-0"), "stale").unwrap();
        fs::write(dir.path().join(".other.toml.tmp-999-0"), "not ours").unwrap();
        remove_stale_temps(&path);
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".other.toml.tmp-999-0", "contexts.toml"]);
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
