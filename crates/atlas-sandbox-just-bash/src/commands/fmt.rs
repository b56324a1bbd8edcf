//! `fmt` (GNU coreutils 9.1): paragraphs refilled by GNU's cost model, so the lines break where
//! GNU's do. A paragraph is a run of lines with the same indent (`-c`: after the first line,
//! `-t`: the first differs), split only with `-s`; each line's best break minimises the squared
//! shortfall from the goal width (93% of `-w`, or `-g`) plus raggedness against the next line,
//! with bonuses and penalties for breaking after sentences, punctuation and before a lone word.
//! Widths count bytes and tabs reach the next multiple of 8, as GNU counts them; inter-word
//! spacing is kept unless `-u`. Like GNU, a paragraph longer than 1000 words or 5000 bytes is
//! cut at its cheapest break and formatting goes on from there.

use super::Ctx;
use super::opts::{Arg, Spec};
use super::sink::Sink;
use crate::interp::R;

const SPEC: Spec = Spec::new(
    "fmt",
    "cstuw:p:g:",
    &[
        ("crown-margin", 'c', Arg::No),
        ("prefix", 'p', Arg::Required),
        ("split-only", 's', Arg::No),
        ("tagged-paragraph", 't', Arg::No),
        ("uniform-spacing", 'u', Arg::No),
        ("width", 'w', Arg::Required),
        ("goal", 'g', Arg::Required),
    ],
)
.gnu(
    "0123456789cstuw:p:g:",
    &[
        "crown-margin",
        "prefix",
        "split-only",
        "tagged-paragraph",
        "uniform-spacing",
        "width",
        "goal",
        "help",
        "version",
    ],
);

type Cost = i64;
const MAX_COST: Cost = i64::MAX;
const MAX_WORDS: usize = 1000;
const MAX_CHARS: usize = 5000;
const TAB: i32 = 8;
const EOF: i32 = -1;

const fn equiv(n: i64) -> Cost {
    n * n
}
const fn short_cost(n: i64) -> Cost {
    equiv(n * 10)
}
const fn ragged_cost(n: i64) -> Cost {
    short_cost(n) / 2
}
const LINE_COST: Cost = equiv(70);
const SENTENCE_BONUS: Cost = equiv(50);
const NOBREAK_COST: Cost = equiv(600);
const PAREN_BONUS: Cost = equiv(40);
const PUNCT_BONUS: Cost = equiv(40);
/// What each later break point is handicapped by when a full paragraph is cut.
const LINE_CREDIT: Cost = equiv(3);
fn widow_cost(n: i32) -> Cost {
    equiv(200) / (i64::from(n) + 2)
}
fn orphan_cost(n: i32) -> Cost {
    equiv(150) / (i64::from(n) + 2)
}

#[derive(Clone, Copy, Default)]
struct Word {
    text: usize,
    length: i32,
    space: i32,
    paren: bool,
    period: bool,
    punct: bool,
    fin: bool,
    line_length: i32,
    best_cost: Cost,
    next_break: usize,
}

/// GNU fmt's state for one input, over its bytes.
struct Fmt {
    input: std::sync::Arc<Vec<u8>>,
    pos: usize,
    out: Vec<u8>,
    crown: bool,
    tagged: bool,
    split: bool,
    uniform: bool,
    prefix: Vec<u8>,
    prefix_full_length: i32,
    prefix_lead_space: i32,
    prefix_length: i32,
    max_width: i32,
    goal_width: i32,
    in_column: i32,
    out_column: i32,
    para: Vec<u8>,
    words: Vec<Word>,
    /// The word being read (`word_limit`).
    wl: usize,
    tabs: bool,
    prefix_indent: i32,
    first_indent: i32,
    other_indent: i32,
    next_char: i32,
    next_prefix_indent: i32,
    last_line_length: i32,
}

