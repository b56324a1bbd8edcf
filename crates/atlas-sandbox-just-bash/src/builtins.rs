//! Shell builtins: the commands that change the shell's own state.

use brush_parser::ast;

use crate::interp::{Flow, Input, Io, R, Shell, UNSUPPORTED_EXIT, unescape_pattern};
use crate::vfs::{self, Kind};

const BUILTINS: &[&str] = &[
    "cd",
    "pwd",
    "echo",
    "printf",
    "test",
    "[",
    "true",
    "false",
    ":",
    "exit",
    "return",
    "break",
    "continue",
    "export",
    "unset",
    "local",
    "set",
    "shift",
    "read",
    "eval",
    "source",
    ".",
    "declare",
    "typeset",
    "readonly",
    "type",
    "command",
    "shopt",
    "let",
    "bash",
    "sh",
    "exec",
    "trap",
    "wait",
    "alias",
    "unalias",
    "hash",
    "umask",
    "builtin",
    "jobs",
    "fg",
    "bg",
    "kill",
    "ulimit",
    "getopts",
    "mapfile",
    "readarray",
    "pushd",
    "popd",
    "dirs",
    "times",
    "enable",
    "disown",
    "suspend",
    "logout",
    "history",
    "fc",
    "complete",
    "compgen",
    "coproc",
    "caller",
];

/// Whether `name` is a shell builtin here.
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

fn not_supported(io: &mut Io, name: &str) -> R<Option<i32>> {
    io.errln(&format!("bash: {name}: not supported in this sandbox"));
    Ok(Some(UNSUPPORTED_EXIT))
}

