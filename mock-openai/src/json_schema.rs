//! Valid JSON for an arbitrary JSON schema (the subset structured outputs use).
//!
//! Supported: `type` (one or a list), `properties` / `required`, `items`, `minItems` /
//! `maxItems`, `enum`, `const`, `anyOf` / `oneOf` (one branch drawn), `allOf` (first branch),
//! `$ref` into `#/$defs` or `#/definitions`, string `minLength` / `maxLength` / `format`,
//! number and integer `minimum` / `maximum` / `exclusiveMinimum` / `exclusiveMaximum`.
//! `pattern` is not honoured. Optional properties are included half of the time.
//!
//! Generation is bounded whatever the schema asks (a request must not be able to exhaust the
//! server): at most [`MAX_VALUES`] values, arrays of at most [`MAX_ITEMS`] items and strings of
//! at most [`MAX_STRING`] characters; past those bounds the output may not fit the schema.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Number, Value};

/// Nesting depth past which only required properties and minimum array lengths are generated,
/// so recursive schemas terminate.
const MAX_DEPTH: usize = 8;
/// Values generated per answer; after that, `null`.
const MAX_VALUES: usize = 10_000;
/// Items per array.
const MAX_ITEMS: u64 = 64;
/// Characters per string.
const MAX_STRING: usize = 1024;

/// A value valid for `schema`.
pub(crate) fn generate<R: Rng + ?Sized>(schema: &Value, rng: &mut R) -> Value {
    Generator {
        root: schema,
        rng,
        budget: MAX_VALUES,
    }
    .value(schema, 0)
}

struct Generator<'a, R: ?Sized> {
    root: &'a Value,
    rng: &'a mut R,
    /// Values still allowed.
    budget: usize,
}

