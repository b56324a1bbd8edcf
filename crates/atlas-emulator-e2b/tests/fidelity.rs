//! The official `e2b` npm SDK against the emulator (tests/fidelity-e2b/fidelity.mjs): if the
//! vendor's own client cannot talk to it, the emulator is wrong.

use atlas_emulator_e2b::{EmulatorOptions, start_with};
use atlas_emulator_kit::Kit;
use atlas_sandbox_sdk::process::run;

const KEY: &str = "e2b_fidelity_key";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdk_talks_to_the_emulator() {
    let Some(spec) = atlas_emulator_kit::node_script(
        "official_sdk_talks_to_the_emulator",
        "fidelity-e2b",
        "e2b",
        "fidelity.mjs",
    ) else {
        return;
    };
    let kit = Kit::new();
    let opts = EmulatorOptions {
        api_key: Some(KEY.to_owned()),
        ..Default::default()
    };
    let (emu, state) = start_with(kit.clone(), opts, None).await.unwrap();
    // The SDK reads only these variables: E2B_DOMAIN and E2B_DEBUG stay unset (clean env).
    let spec = spec
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("E2B_API_KEY", KEY)
        .env("E2B_API_URL", &emu.base_url)
        .env("E2B_SANDBOX_URL", &emu.base_url)
        .env("E2B_EXPECT_AUTH", "1");
    let out = run(&spec).await.unwrap().output;
    let stdout = out.stdout_str();
    let stderr = out.stderr_str();
    eprintln!("{stdout}{stderr}");
    assert!(
        out.exit_code == 0 && !out.timed_out,
        "the official SDK disagreed with the emulator:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("FIDELITY OK"));

    // What the SDK sent, as reference/cloud.md records it.
    let reqs = kit.requests();
    let create = reqs
        .iter()
        .find(|r| r.path == "/v2/sandboxes" && r.method == "POST")
        .unwrap();
    assert_eq!(create.header("x-api-key"), Some(KEY));
    assert_eq!(create.json().unwrap()["timeout"], 120);
    // Pause and resume as the SDK sends them (and as atlas-sandbox-e2b does): `autoPause: true`
    // for `lifecycle.onTimeout: 'pause'`, `POST /sandboxes/{id}/pause` with `{}`, `POST
    // /v2/sandboxes/{id}/connect` with the timeout in seconds.
    assert!(
        reqs.iter()
            .any(|r| r.path == "/v2/sandboxes" && r.json().is_some_and(|b| b["autoPause"] == true)),
        "a create with autoPause"
    );
    let pause = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/pause"))
        .unwrap();
    assert!(pause.path.starts_with("/sandboxes/"), "{}", pause.path);
    assert_eq!(pause.json(), Some(serde_json::json!({})));
    let connect = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/connect"))
        .unwrap();
    assert!(
        connect.path.starts_with("/v2/sandboxes/"),
        "{}",
        connect.path
    );
    assert_eq!(connect.json(), Some(serde_json::json!({"timeout": 60})));
    let start = reqs
        .iter()
        .find(|r| r.path == "/process.Process/Start")
        .unwrap();
    assert_eq!(
        start.header("content-type"),
        Some("application/connect+json")
    );
    assert_eq!(start.header("keepalive-ping-interval"), Some("50"));
    assert!(reqs.iter().any(|r| r.path == "/process.Process/SendSignal"));
    assert!(
        reqs.iter()
            .any(|r| r.path == "/files" && r.method == "POST")
    );
    assert!(
        state.live_sandboxes().is_empty(),
        "the script killed everything it created"
    );
    emu.shutdown().await;
}
