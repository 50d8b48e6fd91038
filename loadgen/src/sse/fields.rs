//! The values the `[stream]` rules look up in an event's JSON data, read in one pass without
//! building a `serde_json::Value`.
//!
//! The rules only ask three things of a JSON pointer: the string there, whether it is `null`,
//! and the whole number there (a token count).
//! [`Pointers`] holds every pointer the rules name as one tree; [`Pointers::read`] walks the
//! data with serde and keeps what lies at the tree's ends, skipping everything else without
//! allocating. The data is still parsed in full through `deserialize_any`, the path `Value`
//! takes, so exactly the texts `Value` rejects are rejected (number range, escapes, nesting
//! depth, trailing characters), and a pointer finds what `Value::pointer` finds: keys and
//! indices as RFC 6901 reads them, and the last of duplicate keys.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Where a pointer's value is kept; a pointer that cannot resolve (one not starting with `/`)
/// has no place and finds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(Option<usize>);

/// JSON pointers compiled into one tree.
#[derive(Debug, Clone)]
pub struct Pointers {
    /// The root (the whole document) first.
    nodes: Vec<Node>,
    slots: usize,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// The slot of the pointer that ends here.
    slot: Option<usize>,
    children: Vec<Child>,
}

#[derive(Debug, Clone)]
struct Child {
    /// The reference token, unescaped: an object key.
    key: String,
    /// The token as an array index, where it is one.
    index: Option<usize>,
    node: usize,
}

impl Default for Pointers {
    fn default() -> Self {
        Self {
            nodes: vec![Node::default()],
            slots: 0,
        }
    }
}

impl Pointers {
    /// Adds `pointer` (RFC 6901), returning where its value will be; the same pointer twice
    /// shares one slot.
    pub fn add(&mut self, pointer: &str) -> Slot {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return Slot(None);
        }
        let mut node = 0;
        // Unescaped as `Value::pointer` does it.
        for key in pointer
            .split('/')
            .skip(1)
            .map(|x| x.replace("~1", "/").replace("~0", "~"))
        {
            let found = self.nodes[node].children.iter().find(|c| c.key == key);
            node = match found {
                Some(child) => child.node,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(Node::default());
                    self.nodes[node].children.push(Child {
                        index: parse_index(&key),
                        key,
                        node: child,
                    });
                    child
                }
            };
        }
        let slot = *self.nodes[node].slot.get_or_insert_with(|| {
            self.slots += 1;
            self.slots - 1
        });
        Slot(Some(slot))
    }

    /// Parses `data` as JSON into `found`; an error where `serde_json::from_str::<Value>`
    /// fails.
    pub fn read(&self, data: &str, found: &mut Found) -> Result<(), serde_json::Error> {
        found.values.clear();
        found.values.resize(self.slots, Seen::Nothing);
        found.text.clear();
        let mut de = serde_json::Deserializer::from_str(data);
        // The root's values were just forgotten: straight to its visitor.
        de.deserialize_any(At {
            pointers: self,
            node: 0,
            found,
        })?;
        de.end()
    }

    /// Forgets what was found at `node` and below: a later duplicate key replaces it.
    fn forget(&self, node: usize, found: &mut Found) {
        let node = &self.nodes[node];
        if let Some(slot) = node.slot {
            found.values[slot] = Seen::Nothing;
        }
        for child in &node.children {
            self.forget(child.node, found);
        }
    }
}

/// An array index as `Value::pointer` reads one: digits without a leading zero or sign.
fn parse_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// What the pointers found in one event's data; kept between events to reuse its buffers.
#[derive(Debug, Default)]
pub struct Found {
    values: Vec<Seen>,
    /// The strings found, one after another.
    text: String,
}

/// What lies at a pointer, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Nothing, or a boolean, array, object or number that is no `u64`.
    Nothing,
    Null,
    /// A whole number that fits a `u64`.
    U64(u64),
    /// A string, at this range of `Found::text`.
    Str(usize, usize),
}

