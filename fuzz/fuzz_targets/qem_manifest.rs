//! `qem apply` manifests come from Git, edited by hand: any text (TOML or YAML, chosen by the
//! first byte) loads or gives an input error, never a panic; `${…}` substitution and `--var`
//! parsing likewise.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use qtool::qem::apply::manifest::{Vars, load, parse_var, substitute};
use qtool::settings::Environment;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let ext = match selector % 3 {
        0 => "toml",
        1 => "yaml",
        _ => "manifest",
    };
    let dir = std::env::temp_dir().join(format!("qtool-fuzz-manifest-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("apply.{ext}"));
    if std::fs::write(&path, text).is_ok() {
        let env = Environment::from_pairs([("QTOOL_FUZZ", "1")]);
        let _ = load(&path, &[("site".to_string(), "prod".to_string())], &env);
    }
    // The manifest's own `[vars]` and a `--var` (which wins over them).
    let mut defined = BTreeMap::new();
    defined.insert("site".to_string(), "prod".to_string());
    defined.insert("name".to_string(), "${site}-x".to_string());
    let mut cli = BTreeMap::new();
    cli.insert("site".to_string(), "test".to_string());
    let vars = Vars::new(defined, cli, Environment::from_pairs([("QTOOL_FUZZ", "1")]));
    if let Ok(out) = substitute(text, &vars) {
        // Without `$`, substitution is the identity.
        if !text.contains('$') {
            assert_eq!(out, text);
        }
    }
    let _ = parse_var(text);
});
