//! Every check of a scenario that one field's type cannot make alone, in one place.

use std::collections::BTreeSet;
use std::time::Duration;

pub use scan_config::Invalid;

use crate::error::FieldPath;
use crate::metric::{Metric, MetricKind, Timing};
use crate::scenario::{
    BUILTIN_VARS, EventMatch, Load, Request, Scenario, StageName, StageTimingRule, StreamSpec, Var,
};
use crate::template;
use crate::threshold::MetricKey;

type Check = Result<(), Invalid>;

fn invalid(field: FieldPath, expected: impl Into<String>) -> Invalid {
    Invalid::rule(field, expected)
}

fn ensure(ok: bool, field: impl FnOnce() -> FieldPath, expected: &str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(invalid(field(), expected))
    }
}

impl Scenario {
    /// Checks the whole scenario. A scenario that passes can be run.
    pub fn validate(&self) -> Check {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        ensure(
            name_ok,
            || FieldPath::root("name"),
            "a non-empty name of letters, digits, `-`, `_` and `.` (it names report folders)",
        )?;
        if let Some(target) = &self.target {
            check_http_url(target, FieldPath::root("target"))?;
        }
        if let Some(metrics) = &self.target_metrics
            && metrics != crate::scenario::SERVER_VIEW_OFF
        {
            check_http_url(metrics, FieldPath::root("target_metrics"))?;
        }
        check_time_scale(self.time_scale, FieldPath::root("time_scale"))?;
        self.check_time_scale_owner()?;
        self.check_seed_owner()?;
        check_load(&self.load)?;
        check_request(&self.request)?;
        check_stream(&self.stream)?;
        self.check_thresholds()?;
        self.check_slo()?;
        // The embedded servers' own checks, their fields under their tables.
        self.mock.validate().map_err(|e| e.within("mock"))?;
        self.pipeline.validate().map_err(|e| e.within("pipeline"))?;
        Ok(())
    }

    /// `time_scale` shrinks the latencies the embedded stack injects and every duration of
    /// the run with them; a real system does not shrink, so against one the scenario would
    /// time out early and divide every real latency by the scale.
    fn check_time_scale_owner(&self) -> Check {
        if self.target.is_some() && self.time_scale != 1.0 {
            return Err(invalid(
                FieldPath::root("time_scale"),
                format!(
                    "1 against an external target (this scenario has {}): time_scale scales \
                     the latencies the embedded stack injects, so against a real system it \
                     would shrink every timeout and divide every measured latency by {}; \
                     run it in real time with --time-scale 1",
                    self.time_scale, self.time_scale
                ),
            ));
        }
        // The embedded servers' own time scales are factors on the scenario's.
        check_time_scale(
            self.mock.time_scale,
            FieldPath::root("mock").key("time_scale"),
        )?;
        check_time_scale(
            self.pipeline.time_scale,
            FieldPath::root("pipeline").key("time_scale"),
        )
    }

    /// The scenario's `seed` seeds every draw of a run, the embedded servers' included; a
    /// seed of their own in the scenario would be overwritten, so it is refused.
    fn check_seed_owner(&self) -> Check {
        let owned = "no seed of its own: the scenario's top-level `seed` seeds the embedded \
                     stack (remove this line and set `seed` at the top of the file)";
        ensure(
            self.mock.seed == 0,
            || FieldPath::root("mock").key("seed"),
            owned,
        )?;
        ensure(
            self.pipeline.faults.seed == 0,
            || FieldPath::root("pipeline").key("faults").key("seed"),
            owned,
        )
    }

    fn check_thresholds(&self) -> Check {
        for (key, thresholds) in &self.thresholds {
            let field = || FieldPath::root("thresholds").key(&key.to_string());
            ensure(
                !thresholds.is_empty(),
                field,
                "at least one threshold, e.g. [\"p(95)<8000\"]",
            )?;
            self.check_stage_of(key, field)?;
            let kind = key.metric.kind();
            for (i, threshold) in thresholds.iter().enumerate() {
                if !threshold.aggregate.applies_to(kind) {
                    let allowed = match kind {
                        MetricKind::Trend => "avg, min, max, med or p(N) (milliseconds)",
                        MetricKind::Rate => "rate (a fraction from 0 to 1)",
                        MetricKind::Counter => "count or rate (per second)",
                    };
                    return Err(invalid(
                        field().index(i),
                        format!("`{threshold}` does not apply to `{key}`: expected {allowed}"),
                    ));
                }
            }
            self.check_token_metric(key, field)?;
            if key.metric == Metric::DroppedIterations && self.load.arrival.is_none() {
                return Err(invalid(
                    field(),
                    "an open model ([load.arrival]): only it drops iterations",
                ));
            }
            if matches!(key.metric, Metric::Goodput | Metric::GoodFraction) && self.slo.is_empty() {
                return Err(invalid(
                    field(),
                    "an [slo] table: a request is good when it meets every SLO, e.g. \
                     [slo] chain = \"30s\"",
                ));
            }
        }
        Ok(())
    }

