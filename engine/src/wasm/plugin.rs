//! Plugin files: compiled once per content (and cached on disk by the engine), checked
//! against the world version, pre-instantiated; a [`PluginSlot`] holds the current build of
//! one file and swaps in a new one when the file changes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use wasmtime::component::{Component, ComponentExportIndex};

use super::batch::Form;
use super::bindings::PluginPre;
use super::engine::WasmEngine;
use super::limits::MAX_PLUGIN_FILE;
use super::state::HostState;
use super::world;

/// Why a plugin file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin {path}: {message}")]
pub struct PluginError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl PluginError {
    pub(crate) fn new(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// Size and modification time: what tells a changed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    pub(crate) fn of(path: &Path) -> Result<Self, PluginError> {
        let meta = std::fs::metadata(path).map_err(|e| {
            PluginError::new(
                path,
                format!("cannot read it: {e} (build it with `cargo build --release --target wasm32-wasip2`)"),
            )
        })?;
        Ok(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// One compiled, checked, pre-instantiated plugin file.
pub struct Plugin {
    /// The file it came from.
    pub path: PathBuf,
    /// A hash of its bytes (identifies the build in logs).
    pub digest: u64,
    /// Its size in bytes.
    pub size: u64,
    pub(crate) pre: PluginPre<HostState>,
    /// Its batch export and its form, if it has one (plugins built against 0.1.0 do not).
    pub(crate) batch: Option<(Form, ComponentExportIndex)>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("digest", &format_args!("{:016x}", self.digest))
            .field("size", &self.size)
            .field("batch", &self.batch.map(|(form, _)| form))
            .finish_non_exhaustive()
    }
}

/// Reads, compiles and checks the component at `path`.
pub(crate) fn compile(engine: &WasmEngine, path: &Path) -> Result<(Plugin, Stamp), PluginError> {
    let stamp = Stamp::of(path)?;
    if stamp.len > MAX_PLUGIN_FILE {
        return Err(PluginError::new(
            path,
            format!("larger than {MAX_PLUGIN_FILE} bytes"),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| PluginError::new(path, format!("cannot read it: {e}")))?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    let digest = hasher.finish();
    if bytes.get(..4) != Some(b"\0asm") {
        return Err(PluginError::new(path, "not a WebAssembly file"));
    }
    if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        return Err(PluginError::new(
            path,
            "a core WebAssembly module, not a component: build plugins for the wasm32-wasip2 target",
        ));
    }
    let component = Component::new(&engine.engine, &bytes)
        .map_err(|e| PluginError::new(path, format!("not a valid component: {e}")))?;
    let (imports, exports) = interface_names(engine, &component);
    world::check(&imports, &exports).map_err(|message| PluginError::new(path, message))?;
    let instance_pre = engine.linker.instantiate_pre(&component).map_err(|e| {
        PluginError::new(
            path,
            format!(
                "needs something this host does not provide: {}",
                super::describe::describe(&e)
            ),
        )
    })?;
    let pre = PluginPre::new(instance_pre).map_err(|e| {
        PluginError::new(
            path,
            format!(
                "its handler does not match {}: {}",
                world::supported(),
                super::describe::describe(&e)
            ),
        )
    })?;
    let batch = super::batch::export(&component);
    Ok((
        Plugin {
            path: path.to_owned(),
            digest,
            size: stamp.len,
            pre,
            batch,
        },
        stamp,
    ))
}

/// The names a plugin's component imports and exports (interfaces, with versions).
pub fn interfaces(engine: &WasmEngine, plugin: &Plugin) -> (Vec<String>, Vec<String>) {
    interface_names(engine, plugin.pre.instance_pre().component())
}

fn interface_names(engine: &WasmEngine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let names = |list: Vec<&str>| list.into_iter().map(str::to_owned).collect();
    (
        names(ty.imports(&engine.engine).map(|(n, _)| n).collect()),
        names(ty.exports(&engine.engine).map(|(n, _)| n).collect()),
    )
}

/// The current build of one plugin file, shared by every stage that names the file.
#[derive(Debug)]
pub struct PluginSlot {
    /// The file (canonical path).
    pub path: PathBuf,
    current: RwLock<Arc<Plugin>>,
    generation: AtomicU64,
    stamp: Mutex<Stamp>,
    /// The stamp of a changed file that failed to load, so it is reported once.
    refused: Mutex<Option<Stamp>>,
}

impl PluginSlot {
    pub(crate) fn new(plugin: Plugin, stamp: Stamp) -> Self {
        Self {
            path: plugin.path.clone(),
            current: RwLock::new(Arc::new(plugin)),
            generation: AtomicU64::new(0),
            stamp: Mutex::new(stamp),
            refused: Mutex::new(None),
        }
    }

    /// The current build and its generation (bumped by every reload).
    pub fn current(&self) -> (Arc<Plugin>, u64) {
        let plugin = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (plugin, self.generation.load(Ordering::Acquire))
    }

    /// The generation now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn stamp(&self) -> Stamp {
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the file on disk differs from the loaded build (a file that cannot be read
    /// counts as unchanged: the loaded build stays).
    pub(crate) fn differs_on_disk(&self) -> bool {
        Stamp::of(&self.path).is_ok_and(|now| now != self.stamp())
    }

    /// Whether the file on disk differs from the loaded build and from a build already
    /// refused (what the watcher tries).
    pub(crate) fn changed_on_disk(&self) -> Option<Stamp> {
        let now = Stamp::of(&self.path).ok()?;
        let refused = *self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        (now != self.stamp() && Some(now) != refused).then_some(now)
    }

    pub(crate) fn refuse(&self, stamp: Stamp) {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(stamp);
    }

    /// Swaps in a new build.
    pub(crate) fn install(&self, plugin: Plugin, stamp: Stamp) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(plugin);
        *self.stamp.lock().unwrap_or_else(PoisonError::into_inner) = stamp;
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}
