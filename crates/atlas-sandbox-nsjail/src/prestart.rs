//! An nsjail started before the host has read its configuration, for a one-shot command.
//!
//! Most of one nsjail run happens before it reads its config file: loading and linking its
//! libraries (protobuf, libstdc++, libnl), static initialisers, argument parsing. Measured here,
//! a run whose config arrives through a pipe takes about 40% of a whole run once the config is
//! written. The one-shot CLI (`atlas-sandbox exec`) spends a comparable time before it knows the
//! jail (parsing, validating the configuration, planning the jail), so when a cheap look at the
//! arguments, environment and config file says the command will run on nsjail with the
//! read-only layer, it starts nsjail first ([`start`]): `--config /dev/fd/3 --log_fd 4 --
//! <shell> -c <command>`, reading its config from a pipe the host holds. Nothing runs until
//! the config is written, and the config is the one the sandbox generates after every check
//! (only its `cwd` and `time_limit` lines set per command, as the argv of a normal run does).
//!
//! The sandbox's first command takes it ([`take`]) only when the binary, the shell and the
//! command are the ones it was started with and the sandbox has no namespace to join (the
//! overlay's holder must exist before nsjail starts). Anything else, or a one-shot command that
//! ends another way (invalid configuration, another backend, an error), drops it: it is
//! killed while still blocked on its config, before any jail exists ([`discard`]). Its log goes
//! to a memfd instead of a file in the sandbox's directory, which does not exist yet.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use atlas_sandbox_sdk::Shell;
use atlas_sandbox_sdk::process::{ProcessSpec, StartedProcess};

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

/// Starts `nsjail` for `command` under `shell`, waiting for its config (see the module docs).
/// Replaces (and kills) one started before.
pub fn start(nsjail: &Path, shell: Shell, command: &str) -> std::io::Result<()> {
    let (read, write) = std::io::pipe()?;
    let log = rustix::fs::memfd_create("atlas-nsjail-log", rustix::fs::MemfdFlags::CLOEXEC)?;
    let log = Arc::new(log);
    let spec = ProcessSpec::new(nsjail)
        .args(args(shell, command))
        .cwd("/")
        .pass_fd(Arc::new(read.into()))
        .pass_fd(log.clone());
    let process = atlas_sandbox_sdk::process::start(&spec)?;
    let previous = slot().replace(Prestarted {
        process,
        spec,
        config: Some(write),
        log,
        nsjail: nsjail.to_path_buf(),
        shell,
        command: command.to_owned(),
    });
    drop(previous);
    Ok(())
}

/// Starts nsjail for `command` when `config` (the backend's table as written, before the host
/// has checked it) is one whose sandboxes can take it: the read-only layer, so no namespace to
/// join. Returns whether one was started; a config this does not apply to starts nothing.
pub fn start_for(config: &crate::NsjailConfig, command: &str) -> bool {
    if config.layer != crate::LayerMode::ReadOnly {
        return false;
    }
    let Ok(nsjail) = crate::locate::find_nsjail_here(config.nsjail_path.as_deref()) else {
        return false;
    };
    start(&nsjail, config.shell, command).is_ok()
}

/// The prestarted nsjail, if it was started for exactly this binary, shell and command. One
/// that was not is killed.
pub(crate) fn take(nsjail: &Path, shell: Shell, command: &str) -> Option<Prestarted> {
    let p = slot().take()?;
    (p.nsjail == nsjail && p.shell == shell && p.command == command).then_some(p)
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
