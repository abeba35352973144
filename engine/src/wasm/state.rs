//! What a plugin instance's store holds, and the host functions it may call: a WASI context
//! with nothing in it (no files, network, environment or arguments), a memory limiter, the
//! stage's grants, its key-value namespace, and where its log lines go.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::{clock, current, kv, log, types};
use super::kv::{Before, KvRefusal, KvSpace};
use super::output::Tail;

/// Host functions a stage lets its plugin call (`grant:` in the pipeline YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants {
    /// `log.write`.
    pub log: bool,
    /// `clock.now-ms`, `clock.monotonic-ns`; without it WASI's clocks read zero.
    pub clock: bool,
    /// `kv.get`, `kv.set`, `kv.delete`.
    pub kv: bool,
}

impl Default for Grants {
    /// Logging and the clock; the key-value store must be granted explicitly.
    fn default() -> Self {
        Self {
            log: true,
            clock: true,
            kv: false,
        }
    }
}

impl Grants {
    /// Nothing granted.
    pub const NONE: Self = Self {
        log: false,
        clock: false,
        kv: false,
    };

    /// Grants one host interface by name; false if the name is unknown.
    pub fn grant(&mut self, name: &str) -> bool {
        match name {
            "log" => self.log = true,
            "clock" => self.clock = true,
            "kv" => self.kv = true,
            _ => return false,
        }
        true
    }
}

/// Lines per second a stage's plugin may log (with a burst of the same size); the rest are
/// dropped and counted (`homeport_wasm_log_suppressed_total`).
const LOG_RATE: f64 = 100.0;

/// Who a stage is, for its log lines and counters; shared by its instances.
#[derive(Debug)]
pub struct StageLabel {
    /// The pipeline.
    pub pipeline: String,
    /// The stage, e.g. `#2 wasm(code_filter)`.
    pub stage: String,
    bucket: Mutex<(f64, Instant)>,
    /// Log lines dropped by the rate limit.
    pub suppressed: AtomicU64,
}

impl StageLabel {
    /// A label for `stage` of `pipeline`.
    pub fn new(pipeline: &str, stage: String) -> Self {
        Self {
            pipeline: pipeline.to_owned(),
            stage,
            bucket: Mutex::new((LOG_RATE, Instant::now())),
            suppressed: AtomicU64::new(0),
        }
    }

    fn admit_line(&self) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(bucket.1).as_secs_f64() * LOG_RATE;
        *bucket = ((bucket.0 + refill).min(LOG_RATE), now);
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            true
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

/// Refuses memory growth past the stage's limit, and remembers that it did.
#[derive(Debug)]
pub struct MemoryLimiter {
    limit: usize,
    /// Set when a growth was refused.
    pub hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes reached (the plugin asked for {desired})",
                self.limit
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Table elements cost a pointer each: count them against the same limit.
        Ok(desired.saturating_mul(size_of::<usize>()) <= self.limit)
    }
}

/// One event of a call, beyond its record: what `current` answers for it.
#[derive(Debug, Default)]
pub struct Subject {
    /// Its device, for log lines.
    pub device: String,
    /// Its id (`current.id`).
    pub id: uuid::Uuid,
    /// Its fields (`current.fields`), lent by the flow for the call.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// The data of one plugin instance's store.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The memory limiter.
    pub limiter: MemoryLimiter,
    grants: Grants,
    kv: Arc<KvSpace>,
    label: Arc<StageLabel>,
    /// The events of the call being made, in its order: what `current` answers about and
    /// whose device log lines name.
    pub subjects: Vec<Subject>,
    /// Which of them the plugin is deciding on (`current.enter`).
    pub position: usize,
    /// In a call for several events: what each key the call wrote held before, so the writes
    /// can be undone if the call traps and its events run again one at a time.
    /// Each key once (the keys journalled, so the journal never outgrows the namespace).
    journal: Option<(Vec<Before>, HashSet<String>)>,
    /// When the current call must end.
    pub deadline: Option<Instant>,
    /// In a call for several events: when the whole call must end, and the time each event
    /// gets from its `current.enter` (the deadline becomes the earlier of the two).
    pub batch_limits: Option<(Instant, Duration)>,
    /// Set when the epoch callback stopped a call for its deadline.
    pub timed_out: bool,
    /// What the plugin printed last.
    pub tail: Tail,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("stage", &self.label.stage)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

impl HostState {
    /// State for a new instance of a stage's plugin.
    pub fn new(memory: usize, grants: Grants, kv: Arc<KvSpace>, label: Arc<StageLabel>) -> Self {
        let tail = Tail::default();
        let mut wasi = WasiCtx::builder();
        wasi.stdout(tail.clone()).stderr(tail.clone());
        if !grants.clock {
            // Without the `clock` grant, WASI's clocks (what `std::time` reads) stand still too.
            wasi.wall_clock(Stopped).monotonic_clock(Stopped);
        }
        let wasi = wasi.build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: memory,
                hit: false,
            },
            grants,
            kv,
            label,
            subjects: Vec::new(),
            position: 0,
            journal: None,
            deadline: None,
            batch_limits: None,
            timed_out: false,
            tail,
        }
    }

    /// Makes the events of the next call the ones `current` answers about: their devices and
    /// ids, and their fields, moved in (the caller takes them back with [`Self::give_back`]).
    pub fn lend<'a>(
        &mut self,
        events: impl ExactSizeIterator<Item = (&'a str, uuid::Uuid)>,
        fields: &mut [serde_json::Map<String, serde_json::Value>],
    ) {
        self.subjects.resize_with(events.len(), Subject::default);
        for ((subject, (device, id)), fields) in self.subjects.iter_mut().zip(events).zip(fields) {
            subject.device.clear();
            subject.device.push_str(device);
            subject.id = id;
            std::mem::swap(&mut subject.fields, fields);
        }
        self.position = 0;
        self.journal = (self.subjects.len() > 1).then(Default::default);
    }

    /// Ends the journal of the call just made; with `undo`, its key-value writes are undone
    /// first (a call for several events that trapped). A call of one event keeps no journal:
    /// its writes stand, as they did before batches.
    pub fn settle_writes(&mut self, undo: bool) {
        if let Some((journal, _)) = self.journal.take()
            && undo
        {
            self.kv.undo(journal);
        }
    }

    /// Journals `key` before the call's first write to it.
    fn journal(&mut self, key: &str) {
        if let Some((journal, keys)) = &mut self.journal
            && !keys.contains(key)
        {
            keys.insert(key.to_owned());
            journal.push(self.kv.before(key));
        }
    }

    /// Hands the fields lent by [`Self::lend`] back (as the plugin left them).
    pub fn give_back(&mut self, fields: &mut [serde_json::Map<String, serde_json::Value>]) {
        for (subject, fields) in self.subjects.iter_mut().zip(fields) {
            std::mem::swap(&mut subject.fields, fields);
        }
    }

    /// The event the plugin is deciding on.
    fn subject(&self) -> Option<&Subject> {
        self.subjects.get(self.position)
    }

    fn denied(&self, call: &str, grant: &str) -> wasmtime::Error {
        wasmtime::format_err!(
            "the plugin called {call}, but stage {} of pipeline {:?} does not grant `{grant}` (add it to the stage's `grant:` list)",
            self.label.stage,
            self.label.pipeline
        )
    }
}

