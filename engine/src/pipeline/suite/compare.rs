//! Comparing what a case produced with what it expects; every difference becomes one line of
//! the report, written so that the expected and the actual side can be read against each
//! other.

use std::collections::BTreeMap;

use serde_json::Value;

use super::spec::{LetterSpec, MessageSpec, OutcomeSpec};
use crate::pipeline::offline::Counts;
use crate::sink::capture::Captured;
use crate::store::DeadLetter;

/// Longest payload text quoted in a report line.
const QUOTED: usize = 400;

/// Matches each expected message to the first captured one it fits: the differences.
pub fn messages(expected: &[MessageSpec], captured: &[Captured]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut taken = vec![false; captured.len()];
    for want in expected {
        if let Err(problem) = shape(want) {
            problems.push(problem);
            continue;
        }
        let found = captured
            .iter()
            .enumerate()
            .find(|(i, got)| !taken[*i] && fits(want, got));
        match found {
            Some((i, _)) => taken[i] = true,
            None => {
                let near = captured
                    .iter()
                    .enumerate()
                    .find(|(i, got)| !taken[*i] && same_target(want, got))
                    .map(|(_, got)| format!("\n  nearest published: {}", describe(got)))
                    .unwrap_or_default();
                problems.push(format!("missing message: {}{near}", expected_text(want)));
            }
        }
    }
    for (got, taken) in captured.iter().zip(taken) {
        if !taken {
            problems.push(format!("unexpected message: {}", describe(got)));
        }
    }
    problems
}

/// Exactly one target, and options that belong to it.
fn shape(want: &MessageSpec) -> Result<(), String> {
    let targets = [&want.mqtt, &want.nats, &want.kv]
        .iter()
        .filter(|t| t.is_some())
        .count();
    if targets != 1 {
        return Err(format!(
            "bad expected message {}: give exactly one of mqtt, nats, kv",
            expected_text(want)
        ));
    }
    if want.mqtt.is_none() && (want.qos.is_some() || want.retain.is_some()) {
        return Err(format!(
            "bad expected message {}: qos and retain are MQTT's",
            expected_text(want)
        ));
    }
    if want.nats.is_none() && want.jetstream.is_some() {
        return Err(format!(
            "bad expected message {}: jetstream is for nats subjects",
            expected_text(want)
        ));
    }
    Ok(())
}

fn target(want: &MessageSpec) -> (&'static str, &str) {
    match (&want.mqtt, &want.nats, &want.kv) {
        (Some(topic), _, _) => ("mqtt", topic),
        (_, Some(subject), _) => ("nats", subject),
        (_, _, Some(key)) => ("kv", key),
        _ => ("", ""),
    }
}

fn same_target(want: &MessageSpec, got: &Captured) -> bool {
    target(want) == (got.sink, got.topic.as_str())
}

fn fits(want: &MessageSpec, got: &Captured) -> bool {
    same_target(want, got)
        && want.pipeline.as_ref().is_none_or(|p| *p == got.pipeline)
        && want.qos.is_none_or(|q| Some(q) == got.qos)
        && want.retain.is_none_or(|r| r == got.retain)
        && want.jetstream.is_none_or(|j| j == got.jetstream)
        && want
            .payload
            .as_ref()
            .is_none_or(|p| payload_fits(p, &got.payload))
}

/// Text: the payload exactly; anything else: JSON that contains it.
fn payload_fits(want: &Value, got: &[u8]) -> bool {
    match want {
        Value::String(text) => got == text.as_bytes(),
        other => serde_json::from_slice::<Value>(got).is_ok_and(|got| contains(&got, other)),
    }
}

/// Whether `got` contains `want`: a mapping's keys may be a subset, recursively; lists have
/// the same length and contain element by element; anything else is equal.
pub fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(got), Value::Object(want)) => want
            .iter()
            .all(|(key, want)| got.get(key).is_some_and(|got| contains(got, want))),
        (Value::Array(got), Value::Array(want)) => {
            got.len() == want.len() && got.iter().zip(want).all(|(g, w)| contains(g, w))
        }
        (Value::Number(got), Value::Number(want)) => got.as_f64() == want.as_f64(),
        (got, want) => got == want,
    }
}

fn expected_text(want: &MessageSpec) -> String {
    let (sink, topic) = target(want);
    let mut text = format!("{sink} {topic}");
    if let Some(qos) = want.qos {
        text.push_str(&format!(" qos={qos}"));
    }
    if let Some(retain) = want.retain {
        text.push_str(&format!(" retain={retain}"));
    }
    if let Some(jetstream) = want.jetstream {
        text.push_str(&format!(" jetstream={jetstream}"));
    }
    if let Some(pipeline) = &want.pipeline {
        text.push_str(&format!(" (pipeline {pipeline})"));
    }
    if let Some(payload) = &want.payload {
        let shown = match payload {
            Value::String(text) => format!("{text:?}"),
            other => format!("containing {other}"),
        };
        text.push_str(&format!(" payload {shown}"));
    }
    text
}

