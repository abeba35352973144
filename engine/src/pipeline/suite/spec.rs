//! The format of a pipeline test file (`*.test.yaml`): which pipelines, which sinks stand
//! captured, and the cases: input events and what must come out. See `docs/pipelines.md`,
//! "Tests".

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

/// One test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    /// Pipeline files or directories, relative to the test file; none: the file the test file
    /// is named after (`alarms.test.yaml` tests `alarms.yaml`).
    #[serde(default)]
    pub pipelines: Option<Vec<PathBuf>>,
    /// The sinks that count as configured, captured instead of connected; none: every sink.
    #[serde(default)]
    pub sinks: Option<Vec<String>>,
    /// The cases, each run on freshly built pipelines.
    pub tests: Vec<CaseSpec>,
}

/// One case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// What it shows, for the report.
    pub name: String,
    /// The input events, in order: the engine's event JSON ([`Event::from_input`](crate::event::Event::from_input)).
    pub events: Vec<Value>,
    /// What must come out.
    #[serde(default)]
    pub expect: ExpectSpec,
}

/// What must come out of a case's events. Every message published and every dead letter is
/// compared: those not listed must not happen.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// The messages published, each matched to one captured message, in any order.
    #[serde(default)]
    pub published: Vec<MessageSpec>,
    /// Per pipeline named, what became of the events it took; pipelines not named are not
    /// looked at.
    #[serde(default)]
    pub pipelines: BTreeMap<String, OutcomeSpec>,
    /// The dead letters written.
    #[serde(default)]
    pub dead_letters: Vec<LetterSpec>,
}

/// One expected message: exactly one of `mqtt`, `nats`, `kv`, and what else is given must
/// match.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// An MQTT topic.
    #[serde(default)]
    pub mqtt: Option<String>,
    /// A NATS subject.
    #[serde(default)]
    pub nats: Option<String>,
    /// A NATS KV key (a `nats` stage's `kv: true`).
    #[serde(default)]
    pub kv: Option<String>,
    /// The pipeline that published it.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// MQTT quality of service.
    #[serde(default)]
    pub qos: Option<u8>,
    /// MQTT retained.
    #[serde(default)]
    pub retain: Option<bool>,
    /// NATS through JetStream.
    #[serde(default)]
    pub jetstream: Option<bool>,
    /// Text: the payload exactly. A mapping, list, number or boolean: the payload is JSON
    /// that contains it (a mapping's keys may be a subset, recursively).
    #[serde(default)]
    pub payload: Option<Value>,
}

/// What a pipeline did with a case's events (each count 0 when not given).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// Events that passed every stage.
    #[serde(default)]
    pub out: u64,
    /// Events a plugin routed into another pipeline.
    #[serde(default)]
    pub routed: u64,
    /// Events that failed a stage for good (dead-lettered or dropped for the error).
    #[serde(default)]
    pub failed: u64,
    /// Events dropped, by reason (`when`, `filtered`, `debounced`, `unknown_device`, …).
    #[serde(default)]
    pub dropped: BTreeMap<String, u64>,
}

/// One expected dead letter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterSpec {
    /// Its pipeline.
    pub pipeline: String,
    /// Its stage, as the report names it (`#1 mqtt`).
    #[serde(default)]
    pub stage: Option<String>,
    /// Text its error contains.
    #[serde(default)]
    pub error: Option<String>,
}