pub(super) fn fmt(ctx: &mut Ctx<'_, '_>, args: &[String]) -> R<i32> {
    let mut args = args.to_vec();
    let mut width_opt: Option<String> = None;
    // `fmt -60`: GNU's old width spelling, only as the first argument.
    if let Some(first) = args.first()
        && first.len() > 1
        && first.starts_with('-')
        && first.as_bytes()[1].is_ascii_digit()
    {
        width_opt = Some(first[1..].to_owned());
        args.remove(0);
    }
    let (flags, files) = match ctx.opts(&SPEC, &args) {
        Ok(x) => x,
        Err(st) => return Ok(st),
    };
    let mut f = Fmt::new();
    let mut goal_opt: Option<String> = None;
    for (c, v) in flags {
        match c {
            'c' => f.crown = true,
            's' => f.split = true,
            't' => f.tagged = true,
            'u' => f.uniform = true,
            'w' => width_opt = v,
            'g' => goal_opt = v,
            _ => f.set_prefix(v.unwrap_or_default().as_bytes()),
        }
    }
    if let Some(w) = &width_opt {
        match width(w, MAX_CHARS as u64 / 2) {
            Ok(n) => f.max_width = n,
            Err(msg) => {
                ctx.warn("fmt", msg);
                return Ok(1);
            }
        }
    }
    match &goal_opt {
        Some(g) => match width(g, f.max_width as u64) {
            Ok(n) => {
                f.goal_width = n;
                if width_opt.is_none() {
                    f.max_width = n + 10;
                }
            }
            Err(msg) => {
                ctx.warn("fmt", msg);
                return Ok(1);
            }
        },
        None => f.goal_width = f.max_width * (2 * (100 - 7) + 1) / 200,
    }
    let files = super::or_stdin(files);
    let mut sink = Sink::new();
    let mut st = 0;
    for name in &files {
        let data = match ctx.read_operand(name) {
            Ok(d) => d,
            Err(crate::vfs::FsError::IsDir) => {
                ctx.warn("fmt", "read error");
                st = 1;
                continue;
            }
            Err(e) => {
                ctx.warn("fmt", format!("cannot open '{name}' for reading: {e}"));
                st = 1;
                continue;
            }
        };
        f.run(ctx, data, &mut sink)?;
    }
    sink.flush(ctx)?;
    Ok(st)
}

/// A width as GNU's xdectoumax reads it, at most `max`.
fn width(v: &str, max: u64) -> Result<i32, String> {
    let t = v.trim_start();
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid width: '{v}'"));
    }
    match t.parse::<u64>() {
        Ok(n) if n <= max => Ok(n as i32),
        _ => Err(format!(
            "invalid width: '{v}': Numerical result out of range"
        )),
    }
}

impl Fmt {
    fn new() -> Self {
        Fmt {
            input: std::sync::Arc::new(Vec::new()),
            pos: 0,
            out: Vec::new(),
            crown: false,
            tagged: false,
            split: false,
            uniform: false,
            prefix: Vec::new(),
            prefix_full_length: 0,
            prefix_lead_space: 0,
            prefix_length: 0,
            max_width: 75,
            goal_width: 0,
            in_column: 0,
            out_column: 0,
            para: Vec::with_capacity(MAX_CHARS),
            words: vec![Word::default(); MAX_WORDS],
            wl: 0,
            tabs: false,
            prefix_indent: 0,
            first_indent: 0,
            other_indent: 0,
            next_char: EOF,
            next_prefix_indent: 0,
            last_line_length: 0,
        }
    }

    /// `-p`: leading spaces counted apart, trailing ones dropped from what is printed.
    fn set_prefix(&mut self, p: &[u8]) {
        let lead = p.iter().take_while(|&&b| b == b' ').count();
        let rest = &p[lead..];
        let kept = rest.len() - rest.iter().rev().take_while(|&&b| b == b' ').count();
        self.prefix_lead_space = lead as i32;
        self.prefix_full_length = rest.len() as i32;
        self.prefix = rest[..kept].to_vec();
        self.prefix_length = kept as i32;
    }

