//! The write-ahead journal that makes an answered write survive `kill -9`: "record the change,
//! fsync, then answer".
//!
//! Snapshots (`persist`) are written every half second; alone they lose whatever was answered in
//! between. So every change is also appended to `<state-dir>/journal.jsonl` and made durable
//! (`fdatasync`) before the request that made it is answered:
//! - an emulator records a change with [`Journal::append`] (a record of its own format, replayed
//!   by the same emulator) or [`Journal::mark_dirty`] (the writer asks the emulator's registered
//!   image source for its whole state when it writes; for small states such as QEM's);
//! - both note the record's sequence number in the current request ([`track`]); the listener
//!   waits until the journal is durable up to it before sending the answer. Changes made outside
//!   a request (task runs) are written by the same writer, without anyone waiting;
//! - a handler that must act only once its change is durable (delete a file the change stops
//!   referencing) awaits [`flush_recorded`] first;
//! - the writer thread writes every record waiting at once and syncs once (group commit), so
//!   concurrent writes share an fsync;
//! - a snapshot notes the last sequence number it covers; [`Journal::compact`] then drops the
//!   records it covers, so the journal stays small;
//! - at start, [`Journal::open`] returns the records after the last line that is complete (a torn
//!   last line was never acknowledged), the emulators replay those newer than their snapshot,
//!   and a fresh snapshot compacts them away.
//!
//! Line format: `{"seq":N,"qrs":<ops>}` or `{"seq":N,"qem":<state>}`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::error::{Error, Result};
use qtool_common::fs::{self as files, Sensitivity};

pub const FILE_NAME: &str = "journal.jsonl";
/// Pause before writing again after a failed write (a full disk).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Whose record a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// QRS repository operations (`qrs::store`), replayed in order.
    Qrs,
    /// The whole QEM state; the latest one wins.
    Qem,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Qrs, Kind::Qem];

    fn key(self) -> &'static str {
        match self {
            Kind::Qrs => "qrs",
            Kind::Qem => "qem",
        }
    }

    /// Whether each record replaces the previous ones (a whole state) rather than adding to them.
    fn is_image(self) -> bool {
        matches!(self, Kind::Qem)
    }
}

/// A record read back at start.
#[derive(Debug)]
pub struct Record {
    pub seq: u64,
    pub kind: Kind,
    pub payload: Value,
}

/// Produces an emulator's whole state as JSON for an image record.
pub type ImageSource = Box<dyn Fn() -> Option<Vec<u8>> + Send + Sync>;

/// How far the journal is on disk.
#[derive(Debug, Clone, Default)]
struct Durable {
    through: u64,
    /// Set while writes fail (cleared by the next successful write).
    error: Option<Arc<str>>,
}

/// What the writer has to do next.
#[derive(Default)]
struct Queue {
    next_seq: u64,
    records: Vec<(u64, Kind, Vec<u8>)>,
    dirty_images: HashMap<Kind, u64>,
    compact: HashMap<Kind, u64>,
    stop: bool,
}

impl Queue {
    fn is_idle(&self) -> bool {
        self.records.is_empty() && self.dirty_images.is_empty() && self.compact.is_empty()
    }
}

struct Shared {
    path: PathBuf,
    queue: Mutex<Queue>,
    wake: Condvar,
    durable: watch::Sender<Durable>,
    images: Mutex<HashMap<Kind, ImageSource>>,
}

