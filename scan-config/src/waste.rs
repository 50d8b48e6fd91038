//! Eco²'s waste categories as its disposal rules are keyed: recyclables by middle category,
//! everything else by major category. The mock answers with them and the reference
//! pipeline's rule documents are named by them.

/// The major category whose rules are keyed by middle category.
pub const RECYCLABLE: &str = "recyclable";

/// The major categories whose rules are keyed by major category (no middle-level rules).
pub const MAJORS_WITHOUT_MIDDLES: [&str; 6] = [
    "general",
    "food",
    "bulky",
    "hazardous",
    "construction",
    "medical",
];
