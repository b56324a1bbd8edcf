//! The just-bash backend: a bash interpreter (brush-parser + our own tree-walker) with built-in
//! commands over a virtual filesystem, all in-process. It spawns no process, needs no root and
//! works on any OS; it is the embedded default and the development fallback (priority 0).
//!
//! The semantic layer is mounted read-through at `/semantic` (configurable) inside a small
//! in-memory root that holds `/tmp` and `/dev/null`. Reads of the layer go to disk through a
//! directory fd, confined beneath the root by the kernel (`openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` or a component-wise `O_NOFOLLOW` walk); writes and deletes stay in a
//! per-sandbox memory layer, so the files on disk are never modified.
//!
//! Use [`Engine`] for the synchronous API, or register [`descriptor`] with the host.

#![forbid(unsafe_code)]

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{
    CappedBuffer, ExecOutput, ExecRequest, HealthStatus, HumanDuration, PluginContext,
    PluginDescriptor, PluginFactory, Result, Sandbox, SandboxPlugin, SecurityProfile,
    SemanticLayer, TIMEOUT_EXIT_CODE, async_trait,
};

pub mod commands;
mod config;
mod disk;
mod error;
pub mod shell;
// Commands name the interpreter by its old module path.
pub(crate) use shell as interp;
pub mod limits;
pub mod memory;
pub mod vfs;

pub use config::JustBashConfig;
pub use limits::Limits;

use error::JustBashError;

/// The plugin id.
pub const ID: &str = "just-bash";

/// The factory the host registers.
#[derive(Debug, Clone, Copy, Default)]
pub struct JustBashFactory;

/// The descriptor the host's registry lists.
pub fn descriptor() -> PluginDescriptor {
    PluginDescriptor::of::<JustBashFactory>(env!("CARGO_PKG_VERSION"))
}

fn security_profile() -> SecurityProfile {
    SecurityProfile {
        network_isolation: true,
        filesystem_isolation: true,
        unprivileged_execution: false,
        description: "in-process bash interpreter with built-in commands over a kernel-confined \
                      read-through overlay of the semantic layer; no process is ever spawned"
            .to_owned(),
        caveats: vec![
            "runs inside the host process: same address space as the host's secrets; isolation \
             rests on the interpreter having no command that reaches them"
                .to_owned(),
            "network isolation holds only because no network command exists (no curl, no \
             /dev/tcp); it is not enforced by the OS"
                .to_owned(),
            "no process or resource isolation beyond the interpreter's own limits (commands, \
             loop iterations, output, memory layer, deadline)"
                .to_owned(),
            "runs with the host's privileges; confinement comes from construction, not from \
             dropping privileges"
                .to_owned(),
        ],
    }
}

impl PluginFactory for JustBashFactory {
    type Config = JustBashConfig;

    const ID: &'static str = ID;
    const DEFAULT_PRIORITY: i32 = 0;
    const CARGO_FEATURE: &'static str = "just-bash";

    fn default_security() -> SecurityProfile {
        security_profile()
    }

    fn build(config: JustBashConfig, ctx: &PluginContext) -> Result<Box<dyn SandboxPlugin>> {
        config.validate().map_err(JustBashError::Config)?;
        Ok(Box::new(JustBashPlugin {
            config: Arc::new(config),
            defaults: ctx.defaults,
        }))
    }
}

/// The configured plugin.
#[derive(Debug)]
pub struct JustBashPlugin {
    config: Arc<JustBashConfig>,
    defaults: atlas_sandbox_sdk::ExecDefaults,
}

