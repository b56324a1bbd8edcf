//! Client plumbing shared by the cloud backends (E2B, Daytona, Vercel Sandbox).
//!
//! What lives here is what every vendor client needs and must get right the same way: one pooled
//! HTTP client, retries that never repeat a non-idempotent call blindly, the mapping of vendor
//! error statuses and bodies to the SDK's error kinds (scrubbed of secrets), the tags that make
//! leaked sandboxes findable by `sweep`, the "recreate once when gone" session slot, and killing
//! a dropped sandbox in the background.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use atlas_sandbox_sdk::{Error, ErrorKind, PluginContext, Result, Secret};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// The tag every sandbox we create carries, so `sweep` can find it.
pub const TAG_MARKER: &str = "atlas-sandbox";
/// The tag naming the host instance that created the sandbox.
pub const TAG_INSTANCE: &str = atlas_sandbox_sdk::INSTANCE_TAG;
/// The tag holding the creation time, in Unix seconds.
pub const TAG_CREATED: &str = "atlas-sandbox-created";

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; doubled each attempt.
    pub base_delay: Duration,
    /// The longest backoff (and the longest `Retry-After` honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (0-based): exponential with full jitter, or the
    /// server's `Retry-After` when it gave one (capped at `max_delay`).
    pub fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        // Full jitter (a uniform draw in [0, exp]): of the usual schemes it spreads concurrent
        // clients the most, so a burst of 5xx/429s does not come back as a synchronized burst.
        let nanos = exp.as_nanos().min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(rand::random_range(0..=nanos))
    }
}

/// Whether a call may be repeated without side effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotent {
    /// GET, DELETE, status polls, uploads that overwrite: safe to retry after any failure.
    Yes,
    /// Create and exec: retried only when the server said it did not act (429).
    No,
}

/// One pooled HTTP client (rustls) for a plugin. `request_timeout` bounds every request that
/// does not set its own.
pub fn http_client(request_timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("atlas-sandbox/", env!("CARGO_PKG_VERSION")))
        .timeout(request_timeout)
        .connect_timeout(request_timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
        .map_err(|e| Error::backend_failure("cannot build the HTTP client").with_source(e))
}

/// The server's `Retry-After`, in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

fn retryable_status(status: StatusCode, idempotent: Idempotent) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            idempotent == Idempotent::Yes
        }
        _ => false,
    }
}

/// Sends a request built by `build` (called again for each attempt), retrying what is safe to
/// retry, and returns the last response whatever its status. Transport failures that remain
/// become `Unavailable` (connect) or `Timeout` errors.
pub async fn send<F>(
    backend: &'static str,
    policy: &RetryPolicy,
    idempotent: Idempotent,
    build: F,
) -> Result<reqwest::Response>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let mut attempt = 0u32;
    loop {
        match build().send().await {
            Ok(resp) => {
                let status = resp.status();
                if attempt < policy.max_retries && retryable_status(status, idempotent) {
                    let wait = policy.backoff(attempt, retry_after(resp.headers()));
                    tracing::debug!(backend, %status, ?wait, attempt, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                return Ok(resp);
            }
            Err(e) => {
                // A connect error means the request never left: safe to retry even a create.
                let safe = idempotent == Idempotent::Yes || e.is_connect();
                if attempt < policy.max_retries
                    && safe
                    && (e.is_connect() || e.is_timeout() || e.is_request())
                {
                    let wait = policy.backoff(attempt, None);
                    tracing::debug!(backend, error = %e, ?wait, attempt, "retrying after transport error");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                return Err(transport_error(backend, e));
            }
        }
    }
}

/// Maps a reqwest transport error (no HTTP status) to an SDK error. The URL is kept without its
/// query string, which may carry ids but never our secrets (they travel in headers).
pub fn transport_error(backend: &'static str, e: reqwest::Error) -> Error {
    let url = e.url().map(|u| {
        let mut u = u.clone();
        u.set_query(None);
        u.to_string()
    });
    let (kind, msg) = if e.is_timeout() {
        (ErrorKind::Timeout, "the request timed out")
    } else if e.is_connect() {
        (ErrorKind::Unavailable, "cannot connect")
    } else if e.is_body() || e.is_decode() {
        (ErrorKind::Backend, "the response body could not be read")
    } else {
        (ErrorKind::Backend, "the request failed")
    };
    let mut err = Error::new(kind, msg)
        .with_backend(backend)
        .set_temporary(true)
        .with_source(e.without_url());
    if let Some(url) = url {
        err = err.with_context("url", url);
    }
    err
}

/// What [`check`] needs to make an error actionable and safe.
#[derive(Debug, Clone, Default)]
pub struct ErrorHints<'a> {
    /// The environment variable or key to fix on 401/403 (e.g. "E2B_API_KEY or plugins.e2b.api_key").
    pub key_env_var: &'a str,
    /// Secrets that must be scrubbed from vendor messages before they reach an error.
    pub secrets: &'a [&'a Secret],
    /// What was being done (e.g. "create sandbox"), for the context.
    pub operation: &'a str,
}

