//! Every device the gateway knows or sees: credentials, state, address, last seen, and the
//! live session if there is one. State changes publish `registered` and `online-changed`
//! events and are queued for the store in batches.
//!
//! Each registration gets a generation number; a session reports only under its own
//! generation, so an old session closing after a newer one took over changes nothing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use homeport_protocol::wire::Framing;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::bus::EventBus;
use crate::device::identity::Identity;
use crate::device::login::DeviceInfo;
use crate::device::{DeviceHandle, EventLabels, LabelChange, Labels, LoginProtocol};
use crate::event::{
    AnnounceCause, DeviceState, Event, EventKind, OnlineReason, RegistrationKind, Reported,
    SecurityCode, now_ms,
};
use crate::store::{Credentials, DeviceRecord, StateUpdate};
use crate::time::rfc3339;

/// What a session logs in with: the device's credentials, and the protocol `auto` tries
/// first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPlan {
    /// The stored credentials.
    pub credentials: Credentials,
    /// The protocol an `auto` login last succeeded with, tried first.
    pub learned: Option<LoginProtocol>,
}

/// What a session reports when its device comes online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Online {
    /// The login that worked (`dvrip` or `dhip`).
    pub protocol: LoginProtocol,
    /// The framing JSON travels in.
    pub transport: Framing,
    /// What the device said about itself at login.
    pub info: DeviceInfo,
    /// The firmware version it reported after the login, if it did.
    pub firmware: Option<String>,
}

/// Limits and windows of the registry (the config file's `registry:` section).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Most connections of unknown devices kept waiting for credentials at once.
    pub max_pending: usize,
    /// Most of those from one source address, so one address cannot hold every slot.
    pub max_pending_per_source: usize,
    /// Devices online before a restart stay listed online this long without coming back.
    #[serde(deserialize_with = "crate::de::duration")]
    pub restart_grace: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            max_pending: 1000,
            max_pending_per_source: 16,
            restart_grace: Duration::from_secs(120),
        }
    }
}

/// A pinned identity as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct IdentityView {
    /// The login realm, and the login it was seen in (`dvrip:Login to …`).
    pub realm: Option<String>,
    /// The hardware serial number.
    pub serial: Option<String>,
    /// The device type.
    pub device_type: Option<String>,
}

/// A device as the API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DeviceView {
    /// Device ID.
    pub id: String,
    /// The name an operator gave it, if any.
    #[serde(default)]
    pub name: Option<String>,
    /// Its tags, in the order given.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Logged in and kept alive (or within the restart grace window).
    pub online: bool,
    /// The device's state.
    pub state: DeviceState,
    /// Address of the last connection.
    pub addr: Option<String>,
    /// Last time the device was heard from (RFC 3339).
    pub last_seen: Option<String>,
    /// Why it is in this state (a refusal text, a close reason).
    pub reason: Option<String>,
    /// Whether credentials are stored for it.
    pub known: bool,
    /// Login user, if known.
    pub username: Option<String>,
    /// Login protocol, if known.
    pub login_protocol: Option<LoginProtocol>,
    /// The login that worked last (`dvrip` or `dhip`), tried first by `auto`.
    pub connected_with: Option<LoginProtocol>,
    /// Video channels the device reported at login (DVRIP).
    pub channels: Option<u8>,
    /// Product type byte the device reported at login (DVRIP).
    pub device_type: Option<u8>,
    /// The device's DVRIP protocol version (7 on current firmware, 6 on 2010-era firmware).
    pub protocol_version: Option<u8>,
    /// What the device proved at its first login, checked at every later one.
    pub identity: Option<IdentityView>,
    /// The firmware version it reported at its last login.
    #[serde(default)]
    pub firmware: Option<String>,
    /// Whether its connection waits for an operator to accept it before the gateway logs in
    /// over it (it was pending when its credentials were added).
    pub awaiting_accept: bool,
    /// Since when it is in this state (RFC 3339).
    pub since: String,
}

