//! Where pipelines come from: the files and directories given, or — with none — the shipped
//! defaults built into the binary; loaded and compiled together, every problem reported at
//! once.

use std::path::{Path, PathBuf};

use super::Services;
use super::compile::{CompiledPipeline, compile};
use super::error::SpecErrors;
use super::load;
use super::template::Templates;

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
        match load::parse(Path::new(DEFAULT_NAME), DEFAULT_PIPELINES) {
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
    compile(&loaded, services, &Templates::for_node(&services.node)).map_err(SpecErrors)
}
