//! Filters jaq (and jq 1.7) accept that jq 1.6, the version matched, rejects at compile time.

/// Whether `code` has an `if` without `else`, a jq 1.7 form jq 1.6 rejects with a syntax
/// error: running it would answer where jq 1.6 answers nothing. Code inside string
/// interpolations is not looked into.
pub(super) fn if_without_else(code: &str) -> bool {
    let b = code.as_bytes();
    // One entry per open `if`: whether its `else` was seen.
    let mut open: Vec<bool> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                let mut depth = 0usize;
                while i < b.len() {
                    match b[i] {
                        b'\\' if b.get(i + 1) == Some(&b'(') => {
                            depth += 1;
                            i += 1;
                        }
                        b'\\' => i += 1,
                        b'(' if depth > 0 => depth += 1,
                        b')' if depth > 0 => depth -= 1,
                        b'"' if depth == 0 => break,
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                // `.end`, `$end` and `{end: 1}` are names, not keywords.
                let prev = start.checked_sub(1).map(|p| b[p]);
                let next = code[i..].trim_start().as_bytes().first().copied();
                if matches!(prev, Some(b'.' | b'$')) || next == Some(b':') {
                    continue;
                }
                match &code[start..i] {
                    "if" => open.push(false),
                    "else" => {
                        if let Some(top) = open.last_mut() {
                            *top = true;
                        }
                    }
                    // The guard closes the innermost `if` whatever it answers.
                    "end" if open.pop() == Some(false) => return true,
                    _ => {}
                }
            }
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::if_without_else;

    #[test]
    fn finds_an_if_without_else() {
        assert!(if_without_else("if . then 1 end"));
        assert!(if_without_else("if . then (if 1 then 2 end) else 3 end"));
        assert!(!if_without_else("if . then 1 elif 2 then 3 else 4 end"));
        assert!(!if_without_else("\"if x end\" | .end | {end: 1}"));
        assert!(!if_without_else("\"\\(if . then 1 else 2 end)\""));
    }
}
