//! The one wasmtime engine of a host: compilation settings, the on-disk cache of compiled
//! components, the epoch ticker that bounds every call's time, and the linker with WASI and
//! homeport's host functions.

use std::path::Path;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine};

use super::bindings::Bindings;
use super::state::HostState;

/// How often the epoch advances: the granularity of time limits.
pub const TICK: Duration = Duration::from_millis(1);

/// The shared engine and linker.
pub struct WasmEngine {
    /// The engine.
    pub engine: Engine,
    /// WASI p2 (with an empty context) and the `homeport:plugin` imports.
    pub linker: Linker<HostState>,
    cache: Option<Cache>,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("cache", &self.cache.as_ref().map(Cache::directory))
            .finish_non_exhaustive()
    }
}

impl WasmEngine {
    /// An engine caching compiled components under `cache_dir` (none: no disk cache), with
    /// its epoch ticker running until the engine is dropped.
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, String> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // For profiling plugins: `perf` then names their functions (docs/plugins.md).
        if std::env::var_os("HOMEPORT_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let cache = match cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    format!("cannot create the plugin cache {}: {e}", dir.display())
                })?;
                let mut settings = CacheConfig::new();
                settings.with_directory(dir);
                let cache = Cache::new(settings).map_err(|e| {
                    format!(
                        "cannot use the plugin cache {}: {}",
                        dir.display(),
                        super::describe::describe(&e)
                    )
                })?;
                config.cache(Some(cache.clone()));
                Some(cache)
            }
            None => None,
        };
        let engine = Engine::new(&config).map_err(|e| {
            format!(
                "cannot start the WebAssembly engine: {}",
                super::describe::describe(&e)
            )
        })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| format!("cannot link WASI: {}", super::describe::describe(&e)))?;
        Bindings::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(|e| {
                format!(
                    "cannot link the host functions: {}",
                    super::describe::describe(&e)
                )
            })?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".to_owned())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| format!("cannot start the epoch ticker: {e}"))?;
        Ok(Self {
            engine,
            linker,
            cache,
        })
    }

    /// Compiled components found in / missing from the disk cache so far.
    pub fn cache_stats(&self) -> Option<(usize, usize)> {
        self.cache
            .as_ref()
            .map(|cache| (cache.cache_hits(), cache.cache_misses()))
    }
}
