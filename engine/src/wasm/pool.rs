//! A stage's plugin instances: created from the pre-instantiated plugin, initialised with the
//! stage's config, reused across events, and thrown away after a trap, a timeout or running
//! out of memory (the next event gets a fresh one). Every call runs under the stage's time
//! limit (for each of its events): the epoch callback yields to the runtime each tick and
//! stops the call at its deadline.
//!
//! Events that queue up at a stage go to the plugin several at a time (`process-packed`, or
//! `process-batch` for a plugin built against 0.1.1: [`super::batch`]), so the fixed cost of a
//! call — entering the instance on its own stack, arming the limits — is paid once per batch.
//! When a batch call traps or runs out of time, only the event the plugin was deciding on
//! fails; the others are run again one at a time on a fresh instance.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::{ComponentNamedList, Func, Lower};
use wasmtime::{Store, UpdateDeadline};

use super::batch::{BatchParams, BatchResults, Form, Packed, PackedBatch, PackedParams};
use super::bindings::{Bindings, types as wit};
use super::convert::{self, Texts};
use super::engine::WasmEngine;
use super::kv::KvSpace;
use super::limits::Limits;
use super::plugin::{Plugin, PluginSlot};
use super::state::{Grants, HostState, StageLabel};
use crate::event::Event;

