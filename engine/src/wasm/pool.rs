//! A stage's plugin instances: created from the pre-instantiated plugin, initialised with the
//! stage's config, reused across events, and thrown away after a trap, a timeout or running
//! out of memory (the next event gets a fresh one). Every call runs under the stage's time
//! limit: the epoch callback yields to the runtime each tick and stops the call at its
//! deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::{Store, UpdateDeadline};

use super::bindings::{Bindings, types as wit};
use super::engine::WasmEngine;
use super::kv::KvSpace;
use super::limits::Limits;
use super::plugin::{Plugin, PluginSlot};
use super::state::{Grants, HostState, StageLabel};

/// Idle instances kept per stage.
const MAX_IDLE: usize = 8;

/// How a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The plugin returned an error for this event.
    #[error("the plugin failed: {0}")]
    Plugin(String),
    /// `init` refused the stage's config.
    #[error("the plugin refused its config: {0}")]
    Config(String),
    /// The call ran past the stage's time limit.
    #[error("the plugin ran past its time limit of {0:?} and was stopped")]
    Timeout(Duration),
    /// The instance needed more memory than the stage allows.
    #[error("the plugin ran out of memory (limit {0} bytes) and was stopped")]
    OutOfMemory(usize),
    /// The plugin trapped (a panic, an unreachable, a denied host call…).
    #[error("the plugin trapped: {0}")]
    Trap(String),
}

/// What a stage gives each of its instances.
#[derive(Debug)]
pub struct Setup {
    /// The plugin's config, as JSON text.
    pub config: String,
    /// The stage's limits.
    pub limits: Limits,
    /// Host functions granted.
    pub grants: Grants,
    /// The stage's key-value namespace.
    pub kv: Arc<KvSpace>,
    /// Who the stage is.
    pub label: Arc<StageLabel>,
}

/// Counters of one stage's plugin.
#[derive(Debug, Default)]
pub struct PoolStats {
    /// `process` calls.
    pub calls: AtomicU64,
    /// Calls where the plugin returned an error.
    pub plugin_errors: AtomicU64,
    /// Calls that trapped.
    pub traps: AtomicU64,
    /// Calls stopped at the time limit.
    pub timeouts: AtomicU64,
    /// Calls stopped at the memory limit.
    pub out_of_memory: AtomicU64,
    /// Instances created.
    pub instances: AtomicU64,
    /// Instances thrown away after a failure.
    pub recycled: AtomicU64,
}

struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
    generation: u64,
}

/// One stage's instances of its plugin.
pub struct Pool {
    slot: Arc<PluginSlot>,
    engine: Arc<WasmEngine>,
    setup: Setup,
    idle: Mutex<Vec<Instance>>,
    /// Its counters.
    pub stats: PoolStats,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("plugin", &self.slot.path)
            .field("setup", &self.setup)
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `slot`'s plugin with `setup`. Only the host makes pools
    /// ([`super::PluginHost::stage_pool`]), so that a reload can check each stage's config
    /// against a new build.
    pub(super) fn new(slot: Arc<PluginSlot>, engine: Arc<WasmEngine>, setup: Setup) -> Arc<Self> {
        Arc::new(Self {
            slot,
            engine,
            setup,
            idle: Mutex::new(Vec::new()),
            stats: PoolStats::default(),
        })
    }

    /// The plugin slot.
    pub fn slot(&self) -> &Arc<PluginSlot> {
        &self.slot
    }

    /// The stage's setup.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Creates one instance and runs `init`, keeping it for the first event: how a stage
    /// proves at load time that the plugin accepts its config.
    pub async fn warm(&self) -> Result<(), CallError> {
        let (plugin, generation) = self.slot.current();
        let instance = self.instantiate(&plugin, generation).await?;
        self.give_back(instance);
        Ok(())
    }

    /// Checks that `plugin` (a new build) instantiates and accepts this stage's config.
    pub(crate) async fn accepts(&self, plugin: &Plugin) -> Result<(), CallError> {
        self.instantiate(plugin, u64::MAX).await.map(drop)
    }

