//! What a node is made of ([`NodeConfig`]) and the order its parts start in
//! ([`Node::start`]); a part that fails to start stops those started before it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{AdminEndpoint, Node};
use crate::camera_sync::{SyncConfig, SyncServer, SyncTls};
use crate::gateway::{Gateway, GatewayConfig, GatewayError};
use crate::pipeline::{PipelineHost, Services, SpecErrors};
use crate::sink::{SinkError, Sinks, SinksConfig};
use crate::wasm::PluginHost;

/// How often plugin files are checked for changes.
const PLUGIN_WATCH_EVERY: Duration = Duration::from_secs(1);

/// Everything a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The gateway: register listener, data directory, limits and timers.
    pub gateway: GatewayConfig,
    /// The MQTT and NATS connections, if any.
    pub sinks: SinksConfig,
    /// The camera-sync server for client apps; `None`: it does not run.
    pub sync: Option<SyncSettings>,
    /// The admin API; `None`: it does not run.
    pub admin: Option<AdminSettings>,
    /// Pipeline files or directories: `None` runs no pipelines, an empty list the built-in
    /// ones.
    pub pipelines: Option<Vec<PathBuf>>,
    /// Where compiled plugins are cached; `None`: compiled on every start.
    pub plugin_cache: Option<PathBuf>,
}

/// The camera-sync listener.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its limits and policies.
    pub config: SyncConfig,
    /// TLS on the listener and its data ports.
    pub tls: Option<SyncTls>,
}

/// The admin API listener.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The bearer token; `None`: the data directory's token, created on first start.
    pub token: Option<String>,
}

