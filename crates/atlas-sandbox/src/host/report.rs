//! What `atlas-sandbox backends` reports: the backend selection would pick now, without
//! creating anything, and every known backend's row. Kept apart from selection itself because
//! it only reads the host's state and never creates or closes a sandbox.

use std::collections::HashMap;
use std::path::PathBuf;

use atlas_sandbox_sdk::{HealthStatus, SecurityProfile};
use serde::Serialize;

use super::{Host, JUST_BASH, SlotState};
use crate::config::SemanticRootSource;
use crate::registry::KNOWN_BACKENDS;

impl Host {
    /// The backend selection would pick now (highest-priority healthy, allowed candidate),
    /// without creating anything, and why each other backend would not be used.
    pub(super) fn predicted(&self) -> (Option<String>, String, HashMap<String, String>) {
        let mut why: HashMap<String, String> = HashMap::new();
        for r in self.inert_rejections() {
            why.insert(r.id, r.reason);
        }
        if self.slots.is_empty() {
            return (
                None,
                "no backend compiled in: build with --features just-bash".into(),
                why,
            );
        }
        if let Some((pin, origin)) = &self.settings.backend {
            let slot_ok = self
                .slots
                .iter()
                .any(|s| &s.id == pin && s.plugin().is_some());
            let health = self.healthy(pin);
            let refused = (pin == JUST_BASH)
                .then(|| self.just_bash_refused())
                .flatten();
            for s in &self.slots {
                if &s.id != pin {
                    why.entry(s.id.clone())
                        .or_insert_with(|| format!("not used: '{pin}' is pinned ({origin})"));
                }
            }
            return match (slot_ok, health, refused) {
                (true, Ok(()), None) => (
                    Some(pin.clone()),
                    format!("pinned by sandbox.backend ({origin})"),
                    why,
                ),
                (false, _, _) => (
                    None,
                    format!("'{pin}' is pinned ({origin}) but not usable: commands are refused"),
                    why,
                ),
                (true, Err(reason), _) | (true, Ok(()), Some(reason)) => {
                    why.insert(pin.clone(), reason.clone());
                    (
                        None,
                        format!("'{pin}' is pinned ({origin}) but {reason}: commands are refused"),
                        why,
                    )
                }
            };
        }
        let mut selected: Option<String> = None;
        let mut passed: Vec<String> = Vec::new();
        for &i in &self.order {
            let s = &self.slots[i];
            if let Some(sel) = &selected {
                let reason = match self.healthy(&s.id) {
                    Ok(()) => format!("healthy; lower in the order than '{sel}'"),
                    Err(reason) => reason,
                };
                why.insert(s.id.clone(), reason);
                continue;
            }
            if let Err(reason) = self.healthy(&s.id) {
                why.insert(s.id.clone(), reason);
                passed.push(s.id.clone());
                continue;
            }
            if s.id == JUST_BASH
                && let Some(reason) = self.just_bash_refused()
            {
                why.insert(s.id.clone(), reason);
                continue;
            }
            selected = Some(s.id.clone());
        }
        let reason = match &selected {
            Some(id) if passed.is_empty() => {
                format!("highest-priority healthy backend{}", self.order_note())
            }
            Some(id) => format!(
                "highest-priority healthy backend{}; {} passed over: {}{}",
                self.order_note(),
                if passed.len() == 1 { "one" } else { "several" },
                passed.join(", "),
                if id == JUST_BASH {
                    " (SECURITY DEGRADATION: just-bash has no OS isolation)"
                } else {
                    ""
                }
            ),
            None => "no healthy backend may be used: commands are refused".into(),
        };
        (selected, reason, why)
    }

    fn order_note(&self) -> String {
        match &self.settings.priority {
            Some(list) => format!(" (order from sandbox.priority: {})", list.join(", ")),
            None => String::new(),
        }
    }