/// Passes a successful response through; maps an error status to an SDK error, reading the
/// vendor's JSON error body for its code and message.
pub async fn check(
    backend: &'static str,
    resp: reqwest::Response,
    hints: &ErrorHints<'_>,
) -> Result<reqwest::Response> {
    let status = resp.status();
    if !status.is_client_error() && !status.is_server_error() {
        return Ok(resp);
    }
    let after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    Err(status_error(backend, status, &body, after, hints))
}

/// The SDK error for a vendor error status and body.
pub fn status_error(
    backend: &'static str,
    status: StatusCode,
    body: &str,
    retry_after: Option<Duration>,
    hints: &ErrorHints<'_>,
) -> Error {
    let (code, message) = parse_error_body(body);
    let message = scrub(
        message
            .as_deref()
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error")),
        hints.secrets,
    );
    let (kind, text) = match status.as_u16() {
        401 | 403 => (
            ErrorKind::Auth,
            if hints.key_env_var.is_empty() {
                format!("the vendor rejected the credentials: {message}")
            } else {
                format!(
                    "the vendor rejected the credentials ({message}); check {}",
                    hints.key_env_var
                )
            },
        ),
        404 | 410 => (ErrorKind::SandboxGone, message),
        429 => (ErrorKind::RateLimited, message),
        408 | 504 => (ErrorKind::Timeout, message),
        400 | 422 => (ErrorKind::InvalidRequest, message),
        s if s >= 500 => (ErrorKind::Backend, message),
        _ => (ErrorKind::Backend, message),
    };
    let mut err = Error::new(kind, text)
        .with_backend(backend)
        .with_context("status", status.as_u16());
    if status.is_server_error() {
        err = err.set_temporary(true);
    }
    if !hints.operation.is_empty() {
        err = err.with_context("operation", hints.operation);
    }
    if let Some(code) = code {
        err = err.with_context("error_code", scrub(&code, hints.secrets));
    }
    if let Some(after) = retry_after {
        err = err.with_retry_after(after);
    }
    err
}

/// Extracts `(code, message)` from the usual vendor error bodies: `{code, message}` (E2B),
/// `{statusCode, message, error}` (NestJS/Daytona), `{error: {code, message}}` (Vercel), or
/// plain text.
pub fn parse_error_body(body: &str) -> (Option<String>, Option<String>) {
    let text = body.trim();
    if text.is_empty() {
        return (None, None);
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        let short: String = text.chars().take(300).collect();
        return (None, Some(short));
    };
    let obj = match v.get("error") {
        Some(e) if e.is_object() => e,
        _ => &v,
    };
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Array(a) => Some(
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    };
    // E2B repeats the HTTP status in `code` and puts the useful value in `error_code`.
    let code = obj
        .get("error_code")
        .and_then(as_text)
        .or_else(|| obj.get("code").and_then(as_text))
        .or_else(|| v.get("error").filter(|e| e.is_string()).and_then(as_text));
    let message = obj.get("message").and_then(as_text);
    (code, message)
}

/// Replaces every occurrence of a secret's value with `[REDACTED]`.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let v = s.expose();
        if v.len() >= 4 {
            out = out.replace(v, "[REDACTED]");
        }
    }
    out
}

/// The tag naming the session that owns a persistent sandbox (or `pool:<layer>` for a pooled one).
pub const TAG_OWNER: &str = atlas_sandbox_sdk::OWNER_TAG;