    /// Each objective names a latency that every request's record carries, and a duration a
    /// request can meet.
    fn check_slo(&self) -> Check {
        for (key, objective) in &self.slo {
            let field = || FieldPath::root("slo").key(&key.to_string());
            if !per_request_latency(key.metric) {
                let latencies: Vec<String> = Metric::ALL
                    .into_iter()
                    .filter(|m| per_request_latency(*m))
                    .map(|m| match m {
                        Metric::StageDuration => "stage_duration{stage:NAME}".to_owned(),
                        m => m.name().to_owned(),
                    })
                    .collect();
                let why = match key.metric.kind() {
                    MetricKind::Trend => "is not measured per request",
                    MetricKind::Rate | MetricKind::Counter => "is no latency",
                };
                return Err(invalid(
                    field(),
                    format!(
                        "a latency measured per request ({}); `{key}` {why}",
                        latencies.join(", ")
                    ),
                ));
            }
            self.check_stage_of(key, field)?;
            self.check_token_metric(key, field)?;
            ensure(
                !objective.is_zero(),
                field,
                "a duration above 0, e.g. \"30s\" (modelled time, as thresholds)",
            )?;
        }
        Ok(())
    }

    /// A token metric (`ttft`, `itl`, `tpot`) is set on a token stream: no other measures it.
    fn check_token_metric(&self, key: &MetricKey, field: impl Fn() -> FieldPath) -> Check {
        let is_token_metric = key
            .metric
            .timing()
            .is_some_and(|t| Timing::TOKENS.contains(&t));
        if is_token_metric && self.stream.tokens.is_none() {
            return Err(invalid(
                field(),
                "a token stream ([stream.tokens]): only it measures ttft, itl and tpot",
            ));
        }
        Ok(())
    }

    /// A `{stage:NAME}` tag names a stage of the stream.
    fn check_stage_of(&self, key: &MetricKey, field: impl Fn() -> FieldPath) -> Check {
        let Some(stage) = &key.stage else {
            return Ok(());
        };
        if self.stream.stages.contains(stage) {
            return Ok(());
        }
        let stages = match self.stream.stages.as_slice() {
            [] => "none: the stream has no stages".to_owned(),
            stages => stages.join(", "),
        };
        Err(invalid(
            field(),
            format!("a stage of stream.stages ({stages}); `{stage}` is not one"),
        ))
    }
}

/// Whether `metric` is a latency each request's record carries, which an `[slo]` can judge
/// requests by: a timing measured per request, or a stage's duration.
fn per_request_latency(metric: Metric) -> bool {
    match (metric.kind(), metric.timing()) {
        (MetricKind::Trend, Some(timing)) => timing.per_request(),
        (MetricKind::Trend, None) => metric == Metric::StageDuration,
        (MetricKind::Rate | MetricKind::Counter, _) => false,
    }
}

/// Every time scale of a scenario, its own and the embedded servers' factors on it, takes the
/// same values.
fn check_time_scale(value: f64, field: FieldPath) -> Check {
    ensure(
        value.is_finite() && value > 0.0,
        || field,
        "a number greater than 0 (1 = real time, 0.05 = twenty times faster)",
    )
}

fn check_http_url(text: &str, field: FieldPath) -> Check {
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(()),
        _ => Err(invalid(
            field,
            format!("an http(s) URL such as `http://127.0.0.1:8000`, not `{text}`"),
        )),
    }
}

