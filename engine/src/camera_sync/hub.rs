//! The live app sessions: who is logged in as which account, and a bounded queue of lines
//! to each. Pushes for a camera go to every main session of every account bound to it; a
//! session whose queue is full (an app that stopped reading) is closed rather than let the
//! queue grow or drop a push silently.
//!
//! Each session also counts the answers it waits for: a connection that sent a `Login` (or
//! `CreatDataSocket`) reads no further command until the `camera_sync` stage has answered it
//! ([`SyncHub::expect_answer`], [`SyncHub::settle`]), so one connection has at most one
//! password check pending.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use homeport_protocol::sync::SyncMessage;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::texts::Language;

/// Lines queued for one app before it is considered stuck.
pub const SESSION_QUEUE: usize = 1024;

/// Settings of the camera-sync server (the config file's `camera_sync:` section, less `tls`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Most accounts one camera may be bound to.
    pub max_accounts_per_camera: usize,
    /// Texts apps get.
    pub language: Language,
    /// How long a data port waits for its one connection.
    #[serde(deserialize_with = "crate::de::duration")]
    pub data_window: Duration,
    /// A main connection silent this long is closed.
    #[serde(deserialize_with = "crate::de::duration")]
    pub heartbeat_timeout: Duration,
    /// The failure count (per source address, per account name, and for camera passwords per
    /// account and per source) at which backoff starts; fewer failures cost nothing.
    pub max_failures: u32,
    /// The longest backoff of a source address (and of camera-password checks); failures are
    /// also forgotten this long after their backoff ran out.
    #[serde(deserialize_with = "crate::de::duration")]
    pub lock_for: Duration,
    /// The first backoff step; it doubles with each further failure.
    #[serde(deserialize_with = "crate::de::duration")]
    pub backoff: Duration,
    /// The longest an account name under attack holds back a login from an address that has
    /// not logged in to it before (never a refusal).
    #[serde(deserialize_with = "crate::de::duration")]
    pub account_delay_max: Duration,
    /// Whether data connections must present the one-time token.
    pub data_token: DataToken,
    /// How long a port without a token (a seed client's) waits for its connection, at most.
    #[serde(deserialize_with = "crate::de::duration")]
    pub tokenless_window: Duration,
    /// Whether plain TCP is allowed on an address other than loopback (without TLS).
    pub plaintext: bool,
    /// Most app connections at once.
    #[serde(skip)]
    pub max_sessions: usize,
}

/// Whether a data connection must present the one-time token of its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataToken {
    /// Apps that ask for a token must send it; seed apps that do not ask get a port that only
    /// their own address may use, within `tokenless_window`, while theirs is the only session
    /// from that address waiting for a data port.
    #[default]
    Optional,
    /// Every data port needs its token; a `CreatDataSocket` without `|token` gets the empty
    /// answer (the seed's "no port available": apps sync on the main connection).
    Required,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            max_accounts_per_camera: 4,
            language: Language::Zh,
            data_window: Duration::from_secs(30),
            heartbeat_timeout: Duration::from_secs(90),
            max_failures: 5,
            lock_for: Duration::from_secs(15 * 60),
            backoff: Duration::from_secs(1),
            account_delay_max: Duration::from_secs(5),
            data_token: DataToken::Optional,
            tokenless_window: Duration::from_secs(10),
            plaintext: false,
            max_sessions: 20_000,
        }
    }
}

#[derive(Debug)]
struct Session {
    tx: mpsc::Sender<SyncMessage>,
    peer: IpAddr,
    account: Option<String>,
    /// For a data connection: its main connection.
    main: Option<u64>,
    /// Cameras uploaded so far on this session (the `syncedCount` of replies).
    synced: u32,
    close: CancellationToken,
    /// Answers the connection waits for (counted up by the connection)…
    expected: u64,
    /// …and the answers given (set to `expected` by the stage).
    settled: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    sessions: HashMap<u64, Session>,
    by_account: HashMap<String, HashSet<u64>>,
}

