//! Prometheus metrics through the `metrics` facade and its Prometheus exporter.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::engine::EngineStats;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (a second server in the process shares it).
pub(crate) fn install() {
    HANDLE.get_or_init(|| {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0,
        ];
        match PrometheusBuilder::new()
            .set_buckets(&buckets)
            .and_then(|b| b.install_recorder())
        {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                None
            }
        }
    });
}

pub(crate) fn record_call(transport: &str, backend: &str, outcome: &str, elapsed: Duration) {
    let labels = [
        ("transport", transport.to_owned()),
        ("backend", backend.to_owned()),
        ("outcome", outcome.to_owned()),
    ];
    metrics::counter!("atlas_explore_calls_total", &labels).increment(1);
    metrics::histogram!(
        "atlas_explore_duration_seconds",
        "transport" => transport.to_owned(),
        "backend" => backend.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

/// The exposition text, with the gauges read now.
pub(crate) fn render(stats: EngineStats, queue_depth: usize, in_progress: usize) -> String {
    metrics::gauge!("atlas_sessions_open").set(stats.sessions_open as f64);
    metrics::gauge!("atlas_queue_depth").set(queue_depth as f64);
    metrics::gauge!("atlas_calls_in_progress").set(in_progress as f64);
    metrics::counter!("atlas_sandboxes_created_total").absolute(stats.sandboxes_created);
    metrics::counter!("atlas_sandboxes_closed_total").absolute(stats.sandboxes_closed);
    metrics::counter!("atlas_sessions_expired_total").absolute(stats.sessions_expired);
    metrics::counter!("atlas_sessions_evicted_total").absolute(stats.sessions_evicted);
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}
