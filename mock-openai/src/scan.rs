//! Plausible answers for the scan pipeline's two schemas.
//!
//! - `waste_classification` (vision): a category drawn from the configured weighted list,
//!   situation tags, and the user's text echoed as `meta.user_input`.
//! - `disposal_answer` (answer): disposal steps for the category named in the prompt,
//!   insufficiencies with the configured probability, and a short answer to the user.
//!
//! If the request's schema declares top-level properties other than the expected ones, the
//! canned shape would not fit it, and the generic schema generator answers instead.

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::seq::IndexedRandom;
use scan_config::waste::MAJORS_WITHOUT_MIDDLES;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use crate::content::Prompt;
use crate::content::{Category, ContentConfig};

/// Schema name of the vision stage's structured output.
pub const VISION_SCHEMA: &str = "waste_classification";
/// Schema name of the answer stage's structured output.
pub const ANSWER_SCHEMA: &str = "disposal_answer";

const VISION_KEYS: &[&str] = &["classification", "situation_tags", "meta"];
const ANSWER_KEYS: &[&str] = &["disposal_steps", "insufficiencies", "user_answer"];

const SITUATION_TAGS: &[&str] = &[
    "label_attached",
    "cap_on",
    "contains_residue",
    "contains_liquid",
    "crushed",
    "clean",
    "contaminated",
    "mixed_materials",
    "damaged",
];

const INSUFFICIENCIES: &[&str] = &[
    "The photo does not show whether the container has been rinsed.",
    "The label material cannot be identified from the photo.",
    "It is unclear whether the item still contains liquid or food residue.",
    "The image is too blurry to confirm the material.",
    "Only part of the item is visible, so attached parts may be made of another material.",
];

#[derive(Debug)]
pub(crate) struct ScanContent {
    categories: Vec<Category>,
    weights: WeightedIndex<f64>,
    insufficiency_probability: f64,
    /// Middle names, then major names, each longest first: where a disposal answer looks for
    /// the category its prompt is about.
    names: Vec<String>,
}

impl ScanContent {
    pub fn new(config: &ContentConfig) -> Self {
        let weights = WeightedIndex::new(config.categories.iter().map(|c| c.weight))
            .expect("validated: weights are finite, >= 0 and not all 0");
        let sorted = |mut names: Vec<String>| {
            names.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            names.dedup();
            names
        };
        let is_major = |name: &str| {
            config.categories.iter().any(|c| c.major == name)
                || MAJORS_WITHOUT_MIDDLES.contains(&name)
        };
        let middles = config.categories.iter().map(|c| c.middle.clone());
        let known = STEPS
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .filter(|n| !is_major(n));
        let mut names = sorted(middles.chain(known).collect());
        let majors = config.categories.iter().map(|c| c.major.clone());
        names.extend(sorted(
            majors
                .chain(MAJORS_WITHOUT_MIDDLES.iter().map(|m| (*m).to_owned()))
                .collect(),
        ));
        Self {
            categories: config.categories.clone(),
            weights,
            insufficiency_probability: config.insufficiency_probability,
            names,
        }
    }

    /// A canned answer for a known schema name whose shape fits, else `None`.
    pub fn answer<R: Rng + ?Sized>(
        &self,
        name: &str,
        schema: &Value,
        prompt: &Prompt<'_>,
        rng: &mut R,
    ) -> Option<String> {
        match name {
            VISION_SCHEMA if fits(schema, VISION_KEYS) => {
                Some(self.classification(prompt.user_input, rng))
            }
            ANSWER_SCHEMA if fits(schema, ANSWER_KEYS) => {
                Some(self.disposal_answer(prompt.prompt_text, rng))
            }
            _ => None,
        }
    }

    fn classification<R: Rng + ?Sized>(&self, user_input: &str, rng: &mut R) -> String {
        let category = &self.categories[self.weights.sample(rng)];
        let tag_count = rng.random_range(0..=3);
        let situation_tags = SITUATION_TAGS
            .choose_multiple(rng, tag_count)
            .copied()
            .collect();
        let answer = Classification {
            classification: Levels {
                major_category: &category.major,
                middle_category: &category.middle,
                minor_category: &category.minor,
            },
            situation_tags,
            meta: Meta { user_input },
        };
        serde_json::to_string(&answer).expect("classification serializes")
    }

