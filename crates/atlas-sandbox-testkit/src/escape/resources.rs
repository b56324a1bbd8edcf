//! Resources (R): bombs, timeouts, floods and huge inputs stay inside the sandbox.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use atlas_sandbox_sdk::{ErrorKind, ExecRequest, TIMEOUT_EXIT_CODE};

use super::{
    Ctx, QUICK, RowResult, attempt_notes, check_host_responsive, clip, leaks, req, run_all,
    run_all_and_close, short, verdict,
};
use crate::SandboxFactory;
use crate::host::{Attempt, attempt, kill_pid, processes_with_marker, random_token, rss_kib};

impl<F: SandboxFactory> Ctx<'_, F> {
    /// R1: a fork bomb is contained; the host still spawns; nothing is left running.
    pub(super) async fn r1(&self) -> RowResult {
        self.gate()?;
        let (_root, sb) = self.open_fresh("r1").await?;
        let marker = format!("ATLAS-R1-{}", random_token());
        let command = format!(": {marker}; bomb() {{ bomb | bomb & }}; bomb; sleep 5");
        let a = attempt(sb.as_ref(), req(command, Duration::from_secs(2))).await;
        let _ = sb.close().await;
        let mut reasons = leaks(&[("fork bomb".to_owned(), a)], &[]);
        let responsive = check_host_responsive(&mut reasons).await;
        let leftovers = wait_for_no_marker(&marker, Duration::from_secs(5)).await;
        if leftovers > 0 {
            reasons.push(format!(
                "{leftovers} fork-bomb processes still running 5 s later"
            ));
        }
        Ok(verdict(&reasons, || {
            let took = responsive.map(|d| d.as_millis()).unwrap_or_default();
            format!("host `true` took {took} ms; no process left")
        }))
    }

    /// R2: a memory bomb fails or times out; the host stays fine.
    pub(super) async fn r2(&self) -> RowResult {
        self.gate()?;
        let (_root, sb) = self.open_fresh("r2").await?;
        let rss_before = rss_kib();
        // (command, what its stdout shows if the bomb went through unlimited). Pipelines report
        // their last stage's status, so success is judged by the byte count, not the exit code.
        let bombs: [(&str, &str); 3] = [
            ("head -c 4G /dev/zero | tail | wc -c", "4294967296"),
            (
                "s=x; i=0; while [ $i -lt 30 ]; do s=\"$s$s\"; i=$((i+1)); done; echo ${#s}",
                "1073741824",
            ),
            (
                "awk 'BEGIN { s = \"x\"; while (1) s = s s }'; echo awk=$?",
                "awk=0",
            ),
        ];
        let commands = bombs.map(|(c, _)| c);
        let results = run_all_and_close(sb, &commands, QUICK).await;
        let mut reasons = leaks(&results, &[]);
        for ((c, a), (_, through)) in results.iter().zip(bombs) {
            if let Attempt::Ran(o) = a
                && o.stdout_str().trim() == through
            {
                reasons.push(format!(
                    "`{}` completed: the memory was not limited",
                    short(c)
                ));
            }
        }
        check_host_memory(rss_before, &mut reasons);
        check_host_responsive(&mut reasons).await;
        Ok(verdict(&reasons, || attempt_notes(&results)))
    }

    /// R3: `sleep 1000` and a CPU loop are killed at a 1 s timeout with exit 124.
    pub(super) async fn r3(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("r3").await?;
        let timeout = Duration::from_secs(1);
        let limit = timeout + self.opts.timeout_slack;
        let mut reasons = Vec::new();
        let mut took_all = Vec::new();
        for command in ["sleep 1000", "while :; do :; done"] {
            let start = Instant::now();
            let a = attempt(sb.as_ref(), req(command, timeout)).await;
            let took = start.elapsed();
            took_all.push(format!("{:.2} s", took.as_secs_f64()));
            match &a {
                Attempt::Ran(o) if o.exit_code == TIMEOUT_EXIT_CODE && o.timed_out => {
                    if took > limit {
                        reasons.push(format!(
                            "`{command}` returned after {took:?} (limit {limit:?})"
                        ));
                    }
                }
                other => reasons.push(format!(
                    "`{command}` gave {} instead of exit 124 timed out",
                    other.summary()
                )),
            }
        }
        let _ = sb.close().await;
        Ok(verdict(&reasons, || {
            format!("both killed with 124 after {}", took_all.join(" and "))
        }))
    }

    /// R4: `yes` and `cat /dev/zero` are capped with the notice; our memory stays bounded.
    pub(super) async fn r4(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("r4").await?;
        let cap = 64 * 1024;
        let notice = atlas_sandbox_sdk::truncation_notice(cap);
        let rss_before = rss_kib();
        let mut reasons = Vec::new();
        let mut notes = Vec::new();
        for command in ["yes", "cat /dev/zero"] {
            let start = Instant::now();
            let a = attempt(
                sb.as_ref(),
                ExecRequest::new(command)
                    .timeout(Duration::from_secs(10))
                    .max_output_bytes(cap),
            )
            .await;
            notes.push(format!(
                "`{command}`: {} in {:.2} s",
                a.summary(),
                start.elapsed().as_secs_f64()
            ));
            match &a {
                Attempt::Ran(o) => {
                    if o.stdout.len() > cap + notice.len() || o.stderr.len() > cap + notice.len() {
                        reasons.push(format!(
                            "`{command}` returned {} bytes for a cap of {cap}",
                            o.stdout.len()
                        ));
                    }
                    if o.stdout_truncated && !o.stdout.ends_with(notice.as_bytes()) {
                        reasons.push(format!("`{command}` was cut without the notice"));
                    }
                    if command == "yes" && o.exit_code != 127 && !o.stdout_truncated {
                        reasons.push("`yes` was not reported as truncated".into());
                    }
                }
                Attempt::Refused(_) => {}
                other => reasons.push(format!("`{command}`: {}", other.summary())),
            }
        }
        let _ = sb.close().await;
        check_host_memory(rss_before, &mut reasons);
        Ok(verdict(&reasons, || notes.join(", ")))
    }

    /// R5: filling /tmp with data or inodes is stopped and never reaches the host's /tmp.
    pub(super) async fn r5(&self) -> RowResult {
        self.gate()?;
        let (_root, sb) = self.open_fresh("r5").await?;
        let marker = format!("atlas-fill-{}", random_token());
        let commands = [
            format!("head -c 20G /dev/zero > /tmp/{marker}-data; echo status=$?"),
            format!(
                "i=0; while : > /tmp/{marker}-inode-$i; do i=$((i+1)); done; echo stopped at $i"
            ),
        ];
        let results = run_all(sb.as_ref(), &commands, Duration::from_secs(4)).await;
        let _ = attempt(
            sb.as_ref(),
            req(format!("rm -rf /tmp/{marker}-*"), Duration::from_secs(20)),
        )
        .await;
        let _ = sb.close().await;
        let mut reasons = leaks(&results, &[]);
        let host_tmp = std::env::temp_dir();
        let mut on_host = 0;
        for dir in [PathBuf::from("/tmp"), host_tmp] {
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if e.file_name().to_string_lossy().starts_with(&marker) {
                        on_host += 1;
                        // Our own attack's debris, by its unique name.
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        if on_host > 0 {
            reasons.push(format!(
                "{on_host} files of the attack appeared in the host's /tmp"
            ));
        }
        check_host_responsive(&mut reasons).await;
        Ok(verdict(&reasons, || attempt_notes(&results)))
    }

    /// R6: a 1 MB command is a clear error (or a faithful result); binary bytes come back exact.
    pub(super) async fn r6(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("r6").await?;
        let mut reasons = Vec::new();
        let payload = "a".repeat(1024 * 1024);
        match attempt(
            sb.as_ref(),
            req(format!("echo {payload}"), Duration::from_secs(10)),
        )
        .await
        {
            Attempt::Refused(e) if e.kind() == ErrorKind::InvalidRequest => {}
            Attempt::Ran(o) if o.success() && o.stdout == format!("{payload}\n").as_bytes() => {}
            other => reasons.push(format!(
                "a 1 MB command gave {} (expected Err(InvalidRequest) or a faithful echo)",
                clip(&other.summary(), 120)
            )),
        }
        let all_bytes: String = (0u8..=255).map(|b| format!("\\{b:03o}")).collect();
        let expected: Vec<u8> = (0u8..=255).collect();
        let checks: Vec<(String, Vec<u8>, &str)> = vec![
            (
                format!("printf '{all_bytes}'"),
                expected,
                "all 256 byte values",
            ),
            (
                "printf '\\303\\050\\377\\376'".to_owned(),
                vec![0xc3, 0x28, 0xff, 0xfe],
                "invalid UTF-8",
            ),
            (
                "printf '%s' 'a\u{1}\u{7f}b'".to_owned(),
                b"a\x01\x7fb".to_vec(),
                "control bytes in the command",
            ),
        ];
        for (command, want, what) in &checks {
            match attempt(sb.as_ref(), req(command.as_str(), QUICK)).await {
                Attempt::Ran(o) if &o.stdout == want => {}
                Attempt::Ran(o) => reasons.push(format!(
                    "{what}: got {} bytes, not the {} expected",
                    o.stdout.len(),
                    want.len()
                )),
                other => reasons.push(format!("{what}: {}", other.summary())),
            }
        }
        let _ = sb.close().await;
        Ok(verdict(&reasons, || {
            "1 MB command refused or echoed; 256 byte values, invalid UTF-8 and control bytes exact"
                .into()
        }))
    }
}

/// Waits until no live process carries `marker`; kills what is left (our own attack's
/// processes, found by their unique marker) and returns how many there were.
async fn wait_for_no_marker(marker: &str, patience: Duration) -> usize {
    let until = Instant::now() + patience;
    loop {
        let left = processes_with_marker(marker);
        if left.is_empty() {
            return 0;
        }
        if Instant::now() > until {
            for p in &left {
                kill_pid(p.pid).await;
            }
            return left.len();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Our memory must not grow by more than this while a sandbox produces unbounded output.
const MAX_RSS_GROWTH_KIB: u64 = 256 * 1024;

fn check_host_memory(before: u64, reasons: &mut Vec<String>) {
    let after = rss_kib();
    if after > before + MAX_RSS_GROWTH_KIB {
        reasons.push(format!(
            "the test process grew from {} MiB to {} MiB",
            before / 1024,
            after / 1024
        ));
    }
}
