//! `atlas-sandbox sidecar up|down|status`: the server in a locked-down Docker container.
//!
//! Egress: the container runs with `--network none`, so commands have no interface but their own
//! loopback. The server listens on a unix socket in a host directory bind-mounted into the
//! container (a published TCP port cannot work without a network, and an `--internal` network
//! still lets commands reach the host through the bridge address). The root filesystem is
//! read-only, `/tmp` is a size-limited tmpfs, the semantic layer is mounted read-only, all
//! capabilities are dropped, `no-new-privileges` is set, and pids, memory and CPU are limited.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::process::ProcessSpec;
use atlas_sandbox_sdk::{Error, Result, Secret};
pub use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::config::SidecarConfig;

/// Where the server's socket directory is mounted inside the container.
pub const SOCKET_DIR_IN_CONTAINER: &str = "/run/sidecar";
/// The socket's file name.
pub const SOCKET_NAME: &str = "sidecar.sock";
/// The unprivileged user the container runs as (nobody).
pub const CONTAINER_USER: &str = "65534:65534";
/// The label on every container this module starts.
pub const LABEL: &str = "io.atlas-sandbox.sidecar";

/// How `sidecar up` builds and runs the container; read from `--config FILE` (TOML, these keys
/// at the top level, or under a `[sidecar]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerConfig {
    /// The container's name.
    #[serde(default = "default_name")]
    pub name: String,
    /// The image to run. Built when absent locally and `server_binary` or `build_context` is set.
    #[serde(default = "default_image")]
    pub image: String,
    /// A directory with the user Dockerfile (multi-stage build of the server) to build `image`.
    #[serde(default)]
    pub build_context: Option<PathBuf>,
    /// A built `atlas-sidecar` binary: builds `image` FROM scratch with it, its shared libraries
    /// and busybox (no base image or registry needed).
    #[serde(default)]
    pub server_binary: Option<PathBuf>,
    /// The static busybox that provides a scratch image's other tools (in /bin).
    #[serde(default = "default_busybox")]
    pub busybox: PathBuf,
    /// Programs of this host copied into a scratch image's /usr/bin with their libraries, so
    /// commands get GNU behaviour (busybox fills in the rest). Missing ones are left out.
    #[serde(default = "default_host_tools")]
    pub host_tools: Vec<String>,
    /// The semantic layer on the host, mounted read-only at /semantic.
    #[serde(default = "default_semantic_dir")]
    pub semantic_dir: PathBuf,
    /// A host directory for the socket and the token (created; one per container name).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Memory limit in MiB (swap is not allowed on top).
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// CPU limit in cores (fractions allowed).
    #[serde(default = "default_cpus")]
    pub cpus: f64,
    /// Process limit of the whole container (fork bombs stop here).
    #[serde(default = "default_pids")]
    pub pids_limit: i64,
    /// Size of the tmpfs at /tmp (commands' HOME and TMPDIR), in MiB.
    #[serde(default = "default_tmp_mib")]
    pub tmp_mib: u64,
    /// Commands the server runs at once.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// How long `up` waits for /health.
    #[serde(default = "default_wait", with = "secs")]
    pub wait: Duration,
    /// The shell the server runs commands with (SIDECAR_SHELL): "bash" (the default) or "sh".
    #[serde(default)]
    pub shell: atlas_sandbox_sdk::Shell,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&atlas_sandbox_sdk::HumanDuration(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<atlas_sandbox_sdk::HumanDuration>()
            .map(|h| h.get())
            .map_err(serde::de::Error::custom)
    }
}

