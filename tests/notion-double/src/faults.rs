//! Fault injection: the next N matching requests fail, or a seeded random share of them.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How an injected fault fails a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer this HTTP status with Notion's matching error body (429/529 carry `Retry-After`).
    Status(u16),
    /// Close the TCP connection without sending any response.
    DropConnection,
}

/// The next `count` requests matching `method` / `path_prefix` fail with `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// The failure.
    pub kind: FaultKind,
    /// How many matching requests fail (then the rule is spent).
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests with this method (e.g. "GET"); any when absent.
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this (e.g. "/v1/pages"); any when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// `Retry-After` seconds for 429/529 (default 1).
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// A `Retry-After` header sent verbatim instead of `retry_after` (e.g. `inf`, `-1`,
    /// `soon`), to test how a client copes with what a broken proxy might send.
    #[serde(default)]
    pub retry_after_header: Option<String>,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    /// The next `count` requests (any method, any path) fail with `kind`.
    pub fn next(count: u32, kind: FaultKind) -> Self {
        Self {
            kind,
            count,
            method: None,
            path_prefix: None,
            retry_after: None,
            retry_after_header: None,
        }
    }

    /// Restrict the rule to a method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Restrict the rule to paths starting with `prefix`.
    pub fn path_prefix(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_owned());
        self
    }

    /// Set `Retry-After` for 429/529 answers.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Send this `Retry-After` header verbatim (429/529 answers), valid or not.
    pub fn retry_after_header(mut self, value: &str) -> Self {
        self.retry_after_header = Some(value.to_owned());
        self
    }
}

/// A seeded random share of matching requests fails, with a kind drawn from `kinds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomFaults {
    /// Probability in [0, 1] that a matching request fails.
    pub ratio: f64,
    /// Seed of the generator, so a run is reproducible.
    pub seed: u64,
    /// The failures to choose from (uniformly).
    pub kinds: Vec<FaultKind>,
    /// Only these methods; any when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Only paths starting with this; any when absent.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// `Retry-After` seconds for 429/529 (default 1).
    #[serde(default)]
    pub retry_after: Option<u64>,
}

#[derive(Debug)]
struct RandomState {
    spec: RandomFaults,
    rng: StdRng,
}

/// All active fault rules of a double.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<FaultRule>,
    random: Vec<RandomState>,
}

/// What the gate must do with a request.
#[derive(Debug, Clone)]
pub(crate) struct Injected {
    pub kind: FaultKind,
    pub retry_after: u64,
    /// A raw `Retry-After` header replacing `retry_after`.
    pub retry_after_header: Option<String>,
}

fn matches(method: &str, path: &str, m: &[String], prefix: &Option<String>) -> bool {
    (m.is_empty() || m.iter().any(|x| x.eq_ignore_ascii_case(method)))
        && prefix.as_deref().is_none_or(|p| path.starts_with(p))
}

impl Faults {
    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub(crate) fn add_random(&mut self, spec: RandomFaults) {
        let rng = StdRng::seed_from_u64(spec.seed);
        self.random.push(RandomState { spec, rng });
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
        self.random.clear();
    }

    /// The fault for this request, if any; counted rules win over random ones.
    pub(crate) fn take(&mut self, method: &str, path: &str) -> Option<Injected> {
        for rule in &mut self.rules {
            let methods: Vec<String> = rule.method.iter().cloned().collect();
            if rule.count > 0 && matches(method, path, &methods, &rule.path_prefix) {
                rule.count -= 1;
                return Some(Injected {
                    kind: rule.kind,
                    retry_after: rule.retry_after.unwrap_or(1),
                    retry_after_header: rule.retry_after_header.clone(),
                });
            }
        }
        self.rules.retain(|r| r.count > 0);
        for r in &mut self.random {
            if r.spec.kinds.is_empty()
                || !matches(method, path, &r.spec.methods, &r.spec.path_prefix)
            {
                continue;
            }
            if r.rng.random_bool(r.spec.ratio.clamp(0.0, 1.0)) {
                let i = r.rng.random_range(0..r.spec.kinds.len());
                return Some(Injected {
                    kind: r.spec.kinds[i],
                    retry_after: r.spec.retry_after.unwrap_or(1),
                    retry_after_header: None,
                });
            }
        }
        None
    }
}
