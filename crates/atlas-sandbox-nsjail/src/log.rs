//! Reading nsjail's own log (written to a per-exec file, never to the command's stderr), to tell
//! the command's exit status apart from nsjail failing to build the jail. nsjail exits 255 on a
//! setup failure, which a command can also do, so the exit code alone cannot say which.

/// What nsjail's log says happened to the jailed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JailOutcome {
    /// The command ran and exited with this status.
    Exited(i32),
    /// The command ran and was killed by this signal.
    Signaled(i32),
    /// nsjail killed the command at its own time limit.
    TimeLimit,
    /// The command ran and was killed for a seccomp violation.
    SeccompViolation,
    /// The command never ran: nsjail could not set up the jail. The messages are the log's
    /// error and fatal lines.
    SetupFailed(Vec<String>),
    /// The command started but nsjail ended without reporting how it ended (nsjail itself was
    /// killed). The messages are the log's error and fatal lines.
    Interrupted(Vec<String>),
}

/// Parses the log of one nsjail run. Unknown lines are ignored: only the markers below matter.
pub fn parse(log: &str) -> JailOutcome {
    let mut errors = Vec::new();
    let mut time_limit = false;
    let mut seccomp = false;
    let mut exited = None;
    let mut signaled = None;
    let mut started = false;
    for line in log.lines() {
        if line.contains("Executing '") {
            started = true;
        }
        if line.starts_with("[E]") || line.starts_with("[F]") {
            errors.push(strip_prefix(line).to_owned());
        }
        if line.contains("run time >= time limit") {
            time_limit = true;
        }
        if line.contains("syscall/seccomp violation") || line.contains("seccompViolation") {
            seccomp = true;
        }
        if let Some(rest) = after(line, "exited with status: ") {
            exited = leading_int(rest);
        }
        if let Some(rest) = after(line, "terminated with signal: ") {
            // "SIGKILL (9)"
            signaled = rest.split_once('(').and_then(|(_, n)| leading_int(n));
        }
    }
    match (exited, signaled) {
        (Some(code), _) => JailOutcome::Exited(code),
        (None, Some(_)) if time_limit => JailOutcome::TimeLimit,
        (None, Some(_)) if seccomp => JailOutcome::SeccompViolation,
        (None, Some(sig)) => JailOutcome::Signaled(sig),
        (None, None) if seccomp => JailOutcome::SeccompViolation,
        (None, None) if started => JailOutcome::Interrupted(errors),
        (None, None) => JailOutcome::SetupFailed(errors),
    }
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

fn leading_int(s: &str) -> Option<i32> {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok()
}

/// `[E][2026-11-24T09:24:24+0000][11881] preparePolicy():198 Could not ...` → the message part.
fn strip_prefix(line: &str) -> &str {
    let mut rest = line;
    while let Some(r) = rest.strip_prefix('[') {
        match r.find(']') {
            Some(i) => rest = &r[i + 1..],
            None => break,
        }
    }
    rest.trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[I][2026-11-24T09:24:28+0000] Mode: STANDALONE_ONCE\n\
        [I][2026-11-24T09:24:28+0000] Jail parameters: hostname:'atlas', chroot:''\n\
        [I][2026-11-24T09:24:28+0000] Executing '/bin/sh' for '[STANDALONE MODE]'\n";

    #[test]
    fn exit_status() {
        let log = format!(
            "{HEAD}[I][2026-11-24T09:24:28+0000] pid=11939 ([STANDALONE MODE]) exited with status: 7, (PIDs left: 0)\n"
        );
        assert_eq!(parse(&log), JailOutcome::Exited(7));
        let log = format!(
            "{HEAD}[I][x] pid=1 ([STANDALONE MODE]) exited with status: 255, (PIDs left: 0)\n"
        );
        assert_eq!(parse(&log), JailOutcome::Exited(255));
    }

    #[test]
    fn time_limit_and_signals() {
        let log = format!(
            "{HEAD}[I][x] pid=5 run time >= time limit (2 >= 2) ([STANDALONE MODE]). Killing it\n\
             [I][x] pid=5 ([STANDALONE MODE]) terminated with signal: SIGKILL (9), (PIDs left: 0)\n"
        );
        assert_eq!(parse(&log), JailOutcome::TimeLimit);
        let log = format!(
            "{HEAD}[I][x] pid=5 ([STANDALONE MODE]) terminated with signal: SIGSEGV (11), (PIDs left: 0)\n"
        );
        assert_eq!(parse(&log), JailOutcome::Signaled(11));
        let log = format!(
            "{HEAD}[W][x] pid=5 commited a syscall/seccomp violation and exited with SIGSYS\n\
             [I][x] pid=5 ([STANDALONE MODE]) terminated with signal: SIGSYS (31), (PIDs left: 0)\n"
        );
        assert_eq!(parse(&log), JailOutcome::SeccompViolation);
    }

    #[test]
    fn setup_failure_keeps_the_messages() {
        let log = "[I][x] Mode: STANDALONE_ONCE\n\
            [E][2026-11-24T09:24:24+0000][11881] preparePolicy():198 Could not compile policy: 43:3: syntax error\n\
            [F][2026-11-24T09:24:24+0000][11881] main():386 Couldn't prepare sandboxing policy\n";
        match parse(log) {
            JailOutcome::SetupFailed(msgs) => {
                assert_eq!(msgs.len(), 2);
                assert!(
                    msgs[0].starts_with("preparePolicy():198 Could not compile"),
                    "{msgs:?}"
                );
                assert!(msgs[1].contains("Couldn't prepare"), "{msgs:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(""), JailOutcome::SetupFailed(vec![]));
        assert_eq!(parse(HEAD), JailOutcome::Interrupted(vec![]));
    }
}
