//! A useful subset of GNU `sed`: `s///` (g, N, p, I), `d`, `p`, `q`, `=`, `y`, `a`/`i`/`c`,
//! `{...}`, `!`, line/`$`/regex/range addresses, `-n`, `-e`, `-E`, `-i` (into the memory layer).

use regex::Regex;

use super::grep::posix_to_regex;
use super::opts::{Arg, Spec};
use super::{Ctx, or_stdin};
use crate::interp::R;

#[derive(Debug, Clone)]
enum Addr {
    Line(u64),
    Last,
    Re(Regex),
}

#[derive(Debug, Clone)]
enum Cmd {
    Subst {
        re: Regex,
        rep: String,
        global: bool,
        nth: usize,
        print: bool,
    },
    Delete,
    Print,
    Quit(bool),
    LineNo,
    Translate(Vec<char>, Vec<char>),
    Append(String),
    Insert(String),
    Change(String),
    Block(Vec<Item>),
    Nop,
}

#[derive(Debug, Clone)]
struct Item {
    a1: Option<Addr>,
    a2: Option<Addr>,
    negate: bool,
    cmd: Cmd,
}

struct Parser<'a> {
    s: Vec<char>,
    i: usize,
    extended: bool,
    _src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | ';')) {
            self.i += 1;
        }
    }

    fn delimited(&mut self, delim: char) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == '\\' {
                match self.peek() {
                    Some(n) if n == delim => {
                        out.push(n);
                        self.i += 1;
                    }
                    Some('n') => {
                        out.push('\n');
                        self.i += 1;
                    }
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                        self.i += 1;
                    }
                    None => out.push('\\'),
                }
                continue;
            }
            if c == delim {
                return Ok(out);
            }
            out.push(c);
        }
        Err("unterminated `s' command".to_owned())
    }

    fn regex(&self, src: &str, icase: bool) -> Result<Regex, String> {
        let translated = posix_to_regex(src, self.extended)?;
        regex::RegexBuilder::new(&translated)
            .case_insensitive(icase)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| format!("invalid regular expression: {e}"))
    }

    fn addr(&mut self) -> Result<Option<Addr>, String> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                let mut n = 0u64;
                while let Some(d) = self.peek().and_then(|c| c.to_digit(10)) {
                    n = n.saturating_mul(10).saturating_add(u64::from(d));
                    self.i += 1;
                }
                Ok(Some(Addr::Line(n)))
            }
            Some('$') => {
                self.i += 1;
                Ok(Some(Addr::Last))
            }
            Some('/') => {
                self.i += 1;
                let src = self.delimited('/')?;
                let icase = self.peek() == Some('I');
                if icase {
                    self.i += 1;
                }
                Ok(Some(Addr::Re(self.regex(&src, icase)?)))
            }
            _ => Ok(None),
        }
    }

    fn text_arg(&mut self) -> String {
        // `a text`, `a\` newline `text`, GNU one-liner forms.
        if self.peek() == Some('\\') {
            self.i += 1;
            if self.peek() == Some('\n') {
                self.i += 1;
            }
        }
        while self.peek() == Some(' ') {
            self.i += 1;
        }
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.i += 1;
            if c == '\\' {
                if let Some(n) = self.peek() {
                    self.i += 1;
                    out.push(if n == 'n' {
                        '\n'
                    } else if n == 't' {
                        '\t'
                    } else {
                        n
                    });
                }
                continue;
            }
            out.push(c);
        }
        out
    }

    fn items(&mut self, in_block: bool) -> Result<Vec<Item>, String> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            let Some(_) = self.peek() else {
                if in_block {
                    return Err("unmatched `{'".to_owned());
                }
                return Ok(out);
            };
            if self.peek() == Some('}') {
                if !in_block {
                    return Err("unexpected `}'".to_owned());
                }
                self.i += 1;
                return Ok(out);
            }
            let a1 = self.addr()?;
            let mut a2 = None;
            if a1.is_some() && self.peek() == Some(',') {
                self.i += 1;
                a2 = self.addr()?;
                if a2.is_none() {
                    return Err("unexpected `,'".to_owned());
                }
            }
            while self.peek() == Some(' ') {
                self.i += 1;
            }
            let mut negate = false;
            if self.peek() == Some('!') {
                negate = true;
                self.i += 1;
                while self.peek() == Some(' ') {
                    self.i += 1;
                }
            }
            let Some(c) = self.peek() else {
                return Err("missing command".to_owned());
            };
            self.i += 1;
            let cmd = match c {
                's' => {
                    let Some(delim) = self.peek() else {
                        return Err("unterminated `s' command".to_owned());
                    };
                    self.i += 1;
                    let pat = self.delimited(delim)?;
                    let rep = self.delimited(delim)?;
                    let (mut global, mut nth, mut print, mut icase) = (false, 1usize, false, false);
                    while let Some(f) = self.peek() {
                        match f {
                            'g' => global = true,
                            'p' => print = true,
                            'i' | 'I' => icase = true,
                            d if d.is_ascii_digit() => nth = d.to_digit(10).unwrap_or(1) as usize,
                            _ => break,
                        }
                        self.i += 1;
                    }
                    Cmd::Subst {
                        re: self.regex(&pat, icase)?,
                        rep,
                        global,
                        nth,
                        print,
                    }
                }
                'd' => Cmd::Delete,
                'p' => Cmd::Print,
                'q' => Cmd::Quit(true),
                'Q' => Cmd::Quit(false),
                '=' => Cmd::LineNo,
                'y' => {
                    let Some(delim) = self.peek() else {
                        return Err("unterminated `y' command".to_owned());
                    };
                    self.i += 1;
                    let a: Vec<char> = self.delimited(delim)?.chars().collect();
                    let b: Vec<char> = self.delimited(delim)?.chars().collect();
                    if a.len() != b.len() {
                        return Err("strings for `y' command are different lengths".to_owned());
                    }
                    Cmd::Translate(a, b)
                }
                'a' => Cmd::Append(self.text_arg()),
                'i' => Cmd::Insert(self.text_arg()),
                'c' => Cmd::Change(self.text_arg()),
                '{' => Cmd::Block(self.items(true)?),
                '#' => {
                    while !matches!(self.peek(), None | Some('\n')) {
                        self.i += 1;
                    }
                    Cmd::Nop
                }
                other => return Err(format!("unknown command: `{other}'")),
            };
            out.push(Item {
                a1,
                a2,
                negate,
                cmd,
            });
        }
    }
}

