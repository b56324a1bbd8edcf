//! The `atlas-sandbox` binary end to end, with a clean environment and a scratch directory.

// Running the binary under test is the point here; the spawn rule is about sandboxed commands.
#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    clippy::disallowed_methods
)]

use std::path::Path;
use std::process::{Command, Output};

use atlas_sandbox::registry::compiled_in;

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_reports_every_problem_with_lines_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("atlas.toml"),
        "[sandbox]\ntimeout = \"2s\"\ntimout = \"3s\"\n\n[plugins.nsjial]\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["check"],
        &[("ATLAS_SANDBOX__MAX_OUTPUT_BYTES", "lots")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let file = dir.path().join("atlas.toml");
    assert!(
        stdout.contains(&format!(
            "sandbox.timout ({}:3): unknown key",
            file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("plugins.nsjial") && stdout.contains("known plugins: vercel, e2b"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "sandbox.max_output_bytes = \"lots\" (environment variable \
             ATLAS_SANDBOX__MAX_OUTPUT_BYTES): expected an integer"
        ),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    let out = run(dir.path(), &["check", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problems"].as_array().unwrap().len(), 2);
}

#[test]
fn schema_prints_valid_json_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["schema"], &[]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    jsonschema::validator_for(&v).unwrap();
    for d in compiled_in() {
        let out = run(dir.path(), &["schema", d.id], &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        jsonschema::validator_for(&v).unwrap();
    }
    let out = run(dir.path(), &["schema", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown backend 'nope'"));
}

#[test]
fn exec_without_a_config_uses_the_example_layer_or_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["exec", "ls"], &[]);
    if compiled_in().iter().any(|d| d.id == "just-bash") {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            !out.stdout.is_empty(),
            "ls of the example layer printed nothing"
        );
        let out = run(dir.path(), &["exec", "exit 3"], &[]);
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        let out = run(
            dir.path(),
            &["exec", "--json", "--backend", "just-bash", "echo hi"],
            &[],
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["stdout"], "hi\n");
        assert_eq!(v["backend"], "just-bash");
    } else if compiled_in().is_empty() {
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("no backend compiled in: build with --features just-bash"),
            "{}",
            text(&out.stderr)
        );
    } else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "{}\n",
                format_args!(
                    "SKIPPED: exec_without_a_config: built without just-bash but with other backends"
                )
            ),
        );
    }
}

#[test]
fn backends_lists_every_known_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["backends", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    for id in [
        "vercel",
        "e2b",
        "daytona",
        "jail",
        "nsjail",
        "sidecar",
        "just-bash",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(v["semantic_root_source"]["kind"], "example_layer");
}

/// With no config at all on Linux the warm jail is enabled and, when the kernel allows it,
/// wins selection: the README's first command runs in the jail.
#[test]
fn with_no_config_the_jail_is_enabled_and_wins() {
    if !compiled_in().iter().any(|d| d.id == "jail") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["backends", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let jail = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == "jail")
        .unwrap()
        .clone();
    assert_eq!(jail["configured"], true, "{jail}");
    assert_eq!(jail["enabled"], true, "{jail}");
    if jail["health"]["healthy"] != true {
        eprintln!(
            "SKIPPED: with_no_config_the_jail_is_enabled_and_wins: the jail is unhealthy here: {}",
            jail["health"]["message"]
        );
        return;
    }
    assert_eq!(v["selected"], "jail", "{v}");
    let out = run(dir.path(), &["exec", "--json", "echo hi; hostname"], &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["backend"], "jail", "{v}");
    assert_eq!(v["stdout"], "hi\natlas-jail\n", "{v}");
}

/// A reader that went away (`atlas-sandbox … | head -1`) ends the program quietly with 141, as
/// for a Unix filter killed by SIGPIPE: no panic, no "Broken pipe" error message.
#[test]
fn a_closed_stdout_exits_141_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<Vec<&str>> = vec![vec!["schema"], vec!["schema", "--list"], vec!["check"]];
    if compiled_in().iter().any(|d| d.id == "just-bash") {
        cases.push(vec!["exec", "--backend", "just-bash", "echo hi"]);
        cases.push(vec!["exec", "--json", "--backend", "just-bash", "echo hi"]);
    }
    for args in cases {
        // The read end is closed before the child starts, so its first write fails for certain.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_atlas-sandbox"))
            .args(&args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

/// Processes whose command line contains `needle`.
#[cfg(feature = "nsjail")]
fn processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            e.file_name().to_str()?.parse::<u32>().ok()?;
            let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            cmd.contains(needle).then_some(cmd)
        })
        .collect()
}

