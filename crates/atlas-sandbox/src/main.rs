//! `atlas-sandbox`: inspect backends, run one command, validate `atlas.toml`, print schemas.
//!
//! Exit codes: `exec` exits with the command's own exit code (124 after a timeout, 128+N after
//! signal N); 1 = `check` found problems; 2 = atlas-sandbox itself failed (invalid config, no
//! usable backend, backend error, bad arguments); 130 = interrupted by Ctrl-C. A command that
//! itself exits 2 is indistinguishable from 2 without `--json`. `sweep` exits 2 when the sweep
//! or any kill failed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use atlas_sandbox::config::{self, LoadOptions};
use atlas_sandbox::{Host, Report, registry, schema};
use atlas_sandbox_sdk::HumanDuration;
use clap::{Parser, Subcommand};

/// Exit code when atlas-sandbox itself failed.
const EXIT_HOST_ERROR: u8 = 2;
/// Exit code when `check` found problems.
const EXIT_CHECK_FAILED: u8 = 1;
/// Exit code after Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;
/// Exit code when the reader of our stdout went away (`| head`), as for a filter killed by
/// SIGPIPE.
const EXIT_BROKEN_PIPE: u8 = 141;

/// `println!` that hands back the write error instead of panicking on a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)
    };
}

/// `print!` that hands back the write error instead of panicking on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {
        write!(std::io::stdout().lock(), $($arg)*)
    };
}

