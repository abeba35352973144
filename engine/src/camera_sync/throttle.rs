//! Failure ledgers of the camera-sync guard: how many wrong passwords came from one source
//! address or hit one account name, and how long that costs (exponential backoff). Pure state,
//! no async and no clock of its own: every call takes `now`, so tests need no waiting.
//!
//! A ledger holds at most its capacity of records. Failures are forgotten `forget` after the
//! backoff they caused has run out; when the ledger is full, forgotten records go first, then
//! the one touched longest ago (a record with attempts in flight is never dropped).

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sources remembered as having logged in to one account name (its "usual addresses").
const TRUSTED_PER_NAME: usize = 4;
/// How long a successful login keeps its source trusted for that name.
const TRUST_KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

/// How failures turn into waits: the `free`-th failure costs `first`, each further one doubles
/// it, up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The failure count at which waiting starts (failures before it cost nothing).
    pub free: u32,
    /// The wait at that count.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait after `failures` failures.
    pub fn after(&self, failures: u32) -> Duration {
        if failures < self.free.max(1) {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free.max(1)).min(31);
        self.first.saturating_mul(1_u32 << doublings).min(self.max)
    }
}

/// Where an attempt comes from: an IPv4 address, or the /64 network of an IPv6 address (one
/// subscriber usually holds a whole /64, so single IPv6 addresses would cost an attacker
/// nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// An IPv4 address (IPv4-mapped IPv6 included).
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl From<IpAddr> for Source {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source::V4(u32::from(v4)),
            IpAddr::V6(v6) => Source::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Source::V4(v4) => write!(f, "{}", std::net::Ipv4Addr::from(v4)),
            Source::V6(prefix) => {
                let net = std::net::Ipv6Addr::from(u128::from(prefix) << 64);
                write!(f, "{net}/64")
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Record {
    failures: u32,
    last_failure: Option<Instant>,
    last_touch: Instant,
    in_flight: u32,
    trusted: Vec<(Source, Instant)>,
}

impl Record {
    fn new(now: Instant) -> Self {
        Self {
            failures: 0,
            last_failure: None,
            last_touch: now,
            in_flight: 0,
            trusted: Vec::new(),
        }
    }
}

/// Failures per key (a source or an account name), with the backoff they cost.
#[derive(Debug)]
pub struct Ledger<K> {
    records: HashMap<K, Record>,
    backoff: Backoff,
    forget: Duration,
    capacity: usize,
}

impl<K: Copy + Eq + Hash> Ledger<K> {
    /// An empty ledger holding at most `capacity` keys.
    pub fn new(backoff: Backoff, forget: Duration, capacity: usize) -> Self {
        Self {
            records: HashMap::new(),
            backoff,
            forget,
            capacity: capacity.max(1),
        }
    }

    /// Failures of `key` still remembered at `now`.
    pub fn failures(&self, key: K, now: Instant) -> u32 {
        self.records
            .get(&key)
            .map_or(0, |record| self.remembered(record, now))
    }

    /// How long `key` must still wait at `now` (zero when it may go ahead).
    pub fn wait(&self, key: K, now: Instant) -> Duration {
        let Some(record) = self.records.get(&key) else {
            return Duration::ZERO;
        };
        let (failures, Some(last)) = (self.remembered(record, now), record.last_failure) else {
            return Duration::ZERO;
        };
        (last + self.backoff.after(failures)).saturating_duration_since(now)
    }

    /// Counts one more failure of `key`; returns the count.
    pub fn fail(&mut self, key: K, now: Instant) -> u32 {
        let remembered = self.failures(key, now);
        let record = self.entry(key, now);
        record.failures = remembered.saturating_add(1);
        record.last_failure = Some(now);
        record.failures
    }

    /// Marks an attempt of `key` in flight; returns how many were in flight before it.
    pub fn begin(&mut self, key: K, now: Instant) -> u32 {
        let record = self.entry(key, now);
        record.in_flight += 1;
        record.in_flight - 1
    }

    /// Ends an attempt begun with [`Ledger::begin`].
    pub fn end(&mut self, key: K) {
        if let Some(record) = self.records.get_mut(&key) {
            record.in_flight = record.in_flight.saturating_sub(1);
        }
    }

    /// Remembers that `source` logged in as `key` (the account's usual address).
    pub fn trust(&mut self, key: K, source: Source, now: Instant) {
        let record = self.entry(key, now);
        record.trusted.retain(|(known, _)| *known != source);
        if record.trusted.len() >= TRUSTED_PER_NAME {
            record.trusted.remove(0);
        }
        record.trusted.push((source, now));
    }

    /// Whether `source` logged in as `key` within the trust period.
    pub fn trusts(&self, key: K, source: Source, now: Instant) -> bool {
        self.records.get(&key).is_some_and(|record| {
            record.trusted.iter().any(|(known, at)| {
                *known == source && now.saturating_duration_since(*at) < TRUST_KEEP
            })
        })
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the ledger holds nothing.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The failure count, or zero once the backoff it caused ran out `forget` ago.
    fn remembered(&self, record: &Record, now: Instant) -> u32 {
        match record.last_failure {
            Some(last) if now < last + self.backoff.after(record.failures) + self.forget => {
                record.failures
            }
            _ => 0,
        }
    }

    fn expired(&self, record: &Record, now: Instant) -> bool {
        record.in_flight == 0
            && self.remembered(record, now) == 0
            && record
                .trusted
                .iter()
                .all(|(_, at)| now.saturating_duration_since(*at) >= TRUST_KEEP)
    }

    fn entry(&mut self, key: K, now: Instant) -> &mut Record {
        if !self.records.contains_key(&key) && self.records.len() >= self.capacity {
            self.make_room(now);
        }
        let record = self.records.entry(key).or_insert_with(|| Record::new(now));
        record.last_touch = now;
        record
    }

    fn make_room(&mut self, now: Instant) {
        let expired: Vec<K> = self
            .records
            .iter()
            .filter(|(_, record)| self.expired(record, now))
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            self.records.remove(&key);
        }
        if self.records.len() < self.capacity {
            return;
        }
        let oldest = self
            .records
            .iter()
            .filter(|(_, record)| record.in_flight == 0)
            .min_by_key(|(_, record)| record.last_touch)
            .map(|(key, _)| *key);
        if let Some(key) = oldest {
            self.records.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn backoff() -> Backoff {
        Backoff {
            free: 3,
            first: SECOND,
            max: 10 * SECOND,
        }
    }

    fn ledger() -> Ledger<Source> {
        Ledger::new(backoff(), 60 * SECOND, 100)
    }

    fn source(last: u8) -> Source {
        Source::from(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn waits_start_at_the_free_count_double_and_stop_at_the_cap() {
        let b = backoff();
        let waits: Vec<u64> = (0..10).map(|n| b.after(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 1, 2, 4, 8, 10, 10, 10]);
        assert_eq!(b.after(u32::MAX), 10 * SECOND, "no overflow");
    }

    #[test]
    fn a_source_waits_after_repeated_failures_and_may_go_again_when_the_wait_ran_out() {
        let mut l = ledger();
        let t0 = Instant::now();
        for _ in 0..2 {
            l.fail(source(1), t0);
        }
        assert_eq!(l.wait(source(1), t0), Duration::ZERO, "two are free");
        l.fail(source(1), t0);
        assert_eq!(l.wait(source(1), t0), SECOND);
        assert_eq!(l.wait(source(1), t0 + SECOND / 2), SECOND / 2);
        assert_eq!(l.wait(source(1), t0 + SECOND), Duration::ZERO);
        l.fail(source(1), t0 + SECOND);
        assert_eq!(l.wait(source(1), t0 + SECOND), 2 * SECOND);
        assert_eq!(
            l.wait(source(2), t0),
            Duration::ZERO,
            "other sources are not affected"
        );
    }

    #[test]
    fn failures_are_forgotten_after_the_backoff_and_the_forget_period() {
        let mut l = ledger();
        let t0 = Instant::now();
        for _ in 0..3 {
            l.fail(source(1), t0);
        }
        assert_eq!(
            l.failures(source(1), t0 + 60 * SECOND),
            3,
            "1 s wait + 60 s"
        );
        assert_eq!(l.failures(source(1), t0 + 61 * SECOND), 0);
        assert_eq!(l.fail(source(1), t0 + 61 * SECOND), 1, "a fresh count");
    }

    #[test]
    fn ipv6_sources_are_their_64_bit_network() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(Source::from(a), Source::from(b));
        assert_ne!(Source::from(a), Source::from(c));
        assert_eq!(Source::from(a).to_string(), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(Source::from(mapped), source(7));
    }

    #[test]
    fn trust_is_per_name_and_keeps_the_latest_few_sources() {
        let mut l: Ledger<u64> = Ledger::new(backoff(), 60 * SECOND, 100);
        let t0 = Instant::now();
        l.trust(7, source(1), t0);
        assert!(l.trusts(7, source(1), t0));
        assert!(!l.trusts(8, source(1), t0));
        for last in 2..=5 {
            l.trust(7, source(last), t0);
        }
        assert!(!l.trusts(7, source(1), t0), "the oldest of five went");
        assert!(l.trusts(7, source(5), t0));
        assert!(!l.trusts(7, source(5), t0 + TRUST_KEEP));
    }

    #[test]
    fn a_full_ledger_drops_forgotten_then_oldest_records_but_never_one_in_flight() {
        let mut l: Ledger<Source> = Ledger::new(backoff(), 10 * SECOND, 3);
        let t0 = Instant::now();
        let later = t0 + 10 * SECOND + SECOND / 2;
        l.begin(source(1), t0);
        l.fail(source(2), t0);
        l.fail(source(3), t0 + SECOND);
        l.fail(source(4), later);
        assert_eq!(l.len(), 3);
        assert!(!l.records.contains_key(&source(2)), "forgotten goes first");
        l.fail(source(5), later);
        assert_eq!(l.len(), 3);
        assert!(l.records.contains_key(&source(1)), "in flight stays");
        assert!(!l.records.contains_key(&source(3)), "then the oldest");
        l.end(source(1));
        assert_eq!(l.begin(source(1), t0), 0);
    }
}
