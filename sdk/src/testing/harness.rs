//! [`Harness`]: a plugin instance with its own in-memory host (clock, KV store, log), driven
//! like the host drives a component.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::log::Level;
use crate::native::{self, Host};
use crate::{Decision, Event, MAX_EMIT, Plugin, kv, parse_config};

/// One line a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its severity.
    pub level: Level,
    /// Its message.
    pub message: String,
    /// Its key/value fields, in the order given.
    pub fields: Vec<(String, String)>,
}

impl LogLine {
    /// The value of field `key`, if the line has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// A KV quota like a stage's `limits: { kv, kv_entries }`: writes that would go past it are
/// refused with [`kv::Error::QuotaExceeded`]. `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvQuota {
    /// Most bytes: keys and values together, plus 32 bytes of bookkeeping per entry, as the
    /// host counts them.
    pub max_bytes: Option<usize>,
    /// Most entries.
    pub max_entries: Option<usize>,
}

/// One live (not expired) KV entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// Its key.
    pub key: String,
    /// Its value.
    pub value: Vec<u8>,
    /// When it expires on the harness clock, Unix milliseconds; `None` never.
    pub expires_at_ms: Option<i64>,
}

/// A plugin built from a config, with its own host: a clock that only moves when told
/// (starting at 2026-01-01T00:00:00Z), a KV store with the host's limits, captured log
/// lines. [`kv`](crate::kv), [`clock`](crate::clock) and [`log`](crate::log) calls the
/// plugin makes while the harness runs it reach this host.
pub struct Harness<P: Plugin> {
    plugin: P,
    host: Rc<RefCell<Host>>,
    /// Numbers the ids given to events that arrive without one.
    next_id: u64,
}

impl<P: Plugin> Harness<P> {
    /// Builds the plugin as the host would: `config` goes to the plugin as JSON text, is
    /// read into `P::Config`, and `P::init` runs. The error is the text the host would show.
    pub fn new(config: serde_json::Value) -> Result<Self, String> {
        let host = Rc::new(RefCell::new(Host::default()));
        let plugin = {
            let _installed = native::install(&host);
            P::init(parse_config(&config.to_string())?)?
        };
        Ok(Self {
            plugin,
            host,
            next_id: 1,
        })
    }

    /// Gives the plugin one event, as the host's `handler.process` would. An event without
    /// an `id` or `at_ms` gets one (a UUIDv7-shaped text, the harness clock) since the host
    /// stamps every event. Like the host, a decision emitting more than [`MAX_EMIT`]
    /// events is an error.
    pub fn process(&mut self, mut event: Event) -> Result<Decision, String> {
        self.stamp(&mut event);
        let decision = {
            let _installed = native::install(&self.host);
            self.plugin.process(event)?
        };
        if decision.emit.len() > MAX_EMIT {
            return Err(format!(
                "the plugin emitted {} events; at most {MAX_EMIT} are accepted per event",
                decision.emit.len()
            ));
        }
        Ok(decision)
    }

    /// The plugin.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    /// The plugin, to change.
    pub fn plugin_mut(&mut self) -> &mut P {
        &mut self.plugin
    }

