//! The configuration file (YAML) and its defaults. Flags on the command line win over it.
//!
//! ```yaml
//! register: 0.0.0.0:9500      # where cameras register
//! sync: 127.0.0.1:9600        # camera-sync server for client apps (TLS or `plaintext` off loopback)
//! admin: 127.0.0.1:9080       # admin HTTP API
//! data: ./data                # SQLite store, secret key, admin token
//! pipelines: [pipelines/]     # pipeline files or directories (default: the built-in ones)
//! mqtt: mqtt://127.0.0.1:1883 # MQTT broker for the mqtt stages
//! mqtt_options:               # all optional
//!   buffer: 100000            # messages kept while the broker is away…
//!   when_full: block          # …then wait (block), or drop_oldest / drop_newest (counted)
//! nats: nats://127.0.0.1:4222 # NATS server for the nats stages
//! nats_options:               # all optional
//!   buffer: 10000             # core publishes kept while the server is away…
//!   when_full: block          # …then wait (block), or drop_newest (counted)
//! node: gw1                   # this gateway's name in topics
//! registry:
//!   max_pending: 1000         # unknown devices kept waiting for credentials
//!   max_pending_per_source: 16  # …of which from one source address
//!   restart_grace: 2m         # devices online before a restart stay online this long
//! session:
//!   reply_timeout: 10s        # per device call (login steps, commands, keepalives)
//!   pending_timeout: 10m      # an unknown device waits this long for credentials
//!   login_backoff_min: 5s     # first retry after a refused login, doubling…
//!   login_backoff_max: 5m     # …up to this
//!   auto_login: true          # false: only a pipeline's `login` stage starts a login
//!   fallback_timeout: 5s      # auto: DVRIP's first answer, before trying DHIP
//!   dvrip_keepalive: 10s      # a1 keep-life packets on DVRIP sessions…
//!   dvrip_silence: 60s        # …and the silence after which one is dead
//! camera_sync:
//!   max_accounts_per_camera: 4
//!   language: zh              # reason texts: zh (the seed's) or en
//!   heartbeat_timeout: 90s    # a silent app connection is closed
//!   max_failures: 5           # wrong passwords (per address, per account) before backoff…
//!   backoff: 1s               # …starting here, doubling per failure…
//!   lock_for: 15m             # …up to this for an address (refused meanwhile)
//!   account_delay_max: 5s     # an attacked account delays other addresses at most this
//!   data_token: optional      # or required: every data port needs its one-time token
//!   tokenless_window: 10s     # a seed app's data port (no token) waits at most this
//!   plaintext: false          # true: plain TCP allowed off loopback without `tls`
//!   tls: { cert: sync.pem, key: sync.key }
//! trace_devices: [cam1]       # two-way transcripts (redacted) in <data>/traces/
//! listener:
//!   announce_timeout: 10s     # a new connection must announce within this
//!   max_connections: 50000    # device connections at once (capped by the descriptor limit)
//!   trusted_networks: []      # pending connections from here log in without an accept
//! ```
//!
//! The YAML crate is `serde_yaml_ng`, a maintained fork of the deprecated `serde_yaml` with the
//! same API; its errors carry line and column, which every config error reports.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::camera_sync::SyncConfig;
use crate::gateway::GatewayConfig;
use crate::listener::ListenerConfig;
use crate::registry::RegistryConfig;
use crate::session::SessionConfig;

/// Largest config file read.
const MAX_FILE: u64 = 1024 * 1024;

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is too large.
    #[error("{path}: larger than {MAX_FILE} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The YAML is malformed or has unknown keys or bad values.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The file's contents; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Register listener address.
    pub register: Option<SocketAddr>,
    /// Camera-sync listener address (default 127.0.0.1:9600).
    pub sync: Option<SocketAddr>,
    /// Admin API address.
    pub admin: Option<SocketAddr>,
    /// Data directory.
    pub data: Option<PathBuf>,
    /// Pipeline files or directories (relative to the working directory).
    #[serde(default)]
    pub pipelines: Vec<PathBuf>,
    /// MQTT broker URL (`mqtt://[user:pass@]host[:port]` or `mqtts://…`).
    pub mqtt: Option<String>,
    /// MQTT connection options.
    #[serde(default)]
    pub mqtt_options: MqttOptions,
    /// NATS server URL (`nats://[user:pass@]host[:port]`).
    pub nats: Option<String>,
    /// NATS connection options.
    #[serde(default)]
    pub nats_options: NatsOptions,
    /// This gateway's name in MQTT topics and NATS client names (default: the host name).
    pub node: Option<String>,
    /// Registry limits.
    #[serde(default)]
    pub registry: RegistryConfig,
    /// Session timers.
    #[serde(default)]
    pub session: SessionConfig,
    /// Listener limits.
    #[serde(default)]
    pub listener: ListenerConfig,
    /// The camera-sync server for client apps.
    #[serde(default)]
    pub camera_sync: CameraSyncSection,
    /// Devices whose sockets are traced into `<data>/traces/<id>.log` from the start.
    #[serde(default)]
    pub trace_devices: Vec<String>,
}