/// Idle instances kept per stage.
const MAX_IDLE: usize = 8;
/// Most events in one batch call (the world's contract).
pub const MAX_BATCH: usize = 64;

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
    /// Events handed to the plugin (one `process` call each, or part of a batch).
    pub calls: AtomicU64,
    /// Batch calls (`process-packed` or `process-batch`, each with several events).
    pub batches: AtomicU64,
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
    /// The batch export, for a plugin that has one, and its form.
    batch: Option<(Form, Func)>,
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
        let instance = match plugin
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await
        {
            Ok(instance) => instance,
            Err(e) => return Err(classify(&store, &e, setup, setup.limits.init_time)),
        };
        let bindings = Bindings::new(&mut store, &instance)
            .map_err(|e| CallError::Trap(super::describe::describe(&e)))?;
        let batch = plugin.batch.as_ref().and_then(|(form, index)| {
            instance
                .get_func(&mut store, index)
                .map(|func| (*form, func))
        });
        if let Some((form, func)) = batch {
            let checked = match form {
                Form::Packed => func
                    .typed::<PackedParams<'_>, BatchResults>(&store)
                    .map(drop),
                Form::Records => func
                    .typed::<BatchParams<'_>, BatchResults>(&store)
                    .map(drop),
            };
            checked.map_err(|e| {
                CallError::Trap(format!(
                    "its {} export does not have the world's signature: {}",
                    form.function(),
                    super::describe::describe(&e)
                ))
            })?;
        }
        match bindings
            .homeport_plugin_handler()
            .call_init(&mut store, &setup.config)
            .await
        {
            Ok(Ok(())) => Ok(Instance {
                store,
                bindings,
                batch,
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

    /// An instance for the next call: an idle one of the current build, or a new one.
    async fn instance(&self) -> Result<Instance, CallError> {
        match self.take() {
            Some(instance) => Ok(instance),
            None => {
                let (plugin, generation) = self.slot.current();
                self.instantiate(&plugin, generation)
                    .await
                    .inspect_err(|e| self.count(e))
            }
        }
    }

    /// Runs the plugin on one event: its record, and its id and fields, which the plugin
    /// fetches through `current` if it wants them. The fields are lent to the instance for
    /// the call (moved in and back, never copied). The event must be of a kind the world has
    /// ([`convert::in_world`]); another fails.
    pub async fn process(
        &self,
        event: &Event,
        fields: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<wit::Decision, CallError> {
        let texts = Texts::of(event);
        let Some(input) = convert::to_wit(event, texts.get(0)) else {
            return Err(not_in_world(event));
        };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let mut instance = self.instance().await?;
        begin(&mut instance.store, self.setup.limits.time);
        let state = instance.store.data_mut();
        state.lend(
            std::iter::once((event.device.as_str(), event.id)),
            std::slice::from_mut(fields),
        );
        let result = instance
            .bindings
            .homeport_plugin_handler()
            .call_process(&mut instance.store, input)
            .await;
        let state = instance.store.data_mut();
        state.deadline = None;
        state.give_back(std::slice::from_mut(fields));
        match result {
            Ok(answer) => {
                self.give_back(instance);
                self.answer(answer)
            }
            Err(e) => Err(self.failed(&instance, &e)),
        }
    }

    /// Runs the plugin on several events (`fields[i]` are `events[i]`'s), in one batch call
    /// when the plugin has a batch export and there is more than one; one result per event, in
    /// order. Errors are per event, as from [`Pool::process`]: a call that traps or runs out of
    /// time fails the event being decided on, and the others are run again one at a time.
    pub async fn process_batch(
        &self,
        events: &[&Event],
        fields: &mut [serde_json::Map<String, serde_json::Value>],
    ) -> Vec<Result<wit::Decision, CallError>> {
        let count = events.len().min(fields.len());
        let (events, fields) = (&events[..count], &mut fields[..count]);
        let mut instance = match self.instance().await {
            Ok(instance) => instance,
            Err(error) => return vec![Err(error); count],
        };
        let batch = instance.batch.filter(|_| (2..=MAX_BATCH).contains(&count));
        // The batch's input, in the plugin's form; none when an event cannot go in one (a kind
        // the world does not have, a text too large to pack): then one call per event.
        let texts;
        let input = match batch {
            Some((Form::Packed, func)) => pack(events).map(|packed| (func, Input::Packed(packed))),
            Some((Form::Records, func)) => {
                texts = Texts::all(events.iter().copied());
                records(events, &texts).map(|records| (func, Input::Records(records)))
            }
            None => None,
        };
        let Some((func, input)) = input else {
            self.give_back(instance);
            return self.one_by_one(events, fields, None).await;
        };
        self.stats.calls.fetch_add(count as u64, Ordering::Relaxed);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        let budget = self.setup.limits.time.saturating_mul(count as u32);
        begin(&mut instance.store, budget);
        let state = instance.store.data_mut();
        state.batch_limits = state.deadline.map(|end| (end, self.setup.limits.time));
        state.lend(events.iter().map(|e| (e.device.as_str(), e.id)), fields);
        let result = match &input {
            Input::Packed(packed) => call(func, &mut instance.store, packed.params()).await,
            Input::Records(records) => call(func, &mut instance.store, (&records[..],)).await,
        };
        let state = instance.store.data_mut();
        state.deadline = None;
        state.batch_limits = None;
        state.give_back(fields);
        let deciding = state.position;
        match result {
            Ok(answers) if answers.len() == count => {
                instance.store.data_mut().settle_writes(false);
                self.give_back(instance);
                answers.into_iter().map(|a| self.answer(a)).collect()
            }
            Ok(answers) => {
                // Every event fails: none of their writes stand.
                instance.store.data_mut().settle_writes(true);
                self.give_back(instance);
                let error = CallError::Plugin(format!(
                    "process-batch answered {} results for {count} events",
                    answers.len()
                ));
                (0..count)
                    .map(|_| {
                        self.count(&error);
                        Err(error.clone())
                    })
                    .collect()
            }
            Err(e) => {
                // The events run again one by one: the writes they made in this call must
                // not count twice.
                instance.store.data_mut().settle_writes(true);
                let error = self.failed(&instance, &e);
                self.one_by_one(events, fields, Some((deciding, error)))
                    .await
            }
        }
    }

    /// Runs each event in its own call, except `failed`'s, whose result is known.
    async fn one_by_one(
        &self,
        events: &[&Event],
        fields: &mut [serde_json::Map<String, serde_json::Value>],
        failed: Option<(usize, CallError)>,
    ) -> Vec<Result<wit::Decision, CallError>> {
        let mut results = Vec::with_capacity(events.len());
        for (index, (event, fields)) in events.iter().zip(fields).enumerate() {
            let result = match &failed {
                Some((at, error)) if *at == index => Err(error.clone()),
                _ => self.process(event, fields).await,
            };
            results.push(result);
        }
        results
    }

    /// What the plugin answered for one event, counted.
    fn answer(&self, answer: Result<wit::Decision, String>) -> Result<wit::Decision, CallError> {
        answer.map_err(|message| {
            let error = CallError::Plugin(message);
            self.count(&error);
            error
        })
    }

    /// A call that trapped: the instance is dropped (it may be in any state), the failure
    /// counted.
    fn failed(&self, instance: &Instance, error: &wasmtime::Error) -> CallError {
        self.stats.recycled.fetch_add(1, Ordering::Relaxed);
        let error = classify(&instance.store, error, &self.setup, self.setup.limits.time);
        self.count(&error);
        error
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

/// A batch's input, in the form of the plugin's batch export.
enum Input<'a> {
    Packed(PackedBatch),
    Records(Vec<wit::EventParam<'a>>),
}

/// `events` packed; `None` if one cannot be.
fn pack(events: &[&Event]) -> Option<PackedBatch> {
    let mut packed = Packed::with_capacity(events.len());
    for event in events {
        if packed.push(event) != Ok(true) {
            return None;
        }
    }
    packed.finish()
}

/// `events` as records borrowing from them and `texts` (their texts, in order); `None` if one
/// is of a kind the world does not have.
fn records<'a>(events: &[&'a Event], texts: &'a Texts) -> Option<Vec<wit::EventParam<'a>>> {
    events
        .iter()
        .enumerate()
        .map(|(index, event)| convert::to_wit(event, texts.get(index)))
        .collect()
}

/// One batch call with `params`, typed as the world has it.
async fn call<P>(
    func: Func,
    store: &mut Store<HostState>,
    params: P,
) -> wasmtime::Result<Vec<Result<wit::Decision, String>>>
where
    P: ComponentNamedList + Lower + Send + Sync,
{
    let typed = func.typed::<P, BatchResults>(&*store)?;
    typed
        .call_async(store, params)
        .await
        .map(|(answers,)| answers)
}

/// The error of an event whose kind the plugins' world does not have.
fn not_in_world(event: &Event) -> CallError {
    CallError::Plugin(format!(
        "`{}` events are not in the plugins' world",
        event.kind_name()
    ))
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
