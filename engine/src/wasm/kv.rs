//! The plugins' key-value store: named namespaces held by the host, so they outlive
//! instances, plugin reloads and pipeline reloads. Every namespace is bounded by a quota
//! (bytes of keys and values, and entries); entries may expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Longest key accepted.
pub const MAX_KEY: usize = 1024;
/// Largest value accepted.
pub const MAX_VALUE: usize = 64 * 1024;
/// Bytes counted per entry on top of its key and value (bookkeeping).
const ENTRY_OVERHEAD: usize = 32;

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KvRefusal {
    /// The namespace would exceed its quota.
    #[error("the key-value quota is exhausted")]
    QuotaExceeded,
    /// The key or the value is larger than accepted.
    #[error("key longer than {MAX_KEY} bytes or value larger than {MAX_VALUE} bytes")]
    TooLarge,
}

/// A namespace's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Most bytes of keys and values (plus a small per-entry overhead).
    pub bytes: usize,
    /// Most entries.
    pub entries: usize,
}

/// Every namespace of one host.
#[derive(Debug, Default)]
pub struct KvStore {
    spaces: Mutex<HashMap<String, Arc<KvSpace>>>,
}

impl KvStore {
    /// The namespace `name`, created if new; its quota becomes `quota` (the latest stage to
    /// name it sets it).
    pub fn space(&self, name: &str, quota: Quota) -> Arc<KvSpace> {
        let mut spaces = self.spaces.lock().unwrap_or_else(PoisonError::into_inner);
        let space = spaces
            .entry(name.to_owned())
            .or_insert_with(|| {
                Arc::new(KvSpace {
                    name: name.to_owned(),
                    inner: Mutex::new(Inner {
                        map: HashMap::new(),
                        bytes: 0,
                        quota,
                        last_sweep: None,
                    }),
                })
            })
            .clone();
        space.lock().quota = quota;
        space
    }

    /// Names of the namespaces that exist.
    pub fn names(&self) -> Vec<String> {
        let spaces = self.spaces.lock().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = spaces.keys().cloned().collect();
        names.sort();
        names
    }
}

