//! How many requests a session costs, and what exactly they carry.

mod common;

use atlas_sandbox_sdk::ExecRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_setup_is_three_round_trips_and_close_is_two() {
    let s = common::setup().await;
    let sb = s.sandbox().await;
    let out = sb.exec(ExecRequest::new("ls")).await.expect("ls");
    assert_eq!(out.stdout_str(), "catalog.yml\nentities\n");
    let setup: Vec<(String, String)> = s
        .kit
        .requests()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        setup.len(),
        3,
        "create + one upload + the first command: {setup:?}"
    );
    assert_eq!(setup[0], ("POST".into(), "/v2/sandboxes".into()));
    assert!(setup[1].1.ends_with("/fs/write"), "{setup:?}");
    assert!(setup[2].1.ends_with("/cmd"), "{setup:?}");

    for i in 0..20 {
        let out = sb
            .exec(ExecRequest::new(format!("cat catalog.yml; echo {i}")))
            .await
            .expect("exec");
        assert_eq!(out.exit_code, 0);
    }
    assert_eq!(s.kit.requests().len(), 3 + 20, "one request per command");
    sb.close().await.expect("close");
    let all = s.kit.requests();
    assert_eq!(all.len(), 3 + 20 + 2, "close = stop + delete");
    assert!(all[23].path.ends_with("/stop"), "{:?}", all[23].path);
    assert_eq!(all[24].method, "DELETE");

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
    let cmd = all[2].json().expect("cmd body");
    assert_eq!(
        cmd,
        serde_json::json!({
            "command": "sh", "args": ["-c", "ls"], "cwd": "/vercel/sandbox/semantic",
            "env": {}, "sudo": false, "wait": true, "logs": true, "timeout": 10_000
        })
    );
    assert_eq!(all[1].header("x-cwd"), Some("/"));
    assert_eq!(all[1].header("content-type"), Some("application/gzip"));
    assert!(
        all[24]
            .query
            .as_deref()
            .unwrap_or("")
            .contains("projectId=prj_test")
    );
    assert_eq!((s.emu.running_sessions(), s.emu.sandbox_count()), (0, 0));
}
