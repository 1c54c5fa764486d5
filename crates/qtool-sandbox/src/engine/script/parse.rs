//! Statements of a load script, for `CheckScriptSyntax` and for the reload. The grammar follows
//! the Qlik script reference (help.qlik.com "Script statements and keywords"): regular
//! statements end with `;`; control statements (IF/ELSEIF/ELSE/END IF, SUB/END SUB, CALL,
//! FOR/NEXT, FOR EACH, DO/LOOP, SWITCH/CASE/DEFAULT/END SWITCH, EXIT) end with `;` or the end
//! of the line; a statement may carry a `Label:` and LOAD/SELECT prefixes. A statement that
//! does not parse gets an error at the offending token, with a secondary area up to the end of
//! the statement (the engine's "primary"/"secondary" error areas).

use std::ops::Range;

use super::expr;
use super::lex::{self, Kind, Token};
use crate::engine::spec::ReloadError;

#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// Byte span of the offending text.
    pub span: Range<usize>,
    /// The rest of the statement after it, if any.
    pub secondary: Option<Range<usize>>,
    pub code: ReloadError,
    /// The `{0}` of the engine's text.
    pub arg: String,
}

impl SyntaxError {
    pub fn message(&self) -> String {
        self.code.text(&self.arg)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Byte span in the script, terminator included.
    pub span: Range<usize>,
    /// Byte span of its first token.
    pub head: Range<usize>,
    pub label: Option<String>,
    pub body: Body,
    /// Set when the statement does not parse; the reload fails when it reaches it.
    pub error: Option<SyntaxError>,
    /// The raw text contains `$(` (re-parsed after expansion at reload time).
    pub has_dollar: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Load(Load),
    Sql(Sql),
    Set {
        name: String,
        value: String,
    },
    Let {
        name: String,
        value: String,
    },
    Trace(String),
    LibConnect(String),
    OtherConnect,
    Disconnect,
    DropTables(Vec<String>),
    DropFields(Vec<String>),
    RenameTables(Vec<(String, String)>),
    Store {
        table: String,
        path: String,
    },
    Exit {
        what: String,
        condition: Option<(bool, String)>,
    },
    If(String),
    ElseIf(String),
    Else,
    EndIf,
    Sub(String),
    EndSub,
    Call(String),
    For {
        var: String,
        from: String,
        to: String,
        step: Option<String>,
    },
    ForEach {
        var: String,
        items: Vec<String>,
    },
    Next,
    Do(Option<(bool, String)>),
    Loop(Option<(bool, String)>),
    Switch(String),
    Case(Vec<String>),
    Default,
    EndSwitch,
    /// A statement without effect on the data model here (QUALIFY, SECTION, SLEEP, ...).
    Other(String),
    Rem,
    /// Could not be parsed (see `Statement::error`).
    Invalid,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefixes {
    /// `CONCATENATE [(table)]`
    pub concatenate: Option<Option<String>>,
    pub noconcatenate: bool,
    /// `[LEFT|RIGHT|INNER|OUTER] JOIN|KEEP [(table)]`
    pub join: Option<Option<String>>,
    pub mapping: bool,
    /// `ADD`/`REPLACE`/`MERGE`: runs in a partial reload.
    pub partial: bool,
    /// `REPLACE`: replaces the table in a partial reload.
    pub replace: bool,
    /// `ONLY` with ADD/REPLACE/MERGE: runs only in a partial reload.
    pub only: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Source text of the expression (or `*`).
    pub text: String,
    pub alias: Option<String>,
}

impl Field {
    /// The resulting field name: the alias, else a plain field reference's name.
    pub fn name(&self) -> String {
        self.alias.clone().unwrap_or_else(|| {
            self.text
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_matches('"')
                .to_string()
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A preceding LOAD: reads the next LOAD or SELECT.
    Preceding,
    From {
        path: String,
    },
    FromField,
    Resident(String),
    Inline {
        data: String,
        delimiter: char,
    },
    Autogenerate(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub prefixes: Prefixes,
    pub fields: Vec<Field>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub prefixes: Prefixes,
    pub fields: Vec<String>,
    pub table: Option<String>,
}

/// The parsed script: statements, syntax errors (statement errors and unmatched blocks).
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub statements: Vec<Statement>,
    pub errors: Vec<SyntaxError>,
}

const CONTROL: &[&str] = &[
    "if", "elseif", "else", "end", "sub", "call", "for", "next", "do", "loop", "exit", "switch",
    "case", "default",
];

const OTHER_STATEMENTS: &[&str] = &[
    "qualify",
    "unqualify",
    "section",
    "tag",
    "untag",
    "sleep",
    "binary",
    "directory",
    "alias",
    "comment",
    "map",
    "unmap",
    "nullasvalue",
    "nullasnull",
    "search",
    "force",
    "loosen",
    "derive",
    "declare",
    "execute",
    "star",
    "set_sleep",
];

pub fn parse_script(text: &str) -> Script {
    let tokens = match lex::tokenize(text) {
        Ok(t) => t,
        Err(e) => {
            return Script {
                statements: Vec::new(),
                errors: vec![SyntaxError {
                    span: e.span,
                    secondary: None,
                    code: ReloadError::UnexpectedToken,
                    arg: e.what.to_string(),
                }],
            };
        }
    };
    let mut script = Script::default();
    let mut i = 0;
    while i < tokens.len() {
        let (end, next) = statement_end(&tokens, i);
        let terminator = tokens.get(end).filter(|t| t.is_punct(";"));
        let span_end = terminator.map_or(tokens[end - 1].span.end, |t| t.span.end);
        let span = tokens[i].span.start..span_end;
        let raw = &text[span.clone()];
        let mut stmt = parse_statement(text, &tokens[i..end], span.clone());
        stmt.has_dollar = raw.contains("$(");
        let regular = !is_control(&tokens[i]);
        if regular
            && terminator.is_none()
            && stmt.error.is_none()
            && !matches!(stmt.body, Body::Rem)
        {
            let last = &tokens[end - 1];
            stmt.error = Some(SyntaxError {
                span: last.span.clone(),
                secondary: None,
                code: ReloadError::UnexpectedToken,
                arg: "end of script, expected ';'".into(),
            });
            stmt.body = Body::Invalid;
        }
        if let Some(e) = &stmt.error {
            script.errors.push(e.clone());
        }
        script.statements.push(stmt);
        i = next;
    }
    check_blocks(&script.statements, &mut script.errors);
    script.errors.sort_by_key(|e| e.span.start);
    script
}

fn is_control(t: &Token) -> bool {
    t.kind == Kind::Word && CONTROL.iter().any(|w| t.is_word(w))
}

/// Where the statement starting at `i` ends (exclusive, the terminator not included) and where
/// the next one starts.
fn statement_end(tokens: &[Token], i: usize) -> (usize, usize) {
    if tokens[i].is_word("rem") {
        let end = (i..tokens.len())
            .find(|&j| tokens[j].is_punct(";"))
            .unwrap_or(tokens.len());
        return (end, if end < tokens.len() { end + 1 } else { end });
    }
    if is_control(&tokens[i]) {
        let if_like = tokens[i].is_word("if") || tokens[i].is_word("elseif");
        let mut j = i + 1;
        while j < tokens.len() && !tokens[j].line_start && !tokens[j].is_punct(";") {
            if if_like && tokens[j].is_word("then") {
                return (j + 1, j + 1);
            }
            j += 1;
        }
        let next = if tokens.get(j).is_some_and(|t| t.is_punct(";")) {
            j + 1
        } else {
            j
        };
        return (j, next);
    }
    let end = (i..tokens.len())
        .find(|&j| tokens[j].is_punct(";"))
        .unwrap_or(tokens.len());
    (end, if end < tokens.len() { end + 1 } else { end })
}

/// Parsing state over one statement's tokens.
struct Cursor<'a> {
    at: lex::Cursor<'a>,
    text: &'a str,
    span: Range<usize>,
}

type Parsed<T> = Result<T, SyntaxError>;

impl<'a> std::ops::Deref for Cursor<'a> {
    type Target = lex::Cursor<'a>;
    fn deref(&self) -> &lex::Cursor<'a> {
        &self.at
    }
}

impl std::ops::DerefMut for Cursor<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.at
    }
}

impl<'a> Cursor<'a> {
    /// An error at the current token (or the statement's end).
    fn error(&self, code: ReloadError, arg: impl Into<String>) -> SyntaxError {
        let span = match self.peek() {
            Some(t) => t.span.clone(),
            None => {
                let end = self.tokens.last().map_or(self.span.end, |t| t.span.end);
                end..end
            }
        };
        self.error_at(span, code, arg)
    }