fn default_name() -> String {
    "atlas-sidecar".into()
}
fn default_image() -> String {
    "atlas-sidecar:latest".into()
}
fn default_busybox() -> PathBuf {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}
fn default_host_tools() -> Vec<String> {
    [
        "sh", "bash", "ls", "cat", "head", "tail", "sort", "uniq", "wc", "cut", "tr", "grep",
        "find", "xargs", "sed", "echo", "printf", "sleep", "true", "false", "env", "id", "pwd",
        "touch", "rm", "mv", "cp", "mkdir", "chmod", "ln", "date", "tee", "basename", "dirname",
        "seq", "yes", "stat", "du", "readlink", "realpath", "tree", "perl",
    ]
    .map(String::from)
    .to_vec()
}
fn default_semantic_dir() -> PathBuf {
    PathBuf::from("config/semantic")
}
fn default_state_dir() -> PathBuf {
    PathBuf::from("/run/atlas-sidecar")
}
fn default_memory_mib() -> u64 {
    512
}
fn default_cpus() -> f64 {
    1.0
}
fn default_pids() -> i64 {
    256
}
fn default_tmp_mib() -> u64 {
    64
}
fn default_max_concurrent() -> usize {
    16
}
fn default_wait() -> Duration {
    Duration::from_secs(30)
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            name: default_name(),
            image: default_image(),
            build_context: None,
            server_binary: None,
            busybox: default_busybox(),
            host_tools: default_host_tools(),
            semantic_dir: default_semantic_dir(),
            state_dir: default_state_dir(),
            memory_mib: default_memory_mib(),
            cpus: default_cpus(),
            pids_limit: default_pids(),
            tmp_mib: default_tmp_mib(),
            max_concurrent: default_max_concurrent(),
            wait: default_wait(),
            shell: atlas_sandbox_sdk::Shell::Bash,
        }
    }
}

impl ContainerConfig {
    /// Reads a TOML file (keys at the top level or under `[sidecar]`).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read {}: {e}", path.display())))?;
        let value: toml::Table =
            toml::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))?;
        let table = match value.get("sidecar") {
            Some(toml::Value::Table(t)) => t.clone(),
            // An atlas.toml without a [sidecar] table: the defaults.
            _ if value.contains_key("plugins") || value.contains_key("sandbox") => {
                toml::Table::new()
            }
            _ => value,
        };
        table
            .try_into()
            .map_err(|e| Error::config(format!("{}: {e}", path.display())))
    }

    fn dir(&self) -> PathBuf {
        self.state_dir.join(&self.name)
    }

    /// The socket's path on the host.
    pub fn socket_path(&self) -> PathBuf {
        self.dir().join("sock").join(SOCKET_NAME)
    }

    fn token_path(&self) -> PathBuf {
        self.dir().join("token")
    }

    fn validate(&self) -> Result<()> {
        let bad = |k: &str, why: &str| Err(Error::config(format!("sidecar container: {k} {why}")));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return bad("name", "must be non-empty letters, digits, '-', '_' or '.'");
        }
        if !(self.cpus > 0.0 && self.cpus <= 1024.0) {
            return bad("cpus", "must be between 0 and 1024");
        }
        if !(32..=1024 * 1024).contains(&self.memory_mib) {
            return bad("memory_mib", "must be between 32 and 1048576 (1 TiB)");
        }
        if self.tmp_mib > 1024 * 1024 {
            return bad("tmp_mib", "must be at most 1048576 (1 TiB)");
        }
        if self.pids_limit < 8 {
            return bad("pids_limit", "must be at least 8");
        }
        if self.tmp_mib == 0 || self.max_concurrent == 0 {
            return bad("tmp_mib/max_concurrent", "must be greater than zero");
        }
        Ok(())
    }
}

/// What `up` started, to be put in atlas.toml.
#[derive(Debug, Clone)]
pub struct Running {
    /// The container id.
    pub container_id: String,
    /// The socket on the host.
    pub unix_socket: PathBuf,
    /// The bearer token.
    pub token: Secret,
    /// The shell the server was started with.
    pub shell: atlas_sandbox_sdk::Shell,
}

impl Running {
    /// The plugin config that reaches this container.
    pub fn plugin_config(&self) -> SidecarConfig {
        let mut c = SidecarConfig::new("http://localhost");
        c.unix_socket = Some(self.unix_socket.clone());
        c.auth_token = Some(self.token.clone());
        c.shell = self.shell;
        c
    }

    /// The `[plugins.sidecar]` table to paste into atlas.toml (it contains the token).
    pub fn atlas_toml(&self) -> String {
        let mut text = format!(
            "[plugins.sidecar]\nurl = \"http://localhost\"\nunix_socket = {:?}\nauth_token = {:?}\n",
            self.unix_socket.display().to_string(),
            self.token.expose()
        );
        if self.shell != atlas_sandbox_sdk::Shell::Bash {
            text.push_str(&format!("shell = \"{}\"\n", self.shell.name()));
        }
        text
    }
}

/// The container's state as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Whether a container of that name exists.
    pub exists: bool,
    /// Docker's state (`running`, `exited`, ...).
    pub state: String,
    /// The server's /health answer through the socket, or why it could not be read.
    pub health: std::result::Result<String, String>,
}

