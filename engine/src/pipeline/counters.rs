//! Per-pipeline and per-stage counters. For every pipeline they add up:
//! `in = out + routed + dropped (all reasons) + failed + in_flight`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{Exposition, Kind};

/// One pipeline's counters.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    /// Events that entered (queued or dropped at the queue).
    pub input: AtomicU64,
    /// Events that passed every stage.
    pub output: AtomicU64,
    /// Events a plugin routed into another pipeline.
    pub routed: AtomicU64,
    /// Events that failed a stage after its retries (dead-lettered or dropped for the error).
    pub failed: AtomicU64,
    dropped: Mutex<BTreeMap<&'static str, u64>>,
    /// Per stage: (kind, ok, errors, dropped).
    pub stages: Vec<StageCounters>,
}

/// One stage's counters.
#[derive(Debug, Default)]
pub struct StageCounters {
    /// The stage's kind.
    pub kind: &'static str,
    /// Events it let through.
    pub passed: AtomicU64,
    /// Events it dropped.
    pub dropped: AtomicU64,
    /// Failed attempts (retries included).
    pub errors: AtomicU64,
}

impl PipelineCounters {
    /// Counters for a pipeline with stages of these kinds.
    pub fn new(kinds: &[&'static str]) -> Self {
        Self {
            stages: kinds
                .iter()
                .map(|kind| StageCounters {
                    kind,
                    ..StageCounters::default()
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Counts a dropped event.
    pub fn drop_for(&self, reason: &'static str) {
        *self
            .dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(reason)
            .or_insert(0) += 1;
    }

    /// Dropped events by reason.
    pub fn dropped(&self) -> BTreeMap<&'static str, u64> {
        self.dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Events queued or being processed now.
    pub fn in_flight(&self) -> u64 {
        let input = self.input.load(Ordering::Acquire);
        let done = self.output.load(Ordering::Acquire)
            + self.routed.load(Ordering::Acquire)
            + self.failed.load(Ordering::Acquire)
            + self.dropped().values().sum::<u64>();
        input.saturating_sub(done)
    }

    /// Adds this pipeline's samples to `out` (`homeport_pipeline_*`, `homeport_stage_*`).
    pub fn render(&self, pipeline: &str, out: &mut Exposition) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut events = out.family(
            "homeport_pipeline_events_total",
            Kind::Counter,
            "Events per pipeline: in = out + dropped + failed + in flight.",
        );
        for (outcome, counter) in [
            ("in", &self.input),
            ("out", &self.output),
            ("failed", &self.failed),
            ("routed", &self.routed),
        ] {
            events.sample(
                &[("pipeline", pipeline), ("outcome", outcome)],
                get(counter),
            );
        }
        let mut dropped = out.family(
            "homeport_pipeline_dropped_total",
            Kind::Counter,
            "Events a pipeline dropped, by reason.",
        );
        for (reason, count) in self.dropped() {
            dropped.sample(&[("pipeline", pipeline), ("reason", reason)], count);
        }
        out.family(
            "homeport_pipeline_in_flight",
            Kind::Gauge,
            "Events queued or being processed.",
        )
        .sample(&[("pipeline", pipeline)], self.in_flight());
        let names: Vec<String> = (self.stages.iter().enumerate())
            .map(|(index, stage)| stage_name(index, stage.kind))
            .collect();
        let mut events = out.family(
            "homeport_stage_events_total",
            Kind::Counter,
            "Events per stage, by result.",
        );
        for (stage, name) in self.stages.iter().zip(&names) {
            for (result, counter) in [("passed", &stage.passed), ("dropped", &stage.dropped)] {
                let labels = [
                    ("pipeline", pipeline),
                    ("stage", name.as_str()),
                    ("result", result),
                ];
                events.sample(&labels, get(counter));
            }
        }
        let mut errors = out.family(
            "homeport_stage_errors_total",
            Kind::Counter,
            "Failed stage attempts, retries included.",
        );
        for (stage, name) in self.stages.iter().zip(&names) {
            errors.sample(
                &[("pipeline", pipeline), ("stage", name.as_str())],
                get(&stage.errors),
            );
        }
    }
}

/// One pipeline's counters as the admin API shows them (`GET /api/pipelines/stats`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PipelineStats {
    /// The pipeline's name.
    pub name: String,
    /// The event kinds it takes.
    pub on: Vec<String>,
    /// Events that entered.
    #[serde(rename = "in")]
    pub input: u64,
    /// Events that passed every stage.
    #[serde(rename = "out")]
    pub output: u64,
    /// Events a plugin routed into another pipeline.
    pub routed: u64,
    /// Events that failed a stage after its retries.
    pub failed: u64,
    /// Events queued or being processed now.
    pub in_flight: u64,
    /// Dropped events by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Each stage, in order.
    pub stages: Vec<StageStats>,
}

/// One stage's counters as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StageStats {
    /// `#1 mqtt`, as in metrics and dead letters.
    pub name: String,
    /// Events it let through.
    pub passed: u64,
    /// Events it dropped.
    pub dropped: u64,
    /// Failed attempts, retries included.
    pub errors: u64,
}

impl PipelineCounters {
    /// These counters as the admin API shows them, for pipeline `name` taking `on`.
    pub fn stats(&self, name: &str, on: &[&'static str]) -> PipelineStats {
        let get = |c: &AtomicU64| c.load(Ordering::Acquire);
        PipelineStats {
            name: name.to_owned(),
            on: on.iter().map(|k| (*k).to_owned()).collect(),
            input: get(&self.input),
            output: get(&self.output),
            routed: get(&self.routed),
            failed: get(&self.failed),
            in_flight: self.in_flight(),
            dropped: self
                .dropped()
                .into_iter()
                .map(|(reason, n)| (reason.to_owned(), n))
                .collect(),
            stages: (self.stages.iter().enumerate())
                .map(|(index, stage)| StageStats {
                    name: stage_name(index, stage.kind),
                    passed: get(&stage.passed),
                    dropped: get(&stage.dropped),
                    errors: get(&stage.errors),
                })
                .collect(),
        }
    }
}

/// How stage `index` (0-based) of kind `kind` is named in metrics, logs and dead letters:
/// `#1 mqtt`.
pub fn stage_name(index: usize, kind: &str) -> String {
    format!("#{} {kind}", index + 1)
}
