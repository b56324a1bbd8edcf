//! `atlas-sidecar --listen 127.0.0.1:8080 --semantic-root /semantic`: the sidecar server.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use atlas_sidecar::{Listen, ServerConfig, serve};

/// Runs `sh -c` commands over a read-only semantic layer behind an authenticated HTTP API.
///
/// The bearer token is read from SIDECAR_AUTH_TOKEN (never a flag: flags are visible in `ps`).
#[derive(Debug, Parser)]
#[command(name = "atlas-sidecar", version)]
struct Args {
    /// Where to listen: HOST:PORT, or unix:/path/to/socket.
    #[arg(long, env = "SIDECAR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: Listen,
    /// The semantic layer directory commands run in.
    #[arg(long, env = "SIDECAR_SEMANTIC_ROOT", default_value = "/semantic")]
    semantic_root: PathBuf,
    /// Run without authentication (local development only): only loopback or a unix socket.
    #[arg(long, env = "SIDECAR_AUTH_DISABLE", value_parser = parse_flag, default_value = "0")]
    auth_disabled: bool,
    /// The shell commands run with (`<shell> -c <command>`); resolved to an absolute path at
    /// boot. bash by default, as agents write bash; "sh" runs POSIX sh knowingly.
    #[arg(long, env = "SIDECAR_SHELL", default_value = "bash")]
    shell: String,
    /// Commands allowed to run at once; more wait in line (--max-queue).
    #[arg(long, env = "SIDECAR_MAX_CONCURRENT", default_value_t = atlas_sidecar::DEFAULT_MAX_CONCURRENT)]
    max_concurrent: usize,
    /// Requests that may wait for a running slot; beyond them, 429 with Retry-After (0: refuse
    /// at once when all slots are busy).
    #[arg(long, env = "SIDECAR_MAX_QUEUE", default_value_t = atlas_sidecar::DEFAULT_MAX_QUEUE)]
    max_queue: usize,
    /// How long a request waits for a slot before it gets 429 with Retry-After, e.g. "4s".
    #[arg(long, env = "SIDECAR_QUEUE_TIMEOUT", default_value = "4s", value_parser = parse_duration)]
    queue_timeout: Duration,
    /// Largest request body, in bytes.
    #[arg(long, env = "SIDECAR_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    max_body_bytes: usize,
    /// Per-stream output cap (and the largest a request may ask for), in bytes.
    #[arg(long, env = "SIDECAR_MAX_OUTPUT_BYTES", default_value_t = atlas_sandbox_sdk::DEFAULT_MAX_OUTPUT_BYTES)]
    max_output_bytes: usize,
    /// Timeout of a request that sets none, e.g. "10s".
    #[arg(long, env = "SIDECAR_DEFAULT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    default_timeout: Duration,
    /// Longest timeout a request may ask for, e.g. "60s".
    #[arg(long, env = "SIDECAR_MAX_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    max_timeout: Duration,
    /// Where per-command temp dirs (HOME, TMPDIR) are created (an empty one is reused).
    #[arg(long, env = "SIDECAR_TMP_DIR", default_value = "/tmp")]
    tmp_dir: PathBuf,
    /// Run a command line that is one program with plain words (`cat catalog.yml`,
    /// `grep -rn id .`) as bash would run it, without starting bash; "0" sends every line
    /// through the shell.
    #[arg(long, env = "SIDECAR_DIRECT_EXEC", value_parser = parse_flag, default_value = "1")]
    direct_exec: bool,
    /// When started as root, the user to switch to after binding.
    #[arg(long, env = "SIDECAR_USER", default_value = "nobody")]
    user: String,
}

