//! Privileges (P): no namespace, mount, signal or terminal trick reaches the host.

use super::{
    Ctx, QUICK, RowResult, attempt_notes, hidden_echo, leaks, req, run_all_and_close, verdict,
};
use crate::SandboxFactory;
use crate::host::attempt;
use crate::report::Outcome;

impl<F: SandboxFactory> Ctx<'_, F> {
    /// P1: `unshare`, `mount`, `kill -9 -1` fail or stay harmless.
    pub(super) async fn p1(&mut self) -> RowResult {
        self.gate()?;
        let commands = [
            "unshare -r id",
            "mount -t tmpfs none /tmp; echo mount=$?",
            "find / -xdev -perm -4000 -type f 2>/dev/null | head -5",
            "kill -9 -1",
        ];
        let results = self.attack("p1", &commands, QUICK).await?;
        let mut reasons = leaks(&results, &[]);
        if let Some(s) = self.sentinel.as_ref()
            && !s.alive()
        {
            reasons.push("`kill -9 -1` killed a host process (the sentinel)".into());
        }
        match std::fs::read_to_string(&self.ws.canary_file) {
            Ok(s) if s.contains(&self.ws.canary) => {}
            _ => reasons.push("the host's /tmp changed under `mount -t tmpfs none /tmp`".into()),
        }
        Ok(verdict(&reasons, || attempt_notes(&results)))
    }

    /// P2: TIOCSTI through python3 or perl cannot inject keystrokes.
    pub(super) async fn p2(&self) -> RowResult {
        let (_root, sb) = self.open_fresh("p2").await?;
        let which = attempt(
            sb.as_ref(),
            req("command -v python3; command -v perl", QUICK),
        )
        .await;
        let found = which
            .output()
            .map(|o| o.stdout_str().to_string())
            .unwrap_or_default();
        let has_python = found.contains("python3");
        let has_perl = found.contains("perl");
        if !has_python && !has_perl {
            let _ = sb.close().await;
            return Ok(Outcome::Skipped(
                "neither python3 nor perl exists in the sandbox".into(),
            ));
        }
        // The /dev/tty variants could reach the developer's terminal when the sandbox shares
        // the host's session; run them only when that cannot happen.
        let host_has_tty = std::fs::File::open("/dev/tty").is_ok();
        let try_tty = !(self.confinement.unconfined() && host_has_tty);
        let inject = hidden_echo("INJECTED");
        let mut commands = Vec::new();
        if has_python {
            commands.push(format!(
                "python3 -c 'import fcntl, termios; fcntl.ioctl(0, termios.TIOCSTI, b\"#\")' && {inject}"
            ));
            if try_tty {
                commands.push(format!(
                    "python3 -c 'import os, fcntl, termios; fd = os.open(\"/dev/tty\", os.O_RDWR); fcntl.ioctl(fd, termios.TIOCSTI, b\"#\")' && {inject}"
                ));
            }
        }
        if has_perl {
            commands.push(format!(
                "perl -e 'ioctl(STDIN, 0x5412, \"#\") or die \"refused: $!\\n\"' && {inject}"
            ));
            if try_tty {
                commands.push(format!(
                    "perl -e 'open(T, \"+<\", \"/dev/tty\") or die \"no tty: $!\\n\"; ioctl(T, 0x5412, \"#\") or die \"refused: $!\\n\"' && {inject}"
                ));
            }
        }
        let results = run_all_and_close(sb, &commands, QUICK).await;
        let secrets = [("a successful TIOCSTI".to_owned(), b"INJECTED".to_vec())];
        Ok(verdict(&leaks(&results, &secrets), || {
            let note = if try_tty {
                ""
            } else {
                "; the /dev/tty variants were not run (the host has a terminal the sandbox could reach)"
            };
            format!("{} injections refused{note}", commands.len())
        }))
    }
}
