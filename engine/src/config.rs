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
//!   when_full: drop_oldest    # …then drop_oldest or drop_newest (counted either way)
//! nats: nats://127.0.0.1:4222 # NATS server for the nats stages
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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::cidr::Cidr;
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
    /// This gateway's name in MQTT topics and NATS client names (default: the host name).
    pub node: Option<String>,
    /// Registry limits.
    #[serde(default)]
    pub registry: RegistrySection,
    /// Session timers.
    #[serde(default)]
    pub session: SessionSection,
    /// Listener limits.
    #[serde(default)]
    pub listener: ListenerSection,
    /// The camera-sync server for client apps.
    #[serde(default)]
    pub camera_sync: CameraSyncSection,
    /// Devices whose sockets are traced into `<data>/traces/<id>.log` from the start.
    #[serde(default)]
    pub trace_devices: Vec<String>,
}

/// `camera_sync:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSyncSection {
    /// Most accounts one camera may be bound to (default 4).
    pub max_accounts_per_camera: Option<usize>,
    /// Reason texts apps get: `zh` (default, the seed's) or `en`.
    pub language: Option<crate::camera_sync::Language>,
    /// How long a data port waits for its connection (default 30s).
    #[serde(default, deserialize_with = "duration")]
    pub data_window: Option<Duration>,
    /// A main connection silent this long is closed (default 90s).
    #[serde(default, deserialize_with = "duration")]
    pub heartbeat_timeout: Option<Duration>,
    /// The failure count at which backoff starts, counted per source address and per account
    /// name for logins, per account and per source for camera passwords (default 5, at least
    /// 1). (It used to lock the account; nothing locks an account now.)
    pub max_failures: Option<u32>,
    /// The longest backoff of a source address, which is refused meanwhile, and of
    /// camera-password checks (default 15m); failures are forgotten this long after their
    /// backoff ran out. (It used to be how long an account stayed locked.)
    #[serde(default, deserialize_with = "duration")]
    pub lock_for: Option<Duration>,
    /// The first backoff step, doubling with each further failure (default 1s).
    #[serde(default, deserialize_with = "duration")]
    pub backoff: Option<Duration>,
    /// The longest an account name under attack holds back a login from an address that has
    /// not logged in to it before (default 5s; never a refusal).
    #[serde(default, deserialize_with = "duration")]
    pub account_delay_max: Option<Duration>,
    /// `optional` (default): apps that ask for a data-port token must send it, seed apps get
    /// a tokenless port under stricter rules; `required`: no data port without a token.
    pub data_token: Option<crate::camera_sync::DataToken>,
    /// How long a data port without a token waits for its connection, at most (default 10s).
    #[serde(default, deserialize_with = "duration")]
    pub tokenless_window: Option<Duration>,
    /// Allow plain TCP on an address other than loopback without `tls` (default false: such a
    /// listener is refused at start).
    pub plaintext: Option<bool>,
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
    /// The server settings: defaults overridden by this section.
    pub fn resolve(&self) -> crate::camera_sync::SyncConfig {
        let d = crate::camera_sync::SyncConfig::default();
        crate::camera_sync::SyncConfig {
            max_accounts_per_camera: self
                .max_accounts_per_camera
                .unwrap_or(d.max_accounts_per_camera)
                .max(1),
            language: self.language.unwrap_or(d.language),
            data_window: self.data_window.unwrap_or(d.data_window),
            heartbeat_timeout: self.heartbeat_timeout.unwrap_or(d.heartbeat_timeout),
            max_failures: self.max_failures.unwrap_or(d.max_failures).max(1),
            lock_for: self.lock_for.unwrap_or(d.lock_for),
            backoff: self.backoff.unwrap_or(d.backoff),
            account_delay_max: self.account_delay_max.unwrap_or(d.account_delay_max),
            data_token: self.data_token.unwrap_or(d.data_token),
            tokenless_window: self.tokenless_window.unwrap_or(d.tokenless_window),
            plaintext: self.plaintext.unwrap_or(d.plaintext),
            max_sessions: d.max_sessions,
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

/// `mqtt_options:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttOptions {
    /// MQTT client ID (default `homeport-<node>`).
    pub client_id: Option<String>,
    /// Messages kept while the broker is away (default 100 000).
    pub buffer: Option<usize>,
    /// `drop_oldest` (default) or `drop_newest` when the buffer is full.
    pub when_full: Option<crate::sink::mqtt::FullPolicy>,
    /// CA certificate file for `mqtts://` (default: the system's roots).
    pub ca_file: Option<PathBuf>,
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
    }
}

