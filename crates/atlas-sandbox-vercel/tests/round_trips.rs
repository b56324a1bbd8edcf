//! How many requests a session costs, and what exactly they carry.

mod common;

use atlas_sandbox_sdk::ExecRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_setup_is_four_round_trips_and_close_is_two() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    let out = sb.exec(ExecRequest::new("ls")).await.expect("ls");
    assert_eq!(out.stdout_str(), "catalog.yml\nentities\n");
    let reqs = s.kit.requests();
    let setup: Vec<(String, String)> = reqs
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    // Four round trips, five requests: the shell probe (`/bin/bash -c 'exit 0'`) goes out
    // with the upload; after the upload, one command gives the copy the layer's empty
    // directories, modes and times.
    assert_eq!(
        setup.len(),
        5,
        "create + (upload | shell probe) + the restore + the first command: {setup:?}"
    );
    assert_eq!(setup[0], ("POST".into(), "/v2/sandboxes".into()));
    let probe = reqs
        .iter()
        .position(|r| {
            r.path.ends_with("/cmd")
                && r.json()
                    .is_some_and(|j| j["args"][1] == "exit 0" && j["command"] == "/bin/bash")
        })
        .expect("a shell probe with /bin/bash");
    // Sent with the upload, so it arrives before the command; on a loaded machine it may
    // arrive after the restore, which follows the (small, local) upload.
    assert!((1..=3).contains(&probe), "{setup:?}");
    let rest: Vec<_> = (0..5).filter(|i| *i != probe).collect();
    let write_at = rest[1];
    assert!(setup[write_at].1.ends_with("/fs/write"), "{setup:?}");
    let restore = reqs[rest[2]].json().expect("restore body");
    assert_eq!(restore["command"], "/bin/sh", "{setup:?}");
    let script = restore["args"][1].as_str().unwrap_or("");
    assert!(
        script.starts_with(
            "set -e\nmkdir -p -- 'vercel/sandbox/semantic'\ncd -- 'vercel/sandbox/semantic'\n"
        ),
        "{script}"
    );
    assert_eq!(restore["cwd"], "/");
    assert!(setup[4].1.ends_with("/cmd"), "{setup:?}");

    for i in 0..20 {
        let out = sb
            .exec(ExecRequest::new(format!("cat catalog.yml; echo {i}")))
            .await
            .expect("exec");
        assert_eq!(out.exit_code, 0);
    }
    assert_eq!(s.kit.requests().len(), 5 + 20, "one request per command");
    sb.close().await.expect("close");
    let all = s.kit.requests();
    assert_eq!(all.len(), 5 + 20 + 2, "close = stop + delete");
    assert!(all[25].path.ends_with("/stop"), "{:?}", all[25].path);
    assert_eq!(all[26].method, "DELETE");

    for r in &all {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {}", common::TOKEN).as_str()),
            "{}",
            r.path
        );
        assert!(
            r.query
                .as_deref()
                .unwrap_or("")
                .contains("teamId=team_test"),
            "teamId on {}",
            r.path
        );
    }
    let create = all[0].json().expect("create body");
    assert_eq!(create["projectId"], "prj_test");
    assert_eq!(
        create["timeout"], 300_000,
        "sandbox_lifetime 5m, in milliseconds"
    );
    assert_eq!(create["persistent"], false);
    assert_eq!(create["runtime"], "node24");
    assert_eq!(
        create["networkPolicy"],
        serde_json::json!({"mode": "deny-all"})
    );
    assert_eq!(create["tags"]["atlas-sandbox"], "true");
    assert_eq!(create["tags"]["atlas-sandbox-instance"], "test-instance");
    assert!(create["name"].as_str().unwrap_or("").starts_with("atlas-"));
    let cmd = all[4].json().expect("cmd body");
    // The only variables sent are the constants every backend's commands start with.
    let env = serde_json::Value::Object(
        atlas_sandbox_sdk::CommandPath::default()
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into()))
            .collect(),
    );
    assert_eq!(
        cmd,
        serde_json::json!({
            "command": "/bin/bash", "args": ["-c", "ls"], "cwd": "/vercel/sandbox/semantic",
            "env": env, "sudo": false, "wait": true, "logs": true, "timeout": 10_000
        })
    );
    let write = &all[write_at];
    assert_eq!(write.header("x-cwd"), Some("/"));
    assert_eq!(write.header("content-type"), Some("application/gzip"));
    assert!(
        all[26]
            .query
            .as_deref()
            .unwrap_or("")
            .contains("projectId=prj_test")
    );
    assert_eq!((s.emu.running_sessions(), s.emu.sandbox_count()), (0, 0));
}
