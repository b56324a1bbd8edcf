//! Test support shared by the vendor emulators (E2B, Daytona, Vercel Sandbox).
//!
//! An emulator is an axum router that speaks one vendor's wire protocol. This crate wraps it with
//! what every emulator needs for tests: fault injection (latency, error statuses with
//! `Retry-After`, streams cut mid-way, slow requests), request recording (to count round trips
//! and inspect bodies), and [`SandboxDir`], a real temporary directory per emulated sandbox where
//! commands really run with `sh -c` under a deadline, each sandbox with its own `/tmp` where the
//! machine allows it ([`private_tmp_prefix`]). It is test support: the host never depends on it.

use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use atlas_sandbox_sdk::process::{OutputChunk, StreamKind};
use atlas_sandbox_sdk::process::{ProcessResult, ProcessSpec, run};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use bytes::Bytes;
use http_body_util::BodyExt;

/// One request the emulator received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Header names (lowercase) and values; values that are not text are dropped.
    pub headers: Vec<(String, String)>,
    /// The whole request body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Debug, Clone)]
struct StatusFault {
    path_contains: String,
    remaining: u32,
    status: u16,
    retry_after: Option<u64>,
    body: serde_json::Value,
}

#[derive(Debug, Clone)]
struct PathFault<T> {
    path_contains: String,
    value: T,
}

#[derive(Debug, Default)]
struct KitState {
    latency: Duration,
    status_faults: Vec<StatusFault>,
    stream_cuts: Vec<PathFault<usize>>,
    delays: Vec<PathFault<Duration>>,
    records: Vec<RecordedRequest>,
}

/// Fault injection and request recording for one emulator instance.
#[derive(Debug, Default)]
pub struct Kit {
    state: Mutex<KitState>,
}

impl Kit {
    /// A kit with no faults.
    pub fn new() -> Arc<Self> {
        Arc::new(Kit::default())
    }

    fn lock(&self) -> MutexGuard<'_, KitState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `latency` before every request is handled (a remote vendor's round trip).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The next `count` requests whose path contains `path_contains` get `status` with `body`
    /// (and `Retry-After: retry_after_secs` when given) instead of being handled.
    pub fn fail_next(
        &self,
        path_contains: &str,
        count: u32,
        status: u16,
        retry_after_secs: Option<u64>,
        body: serde_json::Value,
    ) {
        self.lock().status_faults.push(StatusFault {
            path_contains: path_contains.to_owned(),
            remaining: count,
            status,
            retry_after: retry_after_secs,
            body,
        });
    }

    /// The next streaming response on a matching path is cut after `after_bytes` body bytes.
    /// The emulator's streaming handler applies it through [`Kit::take_stream_cut`].
    pub fn cut_stream_next(&self, path_contains: &str, after_bytes: usize) {
        self.lock().stream_cuts.push(PathFault {
            path_contains: path_contains.to_owned(),
            value: after_bytes,
        });
    }

    /// Consumes a pending stream cut for `path`, if one was set.
    pub fn take_stream_cut(&self, path: &str) -> Option<usize> {
        let mut st = self.lock();
        let i = st
            .stream_cuts
            .iter()
            .position(|f| path.contains(&f.path_contains))?;
        Some(st.stream_cuts.remove(i).value)
    }

    /// The next request on a matching path waits `delay` more (a slow upload).
    pub fn delay_next(&self, path_contains: &str, delay: Duration) {
        self.lock().delays.push(PathFault {
            path_contains: path_contains.to_owned(),
            value: delay,
        });
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().records.clone()
    }

    /// How many requests with `method` (any if empty) had a path containing `path_contains`.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        self.lock()
            .records
            .iter()
            .filter(|r| method.is_empty() || r.method.eq_ignore_ascii_case(method))
            .filter(|r| r.path.contains(path_contains))
            .count()
    }

    /// Forgets recorded requests and pending faults; latency stays.
    pub fn clear(&self) {
        let mut st = self.lock();
        st.records.clear();
        st.status_faults.clear();
        st.stream_cuts.clear();
        st.delays.clear();
    }

    fn before(&self, path: &str) -> (Duration, Option<StatusFault>) {
        let mut st = self.lock();
        let mut wait = st.latency;
        if let Some(i) = st
            .delays
            .iter()
            .position(|f| path.contains(&f.path_contains))
        {
            wait += st.delays.remove(i).value;
        }
        let mut fault = None;
        if let Some(f) = st
            .status_faults
            .iter_mut()
            .find(|f| f.remaining > 0 && path.contains(&f.path_contains))
        {
            f.remaining -= 1;
            fault = Some(f.clone());
        }
        st.status_faults.retain(|f| f.remaining > 0);
        (wait, fault)
    }
}

