//! Pipeline validation: every bad-YAML case names the right file:line:column (and the pipeline
//! and stage), and the shipped defaults and examples pass. Runs the real `homeport check`.

#[path = "support/plugins.rs"]
mod plugins;

use std::path::{Path, PathBuf};
use std::process::Command;

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Runs `homeport check` on `yaml` written to a file; returns (success, stderr).
fn check(yaml: &str) -> (bool, String, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let file = dir.join("pipelines.yaml");
    std::fs::write(&file, yaml).expect("write");
    let output = Command::new(HOMEPORT)
        .arg("check")
        .arg(&file)
        .output()
        .expect("homeport runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        file,
    )
}

fn assert_error(yaml: &str, line_column: &str, needles: &[&str]) {
    let (ok, stderr, file) = check(yaml);
    assert!(!ok, "expected a failure for:\n{yaml}");
    let expected = format!("{}:{line_column}: ", file.display());
    assert!(
        stderr.contains(&expected),
        "expected {expected:?} in:\n{stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "expected {needle:?} in:\n{stderr}");
    }
}

#[test]
fn shipped_defaults_and_examples_pass() {
    // The WebAssembly example names the plugin where the wasm32-wasip2 build puts it.
    plugins::plugin("code-filter");
    let output = Command::new(HOMEPORT)
        .arg("check")
        .arg(repo("pipelines/default.yaml"))
        .arg(repo("pipelines/examples"))
        .output()
        .expect("homeport runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for name in [
        "alarms-mqtt",
        "alarms-debounced",
        "alarms-jetstream",
        "register-server",
    ] {
        assert!(stdout.contains(name), "{stdout}");
    }
}

#[test]
fn unknown_key_points_at_the_key() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    colour: blue\n    stages:\n      - log: {}\n",
        "4:5",
        &["colour"],
    );
}

#[test]
fn unknown_key_inside_a_stage_points_at_the_key() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    stages:\n      - log: { levl: info }\n",
        "5:16",
        &["levl", "stages[0]"],
    );
}

#[test]
fn unknown_stage_kind_points_at_the_stage() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    stages:\n      - teleport: {}\n",
        "5:9",
        &["teleport", "expected one of"],
    );
}

#[test]
fn unknown_event_kind_names_the_pipeline() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm, nonsense]\n    stages:\n      - log: {}\n",
        "3:17",
        &["pipeline \"a\"", "nonsense"],
    );
}

#[test]
fn bad_duration_names_pipeline_and_stage() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    stages:\n      - log: {}\n      - debounce: { window: soon }\n",
        "6:29",
        &["pipeline \"a\", stage #2 debounce", "bad duration \"soon\""],
    );
}

#[test]
fn template_that_does_not_compile_is_refused() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    stages:\n      - log: { message: '{{ event.code ' }\n",
        "5:25",
        &["stage #1 log", "bad template"],
    );
}

#[test]
fn bad_condition_is_refused() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    when: 'event.code =='\n    stages:\n      - log: {}\n",
        "4:11",
        &["bad condition"],
    );
}

#[test]
fn missing_template_file_is_refused() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [online_changed]\n    stages:\n      - apply_config: { name: DVRIP, template: nowhere.yaml }\n",
        "5:48",
        &["cannot read template file", "nowhere.yaml"],
    );
}

#[test]
fn topic_with_a_wildcard_in_its_own_text_is_refused() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    stages:\n      - mqtt: { topic: 'homeport/+/{{ device_id }}' }\n",
        "5:24",
        &["stage #1 mqtt", "bad topic"],
    );
}

#[test]
fn missing_field_and_duplicate_names_are_reported() {
    assert_error(
        "pipelines:\n  - name: a\n    stages:\n      - log: {}\n",
        "2:5",
        &["missing field `on`"],
    );
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    stages: [ { log: {} } ]\n  - name: a\n    on: [alarm]\n    stages: [ { log: {} } ]\n",
        "5:11",
        &["already defined"],
    );
}

#[test]
fn broken_yaml_points_at_the_syntax_error() {
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm\n",
        "4:1",
        &["expected"],
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let (ok, stderr, _) = check(
        "pipelines:\n  - name: a\n    on: [nonsense]\n    stages:\n      - debounce: { window: soon }\n      - log: { level: loud }\n",
    );
    assert!(!ok);
    assert!(stderr.contains("3 problem(s) found"), "{stderr}");
}