/// The journal of one state directory. Cheap to clone.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
    writer: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Journal {
    /// Open the journal of `dir` (creating it), returning the records it holds. The writer
    /// starts at once; the records stay in the file until a snapshot covers them.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<Record>)> {
        let path = dir.join(FILE_NAME);
        let (lines, good_len) = read_lines(&path)?;
        let mut records = Vec::with_capacity(lines.len());
        let mut last_seq = 0;
        for line in &lines {
            last_seq = last_seq.max(line.seq);
            let payload = serde_json::from_slice::<Value>(&line.text)
                .ok()
                .and_then(|mut v| v.get_mut(line.kind.key()).map(Value::take))
                .unwrap_or(Value::Null);
            records.push(Record {
                seq: line.seq,
                kind: line.kind,
                payload,
            });
        }
        let file = open_for_append(&path, good_len)?;
        let shared = Arc::new(Shared {
            path,
            queue: Mutex::new(Queue {
                next_seq: last_seq + 1,
                ..Queue::default()
            }),
            wake: Condvar::new(),
            durable: watch::Sender::new(Durable {
                through: last_seq,
                error: None,
            }),
            images: Mutex::new(HashMap::new()),
        });
        let mut writer = Writer {
            shared: shared.clone(),
            file,
            in_file: lines,
        };
        let thread = std::thread::Builder::new()
            .name("sandbox-journal".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::io("starting the journal writer", e))?;
        Ok((
            Journal {
                shared,
                writer: Arc::new(Mutex::new(Some(thread))),
            },
            records,
        ))
    }

    /// Where image records of `kind` come from.
    pub fn set_image_source(&self, kind: Kind, source: ImageSource) {
        lock(&self.shared.images).insert(kind, source);
    }

    /// Queue a record (a JSON value, as bytes); the current request waits for it.
    pub fn append(&self, kind: Kind, payload: Vec<u8>) -> u64 {
        let seq = {
            let mut q = lock(&self.shared.queue);
            let seq = q.next_seq;
            q.next_seq += 1;
            q.records.push((seq, kind, payload));
            seq
        };
        self.shared.wake.notify_one();
        note(self, seq);
        seq
    }

    /// The state of `kind` changed: the writer will record an image of it; the current request
    /// waits for it.
    pub fn mark_dirty(&self, kind: Kind) -> u64 {
        let seq = {
            let mut q = lock(&self.shared.queue);
            let seq = q.next_seq;
            q.next_seq += 1;
            q.dirty_images.insert(kind, seq);
            seq
        };
        self.shared.wake.notify_one();
        note(self, seq);
        seq
    }

    /// The last sequence number handed out: a snapshot taken after reading it covers every
    /// change up to it.
    pub fn last_seq(&self) -> u64 {
        lock(&self.shared.queue).next_seq - 1
    }

    /// A snapshot of `kind` covering every change up to `seq` is durable: drop those records.
    pub fn compact(&self, kind: Kind, seq: u64) {
        lock(&self.shared.queue).compact.insert(kind, seq);
        self.shared.wake.notify_one();
    }

    /// Wait until every record up to `seq` is on disk.
    pub async fn durable(&self, seq: u64) -> std::result::Result<(), Arc<str>> {
        let mut rx = self.shared.durable.subscribe();
        let state = rx
            .wait_for(|d| d.through >= seq || d.error.is_some())
            .await
            .map_err(|_| Arc::<str>::from("the journal writer stopped"))?;
        match (&state.error, state.through >= seq) {
            (_, true) => Ok(()),
            (Some(e), false) => Err(e.clone()),
            (None, false) => Err(Arc::from("the journal writer stopped")),
        }
    }

    /// Write what is queued, then stop the writer (at shutdown, after the final snapshot).
    pub fn close(&self) {
        lock(&self.shared.queue).stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = lock(&self.writer).take() {
            let _ = thread.join();
        }
    }
}

/// A complete line of the journal file.
#[derive(Debug)]
struct Line {
    seq: u64,
    kind: Kind,
    text: Vec<u8>,
}

/// The complete lines of the journal and the length they span; a torn last line is left out.
fn read_lines(path: &Path) -> Result<(Vec<Line>, u64)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut lines = Vec::new();
    let mut good_len = 0usize;
    let mut start = 0usize;
    let mut number = 0usize;
    while let Some(end) = bytes[start..].iter().position(|b| *b == b'\n') {
        let text = &bytes[start..start + end];
        number += 1;
        let is_last = start + end + 1 == bytes.len();
        match parse_line(text) {
            Some((seq, kind)) => lines.push(Line {
                seq,
                kind,
                text: text.to_vec(),
            }),
            // A torn write can only be the last one (each write is synced before the next).
            None if is_last => break,
            None => {
                return Err(Error::input(format!(
                    "{} line {number} is not a journal record",
                    path.display()
                ))
                .with_hint(
                    "restore the state directory from a backup, or delete the journal to start \
                     from the last snapshot",
                ));
            }
        }
        start += end + 1;
        good_len = start;
    }
    Ok((lines, good_len as u64))
}