/// With the read-only layer pinned in the file, `exec` starts nsjail before it checks the
/// configuration (a head start on nsjail's own start-up): the command runs once, as it would
/// otherwise; a configuration that turns out invalid, or a command for another backend, kills
/// the early nsjail before it builds any jail.
#[cfg(feature = "nsjail")]
#[test]
fn exec_on_a_pinned_read_only_nsjail_starts_it_early_and_never_leaves_it_behind() {
    let Ok(nsjail) = atlas_sandbox_nsjail::locate::find_nsjail_here(None) else {
        println!(
            "SKIPPED: exec_on_a_pinned_read_only_nsjail...: nsjail not found on PATH or \
             NSJAIL_PATH (see docs/backends/nsjail.md)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("semantic");
    std::fs::create_dir_all(root.join("entities")).unwrap();
    std::fs::write(root.join("catalog.yml"), "name: shop\n").unwrap();
    let log = dir.path().join("runs");
    let wrapper = dir.path().join("nsjail");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
            log.display(),
            nsjail.display()
        ),
    )
    .unwrap();
    for p in [dir.path(), root.as_path(), root.join("entities").as_path()] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("catalog.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let config = |extra: &str| {
        std::fs::write(
            dir.path().join("atlas.toml"),
            format!(
                "[sandbox]\nbackend = \"nsjail\"\nsemantic_root = {:?}\n\n[plugins.nsjail]\n\
                 layer = \"read-only\"\nnsjail_path = {:?}\n{extra}",
                root.display().to_string(),
                wrapper.display().to_string()
            ),
        )
        .unwrap();
    };
    let runs = || std::fs::read_to_string(&log).unwrap_or_default();
    let gone = |marker: &str| {
        (0..100).any(|_| {
            let left = processes_with(marker);
            left.is_empty() || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                false
            }
        })
    };

    config("");
    let out = run(
        dir.path(),
        &[
            "exec",
            "--cwd",
            "entities",
            "pwd; cat ../catalog.yml; exit 4",
        ],
        &[],
    );
    assert_eq!(
        text(&out.stdout),
        "/semantic/entities\nname: shop\n",
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let r = runs();
    assert_eq!(r.lines().count(), 1, "one nsjail: {r}");
    assert!(
        r.contains("--config /dev/fd/3"),
        "it was the early one: {r}"
    );

    // Invalid after all: refused, and the early nsjail is gone.
    std::fs::remove_file(&log).unwrap();
    // Invalid elsewhere than the nsjail table, which is what the early start reads.
    config("\n[server]\nbogus = 1\n");
    let out = run(dir.path(), &["exec", "echo early-marker-1"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("bogus"), "{out:?}");
    assert!(
        runs().contains("early-marker-1"),
        "it was started early: {}",
        runs()
    );
    assert!(
        gone("early-marker-1"),
        "{:?}",
        processes_with("early-marker-1")
    );

    // A table the backend itself would refuse is not acted on at all.
    std::fs::remove_file(&log).ok();
    config("bogus = 1\n");
    let out = run(dir.path(), &["exec", "echo early-marker-3"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(runs(), "", "nsjail started for a table it refuses");

    // Another backend pinned on the command line: the file's guess is not acted on.
    std::fs::remove_file(&log).ok();
    config("");
    let out = run(
        dir.path(),
        &["exec", "--backend", "just-bash", "echo early-marker-2"],
        &[],
    );
    assert_eq!(text(&out.stdout), "early-marker-2\n", "{out:?}");
    assert_eq!(runs(), "", "nsjail ran for a just-bash command");
    assert!(gone("early-marker-2"));

    // The overlay (the default layer): the sandbox's state is built ahead with nsjail inside
    // it, and the sandbox adopts both. Writes succeed in the sandbox and never reach the host.
    std::fs::remove_file(&log).ok();
    std::fs::write(
        dir.path().join("atlas.toml"),
        format!(
            "[sandbox]\nbackend = \"nsjail\"\nsemantic_root = {:?}\n\n[plugins.nsjail]\n\
             nsjail_path = {:?}\n",
            root.display().to_string(),
            wrapper.display().to_string()
        ),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &[
            "exec",
            "echo early-marker-4 > new; cat new; cat catalog.yml",
        ],
        &[],
    );
    assert_eq!(text(&out.stdout), "early-marker-4\nname: shop\n", "{out:?}");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let r = runs();
    assert_eq!(r.lines().count(), 1, "one nsjail: {r}");
    assert!(
        r.contains("--config /dev/fd/3"),
        "it was the early one: {r}"
    );
    assert!(!root.join("new").exists(), "the host's layer is untouched");
    assert!(gone("early-marker-4"));
}
