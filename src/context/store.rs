//! The context store: `contexts.toml` (public) and `credentials.toml` (secret, 0600) in the
//! config directory. Reads need no lock (files are only ever replaced atomically); every
//! read-modify-write holds the directory lock from start to finish.
//!
//! A change to both files is written so that no moment leaves a secret without its context: the
//! secrets of contexts that go away are removed before `contexts.toml` changes, those of new
//! contexts are added after it. Every new version is written and fsynced before the first one
//! replaces its file, so a full disk on the way leaves both files as they were; a killed run
//! leaves at worst temp files, which the next write removes under the lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{Context, Secrets};
use crate::error::{Error, ErrorClass, Result};
use crate::input::{InputKind, InputSource};
use crate::storage::{self, Sensitivity};

pub const CONTEXTS_FILE: &str = "contexts.toml";
pub const CREDENTIALS_FILE: &str = "credentials.toml";

/// `contexts.toml` as a document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ContextsFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
}

/// `credentials.toml`: one table of secrets per context name.
pub type CredentialsFile = BTreeMap<String, Secrets>;

/// Both files, loaded together for a read-modify-write.
#[derive(Debug, Clone, Default)]
pub struct Contexts {
    pub file: ContextsFile,
    pub secrets: CredentialsFile,
}

impl Contexts {
    pub fn get(&self, name: &str) -> Result<&Context> {
        self.file
            .contexts
            .get(name)
            .ok_or_else(|| unknown_context(name, &self.file))
    }

    pub fn secrets_of(&self, name: &str) -> Secrets {
        self.secrets.get(name).cloned().unwrap_or_default()
    }

    /// Store secrets, dropping the entry entirely when there are none.
    pub fn set_secrets(&mut self, name: &str, secrets: Secrets) {
        if secrets.is_empty() {
            self.secrets.remove(name);
        } else {
            self.secrets.insert(name.to_string(), secrets);
        }
    }
}

pub fn unknown_context(name: &str, file: &ContextsFile) -> Error {
    let known: Vec<&str> = file.contexts.keys().map(String::as_str).collect();
    let hint = if known.is_empty() {
        "create one with `qtool context create NAME --server URL --server-type windows|qem`"
            .to_string()
    } else {
        format!("known contexts: {}", known.join(", "))
    };
    Error::not_found(format!("no context named `{name}`")).with_hint(hint)
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn contexts_path(&self) -> PathBuf {
        self.dir.join(CONTEXTS_FILE)
    }
    pub fn credentials_path(&self) -> PathBuf {
        self.dir.join(CREDENTIALS_FILE)
    }

    /// The public file only (what `context ls` needs; no secret is read).
    pub fn load_contexts(&self) -> Result<ContextsFile> {
        load_toml(&self.contexts_path())
    }

    /// The secrets file; warns when other users can read it.
    pub fn load_credentials(&self) -> Result<CredentialsFile> {
        let path = self.credentials_path();
        if path.exists() {
            storage::warn_if_loose(&path);
        }
        load_toml(&path)
    }

    pub fn load(&self) -> Result<Contexts> {
        Ok(Contexts {
            file: self.load_contexts()?,
            secrets: self.load_credentials()?,
        })
    }

    /// Lock, load both files, let `change` edit them, write back what changed, unlock.
    /// A malformed file aborts before anything is written, so it is never overwritten.
    pub fn update<R>(&self, change: impl FnOnce(&mut Contexts) -> Result<R>) -> Result<R> {
        let _lock = storage::lock_dir(&self.dir)?;
        // Nobody else writes now: what temp files exist were left by killed runs.
        storage::remove_stale_temps(&self.contexts_path());
        storage::remove_stale_temps(&self.credentials_path());
        let before = self.load()?;
        let mut after = before.clone();
        let result = change(&mut after)?;
        self.write(&before, &after)?;
        Ok(result)
    }

    /// Write what changed from `before` to `after` (see the module docs for the order).
    fn write(&self, before: &Contexts, after: &Contexts) -> Result<()> {
        let kept = |name: &String| {
            before.file.contexts.contains_key(name) && after.file.contexts.contains_key(name)
        };
        // Secrets of contexts in both versions only: none of a context that goes or comes.
        let between: CredentialsFile = after
            .secrets
            .iter()
            .filter(|(name, _)| kept(name))
            .map(|(name, s)| (name.clone(), s.clone()))
            .collect();
        let mut steps = Vec::new();
        if between != before.secrets {
            steps.push(self.stage_credentials(&between)?);
        }
        if after.file != before.file {
            let text = toml::to_string(&after.file)
                .map_err(|e| Error::failed(format!("cannot serialise contexts: {e}")))?;
            steps.push(storage::stage(
                &self.contexts_path(),
                text.as_bytes(),
                Sensitivity::Public,
            )?);
        }
        if after.secrets != between {
            steps.push(self.stage_credentials(&after.secrets)?);
        }
        for step in steps {
            step.commit()?;
        }
        Ok(())
    }

    fn stage_credentials(&self, secrets: &CredentialsFile) -> Result<storage::Staged> {
        let text = toml::to_string(secrets)
            .map_err(|e| Error::failed(format!("cannot serialise credentials: {e}")))?;
        storage::stage(
            &self.credentials_path(),
            text.as_bytes(),
            Sensitivity::Secret,
        )
    }
}

/// Parse a TOML file; a missing file is the default document. Errors name file, line and column.
pub fn load_toml<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T> {
    let source = InputSource::File(path.to_path_buf());
    let text = match source.read_to_string_if_exists(InputKind::Config) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(T::default()),
        // Not UTF-8, too large, a device: our own file is unusable, not a bad argument.
        Err(e) if e.class() == ErrorClass::Input => {
            return Err(Error::config(e.message())
                .with_hint("fix or remove the file; qtool will not overwrite it"));
        }
        Err(e) => return Err(e),
    };
    parse_toml(&text).map_err(|(line, column, message)| {
        Error::config(format!(
            "{} is malformed at line {line}, column {column}: {message}",
            path.display()
        ))
        .with_hint("fix or remove the file; qtool will not overwrite it")
    })
}

/// Parse TOML text, returning (line, column, one-line message) on error.
pub fn parse_toml<T: for<'de> Deserialize<'de>>(
    text: &str,
) -> std::result::Result<T, (usize, usize, String)> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let (line, column) = match e.span() {
            Some(span) => line_column(text, span.start),
            None => (1, 1),
        };
        let message = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_string();
        (line, column, message)
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_from_one() {
        let text = "a = 1\nb = \n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 5));
    }

    #[test]
    fn malformed_toml_reports_position() {
        let err = parse_toml::<ContextsFile>("current-context = \"a\"\n[contexts.a]\nserver = \n")
            .unwrap_err();
        assert_eq!(err.0, 3);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = parse_toml::<ContextsFile>("bogus = 1\n").unwrap_err();
        assert!(err.2.contains("bogus"), "{}", err.2);
    }
}
