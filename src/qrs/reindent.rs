//! A streaming JSON re-indenter for large list answers: the server's bytes are copied as they
//! arrive, with whitespace outside strings replaced by the layout of `serde_json`'s pretty
//! printer (two spaces, `": "`, `[]`/`{}` for empty containers). Strings, numbers and literals
//! pass through untouched, so nothing is parsed into values; the structure (brackets, strings)
//! is checked, and a truncated or malformed document is an error.

/// Whether a JSON byte stream is inside a string, followed byte by byte (escapes included).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct JsonString {
    inside: bool,
    escaped: bool,
}

impl JsonString {
    pub(crate) fn inside(self) -> bool {
        self.inside
    }

    /// A `"` outside a string opens one.
    pub(crate) fn open(&mut self) {
        self.inside = true;
    }

    /// Step over the string's bytes at the start of `bytes`, up to and including its closing
    /// `"` (SIMD search for the next `"` or `\\`); the number of bytes stepped over.
    pub(crate) fn skip(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            if self.escaped {
                self.escaped = false;
                i += 1;
                continue;
            }
            let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
                return bytes.len();
            };
            i += found;
            if bytes[i] == b'"' {
                self.inside = false;
                return i + 1;
            }
            self.escaped = true;
            i += 1;
        }
        i
    }
}

/// Re-indents one document fed in arbitrary chunks.
#[derive(Debug, Default)]
pub struct Reindent {
    /// Closers expected, innermost last.
    stack: Vec<u8>,
    string: JsonString,
    /// A container was just opened: its first member decides between `[]` and a new line.
    pending_open: bool,
    /// Something outside whitespace has been seen.
    started: bool,
    /// The top-level value is complete.
    done: bool,
}

impl Reindent {
    pub fn new() -> Reindent {
        Reindent::default()
    }

    fn newline(&self, out: &mut Vec<u8>, depth: usize) {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }

    /// Append the re-indented form of `input` to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut i = 0;
        while i < input.len() {
            if self.string.inside() {
                // A string's bytes are copied as they are, in one run up to its end.
                let n = self.string.skip(&input[i..]);
                out.extend_from_slice(&input[i..i + n]);
                i += n;
                if !self.string.inside() {
                    self.value_end();
                }
                continue;
            }
            let b = input[i];
            i += 1;
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                continue;
            }
            if self.done {
                return Err("unexpected data after the JSON document".into());
            }
            self.started = true;
            if self.pending_open {
                self.pending_open = false;
                if Some(&b) == self.stack.last() {
                    self.stack.pop();
                    out.push(b);
                    self.value_end();
                    continue;
                }
                self.newline(out, self.stack.len());
            }
            match b {
                b'{' | b'[' => {
                    out.push(b);
                    self.stack.push(if b == b'{' { b'}' } else { b']' });
                    self.pending_open = true;
                }
                b'}' | b']' => {
                    if self.stack.pop() != Some(b) {
                        return Err(format!("unexpected `{}`", b as char));
                    }
                    self.newline(out, self.stack.len());
                    out.push(b);
                    self.value_end();
                }
                b',' => {
                    if self.stack.is_empty() {
                        return Err("unexpected `,`".into());
                    }
                    out.push(b',');
                    self.newline(out, self.stack.len());
                }
                b':' => out.extend_from_slice(b": "),
                b'"' => {
                    out.push(b);
                    self.string.open();
                }
                _ => {
                    out.push(b);
                    // A bare top-level scalar (number, literal) ends at the end of input.
                }
            }
        }
        Ok(())
    }

    fn value_end(&mut self) {
        if self.stack.is_empty() {
            self.done = true;
        }
    }

    /// The document must be complete.
    pub fn finish(&self, out: &mut Vec<u8>) -> Result<(), String> {
        if !self.started {
            return Err("the answer is empty".into());
        }
        if self.string.inside() || !self.stack.is_empty() || self.pending_open {
            return Err("the document is cut off".into());
        }
        out.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reindent_in_chunks(text: &str, chunk: usize) -> Result<String, String> {
        let mut r = Reindent::new();
        let mut out = Vec::new();
        for part in text.as_bytes().chunks(chunk) {
            r.feed(part, &mut out)?;
        }
        r.finish(&mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn matches_serde_json_pretty_in_any_chunking() {
        let text = r#" [ {"id":"a","name":"x, y: [z] {w}","stream":null,"tags":[],"o":{},
            "n":[1,2.5,-3e2,true,false],"s":"q\"uo\\te","nested":{"k":[{"a":[]}]}} ,{"id":"b"}] "#;
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let expected = format!("{}\n", serde_json::to_string_pretty(&value).unwrap());
        for chunk in (1..=9).chain([64, 4096]) {
            let got = reindent_in_chunks(text, chunk).unwrap();
            // Numbers pass through verbatim; serde_json would print -3e2 as -300.0.
            assert_eq!(got.replace("-3e2", "-300.0"), expected, "chunk {chunk}");
        }
        assert_eq!(reindent_in_chunks("[]", 1).unwrap(), "[]\n");
        assert_eq!(reindent_in_chunks("42", 1).unwrap(), "42\n");
    }

    #[test]
    fn broken_documents_are_errors() {
        for bad in [
            "",
            "   ",
            "[1,2",
            "[{\"a\":1]",
            "{\"a\":\"x",
            "[1]]",
            "[1] 2",
            ",",
            "[]{}",
        ] {
            assert!(reindent_in_chunks(bad, 3).is_err(), "{bad:?}");
        }
    }
}