fn parse_line(text: &[u8]) -> Option<(u64, Kind)> {
    let value: Value = serde_json::from_slice(text).ok()?;
    let seq = value.get("seq")?.as_u64()?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| value.get(k.key()).is_some())?;
    Some((seq, kind))
}

/// Open the journal for appending after its last complete line (a torn tail is cut off).
fn open_for_append(path: &Path, good_len: u64) -> Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        files::ensure_private_dir(dir)?;
    }
    let io = |e| Error::io(format!("opening {}", path.display()), e);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() != good_len {
        file.set_len(good_len).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(file)
}

/// The writer thread: batches, writes and syncs.
struct Writer {
    shared: Arc<Shared>,
    file: File,
    /// The lines in the file (images: only the latest of each kind matters).
    in_file: Vec<Line>,
}

/// What one turn of the writer takes from the queue.
struct Batch {
    through: u64,
    records: Vec<(u64, Kind, Vec<u8>)>,
    images: Vec<(Kind, u64)>,
    compact: HashMap<Kind, u64>,
}

impl Writer {
    fn run(&mut self) {
        let mut failed: Option<Batch> = None;
        loop {
            let batch = match failed.take() {
                Some(batch) => {
                    std::thread::sleep(RETRY_AFTER_FAILURE);
                    batch
                }
                None => match self.next_batch() {
                    Some(batch) => batch,
                    None => return,
                },
            };
            match self.write(&batch) {
                Ok(()) => {
                    self.shared.durable.send_modify(|d| {
                        d.through = d.through.max(batch.through);
                        d.error = None;
                    });
                    if let Err(e) = self.compact(&batch.compact) {
                        tracing::warn!("compacting the journal failed (will retry): {e}");
                    }
                }
                Err(e) => {
                    tracing::warn!("writing the journal failed (will retry): {e}");
                    let message: Arc<str> = Arc::from(format!(
                        "the sandbox could not write its journal ({}): {e}",
                        self.shared.path.display()
                    ));
                    self.shared.durable.send_modify(|d| d.error = Some(message));
                    failed = Some(batch);
                }
            }
        }
    }

    /// Wait for work; `None` once stopped with nothing left.
    fn next_batch(&self) -> Option<Batch> {
        let mut q = lock(&self.shared.queue);
        while q.is_idle() && !q.stop {
            q = self
                .shared
                .wake
                .wait(q)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if q.is_idle() {
            return None;
        }
        Some(Batch {
            through: q.next_seq - 1,
            records: std::mem::take(&mut q.records),
            images: q.dirty_images.drain().collect(),
            compact: std::mem::take(&mut q.compact),
        })
    }

    fn write(&mut self, batch: &Batch) -> std::io::Result<()> {
        let mut lines = Vec::with_capacity(batch.records.len() + batch.images.len());
        for (seq, kind, payload) in &batch.records {
            lines.push(line(*seq, *kind, payload));
        }
        for (kind, seq) in &batch.images {
            let image = lock(&self.shared.images)
                .get(kind)
                .and_then(|source| source());
            if let Some(image) = image {
                lines.push(line(*seq, *kind, &image));
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let before = self.file.metadata()?.len();
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.text.len() + 1).sum());
        for l in &lines {
            bytes.extend_from_slice(&l.text);
            bytes.push(b'\n');
        }
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no partial line behind for the next write to follow.
            let _ = self.file.set_len(before);
            return Err(e);
        }
        for l in lines {
            if l.kind.is_image() {
                self.in_file.retain(|old| old.kind != l.kind);
            }
            self.in_file.push(l);
        }
        Ok(())
    }

    /// Rewrite the file without the lines snapshots now cover (atomically: temp, fsync, rename).
    fn compact(&mut self, covered: &HashMap<Kind, u64>) -> Result<()> {
        let before = self.in_file.len();
        self.in_file
            .retain(|l| covered.get(&l.kind).is_none_or(|seq| l.seq > *seq));
        if covered.is_empty() || self.in_file.len() == before {
            return Ok(());
        }
        let mut bytes = Vec::new();
        for l in &self.in_file {
            bytes.extend_from_slice(&l.text);
            bytes.push(b'\n');
        }
        files::atomic_write(&self.shared.path, &bytes, Sensitivity::Secret)?;
        self.file = open_for_append(&self.shared.path, bytes.len() as u64)?;
        Ok(())
    }
}

