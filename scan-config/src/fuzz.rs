//! Strategies for property tests of config loaders (feature `fuzz`): edits of a valid TOML
//! document that keep it mostly TOML while putting odd values and broken syntax in it.
//!
//! ```ignore
//! proptest! {
//!     #[test]
//!     fn an_edited_example_is_a_config_or_a_located_error(text in edits_of(EXAMPLE)) {
//!         if let Err(e) = MyConfig::from_toml_str(&text, "example.toml") {
//!             prop_assert!(e.to_string().starts_with("example.toml"));
//!         }
//!     }
//! }
//! ```

use proptest::prelude::*;

/// Tokens that make TOML that parses but holds odd values, or does not parse.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(vec![
            "=", "\"", "[", "]", "{", "}", ",", "\n", "-1", "0", "1e400", "nan", "-inf", "\"0s\"",
            "\"-5ms\"", "\"1000000h\"", "18446744073709551616", "true", "[[x]]", "{}", "[]",
            "{ dist = \"normal\" }", "\"\u{1F600}\"",
        ])
        .prop_map(str::to_owned),
        1 => "\\PC{0,6}",
    ]
}

/// `text` with up to three edits, each replacing up to 8 characters somewhere with a token.
pub fn edits_of(text: &str) -> impl Strategy<Value = String> {
    let text: Vec<char> = text.chars().collect();
    proptest::collection::vec((0.0..1.0f64, 0..8usize, token()), 1..=3).prop_map(move |edits| {
        let mut chars = text.clone();
        for (at, cut, insert) in edits {
            let start = ((chars.len() as f64) * at) as usize;
            let end = (start + cut).min(chars.len());
            chars.splice(start..end, insert.chars());
        }
        chars.into_iter().collect()
    })
}