    fn error_at(
        &self,
        span: Range<usize>,
        code: ReloadError,
        arg: impl Into<String>,
    ) -> SyntaxError {
        let secondary = (span.end < self.span.end).then_some(span.end..self.span.end);
        SyntaxError {
            span,
            secondary,
            code,
            arg: arg.into(),
        }
    }

    fn unexpected(&self) -> SyntaxError {
        let found = self
            .peek()
            .map_or("end of statement".to_string(), |t| t.text.clone());
        self.error(ReloadError::UnexpectedToken, found)
    }

    /// A name (word, "quoted", [bracketed]) or a string.
    fn name(&mut self) -> Parsed<String> {
        match self.peek() {
            Some(t) if matches!(t.kind, Kind::Word | Kind::Name | Kind::Str | Kind::Dollar) => {
                self.pos += 1;
                Ok(t.text.clone())
            }
            _ => Err(self.unexpected()),
        }
    }

    fn expression(&mut self) -> Parsed<String> {
        let start = self.pos;
        expr::parse(self.tokens, &mut self.pos).map_err(|e| {
            let span = if e.span.is_empty() {
                e.span.start..e.span.start
            } else {
                e.span
            };
            self.error_at(span, ReloadError::UnexpectedToken, e.what)
        })?;
        Ok(self.source_of(start, self.pos))
    }