/// Runs a builtin; `None` if `argv[0]` is not one.
pub(crate) fn run_builtin(
    sh: &mut Shell<'_>,
    argv: &[String],
    stdin: &mut Input,
    io: &mut Io,
) -> R<Option<i32>> {
    let name = argv[0].as_str();
    let args = &argv[1..];
    let st = match name {
        "true" | ":" => 0,
        "false" => 1,
        "echo" => {
            crate::commands::echo(args, io);
            0
        }
        "printf" => {
            let mut ctx = crate::commands::Ctx { sh, stdin, io };
            return crate::commands::printf_cmd(&mut ctx, args).map(Some);
        }
        "pwd" => {
            let mut s = sh.cwd.clone();
            s.push('\n');
            io.out(s.as_bytes());
            0
        }
        "cd" => cd(sh, args, io)?,
        "test" => test_cmd(sh, args, io, false),
        "[" => test_cmd(sh, args, io, true),
        "exit" => {
            let code = match args.first() {
                None => sh.last_status(),
                Some(a) => match a.parse::<i64>() {
                    Ok(n) => (n & 0xff) as i32,
                    Err(_) => {
                        io.errln(&format!("bash: exit: {a}: numeric argument required"));
                        2
                    }
                },
            };
            return Err(Flow::Exit(code));
        }
        "return" => {
            let code = match args.first() {
                None => sh.last_status(),
                Some(a) => a.parse::<i64>().map(|n| (n & 0xff) as i32).unwrap_or(2),
            };
            return Err(Flow::Return(code));
        }
        "break" | "continue" => {
            let n = args
                .first()
                .and_then(|a| a.parse::<u32>().ok())
                .unwrap_or(1)
                .max(1);
            return Err(if name == "break" {
                Flow::Break(n)
            } else {
                Flow::Continue(n)
            });
        }
        "export" | "readonly" | "declare" | "typeset" | "local" => declare(sh, name, args, io)?,
        "unset" => {
            let mut function = false;
            for a in args {
                match a.as_str() {
                    "-f" => function = true,
                    "-v" => function = false,
                    n => sh.unset(n, function),
                }
            }
            0
        }
        "set" => set_cmd(sh, args, io)?,
        "shopt" => {
            let mut on = None;
            let mut st = 0;
            for a in args {
                match a.as_str() {
                    "-s" => on = Some(true),
                    "-u" => on = Some(false),
                    "-q" | "-p" | "-o" => {}
                    opt => match on {
                        Some(v) => {
                            if !sh.set_option(opt, v) {
                                io.errln(&format!("bash: shopt: {opt}: invalid shell option name"));
                                st = 1;
                            }
                        }
                        None => return not_supported(io, "shopt (query)"),
                    },
                }
            }
            st
        }
        "shift" => {
            let n = args
                .first()
                .and_then(|a| a.parse::<usize>().ok())
                .unwrap_or(1);
            if sh.shift_positional(n) { 0 } else { 1 }
        }
        "read" => read_cmd(sh, args, stdin, io)?,
        "eval" => {
            let script = args.join(" ");
            sh.run_nested(&script, stdin, io)?
        }
        "source" | "." => {
            let Some(file) = args.first() else {
                io.errln(&format!("bash: {name}: filename argument required"));
                return Ok(Some(2));
            };
            let path = vfs::resolve(&sh.cwd, file);
            match sh.fs.read(&path) {
                Ok(data) => {
                    let script = String::from_utf8_lossy(&data).into_owned();
                    match sh.run_nested(&script, stdin, io) {
                        Err(Flow::Return(s)) => s,
                        other => other?,
                    }
                }
                Err(e) => {
                    io.errln(&format!("bash: {file}: {e}"));
                    1
                }
            }
        }
        "bash" | "sh" => {
            let mut i = 0;
            let mut script: Option<String> = None;
            while i < args.len() {
                match args[i].as_str() {
                    "-c" => {
                        script = args.get(i + 1).cloned();
                        i += 2;
                        break;
                    }
                    "-e" | "-u" | "-x" | "--norc" | "--noprofile" | "-o" => i += 1,
                    _ => break,
                }
            }
            let rest: Vec<String> = args[i.min(args.len())..].to_vec();
            match script {
                Some(s) => sh.run_subshell_script(&s, &rest, stdin, io)?,
                None => match rest.first() {
                    Some(f) => {
                        let path = vfs::resolve(&sh.cwd, f);
                        match sh.fs.read(&path) {
                            Ok(d) => {
                                let s = String::from_utf8_lossy(&d).into_owned();
                                sh.run_subshell_script(&s, &rest, stdin, io)?
                            }
                            Err(e) => {
                                io.errln(&format!("bash: {f}: {e}"));
                                127
                            }
                        }
                    }
                    None => {
                        let s = String::from_utf8_lossy(stdin.take_all()).into_owned();
                        sh.run_subshell_script(&s, &[], &mut Input::default(), io)?
                    }
                },
            }
        }
        "let" => {
            let mut last = 0;
            for a in args {
                last = sh.arith_str(a)?;
            }
            i32::from(last == 0)
        }
        "type" | "command" | "builtin" => type_cmd(sh, name, args, stdin, io)?,
        "wait" | "hash" | "times" | "jobs" => 0,
        "umask" => {
            io.out(b"0022\n");
            0
        }
        "trap" => return trap(sh, args, io),
        "alias" | "unalias" | "exec" | "fg" | "bg" | "kill" | "ulimit" | "getopts" | "mapfile"
        | "readarray" | "pushd" | "popd" | "dirs" | "enable" | "disown" | "suspend" | "logout"
        | "history" | "fc" | "complete" | "compgen" | "coproc" | "caller" => {
            return not_supported(io, name);
        }
        _ => return Ok(None),
    };
    Ok(Some(st))
}

