//! The official `@daytonaio/sdk` against this emulator (tests/fidelity-daytona/fidelity.mjs).
//! If the SDK cannot talk to the emulator, the emulator is wrong.

use std::path::PathBuf;
use std::time::Duration;

use atlas_sandbox_sdk::process::{ProcessSpec, find_in_path, run};

fn fidelity_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fidelity-daytona")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_talks_to_the_emulator() {
    let dir = fidelity_dir();
    let path = std::env::var_os("PATH");
    let Some(node) = find_in_path("node", path.as_deref()) else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "{}\n",
                format_args!("SKIPPED: official_sdk_talks_to_the_emulator: node is not installed")
            ),
        );
        return;
    };
    if !dir.join("node_modules/@daytonaio/sdk").is_dir() {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!(
                "{}\n",
                format_args!(
                    "SKIPPED: official_sdk_talks_to_the_emulator: run `npm ci` in {}",
                    dir.display()
                )
            ),
        );
        return;
    }
    let kit = atlas_emulator_kit::Kit::new();
    let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
    control.set_api_key(Some("dtn_fake"));
    // The SDK must poll a sandbox that is not started yet.
    control.set_start_delay(Duration::from_millis(300));

    let spec = ProcessSpec::new(node)
        .arg("fidelity.mjs")
        .cwd(&dir)
        .env("PATH", path.unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("DAYTONA_API_URL", control.api_url())
        .env("DAYTONA_API_KEY", "dtn_fake")
        .env("DAYTONA_USE_DEPRECATED_POLLING", "true")
        .timeout(Duration::from_secs(120));
    let out = run(&spec).await.expect("node runs").output;
    println!("{}", out.stdout_str());
    eprintln!("{}", out.stderr_str());
    assert!(
        out.success(),
        "fidelity.mjs failed with exit {}",
        out.exit_code
    );

    // What the SDK sent, as the reference recorded it.
    let create = kit
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path == "/api/sandbox")
        .expect("a create");
    assert_eq!(create.header("authorization"), Some("Bearer dtn_fake"));
    assert!(create.header("x-daytona-sdk-version").is_some());
    assert!(
        kit.count("GET", "/api/sandbox/") >= 1,
        "the SDK polled the starting sandbox"
    );
    assert_eq!(kit.count("POST", "/files/bulk-upload"), 2);
    assert!(
        control.live_sandboxes().is_empty(),
        "the SDK deleted its sandbox"
    );
    emu.shutdown().await;
}