async fn kit_middleware(State(kit): State<Arc<Kit>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // Buffer the body (chunked uploads included) so it can be recorded and replayed.
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("cannot read body: {e}")).into_response();
        }
    };
    let path = parts.uri.path().to_owned();
    kit.lock().records.push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: bytes.clone(),
    });
    let (wait, fault) = kit.before(&path);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if let Some(f) = fault {
        let status = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(f.body)).into_response();
        if let Some(v) = f
            .retry_after
            .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        return resp;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A running emulator on loopback.
#[derive(Debug)]
pub struct RunningEmulator {
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `router` with the kit's middleware on `127.0.0.1:0` (or `addr` if given).
pub async fn serve(
    router: axum::Router,
    kit: Arc<Kit>,
    addr: Option<SocketAddr>,
) -> std::io::Result<RunningEmulator> {
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = router.layer(axum::middleware::from_fn_with_state(kit, kit_middleware));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // Streamed responses (ndjson, Connect frames) would otherwise wait for the client's delayed
    // ACK (Nagle): a first line ~40 ms late instead of ~1 ms.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(RunningEmulator {
        addr,
        base_url: format!("http://{addr}"),
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Cuts a byte stream after `after` bytes: the body ends early, as when a connection drops.
pub fn cut_after(data: Bytes, sent: &mut usize, after: usize) -> Option<Bytes> {
    if *sent >= after {
        return None;
    }
    let take = (after - *sent).min(data.len());
    *sent += take;
    Some(data.slice(..take))
}

/// The real directory of one emulated sandbox. The vendor's absolute paths (e.g.
/// `/home/user/semantic/x.yml`) are mapped beneath it; commands run there with `sh -c`. The
/// directory is removed when this is dropped, so a destroyed sandbox really disappears.
#[derive(Debug)]
pub struct SandboxDir {
    dir: tempfile::TempDir,
}

impl SandboxDir {
    /// A new empty sandbox directory, under `/var/tmp` where there is one: a vendor's sandbox
    /// paths are not under `/tmp`, and a command that sets `HOME=/tmp` (as the corpus does)
    /// would otherwise see `~/atlas-emu-.../home/user/...` in `dirs` and `pushd`.
    pub fn new() -> std::io::Result<Self> {
        let builder = tempfile::Builder::new().prefix("atlas-emu-").clone();
        let dir = match builder.tempdir_in("/var/tmp") {
            Ok(d) => d,
            Err(_) => builder.tempdir()?,
        };
        Ok(SandboxDir { dir })
    }

    /// The host path of the sandbox's `/`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Maps a vendor path (absolute, or relative to `/`) beneath the sandbox directory, lexically:
    /// `..` cannot climb above the sandbox's `/`.
    pub fn map(&self, vendor_path: &str) -> PathBuf {
        let mut out = self.dir.path().to_path_buf();
        let mut depth = 0usize;
        for comp in Path::new(vendor_path).components() {
            match comp {
                Component::Normal(p) => {
                    out.push(p);
                    depth += 1;
                }
                Component::ParentDir if depth > 0 => {
                    out.pop();
                    depth -= 1;
                }
                _ => {}
            }
        }
        out
    }

    /// Runs `sh -c command` with `cwd` (a vendor path, mapped), a clean environment with `HOME`
    /// and `TMPDIR` inside the sandbox, the deadline and the output cap. Exit 124 on timeout.
    pub async fn run_sh(
        &self,
        command: &str,
        cwd: Option<&str>,
        timeout: Duration,
        max_output_bytes: usize,
    ) -> std::io::Result<ProcessResult> {
        self.run_sh_streaming(command, cwd, timeout, max_output_bytes, None)
            .await
    }

    /// [`Self::run_sh`], with every chunk of output also sent to `tap` as it is read: the
    /// vendors stream output while a command runs, and so must their emulators.
    pub async fn run_sh_streaming(
        &self,
        command: &str,
        cwd: Option<&str>,
        timeout: Duration,
        max_output_bytes: usize,
        tap: Option<tokio::sync::mpsc::Sender<OutputChunk>>,
    ) -> std::io::Result<ProcessResult> {
        let home = self.map("/home/user");
        let tmp = self.map("/tmp");
        std::fs::create_dir_all(&home)?;
        std::fs::create_dir_all(&tmp)?;
        let cwd = match cwd {
            Some(c) => self.map(c),
            None => home.clone(),
        };
        if !cwd.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("working directory {} does not exist", cwd.display()),
            ));
        }
        let spec = match private_tmp_prefix(&tmp).await {
            Some(prefix) => ProcessSpec::new(&prefix[0])
                .args(&prefix[1..])
                .arg("/bin/sh"),
            None => ProcessSpec::new("/bin/sh"),
        };
        let spec = spec
            .arg("-c")
            .arg(command)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", home)
            .env("TMPDIR", tmp)
            .env("LANG", "C.UTF-8")
            .cwd(cwd)
            .timeout(timeout)
            .max_output_bytes(max_output_bytes);
        let spec = match tap {
            Some(tap) => spec.tap(tap),
            None => spec,
        };
        run(&spec).await
    }
}