struct Run {
    quiet: bool,
    out: Vec<u8>,
    quit: Option<bool>,
    active: Vec<bool>,
}

fn matches_addr(a: &Addr, line: &str, n: u64, last: bool) -> bool {
    match a {
        Addr::Line(k) => n == *k,
        Addr::Last => last,
        Addr::Re(re) => re.is_match(line),
    }
}

fn expand_rep(rep: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::new();
    let mut chars = rep.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str(caps.get(0).map(|m| m.as_str()).unwrap_or("")),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let k = d.to_digit(10).unwrap_or(0) as usize;
                    out.push_str(caps.get(k).map(|m| m.as_str()).unwrap_or(""));
                }
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            },
            o => out.push(o),
        }
    }
    out
}

/// Runs the items on one line; returns false when the line was deleted.
fn exec_items(
    items: &[Item],
    line: &mut String,
    n: u64,
    last: bool,
    run: &mut Run,
    ids: &mut usize,
    after: &mut Vec<String>,
) -> bool {
    for item in items {
        let id = *ids;
        *ids += 1;
        if run.active.len() <= id {
            run.active.resize(id + 1, false);
        }
        let selected = match (&item.a1, &item.a2) {
            (None, _) => true,
            (Some(a), None) => matches_addr(a, line, n, last),
            (Some(a), Some(b)) => {
                if run.active[id] {
                    let end = match b {
                        Addr::Line(k) => n >= *k,
                        other => matches_addr(other, line, n, last),
                    };
                    if end {
                        run.active[id] = false;
                    }
                    true
                } else if matches_addr(a, line, n, last) {
                    let end_now = matches!(b, Addr::Line(k) if *k <= n);
                    run.active[id] = !end_now;
                    true
                } else {
                    false
                }
            }
        };
        if selected == item.negate {
            if let Cmd::Block(inner) = &item.cmd {
                // Keep the ids of nested items stable even when the block is skipped.
                *ids += count_items(inner);
            }
            continue;
        }
        match &item.cmd {
            Cmd::Subst {
                re,
                rep,
                global,
                nth,
                print,
            } => {
                let mut result = String::new();
                let mut last_end = 0;
                let mut count = 0;
                let mut changed = false;
                for caps in re.captures_iter(line) {
                    let Some(m) = caps.get(0) else { continue };
                    count += 1;
                    if count < *nth || (!*global && count > *nth) {
                        continue;
                    }
                    result.push_str(&line[last_end..m.start()]);
                    result.push_str(&expand_rep(rep, &caps));
                    last_end = m.end();
                    changed = true;
                }
                if changed {
                    result.push_str(&line[last_end..]);
                    *line = result;
                    if *print {
                        run.out.extend_from_slice(line.as_bytes());
                        run.out.push(b'\n');
                    }
                }
            }
            Cmd::Delete => return false,
            Cmd::Print => {
                run.out.extend_from_slice(line.as_bytes());
                run.out.push(b'\n');
            }
            Cmd::Quit(print) => {
                run.quit = Some(*print);
                return true;
            }
            Cmd::LineNo => run.out.extend_from_slice(format!("{n}\n").as_bytes()),
            Cmd::Translate(a, b) => {
                *line = line
                    .chars()
                    .map(|c| a.iter().position(|x| *x == c).map(|i| b[i]).unwrap_or(c))
                    .collect();
            }
            Cmd::Append(t) => after.push(t.clone()),
            Cmd::Insert(t) => {
                run.out.extend_from_slice(t.as_bytes());
                run.out.push(b'\n');
            }
            Cmd::Change(t) => {
                let in_range = item.a2.is_some() && run.active[id];
                if !in_range {
                    run.out.extend_from_slice(t.as_bytes());
                    run.out.push(b'\n');
                }
                return false;
            }
            Cmd::Block(inner) => {
                if !exec_items(inner, line, n, last, run, ids, after) {
                    return false;
                }
                if run.quit.is_some() {
                    return true;
                }
            }
            Cmd::Nop => {}
        }
    }
    true
}

