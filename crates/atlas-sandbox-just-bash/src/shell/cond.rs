//! Conditionals: the `[[ … ]]` command and the `test`/`[` builtin, which share the file and
//! string predicates.

use brush_parser::ast;
use brush_parser::word::WordPiece;

use super::expand::Acc;
use super::*;
use crate::vfs::{self, Kind};

impl Shell<'_> {
    pub(super) fn ext_test(&mut self, e: &ast::ExtendedTestExpr) -> R<bool> {
        use ast::ExtendedTestExpr as E;
        Ok(match e {
            E::And(a, b) => self.ext_test(a)? && self.ext_test(b)?,
            E::Or(a, b) => self.ext_test(a)? || self.ext_test(b)?,
            E::Not(a) => !self.ext_test(a)?,
            E::Parenthesized(a) => self.ext_test(a)?,
            E::UnaryTest(pred, w) => {
                let v = self.expand_str(&w.value)?;
                match unary_test(self, pred, &v) {
                    Ok(b) => b,
                    Err(msg) => return abort(2, msg),
                }
            }
            E::BinaryTest(pred, l, r) => {
                use ast::BinaryPredicate as BP;
                let lv = self.expand_str(&l.value)?;
                match pred {
                    BP::StringExactlyMatchesPattern | BP::StringDoesNotExactlyMatchPattern => {
                        let pat = self.expand_pattern(&r.value)?;
                        let m = self.match_pattern(&pat, &lv, true)?;
                        if matches!(pred, BP::StringExactlyMatchesPattern) {
                            m
                        } else {
                            !m
                        }
                    }
                    BP::StringMatchesRegex => {
                        let re_src = self.expand_regex_operand(&r.value)?;
                        match regex::RegexBuilder::new(&re_src)
                            .size_limit(1 << 22)
                            .build()
                        {
                            Ok(re) => match re.captures(&lv) {
                                Some(c) => {
                                    let groups: Vec<String> = c
                                        .iter()
                                        .map(|m| {
                                            m.map(|m| m.as_str().to_owned()).unwrap_or_default()
                                        })
                                        .collect();
                                    self.put_var("BASH_REMATCH".into(), Var::arr(groups))?;
                                    true
                                }
                                None => {
                                    self.put_var("BASH_REMATCH".into(), Var::arr(Vec::new()))?;
                                    false
                                }
                            },
                            Err(_) => return abort(2, String::new()),
                        }
                    }
                    // Inside `[[ ]]` the operands of -eq… are arithmetic expressions.
                    BP::ArithmeticEqualTo
                    | BP::ArithmeticNotEqualTo
                    | BP::ArithmeticLessThan
                    | BP::ArithmeticLessThanOrEqualTo
                    | BP::ArithmeticGreaterThan
                    | BP::ArithmeticGreaterThanOrEqualTo => {
                        let rv = self.expand_str(&r.value)?;
                        let (x, y) = (self.arith_str(&lv)?, self.arith_str(&rv)?);
                        match pred {
                            BP::ArithmeticEqualTo => x == y,
                            BP::ArithmeticNotEqualTo => x != y,
                            BP::ArithmeticLessThan => x < y,
                            BP::ArithmeticLessThanOrEqualTo => x <= y,
                            BP::ArithmeticGreaterThan => x > y,
                            _ => x >= y,
                        }
                    }
                    _ => {
                        let rv = self.expand_str(&r.value)?;
                        match binary_test(self, pred, &lv, &rv) {
                            Ok(b) => b,
                            Err(msg) => return abort(2, msg),
                        }
                    }
                }
            }
        })
    }

    pub(super) fn expand_regex_operand(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut ere = String::new();
        for p in &pieces {
            match &p.piece {
                WordPiece::Text(t) => ere.push_str(t),
                // `\.` stands for a literal `.`.
                WordPiece::EscapeSequence(e) => {
                    ere.push_str(&ere_escape(e.strip_prefix('\\').unwrap_or(e)))
                }
                piece => {
                    let mut acc = Acc::default();
                    self.expand_pieces(std::slice::from_ref(p), true, &mut acc)?;
                    let v: Vec<String> = acc.finish().into_iter().map(|f| f.text).collect();
                    let text = v.join(" ");
                    // Quoted text matches itself; an unquoted expansion (`$re`) is a regex.
                    let quoted = matches!(
                        piece,
                        WordPiece::SingleQuotedText(_)
                            | WordPiece::AnsiCQuotedText(_)
                            | WordPiece::DoubleQuotedSequence(_)
                            | WordPiece::GettextDoubleQuotedSequence(_)
                    );
                    if quoted {
                        ere.push_str(&ere_escape(&text));
                    } else {
                        ere.push_str(&text);
                    }
                }
            }
        }
        // bash hands the operand to regcomp as a POSIX ERE.
        match crate::commands::posix_to_regex(&ere, true) {
            Ok(re) => Ok(re),
            Err(_) => abort(2, String::new()),
        }
    }
}