    /// The harness's wall clock, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.host.borrow().now_ms
    }

    /// Sets the wall clock (not the monotonic one: it never goes back). KV expiry follows
    /// the wall clock.
    pub fn set_now_ms(&mut self, now_ms: i64) {
        self.host.borrow_mut().now_ms = now_ms;
    }

    /// Moves both clocks forward by `by`; KV entries whose TTL ran out are gone.
    pub fn advance(&mut self, by: Duration) {
        let mut host = self.host.borrow_mut();
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        host.now_ms = host.now_ms.saturating_add(ms);
        host.monotonic_ns = host.monotonic_ns.saturating_add(ns);
    }

    /// Sets the KV quota for the writes that follow.
    pub fn set_kv_quota(&mut self, quota: KvQuota) {
        self.host.borrow_mut().quota = quota;
    }

    /// The value under `key`, if any and not expired.
    pub fn kv_get(&self, key: &str) -> Option<Vec<u8>> {
        self.host.borrow_mut().kv_get(key)
    }

    /// Stores a value as the plugin would, e.g. to seed state from a previous instance.
    pub fn kv_set(
        &mut self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<(), kv::Error> {
        let ttl_ms = ttl.map(kv::ttl_ms);
        self.host.borrow_mut().kv_set(key, value, ttl_ms)
    }

    /// Removes `key`; true if it was there.
    pub fn kv_delete(&mut self, key: &str) -> bool {
        self.host.borrow_mut().kv_delete(key)
    }

    /// The live entries, in key order.
    pub fn kv_entries(&self) -> Vec<KvEntry> {
        let mut host = self.host.borrow_mut();
        host.sweep();
        host.kv
            .iter()
            .map(|(key, entry)| KvEntry {
                key: key.clone(),
                value: entry.value.clone(),
                expires_at_ms: entry.expires_at_ms,
            })
            .collect()
    }

    /// Bytes of live keys and values plus 32 per entry: what a byte quota counts.
    pub fn kv_bytes(&self) -> usize {
        let mut host = self.host.borrow_mut();
        host.sweep();
        host.kv_bytes()
    }

    /// The lines logged so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.host.borrow().logs.clone()
    }

    /// The lines logged so far, forgetting them.
    pub fn take_logs(&mut self) -> Vec<LogLine> {
        std::mem::take(&mut self.host.borrow_mut().logs)
    }

    fn stamp(&mut self, event: &mut Event) {
        let now_ms = self.now_ms();
        if event.at_ms == 0 {
            event.at_ms = now_ms;
        }
        if event.id().is_empty() {
            // UUIDv7 layout: 48 bits of milliseconds, version 7, variant 10, then a counter.
            let ms = u64::try_from(now_ms).unwrap_or(0) & 0xffff_ffff_ffff;
            event.set_id(format!(
                "{:08x}-{:04x}-7000-8000-{:012x}",
                ms >> 16,
                ms & 0xffff,
                self.next_id
            ));
            self.next_id += 1;
        }
    }
}

