//! Building shell lines from values.

/// Quotes `s` as one POSIX shell word: single quotes, each `'` written as `'\''`. Any string
/// (spaces, `$`, backquotes, newlines) comes back from the shell byte for byte; also what
/// bash's `${v@Q}` prints for a plain value.
pub fn shell_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    out.push_str(&s.replace('\'', r"'\''"));
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_survive_the_shell_grammar() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$x `y` \\ \n"), "'$x `y` \\ \n'");
    }
}
