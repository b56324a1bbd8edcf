//! bash's "one-shot" exec: a `bash -c` script's last simple command (also the last of an
//! `&&`/`||` list, and the last in a subshell or command substitution) is exec'd in place of
//! the shell, which first lowers `SHLVL` by one. The commands that print the environment
//! (`env`, `printenv`) then show the lowered value.

use brush_parser::ast;

use super::Shell;

/// The simple command bash would exec without forking as `list`'s last, by address; 0 when
/// there is none (a redirection, `!`, `time`, a compound command, a background job).
pub(super) fn candidate(list: &ast::CompoundList) -> usize {
    let Some(item) = list.0.last() else {
        return 0;
    };
    if matches!(item.1, ast::SeparatorOperator::Async) {
        return 0;
    }
    let and_or = &item.0;
    // `a; b && c` is `;` over the `&&` list: bash optimizes only a simple second operand.
    if list.0.len() > 1 && !and_or.additional.is_empty() {
        return 0;
    }
    let last = match and_or.additional.last() {
        Some(ast::AndOr::And(p) | ast::AndOr::Or(p)) => p,
        None => &and_or.first,
    };
    if last.bang || last.timed.is_some() || last.seq.len() != 1 {
        return 0;
    }
    let ast::Command::Simple(s) = &last.seq[0] else {
        return 0;
    };
    let redirected = s
        .prefix
        .iter()
        .flat_map(|p| p.0.iter())
        .chain(s.suffix.iter().flat_map(|p| p.0.iter()))
        .any(|i| {
            !matches!(
                i,
                ast::CommandPrefixOrSuffixItem::Word(_)
                    | ast::CommandPrefixOrSuffixItem::AssignmentWord(..)
            )
        });
    if redirected {
        return 0;
    }
    std::ptr::from_ref(s) as usize
}

impl Shell<'_> {
    /// Whether `s`, about to run, is the command bash would exec in place of the shell: no
    /// trap may be set then (bash must stay to run it).
    pub(super) fn is_oneshot(&self, s: &ast::SimpleCommand) -> bool {
        self.oneshot != 0
            && self.oneshot == std::ptr::from_ref(s) as usize
            && self.exit_trap.is_none()
            && self.signal_traps.is_empty()
    }

    /// `SHLVL` as the running command sees it in its environment.
    pub(crate) fn exported_shlvl(&self, v: String) -> String {
        match (self.oneshot_now, v.trim().parse::<i64>()) {
            (true, Ok(n)) => (n - 1).to_string(),
            _ => v,
        }
    }
}
