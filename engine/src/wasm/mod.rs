//! The WebAssembly plugin host: pipeline stages written as components of the
//! `homeport:plugin` world (`sdk/wit/plugin.wit`).
//!
//! - [`bindings`] — host bindings generated from the WIT; [`world`] — which world version a
//!   component was built against; [`batch`] — several events in one call (packed or as
//!   records).
//! - [`engine`] — the one engine: compilation cache on disk, epoch ticker, linker.
//! - [`plugin`] — compiling and checking a file; the slot that reloads it when it changes.
//! - [`pool`] — a stage's instances: init with config, reuse, limits, recycling after traps.
//! - [`state`] — what an instance's store holds and the host functions (log, clock, kv).
//! - [`describe`] — the one-line text of a wasmtime error.
//! - [`kv`] — the host-held key-value namespaces; [`limits`] — per-stage limits;
//!   [`convert`] — events to and from WIT records; [`output`] — the plugin's stdout/stderr.

pub mod batch;
pub mod bindings;
pub mod convert;
pub mod describe;
pub mod engine;
pub mod kv;
pub mod limits;
pub mod output;
pub mod plugin;
pub mod pool;
pub mod state;
pub mod world;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use describe::describe;
use engine::WasmEngine;
use kv::{KvStore, Quota};
use limits::Limits;
use plugin::{PluginError, PluginSlot};
use pool::Pool;
use state::{Grants, StageLabel};

/// Everything plugins share in one process: the engine (created at the first plugin), the
/// loaded plugin files, and the key-value namespaces (which outlive pipeline reloads).
#[derive(Debug, Default)]
pub struct PluginHost {
    cache_dir: Option<PathBuf>,
    engine: OnceLock<Result<Arc<WasmEngine>, String>>,
    slots: Mutex<HashMap<PathBuf, Arc<PluginSlot>>>,
    /// Every stage's pool and the slot it runs, so a reload can ask each user of a file.
    users: Mutex<Vec<(Weak<PluginSlot>, Weak<Pool>)>>,
    /// The key-value namespaces.
    pub kv: KvStore,
    /// Plugin files reloaded after a change.
    pub reloads: AtomicU64,
    /// Changed plugin files that failed to load (the previous build stayed).
    pub reload_failures: AtomicU64,
}

