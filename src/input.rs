//! "A file, or `-` for stdin": the one way qtool reads what a user hands it (keys, certificates,
//! tokens, secrets, definitions, manifests, JSON bodies, its own configuration files). Every read
//! is bounded by a limit that fits the kind of input ([`InputKind`]), so `--key /dev/zero` or an
//! endless pipe fails at once instead of filling memory, and a path to something that is not a
//! regular file or a pipe (a device, a directory, a socket) is refused before it is read.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What an input is, which decides how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InputKind {
    /// A key, certificate (bundle), token, passphrase, API key or claims file: 1 MiB.
    Credential,
    /// A manifest, task definition, JSON/YAML body or licence: 64 MiB.
    Document,
    /// qtool's own `contexts.toml`/`credentials.toml`, qlik-cli's `contexts.yml`, the session
    /// cache: 4 MiB (some ten thousand contexts).
    Config,
}

impl InputKind {
    /// The most bytes an input of this kind may hold.
    pub(crate) fn limit(self) -> u64 {
        match self {
            InputKind::Credential => 1 << 20,
            InputKind::Document => 64 << 20,
            InputKind::Config => 4 << 20,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            InputKind::Credential => "a key, certificate or token",
            InputKind::Document => "a document",
            InputKind::Config => "a configuration file",
        }
    }
}

/// Where an input document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InputSource {
    Stdin,
    File(PathBuf),
}

impl InputSource {
    /// `-` is stdin; anything else a file path.
    pub(crate) fn from_arg(arg: &Path) -> InputSource {
        if arg.as_os_str() == "-" {
            InputSource::Stdin
        } else {
            InputSource::File(arg.to_path_buf())
        }
    }

    /// The file's extension (lowercase), to choose a format; stdin has none.
    pub(crate) fn extension(&self) -> Option<String> {
        match self {
            InputSource::Stdin => None,
            InputSource::File(path) => path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase),
        }
    }

    /// The whole input, at most `kind`'s limit. Errors name the file (or stdin): a missing file
    /// is "not found" (exit 6) and says to check the path; a device, directory or socket, and an
    /// input over the limit, are input errors (exit 3); anything else an I/O error (exit 11).
    pub(crate) fn read(&self, kind: InputKind) -> Result<Vec<u8>> {
        match self {
            InputSource::Stdin => {
                read_bounded(std::io::stdin().lock(), kind, self, "reading stdin")
            }
            InputSource::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| {
                    let missing = e.kind() == std::io::ErrorKind::NotFound;
                    let err = Error::io(format!("reading {}", path.display()), e);
                    if missing {
                        err.with_hint("check the path (`-` reads stdin)")
                    } else {
                        err
                    }
                })?;
                check_file_type(&file, path, kind)?;
                read_bounded(file, kind, self, &format!("reading {}", path.display()))
            }
        }
    }

    /// The whole input as text; bytes that are not UTF-8 are an input error (exit 3).
    pub(crate) fn read_to_string(&self, kind: InputKind) -> Result<String> {
        String::from_utf8(self.read(kind)?)
            .map_err(|_| Error::input(format!("{self} is not UTF-8 text")))
    }

    /// Like [`read_to_string`](Self::read_to_string), with a missing file as `None`.
    pub(crate) fn read_to_string_if_exists(&self, kind: InputKind) -> Result<Option<String>> {
        match self.read_to_string(kind) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.class() == crate::error::ErrorClass::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Read a file of `kind` whole (see [`InputSource::read`]).
pub(crate) fn read_file(path: &Path, kind: InputKind) -> Result<Vec<u8>> {
    InputSource::File(path.to_path_buf()).read(kind)
}

/// At most `kind.limit()` bytes of `reader`; one byte more is the error naming the limit.
fn read_bounded(
    reader: impl Read,
    kind: InputKind,
    source: &InputSource,
    action: &str,
) -> Result<Vec<u8>> {
    let limit = kind.limit();
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(action, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(source, kind));
    }
    Ok(bytes)
}

fn too_large(source: &InputSource, kind: InputKind) -> Error {
    Error::input(format!(
        "{source} is larger than {}, the limit for {}",
        qtool_common::bytes::format(kind.limit()),
        kind.noun()
    ))
    .with_hint(match source {
        InputSource::Stdin => "check what is piped into qtool",
        InputSource::File(_) => "check that this is the right file",
    })
}