/// `trap` for the EXIT condition only (what a script's clean-up needs); other signals do not
/// reach an in-process interpreter and are refused by name.
fn trap(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<Option<i32>> {
    let args: Vec<&str> = match args.first().map(String::as_str) {
        Some("--") => args[1..].iter().map(String::as_str).collect(),
        _ => args.iter().map(String::as_str).collect(),
    };
    let is_exit = |s: &str| matches!(s, "EXIT" | "exit" | "SIGEXIT" | "0");
    match args.as_slice() {
        [] | ["-p"] => {
            if let Some(a) = sh.exit_trap() {
                io.out(format!("trap -- {} EXIT\n", single_quote(a)).as_bytes());
            }
            Ok(Some(0))
        }
        ["-p", conds @ ..] if conds.iter().all(|c| is_exit(c)) => {
            if let Some(a) = sh.exit_trap() {
                io.out(format!("trap -- {} EXIT\n", single_quote(a)).as_bytes());
            }
            Ok(Some(0))
        }
        [action, conds @ ..] if !conds.is_empty() && conds.iter().all(|c| is_exit(c)) => {
            if sh.in_subshell() {
                return not_supported(io, "trap in a subshell");
            }
            let action = (*action != "-").then(|| (*action).to_owned());
            sh.set_exit_trap(action);
            Ok(Some(0))
        }
        _ => not_supported(io, "trap for signals other than EXIT"),
    }
}

/// `s` as one single-quoted shell word (as `trap -p` prints it).
fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn cd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<i32> {
    // Options (-L, -P) end at the first other word or at `--`, as in bash.
    let options = args
        .iter()
        .take_while(|a| matches!(a.as_str(), "-L" | "-P"))
        .count();
    let rest = &args[options..];
    let rest = match rest.first() {
        Some(a) if a.as_str() == "--" => &rest[1..],
        _ => rest,
    };
    let args: Vec<&String> = rest.iter().collect();
    let target = match args.first() {
        None => sh.get_var("HOME").unwrap_or_else(|| "/".to_owned()),
        Some(a) if a.as_str() == "-" => match sh.get_var("OLDPWD") {
            Some(o) => {
                io.out(format!("{o}\n").as_bytes());
                o
            }
            None => {
                io.errln("bash: cd: OLDPWD not set");
                return Ok(1);
            }
        },
        Some(a) => (*a).clone(),
    };
    if args.len() > 1 {
        io.errln("bash: cd: too many arguments");
        return Ok(1);
    }
    let path = vfs::resolve(&sh.cwd, &target);
    match sh.fs.stat(&path) {
        Ok(m) if m.kind == Kind::Dir => {
            let old = sh.cwd.clone();
            sh.set_var("OLDPWD", old)?;
            sh.set_var("PWD", path)?;
            Ok(0)
        }
        Ok(_) => {
            io.errln(&format!("bash: cd: {target}: Not a directory"));
            Ok(1)
        }
        Err(e) => {
            io.errln(&format!("bash: cd: {target}: {e}"));
            Ok(1)
        }
    }
}

fn declare(sh: &mut Shell<'_>, name: &str, args: &[String], io: &mut Io) -> R<i32> {
    let mut export = name == "export";
    let mut st = 0;
    if args.is_empty() && name == "export" {
        for (k, v) in sh.env_pairs() {
            io.out(format!("declare -x {k}=\"{v}\"\n").as_bytes());
        }
        return Ok(0);
    }
    for a in args {
        if a.starts_with('-') {
            if a.contains('x') {
                export = true;
            }
            if a.contains('f') || a.contains('A') || a.contains('n') || a.contains('p') {
                io.errln(&format!("bash: {name} {a}: not supported in this sandbox"));
                return Ok(UNSUPPORTED_EXIT);
            }
            continue;
        }
        let (var, value) = match a.split_once('=') {
            Some((k, v)) => (k.trim_end_matches('+'), Some(v.to_owned())),
            None => (a.as_str(), None),
        };
        if var.is_empty()
            || !var.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
            || var.starts_with(|c: char| c.is_ascii_digit())
        {
            io.errln(&format!("bash: {name}: `{a}': not a valid identifier"));
            st = 1;
            continue;
        }
        let append = a.contains("+=");
        let value = match (value, append) {
            (Some(v), true) => Some(sh.get_var(var).unwrap_or_default() + &v),
            (v, _) => v,
        };
        if name == "local" {
            if !sh.declare_local(var, value)? {
                io.errln("bash: local: can only be used in a function");
                st = 1;
            }
            continue;
        }
        if let Some(v) = value {
            sh.set_var(var, v)?;
        } else if sh.get_var(var).is_none() && !export {
            sh.set_var(var, String::new())?;
        }
        if export {
            sh.export(var);
        }
    }
    Ok(st)
}

fn set_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<i32> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            sh.set_positional(args[i + 1..].to_vec())?;
            return Ok(0);
        }
        if (a.starts_with('-') || a.starts_with('+')) && a.len() > 1 {
            let on = a.starts_with('-');
            if &a[1..] == "o" {
                let Some(opt) = args.get(i + 1) else {
                    return Ok(0);
                };
                if !sh.set_option(opt, on) {
                    io.errln(&format!("bash: set: {opt}: invalid option name"));
                    return Ok(2);
                }
                i += 2;
                continue;
            }
            for c in a[1..].chars() {
                if !sh.set_option(&c.to_string(), on) {
                    io.errln(&format!("bash: set: {}{c}: invalid option", &a[..1]));
                    return Ok(2);
                }
            }
            i += 1;
        } else {
            sh.set_positional(args[i..].to_vec())?;
            return Ok(0);
        }
    }
    Ok(0)
}

