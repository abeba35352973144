//! From the config file and the command line to a [`NodeConfig`]: flags win over the file,
//! the file over the defaults.

use super::start::{AdminSettings, NodeConfig, SyncSettings};
use crate::config::{FileConfig, Flags};
use crate::sink::SinksConfig;
use crate::sink::mqtt::{MqttConfig, MqttError};
use crate::sink::nats::NatsConfig;

/// Why the file and flags do not make a node.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The MQTT URL or options are invalid.
    #[error(transparent)]
    Mqtt(#[from] MqttError),
    /// The camera-sync TLS files cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::camera_sync::TlsError),
}

impl NodeConfig {
    /// The node `file` and `flags` describe: every listener, the admin API with the data
    /// directory's token, the sinks named, and the pipelines given (the built-in ones when
    /// none are).
    pub fn resolve(file: &FileConfig, flags: &Flags) -> Result<Self, SettingsError> {
        let (addresses, gateway) = file.resolve(flags);
        let node = flags
            .node
            .clone()
            .or_else(|| file.node.clone())
            .unwrap_or_else(host_name);
        let mqtt = match flags.mqtt.clone().or_else(|| file.mqtt.clone()) {
            Some(url) => {
                let mut config = MqttConfig::from_url(url, node.clone())?;
                file.mqtt_options.apply(&mut config);
                Some(config)
            }
            None => None,
        };
        let nats = flags.nats.clone().or_else(|| file.nats.clone()).map(|url| {
            let mut config = NatsConfig {
                name: format!("homeport-{node}"),
                ..NatsConfig::from_url(url)
            };
            file.nats_options.apply(&mut config);
            config
        });
        let mut sync = file.camera_sync.resolve();
        sync.plaintext |= flags.sync_plaintext;
        let pipelines = if flags.pipelines.is_empty() {
            file.pipelines.clone()
        } else {
            flags.pipelines.clone()
        };
        Ok(Self {
            plugin_cache: Some(addresses.data.join("plugin-cache")),
            gateway,
            sinks: SinksConfig { mqtt, nats },
            sync: Some(SyncSettings {
                addr: addresses.sync,
                config: sync,
                tls: file.camera_sync.load_tls()?,
            }),
            admin: Some(AdminSettings {
                addr: addresses.admin,
                token: None,
            }),
            pipelines: Some(pipelines),
        })
    }
}

/// The host name, for topics; `homeport` when it cannot be read.
fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "homeport".to_owned())
}
