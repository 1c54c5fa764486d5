//! A snapshot of the process environment, taken once per run by the CLI layer and handed down.
//! Nothing below reads `std::env` itself, so every environment-dependent rule (precedence,
//! `${env:NAME}` in manifests, colour, config directories) is testable with a made-up snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

/// The variables of one run. Cheap to clone (shared); values that are not UTF-8 are left out,
/// as `std::env::var` would refuse them.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: Arc<BTreeMap<String, String>>,
}

impl Environment {
    /// The process environment, now.
    pub fn capture() -> Environment {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Environment {
            vars: Arc::new(vars),
        }
    }

    /// A made-up environment (tests, and callers that want none).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        Environment {
            vars: Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// The value of `name`, also when it is set but empty.
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of `name` when it is set and not empty (an empty variable counts as unset, so
    /// `QTOOL_SERVER= qtool ...` clears a value exported earlier).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_raw(name).filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::from_pairs([("A", ""), ("B", "x")]);
        assert_eq!(env.get("A"), None);
        assert_eq!(env.get_raw("A"), Some(""));
        assert_eq!(env.get("B"), Some("x"));
        assert_eq!(env.get("C"), None);
    }
}
