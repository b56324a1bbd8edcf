//! `declare`/`typeset`/`local`/`export`/`readonly`, `declare -p`, and `unset`.

use super::*;

/// bash's form of a value in `declare -p`: double quotes, or `$'…'` when it holds a character
/// that is not printable (bytes past 127 count as such in the C locale).
pub(super) fn quote_value(v: &str, utf8: bool) -> String {
    let printable = |c: char| !c.is_control() && (utf8 || c.is_ascii());
    if v.chars().all(printable) {
        return dq(v);
    }
    let mut out = String::from("$'");
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\x1b' => out.push_str("\\E"),
            c if printable(c) => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
        }
    }
    out.push('\'');
    out
}

/// bash's double-quoted form of a value in `declare -p`.
pub(super) fn dq(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Whether `s` is a valid variable name.
pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

impl Shell<'_> {
    /// One line of `declare -p NAME`; `None` when the name is neither set nor declared.
    fn declare_line(&self, name: &str) -> Option<String> {
        let a = self.attr(name);
        let v = self.vars.get(name);
        if v.is_none() && !self.attrs.contains_key(name) && !self.exported.contains(name) {
            return None;
        }
        let utf8 = self.utf8_locale();
        let mut flags = String::new();
        if matches!(v, Some(Var::Arr(_))) || a & attr::ARRAY != 0 {
            flags.push('a');
        }
        if matches!(v, Some(Var::Assoc(_))) || a & attr::ASSOC != 0 {
            flags.push('A');
        }
        for (bit, c) in [(attr::INTEGER, 'i'), (attr::READONLY, 'r')] {
            if a & bit != 0 {
                flags.push(c);
            }
        }
        if self.exported.contains(name) {
            flags.push('x');
        }
        for (bit, c) in [(attr::LOWER, 'l'), (attr::UPPER, 'u')] {
            if a & bit != 0 {
                flags.push(c);
            }
        }
        if flags.is_empty() {
            flags.push('-');
        }
        Some(match v {
            None => format!("declare -{flags} {name}"),
            Some(Var::Str(s)) => format!("declare -{flags} {name}={}", quote_value(s, utf8)),
            Some(Var::Arr(arr)) => {
                let items: Vec<String> = arr
                    .iter()
                    .map(|(i, v)| format!("[{i}]={}", quote_value(v, utf8)))
                    .collect();
                format!("declare -{flags} {name}=({})", items.join(" "))
            }
            // bash ends each associative element with a space: `([k]="v" )`.
            Some(Var::Assoc(m)) if m.is_empty() => format!("declare -{flags} {name}=()"),
            Some(Var::Assoc(m)) => {
                let items: String = m
                    .entries()
                    .into_iter()
                    .map(|(k, v)| {
                        let k = super::arrays::assoc_key_text(k, utf8);
                        format!("[{k}]={} ", quote_value(v, utf8))
                    })
                    .collect();
                format!("declare -{flags} {name}=({items})")
            }
        })
    }

    /// `declare -a`/`-A` on an existing variable: a scalar becomes element 0 (key "0"); an
    /// array of the other kind is an error (the message is returned), as in bash.
    fn array_kind_change(&mut self, var: &str, add: u8) -> Option<&'static str> {
        let to_assoc = add & attr::ASSOC != 0;
        let to_indexed = add & attr::ARRAY != 0;
        match self.vars.get(var) {
            Some(Var::Arr(_)) if to_assoc => Some("cannot convert indexed to associative array"),
            Some(Var::Assoc(_)) if to_indexed => {
                Some("cannot convert associative to indexed array")
            }
            Some(Var::Str(s)) if to_assoc || to_indexed => {
                let s = s.clone();
                let v = if to_assoc {
                    let mut m = super::arrays::Assoc::default();
                    m.set("0".to_owned(), s);
                    Var::Assoc(m)
                } else {
                    Var::arr(vec![s])
                };
                // The same bytes in another shape: the charge moves with them.
                self.put_var(var.to_owned(), v)
                    .err()
                    .map(|_| "memory limit exceeded")
            }
            _ => None,
        }
    }

    /// `declare`, `typeset`, `local`, `export`, `readonly`.
    pub(super) fn declare_cmd(&mut self, cmd: &str, args: &[String], io: &mut Io) -> R<i32> {
        let mut add = 0u8;
        let mut remove = 0u8;
        let mut export = cmd == "export";
        let mut unexport = false;
        let mut print = false;
        let mut functions = false;
        let mut function_names = false;
        let mut global = false;
        if cmd == "readonly" {
            add |= attr::READONLY;
        }
        let mut names = Vec::new();
        let mut opts_done = false;
        for a in args {
            if !opts_done && a == "--" {
                opts_done = true;
                continue;
            }
            let (on, letters) = match a.strip_prefix('-') {
                Some(l) if !opts_done && !l.is_empty() => (true, l),
                _ => match a.strip_prefix('+') {
                    Some(l) if !opts_done && !l.is_empty() && !a.contains('=') => (false, l),
                    _ => {
                        opts_done = true;
                        names.push(a.clone());
                        continue;
                    }
                },
            };
            for c in letters.chars() {
                let bit = match c {
                    'i' => attr::INTEGER,
                    'r' => attr::READONLY,
                    'l' => attr::LOWER,
                    'u' => attr::UPPER,
                    'a' => attr::ARRAY,
                    'A' => attr::ASSOC,
                    'x' => {
                        if on {
                            export = true;
                        } else {
                            unexport = true;
                        }
                        0
                    }
                    'p' => {
                        print = true;
                        0
                    }
                    'f' if cmd != "local" => {
                        functions = true;
                        0
                    }
                    'F' if cmd != "local" => {
                        function_names = true;
                        0
                    }
                    'g' if cmd != "local" => {
                        global = true;
                        0
                    }
                    'n' if cmd == "export" => {
                        unexport = true;
                        0
                    }
                    _ => {
                        let what = match c {
                            'n' => "name references (-n)".to_owned(),
                            't' => "function tracing (-t)".to_owned(),
                            'c' => "capitalised variables (-c)".to_owned(),
                            o => format!("the option -{o}"),
                        };
                        return abort(
                            UNSUPPORTED_EXIT,
                            format!("bash: {cmd}: {what} is not supported in this sandbox"),
                        );
                    }
                };
                if on {
                    add |= bit;
                } else {
                    remove |= bit;
                }
            }
        }
        // In a function, `declare`/`typeset` without -g make locals, as `local` does.
        let cmd = if matches!(cmd, "declare" | "typeset")
            && !global
            && !print
            && !functions
            && !function_names
            && !names.is_empty()
            && !self.locals.is_empty()
        {
            "local"
        } else {
            cmd
        };
        if functions || function_names {
            return self.declare_functions(cmd, &names, function_names, io);
        }
        if print || (names.is_empty() && cmd != "local") {
            if names.is_empty() {
                if cmd == "export" {
                    // Exported names without a value too (`declare -x OLDPWD`).
                    let mut names: Vec<&String> = self.exported.iter().collect();
                    names.sort();
                    let lines: Vec<String> =
                        names.iter().filter_map(|k| self.declare_line(k)).collect();
                    for l in lines {
                        io.out(format!("{l}\n").as_bytes());
                    }
                    return Ok(0);
                }
                if cmd == "readonly" {
                    // bash's own readonly variables (EUID, PPID, BASHOPTS...) lead the list,
                    // and their values are not kept here.
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: readonly: listing the readonly variables is not supported in this sandbox (name them)",
                    );
                }
                return abort(
                    UNSUPPORTED_EXIT,
                    format!(
                        "bash: {cmd}: listing every variable is not supported in this sandbox (name the variables)"
                    ),
                );
            }
            let mut st = 0;
            for n in &names {
                match self.declare_line(n) {
                    Some(l) => io.out(format!("{l}\n").as_bytes()),
                    None => {
                        io.errln(&format!("bash: {cmd}: {n}: not found"));
                        st = 1;
                    }
                }
            }
            return Ok(st);
        }
        let mut st = 0;
        for a in &names {
            let (var, value, append) = match a.split_once('=') {
                Some((k, v)) => match k.strip_suffix('+') {
                    Some(k) => (k, Some(v.to_owned()), true),
                    None => (k, Some(v.to_owned()), false),
                },
                None => (a.as_str(), None, false),
            };
            if !valid_name(var) {
                io.errln(&format!("bash: {cmd}: `{a}': not a valid identifier"));
                st = 1;
                continue;
            }
            if cmd == "local" {
                if self.attr(var) & attr::READONLY != 0 {
                    io.errln(&format!("bash: local: {var}: readonly variable"));
                    st = 1;
                    continue;
                }
                if !self.declare_local(var, None)? {
                    io.errln("bash: local: can only be used in a function");
                    st = 1;
                    continue;
                }
            } else if (value.is_some() || add & !attr::READONLY != 0 || remove != 0)
                && self.attr(var) & attr::READONLY != 0
            {
                io.errln(&format!("bash: {cmd}: {var}: readonly variable"));
                st = 1;
                continue;
            }
            if let Some(msg) = self.array_kind_change(var, add) {
                io.errln(&format!("bash: {cmd}: {var}: {msg}"));
                st = 1;
                continue;
            }
            // Attributes first, so the value goes through them (`declare -i n=2+3`).
            let value_attrs = add & !attr::READONLY;
            if value_attrs != 0 {
                self.add_attr(var, value_attrs);
            } else if !self.attrs.contains_key(var) && !self.vars.contains_key(var) {
                // Declared but unset: `${d-default}` still takes the default.
                self.attrs.insert(var.to_owned(), 0);
            }
            if remove != 0 {
                self.remove_attr(var, remove);
            }
            if let Some(v) = value {
                self.assign_scalar(var, v, append)?;
            }
            if add & attr::READONLY != 0 {
                self.add_attr(var, attr::READONLY);
            }
            if export {
                self.export(var);
            }
            if unexport {
                self.exported.remove(var);
            }
        }
        Ok(st)
    }

    /// `declare -f NAME` / `declare -F [NAME]`.
    fn declare_functions(
        &mut self,
        cmd: &str,
        names: &[String],
        names_only: bool,
        io: &mut Io,
    ) -> R<i32> {
        if names.is_empty() {
            if !names_only {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!(
                        "bash: {cmd} -f: printing function bodies is not supported in this sandbox"
                    ),
                );
            }
            let mut all: Vec<&String> = self.functions.keys().collect();
            all.sort();
            for f in all {
                io.out(format!("declare -f {f}\n").as_bytes());
            }
            return Ok(0);
        }
        let mut st = 0;
        for n in names {
            if !self.functions.contains_key(n) {
                st = 1;
                continue;
            }
            if !names_only {
                return abort(
                    UNSUPPORTED_EXIT,
                    format!(
                        "bash: {cmd} -f: printing function bodies is not supported in this sandbox"
                    ),
                );
            }
            io.out(format!("{n}\n").as_bytes());
        }
        Ok(st)
    }

    /// `unset [-v|-f|-n] NAME...`.
    pub(super) fn unset_cmd(&mut self, args: &[String], io: &mut Io) -> R<i32> {
        let mut function = false;
        let mut var_only = false;
        let mut st = 0;
        for a in args {
            match a.as_str() {
                "-f" => function = true,
                "-v" => var_only = true,
                "-n" => {
                    return abort(
                        UNSUPPORTED_EXIT,
                        "bash: unset -n: name references are not supported in this sandbox",
                    );
                }
                n => {
                    if let Some((name, rest)) = n.split_once('[')
                        && let Some(index) = rest.strip_suffix(']')
                        && !function
                    {
                        if (index == "@" || index == "*") && !self.is_assoc(name) {
                            self.check_writable(name)?;
                            // bash 5.2 empties an indexed array but keeps it declared.
                            if matches!(self.vars.get(name), Some(Var::Arr(_))) {
                                self.put_var(name.to_owned(), Var::arr(Vec::new()))?;
                            } else {
                                self.unset(name, false);
                            }
                        } else {
                            self.check_writable(name)?;
                            if !self.unset_element(name, index, io)? {
                                st = 1;
                            }
                        }
                        continue;
                    }
                    if function {
                        self.functions.remove(n);
                        continue;
                    }
                    if self.attr(n) & attr::READONLY != 0 {
                        io.errln(&format!(
                            "bash: unset: {n}: cannot unset: readonly variable"
                        ));
                        st = 1;
                        continue;
                    }
                    // Without -v, a name that is no variable but a function unsets the function.
                    if !var_only && !self.vars.contains_key(n) && self.functions.contains_key(n) {
                        self.functions.remove(n);
                        continue;
                    }
                    self.unset(n, false);
                    self.attrs.remove(n);
                }
            }
        }
        Ok(st)
    }
}