fn count_items(items: &[Item]) -> usize {
    items
        .iter()
        .map(|i| {
            1 + if let Cmd::Block(b) = &i.cmd {
                count_items(b)
            } else {
                0
            }
        })
        .sum()
}

pub(super) fn sed(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    const SPEC: Spec = Spec::new(
        "sed",
        "nErsui::e:f:z",
        &[
            ("quiet", 'n', Arg::No),
            ("silent", 'n', Arg::No),
            ("regexp-extended", 'E', Arg::No),
            ("separate", 's', Arg::No),
            ("unbuffered", 'u', Arg::No),
            ("in-place", 'i', Arg::Optional),
            ("expression", 'e', Arg::Required),
            ("file", 'f', Arg::Required),
            ("posix", 'u', Arg::No),
        ],
    )
    .gnu(
        "bEe:f:i::l:nrsuz",
        &[
            "debug",
            "sandbox",
            "follow-symlinks",
            "line-length",
            "null-data",
            "zero-terminated",
            "binary",
            "help",
            "version",
        ],
    );
    let (flags, mut files) = match ctx.opts(&SPEC, args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut scripts = Vec::new();
    let (mut quiet, mut extended, mut in_place, mut separate) = (false, false, false, false);
    let mut script_given = false;
    for (c, v) in flags {
        match c {
            'n' => quiet = true,
            'E' | 'r' => extended = true,
            'i' => in_place = true,
            's' => separate = true,
            'e' => {
                scripts.extend(v);
                script_given = true;
            }
            'f' => {
                let f = v.unwrap_or_default();
                match ctx.read_operand(&f) {
                    Ok(d) => {
                        let text = String::from_utf8_lossy(&d);
                        scripts.push(text.strip_suffix('\n').unwrap_or(&text).to_owned());
                        script_given = true;
                    }
                    Err(e) => {
                        ctx.warn("sed", format!("couldn't open file {f}: {e}"));
                        return Ok(1);
                    }
                }
            }
            'z' => {
                ctx.warn("sed", "option '-z' is not supported by this sandbox");
                return Ok(2);
            }
            _ => {}
        }
    }
    if !script_given && !files.is_empty() {
        scripts.push(files.remove(0));
    }
    if scripts.is_empty() {
        ctx.io
            .errln("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...");
        return Ok(1);
    }
    let script = scripts.join("\n");
    let mut p = Parser {
        s: script.chars().collect(),
        i: 0,
        extended,
        _src: &script,
    };
    let items = match p.items(false) {
        Ok(it) => it,
        Err(e) => {
            ctx.warn("sed", format!("-e expression #1, char {}: {e}", p.i));
            return Ok(1);
        }
    };
    let mut st = 0;
    let inputs = or_stdin(files);
    let mut datas = Vec::new();
    for f in &inputs {
        match ctx.read_operand(f) {
            Ok(d) => datas.push((f.clone(), d)),
            Err(e) => {
                ctx.warn("sed", format!("can't read {f}: {e}"));
                st = 2;
            }
        }
    }
    let groups: Vec<Vec<(String, std::sync::Arc<Vec<u8>>)>> = if in_place || separate {
        datas.into_iter().map(|d| vec![d]).collect()
    } else {
        vec![datas]
    };
    for group in groups {
        let mut run = Run {
            quiet,
            out: Vec::new(),
            quit: None,
            active: Vec::new(),
        };
        let text: Vec<u8> = group.iter().flat_map(|(_, d)| d.iter().copied()).collect();
        let s = String::from_utf8_lossy(&text).into_owned();
        let ends_nl = s.ends_with('\n');
        let lines: Vec<&str> = s.split_terminator('\n').collect();
        let total = lines.len();
        for (k, l) in lines.iter().enumerate() {
            if k % 256 == 0 {
                ctx.sh.tick()?;
            }
            let mut line = (*l).to_owned();
            let last = k + 1 == total;
            let mut after = Vec::new();
            let mut ids = 0;
            let keep = exec_items(
                &items,
                &mut line,
                k as u64 + 1,
                last,
                &mut run,
                &mut ids,
                &mut after,
            );
            if keep && (!run.quiet && run.quit != Some(false)) {
                run.out.extend_from_slice(line.as_bytes());
                if !last || ends_nl {
                    run.out.push(b'\n');
                }
            }
            for t in after {
                run.out.extend_from_slice(t.as_bytes());
                run.out.push(b'\n');
            }
            if run.quit.is_some() {
                break;
            }
        }
        if in_place {
            if let Some((name, _)) = group.first() {
                let path = ctx.path(name);
                if let Err(e) = ctx.sh.fs.write(&path, &run.out, false) {
                    ctx.warn("sed", format!("couldn't open temporary file {name}: {e}"));
                    st = 4;
                }
            }
        } else {
            ctx.io.out(&run.out);
        }
    }
    Ok(st)
}