    /// Source text of tokens `from..to`.
    fn source_of(&self, from: usize, to: usize) -> String {
        if from >= to {
            return String::new();
        }
        self.text[self.tokens[from].span.start..self.tokens[to - 1].span.end].to_string()
    }

    /// The rest of the statement as source text.
    fn rest(&mut self) -> String {
        let s = self.source_of(self.pos, self.tokens.len());
        self.pos = self.tokens.len();
        s
    }

    /// Skip a balanced `( ... )` group if one starts here.
    fn skip_parens(&mut self) -> Parsed<()> {
        if !self.peek().is_some_and(|t| t.is_punct("(")) {
            return Ok(());
        }
        let open = self.pos;
        let mut depth = 0usize;
        while let Some(t) = self.peek() {
            if t.is_punct("(") {
                depth += 1;
            } else if t.is_punct(")") {
                depth -= 1;
                if depth == 0 {
                    self.pos += 1;
                    return Ok(());
                }
            }
            self.pos += 1;
        }
        Err(self.error_at(
            self.tokens[open].span.clone(),
            ReloadError::UnexpectedToken,
            "(",
        ))
    }

    /// Text of a `(..)` group here, without the parentheses ("" when none).
    fn paren_text(&mut self) -> Parsed<String> {
        let start = self.pos;
        self.skip_parens()?;
        if self.pos == start {
            return Ok(String::new());
        }
        Ok(self.source_of(start + 1, self.pos - 1))
    }

