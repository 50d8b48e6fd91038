//! What an answer says: the `content` table ([`ContentConfig`]), and free text or JSON for the
//! requested schema.
//!
//! The scan pipeline's two schemas get plausible data ([`crate::scan`]); any other schema gets
//! values generated from the schema itself ([`crate::json_schema`]). Token counts come from a
//! rough BPE-like split ([`next_token_len`]) that is also how streams are chunked, so a
//! stream's content deltas and its `usage.completion_tokens` agree.

use std::sync::LazyLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scan_config::{FieldPath, Invalid, check};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scan::ScanContent;

/// Content of canned answers for the scan pipeline's schemas (`waste_classification`,
/// `disposal_answer`); other JSON schemas get values generated from the schema itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// Probability that a `disposal_answer` lists insufficiencies.
    pub insufficiency_probability: f64,
    /// Categories the vision answer draws from, by weight.
    pub categories: Vec<Category>,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            insufficiency_probability: 0.15,
            categories: Category::defaults(),
        }
    }
}

/// One weighted entry of the vision answer's category distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Major category, e.g. `recyclable`.
    pub major: String,
    /// Middle category, e.g. `pet_bottle`.
    pub middle: String,
    /// Minor category (free text), e.g. `water_bottle`.
    pub minor: String,
    /// Relative weight (>= 0).
    pub weight: f64,
}

impl Category {
    fn new(major: &str, middle: &str, minor: &str, weight: f64) -> Self {
        Self {
            major: major.into(),
            middle: middle.into(),
            minor: minor.into(),
            weight,
        }
    }

    /// The default distribution: common household items first, about 10 % rule misses
    /// (`recyclable/composite`, `recyclable/other`, `unclassifiable`).
    pub fn defaults() -> Vec<Category> {
        let r = "recyclable";
        vec![
            Category::new(r, "pet_bottle", "water_bottle", 9.0),
            Category::new(r, "pet_bottle", "soda_bottle", 6.0),
            Category::new(r, "plastic", "food_container", 7.0),
            Category::new(r, "plastic", "shampoo_bottle", 3.0),
            Category::new(r, "paper", "cardboard_box", 6.0),
            Category::new(r, "paper", "newspaper", 3.0),
            Category::new(r, "can", "beer_can", 4.0),
            Category::new(r, "can", "soda_can", 4.0),
            Category::new(r, "vinyl", "snack_wrapper", 5.0),
            Category::new(r, "vinyl", "plastic_bag", 3.0),
            Category::new(r, "glass_bottle", "soju_bottle", 3.0),
            Category::new(r, "styrofoam", "delivery_box", 2.0),
            Category::new(r, "paper_pack", "milk_carton", 3.0),
            Category::new(r, "paper_cup", "coffee_cup", 3.0),
            Category::new(r, "metal", "frying_pan", 1.0),
            Category::new(r, "clothing", "t_shirt", 2.0),
            Category::new(r, "small_electronics", "hair_dryer", 1.0),
            Category::new("general", "general_waste", "tissue", 6.0),
            Category::new("food", "food_waste", "fruit_peel", 5.0),
            Category::new("bulky", "furniture", "chair", 1.0),
            Category::new("hazardous", "battery", "aa_battery", 1.5),
            Category::new("construction", "debris", "tile_fragment", 0.5),
            Category::new("medical", "medicine", "expired_pills", 1.0),
            Category::new(r, "composite", "toothbrush", 3.5),
            Category::new(r, "other", "rubber_glove", 2.5),
            Category::new("unclassifiable", "unclassifiable", "unknown_object", 3.5),
        ]
    }
}

impl ContentConfig {
    /// Checks the probability and the categories.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        check::probability(
            field("insufficiency_probability"),
            self.insufficiency_probability,
        )?;
        let categories = &self.categories;
        if categories.is_empty() {
            return Err(Invalid::rule(field("categories"), "at least one category"));
        }
        for (i, c) in categories.iter().enumerate() {
            let at = field("categories").index(i);
            check::finite_at_least(at.key("weight"), c.weight, 0.0)?;
            for (name, value) in [
                ("major", &c.major),
                ("middle", &c.middle),
                ("minor", &c.minor),
            ] {
                if value.is_empty() {
                    return Err(Invalid::rule(at.key(name), "a non-empty name"));
                }
            }
        }
        if categories.iter().all(|c| c.weight == 0.0) {
            return Err(Invalid::rule(
                field("categories"),
                "at least one weight > 0",
            ));
        }
        Ok(())
    }
}

