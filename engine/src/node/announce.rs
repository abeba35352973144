//! Announcing the gateway's devices: once when the pipelines start, and again each time
//! Home Assistant comes online (its birth message, `online` on the MQTT announce topic), so
//! that discovery lists every device the gateway has credentials for — online or not — even
//! after HA or its broker forgot them.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::event::AnnounceCause;
use crate::registry::Registry;
use crate::sink::mqtt::MqttSink;

/// The payload of a birth message.
const ONLINE: &[u8] = b"online";

/// Announces every device now ([`AnnounceCause::Started`]) and, while `stop` is not
/// cancelled, again whenever `online` arrives on `topic` ([`AnnounceCause::Requested`]).
pub(super) fn start(
    registry: &Arc<Registry>,
    mqtt: Option<(&MqttSink, &str)>,
    stop: CancellationToken,
) {
    let count = registry.announce(AnnounceCause::Started, None);
    tracing::debug!(count, "devices announced at start");
    let Some((sink, topic)) = mqtt else {
        return;
    };
    let mut received = sink.received();
    let (registry, topic) = (Arc::clone(registry), topic.to_owned());
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return,
                message = received.recv() => message,
            };
            match message {
                Ok(message) if message.topic == topic && message.payload.trim_ascii() == ONLINE => {
                    let count = registry.announce(AnnounceCause::Requested, None);
                    tracing::info!(%topic, count, "Home Assistant came online; devices announced again");
                }
                Ok(_) => {}
                // Births that came too fast to take one by one: one announcement answers them.
                Err(RecvError::Lagged(_)) => {
                    registry.announce(AnnounceCause::Requested, None);
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}
