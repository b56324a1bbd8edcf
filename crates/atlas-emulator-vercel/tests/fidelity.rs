//! The official `@vercel/sandbox` SDK against this emulator: `tests/fidelity-vercel/fidelity.mjs`
//! creates, writes files, runs a failing command, a timed-out one, a detached one, kills one,
//! lists, stops and deletes, asserting every answer. If the SDK cannot use the emulator, the
//! emulator is wrong.

use std::path::PathBuf;
use std::time::Duration;

use atlas_emulator_kit::Kit;
use atlas_sandbox_sdk::process::{ProcessSpec, find_in_path, run};

fn script_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fidelity-vercel")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_talks_to_the_emulator() {
    let dir = script_dir();
    if !dir
        .join("node_modules/@vercel/sandbox/package.json")
        .is_file()
    {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "{}\n",
                format_args!(
                    "SKIPPED: official_sdk_talks_to_the_emulator: {} has no node_modules (run `npm ci` there)",
                    dir.display()
                )
            ),
        );
        return;
    }
    let path_var = std::env::var_os("PATH");
    let Some(node) = find_in_path("node", path_var.as_deref()) else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "{}\n",
                format_args!("SKIPPED: official_sdk_talks_to_the_emulator: node is not installed")
            ),
        );
        return;
    };
    let kit = Kit::new();
    let (running, emu) = atlas_emulator_vercel::start_with(kit.clone(), None).await;
    let spec = ProcessSpec::new(node)
        .arg("fidelity.mjs")
        .cwd(&dir)
        .env("PATH", path_var.unwrap_or_default())
        .env("VERCEL_EMULATOR_URL", &running.base_url)
        .timeout(Duration::from_secs(120))
        .max_output_bytes(1 << 20);
    let out = run(&spec).await.expect("node ran").output;
    assert!(
        !out.timed_out,
        "the fidelity script finished within 2 minutes"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.exit_code == 0,
        "fidelity script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("PASS: 0 failure(s)"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");

    // What the SDK sent, as the emulator recorded it.
    let reqs = kit.requests();
    let create = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path == "/v2/sandboxes")
        .expect("a create");
    assert_eq!(
        create.header("authorization"),
        Some("Bearer vercel_fake_token")
    );
    assert!(
        reqs.iter()
            .all(|r| r.query.as_deref().unwrap_or("").contains("teamId=team_emu"))
    );
    let body = create.json().expect("json create body");
    assert_eq!(body["timeout"], 120_000, "timeout in milliseconds");
    assert_eq!(body["persistent"], false);
    assert_eq!(body["networkPolicy"]["mode"], "deny-all");
    let write = reqs
        .iter()
        .find(|r| r.path.ends_with("/fs/write"))
        .expect("a file upload");
    assert_eq!(write.header("content-type"), Some("application/gzip"));
    assert_eq!(write.header("x-cwd"), Some("/"));

    assert_eq!(
        emu.running_sessions(),
        0,
        "the script stopped everything it made"
    );
    assert_eq!(
        emu.sandbox_count(),
        0,
        "the script deleted everything it made"
    );
    running.shutdown().await;
}
