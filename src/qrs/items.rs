//! The items of a large QRS list, one at a time as the answer arrives: the bytes of the top-level
//! JSON array are split into items without parsing them ([`ArrayItems`]), and each item is parsed
//! for the fields a table shows only ([`pick`]). A table of 50,000 apps thus holds one item and
//! the rows that decide the column widths, not the whole answer nor 50,000 parsed objects.

use std::borrow::Cow;
use std::fmt;

use reqwest::Response;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

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
        let mut i = 0;
        while i < chunk.len() {
            if self.string.inside() {
                i += self.string.skip(&chunk[i..]);
                continue;
            }
            let b = chunk[i];
            i += 1;
            if !self.opened {
                match b {
                    b' ' | b'\n' | b'\r' | b'\t' => continue,
                    b'[' => {
                        self.opened = true;
                        start = i;
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
                    let bytes = &chunk[start..i - 1];
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
                    start = i;
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

/// The values of an item a table shows, one slot per column path (`stream.name`): a path's
/// last field is taken whole into its slot, the objects on its way are only looked into. No map
/// is built for the item, and what no column shows is skipped without being built.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// The slot this field's whole value goes to.
    slot: Option<usize>,
    /// Fields below this one that columns show.
    fields: Vec<(String, Wanted)>,
    /// Slots in all (at the root).
    slots: usize,
}

impl Wanted {
    /// Slot `i` for `paths[i]`.
    pub(crate) fn paths<'p>(paths: impl IntoIterator<Item = &'p str>) -> Wanted {
        let mut wanted = Wanted::default();
        for (slot, path) in paths.into_iter().enumerate() {
            wanted.add(path, slot);
            wanted.slots = slot + 1;
        }
        wanted
    }

    fn add(&mut self, path: &str, slot: usize) {
        let (first, rest) = match path.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (path, None),
        };
        let field = match self.fields.iter().position(|(key, _)| key == first) {
            Some(i) => &mut self.fields[i].1,
            None => {
                let last = self.fields.len();
                self.fields.push((first.to_string(), Wanted::default()));
                &mut self.fields[last].1
            }
        };
        match rest {
            Some(rest) => field.add(rest, slot),
            // Two columns of one path: the first one's slot is filled, the second copies it.
            None if field.slot.is_some() => field.fields.push((String::new(), slot_only(slot))),
            None => field.slot = Some(slot),
        }
    }

    fn get(&self, key: &str) -> Option<&Wanted> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, w)| w)
    }

    /// Fill the slots below this field from its whole `value` (a field both shown whole and
    /// looked into).
    fn fill_from(&self, value: &Value, slots: &mut [Option<Value>]) {
        for (key, field) in &self.fields {
            let inner = if key.is_empty() {
                Some(value)
            } else {
                value.get(key.as_str())
            };
            if let Some(inner) = inner {
                if let Some(slot) = field.slot {
                    slots[slot] = Some(inner.clone());
                }
                field.fill_from(inner, slots);
            }
        }
    }
}

fn slot_only(slot: usize) -> Wanted {
    Wanted {
        slot: Some(slot),
        ..Wanted::default()
    }
}

/// Parse one item into the slots of `wanted` (`None` where the item has no such value; all
/// `None` for an item that is not an object). Everything else is skipped without being built.
pub(crate) fn pick(
    bytes: &[u8],
    wanted: &Wanted,
) -> std::result::Result<Vec<Option<Value>>, serde_json::Error> {
    let mut slots = vec![None; wanted.slots];
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Pick {
        wanted,
        slots: &mut slots,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(slots)
}

struct Pick<'w> {
    wanted: &'w Wanted,
    slots: &'w mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for Pick<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        match self.wanted.slot {
            Some(slot) => {
                let value = <Value as serde::Deserialize>::deserialize(d)?;
                self.wanted.fill_from(&value, self.slots);
                self.slots[slot] = Some(value);
                Ok(())
            }
            None => d.deserialize_any(self),
        }
    }
}

/// A value that is not an object has no fields to look into: skipped.
macro_rules! nothing_inside {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method<E: serde::de::Error>(self, _: $ty) -> std::result::Result<(), E> {
            Ok(())
        })*
    };
}

impl<'de> Visitor<'de> for Pick<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    nothing_inside!(
        visit_bool(bool),
        visit_i64(i64),
        visit_u64(u64),
        visit_f64(f64),
        visit_str(&str),
    );

    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.wanted.get(&key) {
                Some(wanted) => map.next_value_seed(Pick {
                    wanted,
                    slots: &mut *self.slots,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
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

/// Call `each` with every item of the JSON list in `resp` (parsed by [`pick`] for `wanted`), as
/// the answer arrives; at most `limit` bytes are read (`--max-response-size`).
pub(crate) async fn for_each_item(
    mut resp: Response,
    limit: u64,
    what: &str,
    wanted: &Wanted,
    mut each: impl FnMut(Vec<Option<Value>>) -> Result<()>,
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
            let item = pick(bytes, wanted).map_err(|e| invalid(e.to_string()))?;
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
        let text = r#" [ {"a": "x,]}\"y", "b": [1, {"c": 2}]}, 3 , "s]", "e\\", [] , {} ] "#;
        let expected = vec![
            r#"{"a": "x,]}\"y", "b": [1, {"c": 2}]}"#,
            "3",
            r#""s]""#,
            r#""e\\""#,
            "[]",
            "{}",
        ];
        for size in (1..=13).chain([1000]) {
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
            pick(
                item,
                &Wanted::paths(["id", "name", "stream", "name2", "none"])
            )
            .unwrap(),
            vec![
                Some(json!("1")),
                Some(json!("A\"pp")),
                Some(json!({"name": "S"})),
                Some(json!(1)),
                None
            ]
        );
        let id = Wanted::paths(["id"]);
        assert_eq!(pick(b"[1, \"a\"]", &id).unwrap(), vec![None]);
        assert_eq!(pick(b"null", &id).unwrap(), vec![None]);
        assert!(pick(br#"{"id": }"#, &id).is_err());
        assert!(pick(br#"{"id": 1} x"#, &id).is_err());
        assert!(pick(br#"{"big": [1, }"#, &id).is_err());
        // Nested paths look only into what they name; a field shown whole and looked into,
        // and a path given twice, fill every slot.
        let item = br#"{"id": "1", "stream": {"id": "s", "name": "S", "x": [1]}, "owner": {"userId": "u", "name": "N"}, "tags": 3}"#;
        let paths = [
            "stream.name",
            "owner.userId",
            "owner",
            "id",
            "id",
            "tags.name",
            "x.y",
        ];
        assert_eq!(
            pick(item, &Wanted::paths(paths)).unwrap(),
            vec![
                Some(json!("S")),
                Some(json!("u")),
                Some(json!({"userId": "u", "name": "N"})),
                Some(json!("1")),
                Some(json!("1")),
                None,
                None
            ]
        );
        assert!(
            pick(
                br#"{"stream": {"name": }}"#,
                &Wanted::paths(["stream.name"])
            )
            .is_err()
        );
    }
}