/// A clock that reads zero: WASI's clocks for a plugin not granted `clock`.
#[derive(Debug, Clone, Copy)]
struct Stopped;

impl wasmtime_wasi::HostWallClock for Stopped {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for Stopped {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl current::Host for HostState {
    fn id(&mut self) -> wasmtime::Result<String> {
        Ok(self
            .subject()
            .map_or_else(String::new, |subject| subject.id.to_string()))
    }

    fn fields(&mut self) -> wasmtime::Result<Vec<types::Field>> {
        Ok(self
            .subject()
            .map(|subject| super::convert::fields_to_wit(&subject.fields))
            .unwrap_or_default())
    }

    fn enter(&mut self, index: u32) -> wasmtime::Result<()> {
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        if index >= self.subjects.len() {
            return Err(wasmtime::format_err!(
                "the plugin called current.enter({index}), but the call has {} events",
                self.subjects.len()
            ));
        }
        self.position = index;
        if let Some((call_end, per_event)) = self.batch_limits {
            // The event entered gets its own time, within what is left of the call's.
            self.deadline = Some(call_end.min(Instant::now() + per_event));
        }
        Ok(())
    }
}

impl log::Host for HostState {
    fn write(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if !self.grants.log {
            return Err(self.denied("log.write", "log"));
        }
        if !self.label.admit_line() {
            return Ok(());
        }
        let mut rendered = String::new();
        for (key, value) in fields.iter().take(32) {
            if !rendered.is_empty() {
                rendered.push(' ');
            }
            rendered.push_str(&format!("{key}={value:?}"));
        }
        let device = self.subject().map_or("", |subject| subject.device.as_str());
        let (pipeline, stage) = (&self.label.pipeline, &self.label.stage);
        match level {
            log::Level::Error => {
                tracing::error!(target: "homeport::plugin", %pipeline, %stage, %device, fields = %rendered, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(target: "homeport::plugin", %pipeline, %stage, %device, fields = %rendered, "{message}")
            }
            log::Level::Info => {
                tracing::info!(target: "homeport::plugin", %pipeline, %stage, %device, fields = %rendered, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(target: "homeport::plugin", %pipeline, %stage, %device, fields = %rendered, "{message}")
            }
            log::Level::Trace => {
                tracing::trace!(target: "homeport::plugin", %pipeline, %stage, %device, fields = %rendered, "{message}")
            }
        }
        Ok(())
    }
}

impl clock::Host for HostState {
    fn now_ms(&mut self) -> wasmtime::Result<i64> {
        if !self.grants.clock {
            return Err(self.denied("clock.now-ms", "clock"));
        }
        Ok(crate::event::now_ms())
    }

    fn monotonic_ns(&mut self) -> wasmtime::Result<u64> {
        if !self.grants.clock {
            return Err(self.denied("clock.monotonic-ns", "clock"));
        }
        Ok(monotonic_ns())
    }
}

fn monotonic_ns() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl kv::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        if !self.grants.kv {
            return Err(self.denied("kv.get", "kv"));
        }
        Ok(self.kv.get(&key, Instant::now()))
    }

    fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), kv::KvError>> {
        if !self.grants.kv {
            return Err(self.denied("kv.set", "kv"));
        }
        let ttl = ttl_ms.map(Duration::from_millis);
        self.journal(&key);
        Ok(self
            .kv
            .set(&key, value, ttl, Instant::now())
            .map_err(|refusal| match refusal {
                KvRefusal::QuotaExceeded => kv::KvError::QuotaExceeded,
                KvRefusal::TooLarge => kv::KvError::TooLarge,
            }))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<bool> {
        if !self.grants.kv {
            return Err(self.denied("kv.delete", "kv"));
        }
        self.journal(&key);
        Ok(self.kv.delete(&key, Instant::now()))
    }
}
