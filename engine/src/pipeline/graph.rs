//! A running graph: the compiled pipelines, each with a few shard queues and its counters.
//! A device's events always go to the same shard, so they stay in order through every stage
//! while different devices run in parallel.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Map, Value};
use tokio_util::task::TaskTracker;

use super::compile::CompiledPipeline;
use super::counters::PipelineCounters;
use super::queue::{Offered, Queue};
use crate::event::Event;

/// Shards (ordered workers) per pipeline.
const SHARDS: usize = 4;

/// An event waiting in a pipeline's queue, with the fields it carries when a plugin routed
/// it from another pipeline.
#[derive(Debug)]
pub(super) struct Queued {
    pub(super) event: Arc<Event>,
    pub(super) fields: Option<Map<String, Value>>,
}

impl From<Arc<Event>> for Queued {
    fn from(event: Arc<Event>) -> Self {
        Self {
            event,
            fields: None,
        }
    }
}

/// A pipeline with its queues and counters.
#[derive(Debug)]
pub(super) struct Running {
    pub(super) pipeline: CompiledPipeline,
    pub(super) shards: Vec<Queue<Queued>>,
    pub(super) counters: PipelineCounters,
    /// Its run-time warnings (a condition or stage failing), so that one failing for every
    /// event logs a few lines and a count, not a line per event.
    pub(super) warnings: crate::log_limit::LogLimiter,
}

impl Running {
    fn new(pipeline: CompiledPipeline) -> Self {
        let per_shard = pipeline.capacity.div_ceil(SHARDS).max(1);
        let kinds: Vec<&'static str> = pipeline.stages.iter().map(|(kind, _, _)| *kind).collect();
        Self {
            shards: (0..SHARDS)
                .map(|_| Queue::new(per_shard, pipeline.when_full))
                .collect(),
            counters: PipelineCounters::new(&kinds),
            warnings: crate::log_limit::LogLimiter::default(),
            pipeline,
        }
    }

    fn shard_of(&self, device: &str) -> &Queue<Queued> {
        let mut hasher = DefaultHasher::new();
        device.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % self.shards.len()]
    }

    /// Queues an event on its device's shard, waiting for room when it is full under `block`;
    /// what a drop policy drops is counted. `false` when the queue is closed (a reload or
    /// shutdown): nothing was queued or counted.
    pub(super) async fn offer(&self, event: impl Into<Queued>) -> bool {
        let event = event.into();
        let shard = self.shard_of(&event.event.device);
        let offered = shard.offer(event).await;
        self.count(offered)
    }

    /// Queues an event now, over the bound of a full `block` queue (see
    /// [`EventBus::publish`](crate::bus::EventBus::publish)); `false` when closed.
    pub(super) fn push(&self, event: impl Into<Queued>) -> bool {
        let event = event.into();
        let offered = self.shard_of(&event.event.device).push_now(event);
        self.count(offered)
    }

    fn count(&self, offered: Offered) -> bool {
        match offered {
            Offered::Queued => {}
            Offered::DroppedOldest | Offered::DroppedNewest => {
                self.counters.drop_for("queue_full");
            }
            Offered::Closed => return false,
        }
        self.counters.input.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Events queued in its shards now.
    pub(super) fn queued(&self) -> usize {
        self.shards.iter().map(Queue::len).sum()
    }
}

/// A set of running pipelines and the workers draining their shards.
#[derive(Debug)]
pub(super) struct Graph {
    pub(super) pipelines: Vec<Arc<Running>>,
    pub(super) workers: TaskTracker,
}

impl Graph {
    /// The pipelines of `compiled`, with empty queues and no workers yet.
    pub(super) fn new(compiled: Vec<CompiledPipeline>) -> Self {
        Self {
            pipelines: compiled
                .into_iter()
                .map(|p| Arc::new(Running::new(p)))
                .collect(),
            workers: TaskTracker::new(),
        }
    }

    /// The running pipeline called `name`.
    pub(super) fn find(&self, name: &str) -> Option<&Arc<Running>> {
        self.pipelines.iter().find(|p| p.pipeline.name == name)
    }

    /// The names of its pipelines, in order.
    pub(super) fn names(&self) -> Vec<String> {
        self.pipelines
            .iter()
            .map(|p| p.pipeline.name.clone())
            .collect()
    }

    /// Closes every queue (the workers finish what is queued, then end).
    pub(super) fn close(&self) {
        for pipeline in &self.pipelines {
            for shard in &pipeline.shards {
                shard.close();
            }
        }
        self.workers.close();
    }
}
