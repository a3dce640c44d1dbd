//! Embeds every service of the IAM action catalog found under `catalog/`, so adding a service is
//! adding its two data files (and a `[services.X]` table in `catalog/event-map.toml`), not code.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut services: Vec<String> = std::fs::read_dir(dir.join("actions"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(str::to_owned)
        })
        .collect();
    services.sort();
    let mut out = String::from("pub(crate) static SERVICE_FILES: &[(&str, &str, &str)] = &[\n");
    for s in &services {
        let actions = dir.join("actions").join(format!("{s}.json"));
        let types = dir.join("resourceTypes").join(format!("{s}.json"));
        println!("cargo:rerun-if-changed={}", actions.display());
        println!("cargo:rerun-if-changed={}", types.display());
        let _ = writeln!(
            out,
            "    ({s:?}, include_str!({:?}), include_str!({:?})),",
            actions.display().to_string(),
            types.display().to_string()
        );
    }
    out.push_str("];\n");
    let event_map = dir.join("event-map.toml");
    println!("cargo:rerun-if-changed={}", event_map.display());
    let _ = writeln!(
        out,
        "pub(crate) static EVENT_MAP: &str = include_str!({:?});",
        event_map.display().to_string()
    );
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("catalog_files.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
        std::process::exit(1);
    }
}
