//! `homeport run`: the gateway on its embedded defaults, or as the config file and flags say.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use homeport::config::{FileConfig, Flags};
use homeport::node::{Node, NodeConfig};

use super::limits::connection_cap;
use super::signals::{reload_on_hangup, shutdown_signal};

/// Options of `homeport run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where cameras register (default 0.0.0.0:9500).
    #[arg(long, value_name = "ADDR")]
    register: Option<SocketAddr>,
    /// The camera-sync listener for client apps (default 127.0.0.1:9600). Another address
    /// needs TLS (camera_sync.tls in the config file) or --sync-plaintext.
    #[arg(long, value_name = "ADDR")]
    sync: Option<SocketAddr>,
    /// Let the camera-sync listener speak plain TCP on an address other than loopback
    /// (passwords cross the network in clear; same as camera_sync.plaintext: true).
    #[arg(long)]
    sync_plaintext: bool,
    /// The admin HTTP API (default 127.0.0.1:9080).
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Data directory: SQLite store, secret key, admin token (default ./data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// YAML config file; flags win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Pipeline file or directory; repeat for several (default: the built-in pipelines).
    #[arg(long = "pipelines", value_name = "FILE_OR_DIR")]
    pipelines: Vec<PathBuf>,
    /// MQTT broker for the mqtt stages: mqtt://[user:pass@]host[:port] or mqtts://…
    #[arg(long, value_name = "URL")]
    mqtt: Option<String>,
    /// NATS server for the nats stages: nats://[user:pass@]host[:port]
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// This gateway's name in MQTT topics (homeport/gateway/NODE/status).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Write a two-way transcript of this device's socket (hex and decoded frames, passwords
    /// and hashes redacted) to <data>/traces/<ID>.log; repeat for several.
    #[arg(long = "trace-device", value_name = "ID")]
    trace_devices: Vec<String>,
}

/// Runs the gateway until SIGINT or SIGTERM.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let flags = Flags {
        register: args.register,
        sync: args.sync,
        admin: args.admin,
        data: args.data,
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
    let register = node
        .gateway()
        .register_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    if let Some(admin) = node.admin() {
        eprintln!(
            "homeport: registering cameras on {register}; admin API on http://{}; data in {}",
            admin.addr,
            data.display()
        );
        if admin.token_created {
            let path = data.join(homeport::secret::ADMIN_TOKEN_FILE);
            eprintln!(
                "homeport: admin token (saved in {}): {}",
                path.display(),
                admin.token
            );
        }
    }
    if let Some(sync) = node.sync() {
        eprintln!("homeport: camera-sync server for apps on {}", sync.addr());
    }
    if let Some(pipelines) = node.pipelines() {
        let names = pipelines.names().await.join(", ");
        eprintln!("homeport: pipelines running: {names}");
        reload_on_hangup(Arc::clone(pipelines));
    }
    shutdown_signal().await;
    eprintln!("homeport: shutting down");
    node.shutdown().await;
    Ok(())
}