#[derive(Parser)]
#[command(
    name = "atlas-sandbox",
    version,
    about = "Run untrusted shell commands over a semantic layer in a sandbox backend"
)]
struct Cli {
    /// The config file (default: $ATLAS_CONFIG, else ./atlas.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Machine-readable output (backends, exec, check).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lists every backend: configured, enabled, priority, security, health, and which is selected.
    Backends,
    /// Runs one command on the selected backend; exits with its exit code.
    Exec {
        /// The shell command.
        command: String,
        /// Use this backend only (a pin: no fallback).
        #[arg(long, value_name = "ID")]
        backend: Option<String>,
        /// Working directory, relative to the semantic root.
        #[arg(long, value_name = "DIR")]
        cwd: Option<String>,
        /// Wall-clock limit, e.g. 5s (default: sandbox.timeout).
        #[arg(long, value_name = "DURATION")]
        timeout: Option<HumanDuration>,
        /// The semantic root (default: sandbox.semantic_root).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Validates the configuration and prints every problem; exits 1 on any.
    Check,
    /// Prints the JSON Schema of atlas.toml, or of one backend's [plugins.<id>] table.
    Schema {
        /// A plugin id (or `sandbox`, `server`, `layers` for those tables).
        id: Option<String>,
        /// List the ids of the compiled-in backends instead, one per line.
        #[arg(long, conflicts_with = "id")]
        list: bool,
    },
    /// Finds (and kills, unless --dry-run) remote sandboxes this project left behind; never a
    /// session's, nor those of a host that is still running (its lease in sandbox.state_path).
    Sweep {
        /// The backend to sweep (must be configured).
        #[arg(long, value_name = "ID")]
        backend: String,
        /// Only sandboxes older than this.
        #[arg(long, value_name = "DURATION", default_value = "10m")]
        older_than: HumanDuration,
        /// List what would be killed, kill nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Lists the remote sandboxes of every backend with persistence: live, paused and pooled,
    /// with their age, state and owning session (from the session store, sandbox.state_path).
    Sessions,
    /// Serves the explore tool over MCP on stdio (for Claude Code, Claude Desktop, Cursor, ...).
    #[cfg(feature = "server")]
    Mcp,
    /// Serves MCP (Streamable HTTP at /mcp) and the JSON API (/v1) until SIGTERM or Ctrl-C.
    #[cfg(feature = "server")]
    Serve {
        /// The address to listen on (default: server.listen, 127.0.0.1:8765).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    // Backend-specific subcommands go here, each calling a library function of its crate and
    // gated with #[cfg(feature = "<id>")] on the variant and its match arm, e.g.
    //   #[cfg(feature = "sidecar")] Sidecar { #[command(subcommand)] action: SidecarAction },
    //   // up | down | status, from atlas-sandbox-sidecar
    /// Manages the sidecar container (--config FILE: its TOML settings, see docs/backends/sidecar.md).
    #[cfg(feature = "sidecar")]
    Sidecar {
        #[command(subcommand)]
        action: SidecarAction,
    },
}

/// `atlas-sandbox sidecar ...`
#[cfg(feature = "sidecar")]
#[derive(Subcommand, Clone, Copy)]
enum SidecarAction {
    /// Builds or loads the image, starts the locked-down container, waits for /health and prints
    /// the [plugins.sidecar] table (URL, socket, token).
    Up,
    /// Stops and removes the container, its socket and token.
    Down,
    /// Shows the container's state and the server's health; exits 1 unless both are fine.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // One command runs on the main thread: no worker threads to start, and no hand-offs
    // between threads, each of which waits for a CPU on a loaded machine. Everything else keeps
    // the multi-threaded runtime, where a health check that blocks its thread cannot hold up
    // the others or the deadline.
    let one_shot = matches!(cli.command, Command::Exec { .. });
    let builder = if one_shot {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match { builder }.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("atlas-sandbox: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_HOST_ERROR);
        }
    };
    let result = runtime.block_on(run(cli));
    if one_shot {
        // The command's sandboxes are closed by now (exec_cmd awaits `shutdown`); what may
        // still run is a blocking task reaping a process already sent SIGKILL (a jail's
        // namespace holder), which takes as long as the kernel needs to tear its namespace
        // down. Joining it only delays our exit: the killed process ends all the same, and
        // init reaps it.
        runtime.shutdown_background();
    }
    match result {
        Ok(code) => code,
        Err(e) if is_broken_pipe(&e) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => {
            eprintln!("atlas-sandbox: {e:#}");
            ExitCode::from(EXIT_HOST_ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_tracing() {
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    // Without RUST_LOG a plain level filter: building an `EnvFilter` from its directives costs
    // a one-shot command more than the rest of its logging setup.
    match std::env::var_os(tracing_subscriber::EnvFilter::DEFAULT_ENV) {
        Some(_) => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
            fmt.with_env_filter(filter).init();
        }
        None => fmt.with_max_level(tracing::Level::WARN).init(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Schema { list: true, .. } => {
            for d in registry::compiled_in() {
                outln!("{}", d.id)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema { id, .. } => schema_cmd(id.as_deref()),
        Command::Check => check_cmd(cli.config, cli.json),
        #[cfg(feature = "sidecar")]
        Command::Sidecar { action } => {
            let action = match action {
                SidecarAction::Up => "up",
                SidecarAction::Down => "down",
                SidecarAction::Status => "status",
            };
            let (code, text) =
                atlas_sandbox_sidecar::container::cli(action, cli.config.as_deref()).await?;
            out!("{text}")?;
            // Flushed here so a closed stdout is an error we see (141), not one lost at exit.
            std::io::stdout().flush()?;
            Ok(ExitCode::from(
                u8::try_from(code).unwrap_or(EXIT_HOST_ERROR),
            ))
        }
        Command::Backends => backends_cmd(cli.config, cli.json).await,
        #[cfg(feature = "server")]
        Command::Mcp => server_cmd(cli.config, None, true).await,
        #[cfg(feature = "server")]
        Command::Serve { listen } => server_cmd(cli.config, listen, false).await,
        Command::Sessions => sessions_cmd(cli.config, cli.json).await,
        Command::Sweep {
            backend,
            older_than,
            dry_run,
        } => sweep_cmd(cli.config, cli.json, &backend, older_than, dry_run).await,
        Command::Exec {
            command,
            backend,
            cwd,
            timeout,
            root,
        } => exec_cmd(cli.config, cli.json, command, backend, cwd, timeout, root).await,
    }
}

fn schema_cmd(id: Option<&str>) -> anyhow::Result<ExitCode> {
    let descriptors = registry::compiled_in();
    let value = match id {
        None => schema::combined_schema(&descriptors),
        Some("sandbox") => schema::sandbox_schema(),
        Some("server") => config::tables::server_schema(),
        Some("layers") => config::tables::layers_schema(),
        #[cfg(feature = "server")]
        Some("openapi") => {
            out!("{}", atlas_sandbox_server::openapi_json())?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(id) => match descriptors.iter().find(|d| d.id == id) {
            Some(d) => schema::plugin_table_schema(d),
            None => {
                let hint = match registry::KNOWN_BACKENDS.iter().find(|k| k.id == id) {
                    Some(k) => format!(
                        "backend '{id}' is not compiled in; rebuild with `--features {}`",
                        k.cargo_feature
                    ),
                    None => format!(
                        "unknown backend '{id}'; known: {}",
                        registry::KNOWN_BACKENDS
                            .iter()
                            .map(|k| k.id)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                anyhow::bail!(hint);
            }
        },
    };
    let mut out = std::io::stdout().lock();
    out.write_all(schema::to_pretty(&value).as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn load(config_file: Option<PathBuf>) -> Result<atlas_sandbox::Config, ExitCode> {
    atlas_sandbox::load(&LoadOptions::from_process(config_file)).map_err(|e| {
        eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
        ExitCode::from(EXIT_HOST_ERROR)
    })
}

fn check_cmd(config_file: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let result = atlas_sandbox::load(&LoadOptions::from_process(config_file))
        .and_then(|c| atlas_sandbox::host::build_slots(&c, &Default::default()).map(|_| c));
    match (result, json) {
        (Ok(c), false) => {
            let file = c
                .file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_else(|| "no config file (defaults and environment)".into());
            outln!("ok: {file}")?;
            Ok(ExitCode::SUCCESS)
        }
        (Ok(_), true) => {
            outln!("{}", serde_json::json!({"ok": true, "problems": []}))?;
            Ok(ExitCode::SUCCESS)
        }
        (Err(e), false) => {
            outln!("{e}")?;
            eprintln!("atlas-sandbox: {} problem(s)", e.problems.len());
            Ok(ExitCode::from(EXIT_CHECK_FAILED))
        }
        (Err(e), true) => {
            outln!(
                "{}",
                serde_json::json!({"ok": false, "problems": e.problems})
            )?;
            Ok(ExitCode::from(EXIT_CHECK_FAILED))
        }
    }
}

async fn backends_cmd(config_file: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let config = match load(config_file) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let host = match Host::from_config(&config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    let report = host.report().await;
    // Nothing to close (`backends` creates no sandbox); this releases the host's lease.
    host.shutdown().await;
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out!("{}", render_report(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "server")]
async fn server_cmd(
    config_file: Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    stdio: bool,
) -> anyhow::Result<ExitCode> {
    let config = match load(config_file) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let (core, _engine) = match atlas_sandbox::serve::start(&config).await {
        Ok(x) => x,
        Err(e) => {
            eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    if stdio {
        atlas_sandbox_server::serve_stdio(core).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let addr = match listen {
        Some(a) => a,
        None => config.server.listen.parse().with_context(|| {
            format!("server.listen {:?} is not an address", config.server.listen)
        })?,
    };
    atlas_sandbox_server::serve_http(
        core,
        addr,
        |a| eprintln!("atlas-sandbox: serving on http://{a} (MCP at /mcp, JSON API at /v1)"),
        std::future::pending(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn sessions_cmd(config_file: Option<PathBuf>, json: bool) -> anyhow::Result<ExitCode> {
    let config = match load(config_file) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let slots = match atlas_sandbox::host::build_slots(&config, &Default::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    let store = atlas_sandbox::persist::Store::new(&config.sandbox.state_path);
    let mut rows = Vec::new();
    let mut failed = false;
    for slot in &slots {
        let atlas_sandbox::SlotState::Ready(plugin) = &slot.state else {
            continue;
        };
        if plugin.persistence().is_none() {
            continue;
        }
        match atlas_sandbox::persist::sessions(&slot.id, plugin.as_ref(), &store).await {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("atlas-sandbox: {}: {e}", slot.id);
                failed = true;
            }
        }
    }
    if json {
        outln!("{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        let secs = |s: Option<u64>| {
            s.map(|s| HumanDuration(std::time::Duration::from_secs(s)).to_string())
                .unwrap_or_else(|| "-".into())
        };
        outln!(
            "{:<10} {:<28} {:<8} {:<9} {:>10} {:>10}  SESSION",
            "BACKEND",
            "ID",
            "STATE",
            "ROLE",
            "AGE",
            "IDLE"
        )?;
        for r in &rows {
            outln!(
                "{:<10} {:<28} {:<8} {:<9} {:>10} {:>10}  {}",
                r.backend,
                r.id,
                r.state,
                r.role,
                secs(r.age_secs),
                secs(r.idle_secs),
                r.session.as_deref().unwrap_or("-")
            )?;
        }
        outln!(
            "{} sandbox(es); session store {}",
            rows.len(),
            store.path().display()
        )?;
    }
    Ok(if failed {
        ExitCode::from(EXIT_HOST_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

async fn sweep_cmd(
    config_file: Option<PathBuf>,
    json: bool,
    backend: &str,
    older_than: HumanDuration,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let config = match load(config_file) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let slots = match atlas_sandbox::host::build_slots(&config, &Default::default()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    let Some(slot) = slots.iter().find(|s| s.id == backend) else {
        eprintln!("atlas-sandbox: backend '{backend}' is not compiled into this binary");
        return Ok(ExitCode::from(EXIT_HOST_ERROR));
    };
    let atlas_sandbox::SlotState::Ready(plugin) = &slot.state else {
        eprintln!(
            "atlas-sandbox: backend '{backend}' is {}; nothing to sweep with",
            if slot.enabled {
                "not configured"
            } else {
                "disabled"
            }
        );
        return Ok(ExitCode::from(EXIT_HOST_ERROR));
    };
    // A backend with persistence spares what the session store owns (paused sessions) and
    // what a running host uses (its instance holds a live lease in the store).
    let store = atlas_sandbox::persist::Store::new(&config.sandbox.state_path);
    let swept = atlas_sandbox::persist::sweep_unowned(
        backend,
        plugin.as_ref(),
        &store,
        older_than.get(),
        dry_run,
    );
    let report = match swept.await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("atlas-sandbox: {e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        for s in &report.sandboxes {
            let state = match (&s.error, s.killed) {
                (Some(e), _) => format!("kill failed: {e}"),
                (None, true) => "killed".to_owned(),
                (None, false) => "would kill (dry run)".to_owned(),
            };
            let age = s
                .age
                .map(|a| HumanDuration(a).to_string())
                .unwrap_or_else(|| "?".into());
            outln!("{:<40} {:>10}  {state}", s.id, age)?;
        }
        for k in &report.kept {
            let age = k
                .age
                .map(|a| HumanDuration(a).to_string())
                .unwrap_or_else(|| "?".into());
            outln!("{:<40} {:>10}  kept: {}", k.id, age, k.reason)?;
        }
        outln!(
            "{} sandbox(es) older than {older_than}{}{}",
            report.sandboxes.len(),
            if report.kept.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} kept, their host is running (a lease in {})",
                    report.kept.len(),
                    store.path().display()
                )
            },
            if dry_run { " (dry run)" } else { "" }
        )?;
    }
    let failed = report.sandboxes.iter().any(|s| s.error.is_some());
    Ok(if failed {
        ExitCode::from(EXIT_HOST_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn render_report(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "semantic root: {}\n  from: {}",
        r.semantic_root.display(),
        r.semantic_root_source
    );
    let mut mode = if r.production {
        "production"
    } else {
        "development"
    }
    .to_owned();
    if let Some(p) = &r.pinned {
        let _ = write!(mode, ", pinned to {p}");
    }
    if let Some(l) = &r.priority_list {
        let _ = write!(mode, ", order {}", l.join(" > "));
    }
    let _ = writeln!(s, "mode: {mode}");
    let _ = writeln!(
        s,
        "health checks: {:.0} ms total (deadline {:.0} ms)\n",
        r.health_elapsed_ms, r.health_check_timeout_ms
    );
    let _ = writeln!(
        s,
        "  {:<10} {:<10} {:<7} {:>4}  {:<7} {:<5} {:<6} {:<7} {:>9}  NOTE",
        "BACKEND", "CONFIGURED", "ENABLED", "PRIO", "NETWORK", "FS", "UNPRIV", "HEALTHY", "LATENCY"
    );
    for b in &r.backends {
        let (net, fs, unpriv) = match &b.security {
            Some(p) => (
                yes_no(p.network_isolation),
                yes_no(p.filesystem_isolation),
                yes_no(p.unprivileged_execution),
            ),
            None => ("-", "-", "-"),
        };
        let (healthy, latency) = match &b.health {
            Some(h) => (
                yes_no(h.healthy),
                format!("{:.1} ms", h.latency.as_secs_f64() * 1000.0),
            ),
            None => ("-", "-".to_owned()),
        };
        let _ = writeln!(
            s,
            "{:<2}{:<10} {:<10} {:<7} {:>4}  {:<7} {:<5} {:<6} {:<7} {:>9}  {}",
            if b.selected { "*" } else { "" },
            b.id,
            if b.compiled_in {
                yes_no(b.configured)
            } else {
                "-"
            },
            if b.compiled_in {
                yes_no(b.enabled)
            } else {
                "-"
            },
            b.priority
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            net,
            fs,
            unpriv,
            healthy,
            latency,
            b.reason
        );
    }
    let _ = writeln!(s);
    match &r.selected {
        Some(id) => {
            let _ = writeln!(s, "selected: {id}: {}", r.selection);
        }
        None => {
            let _ = writeln!(s, "selected: none: {}", r.selection);
        }
    }
    for b in r.backends.iter().filter(|b| b.compiled_in) {
        if let Some(p) = &b.security {
            let _ = writeln!(
                s,
                "\n{} ({}): {}",
                b.id,
                b.version.as_deref().unwrap_or("?"),
                p.description
            );
            for c in &p.caveats {
                let _ = writeln!(s, "  caveat: {c}");
            }
        }
        if let Some(h) = &b.health {
            let _ = writeln!(s, "  health: {}", h.message);
        }
    }
    s
}

/// Kills a prestarted nsjail the command did not use.
#[cfg(feature = "nsjail")]
struct DiscardPrestarted;

#[cfg(feature = "nsjail")]
impl Drop for DiscardPrestarted {
    fn drop(&mut self) {
        atlas_sandbox_nsjail::prestart::discard();
    }
}

/// Starts nsjail for `command` before the configuration is checked, when a look at the
/// arguments, environment and config file says it will run there (see
/// `atlas_sandbox_nsjail::prestart`). The table is read as the backend's own config type, so a
/// table the backend would refuse starts nothing. A wrong guess costs a killed nsjail that
/// never built a jail.
#[cfg(feature = "nsjail")]
fn prestart_nsjail(
    opts: &LoadOptions,
    backend: Option<&str>,
    command: &str,
    root: Option<&std::path::Path>,
) -> Option<DiscardPrestarted> {
    let mut peek = atlas_sandbox::config::peek(opts, backend)?;
    if peek.backend != "nsjail"
        || peek
            .table
            .get("enabled")
            .is_some_and(|v| v.as_bool() != Some(true))
    {
        return None;
    }
    for key in atlas_sandbox::config::HOST_PLUGIN_KEYS {
        peek.table.remove(*key);
    }
    let config: atlas_sandbox_nsjail::NsjailConfig =
        toml::Value::Table(peek.table).try_into().ok()?;
    let root = root.unwrap_or(&peek.semantic_root);
    atlas_sandbox_nsjail::prestart::start_for(&config, command, Some(root))
        .then_some(DiscardPrestarted)
}

async fn exec_cmd(
    config_file: Option<PathBuf>,
    json: bool,
    command: String,
    backend: Option<String>,
    cwd: Option<String>,
    timeout: Option<HumanDuration>,
    root: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut opts = LoadOptions::from_process(config_file);
    opts.only_backend.clone_from(&backend);
    #[cfg(feature = "nsjail")]
    let _prestarted = prestart_nsjail(&opts, backend.as_deref(), &command, root.as_deref());
    let mut config = match atlas_sandbox::load(&opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    if let Some(id) = backend {
        config.sandbox.backend = Some((
            id,
            config::Origin::Argument {
                name: "--backend".into(),
            },
        ));
    }
    // One command: no health checks first (create and the command prove the same), and only
    // the pinned backend built under a pin.
    let host = match Host::for_one_command(&config) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("atlas-sandbox: the configuration is invalid:\n{e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
    };
    let root = root.unwrap_or_else(|| config.sandbox.semantic_root.clone());
    let mut request = host.request(command);
    request.cwd = cwd;
    if let Some(t) = timeout {
        request.timeout = t.get();
    }

    let work = async {
        let (id, out) = host.exec(&root, request).await?;
        Ok::<_, String>((Some(id), out))
    };
    let outcome = tokio::select! {
        r = work => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    // Close remote sandboxes even when interrupted: they may bill until the vendor's idle
    // timeout otherwise. Bounded so a hung vendor cannot keep us alive.
    let closing = tokio::time::timeout(Duration::from_secs(10), host.shutdown()).await;
    if closing.is_err() {
        eprintln!("atlas-sandbox: closing sandboxes did not finish within 10s");
    }
    let output = match outcome {
        None => {
            eprintln!("atlas-sandbox: interrupted");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        Some(Err(e)) => {
            eprintln!("atlas-sandbox: {e}");
            return Ok(ExitCode::from(EXIT_HOST_ERROR));
        }
        Some(Ok(o)) => o,
    };
    let (backend_id, output) = output;
    if json {
        let mut v = serde_json::to_value(&output).context("serializing the output")?;
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("backend".into(), serde_json::json!(backend_id));
        }
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        std::io::stdout().lock().write_all(&output.stdout)?;
        std::io::stdout().lock().flush()?;
        std::io::stderr().lock().write_all(&output.stderr)?;
    }
    Ok(ExitCode::from(
        // Outside 0..=255 cannot be an exit status; report plain failure.
        u8::try_from(output.exit_code).unwrap_or(1),
    ))
}
