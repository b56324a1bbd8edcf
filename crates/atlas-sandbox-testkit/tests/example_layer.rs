//! The example semantic layer has the shape the other crates' tests rely on.

// Test helpers outside #[test] functions: a failed read is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use atlas_sandbox_testkit::{NON_ASCII_FILE, copy_example_layer, example_layer};

fn files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            assert!(
                !t.is_symlink(),
                "symlink in the example layer: {:?}",
                e.path()
            );
            if t.is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn layer_has_the_documented_shape() {
    let root = example_layer();
    assert!(root.is_absolute());
    let all = files(&root);
    assert!(all.len() >= 30, "{} files", all.len());
    assert!(all.iter().all(|f| f.ends_with(".yml")), "{all:?}");
    let entities = all.iter().filter(|f| f.starts_with("entities/")).count();
    let metrics = all.iter().filter(|f| f.starts_with("metrics/")).count();
    assert!(
        entities >= 14 && metrics >= 10,
        "{entities} entities, {metrics} metrics"
    );
    assert!(
        all.iter()
            .any(|f| f.starts_with("groups/finance/entities/"))
    );
    for f in [
        "catalog.yml",
        "glossary.yml",
        "entities/orders.yml",
        NON_ASCII_FILE,
    ] {
        assert!(all.contains(&f.to_owned()), "{f} missing");
    }
    let with_customer_id = all
        .iter()
        .filter(|f| {
            std::fs::read_to_string(root.join(f))
                .unwrap()
                .contains("customer_id")
        })
        .count();
    assert!(
        with_customer_id >= 10,
        "{with_customer_id} files mention customer_id"
    );
    let non_ascii: Vec<&String> = all
        .iter()
        .filter(|f| !std::fs::read_to_string(root.join(f)).unwrap().is_ascii())
        .collect();
    assert_eq!(non_ascii, [&NON_ASCII_FILE.to_owned()]);
    for f in &all {
        let len = std::fs::metadata(root.join(f)).unwrap().len();
        assert!(len > 0 && len < 16 * 1024, "{f} is {len} bytes");
    }
}

#[test]
fn catalog_points_at_files_that_exist() {
    let root = example_layer();
    let catalog = std::fs::read_to_string(root.join("catalog.yml")).unwrap();
    let targets: Vec<&str> = catalog
        .lines()
        .filter_map(|l| l.trim().strip_prefix("file: "))
        .collect();
    assert!(targets.len() >= 16, "{targets:?}");
    for t in targets {
        assert!(root.join(t).is_file(), "catalog names missing file {t}");
    }
    for key in ["version:", "name:", "description:", "entities:"] {
        assert!(
            catalog.lines().any(|l| l.starts_with(key)),
            "catalog lacks {key}"
        );
    }
}

#[test]
fn copies_are_fresh_and_identical() {
    let (tmp, copy) = copy_example_layer();
    assert!(copy.starts_with(tmp.path()));
    let all = files(&example_layer());
    assert_eq!(files(&copy), all);
    for f in &all {
        assert_eq!(
            std::fs::read(copy.join(f)).unwrap(),
            std::fs::read(example_layer().join(f)).unwrap()
        );
    }
    std::fs::write(copy.join("catalog.yml"), "changed").unwrap();
    assert_ne!(
        std::fs::read(example_layer().join("catalog.yml")).unwrap(),
        b"changed"
    );
}