/// The session keys every cloud plugin's table has (`persistent`, `pool_size`, `[pools]`,
/// `max_sandboxes`, `paused_retention`), as read from that table.
#[derive(Debug, Clone, Default)]
pub struct PolicyKeys {
    /// `persistent`.
    pub persistent: bool,
    /// `pool_size`: the `default` layer's pool.
    pub pool_size: usize,
    /// `[pools]`: `<layer> = N`.
    pub pools: BTreeMap<String, usize>,
    /// `max_sandboxes`.
    pub max_sandboxes: Option<usize>,
    /// `paused_retention`.
    pub paused_retention: Duration,
}

/// Checks the session keys of `[plugins.<backend>]` and maps them to the SDK's
/// [`atlas_sandbox_sdk::SessionPolicy`]: `pool_size` is the `default` layer's pool (naming
/// `default` in `[pools]` as well is an error), a cap must hold every pool, and a paused
/// sandbox is kept at least a minute.
pub fn session_policy(
    backend: &'static str,
    keys: PolicyKeys,
) -> Result<atlas_sandbox_sdk::SessionPolicy> {
    let bad = |m: String| Error::config(format!("[plugins.{backend}] {m}")).with_backend(backend);
    let mut pools = keys.pools;
    if keys.pool_size > 0 && pools.contains_key("default") {
        return Err(bad(
            "pool_size and pools.default both size the default layer's pool; keep one".into(),
        ));
    }
    if keys.pool_size > 0 {
        pools.insert("default".to_owned(), keys.pool_size);
    }
    pools.retain(|_, n| *n > 0);
    for name in pools.keys() {
        if name.is_empty() || name.contains(['/', ' ']) {
            return Err(bad(format!("pools key {name:?} is not a layer name")));
        }
    }
    let pooled: usize = pools.values().sum();
    if pooled > 1000 {
        return Err(bad(format!("pools hold {pooled} sandboxes; at most 1000")));
    }
    if let Some(max) = keys.max_sandboxes {
        if max == 0 {
            return Err(bad("max_sandboxes = 0 would refuse every session".into()));
        }
        if pooled >= max {
            return Err(bad(format!(
                "max_sandboxes = {max} leaves no room for a session beside the {pooled} pooled \
                 sandboxes (pool_size and pools)"
            )));
        }
    }
    if keys.paused_retention < Duration::from_secs(60) {
        return Err(bad(format!(
            "paused_retention = {:?} must be at least 1m",
            keys.paused_retention
        )));
    }
    Ok(atlas_sandbox_sdk::SessionPolicy {
        persistent: keys.persistent,
        pools,
        max_sandboxes: keys.max_sandboxes,
        paused_retention: keys.paused_retention,
    })
}

/// The tags every remote sandbox carries: the marker, the host instance and the creation time.
pub fn sandbox_tags(ctx: &PluginContext) -> BTreeMap<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    BTreeMap::from([
        (TAG_MARKER.to_owned(), "true".to_owned()),
        (TAG_INSTANCE.to_owned(), ctx.instance_id.clone()),
        (TAG_CREATED.to_owned(), now.to_string()),
    ])
}

/// The age of a sandbox from its [`TAG_CREATED`] tag, if present and valid.
pub fn age_from_tags(tags: &BTreeMap<String, String>) -> Option<Duration> {
    let created: u64 = tags.get(TAG_CREATED)?.parse().ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(now.saturating_sub(created)))
}

/// The lazily created remote session of a sandbox, recreated when it vanished.
///
/// `exec` calls [`SessionSlot::get_or_create`]; when the vendor says the sandbox is gone, it
/// calls [`SessionSlot::invalidate`] with the session it used and tries once more, so the next
/// command works. `close` calls [`SessionSlot::close`], after which no session is created again.
#[derive(Debug)]
pub struct SessionSlot<T> {
    inner: tokio::sync::Mutex<SlotState<T>>,
}

#[derive(Debug)]
struct SlotState<T> {
    current: Option<Arc<T>>,
    closed: bool,
}

impl<T> Default for SessionSlot<T> {
    fn default() -> Self {
        SessionSlot {
            inner: tokio::sync::Mutex::new(SlotState {
                current: None,
                closed: false,
            }),
        }
    }
}

