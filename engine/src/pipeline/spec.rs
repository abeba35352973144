//! The pipeline YAML schema, as written by integrators. Every value that needs checking after
//! parsing (templates, durations, names, files) keeps its position, so errors can name
//! file:line:column.
//!
//! ```yaml
//! pipelines:
//!   - name: alarms-out
//!     on: [alarm]
//!     when: 'event.code != "VideoLoss"'
//!     stages:
//!       - debounce: { window: 5s }
//!       - mqtt: { topic: 'homeport/device/{{ device_id }}/event', qos: 1 }
//!     on_error: { retry: { max: 5, backoff: 200ms }, then: dead_letter }
//! ```

use std::collections::BTreeMap;

use marked_yaml::Spanned;
use serde::Deserialize;

/// A pipeline file: a list of pipelines.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The pipelines, in order.
    pub pipelines: Vec<Spanned<PipelineSpec>>,
}

/// One pipeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// Unique name (letters, digits, `-`, `_`).
    pub name: Spanned<String>,
    /// Event kinds it takes: `registered`, `online_changed`, `alarm`, `config_applied`,
    /// `sync_request`.
    pub on: Vec<Spanned<String>>,
    /// A condition (template expression) an event must meet to enter.
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    /// Enable the pipeline only when these are configured (`mqtt`, `nats`, `sync`); used by the
    /// shipped defaults so one file serves every setup.
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    /// The stages, in order.
    pub stages: Vec<Spanned<StageSpec>>,
    /// What to do when a stage fails (stages may override it).
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
    /// The pipeline's queue.
    #[serde(default)]
    pub queue: Option<QueueSpec>,
}

/// Retry, then drop, continue or dead-letter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorPolicySpec {
    /// Retries before giving up.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
    /// What happens after the last retry fails.
    #[serde(default)]
    pub then: Option<Spanned<String>>,
}

/// Retry settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Retries after the first attempt.
    pub max: u32,
    /// Wait before the first retry; doubles each time.
    #[serde(default)]
    pub backoff: Option<Spanned<String>>,
}

/// A pipeline's bounded queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// Events held per pipeline before `when_full` applies.
    #[serde(default)]
    pub capacity: Option<usize>,
    /// `drop_oldest`, `drop_newest` or `block`.
    #[serde(default)]
    pub when_full: Option<Spanned<String>>,
}