impl PluginHost {
    /// A host caching compiled plugins under `cache_dir` (none: compile every time).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        Self {
            cache_dir,
            ..Self::default()
        }
    }

    /// The engine, created on first use.
    pub fn engine(&self) -> Result<Arc<WasmEngine>, String> {
        self.engine
            .get_or_init(|| WasmEngine::new(self.cache_dir.as_deref()).map(Arc::new))
            .clone()
    }

    /// The slot of the plugin at `path`: the loaded one, or — when the file is new or changed
    /// since — a new slot with a fresh build (stages still running on the old slot keep their
    /// build until they are replaced). Compiles (blocking) when needed.
    pub fn load(&self, path: &Path) -> Result<Arc<PluginSlot>, PluginError> {
        let engine = self
            .engine()
            .map_err(|message| PluginError::new(path, message))?;
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let existing = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        // A pipeline build always takes the file as it is now, even a build the watcher
        // refused: the pipeline's own check then reports why, at the stage's line.
        if let Some(slot) = existing
            && !slot.differs_on_disk()
        {
            return Ok(slot);
        }
        let (plugin, stamp) = plugin::compile(&engine, &key)?;
        let slot = Arc::new(PluginSlot::new(plugin, stamp));
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, Arc::clone(&slot));
        Ok(slot)
    }

    /// A pool for a stage named by `label`, of the plugin in `slot`, with the key-value
    /// namespace `namespace` (bounded by `limits`); registered so that a reload of the file
    /// checks the stage's config against the new build.
    pub fn stage_pool(
        &self,
        slot: Arc<PluginSlot>,
        namespace: &str,
        label: StageLabel,
        config: String,
        limits: Limits,
        grants: Grants,
    ) -> Result<Arc<Pool>, String> {
        let kv = self.kv.space(
            namespace,
            Quota {
                bytes: limits.kv_bytes,
                entries: limits.kv_entries,
            },
        );
        let setup = pool::Setup {
            config,
            limits,
            grants,
            kv,
            label: Arc::new(label),
        };
        let pool = Pool::new(Arc::clone(&slot), self.engine()?, setup);
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.retain(|(_, user)| user.strong_count() > 0);
        users.push((Arc::downgrade(&slot), Arc::downgrade(&pool)));
        Ok(pool)
    }

    /// A pool outside any pipeline (`homeport plugin run`, benchmarks): the plugin at `path`,
    /// with its own key-value namespace `name` and one instance warmed.
    pub async fn standalone_pool(
        &self,
        path: &Path,
        name: &str,
        config: String,
        limits: Limits,
        grants: Grants,
    ) -> Result<Arc<Pool>, String> {
        let slot = self.load(path).map_err(|e| e.to_string())?;
        let label = StageLabel::new(name, "wasm".to_owned());
        let pool = self.stage_pool(slot, name, label, config, limits, grants)?;
        pool.warm().await.map_err(|e| e.to_string())?;
        Ok(pool)
    }

    /// The live pools running `slot`.
    fn users_of(&self, slot: &Arc<PluginSlot>) -> Vec<Arc<Pool>> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        users.retain(|(_, user)| user.strong_count() > 0);
        users
            .iter()
            .filter(|(of, _)| std::ptr::eq(of.as_ptr(), Arc::as_ptr(slot)))
            .filter_map(|(_, user)| user.upgrade())
            .collect()
    }

    /// Looks at every loaded plugin file once: a changed file is compiled, checked against
    /// the config of every stage using it, and swapped in; if anything fails, the previous
    /// build stays and the failure is logged once. Returns the files reloaded.
    pub async fn reload_changed(&self) -> Vec<PathBuf> {
        let Ok(engine) = self.engine() else {
            return Vec::new();
        };
        let slots: Vec<Arc<PluginSlot>> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        let mut reloaded = Vec::new();
        for slot in slots {
            let Some(stamp) = slot.changed_on_disk() else {
                continue;
            };
            let (engine, path) = (Arc::clone(&engine), slot.path.clone());
            let compiled = tokio::task::spawn_blocking(move || plugin::compile(&engine, &path))
                .await
                .unwrap_or_else(|e| {
                    Err(PluginError::new(
                        &slot.path,
                        format!("compilation panicked: {e}"),
                    ))
                });
            let result = match compiled {
                Ok((plugin, _)) => {
                    let mut refusal = None;
                    for user in self.users_of(&slot) {
                        if let Err(e) = user.accepts(&plugin).await {
                            refusal = Some(format!(
                                "stage {} of pipeline {:?}: {e}",
                                user.setup().label.stage,
                                user.setup().label.pipeline
                            ));
                            break;
                        }
                    }
                    match refusal {
                        None => Ok(plugin),
                        Some(message) => Err(PluginError::new(&slot.path, message)),
                    }
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(plugin) => {
                    tracing::info!(plugin = %slot.path.display(), digest = %format_args!("{:016x}", plugin.digest), "plugin reloaded");
                    slot.install(plugin, stamp);
                    self.reloads.fetch_add(1, Ordering::Relaxed);
                    reloaded.push(slot.path.clone());
                }
                Err(e) => {
                    tracing::error!(error = %e, "changed plugin not loaded; the previous build keeps running");
                    slot.refuse(stamp);
                    self.reload_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        reloaded
    }

    /// Watches the loaded plugin files every `every` until `stop`.
    pub fn watch(self: &Arc<Self>, every: Duration, stop: CancellationToken) {
        let host = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                host.reload_changed().await;
            }
        });
    }

    /// Adds the host's counters (plugin reloads, compilation cache) to `out`.
    pub fn render_metrics(&self, out: &mut crate::metrics::Exposition) {
        use crate::metrics::Kind;
        out.family(
            "homeport_wasm_reloads_total",
            Kind::Counter,
            "Changed plugin files loaded in place of the previous build.",
        )
        .sample(&[], self.reloads.load(Ordering::Relaxed));
        out.family(
            "homeport_wasm_reload_failures_total",
            Kind::Counter,
            "Changed plugin files refused (the previous build kept running).",
        )
        .sample(&[], self.reload_failures.load(Ordering::Relaxed));
        if let Some(Ok(engine)) = self.engine.get()
            && let Some((hits, misses)) = engine.cache_stats()
        {
            out.family(
                "homeport_wasm_cache_hits_total",
                Kind::Counter,
                "Plugin compilations served from the on-disk cache.",
            )
            .sample(&[], hits as u64);
            out.family(
                "homeport_wasm_cache_misses_total",
                Kind::Counter,
                "Plugin compilations the on-disk cache could not serve.",
            )
            .sample(&[], misses as u64);
        }
    }
}