fn docker_err(what: &str, e: bollard::errors::Error) -> Error {
    Error::unavailable(format!("docker: {what}: {e}")).with_backend(crate::ID)
}

/// Connects to the local Docker daemon (DOCKER_HOST or the default socket) and negotiates the
/// API version, so an older daemon (Debian's docker.io) works too.
pub async fn connect() -> Result<Docker> {
    let docker =
        Docker::connect_with_local_defaults().map_err(|e| docker_err("cannot connect", e))?;
    let docker = docker
        .negotiate_version()
        .await
        .map_err(|e| docker_err("cannot reach the daemon", e))?;
    docker
        .ping()
        .await
        .map_err(|e| docker_err("the daemon does not answer", e))?;
    Ok(docker)
}

fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Builds (if needed) and starts the container, waits for /health, and returns how to reach it.
pub async fn up(docker: &Docker, config: &ContainerConfig) -> Result<Running> {
    config.validate()?;
    let semantic = std::fs::canonicalize(&config.semantic_dir).map_err(|e| {
        Error::config(format!(
            "sidecar container: semantic_dir {}: {e}",
            config.semantic_dir.display()
        ))
    })?;
    ensure_image(docker, config).await?;
    // A previous container of that name is replaced: its token and socket are stale.
    remove(docker, &config.name).await?;

    let dir = config.dir();
    let sock_dir = dir.join("sock");
    std::fs::create_dir_all(&sock_dir)
        .map_err(|e| Error::config(format!("cannot create {}: {e}", sock_dir.display())))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| Error::config(format!("chmod {}: {e}", dir.display())))?;
    // The server (uid 65534) creates its socket here; nothing else is in this directory.
    std::fs::set_permissions(&sock_dir, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| Error::config(format!("chmod {}: {e}", sock_dir.display())))?;
    let _ = std::fs::remove_file(config.socket_path());
    let token = new_token();
    write_private(&config.token_path(), token.as_bytes())?;

    let env = vec![
        format!("{}={token}", crate::protocol::TOKEN_ENV),
        format!("SIDECAR_MAX_CONCURRENT={}", config.max_concurrent),
        "SIDECAR_TMP_DIR=/tmp".to_owned(),
        format!("SIDECAR_SHELL={}", config.shell.name()),
    ];
    let host = HostConfig {
        binds: Some(vec![
            format!("{}:/semantic:ro", semantic.display()),
            format!("{}:{SOCKET_DIR_IN_CONTAINER}:rw", sock_dir.display()),
        ]),
        network_mode: Some("none".into()),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_owned(),
            format!("rw,nosuid,nodev,noexec,size={}m,mode=1777", config.tmp_mib),
        )])),
        pids_limit: Some(config.pids_limit),
        memory: Some((config.memory_mib * 1024 * 1024) as i64),
        memory_swap: Some((config.memory_mib * 1024 * 1024) as i64),
        nano_cpus: Some((config.cpus * 1e9) as i64),
        security_opt: Some(vec!["no-new-privileges".into()]),
        cap_drop: Some(vec!["ALL".into()]),
        ipc_mode: Some("private".into()),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(config.image.clone()),
        cmd: Some(vec![
            "--listen".into(),
            format!("unix:{SOCKET_DIR_IN_CONTAINER}/{SOCKET_NAME}"),
            "--semantic-root".into(),
            "/semantic".into(),
        ]),
        env: Some(env),
        user: Some(CONTAINER_USER.into()),
        labels: Some(HashMap::from([(LABEL.to_owned(), config.name.clone())])),
        network_disabled: Some(true),
        host_config: Some(host),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(
                CreateContainerOptionsBuilder::default()
                    .name(&config.name)
                    .build(),
            ),
            body,
        )
        .await
        .map_err(|e| docker_err("create container", e))?;
    docker
        .start_container(&created.id, None)
        .await
        .map_err(|e| docker_err("start container", e))?;

    let running = Running {
        container_id: created.id,
        unix_socket: config.socket_path(),
        token: Secret::new(token),
        shell: config.shell,
    };
    let start = Instant::now();
    let mut last = String::from("not checked yet");
    while start.elapsed() < config.wait {
        match health_via_socket(&running.unix_socket).await {
            Ok(_) => return Ok(running),
            Err(e) => last = e,
        }
        let state = docker
            .inspect_container(&config.name, None)
            .await
            .ok()
            .and_then(|i| i.state)
            .and_then(|s| s.running);
        if state == Some(false) {
            return Err(Error::unavailable(format!(
                "sidecar container {} exited during start-up: {}",
                config.name,
                logs(docker, &config.name).await
            ))
            .with_backend(crate::ID));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(Error::unavailable(format!(
        "sidecar container {} did not become healthy within {:?}: {last}",
        config.name, config.wait
    ))
    .with_backend(crate::ID))
}

async fn logs(docker: &Docker, name: &str) -> String {
    let opts = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("20")
        .build();
    let mut out = String::new();
    let mut stream = docker.logs(name, Some(opts));
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&chunk.to_string());
    }
    out
}