    /// A file path: a quoted/bracketed token, or adjacent tokens (`lib://Data/x.csv`).
    fn path(&mut self) -> Parsed<String> {
        let Some(first) = self.peek() else {
            return Err(self.unexpected());
        };
        if matches!(first.kind, Kind::Name | Kind::Str) {
            self.pos += 1;
            return Ok(first.text.clone());
        }
        let start = self.pos;
        self.pos += 1;
        while let (Some(prev), Some(t)) = (self.tokens.get(self.pos - 1), self.peek()) {
            if t.span.start != prev.span.end || t.is_punct("(") || t.is_punct(";") {
                break;
            }
            self.pos += 1;
        }
        Ok(self.source_of(start, self.pos))
    }
}

fn parse_statement(text: &str, tokens: &[Token], span: Range<usize>) -> Statement {
    let mut c = Cursor {
        at: lex::Cursor { tokens, pos: 0 },
        text,
        span: span.clone(),
    };
    let mut label = None;
    let result = (|| -> Parsed<Body> {
        if c.peek().is_some_and(|t| t.is_word("rem")) {
            return Ok(Body::Rem);
        }
        if is_control(&tokens[0]) {
            return control(&mut c);
        }
        if tokens.len() >= 2
            && tokens[0].is_name()
            && tokens[1].is_punct(":")
            && !tokens[0].is_word("lib")
        {
            label = Some(tokens[0].text.clone());
            c.pos = 2;
        }
        regular(&mut c, label.is_some())
    })();
    let (body, error) = match result {
        Ok(b) => (b, None),
        Err(e) => (Body::Invalid, Some(e)),
    };
    let head = tokens
        .first()
        .map_or(span.start..span.start, |t| t.span.clone());
    Statement {
        span,
        head,
        label,
        body,
        error,
        has_dollar: false,
    }
}

fn prefixes(c: &mut Cursor<'_>) -> Parsed<Prefixes> {
    let mut p = Prefixes::default();
    loop {
        let Some(t) = c.peek() else { return Ok(p) };
        if t.kind != Kind::Word {
            return Ok(p);
        }
        let w = t.text.to_ascii_lowercase();
        match w.as_str() {
            "noconcatenate" => {
                c.pos += 1;
                p.noconcatenate = true;
            }
            "concatenate" => {
                c.pos += 1;
                let target = c.paren_text()?;
                p.concatenate = Some((!target.is_empty()).then(|| unquote(&target)));
            }
            "join" | "keep" | "left" | "right" | "inner" | "outer" => {
                c.pos += 1;
                if w != "join" && w != "keep" && !(c.eat_word("join") || c.eat_word("keep")) {
                    return Err(c.error(ReloadError::UnexpectedToken, "expected JOIN or KEEP"));
                }
                let target = c.paren_text()?;
                p.join = Some((!target.is_empty()).then(|| unquote(&target)));
            }
            "mapping" => {
                c.pos += 1;
                p.mapping = true;
            }
            "add" | "replace" | "merge" => {
                c.pos += 1;
                p.partial = true;
                p.replace |= w == "replace";
                p.only |= c.eat_word("only");
                if w == "merge" {
                    c.skip_parens()?;
                    if c.eat_word("on") {
                        while c.peek().is_some_and(|t| {
                            !t.is_word("load") && !t.is_word("sql") && !t.is_word("select")
                        }) {
                            c.pos += 1;
                        }
                    }
                }
            }
            "crosstable" | "hierarchy" | "hierarchybelongsto" | "intervalmatch" | "image_size"
            | "buffer" => {
                c.pos += 1;
                c.skip_parens()?;
            }
            "generic" | "info" | "semantic" | "only" => {
                c.pos += 1;
            }
            "first" | "sample" | "when" | "unless" => {
                c.pos += 1;
                c.expression()?;
            }
            _ => return Ok(p),
        }
    }
}

fn regular(c: &mut Cursor<'_>, labelled: bool) -> Parsed<Body> {
    let prefixes = prefixes(c)?;
    let has_prefixes = prefixes != Prefixes::default();
    let Some(t) = c.peek() else {
        return Err(c.unexpected());
    };
    if t.kind != Kind::Word {
        return Err(c.error(ReloadError::UnknownStatement, t.text.clone()));
    }
    let keyword = t.text.to_ascii_lowercase();
    let data_statement = matches!(keyword.as_str(), "load" | "select" | "sql");
    if (has_prefixes || labelled) && !data_statement {
        return Err(c.error(ReloadError::UnexpectedToken, t.text.clone()));
    }
    c.pos += 1;
    let body = match keyword.as_str() {
        "load" => Body::Load(load(c, prefixes)?),
        "select" | "sql" => {
            let rest = c.rest();
            Body::Sql(sql(&rest, prefixes))
        }
        "set" | "let" => {
            let name = c.name()?;
            if !c.eat_punct("=") {
                return Err(c.error(ReloadError::UnexpectedToken, "expected '='"));
            }
            let value = if keyword == "let" {
                if c.at_end() {
                    return Err(c.error(ReloadError::UnexpectedToken, "expected an expression"));
                }
                let v = c.expression()?;
                if !c.at_end() {
                    return Err(c.unexpected());
                }
                v
            } else {
                c.rest()
            };
            if keyword == "let" {
                Body::Let { name, value }
            } else {
                Body::Set { name, value }
            }
        }
        "trace" => Body::Trace(c.rest()),
        "lib" => {
            if !(c.eat_word("connect") && c.eat_word("to")) {
                return Err(c.error(ReloadError::UnexpectedToken, "expected CONNECT TO"));
            }
            let name = c.name()?;
            if !c.at_end() {
                return Err(c.unexpected());
            }
            Body::LibConnect(name)
        }
        "odbc" | "oledb" | "custom" | "connect" | "connect32" | "connect64" => {
            c.rest();
            Body::OtherConnect
        }
        "disconnect" => Body::Disconnect,
        "drop" => {
            let fields = if c.eat_word("field") || c.eat_word("fields") {
                true
            } else if c.eat_word("table") || c.eat_word("tables") {
                false
            } else {
                return Err(c.error(ReloadError::UnexpectedToken, "expected TABLE or FIELD"));
            };
            let mut names = vec![c.name()?];
            while c.eat_punct(",") {
                names.push(c.name()?);
            }
            if fields && c.eat_word("from") {
                c.name()?;
                while c.eat_punct(",") {
                    c.name()?;
                }
            }
            if !c.at_end() {
                return Err(c.unexpected());
            }
            if fields {
                Body::DropFields(names)
            } else {
                Body::DropTables(names)
            }
        }
        "rename" => {
            let tables = if c.eat_word("table") || c.eat_word("tables") {
                true
            } else if c.eat_word("field") || c.eat_word("fields") {
                false
            } else {
                return Err(c.error(ReloadError::UnexpectedToken, "expected TABLE or FIELD"));
            };
            let mut pairs = Vec::new();
            if c.eat_word("using") {
                c.name()?;
            } else {
                loop {
                    let from = c.name()?;
                    if !c.eat_word("to") {
                        return Err(c.error(ReloadError::UnexpectedToken, "expected TO"));
                    }
                    pairs.push((from, c.name()?));
                    if !c.eat_punct(",") {
                        break;
                    }
                }
            }
            if !c.at_end() {
                return Err(c.unexpected());
            }
            if tables {
                Body::RenameTables(pairs)
            } else {
                Body::Other("rename field".into())
            }
        }
        "store" => {
            let mut table = None;
            while let Some(t) = c.peek() {
                if t.is_word("into") {
                    break;
                }
                if t.is_name() || t.kind == Kind::Str {
                    table = Some(t.text.clone());
                }
                c.pos += 1;
            }
            if !c.eat_word("into") {
                return Err(c.error(ReloadError::UnexpectedToken, "expected INTO"));
            }
            let Some(table) = table else {
                return Err(c.error(ReloadError::UnexpectedToken, "expected a table"));
            };
            let path = c.path()?;
            c.skip_parens()?;
            if !c.at_end() {
                return Err(c.unexpected());
            }
            Body::Store { table, path }
        }
        w if OTHER_STATEMENTS.contains(&w) => {
            c.rest();
            Body::Other(w.to_string())
        }
        _ => {
            c.pos -= 1;
            return Err(c.error(ReloadError::UnknownStatement, t.text.clone()));
        }
    };
    Ok(body)
}

fn load(c: &mut Cursor<'_>, prefixes: Prefixes) -> Parsed<Load> {
    c.eat_word("distinct");
    let mut fields = Vec::new();
    while let Some(t) = c.peek() {
        if expr::is_stop_word(t) && fields.is_empty() {
            break;
        }
        if t.is_punct("*") {
            c.pos += 1;
            fields.push(Field {
                text: "*".into(),
                alias: None,
            });
        } else {
            let text = c.expression()?;
            let alias = if c.eat_word("as") {
                Some(c.name()?)
            } else {
                None
            };
            fields.push(Field { text, alias });
        }
        if !c.eat_punct(",") {
            break;
        }
    }
    if fields.is_empty() {
        return Err(c.error(ReloadError::UnexpectedToken, "expected a field list"));
    }
    let source = if c.eat_word("from") {
        let path = c.path()?;
        c.skip_parens()?;
        Source::From { path }
    } else if c.eat_word("from_field") {
        c.skip_parens()?;
        Source::FromField
    } else if c.eat_word("inline") {
        let Some(t) = c
            .peek()
            .filter(|t| matches!(t.kind, Kind::Name | Kind::Str))
        else {
            return Err(c.error(ReloadError::UnexpectedToken, "expected inline data in [ ]"));
        };
        c.pos += 1;
        let data = t.text.clone();
        let spec = c.paren_text()?;
        Source::Inline {
            data,
            delimiter: inline_delimiter(&spec),
        }
    } else if c.eat_word("resident") {
        Source::Resident(c.name()?)
    } else if c.eat_word("autogenerate") {
        Source::Autogenerate(c.expression()?)
    } else {
        Source::Preceding
    };
    if c.eat_word("where") || c.eat_word("while") {
        c.expression()?;
    }
    if c.eat_word("group") {
        if !c.eat_word("by") {
            return Err(c.error(ReloadError::UnexpectedToken, "expected BY"));
        }
        c.expression()?;
        while c.eat_punct(",") {
            c.expression()?;
        }
    }
    if c.eat_word("order") {
        if !c.eat_word("by") {
            return Err(c.error(ReloadError::UnexpectedToken, "expected BY"));
        }
        loop {
            c.expression()?;
            let _ = c.eat_word("asc") || c.eat_word("desc");
            if !c.eat_punct(",") {
                break;
            }
        }
    }
    if c.eat_word("extension") {
        c.rest();
    }
    if !c.at_end() {
        return Err(c.unexpected());
    }
    Ok(Load {
        prefixes,
        fields,
        source,
    })
}

fn inline_delimiter(spec: &str) -> char {
    let lower = spec.to_ascii_lowercase();
    lower
        .find("delimiter is")
        .and_then(|i| {
            spec[i + "delimiter is".len()..]
                .trim()
                .trim_start_matches('\'')
                .chars()
                .next()
        })
        .map_or(',', |c| if c == '\\' { '\t' } else { c })
}

fn unquote(s: &str) -> String {
    s.trim().trim_matches(['[', ']', '"', '\'']).to_string()
}

/// Loose reading of an SQL statement: the selected columns and the first table.
fn sql(text: &str, prefixes: Prefixes) -> Sql {
    let lower = text.to_ascii_lowercase();
    let select_at = lower.find("select").map_or(0, |i| i + "select".len());
    let from_at = lower[select_at..].find(" from ").map(|i| i + select_at);
    let columns = &text[select_at..from_at.unwrap_or(text.len())];
    let fields = columns
        .split(',')
        .map(|c| {
            let c = c.trim();
            let name = c
                .rsplit_once(|ch: char| ch.is_whitespace())
                .map_or(c, |(_, n)| n);
            name.rsplit('.')
                .next()
                .unwrap_or(name)
                .trim_matches(['[', ']', '"', '`'])
                .to_string()
        })
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("distinct"))
        .collect();
    let table = from_at.and_then(|i| {
        text[i + " from ".len()..]
            .split_whitespace()
            .next()
            .map(|t| {
                t.trim_end_matches(';')
                    .rsplit('.')
                    .next()
                    .unwrap_or(t)
                    .trim_matches(['[', ']', '"', '`'])
                    .to_string()
            })
    });
    Sql {
        prefixes,
        fields,
        table,
    }
}

