//! Runs the Daytona emulator by hand or for scripts:
//! `atlas-emulator-daytona [--listen ADDR] [--api-key K] [--latency-ms N] [--start-delay-ms N]`.
//! Prints `listening on http://ADDR` and the API URL (`http://ADDR/api`) once ready.

use std::net::SocketAddr;
use std::time::Duration;

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
}

fn millis(flag: &str, v: Option<String>) -> std::io::Result<Duration> {
    let v = v.unwrap_or_default();
    v.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|e| invalid(format!("{flag} {v:?}: {e}")))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut listen: Option<SocketAddr> = None;
    let mut api_key: Option<String> = None;
    let mut latency = Duration::ZERO;
    let mut start_delay = Duration::ZERO;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => {
                let v = args.next().unwrap_or_default();
                listen = Some(
                    v.parse()
                        .map_err(|e| invalid(format!("--listen {v:?}: {e}")))?,
                );
            }
            "--api-key" => api_key = args.next(),
            "--latency-ms" => latency = millis("--latency-ms", args.next())?,
            "--start-delay-ms" => start_delay = millis("--start-delay-ms", args.next())?,
            "-h" | "--help" => {
                println!(
                    "usage: atlas-emulator-daytona [--listen 127.0.0.1:PORT] [--api-key K] [--latency-ms N] [--start-delay-ms N]"
                );
                return Ok(());
            }
            other => return Err(invalid(format!("unknown argument {other:?}"))),
        }
    }
    let kit = atlas_emulator_kit::Kit::new();
    kit.set_latency(latency);
    let (running, control) = atlas_emulator_daytona::serve_on(kit, listen).await?;
    control.set_api_key(api_key.as_deref());
    control.set_start_delay(start_delay);
    println!("listening on {}", running.base_url);
    println!("api url {}", control.api_url());
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