/// `camera_sync:` section: the server's settings, and under `tls:` its certificate files.
///
/// `tls` is set aside as the section is read and the rest read as a [`SyncConfig`], which
/// rejects unknown keys. (`#[serde(flatten)]` would buffer the section first, losing the line
/// and column of its errors, and serde does not support it with `deny_unknown_fields`.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CameraSyncSection {
    /// The server's settings; keys left out keep [`SyncConfig::default`]'s values.
    pub config: SyncConfig,
    /// TLS on the sync listener and its data ports (default: plain TCP, loopback only).
    pub tls: Option<SyncTlsSection>,
}

/// `camera_sync.tls:` section, e.g. `tls: { cert: sync.pem, key: sync.key }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncTlsSection {
    /// PEM certificate chain, leaf first (relative to the working directory).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate (same).
    pub key: PathBuf,
}

impl CameraSyncSection {
    /// The server settings, with the counts that must be at least 1 raised to 1.
    pub fn resolve(&self) -> SyncConfig {
        SyncConfig {
            max_accounts_per_camera: self.config.max_accounts_per_camera.max(1),
            max_failures: self.config.max_failures.max(1),
            ..self.config.clone()
        }
    }

    /// Reads the TLS files when `tls:` is set (the only part of this section that does I/O).
    pub fn load_tls(
        &self,
    ) -> Result<Option<crate::camera_sync::SyncTls>, crate::camera_sync::TlsError> {
        self.tls
            .as_ref()
            .map(|tls| crate::camera_sync::SyncTls::from_pem_files(&tls.cert, &tls.key))
            .transpose()
    }
}

impl<'de> Deserialize<'de> for CameraSyncSection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SectionVisitor)
    }
}

struct SectionVisitor;

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = CameraSyncSection;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the camera_sync settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let mut tls = None;
        let aside = TlsAside { map, tls: &mut tls };
        let config = SyncConfig::deserialize(MapAccessDeserializer::new(aside))?;
        Ok(CameraSyncSection { config, tls })
    }
}

/// The section as [`SyncConfig`] reads it: the `tls` entry is set aside on the way.
struct TlsAside<'a, A> {
    map: A,
    tls: &'a mut Option<SyncTlsSection>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TlsAside<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        mut seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key_seed(TlsOr(seed))? {
                None => return Ok(None),
                Some(Ok(key)) => return Ok(Some(key)),
                Some(Err(unused)) => {
                    if self.tls.is_some() {
                        return Err(de::Error::duplicate_field("tls"));
                    }
                    *self.tls = Some(self.map.next_value()?);
                    seed = unused;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Reads one key of the section: `tls` hands the [`SyncConfig`] key seed back unused, any
/// other key goes to it (inside the YAML reader, so an unknown key's error names its line).
struct TlsOr<K>(K);

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for TlsOr<K> {
    type Value = Result<K::Value, K>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for TlsOr<K> {
    type Value = Result<K::Value, K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a camera_sync key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        if key == "tls" {
            return Ok(Err(self.0));
        }
        self.0.deserialize(StrDeserializer::<E>::new(key)).map(Ok)
    }
}

/// `nats_options:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsOptions {
    /// Core publishes kept while the server is away (default 10 000).
    pub buffer: Option<usize>,
    /// `block` (default) or `drop_newest` when the buffer is full.
    pub when_full: Option<crate::sink::FullPolicy>,
}

impl NatsOptions {
    /// Applies these options to a sink config.
    pub fn apply(&self, config: &mut crate::sink::nats::NatsConfig) {
        if let Some(buffer) = self.buffer {
            config.buffer = buffer;
        }
        if let Some(when_full) = self.when_full {
            config.when_full = when_full;
        }
    }
}

/// `mqtt_options:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttOptions {
    /// MQTT client ID (default `homeport-<node>`).
    pub client_id: Option<String>,
    /// Messages kept while the broker is away (default 100 000).
    pub buffer: Option<usize>,
    /// `block` (default), `drop_oldest` or `drop_newest` when the buffer is full.
    pub when_full: Option<crate::sink::mqtt::FullPolicy>,
    /// CA certificate file for `mqtts://` (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Where Home Assistant says `online` when it starts, making the gateway announce every
    /// device again (default `homeassistant/status`; `""` subscribes to nothing).
    pub announce_topic: Option<String>,
}

