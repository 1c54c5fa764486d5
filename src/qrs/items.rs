//! The items of a large QRS list, one at a time as the answer arrives: the bytes of the top-level
//! JSON array are split into items without parsing them ([`ArrayItems`]), and each item is parsed
//! for the fields a table shows only ([`pick`]). A table of 50,000 apps thus holds one item and
//! the rows that decide the column widths, not the whole answer nor 50,000 parsed objects.

use std::borrow::Cow;
use std::fmt;

use reqwest::Response;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::reindent::JsonString;
use crate::error::{Error, Result};

/// Splits a JSON array fed in arbitrary chunks into the bytes of its items. The structure
/// (brackets, strings) is followed; the items themselves are checked when parsed.
#[derive(Debug, Default)]
pub(crate) struct ArrayItems {
    /// The `[` of the array has been seen.
    opened: bool,
    /// The `]` of the array has been seen.
    closed: bool,
    /// Nesting inside the current item.
    depth: usize,
    string: JsonString,
    /// The bytes of an item that started in an earlier chunk.
    partial: Vec<u8>,
    /// The current item has a byte that is not whitespace.
    in_item: bool,
    /// Items completed so far.
    seen: usize,
}

impl ArrayItems {
    /// Feed the next chunk; `item` gets the bytes of every item completed in it.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        mut item: impl FnMut(&[u8]) -> Result<()>,
    ) -> std::result::Result<(), ItemsError> {
        let mut start = 0;
        for (i, &b) in chunk.iter().enumerate() {
            if self.string.inside() {
                self.string.step(b);
                continue;
            }
            if !self.opened {
                match b {
                    b' ' | b'\n' | b'\r' | b'\t' => continue,
                    b'[' => {
                        self.opened = true;
                        start = i + 1;
                        continue;
                    }
                    _ => return Err(ItemsError::NotAList),
                }
            }
            if self.closed {
                if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    continue;
                }
                return Err(ItemsError::Syntax("data after the end of the list"));
            }
            match b {
                b'"' => self.string.open(),
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => self.depth -= 1,
                b',' | b']' if self.depth == 0 => {
                    let closing = b == b']';
                    let bytes = &chunk[start..i];
                    if !self.in_item {
                        // Only `[]` may close without an item before the bracket.
                        if !(closing && self.seen == 0) {
                            return Err(ItemsError::Syntax("an empty item"));
                        }
                    } else if self.partial.is_empty() {
                        item(bytes).map_err(ItemsError::Item)?;
                    } else {
                        self.partial.extend_from_slice(bytes);
                        let whole = std::mem::take(&mut self.partial);
                        item(&whole).map_err(ItemsError::Item)?;
                    }
                    self.seen += usize::from(self.in_item);
                    self.in_item = false;
                    self.partial.clear();
                    self.closed = closing;
                    start = i + 1;
                    continue;
                }
                b'}' | b']' => return Err(ItemsError::Syntax("an unbalanced bracket")),
                _ => {}
            }
            if !b.is_ascii_whitespace() {
                self.in_item = true;
            }
        }
        if self.opened && !self.closed && start < chunk.len() {
            self.partial.extend_from_slice(&chunk[start..]);
        }
        Ok(())
    }

    /// The end of the answer: the list must be complete.
    pub(crate) fn finish(&self) -> std::result::Result<(), ItemsError> {
        if !self.opened {
            return Err(ItemsError::NotAList);
        }
        if !self.closed {
            return Err(ItemsError::Syntax("the list is cut off"));
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(crate) enum ItemsError {
    NotAList,
    Syntax(&'static str),
    /// What the caller's function returned for an item.
    Item(Error),
}

/// Parse one item, keeping only the top-level fields named in `keys` (all of an item that is
/// not an object). The others are skipped without being built.
pub(crate) fn pick(bytes: &[u8], keys: &[&str]) -> std::result::Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Pick { keys }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct Pick<'k> {
    keys: &'k [&'k str],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Anything but an object is taken whole (as `serde_json::Value` would).
macro_rules! whole {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method<E: serde::de::Error>(self, v: $ty) -> std::result::Result<Value, E> {
            Ok(Value::from(v))
        })*
    };
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    whole!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
        visit_string(String),
    );

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut picked = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if self.keys.contains(&key.as_ref()) {
                picked.insert(key.into_owned(), map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(picked))
    }
}

