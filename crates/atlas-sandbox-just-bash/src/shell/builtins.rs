//! Shell builtins: the commands that change the shell's own state.

use crate::vfs::{self, Kind};

use super::{Flow, Input, Io, R, Shell, UNSUPPORTED_EXIT, abort, optlist};

/// Reserved words, for `type`.
const KEYWORDS: &[&str] = &[
    "if", "then", "else", "elif", "fi", "case", "esac", "for", "select", "while", "until", "do",
    "done", "in", "function", "time", "{", "}", "!", "[[", "]]", "coproc",
];

/// Whether `name` is a reserved word.
pub(crate) fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Programs this shell answers itself although bash would run them from `/usr/bin`.
const SHELL_COMMANDS: &[&str] = &[];

/// Whether `name` is one of [`SHELL_COMMANDS`].
pub(crate) fn is_shell_command(name: &str) -> bool {
    SHELL_COMMANDS.contains(&name)
}

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

/// A builtin this sandbox does not have: the script stops with exit 2 (going on would give
/// answers that differ from bash's without saying so).
fn not_supported(_io: &mut Io, name: &str) -> R<Option<i32>> {
    abort(
        UNSUPPORTED_EXIT,
        format!("bash: {name}: not supported in this sandbox"),
    )
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
            let utf8 = sh.utf8_locale();
            crate::commands::echo(args, io, utf8);
            0
        }
        "printf" => {
            let mark = io.err_mark();
            let mut ctx = crate::commands::Ctx { sh, stdin, io };
            let st = crate::commands::printf_cmd(&mut ctx, args)?;
            // A refused format stops the script, as a refused command does.
            if st == 2 && super::pipeline::is_refusal(io.err_since(mark)) {
                return abort(UNSUPPORTED_EXIT, "");
            }
            return Ok(Some(st));
        }
        "pwd" => {
            let mut s = sh.cwd.clone();
            s.push('\n');
            io.out(s.as_bytes());
            0
        }
        "cd" => cd(sh, args, io)?,
        "test" => super::cond::test_cmd(sh, args, io, false),
        "[" => super::cond::test_cmd(sh, args, io, true),
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
            if sh.call_depth == 0 && sh.source_depth == 0 {
                io.errln("bash: return: can only `return' from a function or sourced script");
                return Ok(Some(2));
            }
            let code = match args.first() {
                None => sh.last_status(),
                Some(a) => a.parse::<i64>().map(|n| (n & 0xff) as i32).unwrap_or(2),
            };
            return Err(Flow::Return(code));
        }
        "break" | "continue" => {
            // Errors of these special builtins end the shell, as in bash.
            if args.len() > 1 {
                return Err(Flow::Fatal(1, format!("bash: {name}: too many arguments")));
            }
            let n = match args.first().map(|a| a.parse::<i64>()) {
                None => 1,
                Some(Ok(n)) if n >= 1 => n.min(u32::MAX as i64) as u32,
                Some(Ok(_)) => {
                    io.errln(&format!(
                        "bash: {name}: {}: loop count out of range",
                        args[0]
                    ));
                    return Ok(Some(1));
                }
                Some(Err(_)) => {
                    return Err(Flow::Fatal(
                        128,
                        format!("bash: {name}: {}: numeric argument required", args[0]),
                    ));
                }
            };
            if sh.loop_depth == 0 {
                io.errln(&format!(
                    "bash: {name}: only meaningful in a `for', `while', or `until' loop"
                ));
                return Ok(Some(0));
            }
            return Err(if name == "break" {
                Flow::Break(n)
            } else {
                Flow::Continue(n)
            });
        }
        "export" | "readonly" | "declare" | "typeset" | "local" => {
            sh.declare_cmd(name, args, io)?
        }
        "unset" => sh.unset_cmd(args, io)?,
        "mapfile" | "readarray" => sh.mapfile_cmd(name, args, stdin, io)?,
        "getopts" => sh.getopts_cmd(args, io)?,
        "trap" => trap_cmd(sh, args, io)?,
        "alias" => alias_cmd(sh, args, io),
        "unalias" => {
            let mut st = 0;
            for a in args {
                if a == "-a" {
                    sh.aliases.clear();
                } else if sh.aliases.remove(a).is_none() {
                    io.errln(&format!("bash: unalias: {a}: not found"));
                    st = 1;
                }
            }
            st
        }
        "ulimit" => ulimit_cmd(args, io)?,
        "exec" => {
            if args.is_empty() {
                0
            } else {
                let st = sh.dispatch(args, stdin, io)?;
                return Err(Flow::Exit(st));
            }
        }
        "set" => set_cmd(sh, args, io)?,
        "shopt" => shopt_cmd(sh, args, io)?,
        "shift" => {
            let n = args
                .first()
                .and_then(|a| a.parse::<usize>().ok())
                .unwrap_or(1);
            if sh.shift_positional(n) { 0 } else { 1 }
        }
        "read" => sh.read_cmd(args, stdin, io)?,
        "eval" => {
            let args = match args.first() {
                Some(a) if a == "--" => &args[1..],
                _ => args,
            };
            let script = args.join(" ");
            nested_status(sh.run_nested(&script, stdin, io), io)?
        }
        "source" | "." => {
            let args = match args.first() {
                Some(a) if a == "--" => &args[1..],
                _ => args,
            };
            let Some(file) = args.first() else {
                io.errln(&format!("bash: {name}: filename argument required"));
                return Ok(Some(2));
            };
            let path = vfs::resolve(&sh.cwd, file);
            match sh.fs.read(&path) {
                Ok(data) => {
                    let script = String::from_utf8_lossy(&data).into_owned();
                    // `. file args` sees the args as $1…, then the caller's come back.
                    let saved = if args.len() > 1 {
                        Some(sh.set_positional(args[1..].to_vec())?)
                    } else {
                        None
                    };
                    sh.source_depth += 1;
                    let r = match sh.run_nested(&script, stdin, io) {
                        Err(Flow::Return(s)) => Ok(s),
                        other => other,
                    };
                    sh.source_depth -= 1;
                    if let Some(p) = saved {
                        sh.set_positional(p)?;
                    }
                    nested_status(r, io)?
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
            let mut opts: Vec<(String, bool)> = Vec::new();
            let mut no_exec = false;
            while i < args.len() {
                let a = args[i].as_str();
                match a {
                    "-c" => {
                        script = args.get(i + 1).cloned();
                        i += 2;
                        break;
                    }
                    "--norc" | "--noprofile" | "-l" | "--login" | "-s" | "--" => i += 1,
                    "-o" | "+o" => {
                        if let Some(o) = args.get(i + 1) {
                            opts.push((o.clone(), a == "-o"));
                        }
                        i += 2;
                    }
                    _ if (a.starts_with('-') || a.starts_with('+')) && a.len() > 1 => {
                        let mut take_c = false;
                        for c in a[1..].chars() {
                            match c {
                                'c' => take_c = true,
                                'n' => no_exec = true,
                                'e' | 'u' | 'x' | 'f' | 'C' | 'v' | 'h' | 'B' => {
                                    opts.push((c.to_string(), a.starts_with('-')))
                                }
                                _ => {
                                    return abort(
                                        UNSUPPORTED_EXIT,
                                        format!(
                                            "bash: bash: -{c}: this option of bash is not supported in this sandbox"
                                        ),
                                    );
                                }
                            }
                        }
                        i += 1;
                        if take_c {
                            script = args.get(i).cloned();
                            i += 1;
                            break;
                        }
                    }
                    _ => break,
                }
            }
            let rest: Vec<String> = args[i.min(args.len())..].to_vec();
            if no_exec {
                let text = match &script {
                    Some(s) => s.clone(),
                    None => match rest.first() {
                        Some(f) => match sh.fs.read(&vfs::resolve(&sh.cwd, f)) {
                            Ok(d) => String::from_utf8_lossy(&d).into_owned(),
                            Err(e) => {
                                io.errln(&format!("bash: {f}: {e}"));
                                return Ok(Some(127));
                            }
                        },
                        None => String::from_utf8_lossy(stdin.take_all()).into_owned(),
                    },
                };
                return Ok(Some(match sh.parse(&text) {
                    Ok(_) => 0,
                    Err(Flow::Abort { code, msg }) => {
                        io.errln(&msg);
                        code
                    }
                    Err(e) => return Err(e),
                }));
            }
            match script {
                Some(s) => sh.run_subshell_script(&s, &rest, &opts, stdin, io)?,
                None => match rest.first() {
                    Some(f) => {
                        let path = vfs::resolve(&sh.cwd, f);
                        match sh.fs.read(&path) {
                            Ok(d) => {
                                let s = String::from_utf8_lossy(&d).into_owned();
                                sh.run_subshell_script(&s, &rest, &opts, stdin, io)?
                            }
                            Err(e) => {
                                io.errln(&format!("bash: {f}: {e}"));
                                127
                            }
                        }
                    }
                    None => {
                        let s = String::from_utf8_lossy(stdin.take_all()).into_owned();
                        sh.run_subshell_script(&s, &[], &opts, &mut Input::default(), io)?
                    }
                },
            }
        }
        "let" => {
            let mut last = 0;
            for a in args {
                // An arithmetic error fails `let` with status 1; the script goes on.
                last = match sh.arith_str(a) {
                    Err(Flow::Abort { code: 1, msg } | Flow::LineAbort(msg)) => {
                        io.errln(&format!("bash: let: {}", msg.trim_start_matches("bash: ")));
                        return Ok(Some(1));
                    }
                    v => v?,
                };
            }
            i32::from(last == 0)
        }
        "type" | "command" | "builtin" => type_cmd(sh, name, args, stdin, io)?,
        "hash" => hash_cmd(sh, args, io)?,
        "wait" | "times" | "jobs" => 0,
        "umask" => {
            io.out(b"0022\n");
            0
        }
        "pushd" => sh.pushd_cmd(args, io)?,
        "popd" => sh.popd_cmd(args, io)?,
        "dirs" => sh.dirs_cmd(args, io)?,
        "fg" | "bg" | "kill" | "enable" | "disown" | "suspend" | "logout" | "history" | "fc"
        | "complete" | "compgen" | "coproc" | "caller" => {
            return not_supported(io, name);
        }
        _ => return Ok(None),
    };
    Ok(Some(st))
}

