//! Running pipelines.
//!
//! One dispatcher reads the event bus and offers each event to every pipeline whose `on`
//! takes it. A pipeline has a few shards, each a bounded queue with one worker; a device's
//! events always go to the same shard, so they stay in order through every stage while
//! different devices run in parallel. A stage failure is retried with backoff, then the
//! policy decides (dead letter, drop, continue). Reload builds the new graph aside, lets the
//! old one drain, and swaps — or keeps the old one if the new one does not compile.

use std::collections::VecDeque;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, RwLock, broadcast};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Services;
use super::compile::{CompiledPipeline, compile};
use super::counters::PipelineCounters;
use super::error::{SpecError, SpecErrors};
use super::load;
use super::policy::{Then, WhenFull};
use super::stage::{Flow, Outcome};
use super::template::Templates;
use crate::bus::EventBus;
use crate::event::Event;
use crate::store::DeadLetter;

/// Shards (ordered workers) per pipeline.
const SHARDS: usize = 4;
/// How long a reload or shutdown waits for queued events to finish.
const DRAIN: Duration = Duration::from_secs(10);

/// An event waiting in a pipeline's queue, with the fields it carries when a plugin routed
/// it from another pipeline.
#[derive(Debug)]
struct Queued {
    event: Arc<Event>,
    fields: Option<serde_json::Map<String, serde_json::Value>>,
}

impl From<Arc<Event>> for Queued {
    fn from(event: Arc<Event>) -> Self {
        Self {
            event,
            fields: None,
        }
    }
}

/// A bounded queue with one worker.
#[derive(Debug)]
struct Shard {
    queue: Mutex<VecDeque<Queued>>,
    capacity: usize,
    ready: Notify,
    room: Notify,
    closed: AtomicBool,
}

impl Shard {
    fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::new(VecDeque::new()),
            capacity,
            ready: Notify::new(),
            room: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next event, waiting for one; `None` once closed and empty.
    async fn pop(&self) -> Option<Queued> {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(event) = self.lock().pop_front() {
                self.room.notify_one();
                return Some(event);
            }
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            notified.await;
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.ready.notify_waiters();
        self.room.notify_waiters();
    }
}

/// A pipeline with its queues and counters.
#[derive(Debug)]
struct Running {
    pipeline: CompiledPipeline,
    shards: Vec<Shard>,
    counters: PipelineCounters,
}

impl Running {
    fn new(pipeline: CompiledPipeline) -> Self {
        let per_shard = pipeline.capacity.div_ceil(SHARDS).max(1);
        let kinds: Vec<&'static str> = pipeline.stages.iter().map(|(kind, _, _)| *kind).collect();
        Self {
            shards: (0..SHARDS).map(|_| Shard::new(per_shard)).collect(),
            counters: PipelineCounters::new(&kinds),
            pipeline,
        }
    }

    fn shard_of(&self, device: &str) -> &Shard {
        let mut hasher = DefaultHasher::new();
        device.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % self.shards.len()]
    }

    /// Queues an event, applying the queue policy when full.
    async fn offer(&self, event: impl Into<Queued>) {
        let event = event.into();
        self.counters.input.fetch_add(1, Ordering::AcqRel);
        let shard = self.shard_of(&event.event.device);
        loop {
            let room = shard.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut queue = shard.lock();
                if shard.closed.load(Ordering::Acquire) {
                    drop(queue);
                    self.counters.drop_for("reload");
                    return;
                }
                if queue.len() < shard.capacity {
                    queue.push_back(event);
                    drop(queue);
                    shard.ready.notify_one();
                    return;
                }
                match self.pipeline.when_full {
                    WhenFull::DropNewest => {
                        drop(queue);
                        self.counters.drop_for("queue_full");
                        return;
                    }
                    WhenFull::DropOldest => {
                        queue.pop_front();
                        queue.push_back(event);
                        drop(queue);
                        self.counters.drop_for("queue_full");
                        shard.ready.notify_one();
                        return;
                    }
                    WhenFull::Block => {}
                }
            }
            room.await;
        }
    }
}

/// A set of running pipelines.
#[derive(Debug)]
struct Graph {
    pipelines: Vec<Arc<Running>>,
    workers: TaskTracker,
}