impl NodeConfig {
    /// A node of just a gateway on a free loopback port with data in `data`: no sinks, no
    /// camera-sync server, no admin API, no pipelines (tests and embedded use add what they
    /// need).
    pub fn loopback(data: impl Into<PathBuf>) -> Self {
        Self {
            gateway: GatewayConfig::loopback(data),
            sinks: SinksConfig::default(),
            sync: None,
            admin: None,
            pipelines: None,
            plugin_cache: None,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data directory or the admin token could not be set up.
    #[error("cannot set up the data directory {path}: {source}")]
    Data {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: crate::secret::SecretError,
    },
    /// The gateway could not start.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A sink could not start.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The camera-sync listener could not start.
    #[error("cannot listen on {addr} for the camera-sync server: {source}")]
    Sync {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The pipelines do not compile.
    #[error("{0}")]
    Pipelines(SpecErrors),
    /// The admin listener could not be bound.
    #[error("cannot listen on {addr} for the admin API: {source}")]
    Admin {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// What has started so far, stopped in reverse if a later part fails.
#[derive(Default)]
struct Started {
    gateway: Option<Arc<Gateway>>,
    sinks: Option<Sinks>,
    sync: Option<Arc<SyncServer>>,
}

impl Started {
    async fn stop(self) {
        if let Some(sync) = self.sync {
            sync.shutdown().await;
        }
        if let Some(gateway) = self.gateway {
            gateway.shutdown().await;
        }
        if let Some(sinks) = self.sinks {
            sinks.close(super::SINKS_CLOSE_WAIT).await;
        }
    }
}

impl Node {
    /// Starts a node, in this order: the data directory and admin token; the gateway (store,
    /// devices, register listener); the sinks; the camera-sync server; the plugin host; the
    /// pipelines; the admin API. Nothing listens for devices before the store is open, and
    /// no event reaches a pipeline whose sinks are not set up.
    pub async fn start(config: NodeConfig) -> Result<Arc<Self>, NodeError> {
        let data = config.gateway.data.clone();
        let admin_token = match &config.admin {
            Some(admin) => Some(admin_token(&data, admin.token.clone())?),
            None => None,
        };
        let root = CancellationToken::new();
        let mut started = Started::default();
        match start_parts(&config, &root, &mut started).await {
            Ok((plugins, pipelines, stop_plugins)) => {
                let admin_listener = match &config.admin {
                    Some(admin) => match TcpListener::bind(admin.addr).await {
                        Ok(listener) => Some(listener),
                        Err(source) => {
                            stop_plugins.cancel();
                            if let Some(pipelines) = &pipelines {
                                pipelines.shutdown().await;
                            }
                            started.stop().await;
                            return Err(NodeError::Admin {
                                addr: admin.addr,
                                source,
                            });
                        }
                    },
                    None => None,
                };
                let admin = admin_listener.as_ref().zip(admin_token).and_then(
                    |(listener, (token, token_created))| {
                        Some(AdminEndpoint {
                            addr: listener.local_addr().ok()?,
                            token,
                            token_created,
                        })
                    },
                );
                let node = Arc::new(Self {
                    gateway: started.gateway.take().expect("started"),
                    sinks: started.sinks.take().unwrap_or_default(),
                    sync: started.sync.take(),
                    plugins,
                    pipelines,
                    admin,
                    started: Instant::now(),
                    stop_admin: root.child_token(),
                    stop_plugins,
                    root,
                    tasks: TaskTracker::new(),
                });
                if let Some(sync) = node.sync.as_ref().filter(|_| !node.answers_apps()) {
                    tracing::warn!(
                        addr = %sync.addr(),
                        "the camera-sync server listens, but no pipeline answers its apps: \
                         a Login gets LoginError after {:?}. Add a pipeline with a \
                         camera_sync stage on sync_request (the built-in one is in \
                         pipelines/default.yaml)",
                        crate::camera_sync::server::ANSWER_WAIT
                    );
                }
                if let (Some(listener), Some(endpoint)) = (admin_listener, &node.admin) {
                    let router = crate::admin::router(Arc::clone(&node), endpoint.token.clone());
                    let stop = node.stop_admin.clone();
                    node.tasks.spawn(async move {
                        if let Err(e) = crate::admin::serve(listener, router, stop).await {
                            tracing::warn!(error = %e, "admin API ended with an error");
                        }
                    });
                }
                Ok(node)
            }
            Err(e) => {
                started.stop().await;
                Err(e)
            }
        }
    }
}

/// The parts before the admin API; what started is recorded in `started`.
async fn start_parts(
    config: &NodeConfig,
    root: &CancellationToken,
    started: &mut Started,
) -> Result<
    (
        Arc<PluginHost>,
        Option<Arc<PipelineHost>>,
        CancellationToken,
    ),
    NodeError,
> {
    let gateway = Gateway::start(config.gateway.clone()).await?;
    started.gateway = Some(Arc::clone(&gateway));
    let sinks = Sinks::start(config.sinks.clone(), root.child_token()).await?;
    started.sinks = Some(sinks.clone());
    if let Some(sync) = &config.sync {
        let server = SyncServer::start_with_tls(
            sync.addr,
            sync.config.clone(),
            gateway.bus().clone(),
            sync.tls.clone(),
        )
        .await
        .map_err(|source| NodeError::Sync {
            addr: sync.addr,
            source,
        })?;
        started.sync = Some(server);
    }
    let plugins = Arc::new(PluginHost::new(config.plugin_cache.clone()));
    let stop_plugins = root.child_token();
    plugins.watch(PLUGIN_WATCH_EVERY, stop_plugins.clone());
    let pipelines = match &config.pipelines {
        Some(sources) => {
            let mut services = Services::new(
                Arc::clone(gateway.registry()),
                Some(gateway.store().clone()),
                Arc::clone(&plugins),
            )
            .with_sinks(sinks);
            if let Some(mqtt) = &config.sinks.mqtt {
                services = services.with_node(&mqtt.node);
            }
            if let Some(server) = &started.sync {
                services = services.with_sync(Arc::clone(server));
            }
            match PipelineHost::start(sources.clone(), services, gateway.bus().clone()) {
                Ok(host) => {
                    let birth = started.sinks.as_ref().and_then(|s| s.mqtt.as_ref()).zip(
                        config
                            .sinks
                            .mqtt
                            .as_ref()
                            .and_then(|m| m.announce_topic.as_deref()),
                    );
                    super::announce::start(gateway.registry(), birth, root.child_token());
                    Some(host)
                }
                Err(errors) => {
                    stop_plugins.cancel();
                    return Err(NodeError::Pipelines(errors));
                }
            }
        }
        None => None,
    };
    Ok((plugins, pipelines, stop_plugins))
}

/// The admin token: the one given, or the data directory's (created on first start).
fn admin_token(data: &std::path::Path, given: Option<String>) -> Result<(String, bool), NodeError> {
    let failed = |source| NodeError::Data {
        path: data.to_owned(),
        source,
    };
    crate::secret::create_private_dir(data).map_err(failed)?;
    match given {
        Some(token) => Ok((token, false)),
        None => crate::secret::admin_token(data).map_err(failed),
    }
}