fn read_cmd(sh: &mut Shell<'_>, args: &[String], stdin: &mut Input, io: &mut Io) -> R<i32> {
    let mut raw = false;
    let mut names = Vec::new();
    let mut delim_all = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-r" => raw = true,
            "-p" | "-t" | "-u" | "-n" | "-N" => {
                i += 1;
            }
            "-d" => {
                if args.get(i + 1).is_some_and(|d| d.is_empty()) {
                    delim_all = true;
                }
                i += 1;
            }
            "-a" => {
                io.errln("bash: read -a: not supported in this sandbox");
                return Ok(UNSUPPORTED_EXIT);
            }
            "-s" | "-e" => {}
            n => names.push(n.to_owned()),
        }
        i += 1;
    }
    if names.is_empty() {
        names.push("REPLY".to_owned());
    }
    let (line, had_nl) = if delim_all {
        let all = stdin.take_all();
        if all.is_empty() {
            return Ok(1);
        }
        (String::from_utf8_lossy(all).into_owned(), false)
    } else {
        let mut acc = String::new();
        let mut nl;
        loop {
            let Some((l, got_nl)) = stdin.read_line() else {
                if acc.is_empty() {
                    for n in &names {
                        sh.set_var(n, String::new())?;
                    }
                    return Ok(1);
                }
                nl = false;
                break;
            };
            let l = String::from_utf8_lossy(l).into_owned();
            nl = got_nl;
            if !raw && l.ends_with('\\') && got_nl {
                acc.push_str(&l[..l.len() - 1]);
                continue;
            }
            acc.push_str(&l);
            break;
        }
        (acc, nl)
    };
    // Without `-r` a backslash only shields the next character, as in a pattern.
    let line = if raw { line } else { unescape_pattern(&line) };
    let ifs = sh.get_var("IFS").unwrap_or_else(|| " \t\n".to_owned());
    let ws: String = ifs.chars().filter(|c| c.is_whitespace()).collect();
    let mut rest = line.trim_matches(|c| ws.contains(c)).to_owned();
    if names.len() == 1 && names[0] == "REPLY" && !args.iter().any(|a| a == "REPLY") {
        sh.set_var("REPLY", line.clone())?;
        return Ok(i32::from(!had_nl));
    }
    for (k, n) in names.iter().enumerate() {
        if k + 1 == names.len() {
            sh.set_var(n, rest.clone())?;
            break;
        }
        let idx = rest.find(|c| ifs.contains(c));
        match idx {
            Some(i) => {
                let field = rest[..i].to_owned();
                let mut r = &rest[i..];
                let mut took_non_ws = false;
                while let Some(c) = r.chars().next() {
                    if ws.contains(c) {
                        r = &r[c.len_utf8()..];
                    } else if ifs.contains(c) && !took_non_ws {
                        took_non_ws = true;
                        r = &r[c.len_utf8()..];
                    } else {
                        break;
                    }
                }
                rest = r.to_owned();
                sh.set_var(n, field)?;
            }
            None => {
                sh.set_var(n, std::mem::take(&mut rest))?;
            }
        }
    }
    Ok(i32::from(!had_nl))
}