/// An object key, borrowed from the input unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Call `each` with every item of the JSON list in `resp` (parsed by [`pick`] for `keys`), as
/// the answer arrives; at most `limit` bytes are read (`--max-response-size`).
pub(crate) async fn for_each_item(
    mut resp: Response,
    limit: u64,
    what: &str,
    keys: &[&str],
    mut each: impl FnMut(Value) -> Result<()>,
) -> Result<()> {
    let mut items = ArrayItems::default();
    let mut read: u64 = 0;
    let invalid = |why: String| Error::server(format!("{what} returned invalid JSON: {why}"));
    // Everything up to the first item, to describe an answer that is not a list.
    let mut head = Vec::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| {
            Error::network(format!(
                "the answer to {what} was cut off: {}",
                crate::http::root_cause(&e)
            ))
            .with_hint("run the command again")
        })?;
        let Some(chunk) = chunk else { break };
        read += chunk.len() as u64;
        if read > limit {
            return Err(crate::http::too_large(limit, what));
        }
        if items.seen == 0 {
            head.extend_from_slice(&chunk);
        }
        let fed = items.feed(&chunk, |bytes| {
            let item = pick(bytes, keys).map_err(|e| invalid(e.to_string()))?;
            each(item)
        });
        match fed {
            Ok(()) => {}
            Err(ItemsError::NotAList) => {
                // Not a list: read it whole (within the limit) to say what it is.
                let limit = limit.saturating_sub(read);
                head.extend_from_slice(&crate::http::read_body(resp, limit, what).await?);
                return Err(not_a_list(&head, what));
            }
            Err(ItemsError::Syntax(why)) => return Err(invalid(why.to_string())),
            Err(ItemsError::Item(e)) => return Err(e),
        }
    }
    match items.finish() {
        Ok(()) => Ok(()),
        Err(ItemsError::NotAList) => Err(not_a_list(&head, what)),
        Err(ItemsError::Syntax(why)) => Err(invalid(why.to_string())),
        Err(ItemsError::Item(e)) => Err(e),
    }
}

/// What an answer that should have been a list is instead, as one line.
fn not_a_list(bytes: &[u8], what: &str) -> Error {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Error::server(format!("{what} returned an empty answer"));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => Error::server(format!(
            "{what} returned {} instead of a list",
            super::client::kind_of(&value)
        )),
        Err(e) => Error::server(format!(
            "{what} returned invalid JSON ({e}): {}",
            crate::http::body_excerpt(&String::from_utf8_lossy(bytes))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The items of `text` fed in chunks of `size` bytes.
    fn split(text: &str, size: usize) -> std::result::Result<Vec<String>, ItemsError> {
        let mut items = ArrayItems::default();
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(size.max(1)) {
            items.feed(chunk, |b| {
                out.push(String::from_utf8_lossy(b).trim().to_string());
                Ok(())
            })?;
        }
        items.finish()?;
        Ok(out)
    }

    #[test]
    fn items_are_split_whatever_the_chunks() {
        let text = r#" [ {"a": "x,]}\"y", "b": [1, {"c": 2}]}, 3 , "s]", [] , {} ] "#;
        let expected = vec![
            r#"{"a": "x,]}\"y", "b": [1, {"c": 2}]}"#,
            "3",
            r#""s]""#,
            "[]",
            "{}",
        ];
        for size in [1, 2, 3, 7, 1000] {
            assert_eq!(split(text, size).unwrap(), expected, "chunks of {size}");
        }
        assert_eq!(split("[]", 1).unwrap(), Vec::<String>::new());
        assert_eq!(split(" [ \n ] ", 2).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn broken_lists_are_errors() {
        assert!(matches!(split(r#"{"a": 1}"#, 3), Err(ItemsError::NotAList)));
        assert!(matches!(split("", 3), Err(ItemsError::NotAList)));
        for bad in ["[1, 2", "[1,,2]", "[1,]", "[1] 2", "[,1]", "[1}]"] {
            assert!(matches!(split(bad, 2), Err(ItemsError::Syntax(_))), "{bad}");
        }
    }

    #[test]
    fn pick_keeps_only_the_named_fields() {
        let item = br#"{"id": "1", "big": {"deep": [1, 2, 3]}, "name": "A\"pp", "stream": {"name": "S"}, "n\u0061me2": 1}"#;
        assert_eq!(
            pick(item, &["id", "name", "stream", "name2"]).unwrap(),
            json!({"id": "1", "name": "A\"pp", "stream": {"name": "S"}, "name2": 1})
        );
        assert_eq!(pick(b"[1, \"a\"]", &["id"]).unwrap(), json!([1, "a"]));
        assert_eq!(pick(b"null", &["id"]).unwrap(), Value::Null);
        assert!(pick(br#"{"id": }"#, &["id"]).is_err());
        assert!(pick(br#"{"id": 1} x"#, &["id"]).is_err());
    }
}
