//! Pipelines run offline, one event at a time to the end (`homeport test`): the event is
//! offered to every pipeline that takes its kind, in the order the files define them; what
//! stages emit and what plugins route is run the same way before the next event. The stages
//! are the real ones, run by the real worker code; nothing runs in the background, so the
//! same events give the same outcomes in the same order every time.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::{BoxFuture, FutureExt};
use serde_json::{Map, Value};

use super::Services;
use super::compile::CompiledPipeline;
use super::graph::{Graph, Queued, Running};
use super::worker::{self, BATCH};
use crate::bus::{Consumer, EventBus};
use crate::event::Event;

/// Most events one input may lead to (emitted and routed ones included).
const MAX_EVENTS: usize = 10_000;

/// What one pipeline did with the events of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events that entered.
    pub input: u64,
    /// Events that passed every stage.
    pub output: u64,
    /// Events a plugin routed into another pipeline.
    pub routed: u64,
    /// Events that failed a stage for good.
    pub failed: u64,
    /// Events dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
}

impl Counts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: Self) {
        self.input += other.input;
        self.output += other.output;
        self.routed += other.routed;
        self.failed += other.failed;
        for (reason, n) in other.dropped {
            *self.dropped.entry(reason).or_default() += n;
        }
    }

    fn of(pipeline: &Running) -> Self {
        let c = &pipeline.counters;
        Self {
            input: c.input.load(Ordering::Acquire),
            output: c.output.load(Ordering::Acquire),
            routed: c.routed.load(Ordering::Acquire),
            failed: c.failed.load(Ordering::Acquire),
            dropped: c
                .dropped()
                .into_iter()
                .map(|(reason, n)| (reason.to_owned(), n))
                .collect(),
        }
    }

    fn since(&self, before: &Self) -> Self {
        let mut dropped = self.dropped.clone();
        for (reason, n) in &before.dropped {
            if let Some(now) = dropped.get_mut(reason) {
                *now -= n;
            }
        }
        dropped.retain(|_, n| *n > 0);
        Self {
            input: self.input - before.input,
            output: self.output - before.output,
            routed: self.routed - before.routed,
            failed: self.failed - before.failed,
            dropped,
        }
    }
}

/// Compiled pipelines, run offline.
#[derive(Debug)]
pub struct Offline {
    graph: Graph,
    services: Services,
    bus: EventBus,
    emitted: Arc<Emitted>,
}

/// What stages emitted, waiting for its turn.
#[derive(Debug, Default)]
struct Emitted(Mutex<VecDeque<Arc<Event>>>);

impl Emitted {
    fn add(&self, event: Arc<Event>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(event);
    }

    fn take(&self) -> Option<Arc<Event>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }
}

impl Consumer for Emitted {
    fn send(&self, event: Arc<Event>) -> BoxFuture<'_, ()> {
        self.add(event);
        async {}.boxed()
    }

    fn push(&self, event: Arc<Event>) {
        self.add(event);
    }
}

impl Offline {
    /// The pipelines of `compiled`, using `services` (their sinks are usually a capture).
    pub fn new(compiled: Vec<CompiledPipeline>, services: Services) -> Self {
        let bus = EventBus::new();
        let emitted = Arc::new(Emitted::default());
        bus.attach(Arc::clone(&emitted) as Arc<dyn Consumer>);
        Self {
            graph: Graph::new(compiled),
            services,
            bus,
            emitted,
        }
    }

    /// The pipelines' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.graph.names()
    }

    /// Runs `event` (carrying `fields`, as if a plugin had routed it) and everything it
    /// leads to through the pipelines; what each pipeline did with them, by name (pipelines
    /// that took nothing are left out). An error when one event led to more than
    /// [`MAX_EVENTS`].
    pub async fn run(
        &self,
        event: Arc<Event>,
        fields: Map<String, Value>,
    ) -> Result<BTreeMap<String, Counts>, String> {
        let before: Vec<Counts> = self.graph.pipelines.iter().map(|p| Counts::of(p)).collect();
        let mut fields = (!fields.is_empty()).then_some(fields);
        let mut pending = VecDeque::from([event]);
        let mut handled = 0;
        while let Some(event) = pending.pop_front() {
            handled += 1;
            if handled > MAX_EVENTS {
                return Err(format!(
                    "one input led to more than {MAX_EVENTS} events (does a plugin emit in a loop?)"
                ));
            }
            let kind = event.kind_name();
            let given = fields.take();
            for pipeline in &self.graph.pipelines {
                if pipeline.pipeline.kinds.contains(&kind) {
                    pipeline.push(Queued {
                        event: Arc::clone(&event),
                        fields: given.clone(),
                    });
                }
            }
            // Every queue worked empty (routed events included), then what was emitted.
            self.drain().await;
            while let Some(emitted) = self.emitted.take() {
                pending.push_back(emitted);
            }
        }
        Ok(self
            .graph
            .pipelines
            .iter()
            .zip(&before)
            .map(|(p, before)| (p.pipeline.name.clone(), Counts::of(p).since(before)))
            .filter(|(_, counts)| counts.input > 0)
            .collect())
    }

    /// Works every queue empty, pipeline by pipeline; routed events land in other queues and
    /// are worked in the same pass or the next.
    async fn drain(&self) {
        let mut batch = Vec::with_capacity(BATCH);
        while self.graph.pipelines.iter().any(|p| p.queued() > 0) {
            for pipeline in &self.graph.pipelines {
                for shard in &pipeline.shards {
                    while shard.len() > 0 && shard.pop_many(BATCH, &mut batch).await {
                        worker::process(
                            pipeline,
                            &mut batch,
                            &self.services,
                            &self.bus,
                            &self.graph.pipelines,
                        )
                        .await;
                    }
                }
            }
        }
    }
}
