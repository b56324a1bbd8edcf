//! GNU `sed`: the cycle over a pattern space and a hold space, `s///` (g, N, p, I, w), `d D p P
//! q Q = l y a i c n N g G h H x z F`, `r R w W` (files in the overlay, see `io`), `{...}`, `!`,
//! labels with `b t T`, addresses `n`, `$`, `/re/I`, `first~step`, `0,/re/`, `addr,+N`,
//! `addr,~N`; `-n -e -f -E -s -i` (into the memory layer), `-z` (NUL-separated lines, which
//! `N G H D P = l i c F` use too while `a` text still ends in a newline, as in GNU sed 4.9).
//! Commands that run programs (`e`, `s///e`) are refused by name.

use std::rc::Rc;

use super::longest::PosixText;

use super::opts::{Arg, Spec};
use super::sed_script::{Addr, Cmd, Inst, Parser, Rx};
use super::{Ctx, or_stdin};

mod io;
use crate::interp::R;
use io::{Pending, WFile};

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
            ("null-data", 'z', Arg::No),
            ("zero-terminated", 'z', Arg::No),
        ],
    )
    .gnu(
        "bEe:f:i::l:nrsuz",
        &[
            "debug",
            "sandbox",
            "follow-symlinks",
            "line-length",
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
    let mut backup_suffix: Option<String> = None;
    let mut nl = '\n';
    for (c, v) in flags {
        match c {
            'n' => quiet = true,
            'E' | 'r' => extended = true,
            'i' => {
                in_place = true;
                backup_suffix = v.filter(|s| !s.is_empty());
            }
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
            'z' => nl = '\0',
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
    // --posix turns off the GNU escapes (`\+`, `\|`, `\t`...) that this sed always reads: a
    // script with a backslash could mean something else there.
    if args.iter().any(|a| a == "--posix") && script.contains('\\') {
        ctx.warn(
            "sed",
            "option '--posix' with backslash escapes is not supported in this sandbox",
        );
        return Ok(2);
    }
    // The C locale reads bytes: each byte of the script and the input becomes one Latin-1
    // character, so `.` matches a byte and lengths count bytes; output turns them back.
    let latin1 = super::grep::c_locale(ctx);
    let script = if latin1 {
        to_latin1(script.as_bytes())
    } else {
        script
    };
    let prog = match Parser::new(&script, extended).latin1(latin1).program() {
        Ok(p) => p,
        Err((at, e)) => {
            let refused = e.contains("not supported by this sandbox");
            ctx.warn("sed", format!("-e expression #1, char {at}: {e}"));
            return Ok(if refused { 2 } else { 1 });
        }
    };
    let Some(mut wfiles) = io::open_wfiles(ctx, &prog) else {
        return Ok(4);
    };
    let mut st = 0;
    let inputs = or_stdin(files);
    let mut datas = Vec::new();
    for f in &inputs {
        match ctx.read_operand(f) {
            Ok(d) => datas.push((f.clone(), d)),
            // GNU sed stops at a directory with a read error (exit 4): the files before it are
            // edited, none after it.
            Err(crate::vfs::FsError::IsDir) => {
                ctx.warn("sed", format!("read error on {f}: Is a directory"));
                st = 4;
                break;
            }
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
    let mut quit = false;
    for group in groups {
        if quit {
            break;
        }
        // Each input's lines, joined; an input's last line without its delimiter stays a line
        // of its own that GNU prints without one ("unchomped"), the next output owing it.
        let mut text: Vec<u8> = Vec::new();
        let mut names = Vec::new();
        let mut unchomped = Vec::new();
        let mut first = 1u64;
        for (name, d) in &group {
            names.push((first, name.clone()));
            let n = memchr::memchr_iter(nl as u8, d).count() as u64;
            text.extend_from_slice(d);
            first += n;
            if d.last().is_some_and(|&b| b != nl as u8) {
                unchomped.push(first);
                first += 1;
                text.push(nl as u8);
            }
        }
        let text = if latin1 {
            to_latin1(&text)
        } else {
            String::from_utf8_lossy(&text).into_owned()
        };
        let mut m = Machine::new(&prog, &text, quiet, nl);
        m.latin1 = latin1;
        m.in_place = in_place;
        m.names = names;
        m.unchomped = unchomped;
        m.wfiles = std::mem::take(&mut wfiles);
        m.run(ctx)?;
        quit = m.quit;
        // `q` before the last line of a piped stdin: a writer cut short never needed to write
        // more (see `Input::stop_short`).
        if quit && !m.is_last() && inputs.len() == 1 && inputs[0] == "-" {
            ctx.stdin.stop_short();
        }
        wfiles = std::mem::take(&mut m.wfiles);
        if in_place {
            if let Some((name, original)) = group.first() {
                let path = ctx.path(name);
                // `-i.bak` keeps the original; a `*` in the suffix stands for the file's name.
                if let Some(suffix) = &backup_suffix {
                    let backup = match name.rsplit_once('/') {
                        Some((dir, base)) if suffix.contains('*') => {
                            format!("{dir}/{}", suffix.replace('*', base))
                        }
                        _ if suffix.contains('*') => suffix.replace('*', name),
                        _ => format!("{name}{suffix}"),
                    };
                    let bpath = ctx.path(&backup);
                    if let Err(e) = ctx.sh.fs.write(&bpath, original, false) {
                        ctx.warn("sed", format!("cannot rename {name}: {e}"));
                        st = 4;
                        continue;
                    }
                }
                if let Err(e) = ctx.sh.fs.write(&path, &m.out, false) {
                    ctx.warn("sed", format!("couldn't open temporary file {name}: {e}"));
                    st = 4;
                }
            }
        } else {
            ctx.io.out(&m.out);
        }
    }
    if !io::save_wfiles(ctx, &wfiles) {
        st = 4;
    }
    Ok(st)
}

/// One run of the program over one input stream.
struct Machine<'p, 't> {
    prog: &'p [Inst],
    lines: Vec<&'t str>,
    /// GNU's `chomped`: the pattern space's line had its delimiter (so printing it adds one);
    /// `h g H G x` carry it between the pattern and hold spaces, whose own starts true.
    ps_chomped: bool,
    hs_chomped: bool,
    /// The line numbers read without their delimiter.
    unchomped: Vec<u64>,
    next: usize,
    /// Line number of the last line read.
    n: u64,
    ps: String,
    hs: String,
    quiet: bool,
    out: Vec<u8>,
    /// `a`, `r` and `R` output, printed when the cycle ends or the next line is read.
    append: Vec<Pending>,
    /// The line delimiter: a newline, or NUL with `-z`.
    nl: char,
    /// With `-i`, `w /dev/stdout` goes to the real stdout, not into the edited file.
    in_place: bool,
    /// The first line number of each input, and its name (`F`).
    names: Vec<(u64, String)>,
    wfiles: Vec<WFile>,
    /// `R` files: their bytes and how far they have been read.
    rfiles: Vec<(String, std::sync::Arc<Vec<u8>>, usize)>,
    /// Range state per instruction: active, and the line a `+N` range ends on.
    active: Vec<(bool, u64)>,
    last_re: Option<Rc<PosixText>>,
    subst_done: bool,
    /// The previous print lacked its newline (last line without one); owed before more output.
    owe_nl: bool,
    quit: bool,
    steps: u64,
    /// Text is Latin-1 for bytes (the C locale): written back one byte per character.
    latin1: bool,
}

enum Flow {
    /// End the cycle (auto-print unless `-n`).
    End,
    /// End the cycle without auto-print (`d`).
    Delete,
    /// Restart the cycle without reading a line (`D`).
    Restart,
    /// Stop: after auto-print (`q`) or without (`Q`).
    Quit(bool),
}

impl<'p, 't> Machine<'p, 't> {
    fn new(prog: &'p [Inst], text: &'t str, quiet: bool, nl: char) -> Self {
        Machine {
            prog,
            lines: text.split_terminator(nl).collect(),
            ps_chomped: true,
            hs_chomped: true,
            unchomped: Vec::new(),
            next: 0,
            n: 0,
            ps: String::new(),
            hs: String::new(),
            quiet,
            out: Vec::new(),
            append: Vec::new(),
            nl,
            in_place: false,
            names: Vec::new(),
            wfiles: Vec::new(),
            rfiles: Vec::new(),
            active: vec![(false, 0); prog.len()],
            last_re: None,
            subst_done: false,
            owe_nl: false,
            quit: false,
            steps: 0,
            latin1: false,
        }
    }

    fn is_last(&self) -> bool {
        self.next >= self.lines.len()
    }

    fn read_line(&mut self) -> Option<&'t str> {
        let l = self.lines.get(self.next).copied()?;
        self.next += 1;
        self.n += 1;
        self.ps_chomped = !self.unchomped.contains(&self.n);
        Some(l)
    }

    fn emit(&mut self, text: &str, newline: bool) {
        self.emit_ended(text, newline.then_some(self.nl as u8));
    }

    /// Writes `text` and then `end` (`a` text ends in a newline even under `-z`).
    fn emit_ended(&mut self, text: &str, end: Option<u8>) {
        if self.owe_nl {
            self.out.push(self.nl as u8);
            self.owe_nl = false;
        }
        let bytes = self.bytes(text);
        self.out.extend_from_slice(&bytes);
        if let Some(e) = end {
            self.out.push(e);
        }
    }

    fn bytes(&self, text: &str) -> Vec<u8> {
        if self.latin1 {
            text.chars().map(latin1_byte).collect()
        } else {
            text.as_bytes().to_vec()
        }
    }

    /// Prints the pattern space; the input's last line keeps its missing newline.
    fn print_ps(&mut self) {
        let missing = !self.ps_chomped;
        let ps = std::mem::take(&mut self.ps);
        self.emit(&ps, !missing);
        self.ps = ps;
        if missing {
            self.owe_nl = true;
        }
    }

    fn regex<'a>(&'a mut self, rx: &'a Rx) -> Option<&'a Rc<PosixText>> {
        match rx {
            Some(re) => {
                self.last_re = Some(re.clone());
                Some(re)
            }
            None => self.last_re.as_ref(),
        }
    }

    fn matches(&mut self, a: &Addr) -> bool {
        let n = self.n;
        match a {
            Addr::Line(k) => n == *k,
            Addr::Last => self.is_last(),
            Addr::Zero => false,
            Addr::Step(first, step) => {
                if *step == 0 {
                    n == *first
                } else {
                    n >= *first && (n - first).is_multiple_of(*step)
                }
            }
            Addr::Re(rx) => {
                let ps = std::mem::take(&mut self.ps);
                let hit = self.regex(rx).is_some_and(|re| re.regex().is_match(&ps));
                self.ps = ps;
                hit
            }
            // Only ever a second address.
            Addr::Plus(_) | Addr::Multiple(_) => false,
        }
    }

    fn selected(&mut self, pc: usize) -> bool {
        let inst = &self.prog[pc];
        let hit = match (&inst.a1, &inst.a2) {
            (None, _) => true,
            (Some(a), None) => self.matches(a),
            (Some(a1), Some(a2)) => {
                let (active, end_line) = self.active[pc];
                let n = self.n;
                if active {
                    let end = match a2 {
                        Addr::Line(k) => n >= *k,
                        Addr::Plus(_) => n >= end_line,
                        Addr::Multiple(_) => n >= end_line,
                        other => self.matches(other),
                    };
                    if end {
                        self.active[pc].0 = false;
                    }
                    true
                } else if matches!(a1, Addr::Zero) && n == 1 && {
                    // `0,/re/`: the end may be line 1 itself.
                    if self.matches(a2) {
                        true
                    } else {
                        self.active[pc] = (true, 0);
                        true
                    }
                } {
                    true
                } else if self.matches(a1) {
                    let one_line = match a2 {
                        Addr::Line(k) => *k <= n,
                        Addr::Plus(k) => {
                            self.active[pc].1 = n + k;
                            *k == 0
                        }
                        // GNU: up to the next multiple of N after this line.
                        Addr::Multiple(k) => {
                            if *k > 0 {
                                self.active[pc].1 = n + k - n % k;
                            }
                            *k == 0
                        }
                        _ => false,
                    };
                    self.active[pc].0 = !one_line;
                    true
                } else {
                    false
                }
            }
        };
        hit != inst.negate
    }

    fn run(&mut self, ctx: &mut Ctx<'_, '_>) -> R<()> {
        let max = ctx.sh.limits.max_string_length;
        let mut restart = false;
        loop {
            if !restart {
                let Some(l) = self.read_line() else { break };
                self.ps = l.to_owned();
            }
            restart = false;
            self.subst_done = false;
            let flow = self.cycle(ctx, max)?;
            match flow {
                Flow::Delete => {}
                Flow::Restart => {
                    self.flush_append(ctx);
                    restart = true;
                    continue;
                }
                Flow::Quit(false) => {
                    self.quit = true;
                    break;
                }
                Flow::End | Flow::Quit(true) => {
                    if !self.quiet {
                        self.print_ps();
                    }
                    if matches!(flow, Flow::Quit(true)) {
                        // GNU's `q` pays a newline the last line owes even with nothing queued.
                        if self.owe_nl {
                            self.out.push(self.nl as u8);
                            self.owe_nl = false;
                        }
                        self.flush_append(ctx);
                        self.quit = true;
                        break;
                    }
                }
            }
            self.flush_append(ctx);
            if self.quit {
                break;
            }
            if self.out.len() + self.wfiles.iter().map(|w| w.data.len()).sum::<usize>() > max {
                return crate::interp::abort(
                    crate::interp::LIMIT_EXIT,
                    format!("sed: output larger than limits.max_string_length ({max} bytes)"),
                );
            }
        }
        Ok(())
    }

    fn cycle(&mut self, ctx: &mut Ctx<'_, '_>, max: usize) -> R<Flow> {
        let mut pc = 0;
        while pc < self.prog.len() {
            self.steps += 1;
            if self.steps.is_multiple_of(256) {
                ctx.sh.tick()?;
            }
            if self.ps.len() > max || self.hs.len() > max {
                return crate::interp::abort(
                    crate::interp::LIMIT_EXIT,
                    format!(
                        "sed: pattern space larger than limits.max_string_length ({max} bytes)"
                    ),
                );
            }
            let selected = self.selected(pc);
            let inst = &self.prog[pc];
            if !selected {
                pc = match inst.cmd {
                    Cmd::Block(end) => end,
                    _ => pc + 1,
                };
                continue;
            }
            pc += 1;
            match &inst.cmd {
                Cmd::Subst {
                    re,
                    rep,
                    global,
                    nth,
                    print,
                    write,
                } => {
                    let Some(re) = self.regex(re).cloned() else {
                        ctx.warn("sed", "no previous regular expression");
                        return Ok(Flow::Quit(false));
                    };
                    if let Some(new) = substitute(&re, &self.ps, rep, *global, *nth, self.latin1) {
                        self.ps = new;
                        self.subst_done = true;
                        if *print {
                            self.print_ps();
                        }
                        if let Some(w) = write {
                            self.write_to(ctx, w, false);
                        }
                    }
                }
                Cmd::Delete => return Ok(Flow::Delete),
                Cmd::ReadFile(f) => self.append.push(Pending::File(f.clone())),
                Cmd::ReadLine(f) => {
                    if let Some(l) = self.read_next_line(ctx, f) {
                        self.append.push(Pending::Raw(l));
                    }
                }
                Cmd::Write(f) => self.write_to(ctx, f, false),
                Cmd::WriteFirst(f) => self.write_to(ctx, f, true),
                Cmd::FileName => {
                    let n = self.n;
                    let name = self
                        .names
                        .iter()
                        .rev()
                        .find(|(first, _)| *first <= n)
                        .map_or("-", |(_, name)| name.as_str())
                        .to_owned();
                    self.emit(&name, true);
                }
                Cmd::DeleteFirst => match self.ps.find(self.nl) {
                    Some(i) => {
                        self.ps.drain(..=i);
                        return Ok(Flow::Restart);
                    }
                    None => return Ok(Flow::Delete),
                },
                Cmd::Print => self.print_ps(),
                // Without a delimiter in it, `P` is `p`: the input's last line keeps its
                // missing newline, as in GNU.
                Cmd::PrintFirst if !self.ps.contains(self.nl) => self.print_ps(),
                Cmd::PrintFirst => {
                    let first = self.ps.split(self.nl).next().unwrap_or("").to_owned();
                    self.emit(&first, true);
                }
                Cmd::Quit(print) => return Ok(Flow::Quit(*print)),
                Cmd::LineNo => {
                    let n = self.n.to_string();
                    self.emit(&n, true);
                }
                Cmd::Translate(a, b) => {
                    self.ps = self
                        .ps
                        .chars()
                        .map(|c| a.iter().position(|x| *x == c).map_or(c, |i| b[i]))
                        .collect();
                }
                Cmd::Append(t) => self.append.extend(t.clone().map(Pending::Text)),
                Cmd::Insert(t) => {
                    if let Some(t) = t.clone() {
                        self.emit(&t, true);
                    }
                }
                Cmd::Change(t) => {
                    // In a range, the text replaces the whole range: it prints at its end.
                    let in_range = inst.a2.is_some() && self.active[pc - 1].0;
                    if (!in_range || inst.negate)
                        && let Some(t) = t.clone()
                    {
                        self.emit(&t, true);
                    }
                    return Ok(Flow::Delete);
                }
                Cmd::Next => {
                    if self.is_last() {
                        // GNU: no next line ends the script, auto-printing first.
                        self.quit = true;
                        return Ok(Flow::End);
                    }
                    if !self.quiet {
                        self.print_ps();
                    }
                    self.flush_append(ctx);
                    if let Some(l) = self.read_line() {
                        self.ps = l.to_owned();
                    }
                }
                Cmd::NextAppend => {
                    if self.is_last() {
                        self.quit = true;
                        return Ok(Flow::End);
                    }
                    self.flush_append(ctx);
                    if let Some(l) = self.read_line() {
                        self.ps.push(self.nl);
                        self.ps.push_str(l);
                    }
                }
                Cmd::Hold => {
                    self.hs.clone_from(&self.ps);
                    self.hs_chomped = self.ps_chomped;
                }
                Cmd::HoldAppend => {
                    self.hs_chomped = self.ps_chomped;
                    self.hs.push(self.nl);
                    let ps = self.ps.clone();
                    self.hs.push_str(&ps);
                }
                Cmd::Get => {
                    self.ps.clone_from(&self.hs);
                    self.ps_chomped = self.hs_chomped;
                }
                Cmd::GetAppend => {
                    self.ps_chomped = self.hs_chomped;
                    self.ps.push(self.nl);
                    let hs = self.hs.clone();
                    self.ps.push_str(&hs);
                }
                Cmd::Exchange => {
                    std::mem::swap(&mut self.ps, &mut self.hs);
                    std::mem::swap(&mut self.ps_chomped, &mut self.hs_chomped);
                }
                Cmd::List => {
                    let l = if self.latin1 {
                        list_escape(&self.ps.chars().map(latin1_byte).collect::<Vec<u8>>())
                    } else {
                        list_escape(self.ps.as_bytes())
                    };
                    self.emit(&l, true);
                }
                Cmd::Zap => self.ps.clear(),
                Cmd::Branch(t) => pc = *t,
                Cmd::BranchIf(t) => {
                    if self.subst_done {
                        self.subst_done = false;
                        pc = *t;
                    }
                }
                Cmd::BranchUnless(t) => {
                    if !self.subst_done {
                        pc = *t;
                    } else {
                        self.subst_done = false;
                    }
                }
                Cmd::Block(_) => {}
            }
        }
        Ok(Flow::End)
    }
}

/// `s///` on the pattern space: `None` when nothing matched.
fn substitute(
    re: &PosixText,
    ps: &str,
    rep: &str,
    global: bool,
    nth: usize,
    ascii_case: bool,
) -> Option<String> {
    let mut result = String::new();
    let mut last_end = 0;
    let mut count = 0;
    let mut changed = false;
    for caps in re.captures_all(ps) {
        let Some(m) = caps.get(0) else { continue };
        count += 1;
        if count < nth || (!global && count > nth) {
            continue;
        }
        result.push_str(&ps[last_end..m.start()]);
        result.push_str(&expand_rep(rep, &caps, ascii_case));
        last_end = m.end();
        changed = true;
    }
    changed.then(|| {
        result.push_str(&ps[last_end..]);
        result
    })
}

/// GNU's case conversions in a replacement.
#[derive(Clone, Copy, PartialEq)]
enum Case {
    Keep,
    Upper,
    Lower,
}

/// Each byte as the Latin-1 character of that value (the C locale's view of text).
fn to_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A Latin-1 character back to its byte (every character of Latin-1 text is below 256).
fn latin1_byte(c: char) -> u8 {
    u8::try_from(u32::from(c)).unwrap_or(b'?')
}

fn expand_rep(rep: &str, caps: &regex::Captures<'_>, ascii_case: bool) -> String {
    let mut out = String::new();
    let mut case = Case::Keep;
    // `\u`/`\l`: the next character only.
    let mut one: Option<Case> = None;
    let push = |out: &mut String, s: &str, case: Case, one: &mut Option<Case>| {
        for c in s.chars() {
            // The C locale changes the case of ASCII letters only; GNU sed 4.9 turns any other
            // byte of 128 or more into 0xff (its wide-character conversion fails there).
            let conv = |c: char, to: Case| -> String {
                match to {
                    Case::Upper | Case::Lower if ascii_case && !c.is_ascii() => {
                        '\u{ff}'.to_string()
                    }
                    Case::Upper if ascii_case => c.to_ascii_uppercase().to_string(),
                    Case::Lower if ascii_case => c.to_ascii_lowercase().to_string(),
                    Case::Upper => c.to_uppercase().collect(),
                    Case::Lower => c.to_lowercase().collect(),
                    Case::Keep => c.to_string(),
                }
            };
            let c1 = match one.take() {
                Some(to) => conv(c, to),
                None => conv(c, case),
            };
            out.push_str(&c1);
        }
    };
    let mut chars = rep.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => push(
                &mut out,
                caps.get(0).map_or("", |m| m.as_str()),
                case,
                &mut one,
            ),
            '\\' => match chars.next() {
                Some(d) if d.is_ascii_digit() => {
                    let k = d.to_digit(10).unwrap_or(0) as usize;
                    push(
                        &mut out,
                        caps.get(k).map_or("", |m| m.as_str()),
                        case,
                        &mut one,
                    );
                }
                Some('n') => push(&mut out, "\n", case, &mut one),
                Some('t') => push(&mut out, "\t", case, &mut one),
                Some('U') => case = Case::Upper,
                Some('L') => case = Case::Lower,
                Some('E') => case = Case::Keep,
                Some('u') => one = Some(Case::Upper),
                Some('l') => one = Some(Case::Lower),
                Some(o) => push(&mut out, &o.to_string(), case, &mut one),
                None => out.push('\\'),
            },
            o => push(&mut out, &o.to_string(), case, &mut one),
        }
    }
    out
}

/// `l`: C escapes, other non-printing bytes in octal, lines folded at 69 characters with `\`,
/// and `$` at the end.
fn list_escape(ps: &[u8]) -> String {
    let mut pieces: Vec<String> = Vec::new();
    for &b in ps {
        pieces.push(match b {
            b'\\' => "\\\\".to_owned(),
            7 => "\\a".to_owned(),
            8 => "\\b".to_owned(),
            12 => "\\f".to_owned(),
            b'\n' => "\\n".to_owned(),
            b'\r' => "\\r".to_owned(),
            b'\t' => "\\t".to_owned(),
            11 => "\\v".to_owned(),
            32..=126 => char::from(b).to_string(),
            other => format!("\\{other:03o}"),
        });
    }
    let mut out = String::new();
    let mut width = 0;
    for p in pieces {
        if width + p.len() > 69 {
            out.push_str("\\\n");
            width = 0;
        }
        width += p.len();
        out.push_str(&p);
    }
    out.push('$');
    out
}
