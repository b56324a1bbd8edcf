//! Comparing one backend answer with bash's: normalisation and the verdict.

use std::sync::LazyLock;

use regex::Regex;

use super::corpus::{ROOT, Recorded};

/// How a backend's answer to one command relates to bash's, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// A different answer and nothing on stderr says a feature is missing: the worst defect.
    Wrong,
    /// A different answer that is not a clean refusal, though stderr does say "not supported" or
    /// "command not found" somewhere (bash's did not): a line that went on after the refusal
    /// (`mapfile ...; echo "${#a[@]}"`). Counted as silently wrong, as the issue defines it.
    Flagged,
    /// The backend itself failed (`Err` from `exec`): loud, but no answer.
    Error,
    /// A clear refusal: exit 2 with "not supported" on stderr, or exit 127 `command not found`.
    Refused,
    /// Same stdout, exit code, and emptiness of stderr.
    Identical,
}

impl Verdict {
    /// The word used in reports and baselines.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::Refused => "refused",
            Verdict::Error => "error",
            Verdict::Flagged => "flagged",
            Verdict::Wrong => "wrong",
        }
    }

    /// Parses [`Verdict::word`].
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "identical" => Verdict::Identical,
            "refused" => Verdict::Refused,
            "error" => Verdict::Error,
            "flagged" => Verdict::Flagged,
            "wrong" => Verdict::Wrong,
            _ => return None,
        })
    }

    /// Silently wrong in the issue's sense: different, and not a clean refusal.
    pub fn is_silently_wrong(self) -> bool {
        matches!(self, Verdict::Wrong | Verdict::Flagged)
    }
}

/// Output that follows the directory's readdir order (`find`, `grep -r`, `du` without a `sort`):
/// a fresh checkout lists a directory in another order than the recording machine did, so these
/// compare their lines as a multiset.
pub fn is_unordered(cmd: &str) -> bool {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let walks = words
        .iter()
        .any(|w| *w == "find" || *w == "du" || *w == "xargs")
        || words.windows(2).any(|w| {
            w[0].ends_with("grep")
                && w[1].starts_with('-')
                && !w[1].starts_with("--")
                && w[1].contains(['r', 'R'])
        })
        || words
            .iter()
            .any(|w| *w == "-r" || *w == "-R" || *w == "--recursive");
    walks && !cmd.contains("| sort") && !cmd.contains("|sort")
}

static LONG_LISTING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([-dlbcps][-rwxsStT]{9}[.+@]?)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$")
        .unwrap_or_else(|e| panic!("{e}"))
});

/// The command as sent to a backend whose layer is not at [`ROOT`]: each path that starts with
/// [`ROOT`] (`cat /semantic/catalog.yml`) names the backend's root instead, as a model that was
/// told where the layer is would write it. Without this, a cloud emulator (which runs on this
/// host) would read the host's own `/semantic`, or fail where the host has none.
pub(super) fn place_root(command: &str, backend_root: Option<&str>) -> String {
    let Some(root) = backend_root.filter(|r| *r != ROOT) else {
        return command.to_owned();
    };
    let path_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/');
    let mut out = String::with_capacity(command.len());
    let mut rest = command;
    while let Some(i) = rest.find(ROOT) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + ROOT.len()..].chars().next();
        out.push_str(&rest[..i]);
        let starts_path = before.is_none_or(|c| !path_char(c));
        let ends_name = after.is_none_or(|c| c == '/' || !path_char(c));
        out.push_str(if starts_path && ends_name { root } else { ROOT });
        rest = &rest[i + ROOT.len()..];
    }
    out.push_str(rest);
    out
}

/// What is compared: the backend's semantic root becomes [`ROOT`]. In `ls -l` lines the owner and
/// group (they depend on the uid a backend runs as), the padding, and a directory's link count
/// and size (they depend on the filesystem: 4096 on ext4, a few bytes per entry on tmpfs) become
/// fixed fields, and the `..` line (the host's directory above the root) is dropped.
pub fn normalize(stdout: &[u8], backend_root: Option<&str>) -> Vec<u8> {
    let text = match std::str::from_utf8(stdout) {
        Ok(t) => t,
        Err(_) => return stdout.to_vec(),
    };
    let text = match backend_root {
        Some(r) if r != ROOT => text.replace(r, ROOT),
        _ => text.to_owned(),
    };
    if !text.contains("rw") {
        return text.into_bytes();
    }
    // `ls -la` counts the blocks of `..` in its `total` line, and `..` of the root is the host's
    // directory (4 KiB on ext4, 0 on a jail's tmpfs root): that total is not the layer's.
    let has_parent = text.lines().any(|l| {
        LONG_LISTING
            .captures(l)
            .is_some_and(|c| c[5].split_whitespace().last() == Some(".."))
    });
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        if has_parent && line.starts_with("total ") {
            out.push_str("total (with the root's parent)\n");
            continue;
        }
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        match LONG_LISTING.captures(body) {
            Some(c) => {
                let mut rest: Vec<&str> = c[5].split_whitespace().collect();
                if rest.last() == Some(&"..") {
                    // The parent of the root is the host's own directory.
                    continue;
                }
                let dir = c[1].starts_with('d');
                if dir && let Some(size) = rest.first_mut() {
                    *size = "DIRSIZE";
                }
                let links = if dir { "N" } else { &c[2] };
                out.push_str(&format!(
                    "{} {links} OWNER GROUP {}{nl}",
                    &c[1],
                    rest.join(" ")
                ));
            }
            None => out.push_str(line),
        }
    }
    out.into_bytes()
}

