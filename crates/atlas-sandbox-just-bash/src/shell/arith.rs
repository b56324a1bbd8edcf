//! Arithmetic expansion and evaluation (`$((…))`, `((…))`, array subscripts).

use brush_parser::ast;

use super::arrays::Sub;
use super::*;

pub(super) fn binop(op: &ast::BinaryOperator, x: i64, y: i64) -> R<i64> {
    use ast::BinaryOperator as B;
    Ok(match op {
        B::Power => {
            if y < 0 {
                return abort(1, "bash: exponent less than 0");
            }
            x.wrapping_pow(y.min(u32::MAX as i64) as u32)
        }
        B::Multiply => x.wrapping_mul(y),
        B::Divide | B::Modulo => {
            if y == 0 {
                return abort(1, "bash: division by 0");
            }
            if matches!(op, B::Divide) {
                x.wrapping_div(y)
            } else {
                x.wrapping_rem(y)
            }
        }
        B::Comma => y,
        B::Add => x.wrapping_add(y),
        B::Subtract => x.wrapping_sub(y),
        B::ShiftLeft => x.wrapping_shl(y as u32),
        B::ShiftRight => x.wrapping_shr(y as u32),
        B::LessThan => i64::from(x < y),
        B::LessThanOrEqualTo => i64::from(x <= y),
        B::GreaterThan => i64::from(x > y),
        B::GreaterThanOrEqualTo => i64::from(x >= y),
        B::Equals => i64::from(x == y),
        B::NotEquals => i64::from(x != y),
        B::BitwiseAnd => x & y,
        B::BitwiseXor => x ^ y,
        B::BitwiseOr => x | y,
        B::LogicalAnd => i64::from(x != 0 && y != 0),
        B::LogicalOr => i64::from(x != 0 || y != 0),
    })
}

