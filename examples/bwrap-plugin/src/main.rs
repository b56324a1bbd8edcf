//! A host binary built outside the workspace: the compiled-in backends plus the `bwrap` plugin.
//!
//! `atlas-bwrap-host [--config FILE] backends` prints the host's backend report as JSON;
//! `atlas-bwrap-host [--config FILE] exec COMMAND` runs one command on the selected backend and
//! prints `{"backend", "exit_code", "stdout", "stderr"}`.

use std::path::PathBuf;
use std::process::ExitCode;

use atlas_sandbox::{Host, LoadOptions};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("atlas-bwrap-host: {e:#}");
            ExitCode::from(3)
        }
    }
}

async fn run() -> anyhow::Result<ExitCode> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = None;
    if args.first().map(String::as_str) == Some("--config") && args.len() >= 2 {
        config = Some(PathBuf::from(args.remove(1)));
        args.remove(0);
    }
    // The one line that differs from the stock host: register the outside plugin.
    let opts =
        LoadOptions::from_process(config).with_plugin(atlas_sandbox_example_bwrap::descriptor());
    let config = match atlas_sandbox::load(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let host = match Host::from_config(&config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let code = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["backends"] => {
            println!("{}", serde_json::to_string_pretty(&host.report().await)?);
            ExitCode::SUCCESS
        }
        ["exec", command] => {
            let root = host.settings().semantic_root.clone();
            match host.sandbox_for(&root).await {
                Ok(sandbox) => {
                    let out = sandbox.exec(host.request(*command)).await?;
                    let backend = host.backend_for(&root).await;
                    println!(
                        "{}",
                        serde_json::json!({
                            "backend": backend,
                            "exit_code": out.exit_code,
                            "stdout": out.stdout_str(),
                            "stderr": out.stderr_str(),
                        })
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
        _ => {
            eprintln!("usage: atlas-bwrap-host [--config FILE] backends | exec COMMAND");
            ExitCode::from(2)
        }
    };
    host.shutdown().await;
    Ok(code)
}
