//! `misbehave`: a test fixture, not a plugin to deploy. It misbehaves on request so the
//! host's tests can prove each limit and each host function: an alarm's code says what to do.
//!
//! | code    | what the plugin does                                                   |
//! |---------|------------------------------------------------------------------------|
//! | `Spin`  | loops forever (the time limit must stop it)                           |
//! | `Bomb`  | allocates and touches 1 MiB chunks, keeping them, until allocation fails, then aborts as Rust does when out of memory (the memory limit must stop it) |
//! | `Trap`  | panics, which traps                                                    |
//! | `Fail`  | returns the error `asked to fail`                                      |
//! | `Log`   | logs `asked to log` at info with a `code` field, and passes            |
//! | `Emit`  | passes, emitting one `Emitted` pulse alarm for the same device         |
//! | `Route` | routes to output `other`                                               |
//! | `Split` | drops the event (reason `split`), emitting two `Part` pulse alarms in its place |
//! | `Count` | adds one to the number in KV key `count` and passes the event with field `count` set to it |
//! | `Clock` | passes the event with field `now_ms` set to the host's clock           |
//! | `Time`  | passes the event with field `system_ms` set to `std::time::SystemTime` (WASI's clock) |
//!
//! Any other alarm, and every other event, passes. The config takes two keys: `{"refuse":
//! true}` makes `init` fail with `refused by config`; `{"echo": true}` passes every event
//! replaced by itself as the plugin read it, so a test sees exactly what arrived. Any other key
//! is refused, which is how a bad plugin config is tested.

use std::alloc::Layout;
use std::hint::black_box;

use homeport_sdk::{Decision, Event, Plugin, clock, kv, log};
use serde::Deserialize;

/// Bytes per `Bomb` allocation.
const CHUNK: usize = 1 << 20;

/// The stage's `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Fail `init`.
    #[serde(default)]
    refuse: bool,
    /// Send every event back as it arrived.
    #[serde(default)]
    echo: bool,
}

/// The plugin; it keeps only whether it echoes.
#[derive(Debug)]
pub struct Misbehave {
    echo: bool,
}

impl Plugin for Misbehave {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        if config.refuse {
            return Err("refused by config".to_owned());
        }
        Ok(Self { echo: config.echo })
    }

    fn process(&mut self, mut event: Event) -> Result<Decision, String> {
        if self.echo {
            return Ok(Decision::replace(event));
        }
        // Matched in place (no copy of the code): a pass-through costs what the host does.
        let Some(code) = event.alarm().map(|alarm| alarm.code.as_str()) else {
            return Ok(Decision::pass());
        };
        match code {
            "Spin" => spin(),
            "Bomb" => bomb(),
            "Trap" => panic!("asked to trap"),
            "Fail" => Err("asked to fail".to_owned()),
            "Log" => {
                log::write(log::Level::Info, "asked to log", &[("code", code)]);
                Ok(Decision::pass())
            }
            "Emit" => Ok(Decision::pass().emit(Event::new_alarm("", "Emitted", "pulse"))),
            "Route" => Ok(Decision::route("other")),
            "Split" => Ok(Decision::drop("split")
                .emit(Event::new_alarm("", "Part", "pulse"))
                .emit(Event::new_alarm("", "Part", "pulse"))),
            "Count" => {
                let count = kv::get_string("count")
                    .and_then(|text| text.parse::<u64>().ok())
                    .unwrap_or(0)
                    + 1;
                kv::set("count", count.to_string().as_bytes())?;
                event.set_field("count", count)?;
                Ok(Decision::replace(event))
            }
            "Clock" => {
                event.set_field("now_ms", clock::now_ms())?;
                Ok(Decision::replace(event))
            }
            "Time" => {
                let since_epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                event.set_field("system_ms", since_epoch.as_millis() as u64)?;
                Ok(Decision::replace(event))
            }
            _ => Ok(Decision::pass()),
        }
    }
}

/// Never returns. `black_box` keeps the optimiser from proving the loop does nothing.
fn spin() -> ! {
    let mut turns = 0u64;
    loop {
        turns = black_box(turns.wrapping_add(1));
    }
}