/// The four mistakes that used to pass the check and then broke every event at run time.
#[test]
fn what_breaks_every_event_at_run_time_is_refused_at_its_line() {
    // A method strings do not have: every event would warn and be dropped.
    assert_error(
        "pipelines:\n  - name: a\n    on: [alarm]\n    when: 'event.code.startswith(\"Video\")'\n    stages:\n      - log: {}\n",
        "4:11",
        &["pipeline \"a\"", "unknown method", "startswith"],
    );
    // An unknown filter: every event would be dead-lettered.
    assert_error(
        "pipelines:\n  - name: b\n    on: [alarm]\n    stages:\n      - log: { message: '{{ device_id | shout }}' }\n",
        "5:25",
        &["stage #1 log", "unknown filter", "shout"],
    );
    // A misspelt event field: every event would be silently filtered out.
    assert_error(
        "pipelines:\n  - name: c\n    on: [alarm]\n    when: 'event.cod == \"VideoMotion\"'\n    stages:\n      - log: {}\n",
        "4:11",
        &[
            "alarm events have no field \"cod\"",
            "did you mean \"code\"",
            "channel, code, data",
        ],
    );
    // A misspelt variable: every camera would publish to site1/_/motion.
    assert_error(
        "pipelines:\n  - name: d\n    on: [alarm]\n    stages:\n      - mqtt: { topic: \"site1/{{ devce_id }}/motion\" }\n",
        "5:24",
        &[
            "stage #1 mqtt",
            "unknown variable \"devce_id\"",
            "did you mean \"device_id\"",
        ],
    );
}

#[test]
fn fields_are_checked_against_the_kinds_taken_and_the_set_stages_before() {
    // `fields.zone` is set by the first stage; `fields.site` by nobody.
    assert_error(
        "pipelines:\n  - name: e\n    on: [alarm]\n    stages:\n      - set: { fields: { zone: 'north' } }\n      - log: { message: '{{ fields.zone }}' }\n      - log: { message: '{{ fields.site }}' }\n",
        "7:25",
        &["stage #3 log", "\"fields.site\"", "set before it: zone"],
    );
    // A field of another kind than those the pipeline takes.
    assert_error(
        "pipelines:\n  - name: f\n    on: [online_changed]\n    stages:\n      - log: { message: '{{ event.code }}' }\n",
        "5:25",
        &["online_changed events have no field \"code\"", "online"],
    );
    // Fields of any kind taken, and what a plugin may have set, pass.
    let (ok, stderr, _) = check(
        "pipelines:\n  - name: g\n    on: [alarm, online_changed]\n    when: '(kind == \"alarm\" and event.action == \"start\") or event.online'\n    stages:\n      - log: { message: '{{ event.code }} {{ event.online }}' }\n",
    );
    assert!(ok, "{stderr}");
}

