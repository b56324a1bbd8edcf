//! The `[[ … ]]` conditional command.

use brush_parser::ast;
use brush_parser::word::WordPiece;

use super::expand::Acc;
use super::*;

impl Shell<'_> {
    pub(super) fn ext_test(&mut self, e: &ast::ExtendedTestExpr) -> R<bool> {
        use ast::ExtendedTestExpr as E;
        Ok(match e {
            E::And(a, b) => self.ext_test(a)? && self.ext_test(b)?,
            E::Or(a, b) => self.ext_test(a)? || self.ext_test(b)?,
            E::Not(a) => !self.ext_test(a)?,
            E::Parenthesized(a) => self.ext_test(a)?,
            E::UnaryTest(pred, w) => {
                let v = self.expand_str(&w.value)?;
                super::builtins::unary_test(self, pred, &v)
            }
            E::BinaryTest(pred, l, r) => {
                use ast::BinaryPredicate as BP;
                let lv = self.expand_str(&l.value)?;
                match pred {
                    BP::StringExactlyMatchesPattern | BP::StringDoesNotExactlyMatchPattern => {
                        let pat = self.expand_pattern(&r.value)?;
                        let m = self.match_pattern(&pat, &lv, true)?;
                        if matches!(pred, BP::StringExactlyMatchesPattern) {
                            m
                        } else {
                            !m
                        }
                    }
                    BP::StringMatchesRegex => {
                        let re_src = self.expand_regex_operand(&r.value)?;
                        match regex::RegexBuilder::new(&re_src)
                            .size_limit(1 << 22)
                            .build()
                        {
                            Ok(re) => match re.captures(&lv) {
                                Some(c) => {
                                    let groups: Vec<String> = c
                                        .iter()
                                        .map(|m| {
                                            m.map(|m| m.as_str().to_owned()).unwrap_or_default()
                                        })
                                        .collect();
                                    self.put_var("BASH_REMATCH".into(), Var::Arr(groups))?;
                                    true
                                }
                                None => {
                                    self.put_var("BASH_REMATCH".into(), Var::Arr(Vec::new()))?;
                                    false
                                }
                            },
                            Err(_) => return abort(2, String::new()),
                        }
                    }
                    // Inside `[[ ]]` the operands of -eq… are arithmetic expressions.
                    BP::ArithmeticEqualTo
                    | BP::ArithmeticNotEqualTo
                    | BP::ArithmeticLessThan
                    | BP::ArithmeticLessThanOrEqualTo
                    | BP::ArithmeticGreaterThan
                    | BP::ArithmeticGreaterThanOrEqualTo => {
                        let rv = self.expand_str(&r.value)?;
                        let (x, y) = (self.arith_str(&lv)?, self.arith_str(&rv)?);
                        match pred {
                            BP::ArithmeticEqualTo => x == y,
                            BP::ArithmeticNotEqualTo => x != y,
                            BP::ArithmeticLessThan => x < y,
                            BP::ArithmeticLessThanOrEqualTo => x <= y,
                            BP::ArithmeticGreaterThan => x > y,
                            _ => x >= y,
                        }
                    }
                    _ => {
                        let rv = self.expand_str(&r.value)?;
                        match super::builtins::binary_test(self, pred, &lv, &rv) {
                            Ok(b) => b,
                            Err(msg) => return abort(2, msg),
                        }
                    }
                }
            }
        })
    }

    pub(super) fn expand_regex_operand(&mut self, s: &str) -> R<String> {
        let pieces = self.parse_word(s)?;
        let mut out = String::new();
        for p in &pieces {
            match &p.piece {
                WordPiece::Text(t) => out.push_str(t),
                // `\.` stands for a literal `.`.
                WordPiece::EscapeSequence(e) => {
                    out.push_str(&regex::escape(e.strip_prefix('\\').unwrap_or(e)))
                }
                _ => {
                    let mut acc = Acc::default();
                    self.expand_pieces(std::slice::from_ref(p), true, &mut acc)?;
                    let v: Vec<String> = acc.finish().into_iter().map(|f| f.text).collect();
                    out.push_str(&regex::escape(&v.join(" ")));
                }
            }
        }
        Ok(out)
    }
}