    fn disposal_answer<R: Rng + ?Sized>(&self, prompt_text: &str, rng: &mut R) -> String {
        // The category is read from a classification quoted as JSON in the prompt if there is
        // one (the scan pipeline's answer stage sends it), else from any category name in it.
        let quoted = [
            json_string_field(prompt_text, "middle_category"),
            json_string_field(prompt_text, "major_category"),
        ];
        let named = quoted
            .into_iter()
            .flatten()
            .find(|name| steps_for(name).is_some())
            .or_else(|| {
                self.names
                    .iter()
                    .map(String::as_str)
                    .find(|name| contains_identifier(prompt_text, name))
            });
        let steps = named.and_then(steps_for).unwrap_or(GENERIC_STEPS);
        let insufficiencies = if rng.random_bool(self.insufficiency_probability) {
            let n = rng.random_range(1..=2);
            INSUFFICIENCIES.choose_multiple(rng, n).copied().collect()
        } else {
            Vec::new()
        };
        let item = json_string_field(prompt_text, "minor_category")
            .or(named)
            .map_or("this item".to_owned(), |n| {
                format!("this {}", n.replace('_', " "))
            });
        let closing = CLOSINGS.choose(rng).copied().unwrap_or_default();
        let user_answer = format!(
            "Here is how to dispose of {item}. Follow the steps in order: the most common mistake is \
             leaving residue or parts of another material attached, which can send a whole batch of \
             recycling to the incinerator. Rinsing takes a few seconds and makes a real difference. \
             {closing}"
        );
        let answer = DisposalAnswer {
            disposal_steps: Steps(steps),
            insufficiencies,
            user_answer,
        };
        serde_json::to_string(&answer).expect("disposal answer serializes")
    }
}

// Typed answers, so keys come out in the schema's order as a model writes them.
#[derive(Serialize)]
struct Classification<'a> {
    classification: Levels<'a>,
    situation_tags: Vec<&'a str>,
    meta: Meta<'a>,
}

#[derive(Serialize)]
struct Levels<'a> {
    major_category: &'a str,
    middle_category: &'a str,
    minor_category: &'a str,
}

#[derive(Serialize)]
struct Meta<'a> {
    user_input: &'a str,
}

#[derive(Serialize)]
struct DisposalAnswer {
    disposal_steps: Steps,
    insufficiencies: Vec<&'static str>,
    user_answer: String,
}

/// Serializes as `{"step1": ..., "step2": ...}`.
struct Steps(&'static [&'static str]);

impl Serialize for Steps {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (i, step) in self.0.iter().enumerate() {
            map.serialize_entry(&format!("step{}", i + 1), step)?;
        }
        map.end()
    }
}

/// Whether a schema's declared top-level properties (if any) are exactly `keys`.
fn fits(schema: &Value, keys: &[&str]) -> bool {
    match schema.get("properties").and_then(Value::as_object) {
        None => true,
        Some(properties) => {
            properties.len() == keys.len() && keys.iter().all(|k| properties.contains_key(*k))
        }
    }
}

fn steps_for(name: &str) -> Option<&'static [&'static str]> {
    STEPS
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, steps)| *steps)
}

/// The string value of the first `"field": "value"` in `text` (JSON quoted in a prompt).
fn json_string_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    let key = format!("\"{field}\"");
    let after_key = &text[text.find(&key)? + key.len()..];
    let value = after_key
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    value.find('"').map(|end| &value[..end])
}