/// The status of `eval`/`source` text: a syntax error in it fails the builtin with 2 and an
/// error that abandons a line fails it with 1; the caller's line goes on, as in bash.
fn nested_status(r: R<i32>, io: &mut Io) -> R<i32> {
    match r {
        Err(Flow::LineAbort(msg)) => {
            io.errln(&msg);
            Ok(1)
        }
        Err(Flow::Abort {
            code: UNSUPPORTED_EXIT,
            msg,
        }) if msg.starts_with("bash: syntax error") && !msg.contains("not supported") => {
            io.errln(&msg);
            Ok(UNSUPPORTED_EXIT)
        }
        r => r,
    }
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

fn set_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<i32> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            sh.set_positional(args[i + 1..].to_vec())?;
            return Ok(0);
        }
        if a == "+" {
            // A lone `+` is an ignored flag.
            i += 1;
            continue;
        }
        if a == "-" {
            // `set -` ends the options and turns off -x and -v.
            sh.set_option("x", false)?;
            sh.set_positional(args[i + 1..].to_vec())?;
            return Ok(0);
        }
        if (a.starts_with('-') || a.starts_with('+')) && a.len() > 1 {
            let on = a.starts_with('-');
            let mut takes_name = 0;
            for c in a[1..].chars() {
                if c == 'o' {
                    takes_name += 1;
                    continue;
                }
                if !sh.set_option(&c.to_string(), on)? {
                    io.errln(&format!("bash: set: {}{c}: invalid option", &a[..1]));
                    return Ok(2);
                }
            }
            i += 1;
            for _ in 0..takes_name {
                let Some(opt) = args.get(i) else {
                    let how = if on {
                        optlist::Listing::Table
                    } else {
                        optlist::Listing::SetCommands
                    };
                    sh.list_options(optlist::SET_O, how, None, io);
                    return Ok(0);
                };
                if !sh.set_option(opt, on)? {
                    io.errln(&format!("bash: set: {opt}: invalid option name"));
                    return Ok(2);
                }
                i += 1;
            }
        } else {
            sh.set_positional(args[i..].to_vec())?;
            return Ok(0);
        }
    }
    if args.is_empty() {
        return abort(
            UNSUPPORTED_EXIT,
            "bash: set: listing every variable is not supported in this sandbox",
        );
    }
    Ok(0)
}

