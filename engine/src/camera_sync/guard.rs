//! The camera-sync guard: what a stranger may cost the server and learn from it.
//!
//! - **Logins** ([`Guard::login`]). A source address in backoff after repeated wrong passwords
//!   is refused at once, without hashing (checked again when a queued attempt gets its hash
//!   slot, so twenty sockets of one address do not all slip in). An account name that many wrong passwords hit is
//!   delayed (up to `account_delay_max`) for every source that has not logged in to it before,
//!   so a stranger slows an account down but cannot lock its owner out. Then the attempt waits
//!   for one of the [`HashSlots`] (one per hashing thread; sources with recent failures queue
//!   behind the others), and a connection that closes while waiting gives its place up: no hash
//!   is computed for a socket that is gone. Unknown names are counted, delayed and hashed
//!   exactly like known ones (against a dummy hash in the store), and answered with the same
//!   text, so neither the answer nor its timing tells whether a name exists.
//! - **Camera passwords** ([`Guard::camera_allowed`], [`Guard::camera_failed`]). Wrong camera
//!   passwords in `UploadCaramer` / `ChangeCaramerPassword` are counted per account and per
//!   source; once either is in backoff, further checks are refused without looking at the
//!   password, so the upload is no longer a password oracle.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::hash_slots::{Class, HashSlots};
use super::hub::SyncConfig;
use super::throttle::{Backoff, Ledger, Source};
use crate::secret::Secret;
use crate::store::{LoginCheck, Store, StoreError};

/// Keys each ledger holds at most (a few MiB in all).
const LEDGER_CAPACITY: usize = 65_536;
/// Attempts one source may have queued for hashing in the `first` queue; more wait in `later`.
pub const FAST_PER_SOURCE: u32 = 2;

/// What became of a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The password was checked.
    Checked(LoginCheck),
    /// Refused without a check: the source is in backoff.
    Refused,
    /// Given up without a check: the connection closed while it waited.
    Cancelled,
}

/// Counters of the guard, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Login attempts whose password was hashed.
    pub hashed: u64,
    /// Login attempts given up because their connection closed first.
    pub cancelled: u64,
    /// Login attempts refused because their source was in backoff.
    pub refused: u64,
    /// Login attempts held back because their account name was under attack.
    pub delayed: u64,
    /// Camera-password checks refused because the account or source was in backoff.
    pub camera_refused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hashed: AtomicU64,
    cancelled: AtomicU64,
    refused: AtomicU64,
    delayed: AtomicU64,
    camera_refused: AtomicU64,
}

#[derive(Debug)]
struct Ledgers {
    login_sources: Ledger<Source>,
    login_names: Ledger<u64>,
    camera_sources: Ledger<Source>,
    camera_accounts: Ledger<u64>,
}

/// The guard of one sync server.
#[derive(Debug)]
pub struct Guard {
    ledgers: Mutex<Ledgers>,
    slots: Arc<HashSlots>,
    names: std::collections::hash_map::RandomState,
    counters: Counters,
}

impl Guard {
    /// A guard with the config's limits and one hash slot per hashing thread.
    pub fn new(config: &SyncConfig) -> Self {
        Self::with_slots(config, crate::store::hashing_slots())
    }