impl MqttOptions {
    /// Applies these options to a sink config.
    pub fn apply(&self, config: &mut crate::sink::mqtt::MqttConfig) {
        if let Some(client_id) = &self.client_id {
            config.client_id.clone_from(client_id);
        }
        if let Some(buffer) = self.buffer {
            config.buffer = buffer;
        }
        if let Some(when_full) = self.when_full {
            config.when_full = when_full;
        }
        if self.ca_file.is_some() {
            config.ca_file.clone_from(&self.ca_file);
        }
        if let Some(topic) = &self.announce_topic {
            config.announce_topic = Some(topic.clone()).filter(|t| !t.is_empty());
        }
    }
}

/// Where each listener binds and where data lives, after defaults, file and flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Addresses {
    /// Register listener.
    pub register: SocketAddr,
    /// Camera-sync listener.
    pub sync: SocketAddr,
    /// Admin API.
    pub admin: SocketAddr,
    /// Data directory.
    pub data: PathBuf,
}

impl Default for Addresses {
    fn default() -> Self {
        Self {
            register: SocketAddr::from(([0, 0, 0, 0], 9500)),
            // Loopback unless chosen otherwise: off loopback the listener needs TLS (or an
            // explicit `camera_sync.plaintext`).
            sync: SocketAddr::from(([127, 0, 0, 1], 9600)),
            admin: SocketAddr::from(([127, 0, 0, 1], 9080)),
            data: PathBuf::from("./data"),
        }
    }
}

impl FileConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let read = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Self::parse(&text, path)
    }

    /// Parses config text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            // The YAML error ends with its own position: the error's prefix already says it.
            let message = e.to_string();
            let suffix = format!(" at line {line} column {column}");
            let message = message
                .strip_suffix(&suffix)
                .map_or_else(|| message.clone(), str::to_owned);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        })
    }

    /// The gateway config: defaults, overridden by this file, overridden by `flags`.
    pub fn resolve(&self, flags: &Flags) -> (Addresses, GatewayConfig) {
        let defaults = Addresses::default();
        let addresses = Addresses {
            register: flags
                .register
                .or(self.register)
                .unwrap_or(defaults.register),
            sync: flags.sync.or(self.sync).unwrap_or(defaults.sync),
            admin: flags.admin.or(self.admin).unwrap_or(defaults.admin),
            data: flags
                .data
                .clone()
                .or_else(|| self.data.clone())
                .unwrap_or(defaults.data),
        };
        let mut trace_devices = self.trace_devices.clone();
        trace_devices.extend(flags.trace_devices.iter().cloned());
        trace_devices.dedup();
        let gateway = GatewayConfig {
            trace_devices,
            register: addresses.register,
            data: addresses.data.clone(),
            registry: self.registry,
            session: self.session,
            listener: self.listener.clone(),
        };
        (addresses, gateway)
    }
}

