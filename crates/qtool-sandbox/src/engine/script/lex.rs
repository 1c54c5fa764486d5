//! Tokens of the Qlik load script and of chart expressions, with their byte spans. Quotes,
//! brackets, comments and dollar-sign expansions must be closed; an unclosed one is a lexical
//! error at its opening character (what `CheckScriptSyntax` then reports).
//!
//! Rules from the Qlik script syntax pages (help.qlik.com, "Script syntax", "Quotation marks in
//! the script", "Comments in the script", "Dollar-sign expansions"): `'..'` is a string (`''`
//! inside), `".."` and `[..]` are names (`""`, `]]` inside), `` `..` `` a name as well; `//`
//! comments to the end of the line, `/* .. */` across lines (`REM` is a statement, handled by
//! the parser); `$(..)` is expanded before parsing and may nest.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A word: keyword, function, field or variable name.
    Word,
    Number,
    /// `'text'`
    Str,
    /// `"name"`, `[name]` or `` `name` `` (also inline data in brackets).
    Name,
    /// `$(...)`
    Dollar,
    /// `( ) , ; : = < > <= >= <> + - * / & { } !`
    Punct,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub span: Range<usize>,
    /// The text: for `Str`/`Name` the content without quotes and with escapes resolved; for
    /// `Dollar` the content between `$(` and `)`; otherwise the source text.
    pub text: String,
    /// A line break (or the start of the script) comes between the previous token and this.
    pub line_start: bool,
}

impl Token {
    pub fn is_word(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(word)
    }

    pub fn is_punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// A word, or a quoted/bracketed name: what can name a field, table or variable.
    pub fn is_name(&self) -> bool {
        matches!(self.kind, Kind::Word | Kind::Name)
    }
}

/// A position in a token list, for the parsers.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    pub tokens: &'a [Token],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    /// Step over the word `w` (any case) if it comes next.
    pub fn eat_word(&mut self, w: &str) -> bool {
        self.eat(|t| t.is_word(w))
    }

    /// Step over the punctuation `p` if it comes next.
    pub fn eat_punct(&mut self, p: &str) -> bool {
        self.eat(|t| t.is_punct(p))
    }

    fn eat(&mut self, matches: impl Fn(&Token) -> bool) -> bool {
        let hit = self.peek().is_some_and(matches);
        self.pos += usize::from(hit);
        hit
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub span: Range<usize>,
    pub what: &'static str,
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '_' | '%' | '$' | '#' | '@' | '£' | '€')
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '%' | '$' | '#' | '@' | '.' | '£' | '€')
}