fn line(seq: u64, kind: Kind, payload: &[u8]) -> Line {
    let mut text = format!("{{\"seq\":{seq},\"{}\":", kind.key()).into_bytes();
    text.extend_from_slice(payload);
    text.push(b'}');
    Line { seq, kind, text }
}

tokio::task_local! {
    /// The journal records the current request made: the answer waits for them.
    static RECORDED: RefCell<Option<(Journal, u64)>>;
}

fn note(journal: &Journal, seq: u64) {
    let _ = RECORDED.try_with(|recorded| {
        let mut recorded = recorded.borrow_mut();
        match recorded.as_mut() {
            Some((_, max)) => *max = (*max).max(seq),
            None => *recorded = Some((journal.clone(), seq)),
        }
    });
}

/// What a request recorded, to be made durable before its answer.
pub struct Recorded(Option<(Journal, u64)>);

impl Recorded {
    /// Wait until what the request recorded is on disk (at once when it recorded nothing).
    pub async fn durable(self) -> std::result::Result<(), Arc<str>> {
        match self.0 {
            Some((journal, seq)) => journal.durable(seq).await,
            None => Ok(()),
        }
    }
}

/// Run a request's handler, collecting the journal records it makes.
pub async fn track<F: std::future::Future>(handler: F) -> (F::Output, Recorded) {
    RECORDED
        .scope(RefCell::new(None), async move {
            let output = handler.await;
            let recorded = RECORDED.with(|r| r.borrow_mut().take());
            (output, Recorded(recorded))
        })
        .await
}

/// Wait until what the current request recorded so far is on disk.
pub async fn flush_recorded() -> std::result::Result<(), Arc<str>> {
    let recorded = RECORDED.try_with(|r| r.borrow().clone()).ok().flatten();
    Recorded(recorded).durable().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_a_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let (journal, old) = Journal::open(dir.path()).expect("open");
        assert!(old.is_empty());
        let (output, recorded) = track(async {
            journal.append(Kind::Qrs, br#"[["rm","app","a"]]"#.to_vec());
            journal.append(Kind::Qrs, br#"[["rm","app","b"]]"#.to_vec());
            7
        })
        .await;
        assert_eq!(output, 7);
        recorded.durable().await.expect("durable");
        journal.close();
        // A torn write after the last complete line (kill -9 mid-write).
        let path = dir.path().join(FILE_NAME);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        file.write_all(br#"{"seq":3,"qrs":[["rm""#).expect("write");
        drop(file);
        let (journal, records) = Journal::open(dir.path()).expect("reopen");
        let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(records[1].payload, serde_json::json!([["rm", "app", "b"]]));
        // New records continue the sequence after the torn one was cut.
        assert_eq!(journal.append(Kind::Qrs, b"[]".to_vec()), 3);
        journal.close();
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.ends_with("{\"seq\":3,\"qrs\":[]}\n"), "{text}");
    }

    #[tokio::test]
    async fn images_are_taken_when_written_and_compaction_drops_covered_lines() {
        let dir = tempfile::tempdir().expect("dir");
        let (journal, _) = Journal::open(dir.path()).expect("open");
        let state = Arc::new(Mutex::new(1));
        let source = state.clone();
        journal.set_image_source(
            Kind::Qem,
            Box::new(move || Some(lock(&source).to_string().into_bytes())),
        );
        let first = journal.mark_dirty(Kind::Qem);
        journal.durable(first).await.expect("durable");
        *lock(&state) = 2;
        let second = journal.mark_dirty(Kind::Qem);
        let ops = journal.append(Kind::Qrs, b"[]".to_vec());
        journal.durable(second.max(ops)).await.expect("durable");
        journal.compact(Kind::Qrs, ops);
        let marker = journal.append(Kind::Qrs, b"[1]".to_vec());
        journal.durable(marker).await.expect("durable");
        journal.close();
        let (_, records) = Journal::open(dir.path()).expect("reopen");
        let kept: Vec<(u64, Value)> = records.into_iter().map(|r| (r.seq, r.payload)).collect();
        // The covered QRS record is gone, and a rewrite keeps only the latest image.
        assert_eq!(
            kept,
            [
                (second, serde_json::json!(2)),
                (marker, serde_json::json!([1]))
            ]
        );
    }
}