/// The command-line flags that override the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `--register`.
    pub register: Option<SocketAddr>,
    /// `--sync`.
    pub sync: Option<SocketAddr>,
    /// `--admin`.
    pub admin: Option<SocketAddr>,
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--trace-device` (added to the file's `trace_devices`).
    pub trace_devices: Vec<String>,
    /// `--pipelines` (instead of the file's `pipelines`).
    pub pipelines: Vec<PathBuf>,
    /// `--mqtt`.
    pub mqtt: Option<String>,
    /// `--nats`.
    pub nats: Option<String>,
    /// `--node`.
    pub node: Option<String>,
    /// `--sync-plaintext`.
    pub sync_plaintext: bool,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn file_values_apply_and_flags_win() {
        let text = "register: 127.0.0.1:9501\nadmin: 127.0.0.1:9081\nsession:\n  reply_timeout: 3s\nregistry:\n  restart_grace: 2m\n";
        let file = FileConfig::parse(text, Path::new("homeport.yaml")).expect("parses");
        let flags = Flags {
            register: Some("127.0.0.1:7000".parse().expect("addr")),
            ..Flags::default()
        };
        let (addresses, gateway) = file.resolve(&flags);
        assert_eq!(addresses.register.port(), 7000);
        assert_eq!(addresses.admin.port(), 9081);
        assert_eq!(addresses.sync.port(), 9600);
        assert_eq!(gateway.session.reply_timeout, Duration::from_secs(3));
        assert_eq!(gateway.registry.restart_grace, Duration::from_secs(120));
    }

    #[test]
    fn unknown_keys_and_bad_durations_name_line_and_column() {
        let err = FileConfig::parse(
            "register: 127.0.0.1:9500\nregsiter: 1\n",
            Path::new("h.yaml"),
        )
        .expect_err("unknown key");
        let text = err.to_string();
        assert!(text.starts_with("h.yaml:2:"), "{text}");
        assert!(text.contains("regsiter"), "{text}");
        assert!(
            !text.contains(" at line "),
            "the position is given once: {text}"
        );
        let err = FileConfig::parse("session:\n  reply_timeout: soon\n", Path::new("h.yaml"))
            .expect_err("bad duration");
        assert!(err.to_string().contains("bad duration"), "{err}");
        assert!(err.to_string().starts_with("h.yaml:2:"), "{err}");
    }

    /// The example at the top of this file, without its `//! ` prefixes.
    fn documented_example() -> String {
        include_str!("config.rs")
            .lines()
            .skip_while(|line| *line != "//! ```yaml")
            .skip(1)
            .take_while(|line| *line != "//! ```")
            .map(|line| {
                format!(
                    "{}\n",
                    line.trim_start_matches("//!")
                        .strip_prefix(' ')
                        .unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn the_documented_example_parses_and_its_values_are_the_defaults() {
        let file = FileConfig::parse(&documented_example(), Path::new("doc.yaml")).expect("parses");
        let (addresses, gateway) = file.resolve(&Flags::default());
        assert_eq!(addresses, Addresses::default());
        assert_eq!(gateway.registry, RegistryConfig::default());
        assert_eq!(gateway.session, SessionConfig::default());
        assert_eq!(gateway.listener, ListenerConfig::default());
        assert_eq!(file.camera_sync.resolve(), SyncConfig::default());
        assert_eq!(
            file.camera_sync.tls,
            Some(SyncTlsSection {
                cert: PathBuf::from("sync.pem"),
                key: PathBuf::from("sync.key"),
            })
        );
        assert_eq!(file.mqtt_options.buffer, Some(100_000));
        assert_eq!(file.nats_options.buffer, Some(10_000));
        assert_eq!(
            file.nats_options.when_full,
            Some(crate::sink::FullPolicy::Block)
        );
        assert_eq!(file.trace_devices, ["cam1"]);
    }

    #[test]
    fn camera_sync_errors_name_their_line_and_counts_are_at_least_one() {
        let err = FileConfig::parse(
            "camera_sync:\n  plaintext: true\n  lock: 1m\n",
            Path::new("h.yaml"),
        )
        .expect_err("unknown key");
        assert!(err.to_string().starts_with("h.yaml:3:"), "{err}");
        assert!(err.to_string().contains("lock"), "{err}");
        let err = FileConfig::parse("camera_sync:\n  max_sessions: 3\n", Path::new("h.yaml"))
            .expect_err("not settable from the file");
        assert!(err.to_string().contains("max_sessions"), "{err}");
        let err = FileConfig::parse(
            "camera_sync:\n  tls: { cert: a.pem, key: a.key }\n  backoff: soon\n",
            Path::new("h.yaml"),
        )
        .expect_err("bad duration");
        assert!(err.to_string().starts_with("h.yaml:3:"), "{err}");
        assert!(err.to_string().contains("bad duration"), "{err}");
        let file = FileConfig::parse(
            "camera_sync:\n  max_accounts_per_camera: 0\n  max_failures: 0\n  backoff: 3s\n",
            Path::new("h.yaml"),
        )
        .expect("parses");
        let config = file.camera_sync.resolve();
        assert_eq!(
            (config.max_accounts_per_camera, config.max_failures),
            (1, 1)
        );
        assert_eq!(config.backoff, Duration::from_secs(3));
        assert_eq!(config.max_sessions, SyncConfig::default().max_sessions);
    }

    #[test]
    fn sections_keep_the_defaults_of_keys_left_out() {
        let text = "registry:\n  max_pending: 7\nlistener:\n  trusted_networks: [203.0.113.0/24]\n";
        let (_, gateway) = FileConfig::parse(text, Path::new("h.yaml"))
            .expect("parses")
            .resolve(&Flags::default());
        assert_eq!(gateway.registry.max_pending, 7);
        assert_eq!(
            gateway.registry.max_pending_per_source,
            RegistryConfig::default().max_pending_per_source
        );
        assert_eq!(gateway.listener.trusted_networks.len(), 1);
        assert_eq!(
            gateway.listener.max_connections,
            ListenerConfig::default().max_connections
        );
        let err = FileConfig::parse("listener:\n  max_conections: 3\n", Path::new("h.yaml"))
            .expect_err("unknown key");
        assert!(err.to_string().starts_with("h.yaml:2:"), "{err}");
    }
}