/// Refuse what is not a regular file, a pipe or a terminal (`/dev/zero`, a directory, a
/// socket), and a regular file over the limit, before reading a byte.
fn check_file_type(file: &std::fs::File, path: &Path, kind: InputKind) -> Result<()> {
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let file_type = meta.file_type();
    if file_type.is_file() {
        if meta.len() > kind.limit() {
            return Err(too_large(&InputSource::File(path.to_path_buf()), kind));
        }
        return Ok(());
    }
    let what = special_file_kind(file, &file_type);
    match what {
        None => Ok(()),
        Some(what) => Err(Error::input(format!(
            "{} is {what}, not a regular file",
            path.display()
        ))
        .with_hint(format!(
            "give the path of {} (or `-` to read stdin)",
            kind.noun()
        ))),
    }
}

/// What kind of special file this is, or `None` for the ones that are read like files: pipes
/// (`<(cmd)`, `/dev/stdin` on a pipe) and terminals.
#[cfg(unix)]
fn special_file_kind(file: &std::fs::File, file_type: &std::fs::FileType) -> Option<&'static str> {
    use std::io::IsTerminal;
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() || file.is_terminal() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else if file_type.is_char_device() {
        Some("a character device")
    } else if file_type.is_block_device() {
        Some("a block device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("a special file")
    }
}

#[cfg(not(unix))]
fn special_file_kind(file: &std::fs::File, file_type: &std::fs::FileType) -> Option<&'static str> {
    use std::io::IsTerminal;
    if file.is_terminal() {
        None
    } else if file_type.is_dir() {
        Some("a directory")
    } else {
        Some("a special file")
    }
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Stdin => f.write_str("stdin"),
            InputSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorClass;

    #[test]
    fn dash_is_stdin_and_files_are_read_whole() {
        assert!(matches!(
            InputSource::from_arg(Path::new("-")),
            InputSource::Stdin
        ));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.JSON");
        std::fs::write(&path, b"{\"a\": 1}").unwrap();
        let source = InputSource::from_arg(&path);
        assert_eq!(source, InputSource::File(path.clone()));
        assert_eq!(source.extension().as_deref(), Some("json"));
        assert_eq!(
            source.read_to_string(InputKind::Document).unwrap(),
            "{\"a\": 1}"
        );
        assert_eq!(source.to_string(), path.display().to_string());

        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let err = source.read_to_string(InputKind::Document).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Input);

        let missing = InputSource::File(dir.path().join("nope"));
        let err = missing.read(InputKind::Document).unwrap_err();
        assert_eq!(err.class(), ErrorClass::NotFound);
        assert!(err.hint().unwrap_or_default().contains("check the path"));
        assert_eq!(
            missing.read_to_string_if_exists(InputKind::Config).unwrap(),
            None
        );
    }

    #[test]
    fn inputs_over_their_limit_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pem");
        std::fs::write(&path, vec![b'a'; (1 << 20) + 1]).unwrap();
        let err = read_file(&path, InputKind::Credential).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Input);
        assert!(err.message().contains("larger than 1MiB"), "{err}");
        assert_eq!(
            read_file(&path, InputKind::Document).unwrap().len(),
            (1 << 20) + 1
        );
        // A reader that lies about nothing but never ends stops one byte past the limit.
        let endless = std::io::repeat(b'x');
        let source = InputSource::Stdin;
        let err =
            read_bounded(endless, InputKind::Credential, &source, "reading stdin").unwrap_err();
        assert!(
            err.message().starts_with("stdin is larger than 1MiB"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_directories_are_refused_pipes_are_read() {
        let err = read_file(Path::new("/dev/zero"), InputKind::Credential).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Input);
        assert_eq!(
            err.message(),
            "/dev/zero is a character device, not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read_file(dir.path(), InputKind::Credential).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Input, "{err}");
        assert!(
            err.message()
                .ends_with("is a directory, not a regular file")
        );

        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, b"through a pipe").unwrap())
        };
        assert_eq!(
            read_file(&fifo, InputKind::Credential).unwrap(),
            b"through a pipe"
        );
        writer.join().unwrap();
    }
}