/// Whether `text` contains `name` as a whole identifier (not inside a longer word).
fn contains_identifier(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(name).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

const CLOSINGS: &[&str] = &[
    "Rules differ a little between districts, so check your local collection guide if unsure.",
    "Thank you for sorting carefully; clean recyclables really do get recycled.",
    "If the item is badly contaminated, it is better to put it in general waste.",
];

const GENERIC_STEPS: &[&str] = &[
    "Check what the item is made of and separate parts of different materials.",
    "Empty it and remove any food or liquid residue.",
    "Put each part in the bin for its material, or in general waste if it cannot be separated.",
];

/// Disposal steps by middle category (recyclables) or major category (others).
const STEPS: &[(&str, &[&str])] = &[
    (
        "pet_bottle",
        &[
            "Empty the bottle and rinse it with water.",
            "Remove the label and the cap; the cap goes with plastics.",
            "Crush the bottle flat to save space.",
            "Put it in the clear PET bottle collection bin.",
        ],
    ),
    (
        "plastic",
        &[
            "Empty the container and rinse off food residue.",
            "Remove labels or parts made of other materials.",
            "Put it in the plastics bin.",
        ],
    ),
    (
        "paper",
        &[
            "Remove tape, staples and plastic coating.",
            "Flatten boxes and keep the paper dry.",
            "Tie or stack it and put it out with paper recycling.",
        ],
    ),
    (
        "paper_pack",
        &[
            "Empty the carton and rinse it.",
            "Cut it open, flatten and dry it.",
            "Put it in the separate paper pack bin, not with ordinary paper.",
        ],
    ),
    (
        "paper_cup",
        &[
            "Empty the cup and remove the lid and sleeve.",
            "Rinse it lightly.",
            "Put it in the paper cup bin, or with paper packs if there is none.",
        ],
    ),
    (
        "can",
        &[
            "Empty the can and rinse it.",
            "Remove any plastic cap.",
            "Crush it lightly and put it in the can bin.",
        ],
    ),
    (
        "metal",
        &[
            "Remove handles or parts that are not metal.",
            "Put small metal items in the can and metal bin.",
            "Large metal items go out as scrap metal on collection day.",
        ],
    ),
    (
        "glass_bottle",
        &[
            "Empty the bottle and rinse it.",
            "Remove the cap; return deposit bottles to a store for a refund.",
            "Put it in the glass bin without breaking it.",
        ],
    ),
    (
        "vinyl",
        &[
            "Shake out crumbs and rinse off residue.",
            "Put clean wrappers and bags in the vinyl bin.",
            "Heavily soiled vinyl goes to general waste.",
        ],
    ),
    (
        "styrofoam",
        &[
            "Remove tape, labels and food residue.",
            "Put clean white styrofoam in the styrofoam bin.",
            "Coloured or soiled styrofoam goes to general waste.",
        ],
    ),
    (
        "clothing",
        &[
            "Make sure the clothes are clean and dry.",
            "Put them in a clothing collection box.",
            "Worn-out items that cannot be reused go to general waste.",
        ],
    ),
    (
        "small_electronics",
        &[
            "Remove batteries and dispose of them separately.",
            "Take the device to a small electronics collection box or book a free pickup.",
        ],
    ),
    (
        "general",
        &[
            "Put the item in a standard-volume waste bag.",
            "Tie the bag and put it out on collection day.",
        ],
    ),
    (
        "food",
        &[
            "Drain liquid and remove bones, shells and packaging.",
            "Put the rest in the food waste bin.",
        ],
    ),
    (
        "bulky",
        &[
            "Book a bulky waste collection with your district and pay the fee.",
            "Attach the sticker or receipt number to the item.",
            "Put it out at the agreed place and time.",
        ],
    ),
    (
        "hazardous",
        &[
            "Do not put it in general waste.",
            "Take it to a hazardous waste collection box, such as the battery or lamp boxes at community centres.",
        ],
    ),
    (
        "construction",
        &[
            "Small amounts of debris go in a special construction waste bag sold at local stores.",
            "For larger amounts, book a construction waste pickup.",
        ],
    ),
    (
        "medical",
        &[
            "Keep the medicine in its packaging.",
            "Take it to a pharmacy or a public health centre collection box.",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::OutputFormat;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde_json::json;

    fn prompt<'a>(
        format: &'a OutputFormat,
        user_input: &'a str,
        prompt_text: &'a str,
    ) -> Prompt<'a> {
        Prompt {
            format,
            user_input,
            prompt_text,
            max_output_tokens: None,
            text_tokens: 10,
        }
    }

    #[test]
    fn classification_follows_the_distribution() {
        let content = ScanContent::new(&ContentConfig::default());
        let format = OutputFormat::Text;
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let schema = json!({});
        let mut misses = 0;
        let n = 4000;
        for _ in 0..n {
            let v = content
                .answer(
                    VISION_SCHEMA,
                    &schema,
                    &prompt(&format, "what is it?", ""),
                    &mut rng,
                )
                .unwrap();
            let v: Value = serde_json::from_str(&v).unwrap();
            assert_eq!(v["meta"]["user_input"], "what is it?");
            let middle = v["classification"]["middle_category"].as_str().unwrap();
            let major = v["classification"]["major_category"].as_str().unwrap();
            if major == "unclassifiable" || middle == "composite" || middle == "other" {
                misses += 1;
            }
        }
        let share = f64::from(misses) / f64::from(n);
        // Default weights put 9.5 of 95 (10 %) on rule misses; 4,000 draws: sd ~0.5 %.
        assert!((0.08..0.12).contains(&share), "{share}");
    }

    /// The disposal answer the default content gives for a prompt of `text`.
    fn disposal_answer(text: &str) -> Value {
        let content = ScanContent::new(&ContentConfig::default());
        let format = OutputFormat::Text;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let answer = content
            .answer(
                ANSWER_SCHEMA,
                &json!({}),
                &prompt(&format, "", text),
                &mut rng,
            )
            .unwrap();
        serde_json::from_str(&answer).unwrap()
    }

    /// Asserts that the disposal step naming the bin (step 3) of `answer` mentions `words`.
    #[track_caller]
    fn assert_step3_mentions(answer: &Value, words: &str) {
        let step3 = answer["disposal_steps"]["step3"].as_str().unwrap();
        assert!(step3.contains(words), "{answer}");
    }

    #[test]
    fn disposal_answer_names_the_category_in_the_prompt() {
        let text = "category: recyclable / paper_pack / milk_carton";
        let v = disposal_answer(text);
        assert_step3_mentions(&v, "paper pack");
        assert!(v["user_answer"].as_str().unwrap().contains("paper pack"));
        assert!(v["insufficiencies"].is_array());
    }

    #[test]
    fn disposal_answer_prefers_the_quoted_classification() {
        // Rules text naming other categories must not win over the classification.
        let text = r#"{"classification":{"major_category":"recyclable","middle_category":"can","minor_category":"beer_can"},"disposal_rules":{"note":"not glass_bottle or small_electronics"}}"#;
        let v = disposal_answer(text);
        assert_step3_mentions(&v, "can bin");
        assert!(
            v["user_answer"].as_str().unwrap().contains("this beer can"),
            "{v}"
        );
        let text = r#"{"major_category": "food", "middle_category": "food_waste"}"#;
        let v = disposal_answer(text);
        assert!(v.to_string().contains("food waste bin"), "{v}");
    }

    #[test]
    fn category_names_match_whole_identifiers() {
        assert!(contains_identifier("major: recyclable, middle: can", "can"));
        assert!(!contains_identifier("I cannot tell", "can"));
        assert!(!contains_identifier("beer_can", "can"));
        let text = "Can you help? recyclable / can / beer_can";
        let v = disposal_answer(text);
        assert_step3_mentions(&v, "can bin");
    }

    #[test]
    fn foreign_shape_falls_back() {
        let content = ScanContent::new(&ContentConfig::default());
        let format = OutputFormat::Text;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let schema = json!({"type": "object", "properties": {"label": {"type": "string"}}});
        assert!(
            content
                .answer(VISION_SCHEMA, &schema, &prompt(&format, "", ""), &mut rng)
                .is_none()
        );
    }
}
