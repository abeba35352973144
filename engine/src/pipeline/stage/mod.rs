//! Pipeline stages: what one step does to an event.
//!
//! A stage gets the event's [`Flow`] and either lets it go on, drops it (with a reason that
//! is counted), or fails (and the stage's error policy decides: retry, then dead-letter, drop
//! or continue). Built in: [`filter`], [`set`], [`log`], [`debounce`], [`login`],
//! [`apply_config`], [`snapshot`], [`mqtt`], [`nats`], [`camera_sync`], [`sync_push`], and
//! [`wasm`] for plugins.
//!
//! [`contract`] holds what every stage shares ([`Stage`], [`Outcome`], [`StageError`]),
//! [`flow`] the event a stage works on and its template context, [`build`] the context a
//! stage builds itself in.
//!
//! # Adding a stage kind
//!
//! A stage kind is one file here plus one variant in the spec:
//!
//! 1. `stage/<kind>.rs`: the stage (`impl Stage`) and
//!    `pub fn build(spec: &<Kind>Spec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError>`,
//!    which checks the options with the helpers of [`Build`] (templates, conditions,
//!    durations, errors at a span, a service that may be missing when only checking).
//! 2. Here: `pub mod <kind>;` and its arm in [`from_spec`].
//! 3. In [`spec`](crate::pipeline::spec): the `<Kind>Spec` options (with an `on_error`
//!    field) and one line in `stage_specs!`.
//!
//! Nothing else changes: the compiler, the runtime and `/metrics` take any stage.

pub mod apply_config;
pub mod build;
pub mod camera_sync;
pub mod contract;
pub mod debounce;
pub mod filter;
pub mod flow;
pub mod log;
pub mod login;
pub mod mqtt;
pub mod nats;
pub mod set;
pub mod snapshot;
pub mod sync_push;
pub mod wasm;

use crate::pipeline::error::SpecError;
use crate::pipeline::spec::StageSpec;

pub use build::Build;
pub use contract::{Outcome, Stage, StageError};
pub use flow::{Flow, sample_context};

/// Builds the stage `spec` describes: every option is checked here, before anything runs.
pub fn from_spec(spec: &StageSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    match spec {
        StageSpec::Filter(spec) => filter::build(spec, cx),
        StageSpec::Set(spec) => set::build(spec, cx),
        StageSpec::Log(spec) => log::build(spec, cx),
        StageSpec::Debounce(spec) => debounce::build(spec, cx),
        StageSpec::Mqtt(spec) => mqtt::build(spec, cx),
        StageSpec::Nats(spec) => nats::build(spec, cx),
        StageSpec::Login(spec) => login::build(spec, cx),
        StageSpec::ApplyConfig(spec) => apply_config::build(spec, cx),
        StageSpec::Snapshot(spec) => snapshot::build(spec, cx),
        StageSpec::CameraSync(spec) => camera_sync::build(spec, cx),
        StageSpec::SyncPush(spec) => sync_push::build(spec, cx),
        StageSpec::Wasm(spec) => wasm::build(spec, cx),
    }
}
