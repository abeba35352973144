//! `snapshot`: take a JPEG from the event's device and keep it, base64-encoded, in a field
//! (`fields.snapshot` by default) for the stages after it — an `mqtt` stage publishing it to
//! a Home Assistant `image` entity (`image_encoding: b64`), a `nats` stage, a plugin.
//!
//! The picture comes over the device's own session (`snapManager.snapPicture`, or the DVRIP
//! snapshot on firmware without JSON), so only an online device has one: for any other the
//! stage fails without retrying. A device that does not answer in time fails it with a retry
//! under the stage's error policy.

use std::sync::Arc;

use base64::Engine;
use futures::future::{BoxFuture, FutureExt};
use serde_json::Value as Json;

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::event::EventKind;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::SnapshotSpec;
use crate::pipeline::template::{Flavor, Template};
use crate::registry::Registry;

/// The largest picture kept, in bytes (before encoding): larger ones fail the stage.
pub const MAX_PICTURE: usize = 4 * 1024 * 1024;

/// Builds a `snapshot` stage; the channel template is checked against a sample event.
pub fn build(spec: &SnapshotSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let channel = match &spec.channel {
        Some(text) => {
            let template = cx.template(text, Flavor::Plain)?;
            let sample = cx.sample(&template, text)?;
            if sample.trim().parse::<u32>().is_err() {
                return Err(cx.error_at(
                    text.span(),
                    format!("the channel renders {sample:?} for a sample event; it must be a channel number (0, 1, …)"),
                ));
            }
            Some(template)
        }
        None => None,
    };
    Ok(Box::new(Snapshot {
        registry: Arc::clone(&cx.services.registry),
        channel,
        field: spec.field_name().to_owned(),
    }))
}

/// Takes a picture and stores it in a field.
#[derive(Debug)]
pub struct Snapshot {
    registry: Arc<Registry>,
    /// The channel, as a template; `None`: the alarm's channel (0 for device-wide alarms and
    /// for other kinds).
    channel: Option<Template>,
    field: String,
}

impl Snapshot {
    fn channel(&self, flow: &mut Flow) -> Result<u32, StageError> {
        let Some(template) = &self.channel else {
            return Ok(match flow.event.kind {
                EventKind::Alarm { channel, .. } => u32::try_from(channel).unwrap_or(0),
                _ => 0,
            });
        };
        let text = template
            .render(flow.context())
            .map_err(StageError::permanent)?;
        text.trim().parse().map_err(|_| {
            StageError::permanent(format!(
                "the channel rendered {text:?}, not a channel number"
            ))
        })
    }
}

impl Stage for Snapshot {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let channel = self.channel(flow);
        let handle = self.registry.handle(&flow.event.device);
        async move {
            let channel = channel?;
            let device = &flow.event.device;
            let handle = handle.ok_or_else(|| {
                StageError::permanent(format!("device {device} is not online: no snapshot"))
            })?;
            let picture = handle.snapshot(channel).await.map_err(|e| {
                StageError::new(format!("snapshot of {device} channel {channel}: {e}"))
            })?;
            if picture.len() > MAX_PICTURE {
                return Err(StageError::permanent(format!(
                    "the snapshot of {device} is {} bytes; at most {MAX_PICTURE} are kept",
                    picture.len()
                )));
            }
            let encoded = base64::engine::general_purpose::STANDARD.encode(&picture);
            flow.set_field(&self.field, Json::String(encoded));
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}