fn condition(c: &mut Cursor<'_>) -> Parsed<Option<(bool, String)>> {
    if c.eat_word("while") || c.eat_word("when") {
        return Ok(Some((true, c.expression()?)));
    }
    if c.eat_word("until") || c.eat_word("unless") {
        return Ok(Some((false, c.expression()?)));
    }
    Ok(None)
}

fn control(c: &mut Cursor<'_>) -> Parsed<Body> {
    let Some(first) = c.peek() else {
        return Err(c.unexpected());
    };
    let word = first.text.to_ascii_lowercase();
    c.pos += 1;
    let body = match word.as_str() {
        "if" | "elseif" => {
            let cond = c.expression()?;
            if !c.eat_word("then") {
                return Err(c.error(ReloadError::UnexpectedToken, "expected THEN"));
            }
            if word == "if" {
                Body::If(cond)
            } else {
                Body::ElseIf(cond)
            }
        }
        "else" => Body::Else,
        "end" => {
            if c.eat_word("if") {
                Body::EndIf
            } else if c.eat_word("sub") {
                Body::EndSub
            } else if c.eat_word("switch") {
                Body::EndSwitch
            } else {
                return Err(c.error(ReloadError::UnexpectedToken, "expected IF, SUB or SWITCH"));
            }
        }
        "sub" => {
            let name = c.name()?;
            c.skip_parens()?;
            Body::Sub(name)
        }
        "call" => {
            let name = c.name()?;
            c.skip_parens()?;
            Body::Call(name)
        }
        "for" => {
            if c.eat_word("each") {
                let var = c.name()?;
                if !c.eat_word("in") {
                    return Err(c.error(ReloadError::UnexpectedToken, "expected IN"));
                }
                let mut items = vec![c.expression()?];
                while c.eat_punct(",") {
                    items.push(c.expression()?);
                }
                Body::ForEach { var, items }
            } else {
                let var = c.name()?;
                if !c.eat_punct("=") {
                    return Err(c.error(ReloadError::UnexpectedToken, "expected '='"));
                }
                let from = c.expression()?;
                if !c.eat_word("to") {
                    return Err(c.error(ReloadError::UnexpectedToken, "expected TO"));
                }
                let to = c.expression()?;
                let step = if c.eat_word("step") {
                    Some(c.expression()?)
                } else {
                    None
                };
                Body::For {
                    var,
                    from,
                    to,
                    step,
                }
            }
        }
        "next" => {
            if c.peek().is_some_and(Token::is_name) {
                c.pos += 1;
            }
            Body::Next
        }
        "do" => Body::Do(condition(c)?),
        "loop" => Body::Loop(condition(c)?),
        "exit" => {
            let Some(what) = c
                .peek()
                .filter(|t| ["script", "sub", "for", "do"].iter().any(|w| t.is_word(w)))
            else {
                return Err(c.error(
                    ReloadError::UnexpectedToken,
                    "expected SCRIPT, SUB, FOR or DO",
                ));
            };
            c.pos += 1;
            let what = what.text.to_ascii_lowercase();
            Body::Exit {
                what,
                condition: condition(c)?,
            }
        }
        "switch" => Body::Switch(c.expression()?),
        "case" => {
            let mut values = vec![c.expression()?];
            while c.eat_punct(",") {
                values.push(c.expression()?);
            }
            Body::Case(values)
        }
        "default" => Body::Default,
        _ => return Err(c.error(ReloadError::UnknownStatement, word)),
    };
    if !c.at_end() {
        return Err(c.unexpected());
    }
    Ok(body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    If,
    Sub,
    For,
    Do,
    Switch,
}

/// Control blocks must open and close in order.
fn check_blocks(statements: &[Statement], errors: &mut Vec<SyntaxError>) {
    let mut stack: Vec<(Block, Range<usize>)> = Vec::new();
    let mismatch = |span: Range<usize>| SyntaxError {
        span,
        secondary: None,
        code: ReloadError::ControlStatementMismatch,
        arg: String::new(),
    };
    for s in statements {
        let head = s.head.clone();
        let (opens, closes, inside) = match &s.body {
            Body::If(_) => (Some(Block::If), None, None),
            Body::ElseIf(_) | Body::Else => (None, None, Some(Block::If)),
            Body::EndIf => (None, Some(Block::If), None),
            Body::Sub(_) => (Some(Block::Sub), None, None),
            Body::EndSub => (None, Some(Block::Sub), None),
            Body::For { .. } | Body::ForEach { .. } => (Some(Block::For), None, None),
            Body::Next => (None, Some(Block::For), None),
            Body::Do(_) => (Some(Block::Do), None, None),
            Body::Loop(_) => (None, Some(Block::Do), None),
            Body::Switch(_) => (Some(Block::Switch), None, None),
            Body::Case(_) | Body::Default => (None, None, Some(Block::Switch)),
            Body::EndSwitch => (None, Some(Block::Switch), None),
            _ => (None, None, None),
        };
        if let Some(b) = inside
            && stack.last().map(|(k, _)| *k) != Some(b)
        {
            errors.push(mismatch(head.clone()));
        }
        if let Some(b) = closes {
            if stack.last().map(|(k, _)| *k) == Some(b) {
                stack.pop();
            } else {
                errors.push(mismatch(head.clone()));
            }
        }
        if let Some(b) = opens {
            stack.push((b, head));
        }
    }
    for (_, span) in stack {
        errors.push(mismatch(span));
    }
}

/// A position as `CheckScriptSyntax` reports it: section (`///$tab`) index, line in that
/// section, column in the line, offset in the script; all 0-based and counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub tab: usize,
    pub line_in_tab: usize,
    pub column: usize,
    pub text_pos: usize,
}