/// The program and leading arguments that run a program (appended after them, with its own
/// arguments) with the sandbox's `tmp` directory mounted on `/tmp`, in a mount namespace of its
/// own: a vendor's sandbox is a machine of its own, so one sandbox's `/tmp` files are never
/// another's, nor left from an earlier run. `unshare --user --map-root-user --mount` gives the
/// namespace without privileges (the program runs as root of its user namespace, the caller's
/// own uid outside it); the program is `exec`ed, so it keeps the process and its group.
///
/// `None`, after one `SKIPPED:` line, where the machine cannot (no `unshare`, user namespaces
/// off): commands then share the host's `/tmp`, as the corpus tests allow for.
pub async fn private_tmp_prefix(tmp: &Path) -> Option<Vec<std::ffi::OsString>> {
    private_tmp_available().await.then(|| private_tmp_argv(tmp))
}

/// Whether [`private_tmp_prefix`] works on this machine (probed once per process).
pub async fn private_tmp_available() -> bool {
    static WORKS: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    *WORKS
        .get_or_init(|| async {
            let Ok(probe) = tempfile::tempdir() else {
                return false;
            };
            if std::fs::write(probe.path().join(".atlas-emu-probe"), b"").is_err() {
                return false;
            }
            let argv = private_tmp_argv(probe.path());
            let spec = ProcessSpec::new(&argv[0])
                .args(&argv[1..])
                .args(["/bin/sh", "-c", "test -e /tmp/.atlas-emu-probe"])
                .timeout(Duration::from_secs(10));
            let ok = matches!(run(&spec).await, Ok(r) if r.output.exit_code == 0);
            if !ok {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: private /tmp per emulated sandbox: `unshare --user --map-root-user \
                     --mount` with a bind mount does not work here; sandboxes share the host's /tmp"
                );
            }
            ok
        })
        .await
}

fn private_tmp_argv(tmp: &Path) -> Vec<std::ffi::OsString> {
    vec![
        "/usr/bin/unshare".into(),
        "--user".into(),
        "--map-root-user".into(),
        "--mount".into(),
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        r#"mount --bind "$0" /tmp && exec "$@""#.into(),
        tmp.into(),
    ]
}

