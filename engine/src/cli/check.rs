//! `homeport check`: validate pipeline files offline.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use homeport::pipeline::Services;
use homeport::pipeline::runtime::build;

/// Options of `homeport check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Pipeline files or directories (none: the built-in defaults).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Keep compiled plugins in this directory (as `homeport run` does in `<data>/plugin-cache`),
    /// so checking again does not compile them again.
    #[arg(long, value_name = "DIR")]
    plugin_cache: Option<PathBuf>,
}

/// Checks the files; prints every problem as file:line:column and fails if there is any.
pub(crate) async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let plugins = Arc::new(homeport::wasm::PluginHost::new(args.plugin_cache.clone()));
    let services = Services::offline(plugins, true);
    match build(&args.paths, &services) {
        Ok(pipelines) => {
            let names: Vec<&str> = pipelines.iter().map(|p| p.name.as_str()).collect();
            println!("ok: {} pipeline(s): {}", names.len(), names.join(", "));
            Ok(())
        }
        Err(errors) => {
            eprintln!("{errors}");
            anyhow::bail!("{} problem(s) found", errors.0.len())
        }
    }
}
