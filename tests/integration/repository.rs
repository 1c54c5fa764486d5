//! The repository stands on its own: a fresh clone builds and passes with nothing beside it.

use std::path::{Path, PathBuf};

/// Folders that are build output or local scratch, never part of a clone.
const SKIPPED_DIRS: &[&str] = &[
    "target",
    ".git",
    "corpus",
    "artifacts",
    "out",
    "node_modules",
];

fn tracked_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with(".venv") {
                    stack.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn no_file_reaches_outside_the_repository() {
    // Spelled in pieces so that this file does not match itself.
    let outside = ["..", "shared"].join("/");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let offenders: Vec<String> = tracked_files(root)
        .into_iter()
        .filter(|path| {
            std::fs::read(path)
                .map(|bytes| {
                    bytes
                        .windows(outside.len())
                        .any(|w| w == outside.as_bytes())
                })
                .unwrap_or(false)
        })
        .map(|path| path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "these files refer to a folder outside the repository ({outside}); vendor what they \
         need instead: {offenders:?}"
    );
}
