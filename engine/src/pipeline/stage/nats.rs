//! `nats`: publish the event to a NATS subject; through JetStream with `Nats-Msg-Id` = the
//! event id (so a retry is stored once), and optionally the device's latest state into the KV
//! bucket.

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};

use super::build::{Build, or_checked};
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::event::EventKind;
use crate::pipeline::error::SpecError;
use crate::pipeline::payload;
use crate::pipeline::spec::NatsSpec;
use crate::pipeline::template::{Flavor, Template};
use crate::sink::capture::{Captured, Out};
use crate::sink::nats::{NatsSink, valid_subject};

/// Builds a `nats` stage; the subject template is checked against a sample event.
pub fn build(spec: &NatsSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let sink = cx.sink("nats", cx.services.sinks.nats.clone(), || {
        cx.error_at(
            spec.subject.span(),
            "a nats stage needs a NATS server: start with --nats URL (or mark the pipeline `requires: [nats]`)",
        )
    })?;
    let subject = cx.template(&spec.subject, Flavor::Subject)?;
    valid_subject(&cx.sample(&subject, &spec.subject)?)
        .map_err(|e| cx.error_at(spec.subject.span(), format!("bad subject: {e}")))?;
    let payload = spec
        .payload
        .as_ref()
        .map(|text| cx.template(text, Flavor::Plain))
        .transpose()?;
    Ok(or_checked(sink, |sink| {
        Box::new(NatsStage {
            sink,
            subject,
            jetstream: spec.jetstream,
            kv: spec.kv,
            payload,
        })
    }))
}

/// Publishes to NATS.
#[derive(Debug)]
pub struct NatsStage {
    /// The shared connection (or a test's capture).
    pub sink: Out<NatsSink>,
    /// Subject template (values sanitised).
    pub subject: Template,
    /// Through JetStream.
    pub jetstream: bool,
    /// Also put the device's state into the KV bucket (online changes).
    pub kv: bool,
    /// Payload template; `None` publishes the standard JSON.
    pub payload: Option<Template>,
}

impl Stage for NatsStage {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let prepared = (|| {
            let subject = self
                .subject
                .render(flow.context())
                .map_err(StageError::permanent)?;
            let standard = payload::standard(&flow.event);
            let body = match &self.payload {
                None => {
                    serde_json::to_vec(&standard).map_err(|e| StageError::new(e.to_string()))?
                }
                Some(template) => template
                    .render(flow.context())
                    .map_err(StageError::permanent)?
                    .into_bytes(),
            };
            let state = (self.kv && matches!(flow.event.kind, EventKind::OnlineChanged { .. }))
                .then(|| serde_json::to_vec(&standard).map(Bytes::from))
                .transpose()
                .map_err(|e| StageError::new(e.to_string()))?;
            Ok::<_, StageError>((subject, Bytes::from(body), state))
        })();
        let event_id = flow.event.id.to_string();
        let device = flow.event.device.clone();
        async move {
            let (subject, body, state) = prepared?;
            let sink = match &self.sink {
                Out::Sink(sink) => sink,
                Out::Capture(capture, pipeline) => {
                    let mut message = Captured::new("nats", subject, body);
                    message.jetstream = self.jetstream;
                    capture.record(pipeline, message);
                    if let Some(state) = state {
                        capture.record(pipeline, Captured::new("kv", kv_key(&device), state));
                    }
                    return Ok(Outcome::Continue);
                }
            };
            if self.jetstream {
                sink.publish_js(&subject, body, &event_id)
                    .await
                    .map_err(|e| StageError::new(e.to_string()))?;
            } else {
                sink.send(&subject, body)
                    .await
                    .map_err(|e| StageError::new(e.to_string()))?;
            }
            if let Some(state) = state {
                sink.put_state(&kv_key(&device), state)
                    .await
                    .map_err(|e| StageError::new(e.to_string()))?;
            }
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}

/// A device ID as a KV key: characters outside the KV alphabet become `_`.
fn kv_key(device: &str) -> String {
    device
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_ids_become_valid_kv_keys() {
        assert_eq!(super::kv_key("cam-1_A=b"), "cam-1_A=b");
        assert_eq!(super::kv_key("a.b/c d*"), "a_b_c_d_");
    }
}