/// The command that runs `script` of the vendor SDK folder `tests/<folder>` with node, for the
/// fidelity tests and benchmarks that drive an official SDK against an emulator. `None` after
/// printing a `SKIPPED: <test>: <why>` line (outside libtest's capture, so CI logs show it) when
/// node or the folder's `npm ci` install of `sdk_package` is missing. The environment holds only
/// `PATH`; callers add the SDK's variables.
pub fn node_script(
    test: &str,
    folder: &str,
    sdk_package: &str,
    script: &str,
) -> Option<ProcessSpec> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests")
        .join(folder);
    let skip = |why: String| {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    };
    if !dir
        .join("node_modules")
        .join(sdk_package)
        .join("package.json")
        .is_file()
    {
        skip(format!(
            "run `npm ci` in tests/{folder} (no {sdk_package} there)"
        ));
        return None;
    }
    let path = std::env::var_os("PATH");
    let Some(node) = atlas_sandbox_sdk::process::find_in_path("node", path.as_deref()) else {
        skip("node is not installed".to_owned());
        return None;
    };
    Some(
        ProcessSpec::new(node)
            .arg(script)
            .cwd(dir)
            .env("PATH", path.unwrap_or_default())
            .timeout(Duration::from_secs(120))
            .max_output_bytes(1 << 20),
    )
}

/// A time as the vendors' APIs print it: RFC 3339 in UTC with milliseconds,
/// `2026-11-24T09:22:48.123Z`.
pub fn rfc3339_millis(t: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339_with_millis() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let at = |ms: u64| rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms));
        assert_eq!(
            rfc3339_millis(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(at(1_795_512_168_250), "2026-11-24T09:22:48.250Z");
        assert_eq!(at(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[tokio::test]
    async fn records_injects_and_recovers() {
        let kit = Kit::new();
        let router =
            axum::Router::new().route("/v/thing", axum::routing::post(|b: Bytes| async move { b }));
        let emu = serve(router, kit.clone(), None).await.unwrap();
        let url = format!("{}/v/thing", emu.base_url);
        let c = reqwest::Client::new();

        kit.fail_next(
            "/thing",
            2,
            429,
            Some(1),
            serde_json::json!({"code": 429, "message": "slow"}),
        );
        let r = c.post(&url).body("a").send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(c.post(&url).body("b").send().await.unwrap().status(), 429);
        let r = c.post(&url).body("hello").send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "hello");
        assert_eq!(kit.count("POST", "/thing"), 3);
        assert_eq!(kit.requests()[2].body, Bytes::from_static(b"hello"));

        kit.set_latency(Duration::from_millis(50));
        let t = std::time::Instant::now();
        c.post(&url).send().await.unwrap();
        assert!(t.elapsed() >= Duration::from_millis(50));
        emu.shutdown().await;
    }

    #[tokio::test]
    async fn sandbox_dir_runs_and_confines_paths() {
        let d = SandboxDir::new().unwrap();
        assert_eq!(d.map("/home/user/../../../etc"), d.path().join("etc"));
        std::fs::create_dir_all(d.map("/home/user/semantic")).unwrap();
        std::fs::write(d.map("/home/user/semantic/a.yml"), "x: 1\n").unwrap();
        let r = d
            .run_sh(
                "cat a.yml; echo e >&2; exit 3",
                Some("/home/user/semantic"),
                Duration::from_secs(5),
                1 << 20,
            )
            .await
            .unwrap();
        assert_eq!(r.output.stdout, b"x: 1\n");
        assert_eq!(r.output.stderr, b"e\n");
        assert_eq!(r.output.exit_code, 3);
        let r = d
            .run_sh("sleep 5", None, Duration::from_millis(200), 100)
            .await
            .unwrap();
        assert_eq!(r.output.exit_code, 124);
        let p = d.path().to_path_buf();
        drop(d);
        assert!(!p.exists());
    }

    #[test]
    fn cut_after_limits_bytes() {
        let mut sent = 0;
        assert_eq!(
            cut_after(Bytes::from_static(b"abcdef"), &mut sent, 4).unwrap(),
            "abcd"
        );
        assert!(cut_after(Bytes::from_static(b"gh"), &mut sent, 4).is_none());
    }
}
