//! The official `@daytonaio/sdk` against this emulator (tests/fidelity-daytona/fidelity.mjs).
//! If the SDK cannot talk to the emulator, the emulator is wrong.

use std::time::Duration;

use atlas_sandbox_sdk::process::run;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_talks_to_the_emulator() {
    let Some(spec) = atlas_emulator_kit::node_script(
        "official_sdk_talks_to_the_emulator",
        "fidelity-daytona",
        "@daytonaio/sdk",
        "fidelity.mjs",
    ) else {
        return;
    };
    let kit = atlas_emulator_kit::Kit::new();
    let (emu, control) = atlas_emulator_daytona::start_with_control(kit.clone()).await;
    control.set_api_key(Some("dtn_fake"));
    // The SDK must poll a sandbox that is not started yet.
    control.set_start_delay(Duration::from_millis(300));
    // A one-second minute, so the script sees the auto-stop and auto-delete timers fire.
    control.set_minute(Duration::from_secs(1));

    let spec = spec
        .env("HOME", std::env::temp_dir())
        .env("DAYTONA_API_URL", control.api_url())
        .env("DAYTONA_API_KEY", "dtn_fake")
        .env("DAYTONA_USE_DEPRECATED_POLLING", "true")
        .env("EMULATED_MINUTE_MS", "1000");
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
