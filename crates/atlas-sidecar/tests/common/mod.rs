//! Starting the real `atlas-sidecar` binary for the integration tests.
// The tests start the server binary under test and keep its handle (to signal and wait for
// it), which the SDK's run-to-completion runner cannot do.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    clippy::disallowed_types
)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "test-token-0123456789abcdef";

/// A small semantic layer readable by the unprivileged user the server switches to.
pub fn layer() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sidecar-layer-")
        .tempdir()
        .unwrap();
    let root = dir.path().join("semantic");
    std::fs::create_dir_all(root.join("entities")).unwrap();
    std::fs::write(
        root.join("catalog.yml"),
        "name: shop\nentities: [orders, customers]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("entities/orders.yml"),
        "name: orders\ncolumns:\n  - name: customer_id\n  - name: total\n",
    )
    .unwrap();
    std::fs::write(
        root.join("entities/customers.yml"),
        "name: customers\ncolumns:\n  - name: customer_id\n",
    )
    .unwrap();
    for p in [dir.path(), &root, &root.join("entities")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

pub fn semantic(layer: &tempfile::TempDir) -> PathBuf {
    layer.path().join("semantic")
}

/// A directory for the server's per-command temp dirs, so a test can see leaks.
pub fn tmp_root() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sidecar-tmp-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stderr_path: PathBuf,
    _logs: tempfile::TempDir,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn command(args: &[&str], env: &[(&str, &str)]) -> (Command, tempfile::TempDir, PathBuf) {
    let logs = tempfile::tempdir().unwrap();
    let stderr_path = logs.path().join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_atlas-sidecar"));
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    (cmd, logs, stderr_path)
}

/// Starts the server on a free loopback port and waits for its "listening" line.
pub fn start(semantic: &Path, tmp: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    start_with(semantic, tmp, extra, env, |_| {})
}

/// As [`start`], with a last change to the command (e.g. the uid it starts as).
pub fn start_with(
    semantic: &Path,
    tmp: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
    edit: impl FnOnce(&mut Command),
) -> Server {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--semantic-root",
        semantic.to_str().unwrap(),
        "--tmp-dir",
        tmp.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (mut cmd, logs, stderr_path) = command(&args, env);
    edit(&mut cmd);
    launch(cmd, logs, stderr_path)
}

/// Spawns a server command (from [`command`], perhaps wrapped) and waits for its "listening"
/// line.
pub fn launch(mut cmd: Command, logs: tempfile::TempDir, stderr_path: PathBuf) -> Server {
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            if let Some(addr) = line.strip_prefix("atlas-sidecar listening on ") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!(
                "server did not start: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
    };
    Server {
        child,
        addr,
        stderr_path,
        _logs: logs,
    }
}

pub fn start_default(semantic: &Path, tmp: &Path) -> Server {
    start_authed(semantic, tmp, &[])
}

/// As [`start`], with the test token as the only credential.
pub fn start_authed(semantic: &Path, tmp: &Path, extra: &[&str]) -> Server {
    start(semantic, tmp, extra, &[("SIDECAR_AUTH_TOKEN", TOKEN)])
}

/// A server with the test token over a fresh layer and temp root. Bind the three in this order
/// (`let (l, t, s) = ...`): the server then goes before the directories it works in.
pub fn serve(extra: &[&str]) -> (tempfile::TempDir, tempfile::TempDir, Server) {
    serve_with(extra, &[])
}

/// As [`serve`], with more environment for the server after the token.
pub fn serve_with(
    extra: &[&str],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, tempfile::TempDir, Server) {
    let (l, t) = (layer(), tmp_root());
    let env: Vec<_> = [("SIDECAR_AUTH_TOKEN", TOKEN)]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    let s = start(&semantic(&l), t.path(), extra, &env);
    (l, t, s)
}

/// The server's command line with only the address and the layer, for the start-up refusals
/// (no temp root, and whatever auth `env` gives).
pub fn bare_command(
    listen: &str,
    semantic: &Path,
    env: &[(&str, &str)],
) -> (Command, tempfile::TempDir, PathBuf) {
    command(
        &[
            "--listen",
            listen,
            "--semantic-root",
            semantic.to_str().unwrap(),
        ],
        env,
    )
}

/// A client that ignores proxy settings of the machine, which would intercept loopback.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn get(server: &Server, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .unwrap()
}