/// A captured message, for the report.
pub fn describe(got: &Captured) -> String {
    let mut text = format!("{} {}", got.sink, got.topic);
    if let Some(qos) = got.qos {
        text.push_str(&format!(" qos={qos} retain={}", got.retain));
    }
    if got.sink == "nats" {
        text.push_str(&format!(" jetstream={}", got.jetstream));
    }
    let payload = String::from_utf8_lossy(&got.payload);
    let mut shown: String = payload.chars().take(QUOTED).collect();
    if shown.len() < payload.len() {
        shown.push('…');
    }
    text.push_str(&format!(" (pipeline {}) payload {shown:?}", got.pipeline));
    text
}

/// The outcome of each pipeline named against what it did; `ran` are the pipelines running.
pub fn outcomes(
    expected: &BTreeMap<String, OutcomeSpec>,
    actual: &BTreeMap<String, Counts>,
    ran: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in expected {
        if !ran.contains(name) {
            problems.push(format!(
                "pipeline {name:?} did not run: it is not defined, or it was skipped (its `requires` is not met here)"
            ));
            continue;
        }
        let got = actual.get(name).cloned().unwrap_or_default();
        let want_text = outcome_text(want.out, want.routed, want.failed, &want.dropped);
        let got_text = outcome_text(got.output, got.routed, got.failed, &got.dropped);
        if want_text != got_text {
            problems.push(format!(
                "pipeline {name:?}: expected {want_text}, got {got_text}"
            ));
        }
    }
    problems
}

fn outcome_text(out: u64, routed: u64, failed: u64, dropped: &BTreeMap<String, u64>) -> String {
    let mut parts = vec![format!("out {out}")];
    if routed > 0 {
        parts.push(format!("routed {routed}"));
    }
    if failed > 0 {
        parts.push(format!("failed {failed}"));
    }
    for (reason, n) in dropped.iter().filter(|(_, n)| **n > 0) {
        parts.push(format!("dropped {n} ({reason})"));
    }
    parts.join(", ")
}

/// Matches each expected dead letter to the first written one it fits: the differences.
pub fn letters(expected: &[LetterSpec], written: &[DeadLetter]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut taken = vec![false; written.len()];
    for want in expected {
        let found = written.iter().enumerate().find(|(i, got)| {
            !taken[*i]
                && got.pipeline == want.pipeline
                && want.stage.as_ref().is_none_or(|s| *s == got.stage)
                && want
                    .error
                    .as_ref()
                    .is_none_or(|e| got.error.contains(e.as_str()))
        });
        match found {
            Some((i, _)) => taken[i] = true,
            None => problems.push(format!(
                "missing dead letter: pipeline {:?}{}{}",
                want.pipeline,
                want.stage
                    .as_ref()
                    .map(|s| format!(", stage {s}"))
                    .unwrap_or_default(),
                want.error
                    .as_ref()
                    .map(|e| format!(", error containing {e:?}"))
                    .unwrap_or_default()
            )),
        }
    }
    for (got, taken) in written.iter().zip(taken) {
        if !taken {
            problems.push(format!(
                "unexpected dead letter: pipeline {:?}, stage {}, error {:?}",
                got.pipeline, got.stage, got.error
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contains_takes_subsets_of_mappings_but_whole_lists() {
        let got = json!({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}});
        assert!(contains(&got, &json!({"b": {"c": [1, {"d": 2}]}})));
        assert!(contains(&got, &json!({"a": 1.0})));
        assert!(!contains(&got, &json!({"b": {"c": [1]}})));
        assert!(!contains(&got, &json!({"a": "1"})));
        assert!(!contains(&got, &json!({"z": null})));
    }

    fn captured(topic: &str, payload: &str) -> Captured {
        let mut message =
            Captured::new("mqtt", topic.to_owned(), payload.as_bytes().to_vec().into());
        message.pipeline = "p".to_owned();
        message.qos = Some(1);
        message
    }

    fn expect(topic: &str, payload: Value) -> MessageSpec {
        MessageSpec {
            mqtt: Some(topic.to_owned()),
            nats: None,
            kv: None,
            pipeline: None,
            qos: None,
            retain: None,
            jetstream: None,
            payload: Some(payload),
        }
    }

    #[test]
    fn each_message_is_matched_once_and_the_rest_are_reported() {
        let got = [
            captured("a", "ON"),
            captured("a", "OFF"),
            captured("b", "{\"x\":1}"),
        ];
        assert!(
            messages(
                &[
                    expect("a", json!("OFF")),
                    expect("a", json!("ON")),
                    expect("b", json!({"x": 1}))
                ],
                &got
            )
            .is_empty()
        );
        let problems = messages(&[expect("a", json!("ON")), expect("a", json!("ON"))], &got);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0].starts_with("missing message: mqtt a payload \"ON\""),
            "{problems:?}"
        );
        assert!(
            problems[0].contains(
                "nearest published: mqtt a qos=1 retain=false (pipeline p) payload \"OFF\""
            ),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("unexpected message: mqtt a"),
            "{problems:?}"
        );
        assert!(
            problems[2].starts_with("unexpected message: mqtt b"),
            "{problems:?}"
        );
    }
}
