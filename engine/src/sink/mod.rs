//! Sinks: where pipeline stages send events out of the gateway (MQTT, NATS).
//!
//! [`Sinks`] owns the connections that are configured: it starts them, hands them to the
//! stages that publish, and closes them last at shutdown so that what is queued is delivered
//! and each says goodbye (MQTT: the retained `offline` status).

pub mod capture;
pub mod full_policy;
pub mod mqtt;
pub mod nats;

pub use full_policy::FullPolicy;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use mqtt::{MqttConfig, MqttError, MqttSink};
use nats::{NatsConfig, NatsError, NatsSink};

/// Which sinks to connect: each is optional.
#[derive(Debug, Clone, Default)]
pub struct SinksConfig {
    /// The MQTT broker, if any.
    pub mqtt: Option<MqttConfig>,
    /// The NATS server, if any.
    pub nats: Option<NatsConfig>,
}

/// Why a sink could not start.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The MQTT configuration was refused.
    #[error(transparent)]
    Mqtt(#[from] MqttError),
    /// The NATS server could not be reached or refused.
    #[error(transparent)]
    Nats(#[from] NatsError),
}

/// The configured sink connections. Cloning shares them.
#[derive(Debug, Clone, Default)]
pub struct Sinks {
    /// The MQTT connection, if one is configured.
    pub mqtt: Option<MqttSink>,
    /// The NATS connection, if one is configured.
    pub nats: Option<NatsSink>,
    /// Sinks captured instead of connected (`homeport test`).
    pub capture: Option<std::sync::Arc<capture::Capture>>,
    /// Closes every connection; `None` when nothing was started here.
    stop: Option<CancellationToken>,
}

impl Sinks {
    /// No sinks (offline checks, tests of other parts).
    pub fn none() -> Self {
        Self::default()
    }

    /// Sinks around connections started elsewhere (tests that hold their own).
    pub fn of(mqtt: Option<MqttSink>, nats: Option<NatsSink>) -> Self {
        Self {
            mqtt,
            nats,
            capture: None,
            stop: None,
        }
    }

    /// Sinks that record what is published into `capture` instead of connecting.
    pub fn captured(capture: std::sync::Arc<capture::Capture>) -> Self {
        Self {
            capture: Some(capture),
            ..Self::default()
        }
    }

    /// The capture standing in for the sink `name`, if there is one.
    pub fn capture_of(&self, name: &str) -> Option<&std::sync::Arc<capture::Capture>> {
        self.capture.as_ref().filter(|c| c.takes(name))
    }

    /// Starts the configured connections; they run until `stop` is cancelled or
    /// [`Sinks::close`] is called. MQTT connects in the background (and queues meanwhile);
    /// NATS must be reachable now.
    pub async fn start(config: SinksConfig, stop: CancellationToken) -> Result<Self, SinkError> {
        let mqtt = match config.mqtt {
            Some(config) => Some(MqttSink::start(config, stop.clone())?),
            None => None,
        };
        let nats = match config.nats {
            Some(config) => Some(NatsSink::start(config, stop.clone()).await?),
            None => None,
        };
        Ok(Self {
            mqtt,
            nats,
            capture: None,
            stop: Some(stop),
        })
    }

    /// The names a pipeline's `requires` may give for a sink.
    pub const NAMES: [&str; 2] = ["mqtt", "nats"];

    /// Whether the sink a pipeline's `requires` names is configured; `None` for a name that
    /// is no sink (one of [`Sinks::NAMES`] or none).
    pub fn has(&self, name: &str) -> Option<bool> {
        let captured = self.capture_of(name).is_some();
        match name {
            "mqtt" => Some(self.mqtt.is_some() || captured),
            "nats" => Some(self.nats.is_some() || captured),
            _ => None,
        }
    }

    /// Adds the counters of every configured sink to `out`.
    pub fn render_metrics(&self, out: &mut crate::metrics::Exposition) {
        if let Some(mqtt) = &self.mqtt {
            mqtt.render_metrics(out);
        }
        if let Some(nats) = &self.nats {
            nats.render_metrics(out);
        }
    }

    /// Delivers what is queued, says goodbye and closes, waiting at most `within`; false
    /// when a connection did not close in time.
    pub async fn close(&self, within: Duration) -> bool {
        if let Some(stop) = &self.stop {
            stop.cancel();
        }
        let closed = async {
            if let Some(mqtt) = &self.mqtt {
                mqtt.closed().await;
            }
            if let Some(nats) = &self.nats {
                nats.closed().await;
            }
        };
        tokio::time::timeout(within, closed).await.is_ok()
    }
}