/// Declares [`StageSpec`] from one line per stage kind — its YAML key, its variant and its
/// options — with [`StageSpec::kind`] and [`StageSpec::on_error`], so adding a kind is one
/// line here. Every options struct has an `on_error: Option<ErrorPolicySpec>` field.
macro_rules! stage_specs {
    ($($(#[$doc:meta])* $key:literal => $variant:ident($options:ty),)*) => {
        /// One stage: a map with exactly one key, the stage kind.
        #[derive(Debug, Deserialize)]
        pub enum StageSpec {
            $($(#[$doc])* #[serde(rename = $key)] $variant($options),)*
        }

        impl StageSpec {
            /// The stage kind, as written in YAML.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $key,)*
                }
            }

            /// The stage's own error policy, if it has one.
            pub fn on_error(&self) -> Option<&ErrorPolicySpec> {
                match self {
                    $(Self::$variant(options) => options.on_error.as_ref(),)*
                }
            }
        }
    };
}

stage_specs! {
    /// Drop events that do not meet a condition.
    "filter" => Filter(FilterSpec),
    /// Add or replace fields by template.
    "set" => Set(SetSpec),
    /// Write a log line.
    "log" => Log(LogSpec),
    /// Let one event per key through per window.
    "debounce" => Debounce(DebounceSpec),
    /// Publish to MQTT.
    "mqtt" => Mqtt(MqttSpec),
    /// Publish to NATS.
    "nats" => Nats(NatsSpec),
    /// Ask the device's session to log in now.
    "login" => Login(LoginSpec),
    /// Merge a config template into the device's config and write it back.
    "apply_config" => ApplyConfig(ApplyConfigSpec),
    /// Take a JPEG from the device into a field.
    "snapshot" => Snapshot(SnapshotSpec),
    /// Answer camera-sync app commands (`sync_request` events).
    "camera_sync" => CameraSync(PolicyOnly),
    /// Push online changes and alarms to the apps bound to the camera.
    "sync_push" => SyncPush(PolicyOnly),
    /// Run a WebAssembly plugin.
    "wasm" => Wasm(Box<WasmSpec>),
}

/// A stage with no options but the error policy (`camera_sync: {}`, `sync_push: {}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOnly {
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `filter:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Keep events for which this expression is true.
    pub when: Spanned<String>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `set:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSpec {
    /// Field name → template; the results are available to later stages as `fields.NAME`.
    pub fields: BTreeMap<String, Spanned<String>>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `log:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// `error`, `warn`, `info` (default) or `debug`.
    #[serde(default)]
    pub level: Option<Spanned<String>>,
    /// Template of the line; default: the event as JSON.
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `debounce:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebounceSpec {
    /// One event per key per window passes; repeats within it are dropped.
    pub window: Spanned<String>,
    /// Template of the key; default: device, kind, code, channel and action.
    #[serde(default)]
    pub key: Option<Spanned<String>>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `mqtt:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttSpec {
    /// Topic template; interpolated values are sanitised (no `/`, `+`, `#`, leading `$`).
    pub topic: Spanned<String>,
    /// 0 or 1 (default 1).
    #[serde(default)]
    pub qos: Option<Spanned<u8>>,
    /// Retained (the latest value is kept and republished after every reconnect).
    #[serde(default)]
    pub retain: bool,
    /// Payload template; default: the event's standard JSON.
    #[serde(default)]
    pub payload: Option<Spanned<String>>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `nats:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSpec {
    /// Subject template; interpolated values are sanitised (no `.`, `*`, `>`, spaces, `$`).
    pub subject: Spanned<String>,
    /// Publish through JetStream with `Nats-Msg-Id` = the event id.
    #[serde(default)]
    pub jetstream: bool,
    /// Also store the device's latest state in the KV bucket (for `online_changed`).
    #[serde(default)]
    pub kv: bool,
    /// Payload template; default: the event's standard JSON.
    #[serde(default)]
    pub payload: Option<Spanned<String>>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `login:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSpec {
    /// Most logins requested per second, across devices (default 100).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `snapshot:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    /// The video channel, a template (default: the alarm's channel, else 0).
    #[serde(default)]
    pub channel: Option<Spanned<String>>,
    /// The field the base64 JPEG goes in (default `snapshot`).
    #[serde(default)]
    pub field: Option<String>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

impl SnapshotSpec {
    /// The field the picture goes in when the stage names none.
    pub const DEFAULT_FIELD: &str = "snapshot";

    /// The field the picture goes in.
    pub fn field_name(&self) -> &str {
        self.field.as_deref().unwrap_or(Self::DEFAULT_FIELD)
    }
}

/// `apply_config:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyConfigSpec {
    /// The config table's name, e.g. `DVRIP`.
    pub name: Spanned<String>,
    /// A YAML file whose string values are templates (relative to the pipeline file).
    #[serde(default)]
    pub template: Option<Spanned<String>>,
    /// The same, inline.
    #[serde(default)]
    pub values: Option<Spanned<serde_json::Value>>,
    /// Compute and report the merged table without writing it.
    #[serde(default)]
    pub dry_run: bool,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `wasm:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmSpec {
    /// The plugin: a `wasm32-wasip2` component file, relative to the pipeline file.
    pub plugin: Spanned<String>,
    /// The plugin's config, handed to its `init` as JSON (default `{}`).
    #[serde(default)]
    pub config: Option<Spanned<serde_json::Value>>,
    /// Host functions the plugin may call: `log`, `clock`, `kv` (default: `[log, clock]`).
    #[serde(default)]
    pub grant: Option<Vec<Spanned<String>>>,
    /// Limits per call and per instance.
    #[serde(default)]
    pub limits: Option<WasmLimitsSpec>,
    /// The key-value namespace (default: `<pipeline>/<plugin file name without .wasm>`);
    /// stages naming the same namespace share it.
    #[serde(default)]
    pub kv_namespace: Option<Spanned<String>>,
    /// Output name (as the plugin routes) → the pipeline the event enters.
    #[serde(default)]
    pub routes: BTreeMap<String, Spanned<String>>,
    /// Error policy override.
    #[serde(default)]
    pub on_error: Option<ErrorPolicySpec>,
}

/// `wasm: { limits: … }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmLimitsSpec {
    /// Longest one call may run (default `100ms`).
    #[serde(default)]
    pub time: Option<Spanned<String>>,
    /// Most memory one instance may use (default `64MiB`).
    #[serde(default)]
    pub memory: Option<Spanned<String>>,
    /// Most bytes in the key-value namespace (default `1MiB`).
    #[serde(default)]
    pub kv: Option<Spanned<String>>,
    /// Most entries in the key-value namespace (default 10 000).
    #[serde(default)]
    pub kv_entries: Option<Spanned<usize>>,
}
