//! The shapes of the stage outputs and of the final `result`, typed so that they serialize in
//! Eco²'s key order.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// The three-level category of the vision stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Classification {
    pub major_category: String,
    pub middle_category: String,
    pub minor_category: String,
}

/// The vision stage's output (`waste_classification`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct VisionResult {
    pub classification: Classification,
    #[serde(default)]
    pub situation_tags: Vec<String>,
    #[serde(default)]
    pub meta: Value,
}

/// The answer stage's output (`disposal_answer`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FinalAnswer {
    #[serde(serialize_with = "steps_in_order")]
    pub disposal_steps: BTreeMap<String, String>,
    #[serde(default)]
    pub insufficiencies: Vec<String>,
    #[serde(default)]
    pub user_answer: String,
}

/// `step1`, `step2`, ... `step10` in numeric rather than string order.
fn steps_in_order<S: Serializer>(
    steps: &BTreeMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut ordered: Vec<_> = steps.iter().collect();
    ordered.sort_by_key(|(key, _)| (key.len(), *key));
    serializer.collect_map(ordered)
}

/// The reward stage's output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Reward {
    pub name: String,
    pub dialog: String,
    pub match_reason: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// The `result` of the terminal event and of the non-streaming endpoint.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScanResult {
    pub task_id: String,
    pub status: &'static str,
    pub message: &'static str,
    pub pipeline_result: PipelineResult,
    pub reward: Option<Reward>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct PipelineResult {
    pub classification_result: VisionResult,
    #[serde(serialize_with = "shared_document")]
    pub disposal_rules: Option<Arc<Value>>,
    pub final_answer: FinalAnswer,
}

fn shared_document<S: Serializer>(
    doc: &Option<Arc<Value>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    doc.as_deref().serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_serialize_in_numeric_order() {
        let steps = (1..=10)
            .map(|i| (format!("step{i}"), i.to_string()))
            .collect();
        let answer = FinalAnswer {
            disposal_steps: steps,
            ..FinalAnswer::default()
        };
        let text = serde_json::to_string(&answer).unwrap();
        assert!(text.contains("\"step9\":\"9\",\"step10\":\"10\""), "{text}");
    }
}