/// `s` with every ERE special character backslashed, so it matches itself.
fn ere_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.[]()*+?{}|^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------- `test` and `[`

pub(super) fn test_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io, bracket: bool) -> i32 {
    let mut args: Vec<String> = args.to_vec();
    if bracket {
        if args.last().map(String::as_str) != Some("]") {
            io.errln("bash: [: missing `]'");
            return 2;
        }
        args.pop();
    }
    let who = if bracket { "[" } else { "test" };
    if args.is_empty() {
        return 1;
    }
    let expr = match brush_parser::test_command::parse(&args) {
        Ok(e) => e,
        Err(_) => {
            let msg = if args.len() > 2 {
                "too many arguments".to_owned()
            } else {
                format!("{}: unary operator expected", args[0])
            };
            io.errln(&format!("bash: {who}: {msg}"));
            return 2;
        }
    };
    match eval_test(sh, &expr) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(msg) => {
            io.errln(&format!("bash: {who}: {msg}"));
            2
        }
    }
}

fn eval_test(sh: &mut Shell<'_>, e: &ast::TestExpr) -> Result<bool, String> {
    use ast::TestExpr as T;
    Ok(match e {
        T::False => false,
        T::Literal(s) => !s.is_empty(),
        T::And(a, b) => eval_test(sh, a)? && eval_test(sh, b)?,
        T::Or(a, b) => eval_test(sh, a)? || eval_test(sh, b)?,
        T::Not(a) => !eval_test(sh, a)?,
        T::Parenthesized(a) => eval_test(sh, a)?,
        T::UnaryTest(p, s) => unary_test(sh, p, s)?,
        T::BinaryTest(p, l, r) => match p {
            ast::BinaryPredicate::StringExactlyMatchesPattern => l == r,
            ast::BinaryPredicate::StringDoesNotExactlyMatchPattern => l != r,
            _ => binary_test(sh, p, l, r)?,
        },
    })
}

/// A unary predicate of `test`/`[[`; `Err` for one the sandbox cannot answer.
pub(crate) fn unary_test(
    sh: &mut Shell<'_>,
    p: &ast::UnaryPredicate,
    s: &str,
) -> Result<bool, String> {
    use ast::UnaryPredicate as U;
    let meta = |sh: &Shell<'_>| -> Option<crate::vfs::Meta> {
        // An empty name is no file (bash stats "", which fails), not the working directory.
        if s.is_empty() {
            return None;
        }
        let path = vfs::resolve(&sh.cwd, s);
        if path == "/dev/null" {
            // A character device, whatever the memory layer stores for it.
            return Some(crate::vfs::Meta {
                mode: 0o666,
                ..crate::vfs::Meta::kind_only(Kind::Special)
            });
        }
        if let Ok(m) = sh.fs.stat(&path) {
            return Some(m);
        }
        // The programs this shell provides exist where bash would find them.
        let base = path
            .strip_prefix("/usr/bin/")
            .or_else(|| path.strip_prefix("/bin/"))?;
        let known = crate::commands::lookup(base).is_some()
            || super::builtins::is_shell_command(base)
            || matches!(
                base,
                "sh" | "bash" | "env" | "echo" | "printf" | "test" | "[" | "true" | "false" | "pwd"
            );
        known.then(|| crate::vfs::Meta {
            size: 1,
            mode: 0o755,
            ..crate::vfs::Meta::kind_only(Kind::File)
        })
    };
    Ok(match p {
        U::StringHasZeroLength => s.is_empty(),
        U::StringHasNonZeroLength => !s.is_empty(),
        U::FileExists
        | U::FileExistsAndIsReadable
        | U::FileExistsAndIsWritable
        | U::FileExistsAndOwnedByEffectiveUserId
        | U::FileExistsAndOwnedByEffectiveGroupId => meta(sh).is_some(),
        U::FileExistsAndIsDir => meta(sh).is_some_and(|m| m.kind == Kind::Dir),
        U::FileExistsAndIsRegularFile => meta(sh).is_some_and(|m| m.kind == Kind::File),
        U::FileExistsAndIsSymlink => meta(sh).is_some_and(|m| m.kind == Kind::Symlink),
        U::FileExistsAndIsNotZeroLength => meta(sh).is_some_and(|m| m.size > 0),
        U::FileExistsAndIsExecutable => {
            meta(sh).is_some_and(|m| m.kind == Kind::Dir || m.mode & 0o111 != 0)
        }
        // The only special files here are character devices (`/dev/null`).
        U::FileExistsAndIsCharSpecialFile => meta(sh).is_some_and(|m| m.kind == Kind::Special),
        U::FileExistsAndIsFifo | U::FileExistsAndIsSocket | U::FileExistsAndIsBlockSpecialFile => {
            false
        }
        U::ShellVariableIsSetAndAssigned => sh.is_set(s),
        U::ShellOptionEnabled => sh.option_value(s).unwrap_or(false),
        U::FdIsOpenTerminal => false,
        U::FileExistsAndHasStickyBit => meta(sh).is_some_and(|m| m.mode & 0o1000 != 0),
        U::FileExistsAndIsSetuid | U::FileExistsAndIsSetgid => false,
        // This shell has no namerefs, so no name is one.
        U::ShellVariableIsSetAndNameRef => false,
        // `-N` compares the access time with the modification time, and the overlay keeps no
        // access times: answering would be a guess.
        U::FileExistsAndModifiedSinceLastRead => {
            if meta(sh).is_some() {
                return Err(format!(
                    "-N: testing whether `{s}' was modified since it was last read is not supported by this sandbox (it keeps no access times)"
                ));
            }
            false
        }
    })
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| format!("{s}: integer expression expected"))
}