    /// A guard with `slots` hash slots.
    pub fn with_slots(config: &SyncConfig, slots: usize) -> Self {
        let source = Backoff {
            free: config.max_failures,
            first: config.backoff,
            max: config.lock_for,
        };
        let name = Backoff {
            max: config.account_delay_max,
            ..source
        };
        let forget = config.lock_for;
        Self {
            ledgers: Mutex::new(Ledgers {
                login_sources: Ledger::new(source, forget, LEDGER_CAPACITY),
                login_names: Ledger::new(name, forget, LEDGER_CAPACITY),
                camera_sources: Ledger::new(source, forget, LEDGER_CAPACITY),
                camera_accounts: Ledger::new(source, forget, LEDGER_CAPACITY),
            }),
            slots: HashSlots::new(slots),
            names: std::collections::hash_map::RandomState::new(),
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledgers> {
        self.ledgers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A name as a ledger key: a keyed hash, so a 64 KiB "name" costs 8 bytes and nothing
    /// tells a stored name from another.
    fn name_key(&self, name: &str) -> u64 {
        self.names.hash_one(name)
    }

    /// The hash slots (their size is the cap on concurrent login hashes).
    pub fn slots(&self) -> &Arc<HashSlots> {
        &self.slots
    }

    /// Checks a login of `user` from `peer`, giving up when `gone` fires before the hash has
    /// started. A started hash always completes and is counted, even if the connection closes
    /// meanwhile (else closing would be a way to guess without being counted).
    pub async fn login(
        &self,
        store: &Store,
        gone: &CancellationToken,
        peer: IpAddr,
        user: &str,
        password: &Secret,
        now_ms: i64,
    ) -> Result<Attempt, StoreError> {
        let source = Source::from(peer);
        let name = self.name_key(user);
        let (delay, class) = {
            let mut ledgers = self.lock();
            let now = Instant::now();
            let wait = ledgers.login_sources.wait(source, now);
            if !wait.is_zero() {
                self.counters.refused.fetch_add(1, Ordering::Relaxed);
                tracing::info!(%source, ?wait, "refusing an app login: its address is in backoff");
                return Ok(Attempt::Refused);
            }
            let delay = if ledgers.login_names.trusts(name, source, now) {
                Duration::ZERO
            } else {
                ledgers.login_names.wait(name, now)
            };
            let clean = ledgers.login_sources.failures(source, now) == 0;
            let before = ledgers.login_sources.begin(source, now);
            let class = if clean && before < FAST_PER_SOURCE {
                Class::First
            } else {
                Class::Later
            };
            (delay, class)
        };
        let _in_flight = InFlight {
            guard: self,
            source,
        };
        if gone.is_cancelled() {
            return Ok(self.cancelled());
        }
        if !delay.is_zero() {
            self.counters.delayed.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                () = gone.cancelled() => return Ok(self.cancelled()),
                () = tokio::time::sleep(delay) => {}
            }
        }
        let slot = tokio::select! {
            biased;
            () = gone.cancelled() => return Ok(self.cancelled()),
            slot = self.slots.acquire(class) => slot,
        };
        // Its address may have run into backoff while this attempt waited (its other sockets'
        // attempts failed meanwhile): then it is refused now, still without a hash.
        if !self
            .lock()
            .login_sources
            .wait(source, Instant::now())
            .is_zero()
        {
            drop(slot);
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Ok(Attempt::Refused);
        }
        self.counters.hashed.fetch_add(1, Ordering::Relaxed);
        let checked = store
            .check_login(user, password, &peer.to_string(), now_ms)
            .await;
        drop(slot);
        let now = Instant::now();
        match &checked {
            Ok(LoginCheck::Ok { .. }) => self.lock().login_names.trust(name, source, now),
            Ok(LoginCheck::Wrong | LoginCheck::Unknown) => {
                let mut ledgers = self.lock();
                let from_source = ledgers.login_sources.fail(source, now);
                let on_name = ledgers.login_names.fail(name, now);
                tracing::debug!(%source, from_source, on_name, "wrong app login");
            }
            Err(_) => {}
        }
        checked.map(Attempt::Checked)
    }

    fn cancelled(&self) -> Attempt {
        self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
        Attempt::Cancelled
    }

    /// Whether `account` on a connection from `peer` may have a camera password checked now;
    /// false (and counted) while either is in backoff.
    pub fn camera_allowed(&self, account: &str, peer: IpAddr) -> bool {
        let ledgers = self.lock();
        let now = Instant::now();
        let allowed = ledgers
            .camera_accounts
            .wait(self.name_key(account), now)
            .is_zero()
            && ledgers
                .camera_sources
                .wait(Source::from(peer), now)
                .is_zero();
        if !allowed {
            self.counters.camera_refused.fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    /// Counts a wrong camera password of `account` from `peer`.
    pub fn camera_failed(&self, account: &str, peer: IpAddr) {
        let mut ledgers = self.lock();
        let now = Instant::now();
        let key = self.name_key(account);
        let on_account = ledgers.camera_accounts.fail(key, now);
        let from_source = ledgers.camera_sources.fail(Source::from(peer), now);
        tracing::info!(%account, %peer, on_account, from_source, "wrong camera password from an app");
    }

    /// The counters now.
    pub fn stats(&self) -> GuardStats {
        let c = &self.counters;
        GuardStats {
            hashed: c.hashed.load(Ordering::Relaxed),
            cancelled: c.cancelled.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
            camera_refused: c.camera_refused.load(Ordering::Relaxed),
        }
    }
}

/// Ends a source's in-flight attempt however the attempt ends.
struct InFlight<'a> {
    guard: &'a Guard,
    source: Source,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.guard.lock().login_sources.end(self.source);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in its own temporary data directory.
    struct TestStore {
        store: Store,
        _dir: tempfile::TempDir,
    }

    impl TestStore {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path()).expect("store opens");
            Self { store, _dir: dir }
        }
    }

    fn config() -> SyncConfig {
        SyncConfig {
            max_failures: 2,
            backoff: Duration::from_secs(60),
            lock_for: Duration::from_secs(600),
            account_delay_max: Duration::from_millis(200),
            ..SyncConfig::default()
        }
    }

    const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1));
    const OWNER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 1));

    async fn attempt(guard: &Guard, t: &TestStore, from: IpAddr, user: &str, pw: &str) -> Attempt {
        guard
            .login(
                &t.store,
                &CancellationToken::new(),
                from,
                user,
                &Secret::new(pw),
                0,
            )
            .await
            .expect("checked")
    }

    #[tokio::test]
    async fn a_stranger_slows_only_itself_and_delays_but_never_refuses_the_owner() {
        let t = TestStore::new();
        t.store
            .add_account("alice", &Secret::new("secret"))
            .await
            .expect("added");
        let guard = Guard::with_slots(&config(), 2);
        assert!(matches!(
            attempt(&guard, &t, OWNER, "alice", "secret").await,
            Attempt::Checked(LoginCheck::Ok { .. })
        ));
        for _ in 0..2 {
            assert_eq!(
                attempt(&guard, &t, STRANGER, "alice", "guess").await,
                Attempt::Checked(LoginCheck::Wrong)
            );
        }
        assert_eq!(
            attempt(&guard, &t, STRANGER, "alice", "secret").await,
            Attempt::Refused,
            "the stranger's address is in backoff, even with the right password"
        );
        // The owner's usual address is not delayed; another address is, but gets in.
        let started = Instant::now();
        assert!(matches!(
            attempt(&guard, &t, OWNER, "alice", "secret").await,
            Attempt::Checked(LoginCheck::Ok { .. })
        ));
        assert_eq!(guard.stats().delayed, 0);
        assert!(matches!(
            attempt(&guard, &t, ELSEWHERE, "alice", "secret").await,
            Attempt::Checked(LoginCheck::Ok { .. })
        ));
        assert_eq!(guard.stats().delayed, 1);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn unknown_names_are_counted_and_delayed_like_known_ones() {
        let t = TestStore::new();
        t.store
            .add_account("alice", &Secret::new("secret"))
            .await
            .expect("added");
        // A name's delay runs from its last failure: long enough that the two hashes of the
        // other name in between (slow on a loaded machine) cannot use it up.
        let config = SyncConfig {
            account_delay_max: Duration::from_secs(3),
            ..config()
        };
        let guard = Guard::with_slots(&config, 2);
        let sources = [[198, 51, 100, 1], [198, 51, 100, 2], [198, 51, 100, 3]];
        for name in ["alice", "nobody"] {
            for from in &sources[..2] {
                assert!(matches!(
                    attempt(&guard, &t, IpAddr::from(*from), name, "guess").await,
                    Attempt::Checked(LoginCheck::Wrong | LoginCheck::Unknown)
                ));
            }
        }
        assert_eq!(guard.stats().delayed, 0, "two failures are free");
        // Both at once, so both find their name's last failure equally recent.
        let third = IpAddr::from(sources[2]);
        tokio::join!(
            attempt(&guard, &t, third, "alice", "guess"),
            attempt(&guard, &t, third, "nobody", "guess"),
        );
        assert_eq!(guard.stats().delayed, 2, "both names are held back alike");
        assert_eq!(guard.stats().hashed, 6, "and both are hashed");
    }

    #[tokio::test]
    async fn an_attempt_whose_connection_closed_is_not_hashed() {
        let t = TestStore::new();
        let guard = Guard::with_slots(&config(), 1);
        let held = guard.slots().acquire(Class::First).await;
        let gone = CancellationToken::new();
        let password = Secret::new("x");
        let waiting = guard.login(&t.store, &gone, STRANGER, "alice", &password, 0);
        let closer = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            gone.cancel();
        };
        let (attempt, ()) = tokio::join!(waiting, closer);
        assert_eq!(attempt.expect("no error"), Attempt::Cancelled);
        drop(held);
        assert_eq!(guard.stats().hashed, 0);
        assert_eq!(guard.stats().cancelled, 1);
        assert_eq!(guard.slots().free(), 1);
    }

    #[test]
    fn wrong_camera_passwords_put_the_account_and_the_source_in_backoff() {
        let guard = Guard::with_slots(&config(), 1);
        assert!(guard.camera_allowed("alice", STRANGER));
        guard.camera_failed("alice", STRANGER);
        assert!(guard.camera_allowed("alice", STRANGER), "one is free");
        guard.camera_failed("alice", STRANGER);
        assert!(!guard.camera_allowed("alice", ELSEWHERE), "the account");
        assert!(!guard.camera_allowed("bob", STRANGER), "the source");
        assert!(guard.camera_allowed("bob", ELSEWHERE));
        assert_eq!(guard.stats().camera_refused, 2);
    }
}
