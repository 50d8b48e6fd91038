//! Aggregation of request records: HDR histograms per metric and stage, outcome counts and a
//! per-second time series.
//!
//! Virtual users never share a lock: each finished request goes over a channel to one
//! collector task that owns every histogram, and the few live gauges are atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reports::histogram::{Latency, new_latency};
use reports::{CountMetric, LatencyMetric, NullCount, SecondSample, TokenStats, Totals};
use scenarios::Timing;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::live::LiveMetrics;
use crate::record::{Outcome, RequestRecord};
use crate::slo::Slos;

/// Live gauges the users update directly.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Virtual users in their iteration loop.
    pub active_vus: AtomicU64,
    /// Requests sent whose stream has not ended.
    pub open_streams: AtomicU64,
}

/// What users tell the collector.
#[derive(Debug)]
enum Message {
    /// A request ended; with when it was meant to start and when a user started it.
    Finished {
        started_at: Duration,
        began_at: Duration,
        /// Boxed: a token stream's record is large beside the other messages.
        record: Box<RequestRecord>,
    },
    /// A new connection took this long to set up.
    Connected(Duration),
    /// An open-model request started this late against its intended start.
    Lagged(Duration),
    /// An open-model arrival due at this time (from the run's start) found no free user.
    Dropped(Duration),
    /// The open model's target rate in the second starting at this time.
    TargetRate { at: Duration, rate: f64 },
}

/// The users' handle to the collector: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Message>,
    gauges: Arc<Gauges>,
}

impl Recorder {
    /// Hands a finished request to the collector: `started_at` is when it was meant to start
    /// (its latencies count from there), `began_at` when a user actually started it; both
    /// from the run's start, and the same in the closed model.
    pub fn record(&self, started_at: Duration, began_at: Duration, record: RequestRecord) {
        // The collector outlives every user; a send after it stopped has nowhere to go.
        let _ = self.tx.send(Message::Finished {
            started_at,
            began_at,
            record: Box::new(record),
        });
    }

    /// Records how late a request started against its intended start.
    pub fn lagged(&self, late: Duration) {
        let _ = self.tx.send(Message::Lagged(late));
    }

    /// Counts an arrival, due `due` after the run's start, that found no free user.
    pub fn dropped(&self, due: Duration) {
        let _ = self.tx.send(Message::Dropped(due));
    }

    /// Notes the open model's target rate for the second starting `at` after the start.
    pub fn target_rate(&self, at: Duration, rate: f64) {
        let _ = self.tx.send(Message::TargetRate { at, rate });
    }

    /// Hands a connection's set-up time to the collector.
    pub fn connected(&self, took: Duration) {
        let _ = self.tx.send(Message::Connected(took));
    }

    /// The live gauges.
    pub fn gauges(&self) -> &Gauges {
        &self.gauges
    }
}

/// What the progress display shows, refreshed by the collector.
#[derive(Debug, Clone, Default)]
pub struct LiveView {
    /// Requests ended so far.
    pub ended: u64,
    /// Of which completed.
    pub completed: u64,
    /// Of which failed.
    pub failed: u64,
    /// Chain p50 and p95 so far, ms.
    pub chain_p50_p95: Option<(f64, f64)>,
    /// TTFB p50 and p95 so far, ms.
    pub ttfb_p50_p95: Option<(f64, f64)>,
    /// How late the progress timer fired last: the load generator's own scheduling lag.
    pub timer_lag: Duration,
}

