//! Qlik expressions: parsing (for `CheckScriptSyntax`, LOAD field lists, LET) and evaluation
//! (for `Evaluate`, LET, variables, string expressions in layouts). The evaluator knows
//! constants, arithmetic, comparison and logic (true is -1, as in Qlik), string concatenation
//! with `&`, variables (by name and by `$(..)` expansion), and the scalar string, numeric,
//! conditional, range and date functions listed in `call`. Aggregations need data values the
//! sandbox engine does not hold; they are recognised and refused with a QIX error, like any
//! unknown function or field.

use std::ops::Range;

use super::lex::{self, Kind, Token};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(f64),
    Str(String),
    /// A field or variable reference.
    Ident(String, Range<usize>),
    /// An unexpanded `$(..)` (only while checking syntax).
    Dollar,
    /// `*` as an argument (`Count(*)`).
    Star,
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Call {
        name: String,
        args: Vec<Expr>,
        span: Range<usize>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub span: Range<usize>,
    pub what: String,
}

/// Words that end an expression inside a script statement.
const STOP_WORDS: &[&str] = &[
    "as",
    "from",
    "from_field",
    "resident",
    "inline",
    "autogenerate",
    "where",
    "while",
    "group",
    "order",
    "extension",
    "then",
    "to",
    "step",
    "into",
    "when",
    "unless",
    "by",
    "asc",
    "desc",
];

pub fn is_stop_word(t: &Token) -> bool {
    t.kind == Kind::Word && STOP_WORDS.iter().any(|w| t.is_word(w))
}

/// Parse one expression from `tokens[*pos..]`, leaving `*pos` after it. It ends before a `,`,
/// `;`, `)`, a stop word, or the end.
pub fn parse(tokens: &[Token], pos: &mut usize) -> Result<Expr, ParseError> {
    let mut p = Parser {
        at: lex::Cursor { tokens, pos: *pos },
    };
    let e = p.or()?;
    *pos = p.pos;
    Ok(e)
}

/// Parse a whole text as one expression (a leading `=` is allowed).
pub fn parse_text(text: &str) -> Result<Expr, ParseError> {
    let tokens = lex::tokenize(text).map_err(|e| ParseError {
        span: e.span,
        what: e.what.to_string(),
    })?;
    let mut pos = usize::from(tokens.first().is_some_and(|t| t.is_punct("=")));
    if pos >= tokens.len() {
        return Err(ParseError {
            span: text.len()..text.len(),
            what: "empty expression".into(),
        });
    }
    let e = parse(&tokens, &mut pos)?;
    if let Some(t) = tokens.get(pos) {
        return Err(ParseError {
            span: t.span.clone(),
            what: format!("unexpected '{}'", t.text),
        });
    }
    Ok(e)
}

struct Parser<'a> {
    at: lex::Cursor<'a>,
}

impl<'a> std::ops::Deref for Parser<'a> {
    type Target = lex::Cursor<'a>;
    fn deref(&self) -> &lex::Cursor<'a> {
        &self.at
    }
}

impl std::ops::DerefMut for Parser<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.at
    }
}

