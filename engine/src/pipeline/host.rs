//! [`PipelineHost`]: the running pipelines. One dispatcher reads the event bus and offers
//! each event to every pipeline whose `on` takes it; reload builds the new graph aside, lets
//! the old one drain, and swaps — or keeps the old one if the new one does not compile;
//! replay puts a dead letter back into its pipeline; `/metrics` reads the counters.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{RwLock, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Services;
use super::counters::stage_name;
use super::error::{SpecError, SpecErrors};
use super::graph::Graph;
use super::sources::build;
use super::worker;
use crate::bus::EventBus;
use crate::event::Event;
use crate::metrics::{Exposition, Kind};
use crate::store::DeadLetter;

/// How long a reload or shutdown waits for queued events to finish.
const DRAIN: Duration = Duration::from_secs(10);

/// The running pipelines, their dispatcher, and reload.
#[derive(Debug)]
pub struct PipelineHost {
    services: Services,
    sources: Vec<PathBuf>,
    bus: EventBus,
    graph: RwLock<Arc<Graph>>,
    reloading: tokio::sync::Mutex<()>,
    lagged: AtomicU64,
    shutdown: CancellationToken,
    dispatcher: TaskTracker,
}

impl PipelineHost {
    /// Compiles the pipelines at `sources` and starts them on `bus`.
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
            lagged: AtomicU64::new(0),
            shutdown: CancellationToken::new(),
            dispatcher: TaskTracker::new(),
            bus: bus.clone(),
        });
        host.spawn_workers(&graph);
        let receiver = bus.subscribe();
        host.dispatcher.spawn(Arc::clone(&host).dispatch(receiver));
        tracing::info!(pipelines = graph.pipelines.len(), "pipelines started");
        Ok(host)
    }

    /// Names of the running pipelines.
    pub async fn names(&self) -> Vec<String> {
        self.graph.read().await.names()
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

    async fn dispatch(self: Arc<Self>, mut events: broadcast::Receiver<Arc<Event>>) {
        loop {
            let received = tokio::select! {
                () = self.shutdown.cancelled() => return,
                received = events.recv() => received,
            };
            match received {
                Ok(event) => {
                    let graph = self.graph.read().await;
                    let kind = event.kind_name();
                    for pipeline in &graph.pipelines {
                        if pipeline.pipeline.kinds.contains(&kind) {
                            pipeline.offer(Arc::clone(&event)).await;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    self.lagged.fetch_add(missed, Ordering::Relaxed);
                    tracing::warn!(
                        missed,
                        "pipelines fell behind the event bus; events were missed"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
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
        self.spawn_workers(&fresh);
        // Hold the dispatcher while the old graph drains, so a device's events never run in
        // the old and the new graph at once.
        let mut current = self.graph.write().await;
        current.close();
        if tokio::time::timeout(DRAIN, current.workers.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "old pipelines did not drain within {DRAIN:?}; their remaining events are dropped"
            );
        }
        let names = fresh.names();
        *current = fresh;
        tracing::info!(?names, "pipelines reloaded");
        Ok(names)
    }

    /// Replays a dead letter into its pipeline; an error if the pipeline no longer exists or
    /// the event cannot be read.
    pub async fn replay(&self, letter: &DeadLetter) -> Result<(), String> {
        let event: Event = serde_json::from_str(&letter.event)
            .map_err(|e| format!("dead letter {} is not an event: {e}", letter.id))?;
        let graph = self.graph.read().await;
        let pipeline = graph
            .find(&letter.pipeline)
            .ok_or_else(|| format!("pipeline {:?} is not running", letter.pipeline))?;
        pipeline.offer(Arc::new(event)).await;
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
        let graph = Arc::clone(&*self.graph.read().await);
        for pipeline in &graph.pipelines {
            pipeline.counters.render(&pipeline.pipeline.name, out);
        }
        for pipeline in &graph.pipelines {
            let name = pipeline.pipeline.name.as_str();
            for (index, (kind, stage, _)) in pipeline.pipeline.stages.iter().enumerate() {
                let label = stage_name(index, kind);
                stage.render_metrics(&[("pipeline", name), ("stage", label.as_str())], out);
            }
        }
        self.services.plugins.render_metrics(out);
        out.family(
            "homeport_pipeline_bus_lagged_total",
            Kind::Counter,
            "Events the pipelines missed because they fell behind the bus.",
        )
        .sample(&[], self.lagged.load(Ordering::Relaxed));
        self.services.sinks.render_metrics(out);
    }

    /// Counters of one pipeline: (in, out, failed, dropped total, in flight).
    pub async fn totals(&self, name: &str) -> Option<(u64, u64, u64, u64, u64)> {
        let graph = self.graph.read().await;
        let c = &graph.find(name)?.counters;
        Some((
            c.input.load(Ordering::Acquire),
            c.output.load(Ordering::Acquire),
            c.failed.load(Ordering::Acquire),
            c.dropped().values().sum(),
            c.in_flight(),
        ))
    }

    /// Stops dispatching, lets queued events finish (bounded), and returns.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.dispatcher.close();
        self.dispatcher.wait().await;
        let graph = self.graph.read().await;
        graph.close();
        if tokio::time::timeout(DRAIN, graph.workers.wait())
            .await
            .is_err()
        {
            tracing::warn!("pipelines did not drain within {DRAIN:?}");
        }
    }
}
