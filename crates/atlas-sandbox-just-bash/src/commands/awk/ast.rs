//! The parsed awk program: expressions, statements and patterns.

use super::re::AwkRe;

#[derive(Debug, Clone)]
pub(super) enum Expr {
    Num(f64),
    Str(String),
    Re(AwkRe),
    Var(String),
    Field(Box<Expr>),
    Index(String, Vec<Expr>),
    In(Vec<Expr>, String),
    Assign(Box<Expr>, Option<&'static str>, Box<Expr>),
    Incr(Box<Expr>, bool, f64),
    Unary(&'static str, Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Match(bool, Box<Expr>, Box<Expr>),
    Concat(Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    /// A call of a user-defined function.
    Func(String, Vec<Expr>),
    Group(Box<Expr>),
    /// `getline [var] [< file]`.
    Getline(Option<Box<Expr>>, Option<Box<Expr>>),
}

#[derive(Debug, Clone)]
pub(super) enum Stmt {
    Print(Vec<Expr>),
    Printf(Vec<Expr>),
    /// `print ... > file` (or `>>` when the flag is set).
    Redirect(Box<Stmt>, bool, Expr),
    Expr(Expr),
    If(Expr, Box<Stmt>, Option<Box<Stmt>>),
    While(Expr, Box<Stmt>),
    Do(Box<Stmt>, Expr),
    For(
        Option<Box<Stmt>>,
        Option<Expr>,
        Option<Box<Stmt>>,
        Box<Stmt>,
    ),
    ForIn(String, String, Box<Stmt>),
    Block(Vec<Stmt>),
    Next,
    Exit(Option<Expr>),
    /// `nextfile`: the rest of the current input file is skipped.
    NextFile,
    Break,
    Continue,
    Delete(String, Option<Vec<Expr>>),
    Return(Option<Expr>),
}

/// A user-defined function: its parameters (names already made private to it, see
/// `P::var_name`) and body.
#[derive(Debug)]
pub(super) struct Func {
    pub(super) params: Vec<String>,
    pub(super) body: Vec<Stmt>,
}

/// What a parameter's private name shows in messages: the name the program wrote.
pub(super) fn shown(name: &str) -> &str {
    name.rsplit('\u{1}').next().unwrap_or(name)
}

#[derive(Debug, Clone)]
pub(super) enum Pattern {
    Begin,
    End,
    All,
    Expr(Expr),
    Range(Expr, Expr),
}
