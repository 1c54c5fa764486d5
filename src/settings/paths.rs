//! Where qtool's files live, decided once from the environment snapshot.

use std::path::{Path, PathBuf};

use super::Environment;
use crate::error::{Error, Result};

pub const ENV_CONFIG_DIR: &str = "QTOOL_CONFIG_DIR";
pub const ENV_CACHE_DIR: &str = "QTOOL_CACHE_DIR";
/// qlik-cli's own override of `~/.qlik`.
pub(super) const ENV_QLIK_CLI_HOME: &str = "QLIK_CLI_USER_HOME_DIR";

#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// `None` when no home directory can be found (reported when the store is needed).
    config_dir: Option<PathBuf>,
    /// What chose the config dir, for messages: `QTOOL_CONFIG_DIR`, ...
    config_dir_origin: &'static str,
    /// `None`: no cache (QEM sessions are then not reused across runs).
    cache_dir: Option<PathBuf>,
    /// qlik-cli's `contexts.yml`, the default of `context import`.
    qlik_cli_contexts: Option<PathBuf>,
}

impl Paths {
    pub fn resolve(env: &Environment) -> Paths {
        let home = env
            .get("HOME")
            .map(PathBuf::from)
            .filter(|h| h.is_absolute())
            .or_else(dirs::home_dir);
        let (config_dir, config_dir_origin) = match config_dir(env, home.as_deref()) {
            Some((dir, origin)) => (Some(dir), origin),
            None => (None, ""),
        };
        let cache_dir = match (env.get(ENV_CACHE_DIR), env.get(ENV_CONFIG_DIR)) {
            (Some(dir), _) => Some(PathBuf::from(dir)),
            // An overridden config dir keeps tests and portable set-ups self-contained.
            (None, Some(config)) => Some(PathBuf::from(config).join("cache")),
            (None, None) => dirs::cache_dir()
                .map(|d| d.join("qtool"))
                .or_else(|| config_dir.as_ref().map(|c| c.join("cache"))),
        };
        let qlik_cli_contexts = match env.get(ENV_QLIK_CLI_HOME) {
            Some(dir) => Some(PathBuf::from(dir).join("contexts.yml")),
            None => home.map(|h| h.join(".qlik").join("contexts.yml")),
        };
        Paths {
            config_dir,
            config_dir_origin,
            cache_dir,
            qlik_cli_contexts,
        }
    }

    /// The configuration directory (`contexts.toml`, `credentials.toml`); something other than
    /// a directory there is a configuration error naming what chose the path.
    pub fn config_dir(&self) -> Result<&Path> {
        let dir = self.config_dir.as_deref().ok_or_else(|| {
            Error::config("cannot find the home directory").with_hint("set QTOOL_CONFIG_DIR")
        })?;
        if let Ok(meta) = std::fs::metadata(dir)
            && !meta.is_dir()
        {
            return Err(Error::config(format!(
                "the configuration directory {} ({}) is a file, not a directory",
                dir.display(),
                self.config_dir_origin
            ))
            .with_hint(format!(
                "point {ENV_CONFIG_DIR} at a directory (qtool creates it when missing), or move the file away"
            )));
        }
        Ok(dir)
    }

    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    /// qlik-cli's contexts file: `$QLIK_CLI_USER_HOME_DIR/contexts.yml`, else `~/.qlik/contexts.yml`.
    pub fn qlik_cli_contexts(&self) -> Result<&Path> {
        self.qlik_cli_contexts.as_deref().ok_or_else(|| {
            Error::config("cannot find the home directory").with_hint("pass --file PATH")
        })
    }
}

/// `$QTOOL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/qtool`, else `~/.config/qtool` (also on macOS, like
/// oxide, xh and atuin), or `%APPDATA%\qtool` on Windows.
fn config_dir(env: &Environment, home: Option<&Path>) -> Option<(PathBuf, &'static str)> {
    if let Some(dir) = env.get(ENV_CONFIG_DIR) {
        return Some((PathBuf::from(dir), "from QTOOL_CONFIG_DIR"));
    }
    if cfg!(windows) {
        return dirs::config_dir().map(|d| (d.join("qtool"), "in %APPDATA%"));
    }
    if let Some(xdg) = env
        .get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some((xdg.join("qtool"), "in XDG_CONFIG_HOME"));
    }
    home.map(|h| (h.join(".config").join("qtool"), "in the home directory"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn config_dir_precedence() {
        let env = Environment::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        let paths = Paths::resolve(&env);
        assert_eq!(paths.config_dir().unwrap(), Path::new("/x/qtool"));
        assert_eq!(
            paths.qlik_cli_contexts().unwrap(),
            Path::new("/h/.qlik/contexts.yml")
        );

        let env = Environment::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "relative")]);
        assert_eq!(
            Paths::resolve(&env).config_dir().unwrap(),
            Path::new("/h/.config/qtool")
        );

        let env = Environment::from_pairs([
            ("HOME", "/h"),
            ("QTOOL_CONFIG_DIR", "/c"),
            ("QLIK_CLI_USER_HOME_DIR", "/q"),
        ]);
        let paths = Paths::resolve(&env);
        assert_eq!(paths.config_dir().unwrap(), Path::new("/c"));
        assert_eq!(paths.cache_dir(), Some(Path::new("/c/cache")));
        assert_eq!(
            paths.qlik_cli_contexts().unwrap(),
            Path::new("/q/contexts.yml")
        );

        let env = Environment::from_pairs([("QTOOL_CONFIG_DIR", "/c"), ("QTOOL_CACHE_DIR", "/k")]);
        assert_eq!(Paths::resolve(&env).cache_dir(), Some(Path::new("/k")));
    }

    #[test]
    fn a_file_as_config_dir_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("qtool.conf");
        std::fs::write(&file, "").unwrap();
        let env = Environment::from_pairs([("QTOOL_CONFIG_DIR", file.to_str().unwrap())]);
        let err = Paths::resolve(&env).config_dir().unwrap_err();
        assert_eq!(err.class(), crate::error::ErrorClass::Config);
        assert!(
            err.message()
                .ends_with("(from QTOOL_CONFIG_DIR) is a file, not a directory"),
            "{err}"
        );
    }
}