fn check_load(load: &Load) -> Check {
    let field = |name: &str| FieldPath::root("load").key(name);
    match (&load.arrival, load.stages.is_empty()) {
        (Some(_), false) => {
            return Err(invalid(
                field("arrival"),
                "one load model: either `stages` (closed, virtual users) or `[load.arrival]` \
                 (open, arrival rate), not both",
            ));
        }
        (None, true) => {
            return Err(invalid(
                field("stages"),
                "at least one stage, e.g. stages = [{ duration = \"60s\", target = 34 }] (or an \
                 open model in [load.arrival])",
            ));
        }
        (None, false) => {
            let total: Duration = load.stages.iter().map(|s| s.duration).sum();
            ensure(
                !total.is_zero(),
                || field("stages"),
                "stages whose durations add up to more than 0",
            )?;
            ensure(
                load.peak_vus() > 0,
                || field("stages"),
                "a stage whose target is at least 1 virtual user",
            )?;
        }
        (Some(arrival), true) => {
            let at = FieldPath::root("load").key("arrival");
            ensure(
                !arrival.stages.is_empty(),
                || at.key("stages"),
                "at least one stage, e.g. stages = [{ duration = \"60s\", target = 20.0 }] (requests/s)",
            )?;
            for (i, stage) in arrival.stages.iter().enumerate() {
                ensure(
                    stage.target.is_finite() && stage.target >= 0.0,
                    || at.key("stages").index(i).key("target"),
                    "a rate of requests per second >= 0",
                )?;
            }
            let total: Duration = arrival.stages.iter().map(|s| s.duration).sum();
            ensure(
                !total.is_zero(),
                || at.key("stages"),
                "stages whose durations add up to more than 0",
            )?;
            ensure(
                arrival.start_rate.is_finite() && arrival.start_rate >= 0.0,
                || at.key("start_rate"),
                "a rate of requests per second >= 0",
            )?;
            ensure(
                arrival.max_vus > 0,
                || at.key("max_vus"),
                "at least 1 virtual user",
            )?;
            ensure(
                arrival.pre_allocated_vus <= arrival.max_vus,
                || at.key("pre_allocated_vus"),
                "at most max_vus",
            )?;
        }
    }
    ensure(
        !load.request_timeout.is_zero(),
        || field("request_timeout"),
        "a duration above 0, e.g. \"120s\"",
    )?;
    ensure(
        !load.idle_timeout.is_zero(),
        || field("idle_timeout"),
        "a duration above 0, e.g. \"30s\"",
    )?;
    Ok(())
}