/// Tokenize `text`. Comments and whitespace are dropped.
pub fn tokenize(text: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let mut out = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < chars.len() {
        let (start, c) = chars[i];
        let next = chars.get(i + 1).map(|(_, c)| *c);
        if c == '\n' {
            line_start = true;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // `//` starts a comment unless it continues a word or `:` (as in lib://data).
        let prev = i.checked_sub(1).map(|p| chars[p].1);
        if c == '/' && next == Some('/') && !prev.is_some_and(|p| p == ':' || is_word_char(p)) {
            while i < chars.len() && chars[i].1 != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut j = i + 2;
            loop {
                if j + 1 >= chars.len() {
                    return Err(LexError {
                        span: start..end_of(i + 2),
                        what: "unclosed comment",
                    });
                }
                if chars[j].1 == '*' && chars[j + 1].1 == '/' {
                    break;
                }
                if chars[j].1 == '\n' {
                    line_start = true;
                }
                j += 1;
            }
            i = j + 2;
            continue;
        }
        let token_line_start = std::mem::replace(&mut line_start, false);
        let word_end = |j: usize| {
            (j..)
                .find(|&k| !chars.get(k).is_some_and(|(_, d)| is_word_char(*d)))
                .unwrap_or(j)
        };
        let push = |kind, end: usize, text: String, out: &mut Vec<Token>| {
            out.push(Token {
                kind,
                span: start..end,
                text,
                line_start: token_line_start,
            });
        };
        match c {
            '\'' | '"' | '`' | '[' => {
                let close = if c == '[' { ']' } else { c };
                let mut j = i + 1;
                let mut content = String::new();
                loop {
                    let Some(&(_, d)) = chars.get(j) else {
                        return Err(LexError {
                            span: start..end_of(i + 1),
                            what: match c {
                                '\'' => "unclosed string",
                                '[' => "unclosed bracket",
                                _ => "unclosed quoted name",
                            },
                        });
                    };
                    if d == close {
                        if chars.get(j + 1).map(|(_, c)| *c) == Some(close) {
                            content.push(close);
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    content.push(d);
                    j += 1;
                }
                let kind = if c == '\'' { Kind::Str } else { Kind::Name };
                push(kind, end_of(j + 1), content, &mut out);
                i = j + 1;
            }
            '$' if next == Some('(') => {
                let mut depth = 0usize;
                let mut j = i + 1;
                loop {
                    let Some(&(_, d)) = chars.get(j) else {
                        return Err(LexError {
                            span: start..end_of(i + 2),
                            what: "unclosed dollar-sign expansion",
                        });
                    };
                    match d {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let inner = text[end_of(i + 2)..chars[j].0].to_string();
                push(Kind::Dollar, end_of(j + 1), inner, &mut out);
                i = j + 1;
            }
            c if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let digits_from = |j: usize| {
                    (j..)
                        .find(|&k| !chars.get(k).is_some_and(|(_, d)| d.is_ascii_digit()))
                        .unwrap_or(j)
                };
                let at = |k: usize| chars.get(k).map(|(_, c)| *c);
                let mut j = digits_from(i);
                if at(j) == Some('.') && at(j + 1).is_some_and(|d| d.is_ascii_digit()) {
                    j = digits_from(j + 1);
                }
                let signed = matches!(at(j + 1), Some('+' | '-'));
                let exponent_digit =
                    at(j + 1 + usize::from(signed)).is_some_and(|d| d.is_ascii_digit());
                if matches!(at(j), Some('e' | 'E')) && exponent_digit {
                    j = digits_from(j + 1 + usize::from(signed));
                }
                // `2024abc` is one word (field names may start with digits in brackets only,
                // but keep the engine's leniency for words like `1st`).
                let kind = if at(j).is_some_and(is_word_start) {
                    j = word_end(j);
                    Kind::Word
                } else {
                    Kind::Number
                };
                push(
                    kind,
                    end_of(j),
                    text[start..end_of(j)].to_string(),
                    &mut out,
                );
                i = j;
            }
            c if is_word_start(c) => {
                let j = word_end(i + 1);
                push(
                    Kind::Word,
                    end_of(j),
                    text[start..end_of(j)].to_string(),
                    &mut out,
                );
                i = j;
            }
            '<' | '>' => {
                let two = matches!((c, next), ('<', Some('=' | '>')) | ('>', Some('=')));
                let j = if two { i + 2 } else { i + 1 };
                push(
                    Kind::Punct,
                    end_of(j),
                    text[start..end_of(j)].to_string(),
                    &mut out,
                );
                i = j;
            }
            '(' | ')' | ',' | ';' | ':' | '=' | '+' | '-' | '*' | '/' | '&' | '{' | '}' | '!'
            | '\\' | '^' | '.' | '?' | '|' | '~' => {
                push(Kind::Punct, end_of(i + 1), c.to_string(), &mut out);
                i += 1;
            }
            _ => {
                return Err(LexError {
                    span: start..end_of(i + 1),
                    what: "unexpected character",
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, String)> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn strings_names_and_escapes() {
        assert_eq!(
            kinds(r#"LOAD 'it''s' AS [a]]b], "x""y" FROM lib://Data/f.csv;"#),
            vec![
                (Kind::Word, "LOAD".into()),
                (Kind::Str, "it's".into()),
                (Kind::Word, "AS".into()),
                (Kind::Name, "a]b".into()),
                (Kind::Punct, ",".into()),
                (Kind::Name, "x\"y".into()),
                (Kind::Word, "FROM".into()),
                (Kind::Word, "lib".into()),
                (Kind::Punct, ":".into()),
                (Kind::Punct, "/".into()),
                (Kind::Punct, "/".into()),
                (Kind::Word, "Data".into()),
                (Kind::Punct, "/".into()),
                (Kind::Word, "f.csv".into()),
                (Kind::Punct, ";".into()),
            ]
        );
    }

    #[test]
    fn comments_numbers_dollars() {
        let t = tokenize("x = 1.5e3 // c\n/* multi\nline */ y <= $(v(1)) <> 2").unwrap();
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["x", "=", "1.5e3", "y", "<=", "v(1)", "<>", "2"]);
        assert!(t[3].line_start && !t[4].line_start);
        assert_eq!(t[5].kind, Kind::Dollar);
    }

    #[test]
    fn unclosed_things_point_at_their_start() {
        assert_eq!(
            tokenize("a 'bc").unwrap_err(),
            LexError {
                span: 2..3,
                what: "unclosed string"
            }
        );
        assert_eq!(tokenize("[x").unwrap_err().what, "unclosed bracket");
        assert_eq!(tokenize("/* x").unwrap_err().span, 0..2);
        assert_eq!(
            tokenize("$(a").unwrap_err().what,
            "unclosed dollar-sign expansion"
        );
    }
}
