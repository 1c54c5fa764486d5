//! One error type for the whole tool: a class (which decides the exit code), a message naming the
//! problem, and an optional hint naming the fix. Domain modules keep their own typed errors and
//! convert into this one at their boundary; commands add context with [`ResultExt`].

use std::fmt;
use std::process::ExitCode;

/// What kind of failure happened. Each class has one documented exit code (see `docs/exit-codes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The operation ran and reported failure (a reload failed, a token did not verify, apply failed).
    Failed,
    /// Wrong command line: unknown flag, missing argument, invalid value.
    Usage,
    /// A local file the user gave us is malformed or of the wrong kind (key, token, JSON, manifest).
    Input,
    /// qtool's own configuration: malformed contexts/credentials file, no context selected.
    Config,
    /// The server refused who we are: 401/403, login page instead of JSON, bad credentials.
    Auth,
    /// The thing asked for does not exist (404, unknown context, unknown entity).
    NotFound,
    /// The thing exists already or changed under us (409, duplicate name, task running).
    Conflict,
    /// Could not reach the server: refused, timed out, DNS.
    Network,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// The server failed (5xx) or answered something we cannot understand.
    Server,
    /// Local I/O failed (disk full, permission denied on our own files).
    Io,
    /// Interrupted by Ctrl-C.
    Interrupted,
}

impl ErrorClass {
    /// The process exit code for this class. Keep in sync with `docs/exit-codes.md`.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorClass::Failed => 1,
            ErrorClass::Usage => 2,
            ErrorClass::Input => 3,
            ErrorClass::Config => 4,
            ErrorClass::Auth => 5,
            ErrorClass::NotFound => 6,
            ErrorClass::Conflict => 7,
            ErrorClass::Network => 8,
            ErrorClass::Tls => 9,
            ErrorClass::Server => 10,
            ErrorClass::Io => 11,
            ErrorClass::Interrupted => 130,
        }
    }

    /// Short machine-readable name, used in `--json` error output.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Failed => "failed",
            ErrorClass::Usage => "usage",
            ErrorClass::Input => "input",
            ErrorClass::Config => "config",
            ErrorClass::Auth => "auth",
            ErrorClass::NotFound => "not-found",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Network => "network",
            ErrorClass::Tls => "tls",
            ErrorClass::Server => "server",
            ErrorClass::Io => "io",
            ErrorClass::Interrupted => "interrupted",
        }
    }

    /// All classes, in exit-code order (for documentation and tests).
    pub const ALL: [ErrorClass; 12] = [
        ErrorClass::Failed,
        ErrorClass::Usage,
        ErrorClass::Input,
        ErrorClass::Config,
        ErrorClass::Auth,
        ErrorClass::NotFound,
        ErrorClass::Conflict,
        ErrorClass::Network,
        ErrorClass::Tls,
        ErrorClass::Server,
        ErrorClass::Io,
        ErrorClass::Interrupted,
    ];
}

/// The tool's error: printed as one line, `error: <message>; <hint>`.
#[derive(Debug)]
pub struct Error {
    class: ErrorClass,
    message: String,
    hint: Option<String>,
    /// Set when the underlying cause is a closed stdout; main exits quietly with 0.
    broken_pipe: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Error {
            class,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Usage, message)
    }
    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Input, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Config, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Failed, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::NotFound, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Conflict, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Auth, message)
    }
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Server, message)
    }
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Network, message)
    }
    pub fn tls(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Tls, message)
    }
    pub fn interrupted() -> Self {
        Self::new(ErrorClass::Interrupted, "interrupted")
    }

    /// An I/O error on `path`, classified: a closed stdout becomes a quiet exit.
    pub fn io(what: impl fmt::Display, err: std::io::Error) -> Self {
        let mut e = Self::new(ErrorClass::Io, format!("{what}: {}", describe_io(&err)));
        e.broken_pipe = err.kind() == std::io::ErrorKind::BrokenPipe;
        if err.kind() == std::io::ErrorKind::NotFound {
            e.class = ErrorClass::NotFound;
        }
        e
    }

    pub fn class(&self) -> ErrorClass {
        self.class
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.class.exit_code())
    }

    /// Prefix the message with what we were doing ("reading contexts.toml: ...").
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// Replace the class (a command knows better, e.g. a 404 on login is an auth problem).
    pub fn reclass(mut self, class: ErrorClass) -> Self {
        self.class = class;
        self
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

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::io("I/O error", err)
    }
}

/// Add context to any error convertible into [`Error`].
pub trait ResultExt<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(what))
    }
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.into().context(what()))
    }
}

/// io::Error's Display includes "(os error 2)"; users want the plain reason.
fn describe_io(err: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match err.kind() {
        NotFound => "no such file or directory".into(),
        PermissionDenied => "permission denied".into(),
        AlreadyExists => "already exists".into(),
        BrokenPipe => "broken pipe".into(),
        _ => {
            let text = err.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_string(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct() {
        let mut codes: Vec<u8> = ErrorClass::ALL.iter().map(|c| c.exit_code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorClass::ALL.len());
        assert!(!codes.contains(&0));
    }

    #[test]
    fn display_is_one_line_with_hint() {
        let e = Error::config("contexts.toml line 3, column 1: expected `=`")
            .with_hint("fix the file by hand");
        assert_eq!(
            e.to_string(),
            "contexts.toml line 3, column 1: expected `=`; fix the file by hand"
        );
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn io_not_found_is_not_found_class() {
        let e = Error::io(
            "reading key.pem",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.class(), ErrorClass::NotFound);
        assert_eq!(e.message(), "reading key.pem: no such file or directory");
    }
}