pub async fn get_json<T: serde::de::DeserializeOwned>(server: &Server, path: &str) -> T {
    get(server, path).await.json().await.unwrap()
}

/// `POST /exec` with `body`, not yet sent: a test may send it from a task of its own.
pub fn exec_request(
    server: &Server,
    token: Option<&str>,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    let rb = http().post(format!("{}/exec", server.url())).json(body);
    match token {
        Some(t) => rb.bearer_auth(t),
        None => rb,
    }
}

/// Polls `/health` until `ready` holds: a fixed sleep is not enough on a loaded CI machine,
/// where the request may reach the server only after it.
pub async fn wait_for_health(
    server: &Server,
    never: &str,
    ready: impl Fn(&atlas_sandbox_sidecar::protocol::HealthBody) -> bool,
) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let h = get_json(server, "/health").await;
        if ready(&h) {
            return;
        }
        assert!(Instant::now() < until, "{never}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_running(server: &Server, n: usize) {
    let never = format!("the server never ran {n} command(s)");
    wait_for_health(server, &never, |h| h.running >= n).await;
}

pub fn client_config(url: &str, token: Option<&str>) -> atlas_sandbox_sidecar::SidecarConfig {
    let mut c = atlas_sandbox_sidecar::SidecarConfig::new(url);
    c.auth_token = token.map(atlas_sandbox_sdk::Secret::new);
    c
}

pub fn plugin(url: &str, token: Option<&str>) -> atlas_sandbox_sidecar::SidecarPlugin {
    atlas_sandbox_sidecar::SidecarPlugin::new(client_config(url, token)).unwrap()
}

/// A sandbox with the test token that retries a busy server `max_retries` times.
pub fn retrying_sandbox(
    server: &Server,
    max_retries: u32,
) -> atlas_sandbox_sidecar::SidecarSandbox {
    let mut c = client_config(&server.url(), Some(TOKEN));
    c.max_retries = max_retries;
    atlas_sandbox_sidecar::SidecarPlugin::new(c)
        .unwrap()
        .sandbox()
}

/// The suites' factory for the server as a local process: a server of its own per layer.
// Async only because the suites take a factory that returns a future.
#[allow(clippy::unused_async)]
pub async fn process_sandbox(
    layer: atlas_sandbox_sdk::SemanticLayer,
) -> atlas_sandbox_sdk::Result<Box<dyn atlas_sandbox_sdk::Sandbox>> {
    // The server drops root to nobody, which must traverse the suite's private copy.
    if let Some(parent) = layer.root().parent() {
        std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o711)).unwrap();
    }
    let tmp = tmp_root();
    let server = start_default(layer.root(), tmp.path());
    let config = client_config(&server.url(), Some(TOKEN));
    let inner = atlas_sandbox_sidecar::SidecarPlugin::new(config)?.sandbox();
    Ok(Box::new(Owned {
        inner,
        server: std::sync::Mutex::new((server, tmp)),
    }))
}

/// What a command may have left in a temp root: anything but the server's scratch pool, and in
/// the pool anything but the empty, private directories kept for reuse.
pub fn leftovers(tmp: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for e in std::fs::read_dir(tmp).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("atlas-sidecar-scratch-") || !e.path().is_dir() {
            out.push(name);
            continue;
        }
        for d in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
            let p = d.path();
            let pristine = std::fs::symlink_metadata(&p)
                .is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o7777 == 0o700)
                && std::fs::read_dir(&p).is_ok_and(|mut r| r.next().is_none());
            if !pristine {
                out.push(format!("{name}/{}", d.file_name().to_string_lossy()));
            }
        }
    }
    out
}

