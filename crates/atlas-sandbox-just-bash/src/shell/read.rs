//! Builtins that read input or arguments into variables: `read`, `mapfile`/`readarray`,
//! `getopts`.

use super::*;

/// Splits `line` on IFS as `read` does; with `max`, the last field takes the rest of the line.
fn read_fields(line: &str, ifs: &str, max: Option<usize>) -> Vec<String> {
    let is_ws = |c: char| ifs.contains(c) && c.is_whitespace();
    let is_sep = |c: char| ifs.contains(c);
    let mut fields = Vec::new();
    let s = line.trim_start_matches(is_ws);
    let mut rest = s;
    loop {
        if rest.is_empty() {
            break;
        }
        if max.is_some_and(|m| fields.len() + 1 == m) {
            // The last variable takes the rest, less trailing IFS whitespace.
            fields.push(rest.trim_end_matches(is_ws).to_owned());
            return fields;
        }
        match rest.find(is_sep) {
            None => {
                fields.push(rest.to_owned());
                break;
            }
            Some(i) => {
                fields.push(rest[..i].to_owned());
                let mut r = &rest[i..];
                // One separator: IFS whitespace around at most one other IFS character.
                r = r.trim_start_matches(is_ws);
                if let Some(c) = r.chars().next()
                    && is_sep(c)
                    && !c.is_whitespace()
                    && !rest[i..].starts_with(|c: char| is_sep(c) && !c.is_whitespace())
                {
                    r = &r[c.len_utf8()..];
                    r = r.trim_start_matches(is_ws);
                } else if rest[i..].starts_with(|c: char| is_sep(c) && !c.is_whitespace()) {
                    let c = rest[i..].chars().next().unwrap_or(' ');
                    r = rest[i + c.len_utf8()..].trim_start_matches(is_ws);
                }
                rest = r;
                if rest.is_empty() && !line.ends_with(is_ws) && rest.len() < line.len() {
                    // A trailing non-whitespace separator ends the last field (no empty one).
                    break;
                }
            }
        }
    }
    fields
}

/// Removes `read`'s backslash escapes (no `-r`).
fn unescape_read(s: &str) -> String {
    unescape_pattern(s)
}

/// Parsed options (letter, value) and the operands after them.
type Parsed = (Vec<(char, Option<String>)>, Vec<String>);

/// Option parsing for `read` and `mapfile`: flags, and the letters that take a value.
/// Where `read -u`/`mapfile -u` read from.
enum FdOption {
    Stdin,
    Fd(usize, Input),
    Failed(i32),
}

fn getopt_like(cmd: &str, args: &[String], flags: &str, valued: &str) -> R<Parsed> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a.len() < 2 {
            break;
        }
        let letters: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < letters.len() {
            let c = letters[k];
            if valued.contains(c) {
                let rest: String = letters[k + 1..].iter().collect();
                let v = if !rest.is_empty() {
                    rest
                } else {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => {
                            return Err(Flow::Abort {
                                code: 2,
                                msg: format!("bash: {cmd}: -{c}: option requires an argument"),
                            });
                        }
                    }
                };
                opts.push((c, Some(v)));
                break;
            } else if flags.contains(c) {
                opts.push((c, None));
            } else {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!("bash: {cmd}: -{c}: not supported in this sandbox"),
                );
            }
            k += 1;
        }
        i += 1;
    }
    Ok((opts, args[i.min(args.len())..].to_vec()))
}

/// The delimiter byte of `-d`: its first character, NUL for ''.
fn delim_of(v: &str) -> u8 {
    v.bytes().next().unwrap_or(0)
}

