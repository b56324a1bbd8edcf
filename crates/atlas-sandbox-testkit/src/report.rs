//! What a suite found: one result per case, printable as a table.

use std::fmt::Write as _;
use std::time::Duration;

/// Which suite produced a report (it decides the words in the table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// The contract suite: passed / FAILED / skipped.
    Contract,
    /// The escape battery: held / FAILED / not applicable.
    Escape,
}

impl Suite {
    fn title(self) -> &'static str {
        match self {
            Suite::Contract => "contract suite",
            Suite::Escape => "escape battery",
        }
    }
}

/// The outcome of one case or row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed (contract) or held (escape), with optional notes.
    Passed(String),
    /// Failed, with the reason.
    Failed(String),
    /// Skipped (contract) or not applicable (escape), with the reason.
    Skipped(String),
}

impl Outcome {
    /// Whether this is a failure.
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// Whether this passed / held.
    pub fn is_passed(&self) -> bool {
        matches!(self, Outcome::Passed(_))
    }

    /// Whether this was skipped / not applicable.
    pub fn is_skipped(&self) -> bool {
        matches!(self, Outcome::Skipped(_))
    }

    /// The reason or notes.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Passed(s) | Outcome::Failed(s) | Outcome::Skipped(s) => s,
        }
    }

    /// The word for the table.
    pub fn label(&self, suite: Suite) -> &'static str {
        match (self, suite) {
            (Outcome::Passed(_), Suite::Contract) => "passed",
            (Outcome::Passed(_), Suite::Escape) => "held",
            (Outcome::Failed(_), _) => "FAILED",
            (Outcome::Skipped(_), Suite::Contract) => "skipped",
            (Outcome::Skipped(_), Suite::Escape) => "not applicable",
        }
    }
}

/// One case (contract) or row (escape).
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Short id: the row number (`"F1"`) or the case name (`"exit 127"`).
    pub id: String,
    /// What was checked.
    pub title: String,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took.
    pub duration: Duration,
}

/// The results of one suite against one backend.
#[derive(Debug, Clone)]
pub struct Report {
    /// Which suite.
    pub suite: Suite,
    /// The backend's name as given to the suite.
    pub backend: String,
    /// The cases, in the order they ran.
    pub cases: Vec<CaseResult>,
}

impl Report {
    pub(crate) fn new(suite: Suite, backend: &str) -> Self {
        Report {
            suite,
            backend: backend.to_owned(),
            cases: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, id: &str, title: &str, outcome: Outcome, duration: Duration) {
        if let Outcome::Skipped(why) = &outcome {
            crate::skip(
                &format!("{} {} {id}", self.suite.title(), self.backend),
                why,
            );
        }
        self.cases.push(CaseResult {
            id: id.to_owned(),
            title: title.to_owned(),
            outcome,
            duration,
        });
    }

    /// The outcome of the case or row `id`.
    pub fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.cases.iter().find(|c| c.id == id).map(|c| &c.outcome)
    }

    /// The failed cases.
    pub fn failures(&self) -> Vec<&CaseResult> {
        self.cases
            .iter()
            .filter(|c| c.outcome.is_failed())
            .collect()
    }

