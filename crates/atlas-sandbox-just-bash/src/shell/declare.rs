//! `declare`/`typeset`/`local`/`export`/`readonly`, `declare -p`, and `unset`.

use super::*;

/// bash's double-quoted form of a value in `declare -p`.
fn dq(v: &str) -> String {
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
        if v.is_none() && !self.attrs.contains_key(name) {
            return None;
        }
        let mut flags = String::new();
        if matches!(v, Some(Var::Arr(_))) || a & attr::ARRAY != 0 {
            flags.push('a');
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
            Some(Var::Str(s)) => format!("declare -{flags} {name}={}", dq(s)),
            Some(Var::Arr(arr)) => {
                let items: Vec<String> = arr
                    .iter()
                    .enumerate()
                    .map(|(i, v)| format!("[{i}]={}", dq(v)))
                    .collect();
                format!("declare -{flags} {name}=({})", items.join(" "))
            }
        })
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
                            'A' => "associative arrays (-A)".to_owned(),
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
        let _ = global;
        if functions || function_names {
            return self.declare_functions(cmd, &names, function_names, io);
        }
        if print || (names.is_empty() && cmd != "local") {
            if names.is_empty() {
                if cmd == "export" {
                    for (k, v) in self.env_pairs() {
                        io.out(format!("declare -x {k}={}\n", dq(&v)).as_bytes());
                    }
                    return Ok(0);
                }
                if cmd == "readonly" {
                    let mut ro: Vec<&String> = self
                        .attrs
                        .iter()
                        .filter(|(_, a)| **a & attr::READONLY != 0)
                        .map(|(k, _)| k)
                        .collect();
                    ro.sort();
                    let lines: Vec<String> =
                        ro.iter().filter_map(|k| self.declare_line(k)).collect();
                    for l in lines {
                        io.out(format!("{l}\n").as_bytes());
                    }
                    return Ok(0);
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
            if add & attr::ARRAY != 0 && value.is_none() && !self.vars.contains_key(var) {
                // `declare -a a` is an empty, declared array.
            }
            if let Some(v) = value {
                if add & attr::ARRAY != 0 && !(v.starts_with('(') && v.ends_with(')')) {
                    self.set_array(var, vec![v])?;
                } else {
                    self.assign_scalar(var, v, append)?;
                }
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
                        if index == "@" || index == "*" {
                            self.check_writable(name)?;
                            self.unset(name, false);
                        } else {
                            self.check_writable(name)?;
                            self.unset_element(name, index)?;
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
