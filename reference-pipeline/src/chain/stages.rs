//! The four stages with Eco²'s logic, and [`run_stage`], which wraps one stage in its
//! events and timeout. Where a stage runs (task, thread, stage pool) is [`crate::exec`]'s
//! business.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use scan_config::Delay;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::config::PipelineConfig;
use crate::events::{Event, StageStatus};
use crate::exec::Mode;
use crate::exec::{TaskPool, draw};
use crate::metrics::{GaugeGuard, Metrics, PoolGauges, StageOutcomeLabel};
use crate::openai::{
    Call, CallError, ChatAnswer, ChatMessage, ChatRequest, InputMessage, InputPart,
    JsonSchemaFormat, OpenAi, ResponseFormat, ResponsesAnswer, ResponsesRequest, TextConfig,
};
use crate::result::{
    Classification, FinalAnswer, PipelineResult, Reward, ScanResult, VisionResult,
};
use crate::reward::{Catalog, Character, OwnershipStore};
use crate::rules::{RECYCLABLE, RuleBook};

/// A stage of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Stage {
    Vision,
    Rule,
    Answer,
    Reward,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Vision, Stage::Rule, Stage::Answer, Stage::Reward];

    /// The `step` value on the wire and the `stage` label of the metrics.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Vision => "vision",
            Stage::Rule => "rule",
            Stage::Answer => "answer",
            Stage::Reward => "reward",
        }
    }

    /// `progress` of an event: 0/25/50/75 when started (or failed), 25/50/75/100 when done.
    pub fn progress(self, status: StageStatus) -> u8 {
        let index = self as u8;
        match status {
            StageStatus::Completed => (index + 1) * 25,
            StageStatus::Started | StageStatus::Failed => index * 25,
        }
    }
}

/// What a run was asked.
#[derive(Debug)]
pub(crate) struct ScanInput {
    pub task_id: String,
    pub user_id: String,
    pub image_url: String,
    pub user_input: String,
}

/// One run as handed to an executor: its input, where its events go, and its cancellation
/// (fired when the client goes away, the chain times out or the server gives up on it).
pub(crate) struct Run {
    pub input: Arc<ScanInput>,
    pub events: mpsc::Sender<Event>,
    pub cancel: CancellationToken,
}

/// Everything the stages share.
pub(crate) struct Context {
    pub openai: OpenAi,
    pub rules: RuleBook,
    pub catalog: Arc<Catalog>,
    pub ownership: OwnershipStore,
    pub metrics: Arc<Metrics>,
    pub vision_model: String,
    pub answer_model: String,
    /// Per stage, already scaled by `time_scale`.
    stage_timeouts: [Duration; 4],
    character_match_timeout: Duration,
    /// Database latencies, already scaled.
    rule_query: Delay,
    ownership_write: Delay,
    /// The staged mode's worker CPU: the cores, a task's CPU time and the gauges; `None` = no
    /// CPU model.
    worker_cpu: Option<(Semaphore, Delay, PoolGauges)>,
    /// The staged mode's character-match pool and its hop latency; `None` = call in place.
    pub character_pool: Option<(Arc<TaskPool>, Delay)>,
}

impl Context {
    pub fn new(
        config: &PipelineConfig,
        openai: OpenAi,
        ownership: OwnershipStore,
        catalog: Arc<Catalog>,
        metrics: Arc<Metrics>,
        character_pool: Option<(Arc<TaskPool>, Delay)>,
    ) -> Self {
        let t = &config.stage_timeouts;
        let worker_cpu = match &config.mode {
            Mode::Staged(staged) if staged.worker_cpu.task_cpu != Delay::ZERO => Some((
                Semaphore::new(staged.worker_cpu.cores),
                staged.worker_cpu.task_cpu.scaled(config.time_scale),
                metrics.pool("worker_cpu"),
            )),
            _ => None,
        };
        Self {
            openai,
            rules: RuleBook::new(config.rule_cache),
            catalog,
            ownership,
            metrics,
            vision_model: config.openai.vision_model.clone(),
            answer_model: config.openai.answer_model.clone(),
            stage_timeouts: [t.vision, t.rule, t.answer, t.reward].map(|d| config.scaled(d)),
            character_match_timeout: config.scaled(t.character_match),
            rule_query: config.storage.rule_query.scaled(config.time_scale),
            ownership_write: config.storage.ownership_write.scaled(config.time_scale),
            worker_cpu,
            character_pool,
        }
    }
}

