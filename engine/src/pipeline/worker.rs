//! The per-event work of a pipeline shard: its entry condition, then each stage in order. A
//! stage failure is retried with backoff, then the stage's policy decides (dead letter, drop,
//! continue); a plugin may route the event into another pipeline of the same graph.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::Services;
use super::counters::stage_name;
use super::graph::{Queued, Running};
use super::policy::Then;
use super::stage::{Flow, Outcome};
use crate::bus::EventBus;
use crate::event::Event;

/// Drains shard `shard` of `pipeline` until it is closed and empty. `routes` are the graph's
/// pipelines, which plugins may route events into.
pub(super) async fn run(
    pipeline: Arc<Running>,
    shard: usize,
    services: Services,
    bus: EventBus,
    routes: Vec<Arc<Running>>,
) {
    while let Some(event) = pipeline.shards[shard].pop().await {
        process(&pipeline, event, &services, &bus, &routes).await;
    }
}

/// Runs one event through a pipeline's stages. What the stages emitted is published however
/// the event leaves: a plugin may emit and drop, and a config `apply_config` wrote stays
/// written when a later stage fails.
async fn process(
    pipeline: &Running,
    queued: Queued,
    services: &Services,
    bus: &EventBus,
    routes: &[Arc<Running>],
) {
    let mut flow = Flow::new(queued.event);
    if let Some(fields) = queued.fields {
        flow.fields = fields;
    }
    run_stages(pipeline, &mut flow, services, routes).await;
    for emitted in flow.emitted.drain(..) {
        bus.publish(emitted);
    }
}

async fn run_stages(
    pipeline: &Running,
    flow: &mut Flow,
    services: &Services,
    routes: &[Arc<Running>],
) {
    let counters = &pipeline.counters;
    if let Some(when) = &pipeline.pipeline.when {
        match when.holds(flow.context()) {
            Ok(true) => {}
            Ok(false) => {
                counters.drop_for("when");
                return;
            }
            Err(e) => {
                tracing::warn!(pipeline = %pipeline.pipeline.name, error = %e, "pipeline condition failed");
                counters.drop_for("when_error");
                return;
            }
        }
    }
    for (index, (kind, stage, policy)) in pipeline.pipeline.stages.iter().enumerate() {
        let stage_counters = &counters.stages[index];
        let mut attempt = 0;
        loop {
            match stage.run(flow).await {
                Ok(Outcome::Continue) => {
                    stage_counters.passed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(Outcome::Drop(reason)) => {
                    stage_counters.dropped.fetch_add(1, Ordering::Relaxed);
                    counters.drop_for(reason);
                    return;
                }
                Ok(Outcome::Route(target)) => {
                    stage_counters.passed.fetch_add(1, Ordering::Relaxed);
                    route(flow, &target, routes);
                    counters.routed.fetch_add(1, Ordering::AcqRel);
                    return;
                }
                Err(error) => {
                    stage_counters.errors.fetch_add(1, Ordering::Relaxed);
                    attempt += 1;
                    if attempt <= policy.retries && !error.permanent {
                        tokio::time::sleep(policy.delay(attempt)).await;
                        continue;
                    }
                    let stage_label = stage_name(index, kind);
                    tracing::warn!(pipeline = %pipeline.pipeline.name, stage = %stage_label, device = %flow.event.device, %error, "stage failed");
                    match policy.then {
                        Then::Continue => break,
                        Then::Drop => {
                            counters.drop_for("error");
                            return;
                        }
                        Then::DeadLetter => {
                            dead_letter(
                                services,
                                &pipeline.pipeline.name,
                                &stage_label,
                                &error.message,
                                &flow.event,
                            )
                            .await;
                            counters.failed.fetch_add(1, Ordering::AcqRel);
                            return;
                        }
                    }
                }
            }
        }
    }
    counters.output.fetch_add(1, Ordering::AcqRel);
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
