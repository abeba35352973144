//! `homeport run`: the gateway on its embedded defaults, or as the config file, the
//! `HOMEPORT_*` variables and the flags say (flags win over variables, both over the file).
//!
//! Without `--config` the first of [`CONFIG_SEARCH`] that exists is read. Without `--data`
//! (or `HOMEPORT_DATA`) the data directory is systemd's `$STATE_DIRECTORY` when set, else the
//! file's, else `./data`.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use homeport::config::{FileConfig, Flags};
use homeport::node::{Node, NodeConfig};

use super::limits::connection_cap;
use super::logging::LogFormat;
use super::signals::{reload_on_hangup, shutdown_signal};

/// Config files read when no `--config` is given, the first that exists.
pub(crate) const CONFIG_SEARCH: [&str; 2] = ["./homeport.yaml", "/etc/homeport/homeport.yaml"];

/// Options of `homeport run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where cameras register (default 0.0.0.0:9500).
    #[arg(long, value_name = "ADDR", env = "HOMEPORT_REGISTER")]
    register: Option<SocketAddr>,
    /// The camera-sync listener for client apps (default 127.0.0.1:9600). Another address
    /// needs TLS (camera_sync.tls in the config file) or --sync-plaintext.
    #[arg(long, value_name = "ADDR", env = "HOMEPORT_SYNC")]
    sync: Option<SocketAddr>,
    /// Let the camera-sync listener speak plain TCP on an address other than loopback
    /// (passwords cross the network in clear; same as camera_sync.plaintext: true).
    #[arg(long, env = "HOMEPORT_SYNC_PLAINTEXT")]
    sync_plaintext: bool,
    /// The admin HTTP API (default 127.0.0.1:9080).
    #[arg(long, value_name = "ADDR", env = "HOMEPORT_ADMIN")]
    admin: Option<SocketAddr>,
    /// Data directory: SQLite store, secret key, admin token (default $STATE_DIRECTORY under
    /// systemd, else ./data).
    #[arg(long, value_name = "DIR", env = "HOMEPORT_DATA")]
    data: Option<PathBuf>,
    /// YAML config file; flags win over it (default: ./homeport.yaml, else
    /// /etc/homeport/homeport.yaml, when one exists).
    #[arg(long, value_name = "FILE", env = "HOMEPORT_CONFIG")]
    config: Option<PathBuf>,
    /// Pipeline file or directory; repeat for several (default: the built-in pipelines).
    #[arg(
        long = "pipelines",
        value_name = "FILE_OR_DIR",
        env = "HOMEPORT_PIPELINES",
        value_delimiter = ','
    )]
    pipelines: Vec<PathBuf>,
    /// MQTT broker for the mqtt stages: mqtt://[user:pass@]host[:port] or mqtts://…
    #[arg(
        long,
        value_name = "URL",
        env = "HOMEPORT_MQTT",
        hide_env_values = true
    )]
    mqtt: Option<String>,
    /// NATS server for the nats stages: nats://[user:pass@]host[:port]
    #[arg(
        long,
        value_name = "URL",
        env = "HOMEPORT_NATS",
        hide_env_values = true
    )]
    nats: Option<String>,
    /// This gateway's name in MQTT topics (homeport/gateway/NODE/status).
    #[arg(long, value_name = "NAME", env = "HOMEPORT_NODE")]
    node: Option<String>,
    /// Write a two-way transcript of this device's socket (hex and decoded frames, passwords
    /// and hashes redacted) to <data>/traces/<ID>.log; repeat for several.
    #[arg(
        long = "trace-device",
        value_name = "ID",
        env = "HOMEPORT_TRACE_DEVICES",
        value_delimiter = ','
    )]
    trace_devices: Vec<String>,
}

/// The config file to read: `--config`, else the first of [`CONFIG_SEARCH`] that exists.
fn config_path(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| {
        CONFIG_SEARCH
            .iter()
            .map(PathBuf::from)
            .find(|path| path.is_file())
    })
}

/// Runs the gateway until SIGINT or SIGTERM.
pub(crate) async fn run(args: RunArgs, log_format: LogFormat) -> anyhow::Result<()> {
    let config_file = config_path(args.config);
    let file = match &config_file {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    // systemd's StateDirectory= when nothing else names the data directory.
    let data = args.data.or_else(|| {
        file.data
            .is_none()
            .then(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
            .flatten()
    });
    let flags = Flags {
        register: args.register,
        sync: args.sync,
        admin: args.admin,
        data,
        trace_devices: args.trace_devices,
        pipelines: args.pipelines,
        mqtt: args.mqtt,
        nats: args.nats,
        node: args.node,
        sync_plaintext: args.sync_plaintext,
    };
    let mut config = NodeConfig::resolve(&file, &flags)?;
    let listener = &mut config.gateway.listener;
    listener.max_connections = connection_cap(listener.max_connections);
    let data = config.gateway.data.clone();
    let node = Node::start(config).await?;
    banner(&node, &data, config_file.as_deref(), log_format).await;
    if let Some(pipelines) = node.pipelines() {
        reload_on_hangup(Arc::clone(pipelines));
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    node.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// What every start says: where cameras and the API are, where the data, the config and the
/// admin token file are, what runs. The token's value is shown only when this start created
/// it and stderr is a terminal (never into a log file); `homeport token` prints it later.
async fn banner(node: &Node, data: &Path, config: Option<&Path>, format: LogFormat) {
    let register = node
        .gateway()
        .register_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    let admin = node.admin();
    let admin_addr = admin.map_or_else(|| "-".to_owned(), |a| a.addr.to_string());
    let token_file = data.join(homeport::secret::ADMIN_TOKEN_FILE);
    let token_from_env = homeport::secret::env_admin_token().is_some();
    let sync = node.sync().map(|s| s.addr().to_string());
    let pipelines = match node.pipelines() {
        Some(p) => p.names().await.join(", "),
        None => String::new(),
    };
    let config = config.map(|c| c.display().to_string());
    if format == LogFormat::Json {
        tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        %register,
        admin = %admin_addr,
        data = %data.display(),
        config = config.as_deref().unwrap_or("none"),
        token_file = %token_file.display(),
        sync = sync.as_deref().unwrap_or("off"),
        %pipelines,
        "homeport started"
        );
        return;
    }
    eprintln!(
        "homeport: registering cameras on {register}; admin API on http://{admin_addr}; data in {}",
        data.display()
    );
    if let Some(config) = &config {
        eprintln!("homeport: config file {config}");
    }
    if token_from_env {
        eprintln!(
            "homeport: admin token from ${}",
            homeport::secret::ADMIN_TOKEN_ENV
        );
    } else {
        eprintln!(
            "homeport: admin token in {} (print it with `homeport token`)",
            token_file.display()
        );
    }
    if let Some(admin) = admin.filter(|a| a.token_created && std::io::stderr().is_terminal()) {
        eprintln!("homeport: new admin token: {}", admin.token);
    }
    if let Some(sync) = &sync {
        eprintln!("homeport: camera-sync server for apps on {sync}");
    }
    if !pipelines.is_empty() {
        eprintln!("homeport: pipelines running: {pipelines}");
    }
}
