//! Test support shared by every atlas-sandbox backend (use it as a dev-dependency).
//!
//! # The example semantic layer
//!
//! [`example_layer`] is the absolute path of `config/semantic` in this workspace: an e-commerce
//! company's layer (`catalog.yml`, `glossary.yml`, `entities/`, `metrics/`, a nested
//! `groups/finance/entities/` directory, and one file with German and Japanese text,
//! [`NON_ASCII_FILE`]). Never let a sandbox write to it: give the sandbox under test a private copy
//! from [`copy_example_layer`] instead.
//!
//! # The contract suite
//!
//! [`contract::run`] checks that a backend behaves like `bash -c` + GNU coreutils on the example
//! layer: byte-exact stdout of the explore commands (compared with what the real `/bin/bash`
//! prints on the same files, at test time), exit codes 0/1/2/127, stderr routing, the timeout
//! (exit 124), the output cap and its notice, non-UTF-8 bytes, request validation, writes never
//! reaching the host, and `close()` semantics. Configure it with [`contract::ContractOptions`].
//!
//! # The escape battery
//!
//! [`escape::run`] runs every row of the escape checklist (F1–F5, P1, P2, I1, N1, R1–R6, T1, T2)
//! that can be observed through the [`Sandbox`] trait and reports each as held, FAILED (with the
//! reason) or not applicable (with the reason). Configure it with [`escape::EscapeOptions`].
//! Attacks that would hurt the machine if the sandbox were not confined (`kill -9 -1`, `mount`,
//! the fork, memory and disk bombs) are run only after a probe shows that the sandbox cannot see
//! or signal a host process; otherwise those rows are FAILED without being executed.
//!
//! # Wiring a backend in
//!
//! Both suites take a factory `Fn(SemanticLayer) -> impl Future<Output = Result<Box<dyn Sandbox>>>`;
//! [`plugin_factory`] makes one from a configured [`SandboxPlugin`]:
//!
//! ```no_run
//! # async fn demo(plugin: &dyn atlas_sandbox_sdk::SandboxPlugin) {
//! use atlas_sandbox_testkit::{contract, escape, plugin_factory};
//!
//! let opts = contract::ContractOptions::new()
//!     .semantic_root("/semantic")
//!     .shares_host_filesystem(true)
//!     .supports_writes(false);
//! let report = contract::run("nsjail", plugin_factory(plugin), opts).await;
//! report.print_table();
//! report.assert_passed();
//!
//! let opts = escape::EscapeOptions::new().t1_covered_by("tests/kill_host.rs");
//! let report = escape::run("nsjail", plugin_factory(plugin), opts).await;
//! report.print_table();
//! report.assert_passed();
//! # }
//! ```
//!
//! Both suites create sandboxes over private temporary copies, never over the workspace's files.
//! A case that cannot run here is skipped: it is printed in the table and as one
//! `SKIPPED: <test>: <why>` line on stderr (see [`skip`]).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};

use atlas_sandbox_sdk::{Result, Sandbox, SandboxPlugin, SemanticLayer};
use futures::future::BoxFuture;

pub mod contract;
pub mod differential;
pub mod direct_lines;
pub mod escape;
mod host;
mod report;
pub mod stats;

pub use report::{CaseResult, Outcome, Report, Suite};

/// The file of the example layer that holds non-ASCII text (German, Japanese, `€`).
pub const NON_ASCII_FILE: &str = "entities/markets.yml";

/// The absolute path of the example semantic layer (`config/semantic` in this workspace).
pub fn example_layer() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/semantic");
    std::fs::canonicalize(&path).unwrap_or(path)
}

/// A fresh, writable copy of the example layer: the temporary directory (deleted on drop) and
/// the copy's root inside it (`<tmp>/semantic`).
///
/// # Panics
///
/// If the copy cannot be made (disk full, example layer missing): this is test setup.
pub fn copy_example_layer() -> (tempfile::TempDir, PathBuf) {
    copy_layer(&example_layer())
        .unwrap_or_else(|e| panic!("cannot copy the example layer {:?}: {e}", example_layer()))
}

/// A fresh copy of any layer directory, as [`copy_example_layer`]. Regular files and directories
/// are copied in sorted order; symlinks, sockets and FIFOs are left out.
pub fn copy_layer(src: &Path) -> io::Result<(tempfile::TempDir, PathBuf)> {
    let tmp = tempfile::Builder::new()
        .prefix("atlas-testkit-layer-")
        .tempdir()?;
    let root = tmp.path().join("semantic");
    copy_tree(src, &root)?;
    Ok((tmp, root))
}

/// Copies the regular files and directories under `src` to `dst` (created), in sorted order.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    let mut entries: Vec<_> = std::fs::read_dir(src)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Reports a test (or a case of a suite) that cannot run here: one loud line on stderr,
/// `SKIPPED: <test>: <why>`. The caller then returns normally (the test passes), as the team
/// conventions ask instead of `#[ignore]`.
pub fn skip(test: &str, why: &str) {
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("{}\n", format_args!("SKIPPED: {test}: {why}")),
    );
}

/// The factory both suites take, from a configured plugin: `plugin.create(&layer)`.
pub fn plugin_factory<'a>(
    plugin: &'a dyn SandboxPlugin,
) -> impl Fn(SemanticLayer) -> BoxFuture<'a, Result<Box<dyn Sandbox>>> + 'a {
    move |layer| Box::pin(async move { plugin.create(&layer).await })
}

/// What the suites need from a factory; implemented for every matching closure.
pub trait SandboxFactory {
    /// The future [`SandboxFactory::create`] returns.
    type Fut: Future<Output = Result<Box<dyn Sandbox>>>;
    /// Creates a sandbox over `layer`.
    fn create(&self, layer: SemanticLayer) -> Self::Fut;
}

impl<F, Fut> SandboxFactory for F
where
    F: Fn(SemanticLayer) -> Fut,
    Fut: Future<Output = Result<Box<dyn Sandbox>>>,
{
    type Fut = Fut;
    fn create(&self, layer: SemanticLayer) -> Fut {
        self(layer)
    }
}
