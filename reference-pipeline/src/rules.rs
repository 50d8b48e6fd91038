//! The rule stage's data: 18 disposal-rule documents embedded as JSON text, looked up by
//! category, with an optional in-memory cache of parsed documents.
//!
//! Without the cache every lookup parses its document, as Eco² read a local JSON file per
//! lookup; with it a document is parsed once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::metrics::Metrics;

macro_rules! rule_documents {
    ($($key:literal),* $(,)?) => {
        &[$(($key, include_str!(concat!("../data/rules/", $key, ".json")))),*]
    };
}

/// `(middle category, JSON text)` of the recyclables.
const RECYCLABLE_DOCUMENTS: &[(&str, &str)] = rule_documents![
    "paper",
    "paper_pack",
    "paper_cup",
    "can",
    "metal",
    "glass_bottle",
    "pet_bottle",
    "plastic",
    "vinyl",
    "styrofoam",
    "clothing",
    "small_electronics",
];

/// `(major category, JSON text)` of everything else: one per
/// [`scan_config::waste::MAJORS_WITHOUT_MIDDLES`] (a test checks it; `include_str!` needs the
/// names written out).
const OTHER_DOCUMENTS: &[(&str, &str)] = rule_documents![
    "general",
    "food",
    "bulky",
    "hazardous",
    "construction",
    "medical",
];

pub(crate) use scan_config::waste::RECYCLABLE;

/// Disposal-rule documents by category.
pub(crate) struct RuleBook {
    recyclables: HashMap<&'static str, &'static str>,
    others: HashMap<&'static str, &'static str>,
    cache: Option<RwLock<HashMap<&'static str, Arc<Value>>>>,
}

impl RuleBook {
    pub fn new(cache: bool) -> Self {
        Self {
            recyclables: RECYCLABLE_DOCUMENTS.iter().copied().collect(),
            others: OTHER_DOCUMENTS.iter().copied().collect(),
            cache: cache.then(Default::default),
        }
    }

    /// The document for a classification (`None` when no rule covers it), and whether it came
    /// from the cache rather than the database.
    pub fn lookup(&self, major: &str, middle: &str, metrics: &Metrics) -> Lookup {
        // Keys are unique across both maps (no middle category is also a major one).
        let found = if major == RECYCLABLE {
            self.recyclables.get_key_value(middle)
        } else {
            self.others.get_key_value(major)
        };
        let Some((&key, &text)) = found else {
            return Lookup::database(None);
        };
        let Some(cache) = &self.cache else {
            return Lookup::database(Some(Arc::new(parse(key, text))));
        };
        if let Some(doc) = cache.read().expect("rule cache lock").get(key) {
            Metrics::count(&metrics.rule_cache, "hit");
            return Lookup {
                doc: Some(doc.clone()),
                cached: true,
            };
        }
        Metrics::count(&metrics.rule_cache, "miss");
        let doc = Arc::new(parse(key, text));
        let doc = cache
            .write()
            .expect("rule cache lock")
            .entry(key)
            .or_insert(doc)
            .clone();
        Lookup::database(Some(doc))
    }
}

/// The result of [`RuleBook::lookup`].
pub(crate) struct Lookup {
    /// The rule document, if a rule covers the classification.
    pub doc: Option<Arc<Value>>,
    /// Served from the cache: no database query was needed.
    pub cached: bool,
}

impl Lookup {
    fn database(doc: Option<Arc<Value>>) -> Self {
        Self { doc, cached: false }
    }
}

fn parse(key: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("embedded rule {key}.json: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn other_documents_are_the_majors_without_middles() {
        let names: Vec<&str> = super::OTHER_DOCUMENTS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(names, scan_config::waste::MAJORS_WITHOUT_MIDDLES);
    }

    use super::*;

    #[test]
    fn every_document_parses_and_names_its_category() {
        assert_eq!(RECYCLABLE_DOCUMENTS.len() + OTHER_DOCUMENTS.len(), 18);
        for (key, text) in RECYCLABLE_DOCUMENTS.iter().chain(OTHER_DOCUMENTS) {
            let doc = parse(key, text);
            let category = &doc["category"];
            let named = category["middle_category"]
                .as_str()
                .unwrap_or_else(|| category["major_category"].as_str().expect("major_category"));
            assert_eq!(named, *key);
        }
    }

    #[test]
    fn recyclables_match_by_middle_others_by_major() {
        let metrics = Metrics::new(&[]);
        let book = RuleBook::new(false);
        assert!(
            book.lookup("recyclable", "pet_bottle", &metrics)
                .doc
                .is_some()
        );
        assert!(
            book.lookup("recyclable", "composite", &metrics)
                .doc
                .is_none()
        );
        assert!(book.lookup("food", "leftovers", &metrics).doc.is_some());
        assert!(book.lookup("unclassifiable", "", &metrics).doc.is_none());
        // A middle category alone does not match outside recyclables.
        assert!(book.lookup("general", "pet_bottle", &metrics).doc.is_some());
        assert!(book.lookup("pet_bottle", "", &metrics).doc.is_none());
        assert!(book.lookup("recyclable", "general", &metrics).doc.is_none());
    }
}