impl Graph {
    fn close(&self) {
        for pipeline in &self.pipelines {
            for shard in &pipeline.shards {
                shard.close();
            }
        }
        self.workers.close();
    }
}

/// The shipped default pipelines, built into the binary (`pipelines/default.yaml`).
pub const DEFAULT_PIPELINES: &str = include_str!("../../../pipelines/default.yaml");
/// The name the built-in defaults go by in errors.
pub const DEFAULT_NAME: &str = "pipelines/default.yaml (built in)";

/// Loads and compiles the pipeline files at `sources`; with none, the built-in defaults.
pub fn build(
    sources: &[PathBuf],
    services: &Services,
) -> Result<Vec<CompiledPipeline>, SpecErrors> {
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    if sources.is_empty() {
        match load::parse(std::path::Path::new(DEFAULT_NAME), DEFAULT_PIPELINES) {
            Ok(parsed) => loaded.push(parsed),
            Err(e) => errors.push(e),
        }
    }
    let files = load::files(sources).map_err(|e| SpecErrors(vec![e]))?;
    for file in files {
        match load::parse_file(&file) {
            Ok(parsed) => loaded.push(parsed),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    compile(&loaded, services, &Templates::new()).map_err(SpecErrors)
}

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
        let compiled = build(&sources, &services)?;
        let graph = Arc::new(Graph {
            pipelines: compiled
                .into_iter()
                .map(|p| Arc::new(Running::new(p)))
                .collect(),
            workers: TaskTracker::new(),
        });
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
        self.graph
            .read()
            .await
            .pipelines
            .iter()
            .map(|p| p.pipeline.name.clone())
            .collect()
    }

    fn spawn_workers(&self, graph: &Arc<Graph>) {
        for pipeline in &graph.pipelines {
            for shard in 0..pipeline.shards.len() {
                let (pipeline, services, bus, routes) = (
                    Arc::clone(pipeline),
                    self.services.clone(),
                    self.bus.clone(),
                    graph.pipelines.clone(),
                );
                graph.workers.spawn(async move {
                    while let Some(event) = pipeline.shards[shard].pop().await {
                        process(&pipeline, event, &services, &bus, &routes).await;
                    }
                });
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
                    std::path::Path::new("pipelines"),
                    format!("building the pipelines panicked: {e}"),
                )])
            })??;
        let fresh = Arc::new(Graph {
            pipelines: compiled
                .into_iter()
                .map(|p| Arc::new(Running::new(p)))
                .collect(),
            workers: TaskTracker::new(),
        });
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
        let names = fresh
            .pipelines
            .iter()
            .map(|p| p.pipeline.name.clone())
            .collect();
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
            .pipelines
            .iter()
            .find(|p| p.pipeline.name == letter.pipeline)
            .ok_or_else(|| format!("pipeline {:?} is not running", letter.pipeline))?;
        pipeline.offer(Arc::new(event)).await;
        Ok(())
    }

    /// Prometheus samples for every pipeline and stage.
    pub async fn render_metrics(&self) -> String {
        let mut out = String::from(
            "# HELP homeport_pipeline_events_total Events per pipeline: in = out + dropped + failed + in flight.\n\
             # TYPE homeport_pipeline_events_total counter\n\
             # HELP homeport_pipeline_dropped_total Events a pipeline dropped, by reason.\n\
             # TYPE homeport_pipeline_dropped_total counter\n\
             # HELP homeport_pipeline_in_flight Events queued or being processed.\n\
             # TYPE homeport_pipeline_in_flight gauge\n\
             # HELP homeport_stage_events_total Events per stage, by result.\n\
             # TYPE homeport_stage_events_total counter\n\
             # HELP homeport_stage_errors_total Failed stage attempts, retries included.\n\
             # TYPE homeport_stage_errors_total counter\n",
        );
        for pipeline in &self.graph.read().await.pipelines {
            pipeline.counters.render(&pipeline.pipeline.name, &mut out);
        }
        out.push_str(
            "# HELP homeport_wasm_calls_total Plugin calls per wasm stage, by result.\n\
             # TYPE homeport_wasm_calls_total counter\n",
        );
        for pipeline in &self.graph.read().await.pipelines {
            for (index, (kind, stage, _)) in pipeline.pipeline.stages.iter().enumerate() {
                let labels = super::counters::stage_labels(&pipeline.pipeline.name, index, kind);
                stage.render_metrics(&labels, &mut out);
            }
        }
        self.services.plugins.render_metrics(&mut out);
        out.push_str("# HELP homeport_pipeline_bus_lagged_total Events the pipelines missed because they fell behind the bus.\n");
        out.push_str("# TYPE homeport_pipeline_bus_lagged_total counter\n");
        out.push_str(&format!(
            "homeport_pipeline_bus_lagged_total {}\n",
            self.lagged.load(Ordering::Relaxed)
        ));
        if let Some(mqtt) = &self.services.mqtt {
            let s = mqtt.stats();
            render_samples(
                &mut out,
                &[
                    ("homeport_mqtt_queued", "gauge", s.queued as u64),
                    ("homeport_mqtt_in_flight", "gauge", s.in_flight as u64),
                    ("homeport_mqtt_submitted_total", "counter", s.submitted),
                    ("homeport_mqtt_delivered_total", "counter", s.delivered),
                    (
                        "homeport_mqtt_dropped_full_total",
                        "counter",
                        s.dropped_full,
                    ),
                    ("homeport_mqtt_superseded_total", "counter", s.superseded),
                    ("homeport_mqtt_resent_total", "counter", s.resent),
                    ("homeport_mqtt_republished_total", "counter", s.republished),
                    ("homeport_mqtt_reconnects_total", "counter", s.reconnects),
                    ("homeport_mqtt_connected", "gauge", u64::from(s.connected)),
                ],
            );
        }
        if let Some(nats) = &self.services.nats {
            let s = nats.stats();
            render_samples(
                &mut out,
                &[
                    ("homeport_nats_published_total", "counter", s.published),
                    ("homeport_nats_dropped_total", "counter", s.dropped),
                    ("homeport_nats_js_acked_total", "counter", s.js_acked),
                    (
                        "homeport_nats_js_duplicates_total",
                        "counter",
                        s.js_duplicates,
                    ),
                    ("homeport_nats_js_retries_total", "counter", s.js_retries),
                    ("homeport_nats_kv_puts_total", "counter", s.kv_puts),
                    ("homeport_nats_errors_total", "counter", s.errors),
                    ("homeport_nats_connected", "gauge", u64::from(s.connected)),
                ],
            );
        }
        out
    }

    /// Counters of one pipeline: (in, out, failed, dropped total, in flight).
    pub async fn totals(&self, name: &str) -> Option<(u64, u64, u64, u64, u64)> {
        let graph = self.graph.read().await;
        let pipeline = graph.pipelines.iter().find(|p| p.pipeline.name == name)?;
        let c = &pipeline.counters;
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

fn render_samples(out: &mut String, samples: &[(&str, &str, u64)]) {
    use std::fmt::Write;
    for (name, kind, value) in samples {
        let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
    }
}

/// Runs one event through a pipeline's stages; `routes` are the graph's pipelines, which
/// plugins may route the event into. What the stages emitted is published however the event
/// leaves: a plugin may emit and drop, and a config `apply_config` wrote stays written when a
/// later stage fails.
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
                    route(flow, &target, routes).await;
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
                    let stage_name = format!("#{} {kind}", index + 1);
                    tracing::warn!(pipeline = %pipeline.pipeline.name, stage = %stage_name, device = %flow.event.device, %error, "stage failed");
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
                                &stage_name,
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

/// Hands a routed event to the pipeline `target` (same graph), with its fields.
async fn route(flow: &Flow, target: &str, routes: &[Arc<Running>]) {
    let mut event = (*flow.event).clone();
    event.hops = event.hops.saturating_add(1);
    match routes.iter().find(|p| p.pipeline.name == target) {
        Some(pipeline) => {
            pipeline
                .offer(Queued {
                    event: Arc::new(event),
                    fields: Some(flow.fields.clone()),
                })
                .await;
        }
        None => {
            tracing::warn!(pipeline = %target, device = %flow.event.device, "routed event lost: the target pipeline is not running");
        }
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

impl From<SpecError> for SpecErrors {
    fn from(error: SpecError) -> Self {
        Self(vec![error])
    }
}