/// Why a registration was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegisterError {
    /// Too many unknown devices are already waiting.
    #[error("too many pending devices ({0}); add credentials for waiting ones first")]
    TooManyPending(usize),
    /// Too many unknown devices are already waiting from this source address.
    #[error("too many pending devices from {0} ({1})")]
    TooManyPendingFrom(IpAddr, usize),
}

/// What a session gets when it registers.
#[derive(Debug)]
pub struct Ticket {
    /// Device ID.
    pub id: String,
    /// This registration's generation.
    pub generation: u64,
    /// Current credentials; changes when an operator adds or edits them.
    pub credentials: watch::Receiver<Option<LoginPlan>>,
    /// Fired when the session must close (replaced, removed, shutdown).
    pub close: CancellationToken,
    /// Why it was told to close.
    pub close_reason: Arc<OnceLock<OnlineReason>>,
    /// Woken when a pipeline's `login` stage asks for a login now.
    pub login_now: Arc<Notify>,
    /// Woken when an operator asks for a login now (the API, the CLI, the console); unlike
    /// a pipeline's request it also ends a refused session's backoff or stop.
    pub operator_login: Arc<Notify>,
    /// The device's name and tags, for the events its session makes; changes when an operator
    /// edits them.
    pub labels: watch::Receiver<Arc<Labels>>,
    /// Whether this connection may be logged in over. A connection that announced a known ID,
    /// or came from a trusted network, is; one that was pending when credentials appeared is
    /// not until an operator accepts it ([`Registry::accept`]): whoever squats on an ID
    /// before the operator adds it must not receive the login.
    pub accepted: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Slot {
    generation: u64,
    handle: Option<DeviceHandle>,
    credentials: watch::Sender<Option<LoginPlan>>,
    labels: watch::Sender<Arc<Labels>>,
    close: CancellationToken,
    close_reason: Arc<OnceLock<OnlineReason>>,
    login_now: Arc<Notify>,
    operator_login: Arc<Notify>,
    accepted: Arc<AtomicBool>,
    peer: String,
}

impl Slot {
    fn close(&self, reason: OnlineReason) {
        let _ = self.close_reason.set(reason);
        self.close.cancel();
    }
}

#[derive(Debug)]
struct Entry {
    credentials: Option<LoginPlan>,
    state: DeviceState,
    reason: Option<String>,
    addr: Option<String>,
    last_seen_ms: Option<i64>,
    since_ms: i64,
    session: Option<Slot>,
    grace_until: Option<Instant>,
    info: DeviceInfo,
    /// The source address counted against `max_pending_per_source` while pending.
    source: Option<IpAddr>,
    identity: Identity,
    labels: Arc<Labels>,
    /// The firmware version the device reported at its last login.
    firmware: Option<String>,
}

impl Entry {
    fn new(credentials: Option<LoginPlan>) -> Self {
        Self {
            credentials,
            state: DeviceState::Offline,
            reason: None,
            addr: None,
            last_seen_ms: None,
            since_ms: now_ms(),
            session: None,
            grace_until: None,
            info: DeviceInfo::default(),
            source: None,
            identity: Identity::default(),
            labels: Arc::default(),
            firmware: None,
        }
    }

    fn online(&self) -> bool {
        self.state == DeviceState::Online
    }

    /// What the device reported about itself: channels, serial, model, firmware.
    fn reported(&self) -> Reported {
        Reported {
            channels: self.info.channels,
            serial: self.identity.serial.clone(),
            model: self.identity.device_type.clone(),
            firmware: self.firmware.clone(),
        }
    }

    /// An event about this entry's device, carrying its labels.
    fn event(&self, id: &str, kind: EventKind) -> Arc<Event> {
        Event::labelled(id, EventLabels::from(&self.labels), kind)
    }
}

#[derive(Debug, Default)]
struct Inner {
    devices: HashMap<String, Entry>,
    pending: usize,
    pending_by_source: HashMap<IpAddr, usize>,
    dirty: HashMap<String, StateUpdate>,
}

/// The device registry. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Registry {
    inner: Mutex<Inner>,
    bus: EventBus,
    config: RegistryConfig,
    generations: AtomicU64,
    identity_refusals: AtomicU64,
}

