//! A Home Assistant stand-in for the tests: it reads every MQTT message the way Home
//! Assistant's MQTT integration does for discovery (device-based `homeassistant/device/<id>/config`
//! and single-component `homeassistant/<component>/<id>/config`), checks each config against
//! the rules Home Assistant applies, and works out each entity's availability from its `avty`
//! topics.

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// The availability template the shipped discovery uses, which this stand-in evaluates.
pub const ONLINE_TEMPLATE: &str = "{{ 'online' if value_json.online else 'offline' }}";

/// One entity of a discovery config.
#[derive(Debug, Clone)]
pub struct Entity {
    /// The config topic it came from.
    pub topic: String,
    /// Its component (`binary_sensor`, `event`, …).
    pub platform: String,
    /// Its options.
    pub config: Value,
}

/// What Home Assistant would know from the messages seen so far.
#[derive(Debug, Default)]
pub struct HomeAssistant {
    /// The latest payload of every topic.
    pub latest: BTreeMap<String, String>,
}

impl HomeAssistant {
    /// Takes one message.
    pub fn see(&mut self, topic: &str, payload: &str) {
        self.latest.insert(topic.to_owned(), payload.to_owned());
    }

    /// Every entity of every current discovery config (an empty config removes its
    /// entities), with the rules a config breaks as errors.
    pub fn entities(&self) -> Result<Vec<Entity>, String> {
        let mut out = Vec::new();
        for (topic, payload) in &self.latest {
            let Some(rest) = topic.strip_prefix("homeassistant/") else {
                continue;
            };
            if payload.is_empty() || topic == "homeassistant/status" {
                continue;
            }
            let parts: Vec<&str> = rest.split('/').collect();
            let [component, object_id, "config"] = parts.as_slice() else {
                return Err(format!("{topic}: not a discovery topic"));
            };
            if object_id.is_empty()
                || !object_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(format!(
                    "{topic}: the object id {object_id:?} is outside [A-Za-z0-9_-]"
                ));
            }
            let config: Value = serde_json::from_str(payload)
                .map_err(|e| format!("{topic}: not JSON ({e}): {payload}"))?;
            let dev = &config["dev"];
            if dev["ids"].as_array().is_none_or(|ids| ids.is_empty()) {
                return Err(format!("{topic}: dev.ids is missing or empty"));
            }
            if *component == "device" {
                if !config["o"]["name"].is_string() {
                    return Err(format!("{topic}: a device config needs o.name"));
                }
                let Some(cmps) = config["cmps"].as_object() else {
                    return Err(format!("{topic}: a device config needs cmps"));
                };
                for (name, cmp) in cmps {
                    let Some(platform) = cmp["p"].as_str() else {
                        return Err(format!("{topic}: component {name} has no p"));
                    };
                    out.push(Entity {
                        topic: topic.clone(),
                        platform: platform.to_owned(),
                        config: cmp.clone(),
                    });
                }
            } else {
                out.push(Entity {
                    topic: topic.clone(),
                    platform: (*component).to_owned(),
                    config,
                });
            }
        }
        let mut unique = HashSet::new();
        for entity in &out {
            let Some(id) = entity.config["unique_id"].as_str() else {
                return Err(format!("{}: an entity without unique_id", entity.topic));
            };
            if !unique.insert(id.to_owned()) {
                return Err(format!("unique_id {id} is used twice"));
            }
            if entity.config["state_topic"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                return Err(format!("{id}: no state_topic"));
            }
            if entity.platform == "event"
                && entity.config["event_types"]
                    .as_array()
                    .is_none_or(|t| t.is_empty())
            {
                return Err(format!("{id}: an event entity needs event_types"));
            }
        }
        Ok(out)
    }

    /// Whether `entity` is available now, as its `avty` list and `avty_mode` say.
    pub fn available(&self, entity: &Entity) -> bool {
        let Some(list) = entity.config["avty"].as_array() else {
            return true;
        };
        let each: Vec<bool> = list.iter().map(|a| self.says_online(a)).collect();
        match entity.config["avty_mode"].as_str().unwrap_or("latest") {
            "all" => each.iter().all(|up| *up),
            "any" => each.iter().any(|up| *up),
            _ => each.last().copied().unwrap_or(true),
        }
    }

    fn says_online(&self, availability: &Value) -> bool {
        let topic = availability["t"].as_str().expect("an availability topic");
        let Some(payload) = self.latest.get(topic) else {
            // Home Assistant starts unavailable until it hears otherwise.
            return false;
        };
        let value = match availability["val_tpl"].as_str() {
            None => payload.clone(),
            Some(ONLINE_TEMPLATE) => {
                let json: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
                if json["online"] == true {
                    "online"
                } else {
                    "offline"
                }
                .to_owned()
            }
            Some(other) => panic!("the stand-in cannot evaluate {other:?}"),
        };
        value == availability["pl_avail"].as_str().unwrap_or("online")
    }
}
