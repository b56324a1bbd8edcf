//! Which backends this binary knows about, and which of them are compiled in.
//!
//! Registration is explicit (one `#[cfg]` line per backend, below) rather than link-time magic
//! (ctor/inventory): the list is greppable, works on every target, and a missing backend is a
//! Cargo feature you can name in an error.

use atlas_sandbox_sdk::PluginDescriptor;

/// A backend this project knows of, compiled in or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownBackend {
    /// The plugin id (`[plugins.<id>]`).
    pub id: &'static str,
    /// The host Cargo feature that compiles it in.
    pub cargo_feature: &'static str,
    /// The backend crate.
    pub crate_name: &'static str,
    /// The default priority (higher wins).
    pub default_priority: i32,
}

/// Every backend id this project knows, highest default priority first.
pub const KNOWN_BACKENDS: &[KnownBackend] = &[
    KnownBackend {
        id: "vercel",
        cargo_feature: "vercel",
        crate_name: "atlas-sandbox-vercel",
        default_priority: 100,
    },
    KnownBackend {
        id: "e2b",
        cargo_feature: "e2b",
        crate_name: "atlas-sandbox-e2b",
        default_priority: 90,
    },
    KnownBackend {
        id: "daytona",
        cargo_feature: "daytona",
        crate_name: "atlas-sandbox-daytona",
        default_priority: 85,
    },
    KnownBackend {
        id: "jail",
        cargo_feature: "jail",
        crate_name: "atlas-sandbox-jail",
        default_priority: 78,
    },
    KnownBackend {
        id: "nsjail",
        cargo_feature: "nsjail",
        crate_name: "atlas-sandbox-nsjail",
        default_priority: 75,
    },
    KnownBackend {
        id: "sidecar",
        cargo_feature: "sidecar",
        crate_name: "atlas-sandbox-sidecar",
        default_priority: 50,
    },
    KnownBackend {
        id: "just-bash",
        cargo_feature: "just-bash",
        crate_name: "atlas-sandbox-just-bash",
        default_priority: 0,
    },
];

/// The backends compiled into this binary, in the order of [`KNOWN_BACKENDS`].
#[allow(unused_mut, clippy::vec_init_then_push)]
pub fn compiled_in() -> Vec<PluginDescriptor> {
    let mut out: Vec<PluginDescriptor> = Vec::new();
    // backends: one line each
    #[cfg(feature = "vercel")]
    out.push(atlas_sandbox_vercel::descriptor());
    #[cfg(feature = "e2b")]
    out.push(atlas_sandbox_e2b::descriptor());
    #[cfg(feature = "daytona")]
    out.push(atlas_sandbox_daytona::descriptor());
    #[cfg(all(feature = "jail", target_os = "linux"))]
    out.push(atlas_sandbox_jail::descriptor());
    #[cfg(feature = "nsjail")]
    out.push(atlas_sandbox_nsjail::descriptor());
    #[cfg(feature = "just-bash")]
    out.push(atlas_sandbox_just_bash::descriptor());
    #[cfg(feature = "sidecar")]
    out.push(atlas_sandbox_sidecar::descriptor());
    out.sort_by_key(|d| KNOWN_BACKENDS.iter().position(|k| k.id == d.id));
    out
}