impl<'a, R: Rng + ?Sized> Generator<'a, R> {
    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        if self.budget == 0 {
            return Value::Null;
        }
        self.budget -= 1;
        let Value::Object(schema) = schema else {
            // `true` or an empty schema: anything goes.
            return Value::String(crate::content::sentence(self.rng, 3));
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return match self.resolve(reference) {
                Some(target) if depth < 4 * MAX_DEPTH => self.value(target, depth + 1),
                _ => Value::Null,
            };
        }
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(Value::Array(choices)) = schema.get("enum")
            && let Some(choice) = choices.choose(self.rng)
        {
            return choice.clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = schema.get(key)
                && let Some(branch) = self.pick_branch(branches, depth)
            {
                return self.value(branch, depth + 1);
            }
        }
        if let Some(Value::Array(branches)) = schema.get("allOf")
            && let Some(first) = branches.first()
        {
            return self.value(first, depth + 1);
        }
        let kind = match schema.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            // A list of types: prefer a non-null one.
            Some(Value::Array(kinds)) => {
                let named: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
                named
                    .iter()
                    .copied()
                    .find(|k| *k != "null")
                    .or(named.first().copied())
                    .unwrap_or("null")
            }
            _ if schema.contains_key("properties") => "object",
            _ if schema.contains_key("items") => "array",
            _ => "string",
        };
        match kind {
            "object" => self.object(schema, depth),
            "array" => self.array(schema, depth),
            "integer" => self.integer(schema),
            "number" => self.number(schema),
            "boolean" => Value::Bool(self.rng.random()),
            "null" => Value::Null,
            _ => self.string(schema),
        }
    }

    fn resolve(&self, reference: &str) -> Option<&'a Value> {
        if reference == "#" {
            return Some(self.root);
        }
        let pointer = reference.strip_prefix('#')?;
        self.root.pointer(pointer)
    }

    /// A branch of `anyOf` / `oneOf`: any, but not a null branch when another exists, and past
    /// the depth limit the first non-recursive one.
    fn pick_branch<'b>(&mut self, branches: &'b [Value], depth: usize) -> Option<&'b Value> {
        let non_null: Vec<&Value> = branches
            .iter()
            .filter(|b| b.get("type") != Some(&Value::from("null")))
            .collect();
        if depth >= MAX_DEPTH {
            return branches
                .iter()
                .find(|b| b.get("$ref").is_none())
                .or(branches.first());
        }
        non_null.choose(self.rng).copied().or(branches.first())
    }

    fn object(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        let mut out = Map::new();
        let required: Vec<&str> = match schema.get("required") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (name, property) in properties {
                let include = required.contains(&name.as_str())
                    || (depth < MAX_DEPTH && self.rng.random_bool(0.5));
                if include {
                    let value = self.value(property, depth + 1);
                    out.insert(name.clone(), value);
                }
            }
        }
        Value::Object(out)
    }

    fn array(&mut self, schema: &Map<String, Value>, depth: usize) -> Value {
        let min = schema
            .get("minItems")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(MAX_ITEMS);
        let max = schema
            .get("maxItems")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX)
            .max(min);
        let len = if depth >= MAX_DEPTH {
            min
        } else {
            let upper = max.min(min.max(1) + 2).min(MAX_ITEMS);
            self.rng.random_range(min.max(1).min(upper)..=upper)
        };
        let items = schema.get("items").unwrap_or(&Value::Bool(true));
        let mut out = Vec::new();
        for _ in 0..len {
            out.push(self.value(items, depth + 1));
        }
        Value::Array(out)
    }

    fn string(&mut self, schema: &Map<String, Value>) -> Value {
        let text = match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => "2025-12-25T02:16:01Z".to_owned(),
            Some("date") => "2025-12-25".to_owned(),
            Some("time") => "02:16:01Z".to_owned(),
            Some("email") => "user@example.com".to_owned(),
            Some("uri") | Some("url") => "https://example.com/item".to_owned(),
            Some("uuid") => {
                let bits: u128 = self.rng.random();
                let hex = format!("{bits:032x}");
                format!(
                    "{}-{}-4{}-a{}-{}",
                    &hex[..8],
                    &hex[8..12],
                    &hex[13..16],
                    &hex[17..20],
                    &hex[20..]
                )
            }
            _ => {
                let words = self.rng.random_range(2..=6);
                crate::content::sentence(self.rng, words)
            }
        };
        let min = schema
            .get("minLength")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(MAX_STRING as u64) as usize;
        let max = schema
            .get("maxLength")
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |m| m as usize);
        let mut chars: Vec<char> = text.chars().collect();
        while chars.len() < min {
            chars.push('x');
        }
        chars.truncate(max.max(min));
        Value::String(chars.into_iter().collect())
    }

    fn integer(&mut self, schema: &Map<String, Value>) -> Value {
        let (lo, hi) = self.bounds(schema, 0.0, 100.0);
        let lo = lo.ceil() as i64;
        let hi = (hi.floor() as i64).max(lo);
        Value::from(self.rng.random_range(lo..=hi))
    }

    fn number(&mut self, schema: &Map<String, Value>) -> Value {
        let (lo, hi) = self.bounds(schema, 0.0, 1.0);
        let x = lo + (hi - lo) * self.rng.random::<f64>();
        // Two decimals, like a model writes them; still within bounds.
        let x = ((x * 100.0).round() / 100.0).clamp(lo, hi);
        Number::from_f64(x).map_or(Value::from(0), Value::Number)
    }

    /// Inclusive bounds from `minimum` / `maximum` / exclusive variants, with defaults.
    fn bounds(
        &self,
        schema: &Map<String, Value>,
        default_lo: f64,
        default_span: f64,
    ) -> (f64, f64) {
        let get = |key: &str| schema.get(key).and_then(Value::as_f64);
        // Exclusive bounds move inwards by a small step that also works for integers.
        let lo = get("minimum")
            .or(get("exclusiveMinimum").map(|x| x + 1.0))
            .unwrap_or(default_lo);
        let hi = get("maximum").or(get("exclusiveMaximum").map(|x| x - 1.0));
        let lo = match hi {
            Some(hi)
                if schema.get("minimum").is_none() && schema.get("exclusiveMinimum").is_none() =>
            {
                lo.min(hi - default_span)
            }
            _ => lo,
        };
        (lo, hi.unwrap_or(lo + default_span).max(lo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    fn gen_many(schema: &Value) -> Vec<Value> {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        (0..200).map(|_| generate(schema, &mut rng)).collect()
    }

    #[test]
    fn strict_object_has_every_required_property() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 5},
                "count": {"type": "integer", "minimum": 3, "maximum": 7},
                "score": {"type": "number", "minimum": 0.5, "maximum": 0.6},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}, "minItems": 2, "maxItems": 2},
                "kind": {"anyOf": [{"type": "null"}, {"const": "fixed"}]},
                "when": {"type": ["string", "null"], "format": "date-time"},
                "flag": {"type": "boolean"}
            },
            "required": ["name", "count", "score", "tags", "kind", "when", "flag"],
            "additionalProperties": false
        });
        for v in gen_many(&schema) {
            assert!(v["name"].as_str().unwrap().chars().count() <= 5);
            assert!((3..=7).contains(&v["count"].as_i64().unwrap()));
            let score = v["score"].as_f64().unwrap();
            assert!((0.5..=0.6).contains(&score), "{score}");
            let tags = v["tags"].as_array().unwrap();
            assert_eq!(tags.len(), 2);
            assert!(tags.iter().all(|t| t == "a" || t == "b"));
            assert_eq!(v["kind"], "fixed");
            assert!(v["when"].as_str().unwrap().starts_with("2025-"));
            assert!(v["flag"].is_boolean());
        }
    }

    #[test]
    fn refs_and_recursion_terminate() {
        let schema = json!({
            "$defs": {"node": {"type": "object", "properties": {
                "label": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}
            }, "required": ["label", "children"]}},
            "$ref": "#/$defs/node"
        });
        for v in gen_many(&schema) {
            assert!(v["label"].is_string());
            assert!(v["children"].is_array());
        }
    }

    #[test]
    fn hostile_schemas_stay_bounded() {
        let wide = json!({"type": "array", "minItems": 1_000_000_000u64, "items": {
            "type": "array", "minItems": 1_000_000, "items": {"type": "string", "minLength": 1_000_000_000u64}
        }});
        let v = generate(&wide, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(v.as_array().unwrap().len(), MAX_ITEMS as usize);
        assert!(v.to_string().len() < 2 * MAX_VALUES * MAX_STRING);
    }

    #[test]
    fn exclusive_bounds_hold() {
        let schema = json!({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3});
        for v in gen_many(&schema) {
            assert!((1..=2).contains(&v.as_i64().unwrap()), "{v}");
        }
        let schema = json!({"type": "integer", "maximum": -10});
        for v in gen_many(&schema) {
            assert!(v.as_i64().unwrap() <= -10, "{v}");
        }
    }
}