impl<T> SessionSlot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// A slot that already holds a session (created eagerly in `create`).
    pub fn with(session: T) -> Self {
        SessionSlot {
            inner: tokio::sync::Mutex::new(SlotState {
                current: Some(Arc::new(session)),
                closed: false,
            }),
        }
    }

    /// The current session, creating one with `create` if there is none. Concurrent callers wait
    /// for a single creation. After `close`, this is a `SandboxGone` error.
    pub async fn get_or_create<F, Fut>(&self, backend: &'static str, create: F) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut st = self.inner.lock().await;
        if st.closed {
            return Err(Error::new(ErrorKind::SandboxGone, "the sandbox was closed")
                .with_backend(backend)
                .set_temporary(false));
        }
        if let Some(s) = &st.current {
            return Ok(s.clone());
        }
        let s = Arc::new(create().await?);
        st.current = Some(s.clone());
        Ok(s)
    }

    /// Forgets `session` if it is still the current one (another caller may have replaced it).
    pub async fn invalidate(&self, session: &Arc<T>) {
        let mut st = self.inner.lock().await;
        if st.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, session)) {
            st.current = None;
        }
    }

    /// Marks the slot closed and returns the session to kill, if any. Idempotent.
    pub async fn close(&self) -> Option<Arc<T>> {
        let mut st = self.inner.lock().await;
        st.closed = true;
        st.current.take()
    }

    /// Whether [`SessionSlot::close`] was called.
    pub async fn is_closed(&self) -> bool {
        self.inner.lock().await.closed
    }

    /// Takes the session without waiting, for `Drop` (returns `None` if the slot is busy).
    pub fn take_now(&self) -> Option<Arc<T>> {
        let mut st = self.inner.try_lock().ok()?;
        st.closed = true;
        st.current.take()
    }
}