/// Whether an answer is a clear refusal: exit 2 naming an unsupported feature, or a command
/// that does not exist here.
pub fn is_refusal(exit_code: i32, stderr: &[u8]) -> bool {
    let err = String::from_utf8_lossy(stderr).to_ascii_lowercase();
    (exit_code == 2 && err.contains("not supported"))
        || (exit_code == 127 && err.contains("command not found"))
}

fn mentions_refusal(stderr: &[u8]) -> bool {
    let err = String::from_utf8_lossy(stderr).to_ascii_lowercase();
    err.contains("not supported") || err.contains("command not found")
}

/// Whether stderr is empty once the lines a closed pipe makes bash print at random (a writer
/// killed by SIGPIPE when `head` stopped reading: "xargs: echo: terminated by signal 13",
/// "write error: Broken pipe") are left out. They depend on scheduling, not on the command.
pub fn is_quiet(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).lines().all(|l| {
        l.trim().is_empty() || l.contains("terminated by signal 13") || l.contains("Broken pipe")
    })
}

/// The verdict for one answer, and a one-line reason when it is not identical.
pub fn judge(
    want: &Recorded,
    stdout: &[u8],
    stderr: &[u8],
    exit_code: i32,
    backend_root: Option<&str>,
) -> (Verdict, String) {
    let want_out = normalize(&want.stdout_bytes(), None);
    let got_out = normalize(stdout, backend_root);
    let same_out = if is_unordered(&want.command) {
        sorted_lines(&want_out) == sorted_lines(&got_out)
    } else {
        want_out == got_out || racy_same(&want.command, &want_out, &got_out)
    };
    let same_code = want.exit_code == exit_code;
    let same_err = is_quiet(want.stderr.as_bytes()) == is_quiet(stderr);
    if same_out && same_code && same_err {
        return (Verdict::Identical, String::new());
    }
    let mut why = Vec::new();
    if !same_code {
        why.push(format!("exit {} (bash {})", exit_code, want.exit_code));
    }
    if !same_out {
        why.push(first_difference(&want_out, &got_out));
    }
    if !same_err {
        why.push(if is_quiet(stderr) {
            format!("no stderr (bash: {:?})", clip(&want.stderr, 80))
        } else {
            format!(
                "stderr {:?} (bash: none)",
                clip(&String::from_utf8_lossy(stderr), 80)
            )
        });
    }
    let verdict = if is_refusal(exit_code, stderr) {
        Verdict::Refused
    } else if mentions_refusal(stderr) && !mentions_refusal(want.stderr.as_bytes()) {
        Verdict::Flagged
    } else {
        Verdict::Wrong
    };
    (verdict, why.join("; "))
}

/// Commands whose stdout under real bash changes from run to run, with every stdout seen.
/// Python yq writes the document into jq's stdin while jq fails to compile the filter: when jq
/// exits first yq dies of the broken pipe (1), otherwise it passes on jq's 3 (20 runs on the
/// recording machine: 1 fifteen times, 3 five times).
/// `echo hi > >(cat)`: bash does not wait for a process substitution, so whether `cat` prints
/// before the runner ends the command's process group is up to the scheduler.
const RACY: &[(&str, &[&str])] = &[
    (
        "yq '.a |' catalog.yml; echo \"exit=$?\"",
        &["exit=1\n", "exit=3\n"],
    ),
    ("echo hi > >(cat)", &["", "hi\n"]),
    // `true` may exit before grep writes: SIGPIPE (141). Real bash on a loaded host gave 141 in
    // 14 of 100 runs.
    (
        "grep -c x catalog.yml | true; echo \"${PIPESTATUS[0]}\"",
        &["0\n", "141\n"],
    ),
    // grep (through fd 3, the shell's stdout) and wc both write to stdout, from two processes of
    // one pipeline: either may come first.
    (
        "exec 3>&1; grep -c name catalog.yml >&3 | wc -l",
        &["20\n0\n", "0\n20\n"],
    ),
];

/// Whether both stdouts are among those real bash gives for this racy command.
fn racy_same(command: &str, want: &[u8], got: &[u8]) -> bool {
    RACY.iter().any(|(c, outs)| {
        *c == command
            && outs.iter().any(|o| o.as_bytes() == want)
            && outs.iter().any(|o| o.as_bytes() == got)
    })
}

fn sorted_lines(s: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = s.split(|b| *b == b'\n').collect();
    v.sort_unstable();
    v
}

