//! Runs one script over a directory: `cargo run -p atlas-sandbox-just-bash --example run -- DIR 'SCRIPT'`.

use std::time::Duration;

use atlas_sandbox_just_bash::{Engine, JustBashConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(script)) = (args.next(), args.next()) else {
        eprintln!("usage: run DIR SCRIPT");
        std::process::exit(2);
    };
    let engine = match Engine::new(Some(std::path::Path::new(&dir)), &JustBashConfig::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    match engine.exec_script(&script, "", Duration::from_secs(10), 1 << 20) {
        Ok(out) => {
            print!("{}", out.stdout_str());
            eprint!("{}", out.stderr_str());
            println!("[exit {}]", out.exit_code);
        }
        Err(e) => eprintln!("error: {e}"),
    }
}
