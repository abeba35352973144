//! [`PipelineHost`]: the running pipelines. It is the event bus's [`Consumer`]: a published
//! event goes straight from the publishing task into the shard queue of every pipeline whose
//! `on` takes it (so dispatch runs on every core the publishers run on, and a `block` queue
//! makes the publisher wait). Reload builds the new graph aside, swaps it in at once (new
//! events queue there), lets the old one drain and only then starts the new workers, so a
//! device's events never run in both; or keeps the old one if the new one does not compile.
//! Replay puts a dead letter back into its pipeline; `/metrics` reads the counters.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};

use super::Services;
use super::counters::{PipelineStats, stage_name};
use super::error::{SpecError, SpecErrors};
use super::graph::{Graph, Running};
use super::sources::build;
use super::worker;
use crate::bus::{Consumer, EventBus};
use crate::event::Event;
use crate::metrics::{Exposition, Kind};
use crate::store::DeadLetter;

/// How long a reload or shutdown waits for queued events to finish.
const DRAIN: Duration = Duration::from_secs(10);

/// The running pipelines, and reload.
#[derive(Debug)]
pub struct PipelineHost {
    services: Services,
    sources: Vec<PathBuf>,
    bus: EventBus,
    graph: RwLock<Arc<Graph>>,
    reloading: tokio::sync::Mutex<()>,
}

/// The bus's handle on the host (the bus holds it; the host outlives its attachment).
#[derive(Debug)]
struct Attached(Arc<PipelineHost>);

impl Consumer for Attached {
    fn send(&self, event: Arc<Event>) -> BoxFuture<'_, ()> {
        self.0.deliver(event).boxed()
    }

    fn push(&self, event: Arc<Event>) {
        self.0.deliver_now(&event);
    }
}

impl PipelineHost {
    /// Compiles the pipelines at `sources`, starts their workers and attaches them to `bus`.
    pub fn start(
        sources: Vec<PathBuf>,
        services: Services,
        bus: EventBus,
    ) -> Result<Arc<Self>, SpecErrors> {
        let graph = Arc::new(Graph::new(build(&sources, &services)?));
        let host = Arc::new(Self {
            services,
            sources,
            graph: RwLock::new(Arc::clone(&graph)),
            reloading: tokio::sync::Mutex::new(()),
            bus: bus.clone(),
        });
        host.spawn_workers(&graph);
        bus.attach(Arc::new(Attached(Arc::clone(&host))));
        tracing::info!(pipelines = graph.pipelines.len(), "pipelines started");
        Ok(host)
    }

    /// Names of the running pipelines.
    pub async fn names(&self) -> Vec<String> {
        self.current().names()
    }

    /// Whether a running pipeline answers apps: it takes `sync_request` events and has a
    /// `camera_sync` stage. Without one the camera-sync server's apps get no answers.
    pub fn answers_sync_requests(&self) -> bool {
        self.current().pipelines.iter().any(|p| {
            p.pipeline.kinds.contains(&"sync_request")
                && p.pipeline
                    .stages
                    .iter()
                    .any(|(kind, _, _)| *kind == "camera_sync")
        })
    }

