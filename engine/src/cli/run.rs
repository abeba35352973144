//! `homeport run`: the gateway on its embedded defaults, or as the config file and flags say.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use homeport::config::{FileConfig, Flags};
use std::sync::Arc;

use homeport::gateway::Gateway;
use homeport::pipeline::{PipelineHost, Services};
use homeport::sink::mqtt::{MqttConfig, MqttSink};
use homeport::sink::nats::{NatsConfig, NatsSink};

use super::shutdown_signal;

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

/// Descriptors kept back from device connections for the admin API, the camera-sync server,
/// the store, the brokers and plugin files.
const FD_RESERVE: u64 = 1024;

/// The device connections the process can hold: the descriptor limit is raised as far as
/// allowed, and `wanted` is lowered to what it leaves after [`FD_RESERVE`], so idle sockets
/// on the register port can never starve the other listeners.
fn connection_cap(wanted: usize) -> usize {
    let limit = rlimit::increase_nofile_limit(wanted as u64 + FD_RESERVE)
        .or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft))
        .unwrap_or(wanted as u64 + FD_RESERVE);
    let cap = usize::try_from(limit.saturating_sub(FD_RESERVE)).unwrap_or(wanted);
    if cap < wanted {
        tracing::info!(
            wanted,
            cap,
            limit,
            "device connections capped by the open-files limit (raise it with LimitNOFILE= or ulimit -n for more)"
        );
        cap.max(1)
    } else {
        wanted
    }
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
        data: args.data.clone(),
        trace_devices: args.trace_devices.clone(),
    };
    let (addresses, mut config) = file.resolve(&flags);
    config.listener.max_connections = connection_cap(config.listener.max_connections);
    homeport::secret::create_private_dir(&addresses.data).with_context(|| {
        format!(
            "cannot create the data directory {}",
            addresses.data.display()
        )
    })?;
    let (token, created) =
        homeport::secret::admin_token(&addresses.data).context("cannot set up the admin token")?;
    let gateway = Gateway::start(config).await?;
    let stop_sinks = tokio_util::sync::CancellationToken::new();
    let node = args
        .node
        .clone()
        .or_else(|| file.node.clone())
        .unwrap_or_else(default_node);
    let mqtt = match args.mqtt.clone().or_else(|| file.mqtt.clone()) {
        Some(url) => Some(MqttSink::start(
            MqttConfig::from_url(url, node.clone())?,
            stop_sinks.clone(),
        )?),
        None => None,
    };
    let nats = match args.nats.clone().or_else(|| file.nats.clone()) {
        Some(url) => {
            let config = NatsConfig {
                name: format!("homeport-{node}"),
                ..NatsConfig::from_url(url)
            };
            Some(NatsSink::start(config, stop_sinks.clone()).await?)
        }
        None => None,
    };
    let (mqtt_closed, nats_closed) = (mqtt.clone(), nats.clone());
    let sync_tls = file.camera_sync.load_tls()?;
    let mut sync_config = file.camera_sync.resolve();
    sync_config.plaintext |= args.sync_plaintext;
    let sync = homeport::camera_sync::SyncServer::start_with_tls(
        addresses.sync,
        sync_config,
        gateway.bus().clone(),
        sync_tls,
    )
    .await
    .with_context(|| {
        format!(
            "cannot listen on {} for the camera-sync server",
            addresses.sync
        )
    })?;
    // Plugins: compiled components cached in the data directory; changed files reloaded.
    let plugins = Arc::new(homeport::wasm::PluginHost::new(Some(
        addresses.data.join("plugin-cache"),
    )));
    let stop_plugins = tokio_util::sync::CancellationToken::new();
    plugins.watch(std::time::Duration::from_secs(1), stop_plugins.clone());
    let services = Services {
        registry: Arc::clone(gateway.registry()),
        store: Some(gateway.store().clone()),
        mqtt,
        nats,
        sync: Some(Arc::clone(&sync)),
        plugins: Arc::clone(&plugins),
        check_only: false,
    };
    let sources = if args.pipelines.is_empty() {
        file.pipelines.clone()
    } else {
        args.pipelines.clone()
    };
    let pipelines = PipelineHost::start(sources, services, gateway.bus().clone())?;
    gateway.set_pipelines(Arc::clone(&pipelines));
    let register = gateway
        .register_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    let admin_listener = tokio::net::TcpListener::bind(addresses.admin)
        .await
        .with_context(|| format!("cannot listen on {} for the admin API", addresses.admin))?;
    let admin = admin_listener.local_addr()?;
    let stop_admin = tokio_util::sync::CancellationToken::new();
    let router = homeport::admin::router(Arc::clone(&gateway), token.clone());
    let admin_task = tokio::spawn(homeport::admin::serve(
        admin_listener,
        router,
        stop_admin.clone(),
    ));
    eprintln!(
        "homeport: registering cameras on {register}; admin API on http://{admin}; data in {}",
        addresses.data.display()
    );
    if created {
        eprintln!(
            "homeport: admin token (saved in {}): {token}",
            addresses
                .data
                .join(homeport::secret::ADMIN_TOKEN_FILE)
                .display()
        );
    }
    eprintln!("homeport: camera-sync server for apps on {}", sync.addr());
    eprintln!(
        "homeport: pipelines running: {}",
        pipelines.names().await.join(", ")
    );
    reload_on_hangup(Arc::clone(&pipelines));
    shutdown_signal().await;
    eprintln!("homeport: shutting down");
    stop_admin.cancel();
    stop_plugins.cancel();
    sync.shutdown().await;
    gateway.shutdown().await;
    // The sinks deliver what is queued, say goodbye (MQTT: retained `offline`), and close.
    stop_sinks.cancel();
    let sinks_closed = async {
        if let Some(mqtt) = &mqtt_closed {
            mqtt.closed().await;
        }
        if let Some(nats) = &nats_closed {
            nats.closed().await;
        }
    };
    if tokio::time::timeout(std::time::Duration::from_secs(10), sinks_closed)
        .await
        .is_err()
    {
        eprintln!("homeport: the MQTT/NATS connections did not close within 10 s");
    }
    if let Ok(Err(e)) = admin_task.await {
        tracing::warn!(error = %e, "admin API ended with an error");
    }
    Ok(())
}

/// The host name, for topics; `homeport` when it cannot be read.
fn default_node() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "homeport".to_owned())
}

/// Reloads the pipelines on SIGHUP; a bad reload keeps the running ones and logs why.
fn reload_on_hangup(pipelines: Arc<PipelineHost>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            match pipelines.reload().await {
                Ok(names) => eprintln!("homeport: pipelines reloaded: {}", names.join(", ")),
                Err(errors) => {
                    eprintln!("homeport: reload failed, the running pipelines stay:\n{errors}")
                }
            }
        }
    });
}