/// One namespace.
#[derive(Debug)]
pub struct KvSpace {
    name: String,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    map: HashMap<String, Entry>,
    bytes: usize,
    quota: Quota,
    last_sweep: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

/// What a key held before a call wrote it: put back by [`KvSpace::undo`] when the call's
/// writes must not count (a `process-batch` call that trapped, whose events run again one at
/// a time).
#[derive(Debug)]
pub struct Before {
    key: String,
    entry: Option<Entry>,
}

fn cost(key: &str, value: &[u8]) -> usize {
    key.len() + value.len() + ENTRY_OVERHEAD
}

impl Inner {
    fn remove(&mut self, key: &str) -> bool {
        match self.map.remove(key) {
            Some(old) => {
                self.bytes -= cost(key, &old.value);
                true
            }
            None => false,
        }
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .map
            .iter()
            .filter(|(_, e)| e.expires.is_some_and(|at| at <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
        self.last_sweep = Some(now);
    }

    fn fits(&self, extra_bytes: usize, extra_entries: usize) -> bool {
        self.bytes + extra_bytes <= self.quota.bytes
            && self.map.len() + extra_entries <= self.quota.entries
    }
}

impl KvSpace {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value under `key`, unless absent or expired.
    pub fn get(&self, key: &str, now: Instant) -> Option<Vec<u8>> {
        let mut inner = self.lock();
        match inner.map.get(key) {
            Some(entry) if entry.expires.is_some_and(|at| at <= now) => {
                inner.remove(key);
                None
            }
            Some(entry) => Some(entry.value.clone()),
            None => None,
        }
    }

    /// Stores `value` under `key`, expiring after `ttl` if given.
    pub fn set(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        now: Instant,
    ) -> Result<(), KvRefusal> {
        if key.len() > MAX_KEY || value.len() > MAX_VALUE {
            return Err(KvRefusal::TooLarge);
        }
        let mut inner = self.lock();
        let new_cost = cost(key, &value);
        let (old_cost, new_entry) = match inner.map.get(key) {
            Some(old) => (cost(key, &old.value), 0),
            None => (0, 1),
        };
        let grow = new_cost.saturating_sub(old_cost);
        if !inner.fits(grow, new_entry) {
            // Expired entries still count until swept; sweep at most every 100 ms so a full
            // namespace of live entries does not cost a scan per refused write.
            let due = inner
                .last_sweep
                .is_none_or(|at| now.duration_since(at) >= Duration::from_millis(100));
            if due {
                inner.sweep(now);
            }
            let (old_cost, new_entry) = match inner.map.get(key) {
                Some(old) => (cost(key, &old.value), 0),
                None => (0, 1),
            };
            if !inner.fits(new_cost.saturating_sub(old_cost), new_entry) {
                return Err(KvRefusal::QuotaExceeded);
            }
        }
        inner.remove(key);
        inner.bytes += new_cost;
        let expires = ttl.map(|ttl| now + ttl);
        inner.map.insert(key.to_owned(), Entry { value, expires });
        Ok(())
    }

    /// Removes `key`; true if it was there (and not expired).
    pub fn delete(&self, key: &str, now: Instant) -> bool {
        let mut inner = self.lock();
        let live = inner
            .map
            .get(key)
            .is_some_and(|e| e.expires.is_none_or(|at| at > now));
        inner.remove(key);
        live
    }

    /// What `key` holds now, to put back with [`Self::undo`].
    pub fn before(&self, key: &str) -> Before {
        Before {
            key: key.to_owned(),
            entry: self.lock().map.get(key).cloned(),
        }
    }

    /// Puts back what the keys held, latest first (so a key journalled twice ends as it was
    /// first, if it was journalled twice). A value put back counts against the quota as it did before.
    pub fn undo(&self, journal: Vec<Before>) {
        let mut inner = self.lock();
        for before in journal.into_iter().rev() {
            inner.remove(&before.key);
            if let Some(entry) = before.entry {
                inner.bytes += cost(&before.key, &entry.value);
                inner.map.insert(before.key, entry);
            }
        }
    }

    /// Entries and bytes held now (expired entries not yet swept included).
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(bytes: usize, entries: usize) -> Arc<KvSpace> {
        KvStore::default().space("t", Quota { bytes, entries })
    }

    #[test]
    fn values_round_trip_and_expire() {
        let kv = space(10_000, 100);
        let now = Instant::now();
        kv.set("a", b"1".to_vec(), None, now).expect("fits");
        kv.set("b", b"2".to_vec(), Some(Duration::from_secs(1)), now)
            .expect("fits");
        assert_eq!(kv.get("a", now), Some(b"1".to_vec()));
        assert_eq!(kv.get("b", now), Some(b"2".to_vec()));
        assert_eq!(kv.get("b", now + Duration::from_secs(2)), None);
        assert!(kv.delete("a", now));
        assert!(!kv.delete("a", now));
        assert_eq!(kv.usage(), (0, 0));
    }

    #[test]
    fn the_quota_refuses_writes_until_entries_expire() {
        let kv = space(3 * (ENTRY_OVERHEAD + 2), 100);
        let now = Instant::now();
        for key in ["a", "b", "c"] {
            kv.set(key, b"x".to_vec(), Some(Duration::from_secs(1)), now)
                .expect("fits");
        }
        assert_eq!(
            kv.set("d", b"x".to_vec(), None, now),
            Err(KvRefusal::QuotaExceeded)
        );
        // Rewriting an existing key at the same size still fits.
        kv.set("a", b"y".to_vec(), None, now).expect("same size");
        let later = now + Duration::from_secs(2);
        kv.set("d", b"x".to_vec(), None, later)
            .expect("expired entries were swept");
        assert_eq!(kv.usage().0, 2);
    }

    #[test]
    fn the_entry_limit_and_sizes_are_enforced() {
        let kv = space(1 << 20, 2);
        let now = Instant::now();
        kv.set("a", vec![], None, now).expect("fits");
        kv.set("b", vec![], None, now).expect("fits");
        assert_eq!(
            kv.set("c", vec![], None, now),
            Err(KvRefusal::QuotaExceeded)
        );
        assert_eq!(
            kv.set("a", vec![0; MAX_VALUE + 1], None, now),
            Err(KvRefusal::TooLarge)
        );
        assert_eq!(
            kv.set(&"k".repeat(MAX_KEY + 1), vec![], None, now),
            Err(KvRefusal::TooLarge)
        );
    }

    #[test]
    fn undo_puts_back_what_each_key_held_and_its_cost() {
        let kv = space(1024, 10);
        let now = Instant::now();
        kv.set("kept", b"1".to_vec(), None, now).expect("fits");
        let mut journal = vec![kv.before("kept"), kv.before("new")];
        kv.set("kept", b"22".to_vec(), None, now).expect("fits");
        kv.set("new", b"3".to_vec(), None, now).expect("fits");
        journal.push(kv.before("kept"));
        assert!(kv.delete("kept", now));
        kv.undo(journal);
        assert_eq!(kv.get("kept", now), Some(b"1".to_vec()));
        assert_eq!(kv.get("new", now), None);
        assert_eq!(kv.usage(), (1, cost("kept", b"1")));
    }

    #[test]
    fn a_namespace_is_shared_by_name_and_keeps_its_data() {
        let store = KvStore::default();
        let quota = Quota {
            bytes: 1000,
            entries: 10,
        };
        let now = Instant::now();
        store
            .space("p", quota)
            .set("k", b"v".to_vec(), None, now)
            .expect("fits");
        assert_eq!(store.space("p", quota).get("k", now), Some(b"v".to_vec()));
        assert_eq!(store.space("q", quota).get("k", now), None);
        assert_eq!(store.names(), ["p", "q"]);
    }
}