/// Allocates 1 MiB chunks, writing every byte so the pages are really used, and keeps them
/// all until an allocation fails; then aborts (a trap) the way Rust's allocation failure
/// handler does, so a host whose limit only refuses to grow memory still sees a trap.
fn bomb() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = Vec::new();
        if chunk.try_reserve_exact(CHUNK).is_err() || hoard.try_reserve(1).is_err() {
            black_box(&hoard);
            std::alloc::handle_alloc_error(Layout::new::<[u8; CHUNK]>());
        }
        chunk.resize(CHUNK, 0xA5);
        hoard.push(black_box(chunk));
    }
}

homeport_sdk::export_plugin!(Misbehave);

// Tests run natively, where `homeport_sdk::testing` exists.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use homeport_sdk::testing::{self, Harness};
    use homeport_sdk::{EventKind, Verdict};
    use serde_json::json;

    use super::*;

    fn misbehave() -> Result<Harness<Misbehave>, String> {
        Harness::new(json!({}))
    }

    fn asked(code: &str) -> Event {
        testing::alarm("D1", code, "pulse")
    }

    #[test]
    fn fail_returns_an_error() -> Result<(), String> {
        let error = misbehave()?.process(asked("Fail")).err();
        assert_eq!(error.as_deref(), Some("asked to fail"));
        Ok(())
    }

    #[test]
    fn log_writes_an_info_line_with_the_code() -> Result<(), String> {
        let mut harness = misbehave()?;
        assert_eq!(harness.process(asked("Log"))?, Decision::pass());
        let logs = harness.logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].level, log::Level::Info);
        assert_eq!(logs[0].message, "asked to log");
        assert_eq!(logs[0].field("code"), Some("Log"));
        Ok(())
    }

    #[test]
    fn emit_passes_and_emits_one_alarm_for_the_same_device() -> Result<(), String> {
        let decision = misbehave()?.process(asked("Emit"))?;
        assert_eq!(decision.verdict, Verdict::Pass);
        assert_eq!(decision.emit.len(), 1);
        assert_eq!(decision.emit[0].device, "");
        assert_eq!(
            decision.emit[0].alarm().map(|a| a.code.as_str()),
            Some("Emitted")
        );
        Ok(())
    }

    #[test]
    fn route_sends_the_event_to_output_other() -> Result<(), String> {
        assert_eq!(
            misbehave()?.process(asked("Route"))?,
            Decision::route("other")
        );
        Ok(())
    }

    #[test]
    fn count_increments_the_stored_counter_and_reports_it() -> Result<(), String> {
        let mut harness = misbehave()?;
        harness.kv_set("count", b"41", None)?;
        let decision = harness.process(asked("Count"))?;
        let event = decision.replace.ok_or("no replacement")?;
        assert_eq!(event.field("count"), Some(json!(42)));
        assert_eq!(harness.kv_get("count"), Some(b"42".to_vec()));
        let again = harness
            .process(asked("Count"))?
            .replace
            .ok_or("no replacement")?;
        assert_eq!(again.field("count"), Some(json!(43)));
        Ok(())
    }

    #[test]
    fn count_starts_from_one() -> Result<(), String> {
        let mut harness = misbehave()?;
        let event = harness
            .process(asked("Count"))?
            .replace
            .ok_or("no replacement")?;
        assert_eq!(event.field("count"), Some(json!(1)));
        Ok(())
    }

    #[test]
    fn clock_reports_the_host_time() -> Result<(), String> {
        let mut harness = misbehave()?;
        harness.set_now_ms(1_234);
        let event = harness
            .process(asked("Clock"))?
            .replace
            .ok_or("no replacement")?;
        assert_eq!(event.field("now_ms"), Some(json!(1_234)));
        assert!(matches!(event.kind, EventKind::Alarm(_)));
        Ok(())
    }

    #[test]
    fn other_codes_and_other_events_pass() -> Result<(), String> {
        let mut harness = misbehave()?;
        assert_eq!(harness.process(asked("VideoMotion"))?, Decision::pass());
        assert_eq!(
            harness.process(testing::online("Spin", true))?,
            Decision::pass()
        );
        Ok(())
    }

    #[test]
    fn refuse_in_the_config_fails_init() {
        let error = Harness::<Misbehave>::new(json!({"refuse": true})).err();
        assert_eq!(error.as_deref(), Some("refused by config"));
    }

    #[test]
    fn an_unknown_config_key_fails_init() {
        let error = Harness::<Misbehave>::new(json!({"refuse_not": true})).err();
        assert!(error.is_some_and(|e| e.contains("unknown field `refuse_not`")));
    }
}
