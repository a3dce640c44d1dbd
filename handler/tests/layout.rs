//! The layout of `handler/src/` is the flow's stages, top to bottom, and every import points down:
//! no folder imports one above it, and no two files import each other. This test reads the
//! sources and checks both, so the rule holds as the code grows.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The stages, top to bottom (`bin/` and `main.rs` sit above them all).
const STAGES: &[&str] = &[
    "cli",
    "local",
    "deploy",
    "assembly",
    "stores",
    "sweep",
    "model",
    "enforce",
    "connectors",
    "aws",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file (`enforce::flow`, `aws`), or `None` for the binaries.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.first().map(String::as_str) {
        Some("bin") | Some("main") | Some("lib") => None,
        _ => Some(
            parts
                .iter()
                .filter(|p| p.as_str() != "mod")
                .cloned()
                .collect::<Vec<_>>()
                .join("::"),
        ),
    }
}

/// Every `crate::a::b` path a file names, cut to the modules that exist.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        // The longest prefix that is a module of ours.
        for n in (1..=parts.len()).rev() {
            let candidate = parts[..n].join("::");
            if modules.contains(&candidate) {
                out.insert(candidate);
                break;
            }
        }
    }
    out
}

fn stage(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or(module);
    STAGES
        .iter()
        .position(|s| *s == top)
        .unwrap_or_else(|| panic!("`{module}` is in no stage; add its folder to STAGES"))
}

#[test]
fn every_import_points_down_and_no_two_files_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .filter_map(|f| module_of(&src, f).map(|m| (m, f.clone())))
        .collect();
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    let mut wrong = Vec::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        for target in imports(&text, &names) {
            if &target == module || module.starts_with(&format!("{target}::")) {
                continue;
            }
            if stage(&target) < stage(module) {
                wrong.push(format!("`{module}` imports `{target}`, a stage above it"));
            }
            edges.insert((module.clone(), target));
        }
    }
    for (a, b) in &edges {
        if a < b && edges.contains(&(b.clone(), a.clone())) {
            wrong.push(format!("`{a}` and `{b}` import each other"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