/// `registry:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    /// Unknown devices kept waiting for credentials at once.
    pub max_pending: Option<usize>,
    /// Of those, most from one source address.
    pub max_pending_per_source: Option<usize>,
    /// Grace window after a restart.
    #[serde(default, deserialize_with = "duration")]
    pub restart_grace: Option<Duration>,
}

/// `session:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// Per-call reply timeout.
    #[serde(default, deserialize_with = "duration")]
    pub reply_timeout: Option<Duration>,
    /// How long an unknown device waits for credentials.
    #[serde(default, deserialize_with = "duration")]
    pub pending_timeout: Option<Duration>,
    /// First wait after a refused login.
    #[serde(default, deserialize_with = "duration")]
    pub login_backoff_min: Option<Duration>,
    /// Longest wait between logins.
    #[serde(default, deserialize_with = "duration")]
    pub login_backoff_max: Option<Duration>,
    /// Log in as soon as credentials are known (default true); when false, only a pipeline's
    /// `login` stage starts a login.
    pub auto_login: Option<bool>,
    /// How long `auto` waits for the first protocol's answer before it tries the other.
    #[serde(default, deserialize_with = "duration")]
    pub fallback_timeout: Option<Duration>,
    /// How often a DVRIP session sends the `a1` keep-life packet.
    #[serde(default, deserialize_with = "duration")]
    pub dvrip_keepalive: Option<Duration>,
    /// How long a DVRIP session may stay silent before it is declared dead.
    #[serde(default, deserialize_with = "duration")]
    pub dvrip_silence: Option<Duration>,
}

/// `listener:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    /// Time to announce.
    #[serde(default, deserialize_with = "duration")]
    pub announce_timeout: Option<Duration>,
    /// Device connections at once.
    pub max_connections: Option<usize>,
    /// Networks whose pending connections may be logged in over without an operator's
    /// acceptance (`203.0.113.0/24`, `2001:db8::/32`, single addresses).
    #[serde(default)]
    pub trusted_networks: Vec<Cidr>,
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
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message: e.to_string(),
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
        let registry = RegistryConfig::default();
        let session = SessionConfig::default();
        let listener = ListenerConfig::default();
        let mut trace_devices = self.trace_devices.clone();
        trace_devices.extend(flags.trace_devices.iter().cloned());
        trace_devices.dedup();
        let gateway = GatewayConfig {
            trace_devices,
            register: addresses.register,
            data: addresses.data.clone(),
            registry: RegistryConfig {
                max_pending: self.registry.max_pending.unwrap_or(registry.max_pending),
                max_pending_per_source: self
                    .registry
                    .max_pending_per_source
                    .unwrap_or(registry.max_pending_per_source),
                restart_grace: self
                    .registry
                    .restart_grace
                    .unwrap_or(registry.restart_grace),
            },
            session: SessionConfig {
                reply_timeout: self.session.reply_timeout.unwrap_or(session.reply_timeout),
                pending_timeout: self
                    .session
                    .pending_timeout
                    .unwrap_or(session.pending_timeout),
                login_backoff_min: self
                    .session
                    .login_backoff_min
                    .unwrap_or(session.login_backoff_min),
                login_backoff_max: self
                    .session
                    .login_backoff_max
                    .unwrap_or(session.login_backoff_max),
                auto_login: self.session.auto_login.unwrap_or(session.auto_login),
                fallback_timeout: self
                    .session
                    .fallback_timeout
                    .unwrap_or(session.fallback_timeout),
                dvrip_keepalive: self
                    .session
                    .dvrip_keepalive
                    .unwrap_or(session.dvrip_keepalive),
                dvrip_silence: self.session.dvrip_silence.unwrap_or(session.dvrip_silence),
            },
            listener: ListenerConfig {
                announce_timeout: self
                    .listener
                    .announce_timeout
                    .unwrap_or(listener.announce_timeout),
                max_connections: self
                    .listener
                    .max_connections
                    .unwrap_or(listener.max_connections),
                trusted_networks: Arc::from(self.listener.trusted_networks.clone()),
            },
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
}

/// A human duration (`5s`, `200ms`, `2m`).
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map(Some).map_err(|e| {
        serde::de::Error::custom(format!(
            "bad duration {text:?}: {e} (examples: 500ms, 10s, 2m)"
        ))
    })
}

#[cfg(test)]
mod tests {
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
        let err = FileConfig::parse("session:\n  reply_timeout: soon\n", Path::new("h.yaml"))
            .expect_err("bad duration");
        assert!(err.to_string().contains("bad duration"), "{err}");
        assert!(err.to_string().starts_with("h.yaml:2:"), "{err}");
    }
}