/// The live app sessions.
#[derive(Debug)]
pub struct SyncHub {
    inner: Mutex<Inner>,
    next: AtomicU64,
    stuck: AtomicU64,
    config: SyncConfig,
}

/// What a new session gets.
#[derive(Debug)]
pub struct Registration {
    /// Its id.
    pub id: u64,
    /// Lines to write to the app, in order.
    pub lines: mpsc::Receiver<SyncMessage>,
    /// Fired when the session must close, and when it has ended.
    pub close: CancellationToken,
    /// Answers given so far (see [`SyncHub::expect_answer`]).
    pub settled: watch::Receiver<u64>,
}

impl SyncHub {
    /// An empty hub.
    pub fn new(config: SyncConfig) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            next: AtomicU64::new(1),
            stuck: AtomicU64::new(0),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a session from `peer` (a data connection names its main session).
    pub fn register(&self, peer: IpAddr, main: Option<u64>) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, lines) = mpsc::channel(SESSION_QUEUE);
        let close = CancellationToken::new();
        let (settled_tx, settled) = watch::channel(0);
        self.lock().sessions.insert(
            id,
            Session {
                tx,
                peer,
                account: None,
                main,
                synced: 0,
                close: close.clone(),
                expected: 0,
                settled: settled_tx,
            },
        );
        Registration {
            id,
            lines,
            close,
            settled,
        }
    }

    /// Forgets a session; work still pending for it (a login waiting to be hashed, a data
    /// port) sees its close token fire and gives up.
    pub fn remove(&self, id: u64) {
        let mut inner = self.lock();
        let removed = inner.sessions.remove(&id);
        if let Some(session) = &removed {
            session.close.cancel();
        }
        if let Some(session) = removed
            && let Some(account) = session.account
            && let Some(ids) = inner.by_account.get_mut(&account)
        {
            ids.remove(&id);
            if ids.is_empty() {
                inner.by_account.remove(&account);
            }
        }
    }

    /// Marks a main session logged in as `account`.
    pub fn set_account(&self, id: u64, account: &str) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(session) = inner.sessions.get_mut(&id) else {
            return;
        };
        if let Some(previous) = session.account.replace(account.to_owned())
            && let Some(ids) = inner.by_account.get_mut(&previous)
        {
            ids.remove(&id);
        }
        if session.main.is_none() {
            inner
                .by_account
                .entry(account.to_owned())
                .or_default()
                .insert(id);
        }
    }

    /// Forgets the account of a session (for a data connection: of its main session, which
    /// it acts for), so pushes to it stop and commands need a new login; the account's other
    /// sessions stay logged in. Returns the account that was logged in, if any.
    pub fn logout(&self, id: u64) -> Option<String> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let target = match inner.sessions.get(&id)?.main {
            Some(main) => main,
            None => id,
        };
        let account = inner.sessions.get_mut(&target)?.account.take()?;
        if let Some(ids) = inner.by_account.get_mut(&account) {
            ids.remove(&target);
            if ids.is_empty() {
                inner.by_account.remove(&account);
            }
        }
        Some(account)
    }

    /// The account a session acts for: its own login, or its main session's.
    pub fn account_of(&self, id: u64) -> Option<String> {
        let inner = self.lock();
        let session = inner.sessions.get(&id)?;
        match session.main {
            Some(main) => inner.sessions.get(&main)?.account.clone(),
            None => session.account.clone(),
        }
    }

    /// The peer address of a session.
    pub fn peer_of(&self, id: u64) -> Option<IpAddr> {
        self.lock().sessions.get(&id).map(|s| s.peer)
    }

    /// A token that fires when the session closes or has ended (`None` if it is gone).
    pub fn close_token(&self, id: u64) -> Option<CancellationToken> {
        self.lock().sessions.get(&id).map(|s| s.close.clone())
    }

    /// Called by a connection as it hands on a command it must not read past: returns the
    /// count [`Registration::settled`] reaches once the command is answered.
    pub fn expect_answer(&self, id: u64) -> u64 {
        let mut inner = self.lock();
        inner.sessions.get_mut(&id).map_or(0, |s| {
            s.expected += 1;
            s.expected
        })
    }

    /// Called once a command the connection waits for has been answered (or given up): the
    /// connection reads on. Idempotent.
    pub fn settle(&self, id: u64) {
        let inner = self.lock();
        if let Some(session) = inner.sessions.get(&id) {
            let expected = session.expected;
            session.settled.send_replace(expected);
        }
    }

    /// Counts one more uploaded camera on a session and returns the count.
    pub fn count_synced(&self, id: u64) -> u32 {
        let mut inner = self.lock();
        inner.sessions.get_mut(&id).map_or(0, |s| {
            s.synced += 1;
            s.synced
        })
    }

    /// The number of cameras uploaded on a session so far.
    pub fn synced(&self, id: u64) -> u32 {
        self.lock().sessions.get(&id).map_or(0, |s| s.synced)
    }

    /// Queues a line for a session; false (and the session closed) if it cannot take it.
    pub fn send(&self, id: u64, message: SyncMessage) -> bool {
        let inner = self.lock();
        let Some(session) = inner.sessions.get(&id) else {
            return false;
        };
        self.deliver(id, session, message)
    }

    fn deliver(&self, id: u64, session: &Session, message: SyncMessage) -> bool {
        match session.tx.try_send(message) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stuck.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    session = id,
                    "closing an app session that stopped reading (queue full)"
                );
                session.close.cancel();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Pushes `message` to every main session of every one of `accounts`; returns how many.
    pub fn push(&self, accounts: &[String], message: &SyncMessage) -> usize {
        let inner = self.lock();
        let mut sent = 0;
        for account in accounts {
            for id in inner.by_account.get(account).into_iter().flatten() {
                if let Some(session) = inner.sessions.get(id)
                    && self.deliver(*id, session, message.clone())
                {
                    sent += 1;
                }
            }
        }
        sent
    }

    /// Live sessions now.
    pub fn sessions(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Sessions closed because they stopped reading.
    pub fn stuck(&self) -> u64 {
        self.stuck.load(Ordering::Relaxed)
    }

    /// Closes every session.
    pub fn close_all(&self) {
        for session in self.lock().sessions.values() {
            session.close.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn ping() -> SyncMessage {
        SyncMessage::PrushCaramerAlarmInfo {
            camera_id: "c1".to_owned(),
            alarm_type: "x".to_owned(),
        }
    }

    #[test]
    fn a_logged_out_session_gets_no_pushes_and_acts_for_nobody() {
        let hub = SyncHub::new(SyncConfig::default());
        let leaving = hub.register(PEER, None);
        let staying = hub.register(PEER, None);
        hub.set_account(leaving.id, "alice");
        hub.set_account(staying.id, "alice");
        let accounts = ["alice".to_owned()];
        assert_eq!(hub.push(&accounts, &ping()), 2);

        assert_eq!(hub.logout(leaving.id).as_deref(), Some("alice"));
        assert_eq!(hub.logout(leaving.id), None, "already logged out");
        assert_eq!(hub.account_of(leaving.id), None);
        assert_eq!(hub.push(&accounts, &ping()), 1);
    }

    #[test]
    fn logout_on_a_data_connection_logs_out_its_main_session() {
        let hub = SyncHub::new(SyncConfig::default());
        let main = hub.register(PEER, None);
        hub.set_account(main.id, "alice");
        let data = hub.register(PEER, Some(main.id));
        assert_eq!(hub.account_of(data.id).as_deref(), Some("alice"));
        assert_eq!(hub.logout(data.id).as_deref(), Some("alice"));
        assert_eq!(hub.account_of(main.id), None);
        assert_eq!(hub.account_of(data.id), None);
        assert_eq!(hub.push(&["alice".to_owned()], &ping()), 0);
    }
}