impl Shell<'_> {
    /// Expands and evaluates an arithmetic expression.
    pub fn arith_str(&mut self, s: &str) -> R<i64> {
        let expanded = self.expand_str(s)?;
        let t = expanded.trim();
        if t.is_empty() {
            return Ok(0);
        }
        let mark = self.arith_keys.len();
        let r = self.arith_text(t, 0);
        self.arith_keys.truncate(mark);
        r
    }

    /// Parses and evaluates expanded arithmetic text. An associative array's subscript is a
    /// string (`m[foo.yaml]`), which the arithmetic grammar cannot hold: it is set aside in
    /// `arith_keys` and the subscript becomes its number there.
    fn arith_text(&mut self, t: &str, depth: u32) -> R<i64> {
        let text = self.set_keys_aside(t);
        match brush_parser::arithmetic::parse(&text) {
            Ok(e) => self.arith(&e, depth),
            Err(_) => abort(1, format!("bash: {t}: syntax error in expression")),
        }
    }

    fn set_keys_aside(&mut self, t: &str) -> String {
        let b = t.as_bytes();
        let mut out = String::with_capacity(t.len());
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c == b'_' || c.is_ascii_alphabetic() {
                let start = i;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let name = &t[start..i];
                out.push_str(name);
                if i < b.len() && b[i] == b'[' && self.is_assoc(name) {
                    let mut depth = 0;
                    let mut j = i;
                    while j < b.len() {
                        match b[j] {
                            b'[' => depth += 1,
                            b']' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    }
                    if j < b.len() {
                        self.arith_keys.push(t[i + 1..j].to_owned());
                        out.push_str(&format!("[{}]", self.arith_keys.len() - 1));
                        i = j + 1;
                    }
                }
            } else if c.is_ascii_digit() {
                // A number's letters (0x1f, 64#zz) are no names.
                let start = i;
                while i < b.len()
                    && (b[i] == b'_'
                        || b[i] == b'#'
                        || b[i] == b'@'
                        || b[i].is_ascii_alphanumeric())
                {
                    i += 1;
                }
                // bash reads a bare `0x` as 0.
                match &t[start..i] {
                    "0x" | "0X" => out.push('0'),
                    tok => out.push_str(tok),
                }
            } else {
                let ch = t[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
        out
    }

    pub(super) fn arith_var(&mut self, name: &str, depth: u32) -> R<i64> {
        if self.opts.nounset && !self.vars.contains_key(name) {
            return Err(Flow::Fatal(127, format!("bash: {name}: unbound variable")));
        }
        let v = self.get_var(name).unwrap_or_default();
        self.arith_value(name, &v, depth)
    }

    /// An operand's value: a number, or text evaluated in turn as an expression (as bash does).
    fn arith_value(&mut self, name: &str, v: &str, depth: u32) -> R<i64> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(0);
        }
        // A leading 0 makes the text octal (`x=010` is 8, `x=08` an error), as in a literal.
        let digits = t.trim_start_matches(['+', '-']);
        if !(digits.len() > 1 && digits.starts_with('0'))
            && let Ok(n) = t.parse::<i64>()
        {
            return Ok(n);
        }
        if depth > 10 {
            return abort(
                1,
                format!("bash: {name}: expression recursion level exceeded"),
            );
        }
        self.arith_text(t, depth + 1)
    }

    /// An element's subscript inside arithmetic: the key set aside for an associative array,
    /// the evaluated index otherwise.
    fn arith_sub(&mut self, n: &str, idx: &ast::ArithmeticExpr, depth: u32) -> R<Sub> {
        if self.is_assoc(n) {
            if let ast::ArithmeticExpr::Literal(k) = idx
                && let Some(key) = usize::try_from(*k)
                    .ok()
                    .and_then(|k| self.arith_keys.get(k))
            {
                return Ok(Sub::Key(key.clone()));
            }
            return abort(
                UNSUPPORTED_EXIT,
                format!(
                    "bash: {n}[…]: this associative array subscript in arithmetic is not supported in this sandbox"
                ),
            );
        }
        Ok(Sub::Index(self.arith(idx, depth)?))
    }

    pub(super) fn arith_target_get(&mut self, t: &ast::ArithmeticTarget, depth: u32) -> R<i64> {
        match t {
            ast::ArithmeticTarget::Variable(n) => self.arith_var(n, depth),
            ast::ArithmeticTarget::ArrayElement(n, idx) => {
                let v = match (self.arith_sub(n, idx, depth)?, self.vars.get(n)) {
                    (Sub::Key(k), Some(Var::Assoc(m))) => m.get(&k).cloned(),
                    (Sub::Index(i), Some(Var::Arr(a))) => match a.resolve(i) {
                        Some(i) => a.get(i).cloned(),
                        None => return abort(1, format!("bash: {n}: bad array subscript")),
                    },
                    (Sub::Index(0 | -1), Some(Var::Str(s))) => Some(s.clone()),
                    _ => None,
                };
                let label = format!("{n}[]");
                self.arith_value(&label, &v.unwrap_or_default(), depth)
            }
        }
    }

    pub(super) fn arith_target_set(
        &mut self,
        t: &ast::ArithmeticTarget,
        v: i64,
        depth: u32,
    ) -> R<()> {
        match t {
            ast::ArithmeticTarget::Variable(n) => self.set_var(n, v.to_string()),
            ast::ArithmeticTarget::ArrayElement(n, idx) => {
                let sub = self.arith_sub(n, idx, depth)?;
                let shown = match &sub {
                    Sub::Key(k) => k.clone(),
                    Sub::Index(i) => i.to_string(),
                };
                self.set_element(n, sub, &shown, v.to_string(), false)
            }
        }
    }

    pub(super) fn arith(&mut self, e: &ast::ArithmeticExpr, depth: u32) -> R<i64> {
        use ast::ArithmeticExpr as A;
        use ast::BinaryOperator as B;
        Ok(match e {
            A::Literal(n) => *n,
            A::Reference(t) => self.arith_target_get(t, depth)?,
            A::UnaryOp(op, x) => {
                let v = self.arith(x, depth)?;
                match op {
                    ast::UnaryOperator::UnaryPlus => v,
                    ast::UnaryOperator::UnaryMinus => v.wrapping_neg(),
                    ast::UnaryOperator::BitwiseNot => !v,
                    ast::UnaryOperator::LogicalNot => i64::from(v == 0),
                }
            }
            A::BinaryOp(op, a, b) => {
                match op {
                    B::LogicalAnd => {
                        return Ok(i64::from(
                            self.arith(a, depth)? != 0 && self.arith(b, depth)? != 0,
                        ));
                    }
                    B::LogicalOr => {
                        return Ok(i64::from(
                            self.arith(a, depth)? != 0 || self.arith(b, depth)? != 0,
                        ));
                    }
                    _ => {}
                }
                let x = self.arith(a, depth)?;
                let y = self.arith(b, depth)?;
                binop(op, x, y)?
            }
            A::Conditional(c, a, b) => {
                if self.arith(c, depth)? != 0 {
                    self.arith(a, depth)?
                } else {
                    self.arith(b, depth)?
                }
            }
            A::Assignment(t, x) => {
                let v = self.arith(x, depth)?;
                self.arith_target_set(t, v, depth)?;
                v
            }
            A::BinaryAssignment(op, t, x) => {
                let cur = self.arith_target_get(t, depth)?;
                let y = self.arith(x, depth)?;
                let v = binop(op, cur, y)?;
                self.arith_target_set(t, v, depth)?;
                v
            }
            A::UnaryAssignment(op, t) => {
                let cur = self.arith_target_get(t, depth)?;
                let (new, ret) = match op {
                    ast::UnaryAssignmentOperator::PrefixIncrement => {
                        (cur.wrapping_add(1), cur.wrapping_add(1))
                    }
                    ast::UnaryAssignmentOperator::PrefixDecrement => {
                        (cur.wrapping_sub(1), cur.wrapping_sub(1))
                    }
                    ast::UnaryAssignmentOperator::PostfixIncrement => (cur.wrapping_add(1), cur),
                    ast::UnaryAssignmentOperator::PostfixDecrement => (cur.wrapping_sub(1), cur),
                };
                self.arith_target_set(t, new, depth)?;
                ret
            }
        })
    }
}
