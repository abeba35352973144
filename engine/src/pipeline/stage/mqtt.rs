//! `mqtt`: publish the event to an MQTT topic (QoS 0 or 1, optionally retained).
//!
//! The publish is accepted into the sink's bounded, ordered queue; the sink delivers it (and,
//! at QoS 1, re-sends it after a reconnect until the broker acknowledges it). A retained
//! publish is also remembered and republished after every reconnect.

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};

use super::build::{Build, or_checked};
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::pipeline::error::SpecError;
use crate::pipeline::payload;
use crate::pipeline::spec::MqttSpec;
use crate::pipeline::template::{Flavor, Template};
use crate::sink::capture::{Captured, Out};
use crate::sink::mqtt::{MqttSink, Publish, QoS, valid_topic};

/// Builds an `mqtt` stage; the topic template is checked against a sample event.
pub fn build(spec: &MqttSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let sink = cx.sink("mqtt", cx.services.sinks.mqtt.clone(), || {
        cx.error_at(
            spec.topic.span(),
            "an mqtt stage needs an MQTT broker: start with --mqtt URL (or mark the pipeline `requires: [mqtt]`)",
        )
    })?;
    let topic = cx.template(&spec.topic, Flavor::Topic)?;
    valid_topic(&cx.sample(&topic, &spec.topic)?)
        .map_err(|e| cx.error_at(spec.topic.span(), format!("bad topic: {e}")))?;
    let qos = match &spec.qos {
        None => QoS::AtLeastOnce,
        Some(qos) => QoS::try_from(**qos).map_err(|_| {
            cx.error_at(
                qos.span(),
                format!("qos {} is not supported; use 0 or 1", **qos),
            )
        })?,
    };
    let payload = match &spec.payload {
        Some(text) => MqttPayload::Template(cx.template(text, Flavor::Plain)?),
        None => MqttPayload::Standard,
    };
    Ok(or_checked(sink, |sink| {
        Box::new(MqttStage {
            sink,
            topic,
            qos,
            retain: spec.retain,
            payload,
        })
    }))
}

/// What is published.
#[derive(Debug)]
pub enum MqttPayload {
    /// The event's standard JSON.
    Standard,
    /// A rendered template.
    Template(Template),
}

/// Publishes to MQTT.
#[derive(Debug)]
pub struct MqttStage {
    /// The shared connection (or a test's capture).
    pub sink: Out<MqttSink>,
    /// Topic template (values sanitised).
    pub topic: Template,
    /// Quality of service.
    pub qos: QoS,
    /// Retained?
    pub retain: bool,
    /// Payload.
    pub payload: MqttPayload,
}

impl Stage for MqttStage {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let prepared = (|| {
            let topic = self
                .topic
                .render(flow.context())
                .map_err(StageError::permanent)?;
            let body = match &self.payload {
                MqttPayload::Standard => payload::standard_bytes(&flow.event)
                    .map_err(|e| StageError::new(e.to_string()))?,
                MqttPayload::Template(template) => template
                    .render(flow.context())
                    .map_err(StageError::permanent)?
                    .into_bytes(),
            };
            Ok::<_, StageError>((topic, Bytes::from(body)))
        })();
        async move {
            let (topic, body) = prepared?;
            let sink = match &self.sink {
                Out::Sink(sink) => sink,
                Out::Capture(capture, pipeline) => {
                    let mut message = Captured::new("mqtt", topic, body);
                    message.qos = Some(self.qos as u8);
                    message.retain = self.retain;
                    capture.record(pipeline, message);
                    return Ok(Outcome::Continue);
                }
            };
            if self.retain {
                sink.set_retained(topic, body)
                    .map_err(|e| StageError::new(e.to_string()))?;
            } else {
                sink.send(Publish {
                    topic,
                    payload: body,
                    qos: self.qos,
                    retain: false,
                })
                .await
                .map_err(|e| StageError::new(e.to_string()))?;
            }
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}