impl Parser<'_> {
    fn end_span(&self) -> Range<usize> {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(0..0, |t| t.span.clone())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        loop {
            let op = if self.eat_word("or") {
                Op::Or
            } else if self.eat_word("xor") {
                Op::Xor
            } else {
                return Ok(left);
            };
            let right = self.and()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while self.eat_word("and") {
            let right = self.not()?;
            left = Expr::Bin(Op::And, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.concat()?;
        let op = match self.peek() {
            Some(t) if t.kind == Kind::Punct => match t.text.as_str() {
                "=" => Op::Eq,
                "<>" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                _ => return Ok(left),
            },
            Some(t) if t.is_word("like") => Op::Like,
            Some(t) if t.is_word("precedes") => Op::Lt,
            Some(t) if t.is_word("follows") => Op::Gt,
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.concat()?;
        Ok(Expr::Bin(op, Box::new(left), Box::new(right)))
    }

    fn concat(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.additive()?;
        while self.eat_punct("&") {
            let right = self.additive()?;
            left = Expr::Bin(Op::Concat, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.term()?;
        loop {
            let op = if self.eat_punct("+") {
                Op::Add
            } else if self.eat_punct("-") {
                Op::Sub
            } else {
                return Ok(left);
            };
            let right = self.term()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_punct("*") {
                Op::Mul
            } else if self.eat_punct("/") {
                Op::Div
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat_punct("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        if self.eat_punct("+") {
            return self.unary();
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let Some(t) = self.peek().cloned() else {
            return Err(ParseError {
                span: self.end_span(),
                what: "expected an operand, found the end".into(),
            });
        };
        match t.kind {
            Kind::Number => {
                self.pos += 1;
                t.text
                    .parse::<f64>()
                    .map(Expr::Num)
                    .map_err(|_| ParseError {
                        span: t.span.clone(),
                        what: format!("bad number '{}'", t.text),
                    })
            }
            Kind::Str => {
                self.pos += 1;
                Ok(Expr::Str(t.text))
            }
            Kind::Dollar => {
                self.pos += 1;
                Ok(Expr::Dollar)
            }
            Kind::Name => {
                self.pos += 1;
                Ok(Expr::Ident(t.text, t.span))
            }
            Kind::Word if is_stop_word(&t) || is_operator_word(&t) => Err(ParseError {
                span: t.span.clone(),
                what: format!("expected an operand, found '{}'", t.text),
            }),
            Kind::Word => {
                self.pos += 1;
                if self.eat_punct("(") {
                    let args = self.arguments()?;
                    Ok(Expr::Call {
                        name: t.text,
                        args,
                        span: t.span,
                    })
                } else {
                    Ok(Expr::Ident(t.text, t.span))
                }
            }
            Kind::Punct if t.text == "(" => {
                self.pos += 1;
                let e = self.or()?;
                if !self.eat_punct(")") {
                    return Err(ParseError {
                        span: t.span,
                        what: "unclosed parenthesis".into(),
                    });
                }
                Ok(e)
            }
            Kind::Punct if t.text == "*" => {
                self.pos += 1;
                Ok(Expr::Star)
            }
            Kind::Punct => Err(ParseError {
                span: t.span.clone(),
                what: format!("expected an operand, found '{}'", t.text),
            }),
        }
    }

    /// Arguments after `(` up to the closing `)`, with aggregation qualifiers (`DISTINCT`,
    /// `TOTAL <fields>`, `ALL`) and set expressions (`{<..>}`) skipped.
    fn arguments(&mut self) -> Result<Vec<Expr>, ParseError> {
        let open = self.tokens[self.pos - 1].span.clone();
        let mut args = Vec::new();
        if self.eat_punct(")") {
            return Ok(args);
        }
        loop {
            self.skip_qualifiers()?;
            args.push(self.or()?);
            if self.eat_punct(",") {
                continue;
            }
            if self.eat_punct(")") {
                return Ok(args);
            }
            return Err(match self.peek() {
                Some(t) => ParseError {
                    span: t.span.clone(),
                    what: format!("expected ',' or ')', found '{}'", t.text),
                },
                None => ParseError {
                    span: open,
                    what: "unclosed parenthesis".into(),
                },
            });
        }
    }

    fn skip_qualifiers(&mut self) -> Result<(), ParseError> {
        loop {
            if self.eat_word("distinct") || self.eat_word("nodistinct") || self.eat_word("all") {
                continue;
            }
            if self.eat_word("total") {
                if self.peek().is_some_and(|t| t.is_punct("<")) {
                    self.skip_balanced("<", ">")?;
                }
                continue;
            }
            if self.peek().is_some_and(|t| t.is_punct("{")) {
                self.skip_balanced("{", "}")?;
                continue;
            }
            return Ok(());
        }
    }

    fn skip_balanced(&mut self, open: &str, close: &str) -> Result<(), ParseError> {
        let start = self.tokens[self.pos].span.clone();
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            if t.is_punct(open) {
                depth += 1;
            } else if t.is_punct(close) {
                depth -= 1;
                if depth == 0 {
                    self.pos += 1;
                    return Ok(());
                }
            }
            self.pos += 1;
        }
        Err(ParseError {
            span: start,
            what: format!("unclosed '{open}'"),
        })
    }
}

fn is_operator_word(t: &Token) -> bool {
    ["and", "or", "xor", "like", "precedes", "follows"]
        .iter()
        .any(|w| t.is_word(w))
}

// ---------------------------------------------------------------------------------------------
// evaluation

/// A value: Qlik values are duals (a number and/or a text).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Num(f64),
    Text(String),
    Dual(f64, String),
}

impl Val {
    pub fn number(&self) -> Option<f64> {
        match self {
            Val::Num(n) | Val::Dual(n, _) => Some(*n),
            Val::Text(t) => parse_number(t),
            Val::Null => None,
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Val::Num(_) | Val::Dual(..))
    }

    /// The text Qlik shows for the value (`-` for null).
    pub fn text(&self) -> String {
        match self {
            Val::Null => "-".into(),
            Val::Num(n) => format_number(*n),
            Val::Text(t) | Val::Dual(_, t) => t.clone(),
        }
    }

    fn text_or_empty(&self) -> String {
        match self {
            Val::Null => String::new(),
            v => v.text(),
        }
    }

    fn truthy(&self) -> bool {
        self.number().is_some_and(|n| n != 0.0)
    }
}

fn bool_val(b: bool) -> Val {
    Val::Num(if b { -1.0 } else { 0.0 })
}

pub fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Qlik's default number text: integers plainly, otherwise up to 14 decimals, trailing zeros cut.
pub fn format_number(n: f64) -> String {
    if !n.is_finite() {
        return "-".into();
    }
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{n:.0}");
    }
    let s = format!("{n:.14}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// Not a valid expression (syntax, unknown function or field, wrong arguments).
    Invalid(String),
    /// Valid, but it needs data values (aggregations, field values).
    NeedsData(String),
}

impl EvalError {
    pub fn message(&self) -> &str {
        match self {
            EvalError::Invalid(m) | EvalError::NeedsData(m) => m,
        }
    }
}

/// What an expression can see.
pub trait Scope {
    /// The definition text of variable `name`, if there is one.
    fn variable(&self, name: &str) -> Option<String>;
    /// Whether `name` is a field of the data model.
    fn is_field(&self, name: &str) -> bool;
}

/// A scope with variables only.
pub struct Variables<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Scope for Variables<'_> {
    fn variable(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }
    fn is_field(&self, _: &str) -> bool {
        false
    }
}

const MAX_DEPTH: usize = 16;

/// Evaluate a text expression: dollar-sign expansions first, then the expression.
pub fn evaluate(text: &str, scope: &dyn Scope) -> Result<Val, EvalError> {
    evaluate_at(text, scope, 0)
}

fn evaluate_at(text: &str, scope: &dyn Scope, depth: usize) -> Result<Val, EvalError> {
    if depth > MAX_DEPTH {
        return Err(EvalError::Invalid(
            "variables refer to each other too deeply".into(),
        ));
    }
    let expanded = expand_at(text, scope, depth)?;
    let expr = parse_text(&expanded).map_err(|e| {
        EvalError::Invalid(format!(
            "Error in expression: {} at position {}",
            e.what, e.span.start
        ))
    })?;
    Evaluator { scope, depth }.eval(&expr)
}

/// Replace every `$(name)` with the variable's value and `$(=expr)` with the expression's value.
pub fn expand(text: &str, scope: &dyn Scope) -> Result<String, EvalError> {
    expand_at(text, scope, 0)
}

fn expand_at(text: &str, scope: &dyn Scope, depth: usize) -> Result<String, EvalError> {
    if !text.contains("$(") {
        return Ok(text.to_string());
    }
    if depth > MAX_DEPTH {
        return Err(EvalError::Invalid(
            "dollar-sign expansions nest too deeply".into(),
        ));
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("$(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let mut depth_paren = 1usize;
        let mut close = None;
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth_paren += 1,
                ')' => {
                    depth_paren -= 1;
                    if depth_paren == 0 {
                        close = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return Err(EvalError::Invalid("unclosed dollar-sign expansion".into()));
        };
        let inner = expand_at(&after[..close], scope, depth + 1)?;
        let value = expansion(inner.trim(), scope, depth + 1)?;
        out.push_str(&expand_at(&value, scope, depth + 1)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn expansion(inner: &str, scope: &dyn Scope, depth: usize) -> Result<String, EvalError> {
    if let Some(expr) = inner.strip_prefix('=') {
        return Ok(evaluate_at(expr, scope, depth)?.text_or_empty());
    }
    // `$(name(arg1, arg2))`: a variable with parameters $1, $2.
    let (name, params) = match inner.find('(') {
        Some(i) if inner.ends_with(')') => (
            inner[..i].trim(),
            inner[i + 1..inner.len() - 1]
                .split(',')
                .map(|p| p.trim().to_string())
                .collect::<Vec<_>>(),
        ),
        _ => (inner, Vec::new()),
    };
    let Some(definition) = scope.variable(name) else {
        // An unknown variable expands to nothing (and `$(1)` style numbers stay numbers).
        return Ok(if parse_number(name).is_some() {
            name.to_string()
        } else {
            String::new()
        });
    };
    let mut value = match definition.strip_prefix('=') {
        Some(expr) => evaluate_at(expr, scope, depth)?.text_or_empty(),
        None => definition,
    };
    for (i, p) in params.iter().enumerate().rev() {
        value = value.replace(&format!("${}", i + 1), p);
    }
    Ok(value)
}

struct Evaluator<'a> {
    scope: &'a dyn Scope,
    depth: usize,
}

impl Evaluator<'_> {
    fn eval(&self, e: &Expr) -> Result<Val, EvalError> {
        match e {
            Expr::Num(n) => Ok(Val::Num(*n)),
            Expr::Str(s) => Ok(Val::Text(s.clone())),
            Expr::Dollar => Err(EvalError::Invalid(
                "unexpanded dollar-sign expansion".into(),
            )),
            Expr::Star => Err(EvalError::Invalid("'*' is only allowed in Count(*)".into())),
            Expr::Ident(name, _) => self.ident(name),
            Expr::Neg(x) => Ok(match self.eval(x)?.number() {
                Some(n) => Val::Num(-n),
                None => Val::Null,
            }),
            Expr::Not(x) => {
                let v = self.eval(x)?;
                Ok(if v == Val::Null {
                    Val::Null
                } else {
                    bool_val(!v.truthy())
                })
            }
            Expr::Bin(op, a, b) => self.binary(*op, a, b),
            Expr::Call { name, args, .. } => self.call(name, args),
        }
    }

    fn ident(&self, name: &str) -> Result<Val, EvalError> {
        if let Some(def) = self.scope.variable(name) {
            return match def.strip_prefix('=') {
                Some(expr) => evaluate_at(expr, self.scope, self.depth + 1),
                None => Ok(match parse_number(&def) {
                    Some(n) => Val::Dual(n, def),
                    None => Val::Text(def),
                }),
            };
        }
        if self.scope.is_field(name) {
            return Err(EvalError::NeedsData(format!(
                "the values of field '{name}' are not held by the sandbox engine"
            )));
        }
        Err(EvalError::Invalid(format!("Bad field name: {name}")))
    }

    fn binary(&self, op: Op, a: &Expr, b: &Expr) -> Result<Val, EvalError> {
        let x = self.eval(a)?;
        let y = self.eval(b)?;
        Ok(match op {
            Op::Or => bool_val(x.truthy() || y.truthy()),
            Op::Xor => bool_val(x.truthy() != y.truthy()),
            Op::And => bool_val(x.truthy() && y.truthy()),
            Op::Concat => Val::Text(x.text_or_empty() + &y.text_or_empty()),
            Op::Like => bool_val(wildcard(&y.text_or_empty(), &x.text_or_empty())),
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                if x == Val::Null || y == Val::Null {
                    return Ok(Val::Null);
                }
                let ord = match (x.number(), y.number()) {
                    (Some(m), Some(n)) => m.partial_cmp(&n),
                    _ => Some(x.text().to_lowercase().cmp(&y.text().to_lowercase())),
                };
                let Some(ord) = ord else { return Ok(Val::Null) };
                use std::cmp::Ordering::*;
                bool_val(match op {
                    Op::Eq => ord == Equal,
                    Op::Ne => ord != Equal,
                    Op::Lt => ord == Less,
                    Op::Le => ord != Greater,
                    Op::Gt => ord == Greater,
                    _ => ord != Less,
                })
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let (Some(m), Some(n)) = (x.number(), y.number()) else {
                    return Ok(Val::Null);
                };
                let r = match op {
                    Op::Add => m + n,
                    Op::Sub => m - n,
                    Op::Mul => m * n,
                    _ if n == 0.0 => return Ok(Val::Null),
                    _ => m / n,
                };
                Val::Num(r)
            }
        })
    }

    fn call(&self, name: &str, args: &[Expr]) -> Result<Val, EvalError> {
        let lower = name.to_ascii_lowercase();
        if AGGREGATIONS.contains(&lower.as_str()) {
            return Err(EvalError::NeedsData(format!(
                "{name}() aggregates field values, which the sandbox engine does not hold"
            )));
        }
        // Lazily evaluated: If, Alt.
        if lower == "if" {
            arity(name, args, 2, 3)?;
            let c = self.eval(&args[0])?;
            return if c.truthy() {
                self.eval(&args[1])
            } else {
                args.get(2).map_or(Ok(Val::Null), |e| self.eval(e))
            };
        }
        let vals = args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        functions::call(name, &lower, &vals, self.scope)
    }
}

fn arity(name: &str, args: &[impl Sized], min: usize, max: usize) -> Result<(), EvalError> {
    if args.len() < min || args.len() > max {
        return Err(EvalError::Invalid(format!(
            "{name}() takes {} arguments, {} given",
            if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            },
            args.len()
        )));
    }
    Ok(())
}

/// Aggregation functions (chart and LOAD ... GROUP BY): they need field values.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "count",
    "avg",
    "min",
    "max",
    "only",
    "concat",
    "minstring",
    "maxstring",
    "mode",
    "median",
    "nullcount",
    "numericcount",
    "textcount",
    "missingcount",
    "firstsortedvalue",
    "aggr",
    "stdev",
    "fractile",
    "firstvalue",
    "lastvalue",
    "rank",
    "getselectedcount",
    "getpossiblecount",
    "getfieldselections",
];

/// `*` and `?` wildcards, case-insensitive (the `like` operator and WildMatch).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) => a == b && go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

mod functions {
    //! Scalar functions by (lowercase) name.

    use super::{EvalError, Scope, Val, arity, bool_val, format_number, parse_number, wildcard};

    fn num(v: &Val) -> Option<f64> {
        v.number()
    }

    fn text(v: &Val) -> String {
        match v {
            Val::Null => String::new(),
            v => v.text(),
        }
    }

    fn int(v: &Val) -> Option<i64> {
        num(v).map(|n| n.floor() as i64)
    }

    fn n1(vals: &[Val], f: impl Fn(f64) -> f64) -> Val {
        match num(&vals[0]) {
            Some(n) => {
                let r = f(n);
                if r.is_finite() {
                    Val::Num(r)
                } else {
                    Val::Null
                }
            }
            None => Val::Null,
        }
    }

    pub(super) fn call(
        name: &str,
        lower: &str,
        v: &[Val],
        scope: &dyn Scope,
    ) -> Result<Val, EvalError> {
        let a = |min, max| arity(name, v, min, max);
        Ok(match lower {
            "len" => {
                a(1, 1)?;
                Val::Num(text(&v[0]).chars().count() as f64)
            }
            "upper" => {
                a(1, 1)?;
                Val::Text(text(&v[0]).to_uppercase())
            }
            "lower" => {
                a(1, 1)?;
                Val::Text(text(&v[0]).to_lowercase())
            }
            "capitalize" => {
                a(1, 1)?;
                Val::Text(
                    text(&v[0])
                        .split(' ')
                        .map(|w| {
                            let mut c = w.chars();
                            match c.next() {
                                Some(f) => f
                                    .to_uppercase()
                                    .chain(c.flat_map(char::to_lowercase))
                                    .collect(),
                                None => String::new(),
                            }
                        })
                        .collect::<Vec<String>>()
                        .join(" "),
                )
            }
            "trim" => {
                a(1, 1)?;
                Val::Text(text(&v[0]).trim_matches(' ').to_string())
            }
            "ltrim" => {
                a(1, 1)?;
                Val::Text(text(&v[0]).trim_start_matches(' ').to_string())
            }
            "rtrim" => {
                a(1, 1)?;
                Val::Text(text(&v[0]).trim_end_matches(' ').to_string())
            }
            "left" | "right" => {
                a(2, 2)?;
                let s: Vec<char> = text(&v[0]).chars().collect();
                let n = int(&v[1]).unwrap_or(0).clamp(0, s.len() as i64) as usize;
                Val::Text(if lower == "left" {
                    s[..n].iter().collect()
                } else {
                    s[s.len() - n..].iter().collect()
                })
            }
            "mid" => {
                a(2, 3)?;
                let s: Vec<char> = text(&v[0]).chars().collect();
                let start = (int(&v[1]).unwrap_or(1).max(1) - 1) as usize;
                let start = start.min(s.len());
                let len = v
                    .get(2)
                    .and_then(int)
                    .map_or(s.len() - start, |n| n.max(0) as usize);
                Val::Text(s[start..(start + len).min(s.len())].iter().collect())
            }
            "index" => {
                a(2, 3)?;
                let s = text(&v[0]);
                let sub = text(&v[1]);
                let nth = v.get(2).and_then(int).unwrap_or(1);
                Val::Num(index(&s, &sub, nth) as f64)
            }
            "replace" => {
                a(3, 3)?;
                let from = text(&v[1]);
                Val::Text(if from.is_empty() {
                    text(&v[0])
                } else {
                    text(&v[0]).replace(&from, &text(&v[2]))
                })
            }
            "repeat" => {
                a(1, 2)?;
                let n = v.get(1).and_then(int).unwrap_or(1).clamp(0, 10_000) as usize;
                Val::Text(text(&v[0]).repeat(n))
            }
            "subfield" => {
                a(2, 3)?;
                let s = text(&v[0]);
                let d = text(&v[1]);
                let parts: Vec<&str> = if d.is_empty() {
                    vec![s.as_str()]
                } else {
                    s.split(d.as_str()).collect()
                };
                match v.get(2).and_then(int) {
                    Some(i) if i > 0 => parts
                        .get(i as usize - 1)
                        .map_or(Val::Null, |p| Val::Text(p.to_string())),
                    Some(i) if i < 0 => parts
                        .len()
                        .checked_sub(i.unsigned_abs() as usize)
                        .and_then(|k| parts.get(k))
                        .map_or(Val::Null, |p| Val::Text(p.to_string())),
                    Some(_) => Val::Null,
                    None => parts
                        .first()
                        .map_or(Val::Null, |p| Val::Text(p.to_string())),
                }
            }
            "substringcount" => {
                a(2, 2)?;
                let sub = text(&v[1]);
                Val::Num(if sub.is_empty() {
                    0.0
                } else {
                    text(&v[0]).matches(&sub).count() as f64
                })
            }
            "textbetween" => {
                a(3, 4)?;
                let s = text(&v[0]);
                let (open, close) = (text(&v[1]), text(&v[2]));
                let nth = v.get(3).and_then(int).unwrap_or(1).max(1) as usize;
                s.match_indices(&open)
                    .nth(nth - 1)
                    .and_then(|(i, _)| {
                        let after = &s[i + open.len()..];
                        after
                            .find(&close)
                            .map(|j| Val::Text(after[..j].to_string()))
                    })
                    .unwrap_or(Val::Null)
            }
            "purgechar" | "keepchar" => {
                a(2, 2)?;
                let set = text(&v[1]);
                let keep = lower == "keepchar";
                Val::Text(
                    text(&v[0])
                        .chars()
                        .filter(|c| set.contains(*c) == keep)
                        .collect(),
                )
            }
            "findoneof" => {
                a(2, 3)?;
                let s: Vec<char> = text(&v[0]).chars().collect();
                let set = text(&v[1]);
                let nth = v.get(2).and_then(int).unwrap_or(1).max(1) as usize;
                Val::Num(
                    s.iter()
                        .enumerate()
                        .filter(|(_, c)| set.contains(**c))
                        .nth(nth - 1)
                        .map_or(0.0, |(i, _)| (i + 1) as f64),
                )
            }
            "chr" => {
                a(1, 1)?;
                int(&v[0])
                    .and_then(|n| u32::try_from(n).ok())
                    .and_then(char::from_u32)
                    .map_or(Val::Null, |c| Val::Text(c.to_string()))
            }
            "ord" => {
                a(1, 1)?;
                text(&v[0])
                    .chars()
                    .next()
                    .map_or(Val::Null, |c| Val::Num(f64::from(u32::from(c))))
            }
            "text" => {
                a(1, 1)?;
                match &v[0] {
                    Val::Null => Val::Null,
                    x => Val::Text(x.text()),
                }
            }
            "num" => {
                a(1, 4)?;
                match num(&v[0]) {
                    None => Val::Null,
                    Some(n) => match v.get(1) {
                        Some(f) => Val::Dual(n, format_with(n, &text(f))),
                        None => Val::Num(n),
                    },
                }
            }
            "num#" | "evaluate" => {
                a(1, 4)?;
                match parse_number(&text(&v[0])) {
                    Some(n) => Val::Dual(n, text(&v[0])),
                    None => Val::Null,
                }
            }
            "dual" => {
                a(2, 2)?;
                match num(&v[1]) {
                    Some(n) => Val::Dual(n, text(&v[0])),
                    None => Val::Text(text(&v[0])),
                }
            }
            "isnum" => {
                a(1, 1)?;
                bool_val(v[0].is_numeric() || num(&v[0]).is_some())
            }
            "istext" => {
                a(1, 1)?;
                bool_val(matches!(v[0], Val::Text(_)) && num(&v[0]).is_none())
            }
            "isnull" => {
                a(1, 1)?;
                bool_val(v[0] == Val::Null)
            }
            "null" => {
                a(0, 0)?;
                Val::Null
            }
            "true" => {
                a(0, 0)?;
                bool_val(true)
            }
            "false" => {
                a(0, 0)?;
                bool_val(false)
            }
            "alt" => {
                a(1, 64)?;
                v.iter()
                    .find(|x| num(x).is_some())
                    .cloned()
                    .unwrap_or_else(|| v[v.len() - 1].clone())
            }
            "coalesce" => {
                a(1, 64)?;
                v.iter()
                    .find(|x| **x != Val::Null)
                    .cloned()
                    .unwrap_or(Val::Null)
            }
            "pick" => {
                a(2, 64)?;
                int(&v[0])
                    .filter(|n| *n >= 1)
                    .and_then(|n| v.get(n as usize))
                    .cloned()
                    .unwrap_or(Val::Null)
            }
            "match" | "mixmatch" | "wildmatch" => {
                a(2, 64)?;
                let s = text(&v[0]);
                let pos = v[1..].iter().position(|x| match lower {
                    "match" => text(x) == s,
                    "mixmatch" => text(x).eq_ignore_ascii_case(&s),
                    _ => wildcard(&text(x), &s),
                });
                Val::Num(pos.map_or(0.0, |p| (p + 1) as f64))
            }
            "round" => {
                a(1, 3)?;
                let step = v.get(1).and_then(num).unwrap_or(1.0);
                let offset = v.get(2).and_then(num).unwrap_or(0.0);
                match num(&v[0]) {
                    Some(n) if step != 0.0 => {
                        Val::Num(((n - offset) / step).round() * step + offset)
                    }
                    _ => Val::Null,
                }
            }
            "floor" | "ceil" => {
                a(1, 3)?;
                let step = v.get(1).and_then(num).unwrap_or(1.0);
                let offset = v.get(2).and_then(num).unwrap_or(0.0);
                match num(&v[0]) {
                    Some(n) if step != 0.0 => {
                        let q = (n - offset) / step;
                        Val::Num(
                            if lower == "floor" {
                                q.floor()
                            } else {
                                q.ceil()
                            } * step
                                + offset,
                        )
                    }
                    _ => Val::Null,
                }
            }
            "fabs" | "abs" => {
                a(1, 1)?;
                n1(v, f64::abs)
            }
            "sqrt" => {
                a(1, 1)?;
                n1(v, f64::sqrt)
            }
            "exp" => {
                a(1, 1)?;
                n1(v, f64::exp)
            }
            "log" => {
                a(1, 1)?;
                n1(v, f64::ln)
            }
            "log10" => {
                a(1, 1)?;
                n1(v, f64::log10)
            }
            "sign" => {
                a(1, 1)?;
                n1(v, |n| if n == 0.0 { 0.0 } else { n.signum() })
            }
            "frac" => {
                a(1, 1)?;
                n1(v, |n| n - n.floor())
            }
            "pow" => {
                a(2, 2)?;
                match (num(&v[0]), num(&v[1])) {
                    (Some(x), Some(y)) => Val::Num(x.powf(y)),
                    _ => Val::Null,
                }
            }
            "mod" | "fmod" | "div" => {
                a(2, 2)?;
                match (num(&v[0]), num(&v[1])) {
                    (Some(_), Some(0.0)) => Val::Null,
                    (Some(x), Some(y)) => Val::Num(match lower {
                        "mod" => x.rem_euclid(y),
                        "fmod" => x % y,
                        _ => (x / y).trunc(),
                    }),
                    _ => Val::Null,
                }
            }
            "even" | "odd" => {
                a(1, 1)?;
                match int(&v[0]) {
                    Some(n) => bool_val((n % 2 == 0) == (lower == "even")),
                    None => Val::Null,
                }
            }
            "pi" => {
                a(0, 0)?;
                Val::Num(std::f64::consts::PI)
            }
            "rangesum" | "rangemax" | "rangemin" | "rangeavg" | "rangecount" => {
                a(1, 64)?;
                let nums: Vec<f64> = v.iter().filter_map(num).collect();
                match lower {
                    "rangesum" => Val::Num(nums.iter().sum()),
                    "rangecount" => Val::Num(v.iter().filter(|x| **x != Val::Null).count() as f64),
                    _ if nums.is_empty() => Val::Null,
                    "rangemax" => Val::Num(nums.iter().copied().fold(f64::MIN, f64::max)),
                    "rangemin" => Val::Num(nums.iter().copied().fold(f64::MAX, f64::min)),
                    _ => Val::Num(nums.iter().sum::<f64>() / nums.len() as f64),
                }
            }
            "today" | "now" => {
                a(0, 1)?;
                let serial = dates::now_serial();
                let value = if lower == "today" {
                    serial.floor()
                } else {
                    serial
                };
                Val::Dual(
                    value,
                    dates::format(value, &dates::format_for(lower, scope)),
                )
            }
            "makedate" => {
                a(1, 3)?;
                let y = int(&v[0]);
                let m = v.get(1).map_or(Some(1), int);
                let d = v.get(2).map_or(Some(1), int);
                match (y, m, d) {
                    (Some(y), Some(m), Some(d)) => match dates::serial(y, m, d) {
                        Some(s) => {
                            Val::Dual(s, dates::format(s, &dates::format_for("date", scope)))
                        }
                        None => Val::Null,
                    },
                    _ => Val::Null,
                }
            }
            "date" | "timestamp" | "time" => {
                a(1, 2)?;
                match num(&v[0]) {
                    Some(n) => {
                        let f = v
                            .get(1)
                            .map_or_else(|| dates::format_for(lower, scope), text);
                        Val::Dual(n, dates::format(n, &f))
                    }
                    None => Val::Null,
                }
            }
            "year" | "month" | "day" | "weekday" => {
                a(1, 1)?;
                match num(&v[0]).and_then(dates::civil) {
                    Some((y, m, d)) => match lower {
                        "year" => Val::Num(y as f64),
                        "month" => Val::Dual(m as f64, dates::MONTHS[(m - 1) as usize].to_string()),
                        "day" => Val::Num(d as f64),
                        _ => {
                            // Monday = 0, as with the default FirstWeekDay.
                            let wd = (num(&v[0]).unwrap_or(0.0).floor() as i64 + 5).rem_euclid(7);
                            Val::Dual(wd as f64, dates::DAYS[wd as usize].to_string())
                        }
                    },
                    None => Val::Null,
                }
            }
            "recno" | "rowno" | "iterno" => {
                return Err(EvalError::NeedsData(format!(
                    "{name}() only has a value while a LOAD reads rows"
                )));
            }
            _ => {
                return Err(EvalError::Invalid(format!(
                    "Error in expression: {name} is not a valid function"
                )));
            }
        })
    }

    fn index(s: &str, sub: &str, nth: i64) -> usize {
        if sub.is_empty() || nth == 0 {
            return 0;
        }
        let chars: Vec<char> = s.chars().collect();
        let needle: Vec<char> = sub.chars().collect();
        let hits: Vec<usize> = (0..chars.len().saturating_sub(needle.len() - 1))
            .filter(|i| chars[*i..].starts_with(&needle))
            .collect();
        let pick = if nth > 0 {
            hits.get(nth as usize - 1)
        } else {
            hits.len()
                .checked_sub(nth.unsigned_abs() as usize)
                .and_then(|k| hits.get(k))
        };
        pick.map_or(0, |i| i + 1)
    }

    /// A number format such as `#,##0.00` or `0%` (decimal point `.`, thousands `,`).
    fn format_with(n: f64, fmt: &str) -> String {
        let percent = fmt.ends_with('%');
        let core = fmt.trim_end_matches('%');
        let value = if percent { n * 100.0 } else { n };
        let decimals = core.split_once('.').map_or(0, |(_, d)| {
            d.chars().filter(|c| *c == '0' || *c == '#').count()
        });
        let grouped = core.contains(',');
        let s = format!("{:.*}", decimals, value.abs());
        let (int_part, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
        let mut int_text = String::new();
        for (i, c) in int_part.chars().enumerate() {
            if grouped && i > 0 && (int_part.len() - i) % 3 == 0 {
                int_text.push(',');
            }
            int_text.push(c);
        }
        let mut out = if value < 0.0 && s.chars().any(|c| c != '0' && c != '.') {
            "-".to_string()
        } else {
            String::new()
        };
        out.push_str(&int_text);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if percent {
            out.push('%');
        }
        if fmt.is_empty() {
            format_number(n)
        } else {
            out
        }
    }

    pub(super) mod dates {
        //! Dates as Qlik serial numbers: days since 1899-12-30.

        use super::super::Scope;

        pub(crate) const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        pub(crate) const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        /// Days from 1899-12-30 to 1970-01-01.
        const EPOCH_OFFSET: f64 = 25569.0;

        pub(crate) fn now_serial() -> f64 {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            secs / 86_400.0 + EPOCH_OFFSET
        }

        pub(crate) fn serial(y: i64, m: i64, d: i64) -> Option<f64> {
            let y = i32::try_from(y).ok()?;
            // Months beyond 12 roll over, as MakeDate does not; keep to valid months.
            let month = time::Month::try_from(u8::try_from(m).ok()?).ok()?;
            let date = time::Date::from_calendar_date(y, month, u8::try_from(d).ok()?).ok()?;
            let epoch = time::Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
            Some((date - epoch).whole_days() as f64)
        }

        pub(crate) fn civil(serial: f64) -> Option<(i64, i64, i64)> {
            let epoch = time::Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
            let date = epoch.checked_add(time::Duration::days(serial.floor() as i64))?;
            Some((
                i64::from(date.year()),
                i64::from(u8::from(date.month())),
                i64::from(date.day()),
            ))
        }

        /// The format variable the script set (DateFormat, TimestampFormat), or the default.
        pub(crate) fn format_for(function: &str, scope: &dyn Scope) -> String {
            let (var, default) = match function {
                "now" | "timestamp" => ("TimestampFormat", "M/D/YYYY h:mm:ss[.fff] TT"),
                "time" => ("TimeFormat", "h:mm:ss TT"),
                _ => ("DateFormat", "M/D/YYYY"),
            };
            scope.variable(var).unwrap_or_else(|| default.to_string())
        }

        /// Format with the common tokens: YYYY YY MMMM MMM MM M DD D hh h mm ss TT [.fff].
        pub(crate) fn format(serial: f64, fmt: &str) -> String {
            let Some((y, m, d)) = civil(serial) else {
                return String::new();
            };
            let secs_total = ((serial - serial.floor()) * 86_400.0).round() as i64;
            let (hh, mm, ss) = (
                secs_total / 3600 % 24,
                secs_total / 60 % 60,
                secs_total % 60,
            );
            let fmt = fmt.replace("[.fff]", "");
            let mut out = String::new();
            let chars: Vec<char> = fmt.chars().collect();
            let mut i = 0;
            let run = |i: usize, c: char| chars[i..].iter().take_while(|x| **x == c).count();
            while i < chars.len() {
                let c = chars[i];
                let n = run(i, c);
                match c {
                    'Y' => out.push_str(&if n <= 2 {
                        format!("{:02}", y % 100)
                    } else {
                        y.to_string()
                    }),
                    'M' => out.push_str(&match n {
                        1 => m.to_string(),
                        2 => format!("{m:02}"),
                        3 => MONTHS[(m - 1) as usize].to_string(),
                        _ => [
                            "January",
                            "February",
                            "March",
                            "April",
                            "May",
                            "June",
                            "July",
                            "August",
                            "September",
                            "October",
                            "November",
                            "December",
                        ][(m - 1) as usize]
                            .to_string(),
                    }),
                    'D' => out.push_str(&if n == 1 {
                        d.to_string()
                    } else {
                        format!("{d:02}")
                    }),
                    'h' => {
                        let twelve = fmt.contains("TT");
                        let h = if twelve { (hh + 11) % 12 + 1 } else { hh };
                        out.push_str(&if n == 1 {
                            h.to_string()
                        } else {
                            format!("{h:02}")
                        });
                    }
                    'm' => out.push_str(&format!("{mm:02}")),
                    's' => out.push_str(&format!("{ss:02}")),
                    'T' if n >= 2 => out.push_str(if hh < 12 { "AM" } else { "PM" }),
                    _ => {
                        for _ in 0..n {
                            out.push(c);
                        }
                    }
                }
                i += n;
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "vTarget" => Some("1000".into()),
            "vName" => Some("Sandbox".into()),
            "vCalc" => Some("=vTarget * 2".into()),
            "vSum" => Some("$1 + $2".into()),
            _ => None,
        }
    }

    fn eval(text: &str) -> Result<String, EvalError> {
        evaluate(text, &Variables(&vars)).map(|v| v.text())
    }

    #[test]
    fn constants_arithmetic_strings_variables() {
        assert_eq!(eval("1+2*3").unwrap(), "7");
        assert_eq!(eval("(1+2)*3").unwrap(), "9");
        assert_eq!(eval("1/3").unwrap(), "0.33333333333333");
        assert_eq!(eval("10/4").unwrap(), "2.5");
        assert_eq!(eval("-2 - -3").unwrap(), "1");
        assert_eq!(eval("1/0").unwrap(), "-");
        assert_eq!(eval("'a' & 'b' & 1").unwrap(), "ab1");
        assert_eq!(eval("2 > 1").unwrap(), "-1");
        assert_eq!(eval("2 > 1 and 1 > 2").unwrap(), "0");
        assert_eq!(eval("=Upper('qlik') & Len('abc')").unwrap(), "QLIK3");
        assert_eq!(eval("Mid('Sandbox', 2, 3)").unwrap(), "and");
        assert_eq!(eval("SubField('a;b;c', ';', -1)").unwrap(), "c");
        assert_eq!(eval("Replace('aXbX', 'X', '-')").unwrap(), "a-b-");
        assert_eq!(eval("If(1 > 2, 'yes', 'no')").unwrap(), "no");
        assert_eq!(eval("vTarget + 1").unwrap(), "1001");
        assert_eq!(eval("vCalc").unwrap(), "2000");
        assert_eq!(eval("$(vTarget) * 3").unwrap(), "3000");
        assert_eq!(eval("'$(vName)'").unwrap(), "Sandbox");
        assert_eq!(eval("$(vSum(2, 3))").unwrap(), "5");
        assert_eq!(eval("$(=1+1) + 1").unwrap(), "3");
        assert_eq!(eval("Num(1234.5, '#,##0.00')").unwrap(), "1,234.50");
        assert_eq!(eval("Round(2.567, 0.01)").unwrap(), "2.57");
        assert_eq!(eval("Year(MakeDate(2024, 3, 9))").unwrap(), "2024");
        assert_eq!(eval("Month(MakeDate(2024, 3, 9))").unwrap(), "Mar");
        assert_eq!(
            eval("Date(MakeDate(2024, 3, 9), 'YYYY-MM-DD')").unwrap(),
            "2024-03-09"
        );
        assert_eq!(eval("RangeSum(1, 2, 'x', 3)").unwrap(), "6");
        assert_eq!(eval("WildMatch('Sales.qvd', '*.qvd')").unwrap(), "1");
    }

    #[test]
    fn the_rest_is_an_error() {
        assert!(matches!(eval("Sum(Sales)"), Err(EvalError::NeedsData(_))));
        assert!(matches!(eval("Nonsense(1)"), Err(EvalError::Invalid(_))));
        assert!(
            matches!(eval("Sales"), Err(EvalError::Invalid(m)) if m.contains("Bad field name"))
        );
        assert!(matches!(eval("1 +"), Err(EvalError::Invalid(_))));
        assert!(matches!(eval("(1"), Err(EvalError::Invalid(_))));
        assert!(matches!(eval("Len()"), Err(EvalError::Invalid(_))));
    }

    #[test]
    fn parses_aggregation_qualifiers_and_sets() {
        assert!(
            parse_text("Sum({<Year={2024}>} DISTINCT Amount) / Count(TOTAL <Region> Orders)")
                .is_ok()
        );
        assert!(parse_text("Count(*)").is_ok());
        assert_eq!(
            parse_text("Sum(a b)").unwrap_err().what,
            "expected ',' or ')', found 'b'"
        );
    }
}
