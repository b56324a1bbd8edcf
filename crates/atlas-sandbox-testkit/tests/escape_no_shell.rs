//! The escape battery against a sandbox that has no commands at all: every command "is not
//! found". Nothing can leak through it and nothing can hurt the host, so the probe lets the
//! destructive rows (P1, R1, R2, R5) run and they must be reported held; the rows that need a
//! working shell (R3's exit 124, R6's exact bytes, T2's `echo`) must be reported FAILED.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use atlas_sandbox_sdk::{
    CappedBuffer, Error, ErrorKind, ExecOutput, ExecRequest, Result, Sandbox, SemanticLayer,
    async_trait,
};
use atlas_sandbox_testkit::escape::{self, EscapeOptions};

#[derive(Debug, Default)]
struct NoShell {
    closed: AtomicBool,
}

#[async_trait]
impl Sandbox for NoShell {
    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput> {
        request.validate()?;
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::new(ErrorKind::SandboxGone, "closed"));
        }
        let mut err = CappedBuffer::new(request.max_output_bytes);
        err.push(b"sh: command not found\n");
        Ok(ExecOutput::from_streams(
            CappedBuffer::new(request.max_output_bytes),
            err,
            127,
            false,
            Duration::ZERO,
        ))
    }

    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

async fn create(_layer: SemanticLayer) -> Result<Box<dyn Sandbox>> {
    Ok(Box::new(NoShell::default()))
}

#[tokio::test]
async fn battery_runs_the_destructive_rows_when_the_probe_sees_no_host() {
    let report = escape::run("no-shell", create, EscapeOptions::new().t2_sessions(5)).await;
    report.print_table();
    let label = |id: &str| report.outcome(id).unwrap().label(report.suite);
    for id in [
        "F1", "F2", "F3", "F4", "F5", "P1", "I1", "N1", "R1", "R2", "R4", "R5",
    ] {
        assert_eq!(label(id), "held", "{id}: {}", report.table());
    }
    for id in ["R3", "R6", "T2"] {
        assert_eq!(label(id), "FAILED", "{id}: {}", report.table());
    }
    assert_eq!(label("P2"), "not applicable");
    assert_eq!(label("T1"), "not applicable");
    let r3 = report.outcome("R3").unwrap().detail();
    assert!(r3.contains("exit 127"), "{r3}");
}
