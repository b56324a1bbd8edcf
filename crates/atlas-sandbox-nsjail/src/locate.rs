//! Finding the nsjail binary: `nsjail_path` from config, then `NSJAIL_PATH`, then `PATH`.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use atlas_sandbox_sdk::process::find_in_path;

/// The environment variable that names the binary when config does not.
pub const NSJAIL_PATH_VAR: &str = "NSJAIL_PATH";

/// How to get nsjail, appended to every "not found" message.
pub const INSTALL_HINT: &str = "nsjail is not packaged by Debian: build it from source \
    (github.com/google/nsjail, see docs/backends/nsjail.md) and set nsjail_path or NSJAIL_PATH, \
    or put it on PATH";

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The binary to run, or why there is none. An explicit path that does not work is reported as
/// such rather than silently replaced by another nsjail found later in the order.
pub fn find_nsjail(
    configured: Option<&Path>,
    env_value: Option<&OsStr>,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, String> {
    if let Some(p) = configured {
        return if is_executable(p) {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "nsjail_path {} is not an executable file; {INSTALL_HINT}",
                p.display()
            ))
        };
    }
    if let Some(v) = env_value.filter(|v| !v.is_empty()) {
        let p = Path::new(v);
        return if is_executable(p) {
            Ok(p.to_path_buf())
        } else {
            Err(format!(
                "{NSJAIL_PATH_VAR}={} is not an executable file; {INSTALL_HINT}",
                p.display()
            ))
        };
    }
    find_in_path("nsjail", path_var)
        .ok_or_else(|| format!("nsjail not found on PATH; {INSTALL_HINT}"))
}

/// [`find_nsjail`] with this process's environment.
pub fn find_nsjail_here(configured: Option<&Path>) -> Result<PathBuf, String> {
    find_nsjail(
        configured,
        std::env::var_os(NSJAIL_PATH_VAR).as_deref(),
        std::env::var_os("PATH").as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn order_is_config_env_path() {
        let t = tempfile::tempdir().unwrap();
        let a = exe(t.path(), "a");
        let b = exe(t.path(), "b");
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let on_path = exe(&bin, "nsjail");
        let path_var = bin.as_os_str();
        assert_eq!(
            find_nsjail(Some(&a), Some(b.as_os_str()), Some(path_var)).unwrap(),
            a
        );
        assert_eq!(
            find_nsjail(None, Some(b.as_os_str()), Some(path_var)).unwrap(),
            b
        );
        assert_eq!(find_nsjail(None, None, Some(path_var)).unwrap(), on_path);
        assert_eq!(
            find_nsjail(None, Some(OsStr::new("")), Some(path_var)).unwrap(),
            on_path
        );
    }

    #[test]
    fn missing_binaries_explain_how_to_install() {
        let t = tempfile::tempdir().unwrap();
        let not_exec = t.path().join("nsjail");
        std::fs::write(&not_exec, "x").unwrap();
        let e = find_nsjail(Some(&not_exec), None, None).unwrap_err();
        assert!(
            e.contains("nsjail_path") && e.contains("docs/backends/nsjail.md"),
            "{e}"
        );
        let e = find_nsjail(None, Some(OsStr::new("/nonexistent/nsjail")), None).unwrap_err();
        assert!(e.contains("NSJAIL_PATH"), "{e}");
        let e = find_nsjail(None, None, Some(t.path().join("empty").as_os_str())).unwrap_err();
        assert!(e.contains("not found on PATH"), "{e}");
    }
}