/// Stops and removes the container and its socket and token.
pub async fn down(docker: &Docker, config: &ContainerConfig) -> Result<bool> {
    let existed = remove(docker, &config.name).await?;
    let _ = std::fs::remove_dir_all(config.dir());
    Ok(existed)
}

async fn remove(docker: &Docker, name: &str) -> Result<bool> {
    match docker.inspect_container(name, None).await {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(false),
        Err(e) => return Err(docker_err("inspect container", e)),
    }
    // SIGTERM first: the server finishes in-flight commands (bounded by their deadlines).
    let _ = docker
        .stop_container(
            name,
            Some(StopContainerOptionsBuilder::default().t(10).build()),
        )
        .await;
    docker
        .remove_container(
            name,
            Some(RemoveContainerOptionsBuilder::default().force(true).build()),
        )
        .await
        .map_err(|e| docker_err("remove container", e))?;
    Ok(true)
}

/// Kills the server abruptly (SIGKILL to the container's PID 1), as a crash would: the kernel
/// takes every command with it. The container is left for [`down`] to remove.
pub async fn kill(docker: &Docker, config: &ContainerConfig) -> Result<()> {
    docker
        .kill_container(
            &config.name,
            Some(
                bollard::query_parameters::KillContainerOptionsBuilder::default()
                    .signal("KILL")
                    .build(),
            ),
        )
        .await
        .map_err(|e| docker_err("kill container", e))
}

/// The container's state and the server's health.
pub async fn status(docker: &Docker, config: &ContainerConfig) -> Result<Status> {
    let state = match docker.inspect_container(&config.name, None).await {
        Ok(i) => i
            .state
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            return Ok(Status {
                exists: false,
                state: "absent".into(),
                health: Err("no such container".into()),
            });
        }
        Err(e) => return Err(docker_err("inspect container", e)),
    };
    Ok(Status {
        exists: true,
        state,
        health: health_via_socket(&config.socket_path()).await,
    })
}

/// The token `up` generated for this container (for `status` and tests).
pub fn read_token(config: &ContainerConfig) -> Result<Secret> {
    std::fs::read_to_string(config.token_path())
        .map(|t| Secret::new(t.trim()))
        .map_err(|e| {
            Error::config(format!(
                "cannot read {}: {e}",
                config.token_path().display()
            ))
        })
}

async fn health_via_socket(sock: &Path) -> std::result::Result<String, String> {
    let client = reqwest::Client::builder()
        .unix_socket(sock)
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get("http://localhost/health")
        .send()
        .await
        .map_err(|e| format!("{}: {e}", sock.display()))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(text)
    } else {
        Err(format!("HTTP {status}: {text}"))
    }
}

fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(data).map(|()| f))
        .map_err(|e| Error::config(format!("cannot write {}: {e}", path.display())))?;
    f.flush()
        .map_err(|e| Error::config(format!("cannot write {}: {e}", path.display())))
}

async fn ensure_image(docker: &Docker, config: &ContainerConfig) -> Result<()> {
    if docker.inspect_image(&config.image).await.is_ok() {
        return Ok(());
    }
    build_image(docker, config).await
}

