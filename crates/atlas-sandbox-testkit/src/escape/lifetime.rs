//! Lifetime (T): killing the host or churning through sessions leaves nothing behind.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{Ctx, RowResult, held, req, verdict};
use crate::SandboxFactory;
use crate::host::{Attempt, attempt, descendants};
use crate::report::Outcome;

impl<F: SandboxFactory> Ctx<'_, F> {
    /// T1: needs the host killed, which this process cannot do to itself.
    pub(super) async fn t1(&self) -> RowResult {
        if let Some(hook) = &self.opts.t1_hook {
            return (hook.0)().await.map(held);
        }
        let by = self
            .opts
            .t1_covered_by
            .as_deref()
            .unwrap_or("nothing: the backend must test it separately");
        Ok(Outcome::Skipped(format!(
            "not applicable here: killing the host cannot be done in-process; covered by {by}"
        )))
    }

    /// T2: many sessions leave no processes and no temporary directories behind.
    pub(super) async fn t2(&self) -> RowResult {
        let root = self
            .ws
            .fresh_layer("t2")
            .map_err(|e| format!("cannot copy the layer: {e}"))?;
        let me = std::process::id() as i32;
        let procs_before = descendants(me);
        let dirs_before: Vec<usize> = self
            .opts
            .watch_temp_dirs
            .iter()
            .map(|d| count_entries(d))
            .collect();
        let mut reasons = Vec::new();
        let n = self.opts.t2_sessions;
        let start = Instant::now();
        for i in 0..n {
            let sb = match self.open(&root).await {
                Ok(sb) => sb,
                Err(e) => {
                    reasons.push(format!("session {i}: {e}"));
                    break;
                }
            };
            match attempt(sb.as_ref(), req("echo t2", Duration::from_secs(10))).await {
                Attempt::Ran(o) if o.stdout == b"t2\n" => {}
                other => reasons.push(format!("session {i}: `echo t2` gave {}", other.summary())),
            }
            if let Err(e) = sb.close().await {
                reasons.push(format!("session {i}: close failed: {e}"));
            }
            if reasons.len() > 3 {
                break;
            }
        }
        let took = start.elapsed();
        // Processes may take a moment to be reaped after close.
        let settle = Instant::now() + Duration::from_secs(5);
        let leaked = loop {
            let leaked = descendants(me)
                .into_values()
                .filter(|p| !procs_before.contains_key(&p.pid) && p.state != 'Z')
                .map(|p| {
                    format!(
                        "{} ({})",
                        p.pid,
                        String::from_utf8_lossy(&p.cmdline)
                            .replace('\0', " ")
                            .trim()
                    )
                })
                .collect::<Vec<_>>();
            if leaked.is_empty() || Instant::now() > settle {
                break leaked;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        if !leaked.is_empty() {
            reasons.push(format!(
                "{} processes leaked: {}",
                leaked.len(),
                leaked.join(", ")
            ));
        }
        for (dir, before) in self.opts.watch_temp_dirs.iter().zip(dirs_before) {
            let after = count_entries(dir);
            if after > before {
                reasons.push(format!(
                    "{} holds {} entries more than before",
                    dir.display(),
                    after - before
                ));
            }
        }
        Ok(verdict(&reasons, || {
            format!(
                "{n} sessions in {:.1} s; no process or temp entry left ({} dirs watched)",
                took.as_secs_f64(),
                self.opts.watch_temp_dirs.len()
            )
        }))
    }
}

fn count_entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}