/// Live (non-zombie) descendants of a process.
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for e in entries.flatten() {
            let Ok(child) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.len() > 1 && fields[1] == p.to_string() && fields[0] != "Z" {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .map(|(_, r)| r.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub fn rss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Docker, or a loud SKIPPED line and `None`.
pub async fn docker_or_skip(test: &str) -> Option<atlas_sandbox_sidecar::container::Docker> {
    match atlas_sandbox_sidecar::container::connect().await {
        Ok(d) => Some(d),
        Err(e) => {
            atlas_sandbox_testkit::skip(test, &format!("Docker is not available here: {e}"));
            None
        }
    }
}

/// Builds the test image (FROM scratch: this build's server binary, its libraries, busybox).
pub async fn build_test_image(docker: &atlas_sandbox_sidecar::container::Docker, image: &str) {
    use atlas_sandbox_sidecar::container::ContainerConfig;
    let cfg = ContainerConfig {
        image: image.to_owned(),
        server_binary: Some(env!("CARGO_BIN_EXE_atlas-sidecar").into()),
        ..Default::default()
    };
    atlas_sandbox_sidecar::container::build_image(docker, &cfg)
        .await
        .unwrap();
}

/// A container config for tests: a private state dir, a unique name.
pub fn container_config(
    image: &str,
    name: &str,
    semantic: &Path,
    state: &Path,
) -> atlas_sandbox_sidecar::container::ContainerConfig {
    atlas_sandbox_sidecar::container::ContainerConfig {
        name: name.to_owned(),
        image: image.to_owned(),
        semantic_dir: semantic.to_owned(),
        state_dir: state.to_owned(),
        memory_mib: 256,
        pids_limit: 128,
        wait: Duration::from_secs(30),
        ..Default::default()
    }
}

/// A sandbox that owns the server it talks to: one server (process or container) per semantic
/// layer, as the sidecar is deployed (the layer is the server's, not the client's).
pub struct Owned<G: Send + Sync + 'static> {
    pub inner: atlas_sandbox_sidecar::SidecarSandbox,
    pub server: G,
}

impl<G: Send + Sync> std::fmt::Debug for Owned<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[atlas_sandbox_sdk::async_trait]
impl<G: Send + Sync> atlas_sandbox_sdk::Sandbox for Owned<G> {
    async fn exec(
        &self,
        request: atlas_sandbox_sdk::ExecRequest,
    ) -> atlas_sandbox_sdk::Result<atlas_sandbox_sdk::ExecOutput> {
        self.inner.exec(request).await
    }

    async fn close(&self) -> atlas_sandbox_sdk::Result<()> {
        self.inner.close().await
    }
}

/// Removes a container when dropped (also when an assertion failed).
pub struct ContainerGuard(
    pub atlas_sandbox_sidecar::container::Docker,
    pub atlas_sandbox_sidecar::container::ContainerConfig,
);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = down_blocking(&self.0, &self.1);
    }
}

/// `container::down` from a `Drop`, which cannot await and may run inside the test's runtime:
/// on a thread with a runtime of its own. Whether it removed the container, or why not.
pub fn down_blocking(
    docker: &atlas_sandbox_sidecar::container::Docker,
    cfg: &atlas_sandbox_sidecar::container::ContainerConfig,
) -> Result<bool, String> {
    let (docker, cfg) = (docker.clone(), cfg.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(atlas_sandbox_sidecar::container::down(&docker, &cfg))
            .map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the thread running `down` panicked".to_owned())?
}

static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub type SandboxFuture = futures::future::BoxFuture<
    'static,
    atlas_sandbox_sdk::Result<Box<dyn atlas_sandbox_sdk::Sandbox>>,
>;

/// A factory that starts a container (through `container::up`) per semantic layer.
pub fn container_factory(
    docker: atlas_sandbox_sidecar::container::Docker,
    image: &'static str,
    state: PathBuf,
) -> impl Fn(atlas_sandbox_sdk::SemanticLayer) -> SandboxFuture {
    move |layer| {
        let docker = docker.clone();
        let state = state.clone();
        Box::pin(async move {
            let name = format!(
                "atlas-sidecar-suite-{}-{}",
                std::process::id(),
                SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let cfg = container_config(image, &name, layer.root(), &state);
            let running = atlas_sandbox_sidecar::container::up(&docker, &cfg).await?;
            let guard = ContainerGuard(docker.clone(), cfg);
            let inner =
                atlas_sandbox_sidecar::SidecarPlugin::new(running.plugin_config())?.sandbox();
            Ok(Box::new(Owned {
                inner,
                server: guard,
            }) as Box<dyn atlas_sandbox_sdk::Sandbox>)
        })
    }
}