/// Builds `config.image` from `server_binary` (a scratch image) or `build_context` (the
/// Dockerfile), replacing an image of that tag.
pub async fn build_image(docker: &Docker, config: &ContainerConfig) -> Result<()> {
    let context = match (&config.server_binary, &config.build_context) {
        (Some(bin), _) => scratch_context(bin, &config.busybox, &config.host_tools).await?,
        (None, Some(dir)) => dir_context(dir)?,
        (None, None) => {
            return Err(Error::config(format!(
                "image {} is not present; set build_context (the Dockerfile's directory) or server_binary (a built atlas-sidecar) to build it, or `docker load` it",
                config.image
            )));
        }
    };
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(&config.image)
        .rm(true)
        .forcerm(true)
        .build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(context.into())));
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| docker_err("build image", e))?;
        if let Some(detail) = info.error_detail {
            return Err(Error::unavailable(format!(
                "docker build of {} failed: {}\n{log}",
                config.image,
                detail.message.unwrap_or_default()
            ))
            .with_backend(crate::ID));
        }
        if let Some(s) = info.stream {
            log.push_str(&s);
        }
    }
    docker
        .inspect_image(&config.image)
        .await
        .map_err(|e| docker_err("image missing after build", e))?;
    Ok(())
}

/// The Dockerfile of the scratch image: no base image, so no registry is needed.
const SCRATCH_DOCKERFILE: &str = "\
FROM scratch
COPY rootfs/ /
USER 65534:65534
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /semantic
ENTRYPOINT [\"/usr/local/bin/atlas-sidecar\"]
";

/// A build context: the server binary and the shared libraries `ldd` names, busybox with its
/// applets as symlinks in /bin, /etc/passwd with nobody, and the mount points.
async fn scratch_context(server: &Path, busybox: &Path, host_tools: &[String]) -> Result<Vec<u8>> {
    let io = |what: &str, e: std::io::Error| Error::config(format!("scratch image: {what}: {e}"));
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(true);
    // Docker's tar reader does not accept GNU sparse entries (a linked binary may be sparse).
    tar.sparse(false);
    let add_bytes = |tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        tar.append_data(&mut h, path, data)
    };
    add_bytes(&mut tar, "Dockerfile", 0o644, SCRATCH_DOCKERFILE.as_bytes())
        .map_err(|e| io("Dockerfile", e))?;
    add_bytes(
        &mut tar,
        "rootfs/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n",
    )
    .map_err(|e| io("passwd", e))?;
    add_bytes(
        &mut tar,
        "rootfs/etc/group",
        0o644,
        b"root:x:0:\nnogroup:x:65534:\n",
    )
    .map_err(|e| io("group", e))?;
    for dir in ["rootfs/tmp", "rootfs/semantic", "rootfs/run/sidecar"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if dir.ends_with("tmp") { 0o1777 } else { 0o755 });
        h.set_size(0);
        h.set_cksum();
        tar.append_data(&mut h, format!("{dir}/"), std::io::empty())
            .map_err(|e| io(dir, e))?;
    }
    tar.append_path_with_name(server, "rootfs/usr/local/bin/atlas-sidecar")
        .map_err(|e| io(&server.display().to_string(), e))?;
    let mut libs = shared_libraries(server).await?;
    let search = std::ffi::OsString::from("/usr/local/bin:/usr/bin:/bin");
    for tool in host_tools {
        let Some(path) = find_program(tool, &search) else {
            continue;
        };
        tar.append_path_with_name(&path, format!("rootfs/usr/bin/{tool}"))
            .map_err(|e| io(&path.display().to_string(), e))?;
        libs.extend(shared_libraries(&path).await?);
    }
    libs.sort();
    libs.dedup();
    for lib in libs {
        let name = format!("rootfs{}", lib.display());
        tar.append_path_with_name(&lib, &name)
            .map_err(|e| io(&lib.display().to_string(), e))?;
    }
    // busybox only adds tools the host list lacks (wget, nc, ...): optional.
    if busybox.is_file() {
        add_busybox(&mut tar, busybox).await?;
    }
    tar.into_inner().map_err(|e| io("tar", e))
}

/// Runs a helper program of the host (ldd, busybox) and returns its stdout.
async fn host_output(spec: ProcessSpec) -> std::io::Result<Vec<u8>> {
    let spec = spec
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C")
        .timeout(Duration::from_secs(30));
    let spec = if spec.program.is_absolute() {
        spec
    } else {
        let name = spec.program.to_string_lossy().into_owned();
        let found = find_program(&name, std::ffi::OsStr::new("/usr/local/bin:/usr/bin:/bin"))
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{name} is not installed"),
                )
            })?;
        ProcessSpec {
            program: found,
            ..spec
        }
    };
    let r = atlas_sandbox_sdk::process::run(&spec).await?;
    Ok(r.output.stdout)
}

