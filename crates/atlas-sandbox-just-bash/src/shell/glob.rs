//! Shell patterns and pathname expansion.

use crate::vfs::{self, Kind};

use super::*;

/// Escapes glob metacharacters so a quoted string matches literally.
pub fn glob_escape(s: &str) -> String {
    // Every metacharacter is ASCII, so runs between them are copied whole: a value of megabytes
    // (`s=$s$s`) costs a copy, not a loop over its characters.
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if matches!(
            b,
            b'*' | b'?' | b'[' | b']' | b'\\' | b'(' | b')' | b'|' | b'!' | b'+' | b'@'
        ) {
            out.push_str(&s[start..i]);
            out.push('\\');
            start = i;
        }
    }
    out.push_str(&s[start..]);
    out
}

/// Whether a pattern (with `\` escapes) has an unescaped glob metacharacter.
pub fn has_glob(p: &str) -> bool {
    let mut esc = false;
    for c in p.chars() {
        if esc {
            esc = false;
            continue;
        }
        match c {
            '\\' => esc = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// Removes the `\` escapes of a pattern.
pub fn unescape_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut esc = false;
    for c in p.chars() {
        if !esc && c == '\\' {
            esc = true;
            continue;
        }
        esc = false;
        out.push(c);
    }
    out
}

/// Compiles a shell pattern into an anchored regex.
pub fn pattern_regex(pattern: &str, extglob: bool) -> Option<regex::Regex> {
    let re = brush_parser::pattern::pattern_to_regex_str(pattern, extglob).ok()?;
    regex::RegexBuilder::new(&format!("^(?s:{re})$"))
        .size_limit(1 << 22)
        .build()
        .ok()
}

/// Whether `value` matches the shell pattern `pat` (with `\` escapes).
pub fn pattern_match(pat: &str, value: &str) -> bool {
    if !has_glob(pat) {
        return unescape_pattern(pat) == value;
    }
    pattern_regex(pat, false).is_some_and(|re| re.is_match(value))
}

impl Shell<'_> {
    /// Expands a glob pattern (with `\` escapes) against the filesystem, sorted.
    pub fn glob(&mut self, pat: &str) -> R<Vec<String>> {
        let absolute = pat.starts_with('/');
        let segs: Vec<&str> = pat.split('/').filter(|s| !s.is_empty()).collect();
        // (virtual dir, displayed prefix)
        let mut cur: Vec<(String, String)> = vec![if absolute {
            ("/".to_owned(), "/".to_owned())
        } else {
            (self.cwd.clone(), String::new())
        }];
        let mut visited = 0u64;
        let trailing_slash = pat.ends_with('/') && pat.len() > 1;
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let mut next = Vec::new();
            if *seg == "**" && self.opts.globstar {
                for (dir, disp) in &cur {
                    let mut stack = vec![(dir.clone(), disp.clone())];
                    while let Some((d, p)) = stack.pop() {
                        self.visit(&mut visited)?;
                        next.push((d.clone(), p.clone()));
                        let Ok(mut entries) = self.fs.read_dir(&d) else {
                            continue;
                        };
                        entries.sort_by(|a, b| b.name.cmp(&a.name));
                        for e in entries {
                            if e.name.starts_with('.') && !self.opts.dotglob {
                                continue;
                            }
                            if last {
                                next.push((vfs::child_path(&d, &e.name), format!("{p}{}", e.name)));
                            }
                            if e.kind == Kind::Dir {
                                stack.push((
                                    vfs::child_path(&d, &e.name),
                                    format!("{p}{}/", e.name),
                                ));
                            }
                        }
                    }
                }
                if last {
                    // `**` alone matches files and directories (the empty match is dropped).
                    next.retain(|(_, p)| !p.is_empty());
                    next = next
                        .into_iter()
                        .map(|(d, p)| (d, p.trim_end_matches('/').to_owned()))
                        .collect();
                }
            } else if has_glob(seg) {
                let Some(mut re) = pattern_regex(seg, false) else {
                    return Ok(Vec::new());
                };
                if self.opts.nocaseglob {
                    match regex::RegexBuilder::new(re.as_str())
                        .case_insensitive(true)
                        .build()
                    {
                        Ok(r) => re = r,
                        Err(_) => return Ok(Vec::new()),
                    }
                }
                let explicit_dot = seg.starts_with('.') || seg.starts_with("\\.");
                for (dir, disp) in &cur {
                    let Ok(entries) = self.fs.read_dir(dir) else {
                        continue;
                    };
                    for e in entries {
                        self.visit(&mut visited)?;
                        if e.name.starts_with('.') && !explicit_dot && !self.opts.dotglob {
                            continue;
                        }
                        if !re.is_match(&e.name) {
                            continue;
                        }
                        if !last && e.kind != Kind::Dir {
                            continue;
                        }
                        let sep = if last { "" } else { "/" };
                        next.push((
                            vfs::child_path(dir, &e.name),
                            format!("{disp}{}{sep}", e.name),
                        ));
                    }
                }
            } else {
                let lit = unescape_pattern(seg);
                for (dir, disp) in &cur {
                    let path = vfs::child_path(dir, &lit);
                    let ok = if last {
                        self.fs.exists(&path)
                    } else {
                        self.fs.is_dir(&path)
                    };
                    if ok {
                        let sep = if last { "" } else { "/" };
                        next.push((path, format!("{disp}{lit}{sep}")));
                    }
                }
            }
            cur = next;
            if cur.is_empty() {
                return Ok(Vec::new());
            }
        }
        let mut out: Vec<String> = cur
            .into_iter()
            .filter(|(d, _)| !trailing_slash || self.fs.is_dir(d))
            .map(|(_, p)| if trailing_slash { format!("{p}/") } else { p })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Whether `p` has an extglob group (`+(…)`, `@(…)`, `?(…)`, `*(…)`, `!(…)`) outside escapes.
fn has_extglob(p: &str) -> bool {
    let b = p.as_bytes();
    let mut esc = false;
    for (i, &c) in b.iter().enumerate() {
        if esc {
            esc = false;
            continue;
        }
        if c == b'\\' {
            esc = true;
        } else if matches!(c, b'+' | b'@' | b'?' | b'*' | b'!') && b.get(i + 1) == Some(&b'(') {
            return true;
        }
    }
    false
}

impl Shell<'_> {
    /// The anchored regex of a shell pattern under the current options (`extglob`,
    /// `nocasematch`); `None` when the pattern does not compile (it then matches nothing, as
    /// an invalid bracket expression does in bash).
    pub(super) fn shell_regex(&self, pat: &str) -> R<Option<regex::Regex>> {
        self.shell_regex_ext(pat, self.opts.extglob)
    }

    fn shell_regex_ext(&self, pat: &str, extglob: bool) -> R<Option<regex::Regex>> {
        let ext = extglob && has_extglob(pat);
        if ext && pat.contains("!(") {
            return abort(
                UNSUPPORTED_EXIT,
                "bash: extglob negation !(…) inside a larger pattern is not supported in this sandbox",
            );
        }
        let Ok(re) = brush_parser::pattern::pattern_to_regex_str(pat, ext) else {
            return Ok(None);
        };
        let flags = if self.opts.nocasematch {
            "(?si:"
        } else {
            "(?s:"
        };
        Ok(regex::RegexBuilder::new(&format!("^{flags}{re})$"))
            .size_limit(1 << 22)
            .build()
            .ok())
    }

    /// `case` matching under the current options.
    pub(super) fn pattern_matches(&self, pat: &str, value: &str) -> R<bool> {
        self.match_pattern(pat, value, self.opts.extglob)
    }

    /// Pattern matching; `[[ == ]]` passes `extglob` on, as bash always does there.
    pub(super) fn match_pattern(&self, pat: &str, value: &str, extglob: bool) -> R<bool> {
        // A whole pattern `!(…)` is the negation of `@(…)` (what agents write: `!(*.json)`).
        if extglob
            && let Some(inner) = pat.strip_prefix("!(").and_then(|p| p.strip_suffix(')'))
            && !inner.contains(['(', ')'])
        {
            let alt = format!("@({inner})");
            return Ok(!self.match_pattern(&alt, value, true)?);
        }
        let ext = extglob && has_extglob(pat);
        if !ext && !has_glob(pat) && !self.opts.nocasematch {
            return Ok(unescape_pattern(pat) == value);
        }
        Ok(self
            .shell_regex_ext(pat, extglob)?
            .is_some_and(|re| re.is_match(value)))
    }
}
