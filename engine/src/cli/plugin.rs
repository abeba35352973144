//! `homeport plugin`: try a plugin component outside any pipeline — what it is built against
//! (`inspect`), and what it decides for events given as JSON lines (`run`), with the same
//! host, limits and grants a `wasm` stage has.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use homeport::event::Event;
use homeport::pipeline::stage::wasm::WasmStage;
use homeport::pipeline::stage::{Flow, Outcome, Stage, StageError};
use homeport::wasm::PluginHost;
use homeport::wasm::limits::{Limits, parse_size};
use homeport::wasm::state::Grants;
use serde_json::{Map, Value, json};

/// Options of `homeport plugin`.
#[derive(Debug, Args)]
pub(crate) struct PluginArgs {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Load a plugin, check its world version, and print what it imports and exports.
    Inspect {
        /// The component (`target/wasm32-wasip2/release/NAME.wasm`).
        plugin: PathBuf,
    },
    /// Run a plugin on events read as JSON lines (the format `homeport tap` prints; `id` and
    /// `at_ms` may be left out, `fields` may be given) and print one decision per line.
    Run(RunPluginArgs),
}

/// Options of `homeport plugin run`.
#[derive(Debug, Args)]
struct RunPluginArgs {
    /// The component.
    plugin: PathBuf,
    /// The plugin's config, as JSON (default `{}`).
    #[arg(long, value_name = "JSON", default_value = "{}")]
    config: String,
    /// Host functions granted: log, clock, kv (comma-separated; default log,clock).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    grant: Option<Vec<String>>,
    /// Time limit per call.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "100ms",
        value_parser = homeport::de::parse_duration
    )]
    time: Duration,
    /// Memory limit per instance.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    memory: String,
    /// An output name the plugin may route to (repeat for several); the run reports the
    /// route instead of entering a pipeline.
    #[arg(long = "route", value_name = "OUTPUT")]
    routes: Vec<String>,
    /// Keep compiled plugins in this directory, so the next run does not compile again.
    #[arg(long, value_name = "DIR")]
    plugin_cache: Option<PathBuf>,
    /// Events file (default: standard input).
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
}

/// Runs `homeport plugin …`.
pub(crate) async fn run(args: PluginArgs) -> anyhow::Result<()> {
    match args.command {
        PluginCommand::Inspect { plugin } => inspect(plugin),
        PluginCommand::Run(args) => run_events(args).await,
    }
}

fn inspect(path: PathBuf) -> anyhow::Result<()> {
    let host = PluginHost::default();
    let slot = host.load(&path)?;
    let (plugin, _) = slot.current();
    let engine = host.engine().map_err(anyhow::Error::msg)?;
    let (imports, exports) = homeport::wasm::plugin::interfaces(&engine, &plugin);
    let report = json!({
        "plugin": path.display().to_string(),
        "world": homeport::wasm::world::supported(),
        "size": plugin.size,
        "digest": format!("{:016x}", plugin.digest),
        "imports": imports,
        "exports": exports,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn run_events(args: RunPluginArgs) -> anyhow::Result<()> {
    let mut grants = Grants::default();
    if let Some(list) = &args.grant {
        grants = Grants::NONE;
        for name in list.iter().filter(|n| !n.is_empty()) {
            if !grants.grant(name) {
                bail!("unknown grant {name:?}; expected log, clock or kv");
            }
        }
    }
    let limits = Limits {
        time: args.time,
        memory: parse_size(&args.memory).map_err(anyhow::Error::msg)?,
        ..Limits::default()
    };
    let config: Value = serde_json::from_str(&args.config).context("--config is not JSON")?;
    let host = PluginHost::new(args.plugin_cache.clone());
    let pool = host
        .standalone_pool(&args.plugin, "cli", config.to_string(), limits, grants)
        .await
        .map_err(anyhow::Error::msg)?;
    // The stage itself, so every rule of a real `wasm` stage applies (emit and hop limits,
    // routes, what a replacement may change).
    let routes = args
        .routes
        .iter()
        .map(|name| (name.clone(), Arc::from(name.as_str())))
        .collect();
    let stage = WasmStage { pool, routes };
    let input: Box<dyn BufRead> = match &args.events {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let mut out = std::io::stdout().lock();
    for (number, line) in input.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let (event, fields) = parse_event(&line)
            .with_context(|| format!("event on line {} is not an event", number + 1))?;
        let event = Arc::new(event);
        let mut flow = Flow::new(Arc::clone(&event));
        flow.fields = fields.clone();
        let outcome = stage.run(&mut flow).await;
        writeln!(out, "{}", describe(&event, &fields, &flow, outcome))?;
        out.flush()?;
    }
    Ok(())
}

/// An event line: the engine's event JSON, as [`Event::from_input`] reads it.
fn parse_event(line: &str) -> anyhow::Result<(Event, Map<String, Value>)> {
    let value: Value = serde_json::from_str(line)?;
    Event::from_input(value).map_err(anyhow::Error::msg)
}

/// What the stage made of one event, as one JSON line.
fn describe(
    event: &Arc<Event>,
    fields: &Map<String, Value>,
    flow: &Flow,
    outcome: Result<Outcome, StageError>,
) -> Value {
    let mut answer = Map::new();
    answer.insert("event_id".to_owned(), Value::from(event.id.to_string()));
    match outcome {
        Ok(Outcome::Continue) => {
            answer.insert("verdict".to_owned(), Value::from("pass"));
        }
        Ok(Outcome::Drop(reason)) => {
            answer.insert("verdict".to_owned(), Value::from("drop"));
            answer.insert("reason".to_owned(), Value::from(reason));
        }
        Ok(Outcome::Route(output)) => {
            answer.insert("verdict".to_owned(), Value::from("route"));
            answer.insert("output".to_owned(), Value::from(&*output));
        }
        Err(error) => {
            answer.insert("error".to_owned(), Value::from(error.message));
            return Value::Object(answer);
        }
    }
    if !Arc::ptr_eq(&flow.event, event) || flow.fields != *fields {
        let mut replaced = serde_json::to_value(&*flow.event).unwrap_or_default();
        if let Some(object) = replaced.as_object_mut() {
            object.insert("fields".to_owned(), Value::Object(flow.fields.clone()));
        }
        answer.insert("event".to_owned(), replaced);
    }
    if !flow.emitted.is_empty() {
        let emitted = flow
            .emitted
            .iter()
            .map(|e| serde_json::to_value(&**e).unwrap_or_default())
            .collect();
        answer.insert("emit".to_owned(), Value::Array(emitted));
    }
    Value::Object(answer)
}