/// The form of answer a request asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OutputFormat {
    Text,
    JsonObject,
    JsonSchema { name: String, schema: Value },
}

/// An answer's text and length.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub text: String,
    pub tokens: u32,
    /// Cut short by the request's output-token limit.
    pub truncated: bool,
}

/// Generates answers; built once per config.
#[derive(Debug)]
pub(crate) struct ContentModel {
    scan: ScanContent,
}

/// What the content generator reads from a request.
pub(crate) struct Prompt<'a> {
    pub format: &'a OutputFormat,
    pub user_input: &'a str,
    pub prompt_text: &'a str,
    pub max_output_tokens: Option<u32>,
    /// Length of a free-text answer (drawn from the model's `output_tokens`).
    pub text_tokens: u32,
}

impl ContentModel {
    pub fn new(config: &ContentConfig) -> Self {
        Self {
            scan: ScanContent::new(config),
        }
    }

    pub fn answer<R: Rng + ?Sized>(&self, prompt: &Prompt<'_>, rng: &mut R) -> Answer {
        let text = match prompt.format {
            OutputFormat::Text => {
                let limit = prompt.max_output_tokens.unwrap_or(u32::MAX);
                let wanted = prompt.text_tokens.max(1);
                return Answer {
                    text: CORPUS.take(wanted.min(limit), rng),
                    tokens: wanted.min(limit),
                    truncated: wanted > limit,
                };
            }
            OutputFormat::JsonObject => {
                serde_json::json!({ "answer": sentence(rng, 12) }).to_string()
            }
            OutputFormat::JsonSchema { name, schema } => {
                match self.scan.answer(name, schema, prompt, rng) {
                    Some(text) => text,
                    None => crate::json_schema::generate(schema, rng).to_string(),
                }
            }
        };
        truncate(text, prompt.max_output_tokens)
    }
}

/// Cuts `text` to at most `limit` tokens, as a model hitting `max_tokens` does (JSON included).
fn truncate(mut text: String, limit: Option<u32>) -> Answer {
    let mut tokens = 0u32;
    let mut offset = 0;
    while offset < text.len() {
        if limit.is_some_and(|l| tokens == l) {
            text.truncate(offset);
            return Answer {
                text,
                tokens,
                truncated: true,
            };
        }
        offset += next_token_len(&text[offset..]);
        tokens += 1;
    }
    Answer {
        text,
        tokens,
        truncated: false,
    }
}

/// Byte length of the first token of `text` (non-empty): an optional space and up to 10 ASCII
/// letters, up to 3 digits, up to 3 ASCII punctuation marks, or one other character.
pub(crate) fn next_token_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let start = usize::from(bytes[0] == b' ' && bytes.len() > 1 && bytes[1] != b' ');
    let first = bytes[start];
    let run = |max: usize, pred: fn(u8) -> bool| {
        start
            + bytes[start..]
                .iter()
                .take(max)
                .take_while(|&&b| pred(b))
                .count()
    };
    if first.is_ascii_alphabetic() {
        run(10, |b| b.is_ascii_alphabetic())
    } else if first.is_ascii_digit() {
        run(3, |b| b.is_ascii_digit())
    } else if first.is_ascii_punctuation() {
        run(3, |b| b.is_ascii_punctuation())
    } else if first.is_ascii() {
        start + 1
    } else {
        let ch = text[start..].chars().next().map_or(1, char::len_utf8);
        start + ch
    }
}

/// Number of tokens in `text` by [`next_token_len`].
#[cfg(test)]
pub(crate) fn count_tokens(text: &str) -> u32 {
    let mut offset = 0;
    let mut tokens = 0;
    while offset < text.len() {
        offset += next_token_len(&text[offset..]);
        tokens += 1;
    }
    tokens
}