    /// (passed, failed, skipped) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let p = self.cases.iter().filter(|c| c.outcome.is_passed()).count();
        let f = self.cases.iter().filter(|c| c.outcome.is_failed()).count();
        (p, f, self.cases.len() - p - f)
    }

    /// The table as text: one line per case with its outcome, time and reason.
    pub fn table(&self) -> String {
        let id_w = self
            .cases
            .iter()
            .map(|c| c.id.len())
            .max()
            .unwrap_or(2)
            .max(4);
        let mut s = String::new();
        let (p, f, k) = self.counts();
        let _ = writeln!(
            s,
            "== {} :: {} ({} {p}, FAILED {f}, {} {k}) ==",
            self.suite.title(),
            self.backend,
            Outcome::Passed(String::new()).label(self.suite),
            Outcome::Skipped(String::new()).label(self.suite),
        );
        for c in &self.cases {
            let detail = one_line(c.outcome.detail(), 160);
            let _ = writeln!(
                s,
                "{:<id_w$}  {:<14}  {:>7.2}s  {}{}{}",
                c.id,
                c.outcome.label(self.suite),
                c.duration.as_secs_f64(),
                c.title,
                if detail.is_empty() { "" } else { ": " },
                detail,
            );
        }
        s
    }

    /// Prints [`Report::table`] to stderr.
    pub fn print_table(&self) {
        eprintln!("{}", self.table());
    }

    /// Panics listing every failure (with its reason) if any case failed.
    pub fn assert_passed(&self) {
        let failures = self.failures();
        if failures.is_empty() {
            return;
        }
        let mut msg = format!(
            "{} for {}: {} case(s) FAILED:\n",
            self.suite.title(),
            self.backend,
            failures.len()
        );
        for c in failures {
            let _ = writeln!(msg, "  {} ({}): {}", c.id, c.title, c.outcome.detail());
        }
        panic!("{msg}");
    }

    /// A backend × row matrix of several reports of the same suite (rows are case ids).
    pub fn matrix(reports: &[&Report]) -> String {
        let mut ids: Vec<&str> = Vec::new();
        for r in reports {
            for c in &r.cases {
                if !ids.contains(&c.id.as_str()) {
                    ids.push(&c.id);
                }
            }
        }
        let id_w = ids.iter().map(|i| i.len()).max().unwrap_or(2).max(4);
        let col_w = reports
            .iter()
            .map(|r| r.backend.len())
            .max()
            .unwrap_or(0)
            .max(14);
        let mut s = String::new();
        let _ = write!(s, "{:<id_w$}", "row");
        for r in reports {
            let _ = write!(s, "  {:<col_w$}", r.backend);
        }
        s.push('\n');
        for id in ids {
            let _ = write!(s, "{id:<id_w$}");
            for r in reports {
                let cell = r.outcome(id).map(|o| o.label(r.suite)).unwrap_or("-");
                let _ = write!(s, "  {cell:<col_w$}");
            }
            s.push('\n');
        }
        s
    }

    /// Prints [`Report::matrix`] to stderr.
    pub fn print_matrix(reports: &[&Report]) {
        eprintln!("{}", Self::matrix(reports));
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c == '\n' { ' ' } else { c }).collect();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut r = Report::new(Suite::Escape, "demo");
        r.push(
            "F1",
            "writes",
            Outcome::Passed(String::new()),
            Duration::ZERO,
        );
        r.push(
            "F2",
            "secrets",
            Outcome::Failed("canary leaked".into()),
            Duration::ZERO,
        );
        r.push(
            "T1",
            "kill host",
            Outcome::Skipped("in-process".into()),
            Duration::ZERO,
        );
        r
    }

    #[test]
    fn table_uses_the_suite_words() {
        let t = sample().table();
        assert!(t.contains("held"), "{t}");
        assert!(t.contains("FAILED"), "{t}");
        assert!(t.contains("not applicable"), "{t}");
        assert!(t.contains("canary leaked"), "{t}");
        assert_eq!(sample().counts(), (1, 1, 1));
    }

    #[test]
    fn assert_passed_lists_every_failure() {
        let err = std::panic::catch_unwind(|| sample().assert_passed()).unwrap_err();
        let msg = err.downcast_ref::<String>().unwrap();
        assert!(msg.contains("F2 (secrets): canary leaked"), "{msg}");
        let mut ok = Report::new(Suite::Contract, "ok");
        ok.push("ls", "ls", Outcome::Passed(String::new()), Duration::ZERO);
        ok.assert_passed();
    }

    #[test]
    fn matrix_has_a_column_per_backend() {
        let a = sample();
        let mut b = Report::new(Suite::Escape, "other");
        b.push("F1", "writes", Outcome::Failed("x".into()), Duration::ZERO);
        let m = Report::matrix(&[&a, &b]);
        let f1 = m.lines().find(|l| l.starts_with("F1")).unwrap();
        assert!(f1.contains("held") && f1.contains("FAILED"), "{m}");
        let t1 = m.lines().find(|l| l.starts_with("T1")).unwrap();
        assert!(t1.contains('-'), "{m}");
    }
}