/// A binary predicate of `test`/`[[`.
pub(crate) fn binary_test(
    sh: &mut Shell<'_>,
    p: &ast::BinaryPredicate,
    l: &str,
    r: &str,
) -> Result<bool, String> {
    use ast::BinaryPredicate as B;
    Ok(match p {
        B::StringExactlyMatchesString | B::StringExactlyMatchesPattern => l == r,
        B::StringDoesNotExactlyMatchString | B::StringDoesNotExactlyMatchPattern => l != r,
        B::StringContainsSubstring => l.contains(r),
        B::LeftSortsBeforeRight => l < r,
        B::LeftSortsAfterRight => l > r,
        B::ArithmeticEqualTo => parse_int(l)? == parse_int(r)?,
        B::ArithmeticNotEqualTo => parse_int(l)? != parse_int(r)?,
        B::ArithmeticLessThan => parse_int(l)? < parse_int(r)?,
        B::ArithmeticLessThanOrEqualTo => parse_int(l)? <= parse_int(r)?,
        B::ArithmeticGreaterThan => parse_int(l)? > parse_int(r)?,
        B::ArithmeticGreaterThanOrEqualTo => parse_int(l)? >= parse_int(r)?,
        B::FilesReferToSameDeviceAndInodeNumbers => {
            let a = sh.fs.stat(&vfs::resolve(&sh.cwd, l)).ok();
            let b = sh.fs.stat(&vfs::resolve(&sh.cwd, r)).ok();
            matches!((a, b), (Some(a), Some(b)) if a.ino == b.ino && a.ino != 0)
        }
        B::LeftFileIsNewerOrExistsWhenRightDoesNot
        | B::LeftFileIsOlderOrDoesNotExistWhenRightDoes => {
            let stat = |f: &str| {
                (!f.is_empty())
                    .then(|| sh.fs.stat(&vfs::resolve(&sh.cwd, f)).ok())
                    .flatten()
            };
            let (a, b) = (stat(l), stat(r));
            if matches!(p, B::LeftFileIsNewerOrExistsWhenRightDoesNot) {
                match (a, b) {
                    (Some(a), Some(b)) => a.mtime > b.mtime,
                    (Some(_), None) => true,
                    _ => false,
                }
            } else {
                match (a, b) {
                    (Some(a), Some(b)) => a.mtime < b.mtime,
                    (None, Some(_)) => true,
                    _ => false,
                }
            }
        }
        B::StringMatchesRegex => return Err("=~: not valid in test".to_owned()),
    })
}