impl Registry {
    /// An empty registry publishing on `bus`.
    pub fn new(bus: EventBus, config: RegistryConfig) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            bus,
            config,
            generations: AtomicU64::new(1),
            identity_refusals: AtomicU64::new(0),
        }
    }

    /// The bus events go to.
    pub fn bus(&self) -> &EventBus {
        &self.bus
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Loads stored devices. Those online when the last process stopped stay online for the
    /// restart grace window; [`Registry::expire_grace`] ends it for those that do not return.
    pub fn load(&self, devices: Vec<DeviceRecord>) {
        let mut inner = self.lock();
        let grace_until = Instant::now() + self.config.restart_grace;
        for device in devices {
            let mut entry = Entry::new(Some(LoginPlan {
                credentials: device.credentials,
                learned: device.learned_protocol,
            }));
            entry.identity = device.identity;
            entry.labels = Arc::new(device.labels);
            entry.addr = device.last_addr;
            entry.last_seen_ms = device.last_seen_ms;
            if DeviceState::parse(&device.state) == Some(DeviceState::Online) {
                entry.state = DeviceState::Online;
                entry.reason =
                    Some("restarted; waiting for the device to register again".to_owned());
                entry.grace_until = Some(grace_until);
            }
            inner.devices.insert(device.id, entry);
        }
    }

    /// Takes a new registration of `id` from `addr`. A live older session of the same ID is
    /// told to close, with an explicit `replaced` event if it was online (the listener first
    /// makes sure that session is dead: see [`Registry::handle`] and
    /// [`DeviceHandle::probe`]). `trusted` says the source is on a network whose pending
    /// connections may be logged in over without an operator's acceptance.
    pub fn register(
        &self,
        id: &str,
        addr: &str,
        registration: RegistrationKind,
        trusted: bool,
    ) -> Result<Ticket, RegisterError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let known = inner
            .devices
            .get(id)
            .is_some_and(|e| e.credentials.is_some());
        let replacing_pending = inner
            .devices
            .get(id)
            .is_some_and(|e| e.state == DeviceState::Pending);
        let source = source_ip(addr);
        if !known && !replacing_pending {
            if inner.pending >= self.config.max_pending {
                return Err(RegisterError::TooManyPending(self.config.max_pending));
            }
            if let Some(ip) = source
                && inner.pending_by_source.get(&ip).copied().unwrap_or(0)
                    >= self.config.max_pending_per_source
            {
                return Err(RegisterError::TooManyPendingFrom(
                    ip,
                    self.config.max_pending_per_source,
                ));
            }
        }
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let entry = inner
            .devices
            .entry(id.to_owned())
            .or_insert_with(|| Entry::new(None));
        if let Some(old) = entry.session.take() {
            old.close(OnlineReason::Replaced);
            if entry.online() {
                self.bus.publish(offline_event(
                    id,
                    entry,
                    DeviceState::LoggingIn,
                    OnlineReason::Replaced,
                    None,
                ));
            }
        }
        let (credentials, receiver) = watch::channel(entry.credentials.clone());
        let (labels, labels_receiver) = watch::channel(Arc::clone(&entry.labels));
        let close = CancellationToken::new();
        let close_reason = Arc::new(OnceLock::new());
        let login_now = Arc::new(Notify::new());
        let operator_login = Arc::new(Notify::new());
        let accepted = Arc::new(AtomicBool::new(known || trusted));
        entry.session = Some(Slot {
            generation,
            handle: None,
            credentials,
            labels,
            close: close.clone(),
            close_reason: Arc::clone(&close_reason),
            login_now: Arc::clone(&login_now),
            operator_login: Arc::clone(&operator_login),
            accepted: Arc::clone(&accepted),
            peer: addr.to_owned(),
        });
        entry.grace_until = None;
        entry.addr = Some(addr.to_owned());
        entry.last_seen_ms = Some(now_ms());
        let next = if known {
            DeviceState::LoggingIn
        } else {
            DeviceState::Pending
        };
        let reason = (!known).then(|| "unknown device: add its credentials to log in".to_owned());
        let registered = entry.event(
            id,
            EventKind::Registered {
                peer: addr.to_owned(),
                registration,
                token: None,
            },
        );
        move_source(inner, id, source);
        transition(inner, id, next, reason);
        self.bus.publish(registered);
        Ok(Ticket {
            id: id.to_owned(),
            generation,
            credentials: receiver,
            labels: labels_receiver,
            close,
            close_reason,
            login_now,
            operator_login,
            accepted,
        })
    }

    /// Has `auto` try `protocol` first on the device's next connection (it closed the socket
    /// on the other one). Kept in memory only: a success is what gets stored.
    pub fn hint_protocol(&self, id: &str, protocol: LoginProtocol) {
        if let Some(credentials) = self
            .lock()
            .devices
            .get_mut(id)
            .and_then(|e| e.credentials.as_mut())
        {
            credentials.learned = Some(protocol);
        }
    }

    /// What `id` proved at its first login (empty if nothing yet).
    pub fn identity(&self, id: &str) -> Identity {
        self.lock()
            .devices
            .get(id)
            .map(|e| e.identity.clone())
            .unwrap_or_default()
    }

    /// Pins what the session of `generation` just proved, for a device with nothing pinned.
    pub fn pin(&self, id: &str, generation: u64, identity: Identity) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if !current(inner, id, generation) {
            return;
        }
        // Borrowed field by field: the entry and the store queue at once.
        let Some(entry) = inner.devices.get_mut(id) else {
            return;
        };
        if !entry.identity.is_empty() || entry.credentials.is_none() {
            return;
        }
        entry.identity = identity.clone();
        let update = inner
            .dirty
            .entry(id.to_owned())
            .or_insert_with(|| state_update(id, entry));
        update.pinned = Some(identity);
    }

    /// Forgets what `id` proved (a replaced camera pins again at its next login). False if
    /// the device is unknown.
    pub fn forget_identity(&self, id: &str) -> bool {
        let mut inner = self.lock();
        match inner.devices.get_mut(id) {
            Some(entry) => {
                entry.identity = Identity::default();
                true
            }
            None => false,
        }
    }

    /// A login of `id` showed another identity than the pinned one: counted, published as a
    /// `security` event, and the device's state says why.
    pub fn identity_refused(&self, id: &str, generation: u64, peer: &str, detail: &str) {
        self.identity_refusals.fetch_add(1, Ordering::Relaxed);
        let labels = self.labels(id);
        self.bus.publish(Event::labelled(
            id,
            labels,
            EventKind::Security {
                code: SecurityCode::IdentityChanged,
                peer: peer.to_owned(),
                detail: detail.to_owned(),
            },
        ));
        self.login_failed(id, generation, detail);
    }

    /// Logins refused because of an identity mismatch, since start.
    pub fn identity_refusals(&self) -> u64 {
        self.identity_refusals.load(Ordering::Relaxed)
    }

    /// An operator accepts the connection a device is pending on: once it has credentials,
    /// the gateway logs in over it. False if the device has no connection.
    pub fn accept(&self, id: &str) -> bool {
        self.with_slot(id, |slot| {
            slot.accepted.store(true, Ordering::Release);
            slot.operator_login.notify_one();
        })
    }

    /// The session of `generation` holds credentials but waits for an operator to accept its
    /// connection (it was pending before they were added).
    pub fn awaiting_accept(&self, id: &str, generation: u64) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if !current(inner, id, generation) {
            return;
        }
        let peer = inner
            .devices
            .get(id)
            .and_then(|e| e.session.as_ref())
            .map(|s| s.peer.clone())
            .unwrap_or_default();
        let reason = format!(
            "credentials known, but this connection from {peer} was waiting before they were added: accept it to log in over it (homeport devices accept {id}), or let the device reconnect"
        );
        transition(inner, id, DeviceState::Pending, Some(reason));
    }

    /// The session of `generation` is logging in.
    pub fn logging_in(&self, id: &str, generation: u64) {
        let mut inner = self.lock();
        if current(&inner, id, generation) {
            transition(&mut inner, id, DeviceState::LoggingIn, None);
        }
    }

    /// The session of `generation` logged in; commands now go through `handle`. An `auto`
    /// login remembers the protocol that worked.
    pub fn online(&self, id: &str, generation: u64, handle: DeviceHandle, online: Online) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = current_entry(inner, id, generation) else {
            return;
        };
        if let Some(slot) = entry.session.as_mut() {
            slot.handle = Some(handle);
        }
        entry.last_seen_ms = Some(now_ms());
        entry.info = online.info;
        entry.firmware = online.firmware;
        let mut learned = None;
        if let Some(credentials) = entry.credentials.as_mut()
            && credentials.learned != Some(online.protocol)
        {
            credentials.learned = Some(online.protocol);
            learned = Some(online.protocol);
        }
        let came_online = (!entry.online()).then(|| {
            entry.event(
                id,
                EventKind::OnlineChanged {
                    online: true,
                    state: DeviceState::Online,
                    reason: OnlineReason::LoginOk,
                    detail: None,
                    since_ms: Some(entry.since_ms),
                    reported: entry.reported(),
                },
            )
        });
        transition(inner, id, DeviceState::Online, None);
        if let Some(update) = inner.dirty.get_mut(id) {
            update.learned_protocol = learned.or(update.learned_protocol);
        }
        if let Some(event) = came_online {
            self.bus.publish(event);
        }
    }

    /// The device refused the login of the session of `generation`.
    pub fn login_failed(&self, id: &str, generation: u64, detail: &str) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if !current(inner, id, generation) {
            return;
        }
        let Some(entry) = inner.devices.get(id) else {
            return;
        };
        if entry.state == DeviceState::LoginFailed && entry.reason.as_deref() == Some(detail) {
            return;
        }
        let event = offline_event(
            id,
            entry,
            DeviceState::LoginFailed,
            OnlineReason::LoginFailed,
            Some(detail.to_owned()),
        );
        transition(inner, id, DeviceState::LoginFailed, Some(detail.to_owned()));
        self.bus.publish(event);
    }

    /// The device was heard from.
    pub fn seen(&self, id: &str, generation: u64) {
        let mut inner = self.lock();
        if current(&inner, id, generation)
            && let Some(entry) = inner.devices.get_mut(id)
        {
            entry.last_seen_ms = Some(now_ms());
        }
    }

    /// The session of `generation` ended for `reason`.
    pub fn detach(&self, id: &str, generation: u64, reason: OnlineReason, detail: Option<String>) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = current_entry(inner, id, generation) else {
            return;
        };
        entry.session = None;
        if reason == OnlineReason::GatewayShutdown {
            // Not reported offline, and left online in the store: the gateway's own status says
            // it stopped, and the next start gives the device a grace window to come back.
            entry.state = DeviceState::Offline;
            return;
        }
        if entry.online() {
            self.bus.publish(offline_event(
                id,
                entry,
                DeviceState::Offline,
                reason,
                detail.clone(),
            ));
        }
        transition(
            inner,
            id,
            DeviceState::Offline,
            Some(detail.unwrap_or_else(|| reason_text(reason).to_owned())),
        );
        // An unknown device is forgotten when its connection ends: strangers leave nothing.
        if inner
            .devices
            .get(id)
            .is_some_and(|e| e.credentials.is_none())
        {
            inner.devices.remove(id);
            inner.dirty.remove(id);
        }
    }

    /// Stores or replaces a device's credentials; a waiting or refused session retries at once.
    /// `learned`, when given, replaces the protocol `auto` tries first (the stored one, after
    /// an update); otherwise the one known is kept.
    pub fn set_credentials(
        &self,
        id: &str,
        credentials: Credentials,
        learned: Option<LoginProtocol>,
    ) {
        let mut inner = self.lock();
        let entry = inner
            .devices
            .entry(id.to_owned())
            .or_insert_with(|| Entry::new(None));
        let plan = LoginPlan {
            credentials,
            learned: learned.or_else(|| entry.credentials.as_ref().and_then(|c| c.learned)),
        };
        entry.credentials = Some(plan.clone());
        if let Some(slot) = &entry.session {
            slot.credentials.send_replace(Some(plan));
        }
    }

    /// Changes a known device's name or tags: the events made from now on carry the new ones.
    pub fn change_labels(&self, id: &str, change: &LabelChange) {
        if change.is_empty() {
            return;
        }
        let mut inner = self.lock();
        let Some(entry) = inner.devices.get_mut(id) else {
            return;
        };
        entry.labels = Arc::new(entry.labels.changed(change));
        if let Some(slot) = &entry.session {
            slot.labels.send_replace(Arc::clone(&entry.labels));
        }
    }

    /// Announces the devices the gateway has credentials for — all of them in ID order, or
    /// only `id` — with an `announced` event each; returns how many. Pending strangers are
    /// never announced.
    pub fn announce(&self, cause: AnnounceCause, only: Option<&str>) -> usize {
        // Published under the lock, as every state change is: an announcement never overtakes
        // a change of the same device.
        let inner = self.lock();
        let mut known: Vec<(&String, &Entry)> = match only {
            Some(id) => inner.devices.get_key_value(id).into_iter().collect(),
            None => inner.devices.iter().collect(),
        };
        known.retain(|(_, entry)| entry.credentials.is_some());
        known.sort_unstable_by_key(|(id, _)| *id);
        for (id, entry) in &known {
            self.bus.publish(entry.event(
                id,
                EventKind::Announced {
                    cause,
                    online: entry.online(),
                    state: entry.state,
                    reported: entry.reported(),
                },
            ));
        }
        known.len()
    }

    /// The labels events about `id` carry now (none for an unknown device).
    pub fn labels(&self, id: &str) -> EventLabels {
        self.lock()
            .devices
            .get(id)
            .map(|e| EventLabels::from(&e.labels))
            .unwrap_or_default()
    }

    /// A pipeline asks a connected device's session to log in now: a session waiting for a
    /// login request tries at once; one backing off after a refusal, or stopped to spare the
    /// device's last try, is left alone; a logged-in one too. False if the device has no
    /// session.
    pub fn request_login(&self, id: &str) -> bool {
        self.with_slot(id, |slot| slot.login_now.notify_one())
    }

    /// Runs `f` on the live session slot of `id`; false if it has none.
    fn with_slot(&self, id: &str, f: impl FnOnce(&Slot)) -> bool {
        let inner = self.lock();
        match inner.devices.get(id).and_then(|e| e.session.as_ref()) {
            Some(slot) => {
                f(slot);
                true
            }
            None => false,
        }
    }

    /// An operator asks for a login now: like [`Registry::request_login`], and it also ends a
    /// refused session's backoff or stop (not a lock the device reported). False if the
    /// device has no session.
    pub fn request_operator_login(&self, id: &str) -> bool {
        self.with_slot(id, |slot| slot.operator_login.notify_one())
    }

    /// Forgets a device and closes its session. Its last event, online or not, is an
    /// `online_changed` to offline with reason `removed`, so whatever announced the device
    /// (retained status, Home Assistant discovery) can take it back.
    pub fn remove(&self, id: &str) -> bool {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = inner.devices.get(id) else {
            return false;
        };
        if let Some(slot) = &entry.session {
            slot.close(OnlineReason::Removed);
        }
        self.bus.publish(offline_event(
            id,
            entry,
            DeviceState::Offline,
            OnlineReason::Removed,
            None,
        ));
        transition(inner, id, DeviceState::Offline, None);
        inner.devices.remove(id);
        inner.dirty.remove(id);
        true
    }

    /// Devices whose restart grace ran out without them: now offline.
    pub fn expire_grace(&self, now: Instant) -> usize {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let expired: Vec<String> = inner
            .devices
            .iter()
            .filter(|(_, e)| e.session.is_none() && e.grace_until.is_some_and(|t| t <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            if let Some(entry) = inner.devices.get_mut(id) {
                entry.grace_until = None;
                let event = offline_event(
                    id,
                    entry,
                    DeviceState::Offline,
                    OnlineReason::NotBackAfterRestart,
                    None,
                );
                self.bus.publish(event);
            }
            transition(
                inner,
                id,
                DeviceState::Offline,
                Some(reason_text(OnlineReason::NotBackAfterRestart).to_owned()),
            );
        }
        expired.len()
    }

    /// Tells every session to close for a gateway shutdown.
    pub fn shutdown(&self) {
        for entry in self.lock().devices.values() {
            if let Some(slot) = &entry.session {
                slot.close(OnlineReason::GatewayShutdown);
            }
        }
    }

    /// The handle of an online device.
    pub fn handle(&self, id: &str) -> Option<DeviceHandle> {
        let inner = self.lock();
        let entry = inner.devices.get(id)?;
        entry
            .session
            .as_ref()?
            .handle
            .clone()
            .filter(|h| !h.is_closed())
    }

    /// Whether `password` is the device's stored password (the one it last logged in with, or
    /// will log in with); `None` if the gateway holds no credentials for it.
    pub fn password_matches(&self, id: &str, password: &str) -> Option<bool> {
        let inner = self.lock();
        let plan = inner.devices.get(id)?.credentials.as_ref()?;
        Some(crate::secret::constant_time_eq(
            plan.credentials.password.expose().as_bytes(),
            password.as_bytes(),
        ))
    }

    /// Whether a device is known (has credentials).
    pub fn is_known(&self, id: &str) -> bool {
        self.lock()
            .devices
            .get(id)
            .is_some_and(|e| e.credentials.is_some())
    }

    /// One device as the API shows it.
    pub fn view(&self, id: &str) -> Option<DeviceView> {
        let inner = self.lock();
        inner.devices.get(id).map(|e| view(id, e))
    }

    /// Every device, sorted by ID.
    pub fn list(&self) -> Vec<DeviceView> {
        let inner = self.lock();
        let mut views: Vec<DeviceView> = inner.devices.iter().map(|(id, e)| view(id, e)).collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }

    /// Counts per state, for metrics.
    pub fn counts(&self) -> HashMap<DeviceState, usize> {
        let mut counts = HashMap::new();
        for entry in self.lock().devices.values() {
            *counts.entry(entry.state).or_insert(0) += 1;
        }
        counts
    }

    /// Takes the state changes not yet written to the store (the latest per device).
    pub fn take_dirty(&self) -> Vec<StateUpdate> {
        self.lock()
            .dirty
            .drain()
            .map(|(_, update)| update)
            .collect()
    }
}

