//! `debounce`: lets the first event per key through, then drops repeats for a window (drop
//! reason `debounced`). Config: `{"window": "5s"}`. Host functions: `kv`, and `log` for the
//! warning below.
//!
//! The key is the device and kind, plus for alarms the code, channel and action (like the
//! built-in `debounce` stage), so a camera flooding `VideoMotion start` sends one per window
//! while its `stop` still goes through. The window is fixed from the event that passed:
//! repeats do not extend it.
//!
//! The state lives in the host's KV store as one entry per key that expires with the
//! window, so it survives plugin reloads and its size follows the number of active keys.
//! When the store refuses an entry (quota, a key too long) the event passes and a warning
//! is logged: the debouncer's own bookkeeping never loses an event.

mod window;

use homeport_sdk::{Decision, Event, EventKind, Plugin, kv, log};
use serde::Deserialize;

use crate::window::Window;

/// The stage's `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How long repeats are dropped: `"500ms"`, `"5s"`, `"2m"`, `"1h"`, or milliseconds.
    window: Window,
}

/// The plugin: the window.
#[derive(Debug)]
pub struct Debounce {
    window: Window,
}

impl Debounce {
    /// One key per device, kind and (for alarms) code, channel and action. NUL separates the
    /// parts since it appears in none of them.
    fn key(event: &Event) -> String {
        match &event.kind {
            EventKind::Alarm(alarm) => format!(
                "{}\u{0}alarm\u{0}{}\u{0}{}\u{0}{}",
                event.device, alarm.code, alarm.channel, alarm.action
            ),
            _ => format!("{}\u{0}{}", event.device, event.kind_name()),
        }
    }
}

impl Plugin for Debounce {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self {
            window: config.window,
        })
    }

    fn process(&mut self, event: Event) -> Result<Decision, String> {
        let key = Self::key(&event);
        if kv::get(&key).is_some() {
            return Ok(Decision::drop("debounced"));
        }
        if let Err(error) = kv::set_with_ttl(&key, b"", self.window.0) {
            log::write(
                log::Level::Warn,
                "debounce state not stored; the event passes",
                &[("error", &error.to_string()), ("kind", event.kind_name())],
            );
        }
        Ok(Decision::pass())
    }
}

homeport_sdk::export_plugin!(Debounce);

// Tests run natively, where `homeport_sdk::testing` exists.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::time::Duration;

    use homeport_sdk::testing::{self, Harness, KvQuota};
    use serde_json::json;

    use super::*;

    fn debounce(window: serde_json::Value) -> Result<Harness<Debounce>, String> {
        Harness::new(json!({ "window": window }))
    }

    #[test]
    fn repeats_inside_the_window_are_dropped_and_pass_after_it() -> Result<(), String> {
        let mut stage = debounce(json!("5s"))?;
        let motion = || testing::alarm("D1", "VideoMotion", "start");
        assert_eq!(stage.process(motion())?, Decision::pass());
        stage.advance(Duration::from_millis(4_999));
        assert_eq!(stage.process(motion())?, Decision::drop("debounced"));
        stage.advance(Duration::from_millis(1));
        assert_eq!(stage.process(motion())?, Decision::pass());
        Ok(())
    }

    #[test]
    fn a_different_action_channel_device_or_kind_is_a_different_key() -> Result<(), String> {
        let mut stage = debounce(json!(60_000))?;
        let mut other_channel = testing::alarm("D1", "VideoMotion", "start");
        if let Some(alarm) = other_channel.alarm_mut() {
            alarm.channel = 1;
        }
        let events = [
            testing::alarm("D1", "VideoMotion", "start"),
            testing::alarm("D1", "VideoMotion", "stop"),
            other_channel,
            testing::alarm("D2", "VideoMotion", "start"),
            testing::online("D1", true),
            testing::registered("D1", "10.0.0.1:5000"),
        ];
        for event in events {
            assert_eq!(stage.process(event)?, Decision::pass());
        }
        assert_eq!(stage.kv_entries().len(), 6);
        Ok(())
    }

    #[test]
    fn non_alarm_events_debounce_by_device_and_kind() -> Result<(), String> {
        let mut stage = debounce(json!("1m"))?;
        assert_eq!(
            stage.process(testing::online("D1", true))?,
            Decision::pass()
        );
        let offline = stage.process(testing::online("D1", false))?;
        assert_eq!(offline, Decision::drop("debounced"));
        Ok(())
    }

    #[test]
    fn when_the_store_is_full_events_pass_and_a_warning_is_logged() -> Result<(), String> {
        let mut stage = debounce(json!("5s"))?;
        stage.set_kv_quota(KvQuota {
            max_bytes: None,
            max_entries: Some(0),
        });
        let motion = || testing::alarm("D1", "VideoMotion", "start");
        assert_eq!(stage.process(motion())?, Decision::pass());
        assert_eq!(stage.process(motion())?, Decision::pass());
        let logs = stage.logs();
        assert_eq!(logs.len(), 2);
        assert_eq!(logs[0].level, log::Level::Warn);
        assert_eq!(
            logs[0].field("error"),
            Some("the KV store's quota would be exceeded")
        );
        Ok(())
    }

    #[test]
    fn a_zero_or_malformed_window_is_refused_at_init() {
        let zero = debounce(json!("0s")).err();
        assert!(zero.is_some_and(|e| e.starts_with("config.window: the window must be longer")));
        let bad = debounce(json!("soon")).err();
        assert!(bad.is_some_and(|e| e.contains("not a duration")));
        let missing = Harness::<Debounce>::new(json!({})).err();
        assert!(missing.is_some_and(|e| e.contains("missing field `window`")));
        let negative = debounce(json!(-5)).err();
        assert!(negative.is_some());
    }
}
