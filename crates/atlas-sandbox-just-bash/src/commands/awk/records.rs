//! Splitting the input into records: `RS` as one character, paragraph mode (`RS = ""`), or a
//! regular expression (any longer `RS`, as in gawk), and the text that ended each (`RT`).

use super::re::AwkRe;

use super::Awk;
use super::io::MainInput;
use super::re::compile;
use super::value::Val;

pub(super) enum RecSep {
    Char(char),
    /// Blank lines separate records; leading and trailing newlines go.
    Paragraph,
    Regex(AwkRe),
}

impl RecSep {
    pub(super) fn new(rs: &str) -> Result<RecSep, String> {
        let mut one = rs.chars();
        match (one.next(), one.next()) {
            (None, _) => return Ok(RecSep::Paragraph),
            (Some(c), None) => return Ok(RecSep::Char(c)),
            _ => {}
        }
        let refuse = |why: &str| {
            Err(format!(
                "RS = \"{}\" ({why}) is not supported in this sandbox",
                rs.escape_default()
            ))
        };
        // gawk anchors `^` and `$` to its read buffer, not to the file or a line.
        let b = rs.as_bytes();
        let anchored = b.iter().enumerate().any(|(i, &c)| {
            let escaped = i > 0 && b[i - 1] == b'\\';
            !escaped && (c == b'$' || (c == b'^' && (i == 0 || b[i - 1] != b'[')))
        });
        if anchored {
            return refuse("a regular expression with an anchor");
        }
        let re = compile(rs)?;
        // gawk's records around empty matches follow its buffering, not a rule. A regex that
        // matches empty somewhere (`\y`, `a*`) is caught on a few probes.
        let probes = ["", "a", "a b", "ab\n\ncd", "x-y", "- name: a\n"];
        if probes.iter().any(|p| re.find_iter(p).any(|m| m.is_empty())) {
            return refuse("a regular expression that matches the empty string");
        }
        Ok(RecSep::Regex(re))
    }
}

/// The next record of `text` from `*pos`, and the text that ended it (`RT`), advancing `*pos`;
/// `None` at the end.
pub(super) fn next_record<'t>(
    text: &'t str,
    pos: &mut usize,
    rs: &RecSep,
) -> Option<(&'t str, &'t str)> {
    if let RecSep::Paragraph = rs {
        let rest = &text[*pos..];
        let skip = rest.len() - rest.trim_start_matches('\n').len();
        *pos += skip;
        if *pos >= text.len() {
            return None;
        }
        let rest = &text[*pos..];
        let (end, sep_end) = match rest.find("\n\n") {
            Some(i) => (i, rest.len() - rest[i..].trim_start_matches('\n').len()),
            None => {
                let end = rest.trim_end_matches('\n').len();
                (end, rest.len())
            }
        };
        *pos += sep_end;
        return Some((&rest[..end], &rest[end..sep_end]));
    }
    if *pos >= text.len() {
        return None;
    }
    let rest = &text[*pos..];
    // A one-character RS (nearly always "\n") is searched as a char, which is a memchr.
    let found = match rs {
        RecSep::Char(c) => rest.find(*c).map(|i| (i, i + c.len_utf8())),
        RecSep::Regex(re) => re
            .find_iter(rest)
            .find(|m| !m.is_empty())
            .map(|m| (m.start(), m.end())),
        RecSep::Paragraph => None,
    };
    Some(match found {
        Some((i, j)) => {
            *pos += j;
            (&rest[..i], &rest[i..j])
        }
        None => {
            *pos = text.len();
            (rest, "")
        }
    })
}

impl MainInput {
    /// Takes up a new `RS` for the next record (gawk reads each record under the `RS` of
    /// that moment).
    pub(super) fn follow_rs(&mut self, rs: Option<&Val>) -> Result<(), String> {
        let same = match rs {
            None => self.rs_src == "\n",
            Some(Val::Str(s) | Val::StrNum(s)) => self.rs_src == *s,
            Some(v) => self.rs_src == v.str(),
        };
        if !same {
            let src = rs.map_or_else(|| "\n".to_owned(), Val::str);
            self.rs = RecSep::new(&src)?;
            self.rs_src = src;
        }
        Ok(())
    }
}

impl Awk<'_, '_, '_> {
    pub(super) fn rec_sep(&self) -> Result<RecSep, String> {
        match self.vars.get("RS") {
            Some(v) => RecSep::new(&v.str()),
            None => Ok(RecSep::Char('\n')),
        }
    }

    /// Sets `RT` in place: once per record.
    pub(super) fn set_rt(&mut self, rt: &str) {
        if !self.uses_rt {
            return;
        }
        match self.vars.get_mut("RT") {
            Some(Val::Str(s)) => {
                s.clear();
                s.push_str(rt);
            }
            _ => {
                self.vars.insert("RT".to_owned(), Val::Str(rt.to_owned()));
            }
        }
    }
}