fn first_difference(want: &[u8], got: &[u8]) -> String {
    let w: Vec<&[u8]> = want.split(|b| *b == b'\n').collect();
    let g: Vec<&[u8]> = got.split(|b| *b == b'\n').collect();
    for i in 0..w.len().max(g.len()) {
        let a = w.get(i).copied();
        let b = g.get(i).copied();
        if a != b {
            let show = |x: Option<&[u8]>| match x {
                Some(x) => format!("{:?}", clip(&String::from_utf8_lossy(x), 70)),
                None => "(end)".to_owned(),
            };
            return format!("stdout line {}: {} (bash {})", i + 1, show(b), show(a));
        }
    }
    "stdout differs".to_owned()
}

/// The contract suite's `clip` of the text without its trailing blanks.
pub(crate) fn clip(s: &str, max: usize) -> String {
    crate::contract::clip(s.trim_end(), max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::differential::corpus::recorded;

    #[test]
    fn commands_name_the_backends_root_only_where_a_path_starts_with_it() {
        let r = Some("/tmp/emu/home/user/semantic");
        assert_eq!(
            place_root(
                "cat /semantic/catalog.yml; cd /semantic && ls '/semantic'",
                r
            ),
            "cat /tmp/emu/home/user/semantic/catalog.yml; cd /tmp/emu/home/user/semantic && ls '/tmp/emu/home/user/semantic'"
        );
        assert_eq!(
            place_root(
                "ls /semantic_x a/semantic /semantics; grep -r semantic .",
                r
            ),
            "ls /semantic_x a/semantic /semantics; grep -r semantic ."
        );
        assert_eq!(place_root("cat /semantic/x", None), "cat /semantic/x");
        assert_eq!(place_root("cat /semantic/x", Some(ROOT)), "cat /semantic/x");
    }

    #[test]
    fn owners_and_padding_do_not_count_in_long_listings() {
        let a = normalize(
            b"total 8\n-rw-r--r-- 1 root root  1200 Jan  1 00:10 catalog.yml\n",
            None,
        );
        let b = normalize(
            b"total 8\n-rw-r--r--  1 user  user 1200 Jan  1 00:10 catalog.yml\n",
            None,
        );
        assert_eq!(a, b);
        let c = normalize(
            b"-rw-r--r-- 1 root root 1201 Jan  1 00:10 catalog.yml\n",
            None,
        );
        assert_ne!(a, c);
        let d = normalize(b"drwxr-xr-x 2 root root 4096 Jan  1 00:00 entities\ndrwxr-xr-x 9 root root 4096 Mar  1 10:00 ..\n", None);
        let e = normalize(b"drwxr-xr-x 3 u u 380 Jan  1 00:00 entities\n", None);
        assert_eq!(d, e);
    }

    #[test]
    fn backend_root_is_mapped_to_the_recorded_root() {
        assert_eq!(
            normalize(
                b"/home/user/semantic/catalog.yml\n",
                Some("/home/user/semantic")
            ),
            b"/semantic/catalog.yml\n"
        );
    }

    #[test]
    fn verdicts() {
        let want = recorded("cat x", b"a\n", b"", 0);
        assert_eq!(judge(&want, b"a\n", b"", 0, None).0, Verdict::Identical);
        assert_eq!(judge(&want, b"b\n", b"", 0, None).0, Verdict::Wrong);
        assert_eq!(judge(&want, b"a\n", b"warn", 0, None).0, Verdict::Wrong);
        let refused = judge(&want, b"", b"cat: -Z: option not supported here", 2, None);
        assert_eq!(refused.0, Verdict::Refused);
        assert_eq!(
            judge(&want, b"", b"bash: cat: command not found", 127, None).0,
            Verdict::Refused
        );
        // A usage error that is not a plain refusal is still wrong.
        assert_eq!(
            judge(&want, b"", b"cat: bad option", 2, None).0,
            Verdict::Wrong
        );
        // A refusal the line went on after is flagged, still silently wrong.
        let flagged = judge(&want, b"0\n", b"bash: mapfile: not supported", 0, None).0;
        assert_eq!(flagged, Verdict::Flagged);
        assert!(flagged.is_silently_wrong());
        // A writer killed by SIGPIPE behind `head` is scheduling noise, not stderr output.
        let piped = recorded(
            "ls | xargs echo | head -1",
            b"a\n",
            b"xargs: echo: terminated by signal 13\n",
            0,
        );
        assert_eq!(judge(&piped, b"a\n", b"", 0, None).0, Verdict::Identical);
    }

    #[test]
    fn walks_compare_unordered() {
        assert!(is_unordered("grep -rn x ."));
        assert!(is_unordered("find . -name '*.yml'"));
        assert!(!is_unordered("find . -name '*.yml' | sort"));
        assert!(!is_unordered("grep -n x catalog.yml"));
        let want = recorded("find .", b"./a\n./b\n", b"", 0);
        assert_eq!(
            judge(&want, b"./b\n./a\n", b"", 0, None).0,
            Verdict::Identical
        );
    }
}
