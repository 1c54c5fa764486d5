//! Persistence of the emulators' state: `qrs.json` and `qem.json` snapshots in the state
//! directory, written atomically whenever a state's `generation()` moved (checked every
//! [`CHECK_EVERY`]), once at start (so that the journal replayed into the state, or a fresh
//! seed, is on disk before anything refers to it) and once more on shutdown; `stats.json` with
//! the injected-fault count, the QEM request counts and the Windows authentication module's
//! counts (`{"faults_injected": N, "qem": {"requests", "logins", "refused_logins"}, "windows":
//! {"logins", "refusals"}}`), rewritten when they change.
//!
//! Snapshots alone would lose what changed since the last one: every answered change is also in
//! the journal (`journal`). A snapshot notes the last journal record it covers
//! ([`JOURNAL_SEQ`]), and the journal then drops the records it covers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use super::faults::Faults;
use super::journal::{self, Journal};
use super::proxy::windows::{WindowsCounts, WindowsStats};
use super::qem::{QemState, QemStats};
use super::qrs::QrsState;
use crate::error::{Error, Result};
use qtool_common::fs::{self as files, Sensitivity};

pub const CHECK_EVERY: Duration = Duration::from_millis(500);
/// The snapshot field naming the last journal record the snapshot covers.
pub const JOURNAL_SEQ: &str = "journal_seq";

/// The last journal record a snapshot covers (0 when it does not say).
pub fn journal_seq(snapshot: &Value) -> u64 {
    snapshot
        .get(JOURNAL_SEQ)
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// A snapshot file, if there is one.
pub fn load_snapshot(path: &Path) -> Result<Option<Value>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::input(format!("{} is not valid JSON: {e}", path.display())).with_hint(
                "restore it from a backup, or delete it to start that emulator from a fresh seed",
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
    }
}

/// What was last written, so unchanged states are not rewritten.
#[derive(Debug, Default, Clone, Copy)]
struct Written {
    qrs: Option<u64>,
    qem: Option<u64>,
    stats: Option<(u64, QemStats, WindowsCounts)>,
}

#[derive(Clone)]
pub struct Persister {
    qrs: Arc<QrsState>,
    qem: Arc<QemState>,
    faults: Arc<Faults>,
    windows: Arc<WindowsStats>,
    journal: Journal,
    qrs_path: PathBuf,
    qem_path: PathBuf,
    stats_path: PathBuf,
}

impl Persister {
    pub fn new(
        state_dir: &Path,
        qrs: Arc<QrsState>,
        qem: Arc<QemState>,
        faults: Arc<Faults>,
        windows: Arc<WindowsStats>,
        journal: Journal,
    ) -> Persister {
        Persister {
            qrs,
            qem,
            faults,
            windows,
            journal,
            qrs_path: state_dir.join("qrs.json"),
            qem_path: state_dir.join("qem.json"),
            stats_path: state_dir.join("stats.json"),
        }
    }

    /// Write every snapshot now (at start: what was replayed or seeded is then on disk, and
    /// the journal records it covers are dropped).
    pub fn save_all(&self) -> Result<()> {
        self.save(&mut Written::default())
    }

    /// Write whatever changed since `written` (everything when `written` is empty).
    fn save(&self, written: &mut Written) -> Result<()> {
        // Read the generation and the journal position before the snapshot: a change racing
        // with it is written next time, and its record stays in the journal until then.
        let generation = self.qrs.generation();
        if written.qrs != Some(generation) {
            let covered = self.journal.last_seq();
            let qrs = &self.qrs;
            write_streamed(&self.qrs_path, Sensitivity::Secret, |out| {
                qrs.write_snapshot_covering(out, Some(covered))
            })?;
            self.journal.compact(journal::Kind::Qrs, covered);
            written.qrs = Some(generation);
        }
        let generation = self.qem.generation();
        if written.qem != Some(generation) {
            let covered = self.journal.last_seq();
            let mut snapshot = self.qem.snapshot();
            if let Value::Object(fields) = &mut snapshot {
                fields.insert(JOURNAL_SEQ.into(), Value::from(covered));
            }
            write_json(&self.qem_path, &snapshot, Sensitivity::Secret)?;
            self.journal.compact(journal::Kind::Qem, covered);
            written.qem = Some(generation);
        }
        let stats = (
            self.faults.injected(),
            self.qem.stats(),
            self.windows.counts(),
        );
        if written.stats != Some(stats) {
            write_json(
                &self.stats_path,
                &serde_json::json!({
                    "faults_injected": stats.0,
                    "qem": stats.1,
                    "windows": stats.2,
                }),
                Sensitivity::Public,
            )?;
            written.stats = Some(stats);
        }
        Ok(())
    }

    /// Snapshot changes every [`CHECK_EVERY`] until `stop` turns true, then once more.
    /// Errors while running are logged and retried; the final error is returned.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Result<()> {
        let mut written = Written::default();
        let mut ticker = tokio::time::interval(CHECK_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let (this, mut w) = (self.clone(), written);
            match tokio::task::spawn_blocking(move || this.save(&mut w).map(|()| w)).await {
                Ok(Ok(w)) => written = w,
                Ok(Err(e)) => tracing::warn!("snapshot failed (will retry): {e}"),
                Err(e) => tracing::warn!("snapshot task failed: {e}"),
            }
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.save(&mut written))
            .await
            .map_err(|e| Error::failed(format!("final snapshot failed: {e}")))?
    }
}

/// Write what `write` produces to `path` atomically (temp file with the final permissions,
/// fsynced, renamed over the target), streamed through a buffer: the content is never held whole
/// in memory.
fn write_streamed(
    path: &Path,
    sensitivity: Sensitivity,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    files::ensure_private_dir(dir)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp_path, file) = files::create_temp(dir, &file_name, sensitivity)?;
    let result = (|| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp_path, path)?;
        // Makes the rename durable; failure only weakens durability, never correctness.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp_path);
        Error::io(format!("writing {}", path.display()), e)
    })
}

/// Snapshots are `Secret`: they hold the emulated users and settings of a test server.
fn write_json(path: &Path, value: &Value, sensitivity: Sensitivity) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::failed(format!("cannot serialise {}: {e}", path.display())))?;
    bytes.push(b'\n');
    Ok(files::atomic_write(path, &bytes, sensitivity)?)
}
