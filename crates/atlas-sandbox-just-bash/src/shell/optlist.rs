//! The options `set -o` and `shopt` know, in bash 5.2's order and with its defaults for a
//! non-interactive `bash -c`, so listing them and setting one this shell does not implement
//! answer as bash does or refuse by name: bash accepts every one of these names, so "invalid
//! option name" would read as the agent's mistake.

/// What setting an option does here.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Kept in `Opts` and honoured.
    Tracked,
    /// Changes nothing a non-interactive `bash -c` shows (history, completion, prompts, job
    /// control, symlinks the filesystem does not have): recorded so listings tell the truth.
    Inert,
    /// Changes what bash does, and this shell does not do it: only its default is accepted.
    Refused,
}

use Effect::{Inert, Refused, Tracked};

use super::{Io, Shell};

/// How a listing prints each option.
#[derive(Clone, Copy)]
pub(super) enum Listing {
    /// `name<TAB>on` (`set -o`, `shopt`).
    Table,
    /// `set -o name` / `set +o name` (`set +o`, `shopt -op`).
    SetCommands,
    /// `shopt -s name` / `shopt -u name` (`shopt -p`).
    ShoptCommands,
}

/// `set -o` names.
pub(super) const SET_O: &[(&str, bool, Effect)] = &[
    ("allexport", false, Refused),
    ("braceexpand", true, Refused),
    ("emacs", false, Inert),
    ("errexit", false, Tracked),
    ("errtrace", false, Refused),
    ("functrace", false, Refused),
    ("hashall", true, Inert),
    ("histexpand", false, Inert),
    ("history", false, Inert),
    ("ignoreeof", false, Inert),
    ("interactive-comments", true, Refused),
    ("keyword", false, Refused),
    ("monitor", false, Inert),
    ("noclobber", false, Tracked),
    ("noexec", false, Refused),
    ("noglob", false, Tracked),
    ("nolog", false, Inert),
    ("notify", false, Inert),
    ("nounset", false, Tracked),
    ("onecmd", false, Refused),
    ("physical", false, Inert),
    ("pipefail", false, Tracked),
    ("posix", false, Refused),
    ("privileged", false, Refused),
    ("verbose", false, Inert),
    ("vi", false, Inert),
    ("xtrace", false, Tracked),
];

/// `shopt` names.
pub(super) const SHOPT: &[(&str, bool, Effect)] = &[
    ("autocd", false, Inert),
    ("assoc_expand_once", false, Refused),
    ("cdable_vars", false, Refused),
    ("cdspell", false, Inert),
    ("checkhash", false, Inert),
    ("checkjobs", false, Inert),
    ("checkwinsize", true, Inert),
    ("cmdhist", true, Inert),
    ("compat31", false, Refused),
    ("compat32", false, Refused),
    ("compat40", false, Refused),
    ("compat41", false, Refused),
    ("compat42", false, Refused),
    ("compat43", false, Refused),
    ("compat44", false, Refused),
    ("complete_fullquote", true, Inert),
    ("direxpand", false, Inert),
    ("dirspell", false, Inert),
    ("dotglob", false, Tracked),
    ("execfail", false, Refused),
    ("expand_aliases", false, Inert),
    ("extdebug", false, Refused),
    ("extglob", false, Tracked),
    ("extquote", true, Refused),
    ("failglob", false, Tracked),
    ("force_fignore", true, Inert),
    ("globasciiranges", true, Refused),
    ("globskipdots", true, Refused),
    ("globstar", false, Tracked),
    ("gnu_errfmt", false, Refused),
    ("histappend", false, Inert),
    ("histreedit", false, Inert),
    ("histverify", false, Inert),
    ("hostcomplete", true, Inert),
    ("huponexit", false, Inert),
    ("inherit_errexit", false, Refused),
    ("interactive_comments", true, Refused),
    ("lastpipe", false, Tracked),
    ("lithist", false, Inert),
    ("localvar_inherit", false, Refused),
    ("localvar_unset", false, Refused),
    ("login_shell", false, Refused),
    ("mailwarn", false, Inert),
    ("no_empty_cmd_completion", false, Inert),
    ("nocaseglob", false, Tracked),
    ("nocasematch", false, Tracked),
    ("noexpand_translation", false, Refused),
    ("nullglob", false, Tracked),
    ("patsub_replacement", true, Refused),
    ("progcomp", true, Inert),
    ("progcomp_alias", false, Inert),
    ("promptvars", true, Inert),
    ("restricted_shell", false, Refused),
    ("shift_verbose", false, Refused),
    ("sourcepath", true, Refused),
    ("varredir_close", false, Refused),
    ("xpg_echo", false, Refused),
];

/// The long name of a `set` letter (`set -B`), or the name itself.
pub(super) fn long_name(name: &str) -> &str {
    match name {
        "a" => "allexport",
        "B" => "braceexpand",
        "b" => "notify",
        "C" => "noclobber",
        "E" => "errtrace",
        "e" => "errexit",
        "f" => "noglob",
        "H" => "histexpand",
        "h" => "hashall",
        "k" => "keyword",
        "m" => "monitor",
        "n" => "noexec",
        "P" => "physical",
        "p" => "privileged",
        "T" => "functrace",
        "t" => "onecmd",
        "u" => "nounset",
        "v" => "verbose",
        "x" => "xtrace",
        other => other,
    }
}

/// The entry for a long name in either table.
pub(super) fn find(name: &str) -> Option<(&'static str, bool, Effect)> {
    SET_O
        .iter()
        .chain(SHOPT)
        .find(|(n, ..)| *n == name)
        .copied()
}

impl Shell<'_> {
    /// Prints every option of `table` (only those `on`/off when `only` says so).
    pub(super) fn list_options(
        &self,
        table: &[(&'static str, bool, Effect)],
        how: Listing,
        only: Option<bool>,
        io: &mut Io,
    ) {
        let mut out = String::new();
        for (name, default, _) in table {
            let on = self.option_value(name).unwrap_or(*default);
            if only.is_some_and(|o| o != on) {
                continue;
            }
            match how {
                Listing::Table => {
                    let state = if on { "on" } else { "off" };
                    out.push_str(&format!("{name:<15}\t{state}\n"));
                }
                Listing::SetCommands => {
                    out.push_str(&format!("set {}o {name}\n", if on { '-' } else { '+' }));
                }
                Listing::ShoptCommands => {
                    out.push_str(&format!("shopt {} {name}\n", if on { "-s" } else { "-u" }));
                }
            }
        }
        io.out(out.as_bytes());
    }
}
