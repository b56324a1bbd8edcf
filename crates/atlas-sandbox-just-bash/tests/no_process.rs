//! The library never spawns a process: no `std::process` / `tokio::process` in its sources.
//! (Tests, benches and examples may, through the SDK's process runner, and are not scanned.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::path::Path;

fn scan(dir: &Path, hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, hits);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                for needle in [
                    "std::process",
                    "process::Command",
                    "tokio::process",
                    "Command::new",
                    "libc::fork",
                    "execve",
                ] {
                    if line.contains(needle) {
                        hits.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
}

#[test]
fn library_sources_never_spawn_processes() {
    let mut hits = Vec::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "process spawning found in the library:\n{}",
        hits.join("\n")
    );
}

#[test]
fn library_forbids_unsafe_code() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"));
}