#[async_trait]
impl SandboxPlugin for JustBashPlugin {
    fn id(&self) -> &'static str {
        ID
    }

    fn priority(&self) -> i32 {
        0
    }

    fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn security(&self) -> SecurityProfile {
        security_profile()
    }

    async fn health_check(&self) -> HealthStatus {
        let config = self.config.clone();
        HealthStatus::measure(Duration::from_secs(5), async move {
            // The self-test is synchronous interpreter work: keep it off the async workers.
            let out = tokio::task::spawn_blocking(move || {
                Engine::new(None, &config)?.exec_script(
                    "echo ok | wc -l",
                    "",
                    Duration::from_secs(2),
                    1024,
                )
            })
            .await
            .map_err(|e| JustBashError::Join(e.to_string()))??;
            if out.exit_code == 0 && out.stdout == b"1\n" {
                Ok("in-process interpreter answered".to_owned())
            } else {
                Err(atlas_sandbox_sdk::Error::backend_failure(format!(
                    "self-test gave exit {} and {:?}",
                    out.exit_code,
                    out.stdout_str()
                ))
                .with_backend(ID))
            }
        })
        .await
    }

    async fn create(&self, layer: &SemanticLayer) -> Result<Box<dyn Sandbox>> {
        let engine = Engine::new(Some(layer.root()), &self.config)?;
        tracing::debug!(root = %layer.root().display(), mount = %self.config.mount_point, "just-bash sandbox created");
        Ok(Box::new(JustBashSandbox {
            engine: Arc::new(engine),
            closed: AtomicBool::new(false),
            _defaults: self.defaults,
        }))
    }
}

/// One sandbox: its own memory layer over the semantic layer.
#[derive(Debug)]
pub struct JustBashSandbox {
    engine: Arc<Engine>,
    closed: AtomicBool,
    _defaults: atlas_sandbox_sdk::ExecDefaults,
}

#[async_trait]
impl Sandbox for JustBashSandbox {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        if self.closed.load(Ordering::Acquire) {
            return Err(JustBashError::Closed.into());
        }
        let cwd = request.relative_cwd()?;
        let engine = self.engine.clone();
        // On a current-thread runtime (the one-shot CLI) there are no async workers to keep
        // free, and handing the script to another thread and back costs two wake-ups, each a
        // wait for a CPU on a loaded machine: run it here. The interpreter bounds itself by the
        // request's timeout and step limit either way.
        if tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
        {
            return engine.exec_script(
                &request.command,
                &cwd,
                request.timeout,
                request.max_output_bytes,
            );
        }
        tokio::task::spawn_blocking(move || {
            engine.exec_script(
                &request.command,
                &cwd,
                request.timeout,
                request.max_output_bytes,
            )
        })
        .await
        .map_err(|e| JustBashError::Join(e.to_string()))?
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

/// The stack an exec's interpretation needs at its start: when the caller's thread has less
/// left, interpretation moves to a fresh 16 MiB segment. Every recursion of the interpreter is
/// depth-limited (nesting pre-scan, call, substitution and awk/jq depth limits) and deeper
/// work grows the stack in heap segments (`stacker::maybe_grow`), so this floor does not
/// depend on the caller's thread (tokio's blocking threads have 2 MiB). Threads with enough
/// stack run in place: a segment per exec costs an mmap and page faults on every command.
const INTERPRETER_STACK_FLOOR: usize = 1024 * 1024;
const INTERPRETER_STACK: usize = 16 * 1024 * 1024;

/// Learns the calling thread's stack bounds now, for the interpreter's stack checks, and says
/// whether they are known. They are read once per thread (glibc reads `/proc/self/maps` for a
/// main thread) and kept: a process that will hide `/proc` from itself (Landlock) calls this
/// first, on the thread, or in the process before a `fork`, that will run the interpreter.
/// Unknown bounds are safe but slow: every exec then moves to a freshly mapped 16 MiB stack.
pub fn learn_stack_bounds() -> bool {
    stacker::remaining_stack().is_some()
}

fn run_on_interpreter_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(INTERPRETER_STACK_FLOOR, INTERPRETER_STACK, f)
}

/// The synchronous interpreter over one sandbox's filesystem. Each exec starts with fresh shell
/// state (variables, functions, cwd); the filesystem's memory layer persists across execs.
#[derive(Debug)]
pub struct Engine {
    fs: Mutex<vfs::Vfs>,
    limits: Limits,
    mount: String,
    /// False only through [`Engine::unmetered_for_bench`].
    metered: bool,
}

