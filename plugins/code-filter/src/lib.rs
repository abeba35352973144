//! `code-filter`: drops alarms whose code is on a list (drop reason `code_filtered`); every
//! other event passes. Config: `{"drop": ["VideoBlind", "StorageLowSpace"]}`. No host
//! functions.

use std::collections::BTreeSet;

use homeport_sdk::{Decision, Event, Plugin};
use serde::Deserialize;

/// The stage's `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Alarm codes to drop, e.g. `VideoBlind`; none by default.
    #[serde(default)]
    drop: Vec<String>,
}

/// The plugin: the codes to drop.
#[derive(Debug)]
pub struct CodeFilter {
    // Not a HashSet: its random seed would make the component import `wasi:random`.
    drop: BTreeSet<String>,
}

impl Plugin for CodeFilter {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        Ok(Self {
            drop: config.drop.into_iter().collect(),
        })
    }

    fn process(&mut self, event: Event) -> Result<Decision, String> {
        match event.alarm() {
            Some(alarm) if self.drop.contains(&alarm.code) => Ok(Decision::drop("code_filtered")),
            _ => Ok(Decision::pass()),
        }
    }
}

homeport_sdk::export_plugin!(CodeFilter);

// Tests run natively, where `homeport_sdk::testing` exists.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use homeport_sdk::testing::{self, Harness};
    use serde_json::json;

    use super::*;

    #[test]
    fn alarms_with_a_listed_code_are_dropped() -> Result<(), String> {
        let mut filter = Harness::<CodeFilter>::new(json!({"drop": ["VideoBlind"]}))?;
        let decision = filter.process(testing::alarm("D1", "VideoBlind", "start"))?;
        assert_eq!(decision, Decision::drop("code_filtered"));
        Ok(())
    }

    #[test]
    fn alarms_with_other_codes_and_other_events_pass() -> Result<(), String> {
        let mut filter = Harness::<CodeFilter>::new(json!({"drop": ["VideoBlind"]}))?;
        let alarm = filter.process(testing::alarm("D1", "VideoMotion", "start"))?;
        let online = filter.process(testing::online("D1", true))?;
        assert_eq!(alarm, Decision::pass());
        assert_eq!(online, Decision::pass());
        Ok(())
    }

    #[test]
    fn with_no_config_everything_passes() -> Result<(), String> {
        let mut filter = Harness::<CodeFilter>::new(json!({}))?;
        let decision = filter.process(testing::alarm("D1", "VideoBlind", "start"))?;
        assert_eq!(decision, Decision::pass());
        Ok(())
    }

    #[test]
    fn a_code_that_is_not_text_is_refused_at_init() {
        let error = Harness::<CodeFilter>::new(json!({"drop": [3]})).err();
        assert!(error.is_some_and(|e| e.starts_with("config.drop[0]: invalid type")));
    }
}