impl Found {
    /// The string at the pointer, if there is one (`Value::pointer(..).and_then(Value::as_str)`).
    pub fn str(&self, slot: Slot) -> Option<&str> {
        match self.value(slot) {
            Seen::Str(start, end) => Some(&self.text[start..end]),
            _ => None,
        }
    }

    /// The whole number at the pointer, if there is one (`Value::as_u64`).
    pub fn u64(&self, slot: Slot) -> Option<u64> {
        match self.value(slot) {
            Seen::U64(v) => Some(v),
            _ => None,
        }
    }

    /// Whether `null` is at the pointer.
    pub fn is_null(&self, slot: Slot) -> bool {
        self.value(slot) == Seen::Null
    }

    fn value(&self, slot: Slot) -> Seen {
        slot.0
            .and_then(|i| self.values.get(i).copied())
            .unwrap_or(Seen::Nothing)
    }
}

/// A value at `node` of the tree.
struct At<'a> {
    pointers: &'a Pointers,
    node: usize,
    found: &'a mut Found,
}

impl At<'_> {
    fn keep(&mut self, value: Seen) {
        if let Some(slot) = self.pointers.nodes[self.node].slot {
            self.found.values[slot] = value;
        }
    }
}

impl<'de> DeserializeSeed<'de> for At<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.pointers.forget(self.node, self.found);
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for At<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(mut self, v: u64) -> Result<(), E> {
        self.keep(Seen::U64(v));
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(mut self, v: &str) -> Result<(), E> {
        if self.pointers.nodes[self.node].slot.is_some() {
            let start = self.found.text.len();
            self.found.text.push_str(v);
            self.keep(Seen::Str(start, self.found.text.len()));
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        self.keep(Seen::Null);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let node = &self.pointers.nodes[self.node];
        let mut index = 0;
        loop {
            let child = node.children.iter().find(|c| c.index == Some(index));
            let more = match child {
                Some(child) => seq
                    .next_element_seed(At {
                        pointers: self.pointers,
                        node: child.node,
                        found: &mut *self.found,
                    })?
                    .is_some(),
                None => seq.next_element::<Skip>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let node = &self.pointers.nodes[self.node];
        while let Some(child) = map.next_key_seed(Key(node))? {
            match child {
                Some(child) => map.next_value_seed(At {
                    pointers: self.pointers,
                    node: child,
                    found: &mut *self.found,
                })?,
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key: the child node it leads to, if any.
struct Key<'a>(&'a Node);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .children
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.node))
    }
}

/// A value no pointer reaches: parsed (and so checked) as `Value` would parse it, then
/// dropped. serde's `IgnoredAny` would skip it with serde_json's laxer scan instead.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts `Value` accepts and rejects, with the corners of RFC 6901 and serde_json.
    const DOCS: &[&str] = &[
        r#"{"step": "vision", "status": "started", "progress": 0}"#,
        r#"{"step":"reward","status":"completed","progress":100,"result":{"reward":null}}"#,
        r#"{"step":"reward","status":"completed","result":{"reward":{"name":"Petty"}}}"#,
        r#"{"status":"error","error":"IMAGE_URL_REQUIRED"}"#,
        r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
        r#"{"object":"chat.completion.chunk","choices":[{"delta":{},"finish_reason":"stop"},{"finish_reason":"length"}]}"#,
        r#"{"object":"chat.completion.chunk","choices":[],"usage":{"total_tokens":3}}"#,
        r#"{"usage":{"completion_tokens":64,"prompt_tokens":-2},"n":[18446744073709551615,1.0,0]}"#,
        // Duplicate keys: the last wins, below it too.
        r#"{"status":"started","status":"completed"}"#,
        r#"{"status":"started","status":5}"#,
        r#"{"result":{"reward":null},"result":{"other":1}}"#,
        r#"{"result":{"reward":null},"result":{"reward":"x"}}"#,
        // Escapes in keys and values; keys with `/` and `~`.
        r#"{"st\u0065p":"vi\u0073ion","status":"a\"b\\c\n"}"#,
        r#"{"a/b":"slash","m~n":"tilde","":"empty key","~1":"literal"}"#,
        // Types the rules do not read as strings.
        r#"{"step":1.5,"status":true,"result":[null],"choices":{"0":{"finish_reason":"stop"}}}"#,
        r#"{"choices":[{"finish_reason":"a"},{"finish_reason":"b"}],"list":["x","y","z","w","v","u","t","s","r","q","p"]}"#,
        r#""just a string""#,
        "null",
        "[1, \"two\", null]",
        "  {\"status\" : \"completed\" }  \n",
        // What `Value` rejects.
        "[DONE]",
        "{not json",
        "",
        "   ",
        r#"{"status":"completed"} trailing"#,
        r#"{"status":"completed",}"#,
        r#"{"n":1e400}"#,
        r#"{"n":-1e400,"status":"completed"}"#,
        r#"{"s":"\ud800"}"#,
        r#"{"status":"\ud800"}"#,
        r#"{"s":"\x"}"#,
        "{\"s\":\"tab\there\"}",
        r#"{"n":01}"#,
        r#"{"n":1.}"#,
        r#"{"a":[1,2,]}"#,
        r#"{"a" 1}"#,
    ];

    const POINTERS: &[&str] = &[
        "",
        "/",
        "/step",
        "/status",
        "/progress",
        "/result",
        "/result/reward",
        "/result/reward/name",
        "/object",
        "/usage/completion_tokens",
        "/usage/prompt_tokens",
        "/usage/total_tokens",
        "/n/0",
        "/n/1",
        "/n/2",
        "/choices/0/finish_reason",
        "/choices/1/finish_reason",
        "/choices/01/finish_reason",
        "/choices/+1/finish_reason",
        "/choices/-/finish_reason",
        "/list/10",
        "/a~1b",
        "/m~0n",
        "/~01",
        "/0",
        "/1",
        "status",
        "/step/x",
    ];

    /// Documents nested deeper than `Value`'s recursion limit, and just within it.
    fn deep(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn finds_what_value_finds() {
        let mut pointers = Pointers::default();
        let slots: Vec<Slot> = POINTERS.iter().map(|p| pointers.add(p)).collect();
        let mut found = Found::default();
        let deep_docs = [deep(127), deep(128), deep(200)];
        let docs = DOCS
            .iter()
            .copied()
            .chain(deep_docs.iter().map(String::as_str));
        for doc in docs {
            let value = serde_json::from_str::<serde_json::Value>(doc);
            let read = pointers.read(doc, &mut found);
            assert_eq!(
                read.is_ok(),
                value.is_ok(),
                "{doc:?}: {read:?} vs {value:?}"
            );
            let Ok(value) = value else { continue };
            for (pointer, &slot) in POINTERS.iter().zip(&slots) {
                let at = value.pointer(pointer);
                assert_eq!(
                    found.str(slot),
                    at.and_then(serde_json::Value::as_str),
                    "{doc:?} at {pointer:?}"
                );
                assert_eq!(
                    found.u64(slot),
                    at.and_then(serde_json::Value::as_u64),
                    "{doc:?} at {pointer:?}"
                );
                assert_eq!(
                    found.is_null(slot),
                    at.is_some_and(serde_json::Value::is_null),
                    "{doc:?} at {pointer:?}"
                );
            }
        }
    }

    #[test]
    fn the_same_pointer_shares_a_slot() {
        let mut pointers = Pointers::default();
        let a = pointers.add("/status");
        assert_eq!(pointers.add("/status"), a);
        assert_ne!(pointers.add("/step"), a);
        assert_eq!(pointers.add("status"), Slot(None));
    }

    #[test]
    fn a_read_forgets_the_last_event() {
        let mut pointers = Pointers::default();
        let status = pointers.add("/status");
        let mut found = Found::default();
        pointers
            .read(r#"{"status":"started"}"#, &mut found)
            .unwrap();
        assert_eq!(found.str(status), Some("started"));
        pointers.read(r#"{"step":"rule"}"#, &mut found).unwrap();
        assert_eq!(found.str(status), None);
    }
}
