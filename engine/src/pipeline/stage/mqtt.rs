//! `mqtt`: publish the event to an MQTT topic (QoS 0 or 1, optionally retained).
//!
//! The publish is accepted into the sink's bounded, ordered queue; the sink delivers it (and,
//! at QoS 1, re-sends it after a reconnect until the broker acknowledges it). A retained
//! publish is also remembered and republished after every reconnect.

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};

use super::{Flow, Outcome, Stage, StageError};
use crate::pipeline::payload;
use crate::pipeline::template::Template;
use crate::sink::mqtt::{MqttSink, Publish, QoS};

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
    /// The shared connection.
    pub sink: MqttSink,
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
            if self.retain {
                self.sink
                    .set_retained(topic, body)
                    .map_err(|e| StageError::new(e.to_string()))?;
            } else {
                self.sink
                    .publish(Publish {
                        topic,
                        payload: body,
                        qos: self.qos,
                        retain: false,
                    })
                    .map_err(|e| StageError::new(e.to_string()))?;
            }
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}
