//! The in-memory host that [`log`](crate::log), [`clock`](crate::clock) and [`kv`](crate::kv)
//! use off `wasm32`, so plugin logic runs under `cargo test`. Each thread has one; a
//! [`Harness`](crate::testing::Harness) puts its own in place while it calls the plugin, so
//! two harnesses never share a store.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::kv::{self, MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::testing::{KvQuota, LogLine};

/// Bytes the host counts per entry on top of its key and value.
const ENTRY_OVERHEAD: usize = 32;

/// 2026-01-01T00:00:00Z: a fixed start, so tests are repeatable.
pub(crate) const START_MS: i64 = 1_767_225_600_000;

/// One stored value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) value: Vec<u8>,
    /// Wall-clock expiry, Unix milliseconds; gone from this instant on.
    pub(crate) expires_at_ms: Option<i64>,
}

/// What the host keeps for a plugin: clock, KV store, log lines.
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) now_ms: i64,
    pub(crate) monotonic_ns: u64,
    pub(crate) kv: BTreeMap<String, Entry>,
    pub(crate) quota: KvQuota,
    pub(crate) logs: Vec<LogLine>,
}

impl Default for Host {
    fn default() -> Self {
        Self {
            now_ms: START_MS,
            monotonic_ns: 0,
            kv: BTreeMap::new(),
            quota: KvQuota::default(),
            logs: Vec::new(),
        }
    }
}

impl Host {
    pub(crate) fn kv_get(&mut self, key: &str) -> Option<Vec<u8>> {
        self.sweep();
        self.kv.get(key).map(|entry| entry.value.clone())
    }

    pub(crate) fn kv_set(
        &mut self,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), kv::Error> {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return Err(kv::Error::TooLarge);
        }
        self.sweep();
        let cost = |value_len: usize| key.len() + value_len + ENTRY_OVERHEAD;
        let replaced = self.kv.get(key).map(|entry| cost(entry.value.len()));
        let entries = self.kv.len() + usize::from(replaced.is_none());
        let bytes = self.kv_bytes() - replaced.unwrap_or(0) + cost(value.len());
        if self.quota.max_entries.is_some_and(|max| entries > max)
            || self.quota.max_bytes.is_some_and(|max| bytes > max)
        {
            return Err(kv::Error::QuotaExceeded);
        }
        let expires_at_ms = ttl_ms.map(|ttl| {
            self.now_ms
                .saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX))
        });
        self.kv.insert(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires_at_ms,
            },
        );
        Ok(())
    }

    pub(crate) fn kv_delete(&mut self, key: &str) -> bool {
        self.sweep();
        self.kv.remove(key).is_some()
    }

    /// Bytes of keys and values plus the host's per-entry bookkeeping: what a byte quota
    /// counts.
    pub(crate) fn kv_bytes(&self) -> usize {
        self.kv
            .iter()
            .map(|(key, entry)| key.len() + entry.value.len() + ENTRY_OVERHEAD)
            .sum()
    }

    /// Forgets expired entries, so they neither read back nor count against the quota.
    pub(crate) fn sweep(&mut self) {
        let now = self.now_ms;
        self.kv
            .retain(|_, entry| entry.expires_at_ms.is_none_or(|at| now < at));
    }
}

thread_local! {
    static CURRENT: RefCell<Rc<RefCell<Host>>> = RefCell::new(Rc::default());
}

/// Runs `f` on the thread's current host.
pub(crate) fn with<R>(f: impl FnOnce(&mut Host) -> R) -> R {
    let host = CURRENT.with(|current| Rc::clone(&current.borrow()));
    let mut host = host.borrow_mut();
    f(&mut host)
}

/// Makes `host` the thread's current host until the guard drops.
pub(crate) fn install(host: &Rc<RefCell<Host>>) -> Installed {
    let previous = CURRENT.with(|current| current.replace(Rc::clone(host)));
    Installed { previous }
}

/// Puts the previous host back when dropped.
#[derive(Debug)]
pub(crate) struct Installed {
    previous: Rc<RefCell<Host>>,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let previous = Rc::clone(&self.previous);
        CURRENT.with(|current| current.replace(previous));
    }
}
