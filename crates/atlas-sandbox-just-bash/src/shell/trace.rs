//! What the shell reports about itself: `set -x` traces and the `time` keyword's report.

use brush_parser::ast;

use super::*;

/// A word as `set -x` shows it: bare when it has nothing special to the shell, else in single
/// quotes (with `'\''` for a quote inside), as bash does.
pub(super) fn trace_quote(s: &str) -> String {
    let special = s.is_empty()
        || s.starts_with(['~', '#'])
        || s.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '\'' | '"'
                        | '\\'
                        | '|'
                        | '&'
                        | ';'
                        | '('
                        | ')'
                        | '<'
                        | '>'
                        | '!'
                        | '{'
                        | '}'
                        | '*'
                        | '['
                        | ']'
                        | '?'
                        | '^'
                        | '$'
                        | '`'
                )
        });
    if !special {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The thread's CPU time in seconds (what `time` reports as user time).
pub(super) fn thread_cpu() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

impl Shell<'_> {
    /// Writes one `set -x` line: `+` per shell level, then the command.
    pub(super) fn trace_line(&self, line: &str, io: &mut Io) {
        let mut s = "+".repeat(self.trace_depth + 1);
        s.push(' ');
        s.push_str(line);
        io.errln(&s);
    }

    /// An assignment as `set -x` shows it (`x=5`, `a=(1 2)`).
    pub(super) fn assignment_text(&self, a: &ast::Assignment) -> String {
        let (name, index) = match &a.name {
            ast::AssignmentName::VariableName(n) => (n.clone(), None),
            ast::AssignmentName::ArrayElementName(n, i) => (n.clone(), Some(i.clone())),
        };
        let op = if a.append { "+=" } else { "=" };
        let target = match &index {
            Some(i) => format!("{name}[{i}]"),
            None => name.clone(),
        };
        match &a.value {
            ast::AssignmentValue::Scalar(_) => {
                let v = match index {
                    Some(_) => String::new(),
                    None => self.get_var(&name).unwrap_or_default(),
                };
                format!("{target}{op}{}", trace_quote(&v))
            }
            ast::AssignmentValue::Array(items) => {
                let words: Vec<&str> = items.iter().map(|(_, w)| w.value.as_str()).collect();
                format!("{target}{op}({})", words.join(" "))
            }
        }
    }

    pub(super) fn trace_assignment(&self, a: &ast::Assignment, io: &mut Io) {
        let line = self.assignment_text(a);
        self.trace_line(&line, io);
    }

    /// The report `time` prints: `TIMEFORMAT` when set, else bash's default (or `-p`'s).
    pub(super) fn time_report(&self, posix: bool, real: f64, user: f64) -> String {
        let sys = 0.0;
        if posix {
            return format!("real {real:.2}\nuser {user:.2}\nsys {sys:.2}\n");
        }
        let fmt = self
            .get_var("TIMEFORMAT")
            .unwrap_or_else(|| "\nreal\t%3lR\nuser\t%3lU\nsys\t%3lS".to_owned());
        let mut out = String::new();
        let mut chars = fmt.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let mut prec = 3usize;
            if let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                prec = (d as usize).min(3);
                chars.next();
            }
            let long = chars.peek() == Some(&'l');
            if long {
                chars.next();
            }
            let v = match chars.next() {
                Some('R') => real,
                Some('U') => user,
                Some('S') => sys,
                Some('P') => {
                    let p = if real > 0.0 { 100.0 * user / real } else { 0.0 };
                    out.push_str(&format!("{:.*}", prec.min(2), p.min(100.0)));
                    continue;
                }
                Some('%') => {
                    out.push('%');
                    continue;
                }
                Some(o) => {
                    out.push('%');
                    out.push(o);
                    continue;
                }
                None => {
                    out.push('%');
                    break;
                }
            };
            if long {
                let m = (v / 60.0).floor();
                out.push_str(&format!("{}m{:.*}s", m as u64, prec, v - m * 60.0));
            } else {
                out.push_str(&format!("{v:.prec$}"));
            }
        }
        out.push('\n');
        out
    }
}
