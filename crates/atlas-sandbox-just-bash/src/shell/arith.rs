//! Arithmetic expansion and evaluation (`$((…))`, `((…))`, array subscripts).

use brush_parser::ast;

use crate::memory::str_cost;

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
        let expr = match brush_parser::arithmetic::parse(t) {
            Ok(e) => e,
            Err(_) => return abort(1, format!("bash: {t}: syntax error in expression")),
        };
        self.arith(&expr, 0)
    }

    pub(super) fn arith_var(&mut self, name: &str, depth: u32) -> R<i64> {
        if self.opts.nounset && !self.vars.contains_key(name) {
            return Err(Flow::Fatal(127, format!("bash: {name}: unbound variable")));
        }
        let v = self.get_var(name).unwrap_or_default();
        let t = v.trim();
        if t.is_empty() {
            return Ok(0);
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(n);
        }
        if depth > 10 {
            return abort(
                1,
                format!("bash: {name}: expression recursion level exceeded"),
            );
        }
        match brush_parser::arithmetic::parse(t) {
            Ok(e) => self.arith(&e, depth + 1),
            Err(_) => abort(1, format!("bash: {t}: syntax error in expression")),
        }
    }

    pub(super) fn arith_target_get(&mut self, t: &ast::ArithmeticTarget, depth: u32) -> R<i64> {
        match t {
            ast::ArithmeticTarget::Variable(n) => self.arith_var(n, depth),
            ast::ArithmeticTarget::ArrayElement(n, idx) => {
                let i = self.arith(idx, depth)?;
                let v = match self.vars.get(n) {
                    Some(Var::Arr(a)) => a.get(i.max(0) as usize).cloned().unwrap_or_default(),
                    Some(Var::Str(s)) if i == 0 => s.clone(),
                    _ => String::new(),
                };
                Ok(v.trim().parse().unwrap_or(0))
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
                let i = self.arith(idx, depth)?;
                if !(0..=100_000).contains(&i) {
                    return abort(1, format!("bash: {n}: bad array subscript"));
                }
                let mut arr = match self.take_var(n) {
                    Some(Var::Arr(a)) => a,
                    Some(Var::Str(s)) => vec![s],
                    None => Vec::new(),
                };
                if arr.len() <= i as usize {
                    self.fits((i as usize + 1 - arr.len()) as u64 * str_cost(""))?;
                    arr.resize(i as usize + 1, String::new());
                }
                arr[i as usize] = v.to_string();
                self.put_var(n.clone(), Var::Arr(arr))
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