impl<P: Plugin> fmt::Debug for Harness<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness")
            .field("plugin", &std::any::type_name::<P>())
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoConfig, clock, log, testing};

    /// Exercises the host functions from inside `process`.
    #[derive(Debug)]
    struct Recorder;

    impl Plugin for Recorder {
        type Config = NoConfig;

        fn init(_: NoConfig) -> Result<Self, String> {
            Ok(Self)
        }

        fn process(&mut self, event: Event) -> Result<Decision, String> {
            log::write(Level::Info, "seen", &[("device", &event.device)]);
            let mut event = event;
            event.set_field("now_ms", clock::now_ms())?;
            kv::set_with_ttl(&event.device, b"1", Duration::from_secs(10))?;
            Ok(Decision::replace(event))
        }
    }

    fn recorder() -> Result<Harness<Recorder>, String> {
        Harness::new(serde_json::json!({}))
    }

    #[test]
    fn host_calls_during_process_reach_the_harness() -> Result<(), String> {
        let mut harness = recorder()?;
        harness.set_now_ms(1_000);
        let decision = harness.process(testing::alarm("D1", "VideoMotion", "start"))?;
        let event = decision.replace.ok_or("no replacement")?;
        assert_eq!(event.field("now_ms"), Some(1_000.into()));
        assert_eq!(harness.kv_get("D1"), Some(b"1".to_vec()));
        let logs = harness.take_logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].level, Level::Info);
        assert_eq!(logs[0].field("device"), Some("D1"));
        assert!(harness.logs().is_empty());
        Ok(())
    }

    #[test]
    fn kv_entries_expire_when_the_clock_passes_their_ttl() -> Result<(), String> {
        let mut harness = recorder()?;
        harness.process(testing::alarm("D1", "VideoMotion", "start"))?;
        let expires = harness.kv_entries()[0].expires_at_ms;
        assert_eq!(expires, Some(harness.now_ms() + 10_000));
        harness.advance(Duration::from_millis(9_999));
        assert!(harness.kv_get("D1").is_some());
        harness.advance(Duration::from_millis(1));
        assert_eq!(harness.kv_get("D1"), None);
        assert!(harness.kv_entries().is_empty());
        Ok(())
    }

    #[test]
    fn two_harnesses_keep_separate_stores() -> Result<(), String> {
        let mut first = recorder()?;
        let mut second = recorder()?;
        first.process(testing::alarm("A", "VideoMotion", "start"))?;
        second.process(testing::alarm("B", "VideoMotion", "start"))?;
        assert_eq!(first.kv_get("B"), None);
        assert_eq!(second.kv_get("A"), None);
        Ok(())
    }

    #[test]
    fn keys_and_values_over_the_host_limits_are_too_large() -> Result<(), String> {
        let mut harness = recorder()?;
        let long_key = "k".repeat(kv::MAX_KEY_BYTES + 1);
        let big_value = vec![0; kv::MAX_VALUE_BYTES + 1];
        assert_eq!(
            harness.kv_set(&long_key, b"", None),
            Err(kv::Error::TooLarge)
        );
        assert_eq!(
            harness.kv_set("k", &big_value, None),
            Err(kv::Error::TooLarge)
        );
        let at_limit = vec![0; kv::MAX_VALUE_BYTES];
        assert_eq!(
            harness.kv_set(&"k".repeat(kv::MAX_KEY_BYTES), &at_limit, None),
            Ok(())
        );
        Ok(())
    }

    #[test]
    fn writes_past_the_quota_are_refused_but_overwrites_within_it_are_not() -> Result<(), String> {
        let mut harness = recorder()?;
        harness.set_kv_quota(KvQuota {
            // Two entries of 32 bytes' bookkeeping and 10 bytes of keys and values.
            max_bytes: Some(2 * 32 + 10),
            max_entries: Some(2),
        });
        assert_eq!(harness.kv_set("a", b"1234", None), Ok(()));
        assert_eq!(harness.kv_set("a", b"123456789", None), Ok(()));
        assert_eq!(
            harness.kv_set("b", b"1", None),
            Err(kv::Error::QuotaExceeded)
        );
        assert_eq!(harness.kv_set("a", b"1", None), Ok(()));
        assert_eq!(harness.kv_set("b", b"1", None), Ok(()));
        assert_eq!(
            harness.kv_set("c", b"", None),
            Err(kv::Error::QuotaExceeded)
        );
        assert_eq!(harness.kv_bytes(), 2 * 32 + 4);
        Ok(())
    }

    #[test]
    fn expired_entries_stop_counting_against_the_quota() -> Result<(), String> {
        let mut harness = recorder()?;
        harness.set_kv_quota(KvQuota {
            max_bytes: None,
            max_entries: Some(1),
        });
        harness.kv_set("a", b"", Some(Duration::from_secs(1)))?;
        assert_eq!(
            harness.kv_set("b", b"", None),
            Err(kv::Error::QuotaExceeded)
        );
        harness.advance(Duration::from_secs(1));
        assert_eq!(harness.kv_set("b", b"", None), Ok(()));
        Ok(())
    }

    #[test]
    fn events_without_id_or_time_are_stamped_like_the_host_does() -> Result<(), String> {
        let mut harness = recorder()?;
        let decision = harness.process(testing::online("D1", true))?;
        let event = decision.replace.ok_or("no replacement")?;
        assert_eq!(event.at_ms, harness.now_ms());
        assert_eq!(event.id().len(), 36);
        assert!(event.id().contains("-7000-8000-"));
        Ok(())
    }

    #[test]
    fn a_bad_config_fails_like_it_would_on_the_host() {
        let error = Harness::<Recorder>::new(serde_json::json!({"x": 1})).err();
        assert!(error.is_some_and(|e| e.contains("unknown field `x`")));
    }
}