const WORDS: &[&str] = &[
    "the",
    "item",
    "should",
    "be",
    "sorted",
    "by",
    "material",
    "before",
    "disposal",
    "rinse",
    "it",
    "with",
    "water",
    "remove",
    "labels",
    "and",
    "caps",
    "then",
    "place",
    "in",
    "the",
    "matching",
    "bin",
    "most",
    "local",
    "rules",
    "ask",
    "residents",
    "to",
    "keep",
    "recycling",
    "clean",
    "and",
    "dry",
    "mixed",
    "materials",
    "go",
    "into",
    "general",
    "waste",
    "when",
    "they",
    "cannot",
    "be",
    "separated",
    "check",
    "your",
    "district",
    "guide",
    "for",
    "collection",
    "days",
    "large",
    "items",
    "need",
    "a",
    "sticker",
    "batteries",
    "belong",
    "in",
    "special",
    "boxes",
];

/// `n` tokens of plausible English: each word is one token, each full stop one more.
fn words<R: Rng + ?Sized>(n: u32, rng: &mut R) -> String {
    let mut text = String::with_capacity(n as usize * 7);
    let mut in_sentence = 0;
    for i in 0..n {
        let sentence_end = in_sentence >= 6 && rng.random_bool(0.2);
        if sentence_end && i + 1 < n {
            text.push('.');
            in_sentence = 0;
            continue;
        }
        let word = WORDS[rng.random_range(0..WORDS.len())];
        if !text.is_empty() {
            text.push(' ');
        }
        if in_sentence == 0 {
            let mut chars = word.chars();
            if let Some(c) = chars.next() {
                text.push(c.to_ascii_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push_str(word);
        }
        in_sentence += 1;
    }
    text
}

/// Free text is cut from one fixed corpus at a random token: much cheaper than drawing every
/// word, and just as good for a mock.
static CORPUS: LazyLock<Corpus> = LazyLock::new(Corpus::new);

struct Corpus {
    /// Words with a leading space each (so pieces can be joined), full stops between sentences.
    text: String,
    /// Byte offset of each token.
    starts: Vec<usize>,
}

impl Corpus {
    const TOKENS: u32 = 4096;

    fn new() -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5ca9_be9c);
        let text = format!(" {}", words(Self::TOKENS, &mut rng));
        let mut starts = Vec::with_capacity(Self::TOKENS as usize);
        let mut offset = 0;
        while offset < text.len() {
            starts.push(offset);
            offset += next_token_len(&text[offset..]);
        }
        Self { text, starts }
    }

    /// `n` tokens from a random place, wrapping around.
    fn take<R: Rng + ?Sized>(&self, n: u32, rng: &mut R) -> String {
        let total = self.starts.len();
        let mut i = rng.random_range(0..total);
        if self.text[self.starts[i]..].starts_with('.') {
            i = (i + 1) % total;
        }
        let mut out = String::with_capacity(n as usize * 7);
        let mut left = n as usize;
        while left > 0 {
            let take = left.min(total - i);
            let end = self
                .starts
                .get(i + take)
                .copied()
                .unwrap_or(self.text.len());
            out.push_str(&self.text[self.starts[i]..end]);
            left -= take;
            i = 0;
        }
        // " word" and "word" are both one token.
        if out.starts_with(' ') {
            out.remove(0);
        }
        out
    }
}

/// One sentence of about `n` words (for filler strings).
pub(crate) fn sentence<R: Rng + ?Sized>(rng: &mut R, n: u32) -> String {
    let mut text = words(n, rng);
    text.retain(|c| c != '.');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_splits_like_a_bpe_would() {
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens("{\"a\":1}"), 5);
        assert_eq!(count_tokens("classification"), 2);
        assert_eq!(count_tokens("분리수거"), 4);
        assert_eq!(count_tokens("  x"), 2);
    }

    #[test]
    fn free_text_has_the_drawn_length() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in [1, 2, 7, 50, 333] {
            let text = words(n, &mut rng);
            assert_eq!(count_tokens(&text), n, "{text}");
        }
        for n in (1..200).chain([4095, 4096, 4097, 10_000]) {
            let text = CORPUS.take(n, &mut rng);
            assert_eq!(count_tokens(&text), n, "{text}");
            assert!(!text.starts_with(' '));
        }
    }

    #[test]
    fn truncation_counts_tokens() {
        let answer = truncate("{\"a\": \"b c d\"}".to_owned(), Some(3));
        assert!(answer.truncated);
        assert_eq!(answer.tokens, 3);
        assert_eq!(count_tokens(&answer.text), 3);
        let whole = truncate("ok".to_owned(), Some(3));
        assert!(!whole.truncated);
    }
}