fn parse_flag(s: &str) -> Result<bool, String> {
    // Exactly "1" or "true", as Atlas: a stray value must not turn authentication off.
    match s {
        "1" | "true" => Ok(true),
        "0" | "false" | "" => Ok(false),
        other => Err(format!("expected 1/true or 0/false, got {other:?}")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<atlas_sandbox_sdk::HumanDuration>()
        .map(|d| d.get())
}

fn resolve_shell(shell: &str) -> Result<PathBuf, String> {
    if shell.contains('/') {
        return Ok(PathBuf::from(shell));
    }
    // `/bin/bash`, as every other backend runs it (so `$0` reads the same), when it is there;
    // on a merged-/usr system PATH order would find `/usr/bin/bash` first.
    let in_bin = Path::new("/bin").join(shell);
    if in_bin.is_file() {
        return Ok(in_bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| atlas_sidecar::COMMAND_PATH.into());
    atlas_sandbox_sdk::process::find_in_path(shell, Some(&path))
        .or_else(|| {
            atlas_sandbox_sdk::process::find_in_path(
                shell,
                Some(std::ffi::OsStr::new(atlas_sidecar::COMMAND_PATH)),
            )
        })
        .ok_or_else(|| {
            format!(
                "--shell {shell:?} was not found in PATH: install it in the image, or start with \
                 --shell sh (SIDECAR_SHELL=sh) to run POSIX sh knowingly (bash-only syntax such \
                 as pipefail, <<<, [[ ]] and arrays then fails)"
            )
        })
}

/// Commands must not run as root: when started as root, become `user` (after binding).
fn drop_privileges(user: &str) -> Result<(), String> {
    use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let u = User::from_name(user)
        .map_err(|e| format!("--user {user:?}: {e}"))?
        .ok_or_else(|| format!("--user {user:?} does not exist"))?;
    if u.uid.is_root() {
        return Err(format!(
            "--user {user:?} is root; the sidecar refuses to run commands as root"
        ));
    }
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(u.gid.as_raw())).map_err(|e| format!("setgid: {e}"))?;
    setuid(Uid::from_raw(u.uid.as_raw())).map_err(|e| format!("setuid: {e}"))?;
    if setuid(Uid::from_raw(0)).is_ok() {
        return Err("could regain root after dropping privileges".into());
    }
    tracing::info!(user, uid = u.uid.as_raw(), "dropped root privileges");
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    match real_main(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("atlas-sidecar: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The token sits in this process's environment (and memory). Started unprivileged, as `sidecar
/// up` runs it in the container, the server has the commands' uid, so without this a command
/// could read it from `/proc/<server>/environ` or attach a debugger. A non-dumpable process's
/// /proc files belong to root and other processes of its uid cannot ptrace it; the flag is reset
/// for the commands at exec.
fn make_undumpable() -> std::io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes plain integers; no memory is passed to the kernel.
    let r = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn real_main(args: Args) -> anyhow::Result<()> {
    make_undumpable().map_err(|e| anyhow::anyhow!("prctl(PR_SET_DUMPABLE, 0): {e}"))?;
    let token = std::env::var(atlas_sandbox_sidecar::protocol::TOKEN_ENV)
        .ok()
        .filter(|t| !t.is_empty());
    let token = match (token, args.auth_disabled) {
        (Some(t), _) => Some(t.into_bytes()),
        (None, true) => {
            tracing::warn!(
                "AUTH DISABLED: anyone who can reach {} can run commands; loopback/unix socket only",
                args.listen
            );
            None
        }
        (None, false) => return Err(atlas_sidecar::StartError::NoToken.into()),
    };
    let shell = resolve_shell(&args.shell).map_err(anyhow::Error::msg)?;
    let config = ServerConfig {
        semantic_root: args.semantic_root,
        token,
        shell,
        max_concurrent: args.max_concurrent,
        max_queue: args.max_queue,
        queue_timeout: args.queue_timeout,
        max_body_bytes: args.max_body_bytes,
        default_timeout: args.default_timeout,
        max_timeout: args.max_timeout,
        max_output_bytes: args.max_output_bytes,
        tmp_root: args.tmp_dir,
        direct_exec: args.direct_exec,
    };
    config.check(&args.listen)?;
    tracing::info!(?config, "starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listen = args.listen;
    let user = args.user;
    runtime.block_on(async move {
        let shutdown = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("cannot watch SIGTERM: {e}");
                        std::future::pending::<()>().await;
                        return;
                    }
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            tracing::info!("shutting down: finishing in-flight commands");
        };
        serve(&listen, config, shutdown, |addr| {
            drop_privileges(&user).map_err(anyhow::Error::msg)?;
            tracing::info!("listening on {addr}");
            // A line on stdout that scripts and tests wait for.
            println!("atlas-sidecar listening on {addr}");
            Ok(())
        })
        .await
    })
}
