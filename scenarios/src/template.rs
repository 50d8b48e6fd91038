//! `{{name}}` placeholders in request templates.
//!
//! A placeholder names a variable of `[request.vars]`, a built-in (`vu`, `iteration`), or an
//! environment variable as `{{env:NAME}}`, read once when the run starts: the way to give a
//! request an API key without writing it into the file (reports keep the placeholder, never
//! the value).

/// The names of the `{{name}}` placeholders in `text`, in order (spaces inside the braces are
/// ignored).
///
/// ```
/// let names: Vec<_> = scenarios::template::placeholders("u-{{ vu }}/{{image_url}}").collect();
/// assert_eq!(names, ["vu", "image_url"]);
/// ```
pub fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find("{{")?;
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        rest = &after[end + 2..];
        Some(after[..end].trim())
    })
}

/// The environment variable an `{{env:NAME}}` placeholder's name (`env:NAME`) reads.
///
/// ```
/// assert_eq!(scenarios::template::env_var("env:OPENAI_API_KEY"), Some("OPENAI_API_KEY"));
/// assert_eq!(scenarios::template::env_var("image_url"), None);
/// ```
pub fn env_var(placeholder: &str) -> Option<&str> {
    placeholder.strip_prefix("env:").map(str::trim)
}

/// Every string leaf of a JSON value, keys excluded.
pub fn json_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| json_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_and_ignores_unclosed_ones() {
        assert_eq!(
            placeholders("a {{x}} b {{ y }} {{z").collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert_eq!(placeholders("none").count(), 0);
    }

    #[test]
    fn collects_nested_strings() {
        let v = serde_json::json!({"a": "1", "b": ["2", {"c": "3"}], "d": 4});
        let mut out = Vec::new();
        json_strings(&v, &mut out);
        out.sort();
        assert_eq!(out, ["1", "2", "3"]);
    }
}