fn find_program(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

async fn add_busybox(tar: &mut tar::Builder<Vec<u8>>, busybox: &Path) -> Result<()> {
    let io = |what: &str, e: std::io::Error| Error::config(format!("scratch image: {what}: {e}"));
    tar.append_path_with_name(busybox, "rootfs/bin/busybox")
        .map_err(|e| io(&busybox.display().to_string(), e))?;
    let list = host_output(ProcessSpec::new(busybox).arg("--list"))
        .await
        .map_err(|e| io("busybox --list", e))?;
    for applet in String::from_utf8_lossy(&list).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        tar.append_link(&mut h, format!("rootfs/bin/{applet}"), "busybox")
            .map_err(|e| io(applet, e))?;
    }
    Ok(())
}

/// The absolute paths of the shared libraries a binary loads (including the loader).
async fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = host_output(ProcessSpec::new("ldd").arg(binary))
        .await
        .map_err(|e| Error::config(format!("scratch image: ldd {}: {e}", binary.display())))?;
    let text = String::from_utf8_lossy(&out);
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    Ok(text
        .lines()
        .filter_map(|line| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
            let candidate = match line.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next(),
                None => line.split_whitespace().next(),
            }?;
            candidate.starts_with('/').then(|| PathBuf::from(candidate))
        })
        .collect())
}

fn dir_context(dir: &Path) -> Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.sparse(false);
    tar.append_dir_all(".", dir)
        .map_err(|e| Error::config(format!("build_context {}: {e}", dir.display())))?;
    tar.into_inner()
        .map_err(|e| Error::config(format!("build_context {}: {e}", dir.display())))
}

/// `atlas-sandbox sidecar up|down|status [--config FILE]`: runs one action. Returns the process
/// exit code and the report for stdout (the caller prints it, and owns what a closed stdout means).
pub async fn cli(action: &str, config_file: Option<&Path>) -> Result<(i32, String)> {
    use std::fmt::Write as _;
    let mut text = String::new();
    let config = match config_file {
        Some(p) => ContainerConfig::load(p)?,
        None => ContainerConfig::default(),
    };
    let docker = connect().await?;
    match action {
        "up" => {
            let running = up(&docker, &config).await?;
            let _ = writeln!(
                text,
                "sidecar container {} is up (id {})",
                config.name,
                &running.container_id[..12.min(running.container_id.len())]
            );
            let _ = writeln!(text, "socket: {}", running.unix_socket.display());
            let _ = writeln!(text, "\nPut this in atlas.toml (it contains the token):\n");
            let _ = write!(text, "{}", running.atlas_toml());
            Ok((0, text))
        }
        "down" => {
            if down(&docker, &config).await? {
                let _ = writeln!(text, "sidecar container {} removed", config.name);
            } else {
                let _ = writeln!(text, "no sidecar container named {}", config.name);
            }
            Ok((0, text))
        }
        "status" => {
            let s = status(&docker, &config).await?;
            let _ = writeln!(text, "container {}: {}", config.name, s.state);
            match &s.health {
                Ok(h) => {
                    let _ = writeln!(text, "health: ok {h}");
                }
                Err(e) => {
                    let _ = writeln!(text, "health: FAILING: {e}");
                }
            }
            if s.exists {
                let _ = writeln!(text, "socket: {}", config.socket_path().display());
            }
            let code = if s.exists && s.health.is_ok() { 0 } else { 1 };
            Ok((code, text))
        }
        other => Err(Error::invalid_request(format!(
            "unknown sidecar action {other:?}; expected up, down or status"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[sidecar]\nname = \"x1\"\nmemory_mib = 256\nwait = \"5s\"\n",
        )
        .unwrap();
        let c = ContainerConfig::load(&p).unwrap();
        assert_eq!(c.name, "x1");
        assert_eq!(c.memory_mib, 256);
        assert_eq!(c.wait, Duration::from_secs(5));
        std::fs::write(&p, "name = \"x2\"\nbogus = 1\n").unwrap();
        let e = ContainerConfig::load(&p).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let c = ContainerConfig {
            name: "a b".into(),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("name"));
    }

    #[tokio::test]
    async fn ldd_output_parsing_finds_libc() {
        let libs = shared_libraries(Path::new("/bin/sh")).await.unwrap();
        assert!(
            libs.iter().any(|l| l.to_string_lossy().contains("libc.so")),
            "{libs:?}"
        );
    }
}
