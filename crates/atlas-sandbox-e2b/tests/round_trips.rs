//! Session setup in as few round trips as E2B allows, and what goes on the wire.

mod common;

use atlas_sandbox_sdk::ExecRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_command_costs_four_round_trips_and_the_next_one() {
    let env = common::setup(serde_json::json!({"metadata": {"team": "data"}})).await;
    let sb = env.sandbox().await;
    assert!(
        env.kit.requests().is_empty(),
        "create() is lazy: no request yet"
    );

    let out = sb.exec(ExecRequest::new("ls")).await.unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(out.stdout_str().contains("catalog.yml"), "{out:?}");
    let all = env.kit.requests();
    let seen: Vec<(String, String)> = all
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    // The shell probe (`/bin/bash -c 'exit 0'`) runs while the layer uploads; after the upload,
    // one command gives the copy the layer's modes and times: four round trips, five requests.
    let start_json = |r: &atlas_emulator_kit::RecordedRequest| -> serde_json::Value {
        serde_json::from_slice(&r.body[5..]).unwrap()
    };
    let probe = all
        .iter()
        .position(|r| {
            r.path == "/process.Process/Start" && start_json(r)["process"]["args"][1] == "exit 0"
        })
        .expect("a shell probe");
    assert_eq!(
        start_json(&all[probe])["process"]["cmd"],
        "/bin/bash",
        "the probe runs the configured shell"
    );
    // Sent with the upload, so it reaches the emulator before the command; on a loaded machine
    // it may arrive after the restore, which follows the (tiny, local) upload.
    assert!(
        (1..=3).contains(&probe),
        "the probe is sent with the upload: {seen:?}"
    );
    let reqs: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != probe)
        .map(|(_, r)| r.clone())
        .collect();
    let seen: Vec<(String, String)> = reqs
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            ("POST".to_owned(), "/v2/sandboxes".to_owned()),
            ("POST".to_owned(), "/files".to_owned()),
            ("POST".to_owned(), "/process.Process/Start".to_owned()),
            ("POST".to_owned(), "/process.Process/Start".to_owned()),
        ],
        "create + one upload + the restore + exec"
    );
    let restore = start_json(&reqs[2]);
    assert_eq!(restore["process"]["cmd"], "/bin/sh");
    let script = restore["process"]["args"][1].as_str().unwrap();
    assert!(
        script
            .starts_with("set -e\nmkdir -p -- 'home/user/semantic'\ncd -- 'home/user/semantic'\n"),
        "{script}"
    );
    assert!(script.contains("touch -c -d @"), "{script}");

    // Create: template, explicit lifetime in seconds, egress off, our tags + the user's.
    let create = reqs[0].json().unwrap();
    assert_eq!(create["templateID"], "base");
    assert_eq!(create["timeout"], 600);
    assert_eq!(create["allow_internet_access"], false);
    assert_eq!(create["metadata"]["atlas-sandbox"], "true");
    assert_eq!(create["metadata"]["team"], "data");
    assert!(create["metadata"]["atlas-sandbox-instance"].is_string());
    assert_eq!(reqs[0].header("x-api-key"), Some(common::KEY));

    // Upload: one multipart request, one `file` part per file of the layer, absolute paths.
    let files = atlas_sandbox_sdk::SemanticLayer::open(env.layer.root())
        .unwrap()
        .collect(&Default::default())
        .unwrap()
        .files;
    let body = String::from_utf8_lossy(&reqs[1].body);
    assert_eq!(
        body.matches("name=\"file\"; filename=\"/home/user/semantic/")
            .count(),
        files.len()
    );
    assert!(
        reqs[1]
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let id = env.state.live_sandboxes().pop().unwrap();
    assert_eq!(reqs[1].header("e2b-sandbox-id"), Some(id.as_str()));
    assert_eq!(reqs[1].header("e2b-sandbox-port"), Some("49983"));
    assert!(reqs[1].header("x-access-token").is_some());
    assert!(
        reqs[1].header("x-api-key").is_none(),
        "the API key never goes to the sandbox"
    );

    // Exec: Connect streaming JSON, explicit deadline in ms, keepalive, /bin/bash -c with cwd.
    let start = &reqs[3];
    assert_eq!(
        start.header("content-type"),
        Some("application/connect+json")
    );
    assert_eq!(start.header("connect-protocol-version"), Some("1"));
    assert_eq!(start.header("connect-timeout-ms"), Some("10000"));
    assert_eq!(start.header("keepalive-ping-interval"), Some("10"));
    assert_eq!(start.body[0], 0, "one uncompressed envelope");
    let len =
        u32::from_be_bytes([start.body[1], start.body[2], start.body[3], start.body[4]]) as usize;
    assert_eq!(start.body.len(), 5 + len);
    let msg: serde_json::Value = serde_json::from_slice(&start.body[5..]).unwrap();
    // The only variables sent are the constants every backend's commands start with.
    let envs = serde_json::Value::Object(
        atlas_sandbox_sdk::CommandPath::default()
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect(),
    );
    assert_eq!(
        msg,
        serde_json::json!({"process": {"cmd": "/bin/bash", "args": ["-c", "ls"], "envs": envs, "cwd": "/home/user/semantic"}, "stdin": false})
    );

    // The next command is one request.
    env.kit.clear();
    let out = sb
        .exec(ExecRequest::new("cat catalog.yml").cwd("."))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert_eq!(env.kit.requests().len(), 1);

    sb.close().await.unwrap();
    assert_eq!(env.kit.count("DELETE", "/sandboxes/"), 1);
    sb.close().await.unwrap();
    assert_eq!(
        env.kit.count("DELETE", "/sandboxes/"),
        1,
        "close is idempotent"
    );
    env.assert_none_alive().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_is_one_free_list_call() {
    let env = common::setup(serde_json::json!({})).await;
    use atlas_sandbox_sdk::SandboxPlugin;
    let h = env.plugin.health_check().await;
    assert!(h.healthy, "{h:?}");
    let reqs = env.kit.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/v2/sandboxes")
    );
    let q = reqs[0].query.clone().unwrap();
    assert!(q.contains("metadata=atlas-sandbox%3Dtrue"), "{q}");
    assert!(q.contains("limit=1"), "{q}");
    assert_eq!(env.kit.count("POST", ""), 0, "never a create");
}
