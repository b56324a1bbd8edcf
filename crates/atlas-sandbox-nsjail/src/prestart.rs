//! An nsjail started before the host has read its configuration, for a one-shot command.
//!
//! Most of one nsjail run happens before it reads its config file: loading and linking its
//! libraries (protobuf, libstdc++, libnl), static initialisers, argument parsing. Measured here,
//! a run whose config arrives through a pipe takes about 40% of a whole run once the config is
//! written. The one-shot CLI (`atlas-sandbox exec`) spends a comparable time before it knows the
//! jail (parsing, validating the configuration, planning the jail), so when a cheap look at the
//! arguments, environment and config file says the command will run on nsjail, it starts nsjail
//! first ([`start_for`]): `--config /dev/fd/3 --log_fd 4 -- <shell> -c <command>`, reading its
//! config from a pipe the host holds. Nothing runs until the config is written, and the config
//! is the one the sandbox generates after every check (only its `cwd` and `time_limit` lines set
//! per command, as the argv of a normal run does).
//!
//! With the overlay layer, nsjail must start inside the sandbox's namespace, which its holder
//! builds (`state.rs`). So the state is built first, in a directory of its own, from the inputs
//! `create` would use for the guessed layer; `create` adopts it ([`adopt_state`]) only when its
//! own inputs are the same (layer, sizes, owner, mode and times of the layer's top directory,
//! user mapping), and builds its own otherwise.
//!
//! The sandbox's first command takes the waiting nsjail ([`take`]) only when the binary, the
//! shell and the command are the ones it was started with and it was started in the sandbox's
//! own namespaces (none with the read-only layer; the adopted ones with the overlay). Anything
//! else, or a one-shot command that ends another way (invalid configuration, another backend, an
//! error), drops it: it is killed while still blocked on its config, before any jail exists
//! ([`discard`]), and a state nobody adopted goes with it. Its log goes to a memfd instead of a
//! file in the sandbox's directory.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use atlas_sandbox_sdk::Shell;
use atlas_sandbox_sdk::process::{ProcessSpec, StartedProcess};

use crate::state::{SessionState, StateSpec};

/// The descriptor nsjail reads its config from.
const CONFIG_FD: &str = "/dev/fd/3";
/// The descriptor nsjail logs to.
const LOG_FD: &str = "4";

/// An nsjail waiting for its config.
#[derive(Debug)]
pub(crate) struct Prestarted {
    pub(crate) process: StartedProcess,
    /// The spec it was started with (limits are set when it is finished).
    pub(crate) spec: ProcessSpec,
    /// The write end of its config pipe, until the config is sent.
    config: Option<std::io::PipeWriter>,
    /// Its log, read after it ends.
    pub(crate) log: Arc<OwnedFd>,
    nsjail: PathBuf,
    shell: Shell,
    command: String,
    /// The namespaces it was started in (none with the read-only layer).
    namespaces: Vec<Arc<OwnedFd>>,
    /// With the overlay: the state those namespaces hold, until a sandbox adopts it.
    state: Option<Held>,
}

/// A sandbox's state built ahead: its directory, its holder, and what it was built from.
#[derive(Debug)]
struct Held {
    dir: tempfile::TempDir,
    state: SessionState,
    inputs: StateSpec,
}

impl Prestarted {
    /// Hands nsjail its config; closing the pipe ends its read. A failed write (nsjail already
    /// gone) is not reported here: its exit status and log say why when it is finished.
    pub(crate) fn send_config(&mut self, text: &str) {
        if let Some(mut w) = self.config.take() {
            let _ = w.write_all(text.as_bytes());
        }
    }
}

static SLOT: Mutex<Option<Prestarted>> = Mutex::new(None);

fn slot() -> std::sync::MutexGuard<'static, Option<Prestarted>> {
    SLOT.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The argv of a prestarted nsjail: everything else comes with its config.
fn args(shell: Shell, command: &str) -> Vec<String> {
    vec![
        "--config".into(),
        CONFIG_FD.into(),
        "--log_fd".into(),
        LOG_FD.into(),
        "--".into(),
        shell.program().into(),
        "-c".into(),
        command.into(),
    ]
}

/// Starts `nsjail` for `command` under `shell`, waiting for its config (see the module docs),
/// inside `held`'s namespaces when there is one. Replaces (and kills) one started before.
fn start_in(nsjail: &Path, shell: Shell, command: &str, held: Option<Held>) -> std::io::Result<()> {
    let (read, write) = std::io::pipe()?;
    let log = rustix::fs::memfd_create("atlas-nsjail-log", rustix::fs::MemfdFlags::CLOEXEC)?;
    let log = Arc::new(log);
    let namespaces = held
        .as_ref()
        .map(|h| h.state.namespaces().to_vec())
        .unwrap_or_default();
    let mut spec = ProcessSpec::new(nsjail)
        .args(args(shell, command))
        .cwd("/")
        .pass_fd(Arc::new(read.into()))
        .pass_fd(log.clone());
    for ns in &namespaces {
        spec = spec.namespace(ns.clone());
    }
    let process = atlas_sandbox_sdk::process::start(&spec)?;
    let previous = slot().replace(Prestarted {
        process,
        spec,
        config: Some(write),
        log,
        nsjail: nsjail.to_path_buf(),
        shell,
        command: command.to_owned(),
        namespaces,
        state: held,
    });
    drop(previous);
    Ok(())
}

