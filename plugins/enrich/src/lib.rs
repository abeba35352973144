//! `enrich`: attaches fields to every event, and more by device-ID prefix, for later stages
//! and templates (`fields.site`). No host functions. Config:
//!
//! ```json
//! {
//!   "fields": { "site": "Lyon" },
//!   "by_prefix": {
//!     "CAM-LYON-B2": { "building": "B2", "floor": 2 },
//!     "CAM-PARIS": { "site": "Paris" }
//!   }
//! }
//! ```
//!
//! `fields` go on every event, then the fields of the longest prefix the device ID starts
//! with, overriding them. Fields the event already had with the same names are replaced.

use std::collections::BTreeMap;

use homeport_sdk::{Decision, Event, Plugin};
use serde::Deserialize;
use serde_json::Value;

/// Fields by name, each any JSON value.
type Fields = BTreeMap<String, Value>;

/// The stage's `config`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Fields for every event.
    #[serde(default)]
    fields: Fields,
    /// Fields for devices whose ID starts with the key; the longest matching key wins.
    #[serde(default)]
    by_prefix: BTreeMap<String, Fields>,
}

/// The plugin: for each prefix, the merged fields its devices get.
#[derive(Debug)]
pub struct Enrich {
    /// Every event's fields.
    common: Fields,
    /// `common` with each prefix's fields over it, longest prefix first so the first match
    /// is the longest.
    by_prefix: Vec<(String, Fields)>,
}

impl Enrich {
    fn fields_for(&self, device: &str) -> &Fields {
        self.by_prefix
            .iter()
            .find(|(prefix, _)| device.starts_with(prefix.as_str()))
            .map_or(&self.common, |(_, fields)| fields)
    }
}

impl Plugin for Enrich {
    type Config = Config;

    fn init(config: Config) -> Result<Self, String> {
        let mut by_prefix: Vec<(String, Fields)> = config
            .by_prefix
            .into_iter()
            .map(|(prefix, fields)| {
                let mut merged = config.fields.clone();
                merged.extend(fields);
                (prefix, merged)
            })
            .collect();
        by_prefix.sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        Ok(Self {
            common: config.fields,
            by_prefix,
        })
    }

    fn process(&mut self, mut event: Event) -> Result<Decision, String> {
        let fields = self.fields_for(&event.device);
        if fields.is_empty() {
            return Ok(Decision::pass());
        }
        for (name, value) in fields {
            event.set_field(name, value)?;
        }
        Ok(Decision::replace(event))
    }
}

homeport_sdk::export_plugin!(Enrich);

// Tests run natively, where `homeport_sdk::testing` exists.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use homeport_sdk::testing::{self, Harness};
    use serde_json::json;

    use super::*;

    fn enriched(harness: &mut Harness<Enrich>, device: &str) -> Result<Event, String> {
        let decision = harness.process(testing::alarm(device, "VideoMotion", "start"))?;
        assert!(decision.is_pass());
        decision.replace.ok_or_else(|| "no replacement".to_owned())
    }

    #[test]
    fn common_fields_go_on_every_event() -> Result<(), String> {
        let mut harness = Harness::<Enrich>::new(json!({"fields": {"site": "Lyon", "n": 1}}))?;
        let event = enriched(&mut harness, "D1")?;
        assert_eq!(event.field("site"), Some(json!("Lyon")));
        assert_eq!(event.field("n"), Some(json!(1)));
        Ok(())
    }

    #[test]
    fn the_longest_matching_prefix_overrides_the_common_fields() -> Result<(), String> {
        let mut harness = Harness::<Enrich>::new(json!({
            "fields": {"site": "Lyon", "zone": "none"},
            "by_prefix": {
                "CAM": {"zone": "cams"},
                "CAM-B2": {"zone": "b2", "floor": {"level": 2}},
            },
        }))?;
        let b2 = enriched(&mut harness, "CAM-B2-07")?;
        assert_eq!(b2.field("site"), Some(json!("Lyon")));
        assert_eq!(b2.field("zone"), Some(json!("b2")));
        assert_eq!(b2.field("floor"), Some(json!({"level": 2})));
        let other = enriched(&mut harness, "CAM-A1-01")?;
        assert_eq!(other.field("zone"), Some(json!("cams")));
        assert_eq!(other.field("floor"), None);
        let unmatched = enriched(&mut harness, "NVR-1")?;
        assert_eq!(unmatched.field("zone"), Some(json!("none")));
        Ok(())
    }

    #[test]
    fn fields_the_event_already_has_are_replaced() -> Result<(), String> {
        let mut harness = Harness::<Enrich>::new(json!({"fields": {"site": "Lyon"}}))?;
        let mut event = testing::alarm("D1", "VideoMotion", "start");
        event.set_field("site", "Paris")?.set_field("kept", true)?;
        let decision = harness.process(event)?;
        let event = decision.replace.ok_or("no replacement")?;
        assert_eq!(event.fields().len(), 2);
        assert_eq!(event.field("site"), Some(json!("Lyon")));
        assert_eq!(event.field("kept"), Some(json!(true)));
        Ok(())
    }

    #[test]
    fn with_nothing_to_add_the_event_passes_unchanged() -> Result<(), String> {
        let mut harness = Harness::<Enrich>::new(json!({"by_prefix": {"CAM": {"a": 1}}}))?;
        let decision = harness.process(testing::online("NVR-1", true))?;
        assert_eq!(decision, Decision::pass());
        Ok(())
    }

    #[test]
    fn a_prefix_whose_fields_are_not_an_object_is_refused() {
        let error = Harness::<Enrich>::new(json!({"by_prefix": {"CAM": [1]}})).err();
        assert!(error.is_some_and(|e| e.starts_with("config.by_prefix.CAM: invalid type")));
    }
}