fn check_request(request: &Request) -> Check {
    let field = |name: &str| FieldPath::root("request").key(name);
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    ensure(
        token(&request.method) && request.method.bytes().all(|b| !b.is_ascii_lowercase()),
        || field("method"),
        "an HTTP method in capitals, e.g. \"POST\"",
    )?;
    ensure(
        request.path.starts_with('/'),
        || field("path"),
        "a path starting with `/`",
    )?;
    for (name, var) in &request.vars {
        let at = || field("vars").key(name);
        ensure(
            !BUILTIN_VARS.contains(&name.as_str()),
            at,
            "a name other than the built-ins `vu` and `iteration`",
        )?;
        if let Var::OneOf { values } | Var::Cycle { values } = var {
            ensure(
                !values.is_empty(),
                || at().key("values"),
                "at least one value",
            )?;
        }
    }
    let known = |name: &str| {
        BUILTIN_VARS.contains(&name)
            || request.vars.contains_key(name)
            || template::env_var(name).is_some()
    };
    let unknown = |text: &str| {
        template::placeholders(text)
            .find(|name| !known(name))
            .map(str::to_owned)
    };
    // Read when the run starts: a missing one is refused before anything runs.
    let unset_env = |text: &str| {
        template::placeholders(text)
            .filter_map(template::env_var)
            .find(|var| std::env::var_os(var).is_none())
            .map(|var| {
                format!(
                    "the environment variable {var} (named by `{{{{env:{var}}}}}`) to be set; \
                     it is not"
                )
            })
    };
    let expected = |name: String| {
        let mut names: BTreeSet<&str> = request.vars.keys().map(String::as_str).collect();
        names.extend(BUILTIN_VARS);
        format!(
            "placeholders naming a variable of request.vars, a built-in ({}) or an environment \
             variable as {{{{env:NAME}}}}; `{{{{{name}}}}}` is none",
            names.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    for (header, value) in &request.headers {
        ensure(
            token(header),
            || field("headers").key(header),
            "a header name (an HTTP token)",
        )?;
        if let Some(name) = unknown(value) {
            return Err(invalid(field("headers").key(header), expected(name)));
        }
        if let Some(message) = unset_env(value) {
            return Err(invalid(field("headers").key(header), message));
        }
    }
    if let Some(body) = &request.body {
        let mut strings = Vec::new();
        template::json_strings(body, &mut strings);
        if let Some(name) = strings.iter().copied().find_map(unknown) {
            return Err(invalid(field("body"), expected(name)));
        }
        if let Some(message) = strings.into_iter().find_map(unset_env) {
            return Err(invalid(field("body"), message));
        }
    }
    Ok(())
}

fn check_stream(stream: &StreamSpec) -> Check {
    let field = |name: &str| FieldPath::root("stream").key(name);
    ensure(
        stream.stages.iter().all(|s| !s.is_empty()),
        || field("stages"),
        "stage names that are not empty (or `stages = []` for a stream without stages)",
    )?;
    let unique: BTreeSet<_> = stream.stages.iter().collect();
    ensure(
        unique.len() == stream.stages.len(),
        || field("stages"),
        "distinct stage names",
    )?;
    let pointer = |p: &str| p.is_empty() || p.starts_with('/');
    const POINTER: &str = "a JSON pointer such as \"/step\" (RFC 6901)";
    match &stream.stage_name {
        StageName::Pointer(p) => ensure(
            pointer(p),
            || field("stage_name"),
            "\"event\" (the SSE event name is the stage) or a JSON pointer into the data such \
             as \"/step\" (RFC 6901)",
        )?,
        StageName::Event => ensure(
            stream.stage_event.is_none(),
            || field("stage_event"),
            "no stage_event with stage_name = \"event\": every event's name is read as a stage",
        )?,
    }
    if stream.stage_timing == StageTimingRule::Status {
        ensure(
            pointer(&stream.status_field),
            || field("status_field"),
            POINTER,
        )?;
        for (name, values) in [
            ("started", &stream.started),
            ("completed", &stream.completed),
        ] {
            ensure(
                !values.is_empty(),
                || field(name),
                "at least one status value (or stage_timing = \"since-previous\" for stages \
                 reported by one event each, without a status)",
            )?;
        }
    }
    ensure(
        !stream.terminal.is_empty(),
        || field("terminal"),
        "at least one event that ends a run",
    )?;
    for (name, matches) in [("terminal", &stream.terminal), ("error", &stream.error)] {
        for (i, m) in matches.iter().enumerate() {
            check_event_match(m, field(name).index(i))?;
        }
    }
    for (i, p) in stream.null_checks.iter().enumerate() {
        ensure(pointer(p), || field("null_checks").index(i), POINTER)?;
    }
    ensure(
        stream.max_event_bytes > 0,
        || field("max_event_bytes"),
        "a size in bytes above 0, e.g. 1048576 (1 MiB)",
    )?;
    if let Some(tokens) = &stream.tokens {
        let field = |name: &str| field("tokens").key(name);
        for (name, p) in [("content", &tokens.content), ("usage", &tokens.usage)] {
            ensure(
                p.starts_with('/'),
                || field(name),
                "a JSON pointer into the data such as \"/choices/0/delta/content\" (RFC 6901)",
            )?;
        }
        ensure(
            tokens.event.as_ref().is_none_or(|e| !e.is_empty()),
            || field("event"),
            "an SSE event name such as \"response.output_text.delta\", or no `event` for any",
        )?;
        ensure(
            tokens.buffered_min_chunks >= 2,
            || field("buffered_min_chunks"),
            "at least 2 content chunks (one chunk alone says nothing about buffering)",
        )?;
        ensure(
            tokens.buffered_after > tokens.buffered_within,
            || field("buffered_after"),
            "a wait longer than `buffered_within`, e.g. \"50ms\"",
        )?;
    }
    Ok(())
}

fn check_event_match(m: &EventMatch, at: FieldPath) -> Check {
    ensure(
        m.event.is_some() || m.data.is_some() || !m.fields.is_empty(),
        || at.clone(),
        "an `event` name, `data`, `fields`, or several, e.g. { event = \"ready\" }",
    )?;
    for (pointer, values) in &m.fields {
        let field = || at.key("fields").key(pointer);
        ensure(
            pointer.starts_with('/'),
            field,
            "JSON pointers as keys, e.g. \"/status\"",
        )?;
        ensure(!values.is_empty(), field, "at least one value")?;
    }
    Ok(())
}
