//! The work of a pipeline shard: its entry condition, then each stage in order. A stage
//! failure is retried with backoff, then the stage's policy decides (dead letter, drop,
//! continue); a plugin may route the event into another pipeline of the same graph.
//!
//! The worker takes the events that are queued when it looks (up to [`BATCH`]) and walks them
//! through the stages together: each stage sees them in their queue order
//! ([`Stage::run_batch`](super::stage::Stage::run_batch)), so the order of events at every
//! stage, and at the sinks, is the order they were queued in, and a plugin is called once for
//! the lot. Under light load that is one event at a time, as it comes.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Services;
use super::counters::stage_name;
use super::graph::{Queued, Running};
use super::policy::{ErrorPolicy, Then};
use super::stage::{Flow, Outcome, Stage, StageError};
use crate::bus::EventBus;
use crate::event::Event;

/// Most events a worker takes through its stages together.
pub(super) const BATCH: usize = 32;

/// Drains shard `shard` of `pipeline` until it is closed and empty. `routes` are the graph's
/// pipelines, which plugins may route events into.
pub(super) async fn run(
    pipeline: Arc<Running>,
    shard: usize,
    services: Services,
    bus: EventBus,
    routes: Vec<Arc<Running>>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while pipeline.shards[shard].pop_many(BATCH, &mut batch).await {
        process(&pipeline, &mut batch, &services, &bus, &routes).await;
    }
}

/// Runs queued events through a pipeline's stages. What the stages emitted is published
/// however each event leaves: a plugin may emit and drop, and a config `apply_config` wrote
/// stays written when a later stage fails.
pub(super) async fn process(
    pipeline: &Running,
    batch: &mut Vec<Queued>,
    services: &Services,
    bus: &EventBus,
    routes: &[Arc<Running>],
) {
    let mut flows: Vec<Flow> = batch
        .drain(..)
        .map(|queued| {
            let mut flow = Flow::new(queued.event);
            if let Some(fields) = queued.fields {
                flow.fields = fields;
            }
            flow
        })
        .collect();
    run_stages(pipeline, &mut flows, services, routes).await;
    for flow in &mut flows {
        for emitted in flow.emitted.drain(..) {
            bus.publish(emitted);
        }
    }
}

async fn run_stages(
    pipeline: &Running,
    flows: &mut [Flow],
    services: &Services,
    routes: &[Arc<Running>],
) {
    let mut going: Vec<bool> = flows
        .iter_mut()
        .map(|flow| admits(pipeline, flow))
        .collect();
    for (index, (kind, stage, policy)) in pipeline.pipeline.stages.iter().enumerate() {
        let at: Vec<usize> = (0..flows.len()).filter(|&i| going[i]).collect();
        let results = match at.as_slice() {
            [] => return,
            [only] => vec![stage.run(&mut flows[*only]).await],
            _ => {
                let taking = flows
                    .iter_mut()
                    .zip(&going)
                    .filter_map(|(flow, going)| going.then_some(flow))
                    .collect();
                stage.run_batch(taking).await
            }
        };
        // A stage owes one result per flow; one it did not give is its failure.
        let results = results.into_iter().chain(std::iter::repeat_with(|| {
            Err(StageError::permanent(
                "the stage gave no result for this event",
            ))
        }));
        let step = Step {
            pipeline,
            index,
            kind,
            stage: stage.as_ref(),
            policy,
            services,
            routes,
        };
        for (i, result) in at.into_iter().zip(results) {
            going[i] = step.settle(&mut flows[i], result).await;
        }
    }
    for _ in going.into_iter().filter(|going| *going) {
        pipeline.counters.output.fetch_add(1, Ordering::AcqRel);
    }
}

/// Whether the pipeline's `when` lets the flow in (counted when it does not).
fn admits(pipeline: &Running, flow: &mut Flow) -> bool {
    let Some(when) = &pipeline.pipeline.when else {
        return true;
    };
    let counters = &pipeline.counters;
    match when.holds(flow.context()) {
        Ok(true) => true,
        Ok(false) => {
            counters.drop_for("when");
            false
        }
        Err(e) => {
            crate::warn_limited!(pipeline.warnings, "condition_failed", pipeline = %pipeline.pipeline.name, device = %flow.event.device, error = %e, "pipeline condition failed; event dropped (counted as when_error)");
            counters.drop_for("when_error");
            false
        }
    }
}

