//! Rate limits: the `rate_limit` table ([`RateLimitConfig`]), and the per-key token buckets
//! for requests and tokens that enforce it, with OpenAI's headers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, HeaderValue};
use scan_config::{FieldPath, Invalid};
use serde::{Deserialize, Serialize};

/// Rate limits per API key, as token buckets that refill continuously (OpenAI's semantics):
/// a bucket holds `rpm` requests (`tpm` tokens) and refills at that amount per `window`.
/// A request costs one request and `max(prompt tokens, max_tokens)` tokens (estimated from its
/// size, as OpenAI does before generating). Both limits must allow it, else 429.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Requests per window; absent = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per window; absent = unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// The window (one minute, like the names say); scaled by `time_scale`, so a scenario run
    /// 100 times faster also meets the limit 100 times sooner.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            rpm: None,
            tpm: None,
            window: Duration::from_secs(60),
        }
    }
}

impl RateLimitConfig {
    /// Whether any limit is set.
    pub fn is_enabled(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some()
    }
}

impl RateLimitConfig {
    /// Checks that a limit, when set, allows something, and the window.
    pub fn validate(&self) -> Result<(), Invalid> {
        let field = FieldPath::root;
        for (name, limit) in [("rpm", self.rpm), ("tpm", self.tpm)] {
            if limit == Some(0) {
                return Err(Invalid::new(
                    field(name),
                    "a count > 0 (omit it for no limit)",
                    0,
                ));
            }
        }
        if self.window.is_zero() {
            return Err(Invalid::new(
                field("window"),
                "a duration > 0 such as \"1m\"",
                "0s",
            ));
        }
        Ok(())
    }
}

/// Keys with full buckets are forgotten when more than this many are tracked (clients may send
/// any key when none are configured).
const MAX_TRACKED_KEYS: usize = 10_000;

pub(crate) struct RateLimiter {
    requests: Option<f64>,
    tokens: Option<f64>,
    window: Duration,
    buckets: Mutex<HashMap<String, Buckets>>,
}

#[derive(Clone, Copy)]
struct Buckets {
    requests: f64,
    tokens: f64,
    updated: Instant,
}

/// A refusal: which limit, and when to retry.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub limit: &'static str,
    pub retry_after: Duration,
    pub message: String,
}

