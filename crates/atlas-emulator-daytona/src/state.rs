//! What the emulator keeps per sandbox and the lifecycle timers that move it along. The
//! timers fire on every request (see `Control`'s lock) rather than on a clock of their own, so
//! a test sees a state change exactly when it next asks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use atlas_emulator_kit::SandboxDir;
use serde_json::{Value, json};

use crate::CreateFault;
use crate::session::SharedSession;

/// Where a sandbox is in its life (the create fault aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Life {
    /// Created; `started` once the start delay has passed.
    Booting,
    Started,
    /// Started again at `until` (`restoring` when it came from archive).
    Starting {
        until: Instant,
        from_archive: bool,
    },
    Stopped {
        since: Instant,
    },
    Archived {
        since: Instant,
    },
}

/// Daytona's answer to `autoArchiveInterval = 0`: its maximum (30 days here).
const MAX_AUTO_ARCHIVE_MINUTES: i64 = 30 * 24 * 60;

#[derive(Debug)]
pub(crate) struct EmuSandbox {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) target: String,
    pub(crate) snapshot: Option<String>,
    pub(crate) network_block_all: bool,
    pub(crate) auto_stop_interval: i64,
    pub(crate) auto_archive_interval: i64,
    pub(crate) auto_delete_interval: i64,
    pub(crate) life: Life,
    /// When the auto-stop clock was last reset (creation, start, activity).
    pub(crate) active_at: Instant,
    /// Compute time of earlier runs; the current run counts from `running_since`.
    pub(crate) compute: Duration,
    pub(crate) running_since: Option<Instant>,
    pub(crate) created_at: SystemTime,
    pub(crate) created: Instant,
    pub(crate) start_delay: Duration,
    pub(crate) fault: Option<CreateFault>,
    pub(crate) last_activity: SystemTime,
    // Declared before `dir`: the session shells are killed before the directory is removed.
    pub(crate) sessions: BTreeMap<String, SharedSession>,
    pub(crate) dir: Arc<SandboxDir>,
}

impl EmuSandbox {
    pub(crate) fn state(&self) -> &'static str {
        match self.life {
            Life::Booting => match &self.fault {
                Some(CreateFault::StuckStarting) => "starting",
                Some(CreateFault::Error(_)) if self.created.elapsed() >= self.start_delay => {
                    "error"
                }
                _ if self.created.elapsed() >= self.start_delay => "started",
                _ => "starting",
            },
            Life::Started => "started",
            Life::Starting {
                until,
                from_archive,
            } => match (Instant::now() >= until, from_archive) {
                (true, _) => "started",
                (false, true) => "restoring",
                (false, false) => "starting",
            },
            Life::Stopped { .. } => "stopped",
            Life::Archived { .. } => "archived",
        }
    }

    pub(crate) fn compute_time(&self) -> Duration {
        self.compute + self.running_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    /// Stops it at `at`: its processes die, its files stay, compute stops counting.
    pub(crate) fn stop_at(&mut self, at: Instant) {
        for (_, s) in std::mem::take(&mut self.sessions) {
            if let Ok(mut s) = s.try_lock() {
                s.kill();
            }
        }
        if let Some(since) = self.running_since.take() {
            self.compute += at.saturating_duration_since(since);
        }
        self.life = Life::Stopped { since: at };
    }

    /// Applies what time did: a start or boot that finished, then the auto-stop, auto-archive
    /// and auto-delete timers. `true`: the sandbox is to be destroyed.
    pub(crate) fn tick(&mut self, minute: Duration) -> bool {
        let now = Instant::now();
        let mins = |n: i64| minute.saturating_mul(u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        if self.state() == "started" && !matches!(self.life, Life::Started) {
            self.life = Life::Started;
            self.running_since = Some(now);
            self.active_at = now;
        }
        if self.life == Life::Started && self.auto_stop_interval > 0 {
            let at = self.active_at + mins(self.auto_stop_interval);
            if now >= at {
                self.stop_at(at);
                if self.auto_delete_interval == 0 {
                    return true;
                }
            }
        }
        let since = match self.life {
            Life::Stopped { since } | Life::Archived { since } => since,
            _ => return false,
        };
        if self.auto_delete_interval >= 0 && now >= since + mins(self.auto_delete_interval) {
            return true;
        }
        let archive = match self.auto_archive_interval {
            0 => MAX_AUTO_ARCHIVE_MINUTES,
            n => n,
        };
        if matches!(self.life, Life::Stopped { .. }) && now >= since + mins(archive) {
            self.life = Life::Archived { since };
        }
        false
    }

    pub(crate) fn dto(&self, toolbox_url: &str) -> Value {
        let error_reason = match &self.fault {
            Some(CreateFault::Error(r)) if self.state() == "error" => Value::String(r.clone()),
            _ => Value::Null,
        };
        json!({
            "id": self.id,
            "organizationId": "org-emulated",
            "name": self.name,
            "snapshot": self.snapshot,
            "user": "daytona",
            "env": self.env,
            "labels": self.labels,
            "public": false,
            "networkBlockAll": self.network_block_all,
            "target": self.target,
            "cpu": 1,
            "gpu": 0,
            "memory": 1,
            "disk": 3,
            "state": self.state(),
            "desiredState": match self.state() {
                "stopped" => "stopped",
                "archived" => "archived",
                _ => "started",
            },
            "errorReason": error_reason,
            "recoverable": false,
            "autoStopInterval": self.auto_stop_interval,
            "autoArchiveInterval": self.auto_archive_interval,
            "autoDeleteInterval": self.auto_delete_interval,
            "createdAt": atlas_emulator_kit::rfc3339_millis(self.created_at),
            "updatedAt": atlas_emulator_kit::rfc3339_millis(SystemTime::now()),
            "lastActivityAt": atlas_emulator_kit::rfc3339_millis(self.last_activity),
            "sandboxClass": "container",
            "daemonVersion": "0.190.0",
            "runnerId": "runner-emulated",
            "toolboxProxyUrl": toolbox_url,
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct EmuState {
    pub(crate) sandboxes: BTreeMap<String, EmuSandbox>,
    pub(crate) start_delay: Duration,
    pub(crate) create_faults: VecDeque<CreateFault>,
    pub(crate) api_key: Option<String>,
    /// How long an emulated minute of the lifecycle intervals lasts (`None`: a minute).
    pub(crate) minute: Option<Duration>,
}

impl EmuState {
    /// Fires every sandbox's timers; the ones due for deletion go.
    pub(crate) fn tick(&mut self) {
        let minute = self.minute.unwrap_or(Duration::from_secs(60));
        self.sandboxes.retain(|_, sb| !sb.tick(minute));
    }
}
