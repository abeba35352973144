//! Per-pipeline and per-stage counters. For every pipeline they add up:
//! `in = out + routed + dropped (all reasons) + failed + in_flight`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

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

    /// Appends this pipeline's Prometheus samples.
    pub fn render(&self, pipeline: &str, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (outcome, counter) in [
            ("in", &self.input),
            ("out", &self.output),
            ("failed", &self.failed),
            ("routed", &self.routed),
        ] {
            let _ = writeln!(
                out,
                "homeport_pipeline_events_total{{pipeline=\"{pipeline}\",outcome=\"{outcome}\"}} {}",
                get(counter)
            );
        }
        for (reason, count) in self.dropped() {
            let _ = writeln!(
                out,
                "homeport_pipeline_dropped_total{{pipeline=\"{pipeline}\",reason=\"{reason}\"}} {count}"
            );
        }
        let _ = writeln!(
            out,
            "homeport_pipeline_in_flight{{pipeline=\"{pipeline}\"}} {}",
            self.in_flight()
        );
        for (index, stage) in self.stages.iter().enumerate() {
            let labels = stage_labels(pipeline, index, stage.kind);
            for (result, counter) in [("passed", &stage.passed), ("dropped", &stage.dropped)] {
                let _ = writeln!(
                    out,
                    "homeport_stage_events_total{{{labels},result=\"{result}\"}} {}",
                    get(counter)
                );
            }
            let _ = writeln!(
                out,
                "homeport_stage_errors_total{{{labels}}} {}",
                get(&stage.errors)
            );
        }
    }
}

/// The Prometheus labels of stage `index` (0-based) of `pipeline`: `pipeline="p",stage="#1 mqtt"`.
pub fn stage_labels(pipeline: &str, index: usize, kind: &str) -> String {
    format!("pipeline=\"{pipeline}\",stage=\"#{} {kind}\"", index + 1)
}
