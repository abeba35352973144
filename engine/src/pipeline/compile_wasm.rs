//! Building a `wasm` stage from its spec: the plugin file is loaded (compiled, or taken from
//! the cache), checked against the world version, instantiated once and given its config —
//! so a missing file, a plugin for another world version, or a config the plugin refuses is
//! an error at the stage's line, from `homeport check` as from a reload.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::Services;
use super::compile::duration;
use super::error::SpecError;
use super::spec::WasmSpec;
use super::stage::wasm::WasmStage;
use crate::wasm::limits::{Limits, parse_size};
use crate::wasm::pool::Pool;
use crate::wasm::state::{Grants, StageLabel};

/// Builds the stage at `index` of `pipeline` in `file`; `all` names every pipeline (route
/// targets).
pub fn build(
    file: &Path,
    root: &marked_yaml::Node,
    pipeline: &str,
    index: usize,
    all: &HashSet<&str>,
    spec: &WasmSpec,
    services: &Services,
) -> Result<WasmStage, SpecError> {
    let limits = limits_of(file, spec)?;
    let mut grants = Grants::default();
    if let Some(list) = &spec.grant {
        grants = Grants::NONE;
        for name in list {
            if !grants.grant(name.as_str()) {
                return Err(SpecError::at(
                    file,
                    name.span(),
                    format!(
                        "unknown grant {:?}; expected log, clock or kv",
                        name.as_str()
                    ),
                ));
            }
        }
    }
    let mut routes = BTreeMap::new();
    for (output, target) in &spec.routes {
        if !all.contains(target.as_str()) {
            return Err(SpecError::at(
                file,
                target.span(),
                format!(
                    "route {output:?} names pipeline {:?}, which is not defined (or is skipped: its `requires` is not configured)",
                    target.as_str()
                ),
            ));
        }
        if target.as_str() == pipeline {
            return Err(SpecError::at(
                file,
                target.span(),
                "a route back into its own pipeline would loop",
            ));
        }
        routes.insert(output.clone(), Arc::from(target.as_str()));
    }
    let base = file.parent().unwrap_or_else(|| Path::new("."));
    let path = base.join(spec.plugin.as_str());
    let slot = services
        .plugins
        .load(&path)
        .map_err(|e| SpecError::at(file, spec.plugin.span(), e.to_string()))?;
    let stem = path
        .file_stem()
        .map_or_else(|| "plugin".to_owned(), |s| s.to_string_lossy().into_owned());
    let namespace = spec
        .kv_namespace
        .as_ref()
        .map_or_else(|| format!("{pipeline}/{stem}"), |n| n.as_str().to_owned());
    // The config as YAML typed it (`floor: 2` is a number), from the file's own nodes.
    let config = spec.config.as_ref().map_or_else(
        || "{}".to_owned(),
        |c| {
            super::load::typed_value_at(root, c.span())
                .unwrap_or_else(|| (**c).clone())
                .to_string()
        },
    );
    let label = StageLabel::new(pipeline, format!("#{} wasm({stem})", index + 1));
    let pool = Pool::for_stage(
        &services.plugins,
        slot,
        &namespace,
        label,
        config,
        limits,
        grants,
    )
    .map_err(|e| SpecError::at(file, spec.plugin.span(), e))?;
    // One instance now: proves the plugin instantiates and accepts its config.
    futures::executor::block_on(pool.warm()).map_err(|e| {
        let span = spec
            .config
            .as_ref()
            .map_or_else(|| *spec.plugin.span(), |c| *c.span());
        SpecError::at(file, &span, format!("plugin {}: {e}", path.display()))
    })?;
    Ok(WasmStage { pool, routes })
}

fn limits_of(file: &Path, spec: &WasmSpec) -> Result<Limits, SpecError> {
    let mut limits = Limits::default();
    let Some(given) = &spec.limits else {
        return Ok(limits);
    };
    if let Some(time) = &given.time {
        limits.time = duration(file, time)?;
        if limits.time.is_zero() {
            return Err(SpecError::at(
                file,
                time.span(),
                "a time limit must be above zero",
            ));
        }
    }
    let size = |text: &marked_yaml::Spanned<String>| {
        parse_size(text.as_str()).map_err(|e| SpecError::at(file, text.span(), e))
    };
    if let Some(memory) = &given.memory {
        limits.memory = size(memory)?;
        if limits.memory < 1 << 20 {
            return Err(SpecError::at(
                file,
                memory.span(),
                "a memory limit below 1MiB leaves no room for a plugin to start",
            ));
        }
    }
    if let Some(kv) = &given.kv {
        limits.kv_bytes = size(kv)?;
    }
    if let Some(entries) = &given.kv_entries {
        limits.kv_entries = **entries;
    }
    Ok(limits)
}
