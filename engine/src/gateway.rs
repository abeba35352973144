//! The running gateway: store, registry, register listener, background tasks, and the device
//! operations the admin API and CLI use (add, modify, delete, import, export — store first,
//! then the live registry).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::EventBus;
use crate::device::{LabelChange, LoginProtocol};
use crate::event::AnnounceCause;
use crate::listener::{self, ListenerConfig, Shared};
use crate::log_limit::LogLimiter;
use crate::metrics::Metrics;
use crate::pipeline::Services;
use crate::registry::{Registry, RegistryConfig};
use crate::session::SessionConfig;
use crate::store::{
    Credentials, DeviceCredentials, DeviceRecord, DeviceUpdate, ImportReport, Store, StoreError,
};
use crate::trace::Traces;

/// How often state changes are written to the store, in one transaction.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How often the restart grace window is checked.
const GRACE_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long shutdown waits for sessions to log out and close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// What the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where cameras register.
    pub register: SocketAddr,
    /// The data directory (store, key, admin token).
    pub data: PathBuf,
    /// Registry limits.
    pub registry: RegistryConfig,
    /// Session timers.
    pub session: SessionConfig,
    /// Listener limits.
    pub listener: ListenerConfig,
    /// Devices whose sockets are traced from the start (`--trace-device`).
    pub trace_devices: Vec<String>,
}

impl GatewayConfig {
    /// The defaults, registering on a free loopback port, with data in `data` (tests,
    /// benches, embedded use).
    pub fn loopback(data: impl Into<PathBuf>) -> Self {
        Self {
            register: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: data.into(),
            registry: RegistryConfig::default(),
            session: SessionConfig::default(),
            listener: ListenerConfig::default(),
            trace_devices: Vec::new(),
        }
    }
}

/// Why the gateway could not start or an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A running gateway. Share it behind an `Arc`.
#[derive(Debug)]
pub struct Gateway {
    registry: Arc<Registry>,
    store: Store,
    metrics: Arc<Metrics>,
    config: GatewayConfig,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    listening: Mutex<Option<(SocketAddr, CancellationToken)>>,
    listened_on: Mutex<Option<SocketAddr>>,
    traces: Arc<Traces>,
    warnings: Arc<LogLimiter>,
}