    /// Everything `atlas-sandbox backends` shows.
    pub async fn report(&self) -> Report {
        let (selected, selection, why) = self.predicted();
        let in_use: Vec<InUse> = self
            .cache
            .lock()
            .await
            .iter()
            .map(|(root, c)| InUse {
                semantic_root: root.clone(),
                backend: c.id.clone(),
            })
            .collect();
        let position = |id: &str| self.order.iter().position(|&i| self.slots[i].id == id);
        let mut backends: Vec<BackendReport> = self
            .slots
            .iter()
            .map(|s| BackendReport {
                id: s.id.clone(),
                version: Some(s.version.clone()),
                compiled_in: true,
                cargo_feature: s.cargo_feature.clone(),
                configured: matches!(s.state, SlotState::Ready(_)),
                enabled: s.enabled,
                priority: Some(s.priority),
                default_priority: s.default_priority,
                order: position(&s.id).map(|p| p + 1),
                security: Some(s.security.clone()),
                health: self.health.get(&s.id).cloned(),
                selected: selected.as_deref() == Some(s.id.as_str()),
                reason: if selected.as_deref() == Some(s.id.as_str()) {
                    selection.clone()
                } else {
                    why.get(&s.id).cloned().unwrap_or_default()
                },
            })
            .collect();
        for k in KNOWN_BACKENDS {
            if !self.slots.iter().any(|s| s.id == k.id) {
                backends.push(BackendReport {
                    id: k.id.to_owned(),
                    version: None,
                    compiled_in: false,
                    cargo_feature: k.cargo_feature.to_owned(),
                    configured: false,
                    enabled: false,
                    priority: None,
                    default_priority: k.default_priority,
                    order: None,
                    security: None,
                    health: None,
                    selected: false,
                    reason: format!("not compiled in (Cargo feature `{}`)", k.cargo_feature),
                });
            }
        }
        backends.sort_by_key(|b| (b.order.unwrap_or(usize::MAX), -b.default_priority));
        Report {
            semantic_root: self.settings.semantic_root.clone(),
            semantic_root_source: self.settings.semantic_root_source.clone(),
            production: self.settings.production,
            pinned: self.settings.backend.as_ref().map(|(b, _)| b.clone()),
            priority_list: self.settings.priority.clone(),
            health_check_timeout_ms: self.settings.health_check_timeout.as_secs_f64() * 1000.0,
            health_elapsed_ms: self.health_elapsed.as_secs_f64() * 1000.0,
            selected,
            selection,
            in_use,
            backends,
        }
    }
}

/// A semantic root with a live sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct InUse {
    /// The root.
    pub semantic_root: PathBuf,
    /// The backend serving it.
    pub backend: String,
}

/// One row of `atlas-sandbox backends`.
#[derive(Debug, Clone, Serialize)]
pub struct BackendReport {
    /// Plugin id.
    pub id: String,
    /// Crate version (when compiled in).
    pub version: Option<String>,
    /// Whether this binary contains it.
    pub compiled_in: bool,
    /// Its Cargo feature.
    pub cargo_feature: String,
    /// Whether it has the config it needs (and was built).
    pub configured: bool,
    /// `enabled`.
    pub enabled: bool,
    /// Effective priority.
    pub priority: Option<i32>,
    /// Default priority.
    pub default_priority: i32,
    /// 1-based position in the selection order (candidates only).
    pub order: Option<usize>,
    /// What it isolates.
    pub security: Option<SecurityProfile>,
    /// The startup health check.
    pub health: Option<HealthStatus>,
    /// Whether selection picks it.
    pub selected: bool,
    /// Why it is (or is not) selected.
    pub reason: String,
}

/// What `atlas-sandbox backends` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The semantic root.
    pub semantic_root: PathBuf,
    /// Where it came from.
    pub semantic_root_source: SemanticRootSource,
    /// Production mode.
    pub production: bool,
    /// The pinned backend.
    pub pinned: Option<String>,
    /// The explicit order.
    pub priority_list: Option<Vec<String>>,
    /// The overall health deadline.
    pub health_check_timeout_ms: f64,
    /// How long all health checks took together.
    pub health_elapsed_ms: f64,
    /// The backend selection picks.
    pub selected: Option<String>,
    /// Why.
    pub selection: String,
    /// Sandboxes created so far.
    pub in_use: Vec<InUse>,
    /// Every known backend.
    pub backends: Vec<BackendReport>,
}
