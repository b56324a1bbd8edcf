//! A deliberately unsandboxed baseline: `bash -c` in a throwaway copy of the layer, run with the
//! SDK's process runner. The contract suite must pass against it and the escape battery must
//! report the rows it cannot hold as FAILED.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use atlas_sandbox_sdk::process::{ProcessSpec, run};
use atlas_sandbox_sdk::{
    Error, ErrorKind, ExecOutput, ExecRequest, Result, Sandbox, SemanticLayer, async_trait,
};

#[derive(Debug)]
pub(crate) struct LocalSh {
    root: PathBuf,
    dir: Mutex<Option<tempfile::TempDir>>,
}

/// Creates a baseline sandbox whose copy lives under `copies` (a directory the test owns, so
/// T2 can watch it for leaks and it disappears with the test).
pub(crate) async fn create(layer: SemanticLayer, copies: PathBuf) -> Result<Box<dyn Sandbox>> {
    let tmp = tempfile::Builder::new()
        .prefix("sb-")
        .tempdir_in(&copies)
        .map_err(|e| Error::backend_failure(format!("temp dir: {e}")))?;
    let root = tmp.path().join("semantic");
    // `cp -a` keeps symlinks as they are: this baseline does not defend against them.
    let cp = run(&ProcessSpec::new("/bin/cp")
        .arg("-a")
        .arg(layer.root())
        .arg(&root)
        .timeout(std::time::Duration::from_secs(30)))
    .await
    .map_err(|e| Error::backend_failure(format!("cp: {e}")))?;
    if !cp.output.success() {
        return Err(Error::backend_failure(format!(
            "cp -a failed: {}",
            cp.output.stderr_str().trim()
        )));
    }
    Ok(Box::new(LocalSh {
        root,
        dir: Mutex::new(Some(tmp)),
    }))
}

#[async_trait]
impl Sandbox for LocalSh {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        if self
            .dir
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
        {
            return Err(Error::new(ErrorKind::SandboxGone, "the sandbox is closed"));
        }
        let cwd = self.root.join(request.relative_cwd()?);
        // bash, as every backend that runs a real shell.
        let spec = ProcessSpec::new("/bin/bash")
            .arg("-c")
            .arg(&request.command)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LC_ALL", "C")
            .env("HOME", &self.root)
            .cwd(cwd)
            .timeout(request.timeout)
            .max_output_bytes(request.max_output_bytes);
        run(&spec)
            .await
            .map(|r| r.output)
            .map_err(|e| Error::backend_failure(format!("spawn: {e}")))
    }

    async fn close(&self) -> Result<()> {
        let dir = self
            .dir
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(dir);
        Ok(())
    }
}