/// The IP of a `host:port` peer address.
fn source_ip(addr: &str) -> Option<IpAddr> {
    addr.parse::<SocketAddr>().ok().map(|a| a.ip())
}

/// The entry of `id`, if the session of `generation` is still its current one.
fn current_entry<'a>(inner: &'a mut Inner, id: &str, generation: u64) -> Option<&'a mut Entry> {
    if !current(inner, id, generation) {
        return None;
    }
    inner.devices.get_mut(id)
}

fn current(inner: &Inner, id: &str, generation: u64) -> bool {
    inner
        .devices
        .get(id)
        .and_then(|e| e.session.as_ref())
        .is_some_and(|s| s.generation == generation)
}

/// Moves a device to `state`, keeping the pending count and the store queue in step.
/// Counts one more (or one fewer) pending connection from `source`.
fn count_source(counts: &mut HashMap<IpAddr, usize>, source: Option<IpAddr>, more: bool) {
    let Some(ip) = source else {
        return;
    };
    if more {
        *counts.entry(ip).or_insert(0) += 1;
    } else if let Some(count) = counts.get_mut(&ip) {
        *count -= 1;
        if *count == 0 {
            counts.remove(&ip);
        }
    }
}

/// Records the source a device now connects from; a pending device's count moves with it.
fn move_source(inner: &mut Inner, id: &str, source: Option<IpAddr>) {
    let Some(entry) = inner.devices.get_mut(id) else {
        return;
    };
    let old = std::mem::replace(&mut entry.source, source);
    if entry.state == DeviceState::Pending && old != source {
        count_source(&mut inner.pending_by_source, old, false);
        count_source(&mut inner.pending_by_source, source, true);
    }
}