pub fn position(script: &str, byte: usize) -> Position {
    let byte = byte.min(script.len());
    let before = &script[..byte];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = script[line_start..byte].chars().count();
    let is_marker = |l: &str| {
        let l = l.trim_end_matches('\r');
        l == "///$tab" || l.starts_with("///$tab ")
    };
    // A marker on the first line opens section 0; each later marker opens the next section.
    let mut tab = 0usize;
    let mut tab_first_line = 0usize;
    for (i, l) in script.split('\n').enumerate().take(line + 1) {
        if is_marker(l) {
            tab += usize::from(i > 0);
            tab_first_line = i + 1;
        }
    }
    Position {
        tab,
        line_in_tab: line.saturating_sub(tab_first_line),
        column,
        text_pos: before.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<(ReloadError, String, String)> {
        parse_script(text)
            .errors
            .into_iter()
            .map(|e| (e.code, text[e.span.clone()].to_string(), e.arg))
            .collect()
    }

    #[test]
    fn a_valid_script_has_no_errors() {
        let script = crate::engine::qvf::seeded_script("App");
        let parsed = parse_script(&script);
        assert_eq!(parsed.errors, vec![]);
        let loads = parsed
            .statements
            .iter()
            .filter(|s| matches!(s.body, Body::Load(_)))
            .count();
        assert_eq!(loads, 5);
        let more = "FOR i = 1 TO 3\n  TRACE $(i);\nNEXT i\nIF 1 = 1 THEN\n  LET x = 1 + 2;\nELSE\n  SET y = a b c;\nEND IF\n\
                    SUB s(a)\n  T: NOCONCATENATE LOAD DISTINCT a AS b RESIDENT Regions WHERE a > 1 ORDER BY a DESC;\nEND SUB\nCALL s(1)\n\
                    DROP TABLES A, [B C];\nSTORE Regions INTO [lib://Data/r.qvd] (qvd);\nREM anything goes here;\nEXIT SCRIPT;\n";
        assert_eq!(parse_script(more).errors, vec![]);
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        assert_eq!(
            errors("LOAD a b FROM x;"),
            vec![(ReloadError::UnexpectedToken, "b".into(), "b".into())]
        );
        assert_eq!(errors("LOAD a, FROM x;")[0].0, ReloadError::UnexpectedToken);
        assert_eq!(
            errors("LOADX a FROM x;"),
            vec![(
                ReloadError::UnknownStatement,
                "LOADX".into(),
                "LOADX".into()
            )]
        );
        assert_eq!(errors("LOAD 'abc FROM x;")[0].1, "'");
        assert_eq!(errors("LOAD (a + 1 AS x FROM y;")[0].1, "(");
        assert_eq!(errors("SET x 1;")[0].1, "1");
        assert_eq!(
            errors("IF 1 THEN\nLOAD 1 AS a AUTOGENERATE 1;")[0].0,
            ReloadError::ControlStatementMismatch
        );
        assert_eq!(errors("END IF")[0].0, ReloadError::ControlStatementMismatch);
        assert_eq!(
            errors("LOAD 1 AS a AUTOGENERATE 1")[0].2,
            "end of script, expected ';'"
        );
        let e = &parse_script("T:\nLOAD a b c FROM x;").errors[0];
        assert!(e.secondary.is_some());
    }

    #[test]
    fn positions_count_sections_lines_and_characters() {
        let s = "///$tab Main\r\nSET a=1;\r\n///$tab Data\r\nLOAD ä x;";
        let at = s.find(" x;").unwrap() + 1;
        assert_eq!(
            position(s, at),
            Position {
                tab: 1,
                line_in_tab: 0,
                column: 7,
                text_pos: s[..at].chars().count()
            }
        );
        assert_eq!(
            position(s, s.find("SET").unwrap()),
            Position {
                tab: 0,
                line_in_tab: 0,
                column: 0,
                text_pos: 14
            }
        );
        assert_eq!(
            position("a\nb", 2),
            Position {
                tab: 0,
                line_in_tab: 1,
                column: 0,
                text_pos: 2
            }
        );
    }
}