/// Starts `nsjail` for `command` under `shell` with the read-only layer (no namespace to join),
/// waiting for its config. Replaces (and kills) one started before.
pub fn start(nsjail: &Path, shell: Shell, command: &str) -> std::io::Result<()> {
    start_in(nsjail, shell, command, None)
}

/// Starts nsjail for `command` when `config` (the backend's table as written, before the host
/// has checked it) is one whose sandboxes can take it, for the layer at `root` (the host's
/// guess; a wrong one is never adopted). With the read-only layer there is nothing to join;
/// with the overlay, the sandbox's state (its directory, holder and namespace) is built first
/// and nsjail started inside it, and the sandbox `create` makes for the same layer and inputs
/// adopts both. Returns whether one was started; a config this does not apply to starts nothing.
pub fn start_for(config: &crate::NsjailConfig, command: &str, root: Option<&Path>) -> bool {
    let Ok(nsjail) = crate::locate::find_nsjail_here(config.nsjail_path.as_deref()) else {
        return false;
    };
    match config.layer {
        crate::LayerMode::ReadOnly => start(&nsjail, config.shell, command).is_ok(),
        crate::LayerMode::Overlay => {
            let Some(held) = root.and_then(|r| build_state(config, r)) else {
                return false;
            };
            start_in(&nsjail, config.shell, command, Some(held)).is_ok()
        }
    }
}

/// The state a sandbox over `root` would build under `config`, built now in a directory of
/// its own (see `NsjailSandbox::create`, which decides the same inputs the same way).
fn build_state(config: &crate::NsjailConfig, root: &Path) -> Option<Held> {
    let lower = std::fs::canonicalize(root).ok().filter(|p| p.is_dir())?;
    let (euid, egid) = (
        rustix::process::geteuid().as_raw(),
        rustix::process::getegid().as_raw(),
    );
    let (uid, gid) = if euid == 0 {
        (config.jail_uid, config.jail_gid)
    } else {
        (euid, egid)
    };
    let enter = crate::access::jail_can_enter(&lower, uid, gid, euid == 0);
    let inputs = StateSpec::new(
        config,
        &lower,
        (euid, egid),
        enter == crate::access::Access::Yes,
    );
    let dir = crate::sandbox::work_dir().ok()?;
    let state = SessionState::start(dir.path(), &inputs).ok()?;
    Some(Held { dir, state, inputs })
}

/// The state built ahead for a sandbox with exactly these `inputs`, run by `nsjail`: its
/// directory and holder, handed over to the sandbox (the waiting nsjail stays, to be taken by
/// its first command). `None` when there is none or it was built from other inputs.
pub(crate) fn adopt_state(
    nsjail: &Path,
    inputs: &StateSpec,
) -> Option<(tempfile::TempDir, SessionState)> {
    let mut slot = slot();
    let p = slot.as_mut()?;
    if p.nsjail != nsjail || p.state.as_ref().is_none_or(|h| &h.inputs != inputs) {
        return None;
    }
    let held = p.state.take()?;
    Some((held.dir, held.state))
}

/// The prestarted nsjail, if it was started for exactly this binary, shell and command, in
/// exactly these namespaces (the ones of the sandbox asking, which adopted its state). One that
/// was not is killed.
pub(crate) fn take(
    nsjail: &Path,
    shell: Shell,
    command: &str,
    namespaces: &[Arc<OwnedFd>],
) -> Option<Prestarted> {
    let p = slot().take()?;
    let same_ns = p.namespaces.len() == namespaces.len()
        && p.namespaces
            .iter()
            .zip(namespaces)
            .all(|(a, b)| Arc::ptr_eq(a, b));
    (p.nsjail == nsjail && p.shell == shell && p.command == command && same_ns).then_some(p)
}

/// Kills a prestarted nsjail nobody took. It never ran a command: it was waiting for its config.
pub fn discard() {
    let p = slot().take();
    drop(p);
}

/// Whether one is waiting (for tests).
pub fn waiting() -> bool {
    slot().is_some()
}

/// nsjail's log, at most its first MiB.
pub(crate) fn read_log(log: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while out.len() < 1 << 20 {
        match rustix::io::pread(log, &mut buf, out.len() as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out
}

/// `text` (a config the sandbox rendered) with its `cwd` and `time_limit` lines set for one
/// command, as a normal run's `--cwd` and `--time_limit` arguments set them. `None` if the text
/// lacks either line.
pub(crate) fn per_command(text: &str, cwd_line: &str, time_limit_line: &str) -> Option<String> {
    let mut found = (false, false);
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if !found.0 && line.starts_with("cwd: ") {
            found.0 = true;
            out.push_str(cwd_line);
        } else if !found.1 && line.starts_with("time_limit: ") {
            found.1 = true;
            out.push_str(time_limit_line);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    (found.0 && found.1).then_some(out)
}