impl RateLimiter {
    /// `None` when no limit is set or time is scaled to zero (an instant window refills at once).
    pub fn new(config: &RateLimitConfig, time_scale: f64) -> Option<Self> {
        let window = config.window.mul_f64(time_scale);
        if !config.is_enabled() || window.is_zero() {
            return None;
        }
        Some(Self {
            requests: config.rpm.map(f64::from),
            tokens: config.tpm.map(f64::from),
            window,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one request and `cost` tokens from `key`'s buckets if both allow it. Returns the
    /// `x-ratelimit-*` headers (after the decision) and the refusal, if refused.
    pub fn check(
        &self,
        key: &str,
        model: &str,
        cost: u32,
        now: Instant,
    ) -> (HeaderMap, Option<Refusal>) {
        let mut map = self.buckets.lock().expect("rate limiter lock poisoned");
        if map.len() >= MAX_TRACKED_KEYS && !map.contains_key(key) {
            map.retain(|_, b| !self.refilled(*b, now).is_full(self));
        }
        let full = Buckets {
            requests: self.requests.unwrap_or(0.0),
            tokens: self.tokens.unwrap_or(0.0),
            updated: now,
        };
        let entry = map.entry(key.to_owned()).or_insert(full);
        let mut b = self.refilled(*entry, now);
        let cost = f64::from(cost);
        let refusal = if let Some(limit) = self.requests.filter(|_| b.requests < 1.0) {
            let wait = self.time_to(limit, 1.0 - b.requests);
            Some(Refusal {
                limit: "requests",
                retry_after: wait,
                message: format!(
                    "Rate limit reached for {model} in organization org-mock on requests per min (RPM): \
                     Limit {limit}, Used {limit}, Requested 1. Please try again in {}.",
                    format_reset(wait)
                ),
            })
        } else if let Some(limit) = self.tokens.filter(|_| b.tokens < cost) {
            let (wait, message) = if cost > limit {
                (
                    self.window,
                    format!(
                        "Request too large for {model} in organization org-mock on tokens per min (TPM): \
                         Limit {limit}, Requested {cost}. The input or output tokens must be reduced in order to run successfully."
                    ),
                )
            } else {
                let wait = self.time_to(limit, cost - b.tokens);
                let used = (limit - b.tokens).round();
                (
                    wait,
                    format!(
                        "Rate limit reached for {model} in organization org-mock on tokens per min (TPM): \
                         Limit {limit}, Used {used}, Requested {cost}. Please try again in {}.",
                        format_reset(wait)
                    ),
                )
            };
            Some(Refusal {
                limit: "tokens",
                retry_after: wait,
                message,
            })
        } else {
            b.requests -= 1.0;
            b.tokens -= cost;
            None
        };
        *entry = b;
        (self.headers(b), refusal)
    }

    fn refilled(&self, b: Buckets, now: Instant) -> Buckets {
        let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
        let share = elapsed / self.window.as_secs_f64();
        Buckets {
            requests: self
                .requests
                .map_or(0.0, |cap| (b.requests + cap * share).min(cap)),
            tokens: self
                .tokens
                .map_or(0.0, |cap| (b.tokens + cap * share).min(cap)),
            updated: now,
        }
    }

    /// Time for a bucket of capacity `cap` to gain `amount`.
    fn time_to(&self, cap: f64, amount: f64) -> Duration {
        self.window.mul_f64((amount / cap).max(0.0))
    }

    fn headers(&self, b: Buckets) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        if let Some(cap) = self.requests {
            put("x-ratelimit-limit-requests", format!("{cap}"));
            put(
                "x-ratelimit-remaining-requests",
                format!("{}", b.requests.max(0.0).floor()),
            );
            put(
                "x-ratelimit-reset-requests",
                format_reset(self.time_to(cap, cap - b.requests)),
            );
        }
        if let Some(cap) = self.tokens {
            put("x-ratelimit-limit-tokens", format!("{cap}"));
            put(
                "x-ratelimit-remaining-tokens",
                format!("{}", b.tokens.max(0.0).floor()),
            );
            put(
                "x-ratelimit-reset-tokens",
                format_reset(self.time_to(cap, cap - b.tokens)),
            );
        }
        headers
    }
}

impl Buckets {
    fn is_full(&self, limiter: &RateLimiter) -> bool {
        limiter.requests.is_none_or(|cap| self.requests >= cap)
            && limiter.tokens.is_none_or(|cap| self.tokens >= cap)
    }
}

/// `retry-after` (whole seconds, rounded up) and `retry-after-ms`.
pub(crate) fn retry_headers(wait: Duration) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let ms = wait.as_nanos().div_ceil(1_000_000);
    let secs = wait.as_nanos().div_ceil(1_000_000_000);
    headers.insert(
        HeaderName::from_static("retry-after"),
        HeaderValue::from(secs as u64),
    );
    headers.insert(
        HeaderName::from_static("retry-after-ms"),
        HeaderValue::from(ms as u64),
    );
    headers
}

/// OpenAI's reset format: `120ms`, `1.5s`, `6m0s`.
pub(crate) fn format_reset(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    if secs < 60.0 {
        return format!("{}s", trim(format!("{secs:.3}")));
    }
    let minutes = (secs / 60.0).floor();
    format!(
        "{minutes}m{}s",
        trim(format!("{:.3}", secs - minutes * 60.0))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rpm: Option<u32>, tpm: Option<u32>) -> RateLimiter {
        let config = RateLimitConfig {
            rpm,
            tpm,
            window: Duration::from_secs(60),
        };
        RateLimiter::new(&config, 1.0).unwrap()
    }

    #[test]
    fn request_bucket_refuses_then_refills() {
        let l = limiter(Some(3), None);
        let t0 = Instant::now();
        for remaining in ["2", "1", "0"] {
            let (headers, refusal) = l.check("k", "m", 10, t0);
            assert!(refusal.is_none());
            assert_eq!(headers["x-ratelimit-remaining-requests"], remaining);
            assert_eq!(headers["x-ratelimit-limit-requests"], "3");
        }
        let (_, refusal) = l.check("k", "m", 10, t0);
        let refusal = refusal.unwrap();
        assert_eq!(refusal.limit, "requests");
        assert_eq!(refusal.retry_after, Duration::from_secs(20));
        // Another key has its own bucket.
        assert!(l.check("other", "m", 10, t0).1.is_none());
        // One request refills every 20 s.
        assert!(
            l.check("k", "m", 10, t0 + Duration::from_secs(19))
                .1
                .is_some()
        );
        assert!(
            l.check("k", "m", 10, t0 + Duration::from_secs(20))
                .1
                .is_none()
        );
    }

    #[test]
    fn token_bucket_counts_cost() {
        let l = limiter(None, Some(1000));
        let t0 = Instant::now();
        assert!(l.check("k", "m", 600, t0).1.is_none());
        let (headers, refusal) = l.check("k", "m", 600, t0);
        assert_eq!(refusal.unwrap().limit, "tokens");
        assert_eq!(headers["x-ratelimit-remaining-tokens"], "400");
        assert_eq!(headers["x-ratelimit-reset-tokens"], "36s");
        let (_, too_large) = l.check("k", "m", 5000, t0);
        assert!(too_large.unwrap().message.contains("too large"));
    }

    #[test]
    fn reset_format_matches_openai() {
        assert_eq!(format_reset(Duration::from_millis(120)), "120ms");
        assert_eq!(format_reset(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_reset(Duration::from_secs(360)), "6m0s");
        assert_eq!(format_reset(Duration::from_millis(61_250)), "1m1.25s");
        let h = retry_headers(Duration::from_millis(1200));
        assert_eq!(
            (
                h["retry-after"].to_str().unwrap(),
                h["retry-after-ms"].to_str().unwrap()
            ),
            ("2", "1200")
        );
    }
}