    fn getc(&mut self) -> i32 {
        match self.input.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                i32::from(b)
            }
            None => EOF,
        }
    }

    fn run(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        data: std::sync::Arc<Vec<u8>>,
        sink: &mut Sink,
    ) -> R<()> {
        self.input = data;
        self.pos = 0;
        self.tabs = false;
        self.other_indent = 0;
        self.next_char = self.get_prefix();
        while self.get_paragraph(ctx, sink)? {
            self.fmt_paragraph();
            self.put_paragraph(self.wl);
            self.drain(ctx, sink)?;
        }
        self.drain(ctx, sink)
    }

    fn drain(&mut self, ctx: &mut Ctx<'_, '_>, sink: &mut Sink) -> R<()> {
        if !self.out.is_empty() {
            sink.put(ctx, &self.out)?;
            self.out.clear();
        }
        ctx.sh.tick()
    }

    fn set_other_indent(&mut self, same: bool) {
        if self.split {
            self.other_indent = self.first_indent;
        } else if self.crown {
            self.other_indent = if same {
                self.in_column
            } else {
                self.first_indent
            };
        } else if self.tagged {
            if same && self.in_column != self.first_indent {
                self.other_indent = self.in_column;
            } else if self.other_indent == self.first_indent {
                self.other_indent = if self.first_indent == 0 { 3 } else { 0 };
            }
        } else {
            self.other_indent = self.first_indent;
        }
    }

    fn get_paragraph(&mut self, ctx: &mut Ctx<'_, '_>, sink: &mut Sink) -> R<bool> {
        self.last_line_length = 0;
        let mut c = self.next_char;
        // Blank lines, and lines without the prefix, are copied as they are.
        while c == i32::from(b'\n')
            || c == EOF
            || self.next_prefix_indent < self.prefix_lead_space
            || self.in_column < self.next_prefix_indent + self.prefix_full_length
        {
            c = self.copy_rest(c);
            if c == EOF {
                self.next_char = EOF;
                return Ok(false);
            }
            self.out.push(b'\n');
            if self.out.len() > 32 * 1024 {
                self.drain(ctx, sink)?;
            }
            c = self.get_prefix();
        }
        self.prefix_indent = self.next_prefix_indent;
        self.first_indent = self.in_column;
        self.para.clear();
        self.wl = 0;
        c = self.get_line(c);
        let same = self.same_para(c);
        self.set_other_indent(same);
        if self.split {
        } else if self.crown {
            if self.same_para(c) {
                loop {
                    c = self.get_line(c);
                    if !(self.same_para(c) && self.in_column == self.other_indent) {
                        break;
                    }
                }
            }
        } else if self.tagged {
            if self.same_para(c) && self.in_column != self.first_indent {
                loop {
                    c = self.get_line(c);
                    if !(self.same_para(c) && self.in_column == self.other_indent) {
                        break;
                    }
                }
            }
        } else {
            while self.same_para(c) && self.in_column == self.other_indent {
                c = self.get_line(c);
                if self.out.len() > 32 * 1024 {
                    self.drain(ctx, sink)?;
                }
            }
        }
        let last = self.wl - 1;
        self.words[last].period = true;
        self.words[last].fin = true;
        self.next_char = c;
        Ok(true)
    }

    fn copy_rest(&mut self, mut c: i32) -> i32 {
        self.out_column = 0;
        if self.in_column > self.next_prefix_indent || (c != i32::from(b'\n') && c != EOF) {
            self.put_space(self.next_prefix_indent);
            let mut k = 0;
            while self.out_column != self.in_column && k < self.prefix.len() {
                self.out.push(self.prefix[k]);
                k += 1;
                self.out_column += 1;
            }
            // GNU's copy walks the full prefix text, trailing blanks included.
            if c != EOF && c != i32::from(b'\n') {
                self.put_space(self.in_column - self.out_column);
            }
            if c == EOF && self.in_column >= self.next_prefix_indent + self.prefix_length {
                self.out.push(b'\n');
            }
        }
        while c != i32::from(b'\n') && c != EOF {
            self.out.push(c as u8);
            c = self.getc();
        }
        c
    }

    fn same_para(&self, c: i32) -> bool {
        self.next_prefix_indent == self.prefix_indent
            && self.in_column >= self.next_prefix_indent + self.prefix_full_length
            && c != i32::from(b'\n')
            && c != EOF
    }

    fn get_line(&mut self, mut c: i32) -> i32 {
        loop {
            self.words[self.wl].text = self.para.len();
            loop {
                if self.para.len() == MAX_CHARS {
                    self.set_other_indent(true);
                    self.flush_paragraph();
                }
                self.para.push(c as u8);
                c = self.getc();
                if c == EOF || is_space(c) {
                    break;
                }
            }
            let w = self.wl;
            let length = (self.para.len() - self.words[w].text) as i32;
            self.words[w].length = length;
            self.in_column += length;
            self.check_punctuation(w);
            let start = self.in_column;
            c = self.get_space(c);
            let space = self.in_column - start;
            let word = &mut self.words[w];
            word.space = space;
            word.fin = c == EOF || (word.period && (c == i32::from(b'\n') || space > 1));
            if c == i32::from(b'\n') || c == EOF || self.uniform {
                word.space = if word.fin { 2 } else { 1 };
            }
            if self.wl == MAX_WORDS - 2 {
                self.set_other_indent(true);
                self.flush_paragraph();
            }
            self.wl += 1;
            if c == i32::from(b'\n') || c == EOF {
                break;
            }
        }
        self.get_prefix()
    }

    fn get_prefix(&mut self) -> i32 {
        self.in_column = 0;
        let first = self.getc();
        let mut c = self.get_space(first);
        if self.prefix_length == 0 {
            self.next_prefix_indent = self.prefix_lead_space.min(self.in_column);
        } else {
            self.next_prefix_indent = self.in_column;
            for k in 0..self.prefix.len() {
                if c != i32::from(self.prefix[k]) {
                    return c;
                }
                self.in_column += 1;
                c = self.getc();
            }
            c = self.get_space(c);
        }
        c
    }

    fn get_space(&mut self, mut c: i32) -> i32 {
        loop {
            if c == i32::from(b' ') {
                self.in_column += 1;
            } else if c == i32::from(b'\t') {
                self.tabs = true;
                self.in_column = (self.in_column / TAB + 1) * TAB;
            } else {
                return c;
            }
            c = self.getc();
        }
    }

    fn check_punctuation(&mut self, w: usize) {
        let start = self.words[w].text;
        let len = self.words[w].length as usize;
        let text = &self.para[start..start + len];
        let first = text[0];
        let mut fin = len - 1;
        let paren = b"(['`\"".contains(&first);
        let punct = text[fin].is_ascii_punctuation();
        while fin > 0 && b")]'\"".contains(&text[fin]) {
            fin -= 1;
        }
        let period = b".?!".contains(&text[fin]);
        let word = &mut self.words[w];
        word.paren = paren;
        word.punct = punct;
        word.period = period;
    }

    /// The paragraph is full: output it up to its cheapest break and keep the rest.
    fn flush_paragraph(&mut self) {
        if self.wl == 0 {
            self.out.extend_from_slice(&self.para);
            self.para.clear();
            return;
        }
        self.fmt_paragraph();
        let mut split_point = self.wl;
        let mut best_break = MAX_COST;
        let mut w = self.words[0].next_break;
        while w != self.wl {
            let next = self.words[w].next_break;
            let gain = self.words[w].best_cost - self.words[next].best_cost;
            if gain < best_break {
                split_point = w;
                best_break = gain;
            }
            if best_break <= MAX_COST - LINE_CREDIT {
                best_break += LINE_CREDIT;
            }
            w = next;
        }
        self.put_paragraph(split_point);
        let shift = self.words[split_point].text;
        self.para.drain(..shift);
        for k in split_point..=self.wl {
            self.words[k].text -= shift;
        }
        self.words.copy_within(split_point..=self.wl, 0);
        self.wl -= split_point;
    }

    /// Each word's best line from it on, from the last word back.
    fn fmt_paragraph(&mut self) {
        let wl = self.wl;
        self.words[wl].best_cost = 0;
        let saved = self.words[wl].length;
        self.words[wl].length = self.max_width;
        for start in (0..wl).rev() {
            let mut best = MAX_COST;
            let mut len = if start == 0 {
                self.first_indent
            } else {
                self.other_indent
            };
            let mut w = start;
            len += self.words[w].length;
            loop {
                w += 1;
                let mut cost = self
                    .line_cost(w, len)
                    .saturating_add(self.words[w].best_cost);
                if start == 0 && self.last_line_length > 0 {
                    cost = cost.saturating_add(ragged_cost(i64::from(len - self.last_line_length)));
                }
                if cost < best {
                    best = cost;
                    self.words[start].next_break = w;
                    self.words[start].line_length = len;
                }
                if w == wl {
                    break;
                }
                len += self.words[w - 1].space + self.words[w].length;
                if len >= self.max_width {
                    break;
                }
            }
            self.words[start].best_cost = best.saturating_add(self.base_cost(start));
        }
        self.words[wl].length = saved;
    }

    fn base_cost(&self, this: usize) -> Cost {
        let mut cost = LINE_COST;
        if this > 0 {
            let prev = &self.words[this - 1];
            if prev.period {
                if prev.fin {
                    cost -= SENTENCE_BONUS;
                } else {
                    cost += NOBREAK_COST;
                }
            } else if prev.punct {
                cost -= PUNCT_BONUS;
            } else if this > 1 && self.words[this - 2].fin {
                cost += widow_cost(prev.length);
            }
        }
        let w = &self.words[this];
        if w.paren {
            cost -= PAREN_BONUS;
        } else if w.fin {
            cost += orphan_cost(w.length);
        }
        cost
    }

    fn line_cost(&self, next: usize, len: i32) -> Cost {
        if next == self.wl {
            return 0;
        }
        let mut cost = short_cost(i64::from(self.goal_width - len));
        if self.words[next].next_break != self.wl {
            cost += ragged_cost(i64::from(len - self.words[next].line_length));
        }
        cost
    }

    fn put_paragraph(&mut self, finish: usize) {
        self.put_line(0, self.first_indent);
        let mut w = self.words[0].next_break;
        while w != finish {
            self.put_line(w, self.other_indent);
            w = self.words[w].next_break;
        }
    }

    fn put_line(&mut self, mut w: usize, indent: i32) {
        self.out_column = 0;
        self.put_space(self.prefix_indent);
        let prefix = std::mem::take(&mut self.prefix);
        self.out.extend_from_slice(&prefix);
        self.prefix = prefix;
        self.out_column += self.prefix_length;
        self.put_space(indent - self.out_column);
        let end = self.words[w].next_break - 1;
        while w != end {
            self.put_word(w);
            self.put_space(self.words[w].space);
            w += 1;
        }
        self.put_word(w);
        self.last_line_length = self.out_column;
        self.out.push(b'\n');
    }

    fn put_word(&mut self, w: usize) {
        let Word { text, length, .. } = self.words[w];
        self.out
            .extend_from_slice(&self.para[text..text + length as usize]);
        self.out_column += length;
    }

    fn put_space(&mut self, space: i32) {
        let target = self.out_column + space;
        if self.tabs {
            let tab_target = target / TAB * TAB;
            if self.out_column + 1 < tab_target {
                while self.out_column < tab_target {
                    self.out.push(b'\t');
                    self.out_column = (self.out_column / TAB + 1) * TAB;
                }
            }
        }
        while self.out_column < target {
            self.out.push(b' ');
            self.out_column += 1;
        }
    }
}

/// C's isspace in the C locale.
fn is_space(c: i32) -> bool {
    matches!(c, 9..=13 | 32)
}