/// Why a stage failed; the text goes into the `failed` event.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StageError {
    #[error(transparent)]
    OpenAi(#[from] CallError),
    #[error("the model's answer does not fit the {schema} schema: {reason}")]
    Malformed {
        schema: &'static str,
        reason: String,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// Results so far.
pub(crate) struct ChainState {
    pub input: Arc<ScanInput>,
    vision: VisionResult,
    rules: Option<Arc<Value>>,
    answer: FinalAnswer,
    reward: Option<Reward>,
}

impl ChainState {
    pub fn new(input: Arc<ScanInput>) -> Self {
        Self {
            input,
            vision: VisionResult::default(),
            rules: None,
            answer: FinalAnswer::default(),
            reward: None,
        }
    }

    /// The `result` object of the terminal event (and of the non-streaming endpoint).
    pub fn result(&self) -> ScanResult {
        ScanResult {
            task_id: self.input.task_id.clone(),
            status: "completed",
            message: "scan completed",
            pipeline_result: PipelineResult {
                classification_result: self.vision.clone(),
                disposal_rules: self.rules.clone(),
                final_answer: self.answer.clone(),
            },
            reward: self.reward.clone(),
            error: None,
        }
    }

    async fn run(&mut self, stage: Stage, ctx: &Context) -> Result<(), StageError> {
        match stage {
            Stage::Vision => self.vision = vision(ctx, &self.input).await?,
            Stage::Rule => {
                let c = &self.vision.classification;
                let lookup = ctx
                    .rules
                    .lookup(&c.major_category, &c.middle_category, &ctx.metrics);
                if !lookup.cached {
                    tokio::time::sleep(draw(&ctx.rule_query)).await;
                }
                self.rules = lookup.doc;
            }
            Stage::Answer => self.answer = answer(ctx, self).await?,
            Stage::Reward => {
                self.reward = reward(ctx, self).await;
                let outcome = if self.reward.is_some() {
                    "matched"
                } else {
                    "null"
                };
                Metrics::count(&ctx.metrics.rewards, outcome);
            }
        }
        Ok(())
    }
}

/// Runs one stage: `started`, the work under the stage's timeout, then `completed` (with the
/// result after the reward) or `failed`. Returns whether the chain goes on; `false` also when
/// the stream is gone.
pub(crate) async fn run_stage(
    ctx: &Context,
    stage: Stage,
    state: &mut ChainState,
    events: &mpsc::Sender<Event>,
) -> bool {
    if events
        .send(Event::stage(stage, StageStatus::Started))
        .await
        .is_err()
    {
        return false;
    }
    let limit = ctx.stage_timeouts[stage as usize];
    let work = async {
        if let Some((cores, cpu, gauges)) = &ctx.worker_cpu {
            let waiting = GaugeGuard::inc(&gauges.queue_depth);
            let _core = cores.acquire().await;
            drop(waiting);
            let _busy = GaugeGuard::inc(&gauges.busy);
            tokio::time::sleep(draw(cpu)).await;
        }
        state.run(stage, ctx).await
    };
    let outcome = match tokio::time::timeout(limit, work).await {
        Ok(outcome) => outcome,
        Err(_) => Err(StageError::Timeout(limit)),
    };
    let event = match outcome {
        Ok(()) => Event::Stage {
            stage,
            status: StageStatus::Completed,
            result: (stage == Stage::Reward).then(|| Box::new(state.result())),
            error: None,
        },
        Err(e) => {
            tracing::info!(task_id = %state.input.task_id, stage = stage.name(), error = %e, "stage failed");
            Event::Stage {
                stage,
                status: StageStatus::Failed,
                result: None,
                error: Some(e.to_string()),
            }
        }
    };
    let outcome = match &event {
        Event::Stage {
            status: StageStatus::Failed,
            ..
        } => "failed",
        _ => "completed",
    };
    ctx.metrics
        .stage_tasks
        .get_or_create(&StageOutcomeLabel {
            stage: stage.name(),
            outcome,
        })
        .inc();
    let go_on = !event.is_terminal();
    events.send(event).await.is_ok() && go_on
}

/// The whole chain in place, stage after stage.
pub(crate) async fn run_chain(ctx: &Context, input: Arc<ScanInput>, events: &mpsc::Sender<Event>) {
    let mut state = ChainState::new(input);
    for stage in Stage::ALL {
        if !run_stage(ctx, stage, &mut state, events).await {
            return;
        }
    }
}

const VISION_INSTRUCTIONS: &str = "You classify a photographed waste item for a recycling \
    guide. Answer with the item's major, middle and minor category, tags describing its state \
    (e.g. contaminated, has_label), and the user's question in meta.user_input.";

const ANSWER_INSTRUCTIONS: &str = "You explain how to dispose of a waste item following the \
    given disposal rules. Give numbered steps, list anything the photo or question leaves \
    unclear as insufficiencies, and answer the user's question.";

async fn vision(ctx: &Context, input: &ScanInput) -> Result<VisionResult, StageError> {
    let request = ResponsesRequest {
        model: &ctx.vision_model,
        instructions: VISION_INSTRUCTIONS,
        input: [InputMessage {
            role: "user",
            content: [
                InputPart::InputText {
                    text: &input.user_input,
                },
                InputPart::InputImage {
                    image_url: &input.image_url,
                },
            ],
        }],
        text: TextConfig {
            format: JsonSchemaFormat::new("waste_classification", &WASTE_CLASSIFICATION, true),
        },
    };
    let answer: ResponsesAnswer = ctx
        .openai
        .post(Call::Vision, &ctx.vision_model, "/responses", &request)
        .await?;
    let text = answer.output_text().ok_or_else(|| StageError::Malformed {
        schema: "waste_classification",
        reason: "no output_text in the response".into(),
    })?;
    parse_structured(text, "waste_classification")
}

/// What the answer model is told, as the user message.
#[derive(Serialize)]
struct AnswerFacts<'a> {
    classification: &'a Classification,
    situation_tags: &'a [String],
    user_input: &'a str,
    disposal_rules: &'a Value,
}

async fn answer(ctx: &Context, state: &ChainState) -> Result<FinalAnswer, StageError> {
    let Some(rules) = &state.rules else {
        // Eco² answers without the model when no rule matched.
        return Ok(FinalAnswer {
            disposal_steps: [(
                "step1".to_string(),
                "No disposal rule matches this item. Please check your district's waste \
                 guide or ask the local office."
                    .to_string(),
            )]
            .into(),
            insufficiencies: vec![],
            user_answer: "I could not find a disposal rule for this item.".into(),
        });
    };
    let facts = serde_json::to_string(&AnswerFacts {
        classification: &state.vision.classification,
        situation_tags: &state.vision.situation_tags,
        user_input: &state.input.user_input,
        disposal_rules: rules,
    })
    .expect("facts serialize");
    let request = ChatRequest {
        model: &ctx.answer_model,
        messages: [
            ChatMessage {
                role: "system",
                content: ANSWER_INSTRUCTIONS,
            },
            ChatMessage {
                role: "user",
                content: &facts,
            },
        ],
        response_format: ResponseFormat {
            kind: "json_schema",
            json_schema: JsonSchemaFormat::nested("disposal_answer", &DISPOSAL_ANSWER, false),
        },
    };
    let answer: ChatAnswer = ctx
        .openai
        .post(
            Call::Answer,
            &ctx.answer_model,
            "/chat/completions",
            &request,
        )
        .await?;
    let text = answer.content().ok_or_else(|| StageError::Malformed {
        schema: "disposal_answer",
        reason: "no message content in the first choice".into(),
    })?;
    parse_structured(text, "disposal_answer")
}

/// The reward: only for recyclables with rules and no insufficiencies, the first character
/// matching the middle category, whose ownership is then written.
async fn reward(ctx: &Context, state: &ChainState) -> Option<Reward> {
    let c = &state.vision.classification;
    if c.major_category != RECYCLABLE
        || state.rules.is_none()
        || !state.answer.insufficiencies.is_empty()
    {
        return None;
    }
    let middle = &c.middle_category;
    let character = match_character(ctx, middle).await?;
    tokio::time::sleep(draw(&ctx.ownership_write)).await;
    ctx.ownership.record(&state.input.user_id, &character);
    Some(character.reward(middle))
}

async fn match_character(ctx: &Context, middle: &str) -> Option<Character> {
    let Some((pool, hop)) = &ctx.character_pool else {
        return ctx.catalog.find(middle).cloned();
    };
    // Eco² asked a character-match worker over the broker, with a 10 s timeout.
    let ask = async {
        tokio::time::sleep(draw(hop)).await;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let middle = middle.to_string();
        let catalog = ctx.catalog.clone();
        pool.submit(Box::new(move || {
            Box::pin(async move {
                let _ = reply.send(catalog.find(&middle).cloned());
            })
        }))
        .await;
        answer.await.ok().flatten()
    };
    tokio::time::timeout(ctx.character_match_timeout, ask)
        .await
        .ok()
        .flatten()
}

fn parse_structured<T: serde::de::DeserializeOwned>(
    text: &str,
    schema: &'static str,
) -> Result<T, StageError> {
    serde_json::from_str(text).map_err(|e| StageError::Malformed {
        schema,
        reason: e.to_string(),
    })
}

static WASTE_CLASSIFICATION: LazyLock<Value> = LazyLock::new(waste_classification_schema);
static DISPOSAL_ANSWER: LazyLock<Value> = LazyLock::new(disposal_answer_schema);

fn waste_classification_schema() -> Value {
    let string = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "classification": {
                "type": "object",
                "properties": {
                    "major_category": string,
                    "middle_category": string,
                    "minor_category": string,
                },
                "required": ["major_category", "middle_category", "minor_category"],
                "additionalProperties": false,
            },
            "situation_tags": {"type": "array", "items": string},
            "meta": {
                "type": "object",
                "properties": {"user_input": string},
                "required": ["user_input"],
                "additionalProperties": false,
            },
        },
        "required": ["classification", "situation_tags", "meta"],
        "additionalProperties": false,
    })
}

fn disposal_answer_schema() -> Value {
    let steps: serde_json::Map<String, Value> = (1..=10)
        .map(|i| (format!("step{i}"), json!({"type": "string"})))
        .collect();
    json!({
        "type": "object",
        "properties": {
            "disposal_steps": {
                "type": "object",
                "properties": steps,
                "required": ["step1"],
                "additionalProperties": false,
            },
            "insufficiencies": {"type": "array", "items": {"type": "string"}},
            "user_answer": {"type": "string"},
        },
        "required": ["disposal_steps", "insufficiencies", "user_answer"],
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_follows_eco2() {
        let started: Vec<u8> = Stage::ALL
            .iter()
            .map(|s| s.progress(StageStatus::Started))
            .collect();
        let completed: Vec<u8> = Stage::ALL
            .iter()
            .map(|s| s.progress(StageStatus::Completed))
            .collect();
        assert_eq!(started, [0, 25, 50, 75]);
        assert_eq!(completed, [25, 50, 75, 100]);
    }
}