impl Shell<'_> {
    /// `read [-r] [-a NAME] [-d DELIM] [-n|-N COUNT] [-p PROMPT] [-t SECS] [-u FD] [NAME...]`.
    /// `read`, from stdin or from the descriptor `-u N` names.
    pub(super) fn read_cmd(&mut self, args: &[String], stdin: &mut Input, io: &mut Io) -> R<i32> {
        match self.fd_option("read", args, "rse", "adnNptu", io)? {
            FdOption::Stdin => self.read_from(args, stdin, io),
            FdOption::Failed(st) => Ok(st),
            FdOption::Fd(fd, mut input) => {
                let r = self.read_from(args, &mut input, io);
                self.in_fds[fd] = Some(input);
                r
            }
        }
    }

    /// `mapfile`/`readarray`, from stdin or from the descriptor `-u N` names.
    pub(super) fn mapfile_cmd(
        &mut self,
        cmd: &str,
        args: &[String],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        match self.fd_option(cmd, args, "t", "dnsOuCc", io)? {
            FdOption::Stdin => self.mapfile_from(cmd, args, stdin, io),
            FdOption::Failed(st) => Ok(st),
            FdOption::Fd(fd, mut input) => {
                let r = self.mapfile_from(cmd, args, &mut input, io);
                self.in_fds[fd] = Some(input);
                r
            }
        }
    }

    /// The input `-u N` selects: stdin for none or 0, an open descriptor 3-9 (taken out
    /// while the builtin reads it), or a failure status.
    fn fd_option(
        &mut self,
        cmd: &str,
        args: &[String],
        flags: &str,
        valued: &str,
        io: &mut Io,
    ) -> R<FdOption> {
        let (opts, _) = getopt_like(cmd, args, flags, valued)?;
        let Some(v) = opts
            .into_iter()
            .rev()
            .find(|(c, _)| *c == 'u')
            .and_then(|(_, v)| v)
        else {
            return Ok(FdOption::Stdin);
        };
        let input = match v.trim().parse::<usize>() {
            Ok(0) => return Ok(FdOption::Stdin),
            Ok(fd @ 3..super::redirect::FDS) => self.in_fds[fd].take().map(|i| (fd, i)),
            _ => None,
        };
        Ok(match input {
            Some((fd, i)) => FdOption::Fd(fd, i),
            None => {
                io.errln(&format!(
                    "bash: {cmd}: {v}: invalid file descriptor: Bad file descriptor"
                ));
                FdOption::Failed(1)
            }
        })
    }

    fn read_from(&mut self, args: &[String], stdin: &mut Input, io: &mut Io) -> R<i32> {
        let (opts, names) = getopt_like("read", args, "rse", "adnNptu")?;
        let mut raw = false;
        let mut array = None;
        let mut delim = b'\n';
        let mut count: Option<(usize, bool)> = None;
        for (c, v) in opts {
            let v = v.unwrap_or_default();
            match c {
                'r' => raw = true,
                'a' => array = Some(v),
                'd' => delim = delim_of(&v),
                'n' | 'N' => match v.parse::<usize>() {
                    Ok(n) => count = Some((n, c == 'N')),
                    Err(_) => {
                        io.errln(&format!("bash: read: {v}: invalid number"));
                        return Ok(1);
                    }
                },
                // A prompt shows only on a terminal; a timeout never fires on a buffer.
                _ => {}
            }
        }
        for n in names.iter().chain(array.iter()) {
            if !valid_lvalue(n) {
                io.errln(&format!("bash: read: `{n}': not a valid identifier"));
                return Ok(1);
            }
        }
        let (line, complete) = match count {
            Some((n, exact)) => stdin
                .read_chars(n, if exact { None } else { Some(delim) })
                .unwrap_or_default(),
            None => {
                let mut acc = String::new();
                let mut got = false;
                let mut complete = false;
                while let Some((l, found)) = stdin.read_until(delim) {
                    got = true;
                    let l = String::from_utf8_lossy(l).into_owned();
                    complete = found;
                    if !raw && found && delim == b'\n' && l.ends_with('\\') {
                        acc.push_str(&l[..l.len() - 1]);
                        continue;
                    }
                    acc.push_str(&l);
                    break;
                }
                if !got {
                    for n in &names {
                        self.set_var(n, String::new())?;
                    }
                    if let Some(a) = &array {
                        self.set_array(a, Vec::new())?;
                    }
                    if names.is_empty() && array.is_none() {
                        self.set_var("REPLY", String::new())?;
                    }
                    return Ok(1);
                }
                (acc, complete)
            }
        };
        self.check_len(&line)?;
        let line = if raw { line } else { unescape_read(&line) };
        let ifs = self.get_var("IFS").unwrap_or_else(|| " \t\n".to_owned());
        let st = i32::from(!complete);
        if let Some(a) = array {
            let fields = read_fields(&line, &ifs, None);
            self.set_array(&a, fields)?;
            return Ok(st);
        }
        if names.is_empty() {
            // REPLY keeps the line as read (no splitting, no trimming).
            self.set_var("REPLY", line)?;
            return Ok(st);
        }
        if count.is_some_and(|(_, exact)| exact) {
            // `read -N` takes the characters as they are: no splitting.
            let mut it = names.iter();
            if let Some(first) = it.next() {
                self.set_var(first, line)?;
            }
            for n in it {
                self.set_var(n, String::new())?;
            }
            return Ok(st);
        }
        let mut fields = read_fields(&line, &ifs, Some(names.len())).into_iter();
        for n in &names {
            self.set_var(n, fields.next().unwrap_or_default())?;
        }
        Ok(st)
    }

    /// `mapfile`/`readarray [-t] [-d DELIM] [-n COUNT] [-s SKIP] [-O 0] [-u 0] [ARRAY]`.
    fn mapfile_from(
        &mut self,
        cmd: &str,
        args: &[String],
        stdin: &mut Input,
        io: &mut Io,
    ) -> R<i32> {
        let (opts, names) = getopt_like(cmd, args, "t", "dnsOuCc")?;
        let (mut strip, mut delim, mut count, mut skip) = (false, b'\n', 0usize, 0usize);
        for (c, v) in opts {
            let v = v.unwrap_or_default();
            let num = || v.parse::<usize>();
            match c {
                't' => strip = true,
                'd' => delim = delim_of(&v),
                'n' | 's' => match num() {
                    Ok(n) if c == 'n' => count = n,
                    Ok(n) => skip = n,
                    Err(_) => {
                        io.errln(&format!("bash: {cmd}: {v}: invalid line count"));
                        return Ok(1);
                    }
                },
                'O' if v == "0" => {}
                // `-u N` was resolved by `mapfile_cmd`.
                'u' => {}
                _ => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        format!("bash: {cmd}: -{c} {v}: not supported in this sandbox"),
                    );
                }
            }
        }
        if names.len() > 1 {
            io.errln(&format!("bash: {cmd}: too many arguments"));
            return Ok(2);
        }
        let name = names
            .first()
            .cloned()
            .unwrap_or_else(|| "MAPFILE".to_owned());
        if !super::declare::valid_name(&name) {
            io.errln(&format!("bash: {cmd}: `{name}': not a valid identifier"));
            return Ok(1);
        }
        let mut vals = Vec::new();
        let mut bytes = 0u64;
        let mut seen = 0usize;
        while count == 0 || vals.len() < count {
            let Some((rec, found)) = stdin.read_until(delim) else {
                break;
            };
            seen += 1;
            if seen <= skip {
                continue;
            }
            let mut v = String::from_utf8_lossy(rec).into_owned();
            if found && !strip {
                v.push(delim as char);
            }
            bytes += crate::memory::str_cost(&v);
            self.fits(bytes)?;
            vals.push(v);
            if vals.len() % 1024 == 0 {
                self.tick()?;
            }
        }
        self.set_array(&name, vals)?;
        Ok(0)
    }

    /// `getopts OPTSTRING NAME [ARG...]`.
    pub(super) fn getopts_cmd(&mut self, args: &[String], io: &mut Io) -> R<i32> {
        if args.len() < 2 {
            io.errln("bash: getopts: usage: getopts optstring name [arg ...]");
            return Ok(2);
        }
        let spec = args[0].as_str();
        let name = args[1].as_str();
        let words: Vec<String> = if args.len() > 2 {
            args[2..].to_vec()
        } else {
            self.positional.clone()
        };
        let silent = spec.starts_with(':');
        let spec = spec.trim_start_matches(':');
        let mut optind = self
            .get_var("OPTIND")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        // A script that set OPTIND itself starts over at that word.
        let mut sub = if self.getopts_at.0 == optind {
            self.getopts_at.1
        } else {
            0
        };
        let done = |sh: &mut Self, optind: usize| -> R<i32> {
            sh.unset("OPTARG", false);
            sh.set_var(name, "?".to_owned())?;
            sh.set_var("OPTIND", optind.to_string())?;
            sh.getopts_at = (optind, 0);
            Ok(1)
        };
        if sub == 0 {
            let Some(w) = words.get(optind - 1) else {
                return done(self, optind);
            };
            if w == "--" {
                return done(self, optind + 1);
            }
            if !w.starts_with('-') || w == "-" {
                return done(self, optind);
            }
            sub = 1;
        }
        let word: Vec<char> = words[optind - 1].chars().collect();
        let c = word[sub];
        sub += 1;
        let at_end = sub >= word.len();
        if at_end {
            optind += 1;
            sub = 0;
        }
        let pos = spec.find(c).filter(|_| c != ':');
        let mut result = c.to_string();
        let mut optarg: Option<String> = None;
        match pos {
            None => {
                if silent {
                    optarg = Some(c.to_string());
                } else {
                    io.errln(&format!("bash: illegal option -- {c}"));
                }
                result = "?".to_owned();
            }
            Some(p) if spec[p + c.len_utf8()..].starts_with(':') => {
                if !at_end {
                    optarg = Some(word[sub..].iter().collect());
                    optind += 1;
                    sub = 0;
                } else if let Some(v) = words.get(optind - 1) {
                    optarg = Some(v.clone());
                    optind += 1;
                } else if silent {
                    result = ":".to_owned();
                    optarg = Some(c.to_string());
                } else {
                    io.errln(&format!("bash: option requires an argument -- {c}"));
                    result = "?".to_owned();
                }
            }
            Some(_) => {}
        }
        match optarg {
            Some(v) => self.set_var("OPTARG", v)?,
            None => self.unset("OPTARG", false),
        }
        self.set_var("OPTIND", optind.to_string())?;
        self.getopts_at = (optind, sub);
        // bash parses the option before it checks the name it stores it in.
        if !super::declare::valid_name(name) {
            io.errln(&format!("bash: getopts: `{name}': not a valid identifier"));
            return Ok(1);
        }
        self.set_var(name, result)?;
        Ok(0)
    }
}

/// A name `read` can assign: a variable, or one element of an array (`a[1]`).
fn valid_lvalue(n: &str) -> bool {
    match n.split_once('[') {
        Some((base, rest)) => {
            super::declare::valid_name(base) && rest.len() > 1 && rest.ends_with(']')
        }
        None => super::declare::valid_name(n),
    }
}
