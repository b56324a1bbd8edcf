//! `atlas-emulator-e2b --listen 127.0.0.1:PORT [--api-key KEY] [--latency-ms N]`: the E2B
//! emulator as a process, for driving the official SDK by hand or from scripts.

use std::net::SocketAddr;
use std::time::Duration;

use atlas_emulator_e2b::{EmulatorOptions, start_with};
use atlas_emulator_kit::Kit;

fn usage() -> ! {
    eprintln!("usage: atlas-emulator-e2b --listen 127.0.0.1:PORT [--api-key KEY] [--latency-ms N]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let mut listen: Option<SocketAddr> = None;
    let mut opts = EmulatorOptions::default();
    let mut latency = Duration::ZERO;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--listen" => listen = Some(value.parse().unwrap_or_else(|_| usage())),
            "--api-key" => opts.api_key = Some(value),
            "--latency-ms" => {
                latency = Duration::from_millis(value.parse().unwrap_or_else(|_| usage()))
            }
            _ => usage(),
        }
    }
    let kit = Kit::new();
    kit.set_latency(latency);
    let addr = listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    match start_with(kit, opts, Some(addr)).await {
        Ok((emu, _state)) => {
            println!("{}", emu.base_url);
            let _ = tokio::signal::ctrl_c().await;
            emu.shutdown().await;
        }
        Err(e) => {
            eprintln!("atlas-emulator-e2b: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