    async fn instantiate(&self, plugin: &Plugin, generation: u64) -> Result<Instance, CallError> {
        let setup = &self.setup;
        let state = HostState::new(
            setup.limits.memory,
            setup.grants,
            Arc::clone(&setup.kv),
            Arc::clone(&setup.label),
        );
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|mut context| {
            let state = context.data_mut();
            if state.deadline.is_some_and(|at| Instant::now() >= at) {
                state.timed_out = true;
                return Err(wasmtime::format_err!("time limit reached"));
            }
            // Still inside the limit: let other tasks run, then carry on.
            Ok(UpdateDeadline::Yield(1))
        });
        self.stats.instances.fetch_add(1, Ordering::Relaxed);
        begin(&mut store, setup.limits.init_time);
        let bindings = match plugin.pre.instantiate_async(&mut store).await {
            Ok(bindings) => bindings,
            Err(e) => return Err(classify(&store, &e, setup, setup.limits.init_time)),
        };
        match bindings
            .homeport_plugin_handler()
            .call_init(&mut store, &setup.config)
            .await
        {
            Ok(Ok(())) => Ok(Instance {
                store,
                bindings,
                generation,
            }),
            Ok(Err(refusal)) => Err(CallError::Config(refusal)),
            Err(e) => Err(classify(&store, &e, setup, setup.limits.init_time)),
        }
    }

    fn take(&self) -> Option<Instance> {
        let generation = self.slot.generation();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(instance) = idle.pop() {
            if instance.generation == generation {
                return Some(instance);
            }
        }
        None
    }

    fn give_back(&self, instance: Instance) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    /// Runs the plugin on one event: its record, and its id and fields, which the plugin
    /// fetches through `current` if it wants them. The fields are lent to the instance for
    /// the call (moved in and back, never copied).
    pub async fn process(
        &self,
        event: wit::EventParam<'_>,
        id: uuid::Uuid,
        fields: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<wit::Decision, CallError> {
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let mut instance = match self.take() {
            Some(instance) => instance,
            None => {
                let (plugin, generation) = self.slot.current();
                self.instantiate(&plugin, generation)
                    .await
                    .inspect_err(|e| self.count(e))?
            }
        };
        begin(&mut instance.store, self.setup.limits.time);
        let state = instance.store.data_mut();
        state.device.clear();
        state.device.push_str(event.device);
        state.id = id;
        std::mem::swap(&mut state.fields, fields);
        let result = instance
            .bindings
            .homeport_plugin_handler()
            .call_process(&mut instance.store, event)
            .await;
        let state = instance.store.data_mut();
        state.deadline = None;
        std::mem::swap(&mut state.fields, fields);
        match result {
            Ok(Ok(decision)) => {
                self.give_back(instance);
                Ok(decision)
            }
            Ok(Err(message)) => {
                self.give_back(instance);
                let error = CallError::Plugin(message);
                self.count(&error);
                Err(error)
            }
            Err(e) => {
                // The instance may be in any state after a trap: never reuse it.
                self.stats.recycled.fetch_add(1, Ordering::Relaxed);
                let error = classify(&instance.store, &e, &self.setup, self.setup.limits.time);
                self.count(&error);
                Err(error)
            }
        }
    }

    fn count(&self, error: &CallError) {
        let counter = match error {
            CallError::Plugin(_) | CallError::Config(_) => &self.stats.plugin_errors,
            CallError::Timeout(_) => &self.stats.timeouts,
            CallError::OutOfMemory(_) => &self.stats.out_of_memory,
            CallError::Trap(_) => &self.stats.traps,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Arms the time limit for the next call.
fn begin(store: &mut Store<HostState>, budget: Duration) {
    let state = store.data_mut();
    state.deadline = Some(Instant::now() + budget);
    state.timed_out = false;
    state.limiter.hit = false;
    store.set_epoch_deadline(1);
}

/// What a failed call amounts to.
fn classify(
    store: &Store<HostState>,
    error: &wasmtime::Error,
    setup: &Setup,
    budget: Duration,
) -> CallError {
    let state = store.data();
    if state.timed_out {
        return CallError::Timeout(budget);
    }
    if state.limiter.hit {
        return CallError::OutOfMemory(setup.limits.memory);
    }
    let mut message = super::describe::describe(error);
    if let Some(line) = state.tail.last_line() {
        message.push_str(&format!(" (the plugin's last output: {line})"));
    }
    CallError::Trap(message)
}