/// One stage of a pipeline, settling what it decided for each flow.
struct Step<'a> {
    pipeline: &'a Running,
    index: usize,
    kind: &'a str,
    stage: &'a dyn Stage,
    policy: &'a ErrorPolicy,
    services: &'a Services,
    routes: &'a [Arc<Running>],
}

impl Step<'_> {
    /// Counts and acts on the stage's result for `flow`, retrying a failure as the stage's
    /// policy says; true if the flow goes on to the next stage.
    async fn settle(&self, flow: &mut Flow, mut result: Result<Outcome, StageError>) -> bool {
        let counters = &self.pipeline.counters;
        let stage_counters = &counters.stages[self.index];
        let mut attempt = 0;
        loop {
            match result {
                Ok(Outcome::Continue) => {
                    stage_counters.passed.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Ok(Outcome::Drop(reason)) => {
                    stage_counters.dropped.fetch_add(1, Ordering::Relaxed);
                    counters.drop_for(reason);
                    return false;
                }
                Ok(Outcome::Route(target)) => {
                    stage_counters.passed.fetch_add(1, Ordering::Relaxed);
                    route(flow, &target, self.routes);
                    counters.routed.fetch_add(1, Ordering::AcqRel);
                    return false;
                }
                Err(error) => {
                    stage_counters.errors.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    if attempt <= self.policy.retries && !error.permanent {
                        tokio::time::sleep(self.policy.delay(attempt)).await;
                        result = self.stage.run(flow).await;
                        continue;
                    }
                    return self.give_up(flow, &error).await;
                }
            }
        }
    }

    /// The stage failed for good: the policy's `then`.
    async fn give_up(&self, flow: &Flow, error: &StageError) -> bool {
        let counters = &self.pipeline.counters;
        let name = &self.pipeline.pipeline.name;
        let stage_label = stage_name(self.index, self.kind);
        crate::warn_limited!(self.pipeline.warnings, "stage_failed", pipeline = %name, stage = %stage_label, device = %flow.event.device, %error, "stage failed");
        match self.policy.then {
            Then::Continue => true,
            Then::Drop => {
                counters.drop_for("error");
                false
            }
            Then::DeadLetter => {
                dead_letter(
                    self.services,
                    name,
                    &stage_label,
                    &error.message,
                    &flow.event,
                )
                .await;
                counters.failed.fetch_add(1, Ordering::AcqRel);
                false
            }
        }
    }
}

/// Hands a routed event to the pipeline `target` (same graph), with its fields. It is pushed
/// without waiting: a worker that waited for room in a pipeline routing back to its own could
/// wait forever; routed events are bounded by the events taken in and their hop limit.
fn route(flow: &Flow, target: &str, routes: &[Arc<Running>]) {
    let mut event = (*flow.event).clone();
    event.hops = event.hops.saturating_add(1);
    let taken = routes
        .iter()
        .find(|p| p.pipeline.name == target)
        .is_some_and(|pipeline| {
            pipeline.push(Queued {
                event: Arc::new(event),
                fields: Some(flow.fields.clone()),
            })
        });
    if !taken {
        tracing::warn!(pipeline = %target, device = %flow.event.device, "routed event lost: the target pipeline is not running");
    }
}

async fn dead_letter(services: &Services, pipeline: &str, stage: &str, error: &str, event: &Event) {
    let Some(store) = &services.store else {
        tracing::error!(%pipeline, %stage, %error, "no store for dead letters; event lost");
        return;
    };
    let json = serde_json::to_string(event).unwrap_or_default();
    if let Err(e) = store.add_dead_letter(pipeline, stage, error, json).await {
        tracing::error!(%pipeline, %stage, error = %e, "cannot store a dead letter");
    }
}