    fn current(&self) -> Arc<Graph> {
        Arc::clone(&self.graph.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn spawn_workers(&self, graph: &Arc<Graph>) {
        for pipeline in &graph.pipelines {
            for shard in 0..pipeline.shards.len() {
                graph.workers.spawn(worker::run(
                    Arc::clone(pipeline),
                    shard,
                    self.services.clone(),
                    self.bus.clone(),
                    graph.pipelines.clone(),
                ));
            }
        }
    }

    /// Offers `event` to every pipeline that takes its kind, waiting for room under `block`.
    async fn deliver(&self, event: Arc<Event>) {
        let graph = self.current();
        for pipeline in takers(&graph, &event) {
            if !pipeline.offer(Arc::clone(&event)).await {
                self.after_reload(pipeline, &event);
            }
        }
    }

    /// Offers `event` to every pipeline that takes its kind, without waiting.
    fn deliver_now(&self, event: &Arc<Event>) {
        let graph = self.current();
        for pipeline in takers(&graph, event) {
            if !pipeline.push(Arc::clone(event)) {
                self.after_reload(pipeline, event);
            }
        }
    }

    /// `closed` refused `event` because a reload replaced its graph: the pipeline of the same
    /// name in the graph now running takes it (the new graph's workers start only once the old
    /// one drained, so order holds); if there is none, it is counted as dropped by the reload.
    fn after_reload(&self, closed: &Running, event: &Arc<Event>) {
        let graph = self.current();
        let name = closed.pipeline.name.as_str();
        let taken = graph
            .find(name)
            .filter(|fresh| !std::ptr::eq(Arc::as_ptr(fresh), closed))
            .is_some_and(|fresh| fresh.push(Arc::clone(event)));
        if !taken {
            closed.counters.input.fetch_add(1, Ordering::AcqRel);
            closed.counters.drop_for("reload");
        }
    }

    /// Rebuilds the pipelines from their files and swaps them in; on any error the running
    /// ones stay and the errors are returned.
    pub async fn reload(&self) -> Result<Vec<String>, SpecErrors> {
        let _one_at_a_time = self.reloading.lock().await;
        // Compiling plugins blocks: keep it off the runtime's threads.
        let (sources, services) = (self.sources.clone(), self.services.clone());
        let compiled = tokio::task::spawn_blocking(move || build(&sources, &services))
            .await
            .map_err(|e| {
                SpecErrors(vec![SpecError::file(
                    Path::new("pipelines"),
                    format!("building the pipelines panicked: {e}"),
                )])
            })??;
        let fresh = Arc::new(Graph::new(compiled));
        // New events queue in the new graph from now on; its workers start once the old graph
        // has drained, so a device's events never run in the old and the new graph at once.
        let old = std::mem::replace(
            &mut *self.graph.write().unwrap_or_else(PoisonError::into_inner),
            Arc::clone(&fresh),
        );
        old.close();
        if tokio::time::timeout(DRAIN, old.workers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "old pipelines did not drain within {DRAIN:?}; the new ones start beside them"
            );
        }
        self.spawn_workers(&fresh);
        let names = fresh.names();
        tracing::info!(?names, "pipelines reloaded");
        Ok(names)
    }

    /// Replays a dead letter into its pipeline; an error if the pipeline no longer exists or
    /// the event cannot be read.
    pub async fn replay(&self, letter: &DeadLetter) -> Result<(), String> {
        let event: Event = serde_json::from_str(&letter.event)
            .map_err(|e| format!("dead letter {} is not an event: {e}", letter.id))?;
        let event = Arc::new(event);
        let graph = self.current();
        let pipeline = graph
            .find(&letter.pipeline)
            .ok_or_else(|| format!("pipeline {:?} is not running", letter.pipeline))?;
        if !pipeline.offer(Arc::clone(&event)).await {
            self.after_reload(pipeline, &event);
        }
        Ok(())
    }

    /// The Prometheus text of every pipeline and stage, the plugin host, the bus and the
    /// sinks ([`PipelineHost::render_metrics_into`] on an exposition of its own).
    pub async fn render_metrics(&self) -> String {
        let mut out = Exposition::new();
        self.render_metrics_into(&mut out).await;
        out.finish()
    }

    /// Adds the samples of every pipeline and stage, the plugin host, the bus and the sinks
    /// to `out`.
    pub async fn render_metrics_into(&self, out: &mut Exposition) {
        let graph = self.current();
        for pipeline in &graph.pipelines {
            pipeline.counters.render(&pipeline.pipeline.name, out);
        }
        let mut queued = out.family(
            "homeport_pipeline_queued",
            Kind::Gauge,
            "Events waiting in a pipeline's queues.",
        );
        for pipeline in &graph.pipelines {
            queued.sample(
                &[("pipeline", pipeline.pipeline.name.as_str())],
                pipeline.queued() as u64,
            );
        }
        for pipeline in &graph.pipelines {
            let name = pipeline.pipeline.name.as_str();
            for (index, (kind, stage, _)) in pipeline.pipeline.stages.iter().enumerate() {
                let label = stage_name(index, kind);
                stage.render_metrics(&[("pipeline", name), ("stage", label.as_str())], out);
            }
        }
        self.services.plugins.render_metrics(out);
        self.services.sinks.render_metrics(out);
    }

    /// Every running pipeline's counters, in order.
    pub async fn stats(&self) -> Vec<PipelineStats> {
        let graph = self.current();
        graph
            .pipelines
            .iter()
            .map(|p| p.counters.stats(&p.pipeline.name, &p.pipeline.kinds))
            .collect()
    }

    /// Counters of one pipeline: (in, out, failed, dropped total, in flight).
    pub async fn totals(&self, name: &str) -> Option<(u64, u64, u64, u64, u64)> {
        let graph = self.current();
        let c = &graph.find(name)?.counters;
        Some((
            c.input.load(Ordering::Acquire),
            c.output.load(Ordering::Acquire),
            c.failed.load(Ordering::Acquire),
            c.dropped().values().sum(),
            c.in_flight(),
        ))
    }

    /// Detaches from the bus (later events reach observers only), lets queued events finish
    /// (bounded), and returns.
    pub async fn shutdown(&self) {
        self.bus.detach();
        let graph = self.current();
        graph.close();
        if tokio::time::timeout(DRAIN, graph.workers.wait())
            .await
            .is_err()
        {
            tracing::warn!("pipelines did not drain within {DRAIN:?}");
        }
    }
}

/// The pipelines of `graph` that take `event`'s kind.
fn takers<'a>(graph: &'a Graph, event: &Event) -> impl Iterator<Item = &'a Arc<Running>> {
    let kind = event.kind_name();
    graph
        .pipelines
        .iter()
        .filter(move |p| p.pipeline.kinds.contains(&kind))
}
