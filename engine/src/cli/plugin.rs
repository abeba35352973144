//! `homeport plugin`: try a plugin component outside any pipeline — what it is built against
//! (`inspect`), and what it decides for events given as JSON lines (`run`), with the same
//! host, limits and grants a `wasm` stage has.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use homeport::event::Event;
use homeport::wasm::bindings::types as wit;
use homeport::wasm::limits::{Limits, parse_size};
use homeport::wasm::pool::Pool;
use homeport::wasm::state::Grants;
use homeport::wasm::{PluginHost, convert};
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
    #[arg(long, value_name = "DURATION", default_value = "100ms")]
    time: humantime::Duration,
    /// Memory limit per instance.
    #[arg(long, value_name = "SIZE", default_value = "64MiB")]
    memory: String,
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
        time: *args.time,
        memory: parse_size(&args.memory).map_err(anyhow::Error::msg)?,
        ..Limits::default()
    };
    let config: Value = serde_json::from_str(&args.config).context("--config is not JSON")?;
    let host = PluginHost::default();
    let pool = Pool::standalone(
        &host,
        &args.plugin,
        "cli",
        config.to_string(),
        limits,
        grants,
    )
    .await
    .map_err(anyhow::Error::msg)?;
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
        let texts = convert::Texts::of(&event, &fields);
        let params = convert::field_params(&fields, &texts);
        let answer = match pool.process(convert::to_wit(&event, &texts, &params)).await {
            Ok(decision) => describe(&event, decision),
            Err(e) => json!({ "event_id": event.id, "error": e.to_string() }),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    Ok(())
}

/// An event line: the engine's event JSON, with `id` and `at_ms` optional and `fields` taken
/// out.
fn parse_event(line: &str) -> anyhow::Result<(Event, Map<String, Value>)> {
    let mut value: Value = serde_json::from_str(line)?;
    let object = value
        .as_object_mut()
        .context("expected a JSON object per line")?;
    let fields = match object.remove("fields") {
        Some(Value::Object(fields)) => fields,
        Some(_) => bail!("`fields` must be an object"),
        None => Map::new(),
    };
    let defaults = Event::new(
        "",
        homeport::event::EventKind::Alarm {
            channel: 0,
            code: String::new(),
            action: String::new(),
            device_time: None,
            device_utc: None,
            data: Map::new(),
        },
    );
    object
        .entry("id")
        .or_insert_with(|| Value::from(defaults.id.to_string()));
    object
        .entry("at_ms")
        .or_insert_with(|| Value::from(defaults.at_ms));
    Ok((serde_json::from_value(value)?, fields))
}

/// A decision as one JSON line.
fn describe(event: &Event, decision: wit::Decision) -> Value {
    let mut answer = Map::new();
    answer.insert("event_id".to_owned(), Value::from(event.id.to_string()));
    let (verdict, detail) = match decision.verdict {
        wit::Verdict::Pass => ("pass", None),
        wit::Verdict::Drop(reason) => ("drop", Some(("reason", reason))),
        wit::Verdict::Route(output) => ("route", Some(("output", output))),
    };
    answer.insert("verdict".to_owned(), Value::from(verdict));
    if let Some((key, text)) = detail {
        answer.insert(key.to_owned(), Value::from(text));
    }
    if let Some(replacement) = decision.replace {
        answer.insert("event".to_owned(), event_json(event, replacement, false));
    }
    if !decision.emit.is_empty() {
        let emitted = decision
            .emit
            .into_iter()
            .map(|e| event_json(event, e, true))
            .collect();
        answer.insert("emit".to_owned(), Value::Array(emitted));
    }
    Value::Object(answer)
}

/// A plugin's event record as the engine's event JSON with its `fields`, or the reason it
/// would be refused. Emitted events get their id and time from the host when published, so
/// they are shown without.
fn event_json(original: &Event, record: wit::EventResult, emitted: bool) -> Value {
    let kind = match convert::kind_from_wit(record.kind, &original.kind) {
        Ok(kind) => kind,
        Err(e) => return json!({ "invalid": e }),
    };
    let fields = match convert::fields_from_wit(record.fields) {
        Ok(fields) => fields,
        Err(e) => return json!({ "invalid": e }),
    };
    let mut json = serde_json::to_value(&*convert::replacement(original, kind)).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        if !record.device.is_empty() {
            object.insert("device".to_owned(), Value::from(record.device));
        }
        object.insert("fields".to_owned(), Value::Object(fields));
        if emitted {
            object.remove("id");
            object.remove("at_ms");
        }
    }
    json
}