fn transition(inner: &mut Inner, id: &str, state: DeviceState, reason: Option<String>) {
    let Some(entry) = inner.devices.get_mut(id) else {
        return;
    };
    if entry.state == DeviceState::Pending && state != DeviceState::Pending {
        inner.pending -= 1;
        count_source(&mut inner.pending_by_source, entry.source, false);
    }
    if entry.state != DeviceState::Pending && state == DeviceState::Pending {
        inner.pending += 1;
        count_source(&mut inner.pending_by_source, entry.source, true);
    }
    if entry.state != state {
        entry.since_ms = now_ms();
    }
    entry.state = state;
    entry.reason = reason;
    inner.dirty.insert(id.to_owned(), state_update(id, entry));
}

/// What the store records of `entry` now: state, reason (none clears the stored one),
/// address and last seen.
fn state_update(id: &str, entry: &Entry) -> StateUpdate {
    StateUpdate {
        reason: Some(entry.reason.clone().unwrap_or_default()),
        last_addr: entry.addr.clone(),
        last_seen_ms: entry.last_seen_ms,
        ..StateUpdate::new(id, entry.state.as_str())
    }
}

fn offline_event(
    id: &str,
    entry: &Entry,
    state: DeviceState,
    reason: OnlineReason,
    detail: Option<String>,
) -> Arc<Event> {
    entry.event(
        id,
        EventKind::OnlineChanged {
            online: false,
            state,
            reason,
            detail,
            since_ms: Some(entry.since_ms),
            reported: Reported::default(),
        },
    )
}