/// `shopt [-s|-u|-q|-p|-o] [NAME...]`.
fn shopt_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<i32> {
    let (mut set, mut quiet, mut print, mut set_o) = (None, false, false, false);
    let mut names = Vec::new();
    let mut flags_done = false;
    for a in args {
        if flags_done || !a.starts_with('-') || a == "-" {
            flags_done = true;
            names.push(a.as_str());
            continue;
        }
        if a == "--" {
            flags_done = true;
            continue;
        }
        // Flags cluster as in any builtin: `shopt -qs extglob`, `shopt -op`.
        for c in a[1..].chars() {
            match c {
                's' | 'u' => {
                    let want = c == 's';
                    if set.is_some_and(|v| v != want) {
                        io.errln("bash: shopt: cannot set and unset shell options simultaneously");
                        return Ok(1);
                    }
                    set = Some(want);
                }
                'q' => quiet = true,
                'p' => print = true,
                'o' => set_o = true,
                _ => {
                    io.errln(&format!("bash: shopt: -{c}: invalid option"));
                    io.errln("shopt: usage: shopt [-pqsu] [-o] [optname ...]");
                    return Ok(2);
                }
            }
        }
    }
    let table = if set_o {
        optlist::SET_O
    } else {
        optlist::SHOPT
    };
    if names.is_empty() {
        let how = match (print, set_o) {
            (false, _) => optlist::Listing::Table,
            (true, true) => optlist::Listing::SetCommands,
            (true, false) => optlist::Listing::ShoptCommands,
        };
        // `shopt -s`/`-u` alone list the options that are on/off.
        sh.list_options(table, how, set, io);
        return Ok(0);
    }
    let mut st = 0;
    for n in names {
        let known = table
            .iter()
            .any(|(t, ..)| *t == n)
            .then(|| sh.option_value(n))
            .flatten();
        if known.is_none() {
            io.errln(&format!("bash: shopt: {n}: invalid shell option name"));
            st = 1;
            continue;
        }
        match set {
            Some(v) => {
                sh.set_option(n, v)?;
            }
            None => {
                let on = known.unwrap_or(false);
                if !on {
                    st = 1;
                }
                if quiet {
                    continue;
                }
                if print {
                    let flag = if set_o {
                        if on { "set -o" } else { "set +o" }
                    } else if on {
                        "shopt -s"
                    } else {
                        "shopt -u"
                    };
                    io.out(format!("{flag} {n}\n").as_bytes());
                } else {
                    let state = if on { "on" } else { "off" };
                    io.out(format!("{n:<15}\t{state}\n").as_bytes());
                }
            }
        }
    }
    Ok(st)
}

