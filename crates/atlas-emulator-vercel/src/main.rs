//! `atlas-emulator-vercel [--listen 127.0.0.1:PORT]`: serves the Vercel Sandbox emulator until
//! interrupted, printing `listening on http://...` once it accepts connections (for the
//! fidelity and benchmark scripts).

use std::net::SocketAddr;

use atlas_emulator_kit::Kit;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut listen: Option<SocketAddr> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => match args.next().map(|v| v.parse()) {
                Some(Ok(addr)) => listen = Some(addr),
                _ => {
                    eprintln!("--listen needs an address such as 127.0.0.1:8080");
                    return std::process::ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("usage: atlas-emulator-vercel [--listen 127.0.0.1:PORT]");
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                eprintln!(
                    "unknown argument {other:?}; usage: atlas-emulator-vercel [--listen ADDR]"
                );
                return std::process::ExitCode::from(2);
            }
        }
    }
    let (running, _emu) = atlas_emulator_vercel::start_with(Kit::new(), listen).await;
    println!("listening on {}", running.base_url);
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await;
    std::process::ExitCode::SUCCESS
}