fn reason_text(reason: OnlineReason) -> &'static str {
    match reason {
        OnlineReason::LoginOk => "logged in",
        OnlineReason::LoginFailed => "login failed",
        OnlineReason::KeepaliveLost => "keepalive lost",
        OnlineReason::SocketClosed => "connection closed",
        OnlineReason::Replaced => "replaced by a newer registration",
        OnlineReason::GatewayShutdown => "gateway shut down",
        OnlineReason::NotBackAfterRestart => "did not register again after a gateway restart",
        OnlineReason::Removed => "removed",
        OnlineReason::LoggedOut => "logged out",
    }
}

fn view(id: &str, entry: &Entry) -> DeviceView {
    DeviceView {
        id: id.to_owned(),
        name: entry.labels.name.clone(),
        tags: entry.labels.tags.clone(),
        online: entry.online(),
        state: entry.state,
        addr: entry.addr.clone(),
        last_seen: entry.last_seen_ms.map(rfc3339),
        reason: entry.reason.clone(),
        known: entry.credentials.is_some(),
        username: entry
            .credentials
            .as_ref()
            .map(|c| c.credentials.username.clone()),
        login_protocol: entry
            .credentials
            .as_ref()
            .map(|c| c.credentials.login_protocol),
        connected_with: entry.credentials.as_ref().and_then(|c| c.learned),
        channels: entry.info.channels,
        device_type: entry.info.device_type,
        protocol_version: entry.info.protocol_version,
        identity: (!entry.identity.is_empty()).then(|| IdentityView {
            realm: entry.identity.realm.as_ref().map(|r| r.to_stored()),
            serial: entry.identity.serial.clone(),
            device_type: entry.identity.device_type.clone(),
        }),
        firmware: entry.firmware.clone(),
        awaiting_accept: entry
            .session
            .as_ref()
            .is_some_and(|s| entry.credentials.is_some() && !s.accepted.load(Ordering::Acquire)),
        since: rfc3339(entry.since_ms),
    }
}

#[cfg(test)]
mod tests;