/// `trap`: `EXIT` runs when the script ends; signals never reach this shell, so their traps are
/// kept and never run (as in bash when no signal comes). `ERR`, `DEBUG` and `RETURN` are refused.
fn trap_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<i32> {
    let args: Vec<&String> = args.iter().filter(|a| a.as_str() != "--").collect();
    let quote = |t: &str| format!("'{}'", t.replace('\'', "'\\''"));
    if args.is_empty() || args[0] == "-p" {
        if let Some(t) = &sh.exit_trap {
            io.out(format!("trap -- {} EXIT\n", quote(t)).as_bytes());
        }
        for (name, action) in sh.signal_traps.values() {
            io.out(format!("trap -- {} SIG{name}\n", quote(action)).as_bytes());
        }
        return Ok(0);
    }
    if args[0] == "-l" {
        return abort(
            UNSUPPORTED_EXIT,
            "bash: trap -l: not supported in this sandbox",
        );
    }
    let (action, sigs) = if args.len() == 1 {
        (None, &args[..])
    } else {
        (Some(args[0].as_str()), &args[1..])
    };
    for sig in sigs {
        let s = sig.to_ascii_uppercase();
        let s = s.strip_prefix("SIG").unwrap_or(&s);
        match s {
            "EXIT" | "0" => {
                sh.exit_trap = match action {
                    None | Some("-") => None,
                    Some(a) => Some(a.to_owned()),
                }
            }
            "ERR" | "DEBUG" | "RETURN" => {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!("bash: trap: {s} traps are not supported in this sandbox"),
                );
            }
            _ if signal_number(s).is_some() => {
                let (num, name) = signal_number(s).unwrap_or((0, ""));
                match action {
                    None | Some("-") => {
                        sh.signal_traps.remove(&num);
                    }
                    Some(a) => {
                        sh.signal_traps.insert(num, (name.to_owned(), a.to_owned()));
                    }
                }
            }
            _ => {
                io.errln(&format!("bash: trap: {sig}: invalid signal specification"));
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// A signal's number and name (`INT`, `2`, …) for `trap`.
fn signal_number(s: &str) -> Option<(u32, &'static str)> {
    const SIGNALS: [(u32, &str); 12] = [
        (1, "HUP"),
        (2, "INT"),
        (3, "QUIT"),
        (6, "ABRT"),
        (10, "USR1"),
        (12, "USR2"),
        (13, "PIPE"),
        (14, "ALRM"),
        (15, "TERM"),
        (17, "CHLD"),
        (18, "CONT"),
        (28, "WINCH"),
    ];
    SIGNALS
        .iter()
        .find(|(n, name)| *name == s || n.to_string() == s)
        .copied()
}

/// `alias`: definitions are kept and shown, never expanded (bash -c does not expand aliases).
fn alias_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> i32 {
    let quote = |v: &str| format!("'{}'", v.replace('\'', "'\\''"));
    let args: Vec<&String> = args.iter().filter(|a| a.as_str() != "-p").collect();
    if args.is_empty() {
        for (k, v) in &sh.aliases {
            io.out(format!("alias {k}={}\n", quote(v)).as_bytes());
        }
        return 0;
    }
    let mut st = 0;
    for a in args {
        match a.split_once('=') {
            Some((k, v)) => {
                sh.aliases.insert(k.to_owned(), v.to_owned());
            }
            None => match sh.aliases.get(a.as_str()) {
                Some(v) => io.out(format!("alias {a}={}\n", quote(v)).as_bytes()),
                None => {
                    io.errln(&format!("bash: alias: {a}: not found"));
                    st = 1;
                }
            },
        }
    }
    st
}

/// `ulimit`: reading the usual limits; setting them is refused (the sandbox's own limits apply).
/// `hash`: the table of commands found in PATH. Its listing (hit counts, in bash's bucket order)
/// is not kept here, so only the empty table is printed; anything else that would print it is
/// refused.
fn hash_cmd(sh: &mut Shell<'_>, args: &[String], io: &mut Io) -> R<i32> {
    match args {
        [] if !sh.hashed => {
            io.out(b"hash: hash table empty\n");
            Ok(0)
        }
        [] => abort(
            UNSUPPORTED_EXIT,
            "bash: hash: listing the hash table is not supported in this sandbox",
        ),
        [r] if r == "-r" => {
            sh.hashed = false;
            Ok(0)
        }
        _ if args.iter().any(|a| a.starts_with('-')) => abort(
            UNSUPPORTED_EXIT,
            format!(
                "bash: hash {}: not supported in this sandbox",
                args.join(" ")
            ),
        ),
        names => {
            let mut st = 0;
            for n in names {
                if sh.is_runnable(n) == Some("file") {
                    sh.hashed = true;
                } else if !super::builtins::is_builtin(n) {
                    io.errln(&format!("bash: hash: {n}: not found"));
                    st = 1;
                }
            }
            Ok(st)
        }
    }
}

fn ulimit_cmd(args: &[String], io: &mut Io) -> R<i32> {
    let mut which = 'f';
    let mut value = None;
    for a in args {
        match a.strip_prefix('-') {
            Some(l) if !l.is_empty() => {
                for c in l.chars() {
                    if !matches!(c, 'H' | 'S') {
                        which = c;
                    }
                }
            }
            _ => value = Some(a),
        }
    }
    if let Some(v) = value {
        return abort(
            UNSUPPORTED_EXIT,
            format!(
                "bash: ulimit: setting a limit ({v}) is not supported in this sandbox (its own limits apply)"
            ),
        );
    }
    let v = match which {
        'f' | 't' | 'v' | 'd' | 'm' | 'l' | 'x' => "unlimited",
        'c' => "0",
        'n' => "1024",
        's' => "8192",
        'p' => "8",
        _ => {
            return abort(
                UNSUPPORTED_EXIT,
                format!("bash: ulimit -{which}: not supported in this sandbox"),
            );
        }
    };
    io.out(format!("{v}\n").as_bytes());
    Ok(0)
}

fn type_cmd(
    sh: &mut Shell<'_>,
    name: &str,
    args: &[String],
    stdin: &mut Input,
    io: &mut Io,
) -> R<i32> {
    let mut verbose_v = false;
    let mut verbose_vv = false;
    let (mut t, mut p, mut pp, mut all) = (false, false, false, false);
    let mut rest = args;
    while let Some(first) = rest.first() {
        let f = first.as_str();
        if f == "--" {
            rest = &rest[1..];
            break;
        }
        if !f.starts_with('-') || f.len() < 2 {
            break;
        }
        for c in f[1..].chars() {
            match (c, name) {
                ('v', "command") => verbose_v = true,
                ('V', "command") => verbose_vv = true,
                ('p', "command") => {}
                ('t', "type") => t = true,
                ('p', "type") => p = true,
                ('P', "type") => pp = true,
                ('a', "type") => all = true,
                ('f', "type") => {}
                _ => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!("bash: {name}: -{c}: not supported in this sandbox"),
                    );
                }
            }
        }
        rest = &rest[1..];
    }
    if name == "command" || name == "builtin" {
        // `command -v/-V` fail only when none of the names is found (`type` when any is not).
        if name == "command" && verbose_vv {
            let st = type_cmd(sh, "type", rest, stdin, io)?;
            let any = rest.iter().any(|a| sh.is_runnable(a).is_some());
            return Ok(if any { 0 } else { st });
        }
        if !verbose_v {
            if rest.is_empty() {
                return Ok(0);
            }
            if name == "builtin" && !is_builtin(&rest[0]) {
                io.errln(&format!("bash: builtin: {}: not a shell builtin", rest[0]));
                return Ok(1);
            }
            // `command` skips functions.
            return sh.dispatch_no_functions(rest, stdin, io);
        }
        let mut st = 1;
        for a in rest {
            match sh.is_runnable(a) {
                Some("file") => {
                    io.out(format!("/usr/bin/{a}\n").as_bytes());
                    st = 0;
                }
                Some(_) => {
                    io.out(format!("{a}\n").as_bytes());
                    st = 0;
                }
                None if super::absent_here(a) => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        super::absent_lookup_message("bash: command", a),
                    );
                }
                None => {}
            }
        }
        return Ok(st);
    }
    let mut st = 0;
    for a in rest {
        // What `type` finds, in bash's order: alias, keyword, function, builtin, file.
        // Aliases are not looked at: a non-interactive bash has expand_aliases off.
        let mut kinds: Vec<&str> = Vec::new();
        if is_keyword(a) {
            kinds.push("keyword");
        }
        if sh.functions.contains_key(a.as_str()) {
            kinds.push("function");
        }
        if is_builtin(a) {
            kinds.push("builtin");
        }
        if crate::commands::lookup(a).is_some()
            || is_shell_command(a)
            || matches!(
                a.as_str(),
                "echo" | "printf" | "test" | "[" | "true" | "false" | "pwd" | "kill"
            )
        {
            kinds.push("file");
        }
        let path = |a: &str| format!("/usr/bin/{a}");
        if kinds.is_empty() && super::absent_here(a) {
            return abort(
                UNSUPPORTED_EXIT,
                super::absent_lookup_message("bash: type", a),
            );
        }
        if pp || p {
            // -P: the file only; -p: the file when nothing else comes first.
            let found = kinds.contains(&"file");
            if found && (pp || kinds[0] == "file") {
                io.out(format!("{}\n", path(a)).as_bytes());
            } else if !found && (pp || kinds.is_empty()) {
                st = 1;
            }
            continue;
        }
        if kinds.is_empty() {
            if !t {
                io.errln(&format!("bash: type: {a}: not found"));
            }
            st = 1;
            continue;
        }
        let shown: Vec<&str> = if all { kinds.clone() } else { vec![kinds[0]] };
        for k in shown {
            if t {
                io.out(format!("{k}\n").as_bytes());
                continue;
            }
            let line = match k {
                "keyword" => format!("{a} is a shell keyword"),
                "function" => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!(
                            "bash: type {a}: printing a function's body is not supported in this sandbox (type -t {a} says function)"
                        ),
                    );
                }
                "builtin" => format!("{a} is a shell builtin"),
                _ => format!("{a} is {}", path(a)),
            };
            io.out(format!("{line}\n").as_bytes());
            if all && k == "file" {
                // Debian has the merged /usr: every program is in /bin too.
                io.out(format!("{a} is /bin/{a}\n").as_bytes());
            }
        }
    }
    Ok(st)
}
