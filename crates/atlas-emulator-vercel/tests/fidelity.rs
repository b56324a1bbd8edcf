//! The official `@vercel/sandbox` SDK against this emulator: `tests/fidelity-vercel/fidelity.mjs`
//! creates, writes files, runs a failing command, a timed-out one, a detached one, kills one,
//! lists, stops and deletes, asserting every answer. If the SDK cannot use the emulator, the
//! emulator is wrong.

use atlas_emulator_kit::Kit;
use atlas_sandbox_sdk::process::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_talks_to_the_emulator() {
    let Some(spec) = atlas_emulator_kit::node_script(
        "official_sdk_talks_to_the_emulator",
        "fidelity-vercel",
        "@vercel/sandbox",
        "fidelity.mjs",
    ) else {
        return;
    };
    let kit = Kit::new();
    let (running, emu) = atlas_emulator_vercel::start_with(kit.clone(), None).await;
    let spec = spec.env("VERCEL_EMULATOR_URL", &running.base_url);
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