impl Engine {
    /// An engine over `root` (or an empty semantic layer when `None`).
    pub fn new(root: Option<&Path>, config: &JustBashConfig) -> Result<Self> {
        config.validate().map_err(JustBashError::Config)?;
        let fs = vfs::Vfs::new(
            root,
            &config.mount_point,
            config.read_only,
            config.limits.max_file_bytes,
            config.limits.max_memory_bytes,
        )
        .map_err(JustBashError::OpenRoot)?;
        let mount = fs.mount().to_owned();
        Ok(Engine {
            fs: Mutex::new(fs),
            limits: config.limits.clone(),
            mount,
            metered: true,
        })
    }

    /// The same engine with the memory accounting switched off (every other limit stays): the
    /// compare bench's baseline for pricing the accounting, never for serving commands.
    #[doc(hidden)]
    #[must_use]
    pub fn unmetered_for_bench(mut self) -> Self {
        self.metered = false;
        self
    }

    /// Runs `script` with the cwd relative to the semantic layer (`""` = its root).
    pub fn exec_script(
        &self,
        script: &str,
        cwd_rel: &str,
        timeout: Duration,
        max_output_bytes: usize,
    ) -> Result<ExecOutput> {
        let start = Instant::now();
        let cwd = if cwd_rel.is_empty() {
            self.mount.clone()
        } else {
            vfs::resolve(&self.mount, cwd_rel)
        };
        // A poisoned lock only means an earlier exec panicked; the filesystem map is still whole.
        let mut fs = self.fs.lock().unwrap_or_else(|p| p.into_inner());
        if !fs.is_dir(&cwd) {
            return Err(JustBashError::BadCwd(cwd_rel.to_owned()).into());
        }
        let limit = self.limits.deadline.get().min(timeout);
        let label = HumanDuration(limit).to_string();
        let label_after = label.clone();
        let meter = if self.metered {
            memory::Meter::new(
                self.limits.max_exec_memory_bytes,
                self.limits.max_total_memory_bytes,
            )
        } else {
            memory::Meter::unmetered()
        };
        let (out, err, code) = match fs.attach_meter(meter.clone()) {
            Ok(()) => {
                let r = run_on_interpreter_stack(|| {
                    let mut shell = interp::Shell::new(
                        &mut fs,
                        &self.limits,
                        cwd,
                        start + limit,
                        label,
                        meter.clone(),
                    );
                    let mut io = interp::Io::metered(self.limits.max_output_bytes, &meter);
                    let mut stdin = interp::Input::default();
                    let code = shell.run_script(script, &mut stdin, &mut io);
                    let pending = shell.take_pending_err();
                    io.err(&pending);
                    let (out, err) = io.into_streams();
                    (out, err, code)
                });
                fs.detach_meter();
                r
            }
            Err(over) => (
                Vec::new(),
                format!("{}\n", over.message("bash")).into_bytes(),
                interp::LIMIT_EXIT,
            ),
        };
        let (mut err, mut code) = (err, code);
        // A last step that overran the deadline without reaching a check still timed out: the
        // result is 124 (as if killed at the deadline), never a late exit 0.
        if start.elapsed() >= limit && code != TIMEOUT_EXIT_CODE {
            err.extend_from_slice(
                format!("bash: execution exceeded execution deadline ({label_after})\n").as_bytes(),
            );
            code = TIMEOUT_EXIT_CODE;
        }
        let mut stdout = CappedBuffer::new(max_output_bytes);
        let mut stderr = CappedBuffer::new(max_output_bytes);
        stdout.push(&out);
        stderr.push(&err);
        let timed_out = code == TIMEOUT_EXIT_CODE && start.elapsed() >= limit;
        Ok(ExecOutput::from_streams(
            stdout,
            stderr,
            code,
            timed_out,
            start.elapsed(),
        ))
    }
}