fn type_cmd(
    sh: &mut Shell<'_>,
    name: &str,
    args: &[String],
    stdin: &mut Input,
    io: &mut Io,
) -> R<i32> {
    let mut verbose_v = false;
    let mut rest = args;
    while let Some(first) = rest.first() {
        match first.as_str() {
            "-v" | "-V" if name == "command" => {
                verbose_v = true;
                rest = &rest[1..];
            }
            "-p" | "-t" | "-a" => rest = &rest[1..],
            _ => break,
        }
    }
    if name == "command" || name == "builtin" {
        if !verbose_v {
            if rest.is_empty() {
                return Ok(0);
            }
            return sh.dispatch(rest, stdin, io);
        }
        let mut st = 0;
        for a in rest {
            match sh.is_runnable(a) {
                Some("file") => io.out(format!("/usr/bin/{a}\n").as_bytes()),
                Some(_) => io.out(format!("{a}\n").as_bytes()),
                None => st = 1,
            }
        }
        return Ok(st);
    }
    let mut st = 0;
    for a in rest {
        match sh.is_runnable(a) {
            Some("function") => io.out(format!("{a} is a function\n").as_bytes()),
            Some("builtin") => io.out(format!("{a} is a shell builtin\n").as_bytes()),
            Some(_) => io.out(format!("{a} is /usr/bin/{a}\n").as_bytes()),
            None => {
                io.errln(&format!("bash: type: {a}: not found"));
                st = 1;
            }
        }
    }
    Ok(st)
}

fn test_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io, bracket: bool) -> i32 {
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
        T::UnaryTest(p, s) => unary_test(sh, p, s),
        T::BinaryTest(p, l, r) => match p {
            ast::BinaryPredicate::StringExactlyMatchesPattern => l == r,
            ast::BinaryPredicate::StringDoesNotExactlyMatchPattern => l != r,
            _ => binary_test(sh, p, l, r)?,
        },
    })
}

/// A unary predicate of `test`/`[[`.
pub(crate) fn unary_test(sh: &mut Shell<'_>, p: &ast::UnaryPredicate, s: &str) -> bool {
    use ast::UnaryPredicate as U;
    let path = || vfs::resolve(&sh.cwd, s);
    let stat = |sh: &Shell<'_>, p: &str| sh.fs.stat(p).ok();
    match p {
        U::StringHasZeroLength => s.is_empty(),
        U::StringHasNonZeroLength => !s.is_empty(),
        U::FileExists => !s.is_empty() && stat(sh, &path()).is_some(),
        U::FileExistsAndIsDir => stat(sh, &path()).is_some_and(|m| m.kind == Kind::Dir),
        U::FileExistsAndIsRegularFile => stat(sh, &path()).is_some_and(|m| m.kind == Kind::File),
        U::FileExistsAndIsSymlink => stat(sh, &path()).is_some_and(|m| m.kind == Kind::Symlink),
        U::FileExistsAndIsNotZeroLength => stat(sh, &path()).is_some_and(|m| m.size > 0),
        U::FileExistsAndIsReadable => stat(sh, &path()).is_some(),
        U::FileExistsAndIsWritable => stat(sh, &path()).is_some(),
        U::FileExistsAndIsExecutable => {
            stat(sh, &path()).is_some_and(|m| m.kind == Kind::Dir || m.mode & 0o111 != 0)
        }
        U::FileExistsAndIsFifo
        | U::FileExistsAndIsSocket
        | U::FileExistsAndIsBlockSpecialFile
        | U::FileExistsAndIsCharSpecialFile => {
            stat(sh, &path()).is_some_and(|m| m.kind == Kind::Special)
        }
        U::ShellVariableIsSetAndAssigned => sh.get_var(s).is_some(),
        U::ShellOptionEnabled => false,
        U::FdIsOpenTerminal => false,
        _ => stat(sh, &path()).is_some(),
    }
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
            let a = sh.fs.stat(&vfs::resolve(&sh.cwd, l)).ok();
            let b = sh.fs.stat(&vfs::resolve(&sh.cwd, r)).ok();
            let newer = match (a, b) {
                (Some(a), Some(b)) => a.mtime > b.mtime,
                (Some(_), None) => true,
                _ => false,
            };
            if matches!(p, B::LeftFileIsNewerOrExistsWhenRightDoesNot) {
                newer
            } else {
                !newer && b.is_some()
            }
        }
        B::StringMatchesRegex => return Err("=~: not valid in test".to_owned()),
    })
}
