//! "A file, or `-` for stdin": the one way commands read an input document (definitions, ACLs,
//! JSON bodies, claims, licences, tokens, secrets). Reading happens in [`InputSource::read`] only,
//! so a limit on what may be read is one change there.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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

    /// The whole input. Errors name the file (or stdin); a missing file is "not found" (exit 6)
    /// and says to check the path, anything else an I/O error (exit 11).
    pub(crate) fn read(&self) -> Result<Vec<u8>> {
        match self {
            InputSource::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .map_err(|e| Error::io("reading stdin", e))?;
                Ok(bytes)
            }
            InputSource::File(path) => std::fs::read(path).map_err(|e| {
                let missing = e.kind() == std::io::ErrorKind::NotFound;
                let err = Error::io(format!("reading {}", path.display()), e);
                if missing {
                    err.with_hint("check the path (`-` reads stdin)")
                } else {
                    err
                }
            }),
        }
    }

    /// The whole input as text; bytes that are not UTF-8 are an input error (exit 3).
    pub(crate) fn read_to_string(&self) -> Result<String> {
        String::from_utf8(self.read()?)
            .map_err(|_| Error::input(format!("{self} is not UTF-8 text")))
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
        assert_eq!(source.read_to_string().unwrap(), "{\"a\": 1}");
        assert_eq!(source.to_string(), path.display().to_string());

        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let err = source.read_to_string().unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Input);

        let missing = InputSource::File(dir.path().join("nope"));
        let err = missing.read().unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::NotFound);
        assert!(err.hint().unwrap_or_default().contains("check the path"));
    }
}