/// Runs `homeport test` on `paths`; returns (success, stdout).
fn run_tests(paths: &[&Path]) -> (bool, String) {
    let output = Command::new(HOMEPORT)
        .arg("test")
        .args(paths)
        .output()
        .expect("homeport runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn homeport_test_passes_what_holds_and_reports_each_difference() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("alarms.yaml"),
        "pipelines:\n  - name: motion\n    on: [alarm]\n    when: 'event.code == \"VideoMotion\"'\n    stages:\n      - set: { fields: { zone: '{{ event.data.Zone | default(\"none\") }}' } }\n      - mqtt: { topic: 'site/{{ device_id }}/motion', qos: 0, payload: '{\"zone\":{{ fields.zone|tojson }},\"on\":{{ (event.action == \"start\")|tojson }}}' }\n  - name: broken\n    on: [alarm]\n    stages:\n      - log: { message: '{{ event.data.Zone[0] }}' }\n",
    )
    .expect("write");
    let passing = dir.path().join("alarms.test.yaml");
    std::fs::write(
        &passing,
        "sinks: [mqtt]\ntests:\n  - name: motion with a zone\n    events:\n      - { kind: alarm, device: cam1, code: VideoMotion, action: start, data: { Zone: north } }\n      - { kind: alarm, device: cam1, code: VideoBlind, action: start, data: { Zone: x } }\n    expect:\n      published:\n        - { mqtt: site/cam1/motion, qos: 0, retain: false, payload: { zone: north, 'on': true } }\n      pipelines:\n        motion: { out: 1, dropped: { when: 1 } }\n        broken: { out: 2 }\n",
    )
    .expect("write");
    let (ok, stdout) = run_tests(&[dir.path()]);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("ok    motion with a zone"), "{stdout}");
    assert!(stdout.contains("1 case(s): 1 passed, 0 failed"), "{stdout}");

    // Every kind of difference: a payload, an unexpected message, an outcome, a dead letter.
    let failing = dir.path().join("wrong.test.yaml");
    std::fs::write(
        &failing,
        "pipelines: [alarms.yaml]\nsinks: [mqtt]\ntests:\n  - name: wrong on purpose\n    events:\n      - { kind: alarm, device: cam1, code: VideoMotion, action: stop }\n      - { kind: alarm, device: cam2, code: VideoMotion, action: start }\n    expect:\n      published:\n        - { mqtt: site/cam1/motion, payload: { 'on': true } }\n      pipelines:\n        motion: { out: 1 }\n      dead_letters:\n        - { pipeline: motion }\n",
    )
    .expect("write");
    let (ok, stdout) = run_tests(&[failing.as_path()]);
    assert!(!ok, "a failing case fails the run:\n{stdout}");
    for needle in [
        "FAIL  wrong on purpose",
        "missing message: mqtt site/cam1/motion payload containing {\"on\":true}",
        "nearest published: mqtt site/cam1/motion qos=0 retain=false (pipeline motion) payload \"{\\\"zone\\\":\\\"none\\\",\\\"on\\\":false}\"",
        "unexpected message: mqtt site/cam2/motion",
        "pipeline \"motion\": expected out 1, got out 2",
        "missing dead letter: pipeline \"motion\"",
        "unexpected dead letter: pipeline \"broken\", stage #1 log",
        "1 case(s): 0 passed, 1 failed",
    ] {
        assert!(stdout.contains(needle), "expected {needle:?} in:\n{stdout}");
    }
}

#[test]
fn homeport_test_refuses_what_is_not_a_test_file_and_names_the_bad_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipelines = dir.path().join("p.yaml");
    std::fs::write(&pipelines, "pipelines: []\n").expect("write");
    let output = Command::new(HOMEPORT)
        .arg("test")
        .arg(&pipelines)
        .output()
        .expect("homeport runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a test file"));
    let bad = dir.path().join("p.test.yaml");
    std::fs::write(&bad, "tests:\n  - name: x\n    evnts: []\n").expect("write");
    let (ok, stdout) = run_tests(&[bad.as_path()]);
    assert!(!ok);
    assert!(
        stdout.contains("p.test.yaml:3:") && stdout.contains("unknown field `evnts`"),
        "{stdout}"
    );
}

#[test]
fn a_pipeline_plugins_route_into_is_checked_against_every_kind() {
    let plugin = plugins::plugin("misbehave");
    // `q` takes registrations, but a plugin may route an alarm into it, with its fields.
    let (ok, stderr, _) = check(&format!(
        "pipelines:\n  - name: p\n    on: [alarm]\n    stages:\n      - wasm: {{ plugin: '{}', routes: {{ other: q }} }}\n  - name: q\n    on: [registered]\n    stages:\n      - filter: {{ when: 'fields.site == \"lyon\" and event.code == \"Route\"' }}\n",
        plugin.display()
    ));
    assert!(ok, "{stderr}");
}

#[test]
fn a_snapshot_channel_that_is_no_number_and_a_field_read_before_its_snapshot_are_refused() {
    assert_error(
        "pipelines:
  - name: snap
    on: [alarm]
    stages:
      - snapshot: { channel: '{{ event.code }}' }
",
        "5:30",
        &["the channel renders \"VideoMotion\"", "channel number"],
    );
    assert_error(
        "pipelines:
  - name: snap
    on: [alarm]
    stages:
      - mqtt: { topic: 'pictures', payload: '{{ fields.snapshot }}' }
      - snapshot: {}
",
        "5:45",
        &["fields.snapshot"],
    );
    // After the stage, the field is known.
    let (ok, stderr, _) = check(
        "pipelines:
  - name: snap
    requires: [mqtt]
    on: [alarm]
    stages:
      - snapshot: {}
      - mqtt: { topic: 'pictures', payload: '{{ fields.snapshot }}' }
",
    );
    assert!(ok, "{stderr}");
}