/// Runs a cleanup future (killing a dropped sandbox) on the current tokio runtime. Outside a
/// runtime it logs that the sandbox is left to its vendor-side lifetime.
pub fn spawn_cleanup<F>(what: &str, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(fut);
        }
        Err(_) => tracing::warn!(
            what,
            "dropped outside a tokio runtime: the remote sandbox will expire at its lifetime"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy::default();
        for attempt in 0..6 {
            let cap = p.base_delay.saturating_mul(1 << attempt).min(p.max_delay);
            let draws: Vec<Duration> = (0..200).map(|_| p.backoff(attempt, None)).collect();
            assert!(
                draws.iter().all(|d| *d <= cap),
                "attempt {attempt}: {draws:?}"
            );
            // Full jitter reaches below half the cap (equal jitter never does); 200 draws all
            // landing above it would happen with probability 2^-200.
            assert!(
                draws.iter().any(|d| *d < cap / 2),
                "attempt {attempt}: no draw below {:?}",
                cap / 2
            );
        }
        assert_eq!(
            RetryPolicy {
                base_delay: Duration::ZERO,
                ..p
            }
            .backoff(3, None),
            Duration::ZERO
        );
        assert_eq!(
            p.backoff(0, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(p.backoff(0, Some(Duration::from_secs(999))), p.max_delay);
    }

    #[test]
    fn error_bodies_of_each_vendor() {
        assert_eq!(
            parse_error_body(r#"{"code":404,"message":"sandbox not found"}"#),
            (Some("404".into()), Some("sandbox not found".into()))
        );
        assert_eq!(
            parse_error_body(r#"{"statusCode":400,"message":["a","b"],"error":"Bad Request"}"#),
            (Some("Bad Request".into()), Some("a; b".into()))
        );
        assert_eq!(
            parse_error_body(r#"{"error":{"code":"sandbox_stopped","message":"stopped"}}"#),
            (Some("sandbox_stopped".into()), Some("stopped".into()))
        );
        assert_eq!(parse_error_body("oops"), (None, Some("oops".into())));
        assert_eq!(
            parse_error_body(
                r#"{"code":503,"error_code":"sandbox_capacity_unavailable","message":"busy"}"#
            ),
            (
                Some("sandbox_capacity_unavailable".into()),
                Some("busy".into())
            )
        );
    }

    #[test]
    fn status_mapping_scrubs_secrets() {
        let key = Secret::new("e2b_supersecret");
        let hints = ErrorHints {
            key_env_var: "E2B_API_KEY",
            secrets: &[&key],
            operation: "create sandbox",
        };
        let e = status_error(
            "e2b",
            StatusCode::UNAUTHORIZED,
            r#"{"code":401,"message":"invalid key e2b_supersecret"}"#,
            None,
            &hints,
        );
        assert_eq!(e.kind(), ErrorKind::Auth);
        let text = e.to_string();
        assert!(!text.contains("supersecret"), "{text}");
        assert!(text.contains("E2B_API_KEY"), "{text}");
        let e = status_error(
            "e2b",
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            Some(Duration::from_secs(3)),
            &hints,
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        let e = status_error("e2b", StatusCode::NOT_FOUND, "", None, &hints);
        assert_eq!(e.kind(), ErrorKind::SandboxGone);
        let e = status_error("e2b", StatusCode::SERVICE_UNAVAILABLE, "", None, &hints);
        assert!(e.is_temporary());
    }

    #[test]
    fn tags_carry_age() {
        let tags = sandbox_tags(&PluginContext::default());
        assert_eq!(tags[TAG_MARKER], "true");
        assert!(age_from_tags(&tags).unwrap() < Duration::from_secs(5));
    }

    async fn server(statuses: Vec<u16>) -> (String, Arc<AtomicUsize>) {
        use axum::http::StatusCode as S;
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let statuses = Arc::new(statuses);
        let app = axum::Router::new().route(
            "/x",
            axum::routing::any(move || {
                let h = h.clone();
                let statuses = statuses.clone();
                async move {
                    let n = h.fetch_add(1, Ordering::SeqCst);
                    let code = *statuses.get(n).unwrap_or(&200);
                    (
                        S::from_u16(code).unwrap(),
                        [("retry-after", "0")],
                        format!("{{\"code\":{code},\"message\":\"m{n}\"}}"),
                    )
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        (format!("http://{addr}/x"), hits)
    }

    #[tokio::test]
    async fn retries_429_even_for_create_but_not_503() {
        let client = http_client(Duration::from_secs(5)).unwrap();
        let p = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        let (url, hits) = server(vec![429, 429, 200]).await;
        let r = send("t", &p, Idempotent::No, || client.post(&url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 3);

        let (url, hits) = server(vec![503, 200]).await;
        let r = send("t", &p, Idempotent::No, || client.post(&url))
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "a create is never blindly retried on 5xx");
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        let (url, hits) = server(vec![503, 502, 200]).await;
        let r = send("t", &p, Idempotent::Yes, || client.get(&url))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(hits.load(Ordering::SeqCst), 3);

        let (url, _) = server(vec![429, 429, 429, 429, 429]).await;
        let r = send("t", &p, Idempotent::Yes, || client.get(&url))
            .await
            .unwrap();
        let e = check("t", r, &ErrorHints::default()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }

    #[tokio::test]
    async fn connection_refused_is_unavailable() {
        let client = http_client(Duration::from_secs(2)).unwrap();
        let p = RetryPolicy {
            max_retries: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let e = send("t", &p, Idempotent::Yes, || {
            client.get("http://127.0.0.1:9/")
        })
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[tokio::test]
    async fn session_slot_recreates_once_and_closes() {
        let slot: SessionSlot<u32> = SessionSlot::new();
        let a = slot.get_or_create("t", || async { Ok(1) }).await.unwrap();
        let b = slot.get_or_create("t", || async { Ok(2) }).await.unwrap();
        assert_eq!((*a, *b), (1, 1));
        slot.invalidate(&a).await;
        let c = slot.get_or_create("t", || async { Ok(3) }).await.unwrap();
        assert_eq!(*c, 3);
        slot.invalidate(&a).await; // stale: must not drop the new one
        assert_eq!(
            *slot.get_or_create("t", || async { Ok(4) }).await.unwrap(),
            3
        );
        assert_eq!(slot.close().await.map(|s| *s), Some(3));
        assert!(slot.close().await.is_none());
        let e = slot
            .get_or_create("t", || async { Ok(5) })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SandboxGone);
    }
}