fn micros(d: Duration) -> u64 {
    d.as_micros().min(u128::from(u64::MAX)) as u64
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Measurements {
    /// Outcome counts.
    pub totals: Totals,
    /// Every timing measured, `connect` per new connection; `scheduling_lag` in the open
    /// model only.
    pub latencies: Vec<(Timing, Latency)>,
    /// Per stage, in stream order.
    pub stages: Vec<(String, Latency)>,
    /// Nulls per checked pointer.
    pub nulls: Vec<NullCount>,
    /// Per second.
    pub timeseries: Vec<SecondSample>,
    /// Requests that completed and met every SLO, of all `totals.attempted`; `None` when the
    /// scenario has no SLOs.
    pub good: Option<u64>,
    /// Token streams only: the token counts (their latencies are in `latencies`).
    pub tokens: Option<TokenCounts>,
}

/// Per-request output token counts and rates, before the run's duration is known.
#[derive(Debug)]
pub struct TokenCounts {
    streams: u64,
    from_usage: u64,
    total: u64,
    buffered: u64,
    /// Output tokens per request, as is.
    output_tokens: Latency,
    /// Output tokens per second per request, in thousandths.
    tokens_per_s: Latency,
}

/// What [`TokenCounts::tokens_per_s`] holds per token per second.
const RATE_SCALE: f64 = 1000.0;

impl TokenCounts {
    fn new() -> Self {
        Self {
            streams: 0,
            from_usage: 0,
            total: 0,
            buffered: 0,
            output_tokens: new_latency(),
            tokens_per_s: new_latency(),
        }
    }

    /// The report's section of a run that lasted `duration_s` seconds.
    pub fn stats(&self, duration_s: f64) -> TokenStats {
        TokenStats {
            streams: self.streams,
            from_usage: self.from_usage,
            output_tokens_total: self.total,
            output_tokens: CountMetric::new(&self.output_tokens, 1.0),
            tokens_per_s: CountMetric::new(&self.tokens_per_s, RATE_SCALE),
            run_tokens_per_s: (duration_s > 0.0).then(|| self.total as f64 / duration_s),
            buffered: self.buffered,
        }
    }
}

/// The token latencies' histograms.
#[derive(Debug)]
struct TokenLatencies {
    ttft: Latency,
    itl: Latency,
    tpot: Latency,
    chunk_gap: Latency,
    counts: TokenCounts,
}

impl Measurements {
    /// The latency metrics as report entries.
    pub fn latency_metrics(&self) -> Vec<LatencyMetric> {
        self.latencies
            .iter()
            .map(|(timing, h)| LatencyMetric::new(timing.name(), timing.k6_name(), h))
            .collect()
    }

    /// The stage metrics as report entries.
    pub fn stage_metrics(&self) -> Vec<LatencyMetric> {
        self.stages
            .iter()
            .map(|(name, h)| LatencyMetric::new(name, None, h))
            .collect()
    }
}

#[derive(Debug, Default)]
struct Second {
    started: u64,
    started_actual: u64,
    completed: u64,
    failed: u64,
    partial: u64,
    active_vus: u32,
    open_streams: u64,
    ttfb: Option<Latency>,
    chain: Option<Latency>,
    dropped: u64,
    target_rate: Option<f64>,
}

/// Owns the histograms; runs as one task until every [`Recorder`] is dropped.
pub struct Collector {
    rx: mpsc::UnboundedReceiver<Message>,
    gauges: Arc<Gauges>,
    live: Arc<Mutex<LiveView>>,
    live_metrics: Option<Arc<LiveMetrics>>,
    totals: Totals,
    connect: Latency,
    scheduling_lag: Option<Latency>,
    headers: Latency,
    ttfb: Latency,
    first_stage: Latency,
    chain: Latency,
    total: Latency,
    stages: Vec<(String, Latency)>,
    tokens: Option<TokenLatencies>,
    null_pointers: Vec<String>,
    nulls: Vec<u64>,
    terminal_events: u64,
    seconds: Vec<Second>,
    slos: Option<Slos>,
    good: u64,
}

impl Collector {
    /// A collector for a stream of `stages` with `null_checks` pointers (and the token
    /// metrics when it carries `tokens`), judging each request against `slos` when the
    /// scenario has any, and the recorder that feeds it.
    pub fn new(
        stages: &[String],
        null_checks: &[String],
        tokens: bool,
        slos: Option<Slos>,
        live_metrics: Option<Arc<LiveMetrics>>,
    ) -> (Self, Recorder) {
        let (tx, rx) = mpsc::unbounded_channel();
        let gauges = Arc::new(Gauges::default());
        let collector = Self {
            rx,
            gauges: gauges.clone(),
            live: Arc::default(),
            live_metrics,
            totals: Totals::default(),
            connect: new_latency(),
            scheduling_lag: None,
            headers: new_latency(),
            ttfb: new_latency(),
            first_stage: new_latency(),
            chain: new_latency(),
            total: new_latency(),
            stages: stages.iter().map(|s| (s.clone(), new_latency())).collect(),
            tokens: tokens.then(|| TokenLatencies {
                ttft: new_latency(),
                itl: new_latency(),
                tpot: new_latency(),
                chunk_gap: new_latency(),
                counts: TokenCounts::new(),
            }),
            null_pointers: null_checks.to_vec(),
            nulls: vec![0; null_checks.len()],
            terminal_events: 0,
            seconds: Vec::new(),
            slos,
            good: 0,
        };
        (collector, Recorder { tx, gauges })
    }

    /// The live view the collector keeps fresh.
    pub fn live(&self) -> Arc<Mutex<LiveView>> {
        self.live.clone()
    }

    /// Collects until `closed` fires (then drains what was sent) or every recorder is gone,
    /// sampling gauges each second from `start`.
    pub async fn run(
        mut self,
        start: tokio::time::Instant,
        closed: CancellationToken,
    ) -> Measurements {
        let mut tick =
            tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut refresh = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(message) => self.take(message),
                    None => break,
                },
                _ = closed.cancelled() => {
                    while let Ok(message) = self.rx.try_recv() {
                        self.take(message);
                    }
                    break;
                }
                now = tick.tick() => self.sample((now - start).as_secs_f64().round() as usize),
                _ = refresh.tick() => self.refresh_live(),
            }
        }
        self.refresh_live();
        self.finish()
    }

    fn second(&mut self, index: usize) -> &mut Second {
        if self.seconds.len() <= index {
            self.seconds.resize_with(index + 1, Second::default);
        }
        &mut self.seconds[index]
    }

    /// Gauges at the end of second `index` (1-based: the first sample closes second 0).
    fn sample(&mut self, index: usize) {
        let active = self.gauges.active_vus.load(Ordering::Relaxed) as u32;
        let open = self.gauges.open_streams.load(Ordering::Relaxed);
        let second = self.second(index.saturating_sub(1));
        second.active_vus = active;
        second.open_streams = open;
    }

    fn take(&mut self, message: Message) {
        if let Some(live) = &self.live_metrics {
            match &message {
                Message::Finished { record, .. } => live.finished(record),
                Message::Lagged(late) => live.lagged(*late),
                Message::Dropped(_) => live.dropped(),
                Message::Connected(_) | Message::TargetRate { .. } => {}
            }
        }
        match message {
            Message::Finished {
                started_at,
                began_at,
                record,
            } => {
                self.second(began_at.as_secs() as usize).started_actual += 1;
                self.add(started_at, *record);
            }
            Message::Connected(took) => {
                self.connect
                    .record(micros(took))
                    .expect("an auto-resizing histogram takes any u64");
            }
            Message::Lagged(late) => {
                let lag = self.scheduling_lag.get_or_insert_with(new_latency);
                lag.record(micros(late))
                    .expect("an auto-resizing histogram takes any u64");
            }
            Message::Dropped(due) => {
                self.totals.dropped += 1;
                self.second(due.as_secs() as usize).dropped += 1;
            }
            Message::TargetRate { at, rate } => {
                self.second(at.as_secs() as usize).target_rate = Some(rate);
            }
        }
    }

    fn add(&mut self, started_at: Duration, record: RequestRecord) {
        let us = micros;
        let t = &mut self.totals;
        t.attempted += 1;
        t.keepalives += u64::from(record.keepalives);
        t.bytes += record.bytes;
        if record.is_http_failure() {
            t.http_failed += 1;
        }
        if self.slos.as_ref().is_some_and(|slos| slos.is_good(&record)) {
            self.good += 1;
        }
        match record.outcome {
            Outcome::Completed => t.completed += 1,
            Outcome::Partial => t.partial += 1,
            Outcome::Interrupted => t.interrupted += 1,
            Outcome::Failed(class) => *t.failed.entry(class.label()).or_default() += 1,
        }
        for (value, h) in [
            (record.headers, &mut self.headers),
            (record.ttfb, &mut self.ttfb),
            (record.first_stage, &mut self.first_stage),
            (record.total(), &mut self.total),
        ] {
            if let Some(d) = value {
                h.record(us(d))
                    .expect("an auto-resizing histogram takes any u64");
            }
        }
        if record.outcome == Outcome::Completed
            && let Some(d) = record.chain
        {
            self.chain
                .record(us(d))
                .expect("an auto-resizing histogram takes any u64");
        }
        for ((_, h), timing) in self.stages.iter_mut().zip(&record.stages) {
            if let Some(d) = timing.duration() {
                h.record(us(d))
                    .expect("an auto-resizing histogram takes any u64");
            }
        }
        if let Some(tokens) = &mut self.tokens {
            add_tokens(tokens, &record);
        }
        if record.chain.is_some() {
            self.terminal_events += 1;
            for (i, n) in self.nulls.iter_mut().enumerate() {
                if record.nulls & (1 << i) != 0 {
                    *n += 1;
                }
            }
        }
        self.second(started_at.as_secs() as usize).started += 1;
        let ended = self.second((started_at + record.ended).as_secs() as usize);
        match record.outcome {
            Outcome::Completed => ended.completed += 1,
            Outcome::Partial => ended.partial += 1,
            Outcome::Failed(_) => ended.failed += 1,
            Outcome::Interrupted => {}
        }
        if let Some(d) = record.ttfb {
            ended
                .ttfb
                .get_or_insert_with(new_latency)
                .record(us(d))
                .expect("an auto-resizing histogram takes any u64");
        }
        if let (Outcome::Completed, Some(d)) = (record.outcome, record.chain) {
            ended
                .chain
                .get_or_insert_with(new_latency)
                .record(us(d))
                .expect("an auto-resizing histogram takes any u64");
        }
    }

    fn refresh_live(&mut self) {
        if let Some(live) = &self.live_metrics {
            live.active_vus
                .set(self.gauges.active_vus.load(Ordering::Relaxed) as i64);
        }
        let p = |h: &Latency| {
            (!h.is_empty()).then(|| {
                (
                    h.value_at_quantile(0.5) as f64 / 1000.0,
                    h.value_at_quantile(0.95) as f64 / 1000.0,
                )
            })
        };
        let view = LiveView {
            ended: self.totals.attempted,
            completed: self.totals.completed,
            failed: self.totals.failed_total(),
            chain_p50_p95: p(&self.chain),
            ttfb_p50_p95: p(&self.ttfb),
            timer_lag: Duration::ZERO,
        };
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) = view;
    }

    fn finish(self) -> Measurements {
        let quantile = |h: &Option<Latency>, q: f64| {
            h.as_ref().map(|h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        let timeseries = self
            .seconds
            .iter()
            .enumerate()
            .map(|(t, s)| SecondSample {
                t: t as u32,
                active_vus: s.active_vus,
                started: s.started,
                completed: s.completed,
                failed: s.failed,
                partial: s.partial,
                open_streams: s.open_streams,
                ttfb_p50: quantile(&s.ttfb, 0.5),
                ttfb_p95: quantile(&s.ttfb, 0.95),
                chain_p50: quantile(&s.chain, 0.5),
                chain_p95: quantile(&s.chain, 0.95),
                dropped: s.dropped,
                target_rate: s.target_rate,
                started_actual: s.started_actual,
            })
            .collect();
        let nulls = self
            .null_pointers
            .iter()
            .zip(&self.nulls)
            .map(|(pointer, n)| NullCount {
                pointer: pointer.clone(),
                nulls: *n,
                of: self.terminal_events,
            })
            .collect();
        let mut latencies = vec![
            (Timing::Connect, self.connect),
            (Timing::Headers, self.headers),
            (Timing::Ttfb, self.ttfb),
            (Timing::FirstStage, self.first_stage),
            (Timing::Chain, self.chain),
            (Timing::Total, self.total),
        ];
        if let Some(lag) = self.scheduling_lag {
            latencies.push((Timing::SchedulingLag, lag));
        }
        let tokens = self.tokens.map(|t| {
            latencies.extend([
                (Timing::Ttft, t.ttft),
                (Timing::Itl, t.itl),
                (Timing::Tpot, t.tpot),
                (Timing::ChunkGap, t.chunk_gap),
            ]);
            t.counts
        });
        Measurements {
            totals: self.totals,
            latencies,
            stages: self.stages,
            nulls,
            timeseries,
            good: self.slos.is_some().then_some(self.good),
            tokens,
        }
    }
}

/// A request's token figures: `ttft` and the buffered count for every request with content,
/// the rest for completed ones (they need the terminal event's time, the e2e).
fn add_tokens(t: &mut TokenLatencies, record: &RequestRecord) {
    let rec = &record.tokens;
    let record_us = |h: &mut Latency, d: Duration| {
        h.record(micros(d))
            .expect("an auto-resizing histogram takes any u64");
    };
    if let Some(first) = rec.first {
        record_us(&mut t.ttft, first);
    }
    if rec.buffered {
        t.counts.buffered += 1;
    }
    if record.outcome != Outcome::Completed {
        return;
    }
    let Some(f) = record.token_figures() else {
        return;
    };
    let c = &mut t.counts;
    c.streams += 1;
    c.from_usage += u64::from(rec.usage.is_some());
    c.total += f.tokens;
    c.output_tokens
        .record(f.tokens)
        .expect("an auto-resizing histogram takes any u64");
    if let Some(rate) = f.tokens_per_s {
        c.tokens_per_s
            .record((rate * RATE_SCALE).round() as u64)
            .expect("an auto-resizing histogram takes any u64");
    }
    if let Some(itl) = f.itl {
        record_us(&mut t.itl, itl);
    }
    record_us(&mut t.tpot, f.tpot);
    for &gap in &rec.gaps_us {
        t.chunk_gap
            .record(u64::from(gap))
            .expect("an auto-resizing histogram takes any u64");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{FailureClass, StageTiming};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[tokio::test]
    async fn aggregates_outcomes_histograms_and_seconds() {
        let stages = vec!["a".to_owned(), "b".to_owned()];
        let slo = [("chain".parse().unwrap(), ms(90))].into();
        let slos = Slos::new(&slo, &stages, 1.0);
        let (collector, recorder) = Collector::new(&stages, &["/r".to_owned()], false, slos, None);
        let mut done = RequestRecord::new(2);
        done.headers = Some(ms(5));
        done.ttfb = Some(ms(10));
        done.first_stage = Some(ms(12));
        done.stages = vec![
            StageTiming {
                started: Some(ms(12)),
                completed: Some(ms(40)),
            },
            StageTiming {
                started: Some(ms(40)),
                completed: Some(ms(90)),
            },
        ];
        done.chain = Some(ms(90));
        done.nulls = 1;
        done.outcome = Outcome::Completed;
        done.ended = ms(95);
        let mut failed = RequestRecord::new(2);
        failed.outcome = Outcome::Failed(FailureClass::HttpStatus(503));
        failed.ended = ms(1);
        recorder.record(ms(100), ms(100), done.clone());
        // Meant for second 1, started late in second 2 (the open model).
        recorder.record(ms(1_950), ms(2_050), done);
        recorder.record(ms(2_100), ms(2_100), failed);
        drop(recorder);
        let m = collector
            .run(tokio::time::Instant::now(), CancellationToken::new())
            .await;
        assert_eq!(
            (m.totals.attempted, m.totals.completed, m.totals.http_failed),
            (3, 2, 1)
        );
        assert_eq!(m.totals.failed.get("http_503"), Some(&1));
        assert_eq!(
            m.good,
            Some(2),
            "both completed at the chain SLO, the failure not"
        );
        let chain = &m.latencies[4].1;
        assert_eq!(chain.len(), 2);
        assert_eq!(
            chain.value_at_quantile(1.0),
            chain.highest_equivalent(90_000)
        );
        assert_eq!(m.stages[1].1.len(), 2);
        assert_eq!(m.nulls[0].nulls, 2);
        let started: Vec<_> = m.timeseries.iter().map(|s| s.started).collect();
        assert_eq!(started, [1, 1, 1], "by intended start");
        let started_actual: Vec<_> = m.timeseries.iter().map(|s| s.started_actual).collect();
        assert_eq!(started_actual, [1, 0, 2], "by actual start");
        let completed: Vec<_> = m.timeseries.iter().map(|s| s.completed).collect();
        assert_eq!(completed, [1, 0, 1], "the second request ends in second 2");
    }

    #[tokio::test]
    async fn token_figures_are_collected_only_for_token_streams() {
        let mut record = RequestRecord::new(0);
        for i in 0..4 {
            record.tokens.chunk(ms(200 + 20 * i));
        }
        record.chain = Some(ms(260));
        record.outcome = Outcome::Completed;
        let mut buffered = record.clone();
        buffered.tokens.buffered = true;
        let mut cut = record.clone();
        cut.outcome = Outcome::Failed(FailureClass::StreamReset);

        let (collector, recorder) = Collector::new(&[], &[], true, None, None);
        for r in [record.clone(), buffered, cut] {
            recorder.record(ms(0), ms(0), r);
        }
        drop(recorder);
        let m = collector
            .run(tokio::time::Instant::now(), CancellationToken::new())
            .await;
        let latency = |timing| &m.latencies.iter().find(|(t, _)| *t == timing).unwrap().1;
        assert_eq!(latency(Timing::Ttft).len(), 3, "every request with content");
        assert_eq!(latency(Timing::Itl).len(), 2, "completed ones only");
        assert_eq!(
            latency(Timing::Itl).value_at_quantile(0.5),
            latency(Timing::Itl).highest_equivalent(20_000)
        );
        assert_eq!(
            latency(Timing::Tpot).value_at_quantile(0.5),
            latency(Timing::Tpot).highest_equivalent(65_000)
        );
        assert_eq!(latency(Timing::ChunkGap).len(), 6, "three gaps each");
        let stats = m.tokens.unwrap().stats(2.0);
        assert_eq!((stats.streams, stats.from_usage, stats.buffered), (2, 0, 1));
        assert_eq!(stats.output_tokens_total, 8);
        assert_eq!(stats.run_tokens_per_s, Some(4.0));
        assert_eq!(stats.output_tokens.summary.p50, 4.0);
        assert!((stats.tokens_per_s.summary.p50 - 4.0 / 0.26).abs() < 0.02);

        // The same request on a stream without `[stream.tokens]`: nothing new.
        let (collector, recorder) = Collector::new(&[], &[], false, None, None);
        recorder.record(ms(0), ms(0), record);
        drop(recorder);
        let m = collector
            .run(tokio::time::Instant::now(), CancellationToken::new())
            .await;
        assert!(m.tokens.is_none());
        assert!(m.latencies.iter().all(|(t, _)| !Timing::TOKENS.contains(t)));
    }
}
