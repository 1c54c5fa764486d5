//! The emulator's own error: what went wrong starting or persisting a sandbox (not the QRS or QEM
//! error bodies it serves, which each emulator builds itself). The CLI maps [`ErrorKind`] to its
//! exit codes; the emulator knows nothing of them.

use std::fmt;

/// What kind of failure, so a front end can pick its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration asked for something not allowed (e.g. a non-loopback address).
    Usage,
    /// A file in the state directory is malformed (a snapshot, a key, a certificate).
    Input,
    /// The saved state is unusable as a whole (wrong master key, missing tables).
    State,
    /// Another sandbox holds the state directory.
    Conflict,
    /// A listener could not be bound.
    Network,
    /// TLS could not be configured.
    Tls,
    /// Local I/O failed; `not_found` tells a missing file from other failures.
    Io { not_found: bool },
    /// Anything else (random generator, a background task).
    Failed,
}

#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Input, message)
    }
    pub fn state(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::State, message)
    }
    pub fn conflict(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Conflict, message)
    }
    pub fn network(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Network, message)
    }
    pub fn tls(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Tls, message)
    }
    pub fn failed(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Failed, message)
    }

    /// An I/O error while doing `what`.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Error {
        let not_found = err.kind() == std::io::ErrorKind::NotFound;
        Error::new(ErrorKind::Io { not_found }, format!("{what}: {err}"))
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<qtool_common::fs::FsError> for Error {
    fn from(e: qtool_common::fs::FsError) -> Error {
        Error::io(e.action, e.source)
    }
}