impl Gateway {
    /// Opens the store, loads the devices, starts the register listener and the background
    /// tasks.
    pub async fn start(config: GatewayConfig) -> Result<Arc<Self>, GatewayError> {
        let data = config.data.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(&data))
            .await
            .map_err(|e| StoreError::Invalid(format!("store task failed: {e}")))??;
        let registry = Arc::new(Registry::new(EventBus::default(), config.registry));
        registry.load(store.devices().await?);
        let traces = Arc::new(Traces::new(&config.data));
        for id in &config.trace_devices {
            let path = traces.enable(id).map_err(|e| {
                StoreError::Invalid(format!("cannot open the transcript of {id:?}: {e}"))
            })?;
            tracing::info!(device = %id, path = %path.display(), "tracing the device's socket");
        }
        let gateway = Arc::new(Self {
            traces,
            warnings: Arc::new(LogLimiter::default()),
            registry,
            store,
            metrics: Arc::new(Metrics::default()),
            config,
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            listening: Mutex::new(None),
            listened_on: Mutex::new(None),
        });
        gateway.start_listening().await?;
        gateway.tracker.spawn(flush_states(
            Arc::clone(&gateway.registry),
            gateway.store.clone(),
            gateway.shutdown.clone(),
        ));
        gateway.tracker.spawn(expire_grace(
            Arc::clone(&gateway.registry),
            gateway.shutdown.clone(),
        ));
        Ok(gateway)
    }

    /// The device registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The event bus.
    pub fn bus(&self) -> &EventBus {
        self.registry.bus()
    }

    /// Counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// What pipeline stages may use of this gateway: its registry and store, with the
    /// built-in plugin host and no sinks or camera-sync server (add them with
    /// [`Services::with_sinks`] and [`Services::with_sync`]).
    pub fn services(&self) -> Services {
        Services::new(
            Arc::clone(&self.registry),
            Some(self.store.clone()),
            Default::default(),
        )
    }

    /// Which devices' sockets are traced.
    pub fn traces(&self) -> &Arc<Traces> {
        &self.traces
    }

    /// Starts or stops tracing a device's socket; returns where its transcript is.
    pub fn set_tracing(&self, id: &str, on: bool) -> std::io::Result<PathBuf> {
        let path = if on {
            self.traces.enable(id)?
        } else {
            self.traces.disable(id);
            self.traces.path(id)
        };
        Ok(path)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.config.data
    }

    /// The register listener's address, while listening.
    pub fn register_addr(&self) -> Option<SocketAddr> {
        self.lock_listening().as_ref().map(|(addr, _)| *addr)
    }

    fn lock_listening(&self) -> std::sync::MutexGuard<'_, Option<(SocketAddr, CancellationToken)>> {
        self.listening
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_listening_was(&self) -> Option<SocketAddr> {
        *self
            .listened_on
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts accepting registrations (again); returns the bound address.
    pub async fn start_listening(&self) -> Result<SocketAddr, GatewayError> {
        if let Some(addr) = self.register_addr() {
            return Ok(addr);
        }
        // A restart binds the same port, even when the configured one was 0.
        let wanted = self.lock_listening_was().unwrap_or(self.config.register);
        let bind_error = |source| GatewayError::Bind {
            addr: wanted,
            source,
        };
        let listener = bind(wanted).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        *self
            .listened_on
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(addr);
        let stop = self.shutdown.child_token();
        let shared = Shared {
            registry: Arc::clone(&self.registry),
            session: self.config.session,
            listener: self.config.listener.clone(),
            metrics: Arc::clone(&self.metrics),
            tracker: self.tracker.clone(),
            traces: Arc::clone(&self.traces),
            warnings: Arc::clone(&self.warnings),
        };
        self.tracker
            .spawn(listener::run(listener, shared, stop.clone()));
        *self.lock_listening() = Some((addr, stop));
        tracing::info!(%addr, "register listener started");
        Ok(addr)
    }

    /// Stops accepting registrations; connected devices stay connected. False if not
    /// listening.
    pub fn stop_listening(&self) -> bool {
        match self.lock_listening().take() {
            Some((addr, stop)) => {
                stop.cancel();
                tracing::info!(%addr, "register listener stopped");
                true
            }
            None => false,
        }
    }

    /// Adds a device; a connection waiting for it logs in at once.
    pub async fn add_device(&self, device: DeviceCredentials) -> Result<(), StoreError> {
        self.store.add_device(device.clone()).await?;
        self.registry
            .set_credentials(&device.id, device.credentials, None);
        self.registry.change_labels(&device.id, &device.labels);
        self.registry
            .announce(AnnounceCause::Added, Some(&device.id));
        Ok(())
    }

    /// Changes a device's credentials or labels; a refused or waiting session retries at once.
    pub async fn update_device(
        &self,
        id: &str,
        update: DeviceUpdate,
    ) -> Result<DeviceRecord, StoreError> {
        let record = self.store.update_device(id, update).await?;
        self.registry
            .set_credentials(id, record.credentials.clone(), record.learned_protocol);
        self.registry
            .change_labels(id, &LabelChange::set(record.labels.clone()));
        Ok(record)
    }

    /// Adds or replaces many devices in one transaction.
    pub async fn import_devices(
        &self,
        devices: Vec<DeviceCredentials>,
    ) -> Result<ImportReport, StoreError> {
        let report = self.store.upsert_devices(devices.clone()).await?;
        for device in devices {
            self.registry
                .set_credentials(&device.id, device.credentials, None);
            self.registry.change_labels(&device.id, &device.labels);
            self.registry
                .announce(AnnounceCause::Added, Some(&device.id));
        }
        Ok(report)
    }

    /// Forgets what a device proved at its first login (a replaced camera): its next login
    /// pins again. False if the device is unknown.
    pub async fn forget_identity(&self, id: &str) -> Result<bool, StoreError> {
        let stored = self.store.forget_identity(id).await?;
        let live = self.registry.forget_identity(id);
        Ok(stored || live)
    }

    /// Deletes a device and closes its session. False if it was unknown.
    pub async fn delete_device(&self, id: &str) -> Result<bool, StoreError> {
        let stored = self.store.delete_device(id).await?;
        let live = self.registry.remove(id);
        Ok(stored || live)
    }

    /// Every stored device with its credentials (for export).
    pub async fn export_devices(&self) -> Result<Vec<DeviceRecord>, StoreError> {
        self.store.devices().await
    }

    /// Stops everything: the listener, every session (each logs out), the background tasks;
    /// then writes the last state changes.
    pub async fn shutdown(&self) {
        self.stop_listening();

        self.registry.shutdown();
        self.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_WAIT, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some sessions did not close within {SHUTDOWN_WAIT:?}");
        }
        flush(&self.registry, &self.store).await;
    }
}

/// Pending connections the kernel may queue before accept (capped by `somaxconn`): a
/// registration storm must not overflow it and leave cameras waiting on SYN retries.
const BACKLOG: u32 = 8192;

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// A credentials record for the store.
pub fn device_credentials(
    id: &str,
    username: &str,
    password: &str,
    protocol: LoginProtocol,
) -> DeviceCredentials {
    DeviceCredentials::new(id, Credentials::new(username, password, protocol))
}

async fn flush(registry: &Registry, store: &Store) {
    let updates = registry.take_dirty();
    if updates.is_empty() {
        return;
    }
    let count = updates.len();
    if let Err(e) = store.record_states(updates).await {
        tracing::error!(error = %e, count, "cannot record device states");
    }
}

async fn flush_states(registry: Arc<Registry>, store: Store, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => flush(&registry, &store).await,
        }
    }
}

async fn expire_grace(registry: Arc<Registry>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(GRACE_CHECK_EVERY);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {
                let expired = registry.expire_grace(Instant::now());
                if expired > 0 {
                    tracing::info!(expired, "devices did not register again after the restart");
                }
            }
        }
    }
}
