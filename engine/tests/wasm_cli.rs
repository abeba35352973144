//! The plugin commands of the `homeport` binary: `plugin inspect` and `plugin run` on built
//! components, and `homeport check` refusing plugin stages at their file:line:column.

#[path = "support/plugins.rs"]
mod plugins;
#[path = "support/stdin.rs"]
mod stdin;

use std::process::{Command, Output};

use plugins::plugin;
use stdin::run_with_stdin;

fn homeport(args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_homeport"));
    command.args(args);
    if matches!(args.first(), Some(&"check")) || args.get(1) == Some(&"run") {
        command.arg("--plugin-cache").arg(plugins::cache_dir());
    }
    run_with_stdin(&mut command, stdin)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The decisions `homeport plugin run` printed, one JSON object per line.
fn decisions(output: &Output) -> Vec<serde_json::Value> {
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn plugin_run_prints_one_decision_per_event() {
    let path = plugin("code-filter");
    let events = [
        r#"{"device":"cam1","kind":"alarm","channel":0,"code":"VideoLoss","action":"start","data":{}}"#,
        r#"{"device":"cam1","kind":"alarm","channel":1,"code":"VideoMotion","action":"start","data":{}}"#,
        r#"{"device":"cam1","kind":"online_changed","online":true,"state":"online","reason":"login_ok"}"#,
    ]
    .join("\n");
    let output = homeport(
        &[
            "plugin",
            "run",
            &path.display().to_string(),
            "--config",
            r#"{"drop":["VideoLoss"]}"#,
        ],
        &events,
    );
    let answers = decisions(&output);
    let verdicts: Vec<&str> = answers
        .iter()
        .map(|a| a["verdict"].as_str().expect("verdict"))
        .collect();
    assert_eq!(verdicts, ["drop", "pass", "pass"]);
    assert_eq!(answers[0]["reason"], "code_filtered");
}

#[test]
fn plugin_run_reports_replacements_emissions_and_traps_and_keeps_going() {
    let path = plugin("misbehave");
    let events = [
        r#"{"device":"c","kind":"alarm","channel":0,"code":"Trap","action":"start","data":{}}"#,
        r#"{"device":"c","kind":"alarm","channel":0,"code":"Count","action":"start","data":{},"fields":{"site":"lyon"}}"#,
        r#"{"device":"c","kind":"alarm","channel":0,"code":"Count","action":"start","data":{}}"#,
        r#"{"device":"c","kind":"alarm","channel":0,"code":"Emit","action":"start","data":{}}"#,
    ]
    .join("\n");
    let output = homeport(
        &[
            "plugin",
            "run",
            &path.display().to_string(),
            "--grant",
            "kv",
        ],
        &events,
    );
    let answers = decisions(&output);
    assert_eq!(answers.len(), 4);
    let trap = answers[0]["error"].as_str().expect("an error");
    assert!(trap.contains("asked to trap"), "{trap}");
    assert_eq!(answers[1]["event"]["fields"]["count"], 1);
    assert_eq!(answers[1]["event"]["fields"]["site"], "lyon");
    assert_eq!(
        answers[2]["event"]["fields"]["count"], 2,
        "the store persists"
    );
    assert_eq!(answers[3]["emit"][0]["code"], "Emitted");
}

#[test]
fn without_the_clock_grant_wasi_clocks_stand_still() {
    let path = plugin("misbehave").display().to_string();
    let event =
        r#"{"device":"c","kind":"alarm","channel":0,"code":"Time","action":"start","data":{}}"#;
    let granted = decisions(&homeport(
        &["plugin", "run", &path, "--grant", "clock"],
        event,
    ));
    let denied = decisions(&homeport(&["plugin", "run", &path, "--grant", ""], event));
    let system_ms = |answers: &[serde_json::Value]| {
        answers[0]["event"]["fields"]["system_ms"]
            .as_u64()
            .expect("a time")
    };
    assert!(system_ms(&granted) > 1_700_000_000_000, "{granted:?}");
    assert_eq!(system_ms(&denied), 0);
}

#[test]
fn plugin_inspect_names_the_world_and_refuses_another_version() {
    let output = homeport(
        &[
            "plugin",
            "inspect",
            &plugin("debounce").display().to_string(),
        ],
        "",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let exports = |report: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = report["exports"]
            .as_array()
            .expect("exports")
            .iter()
            .map(|n| n.as_str().expect("a name").to_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        exports(&report),
        [
            "homeport:plugin/handler@0.1.2",
            "homeport:plugin/packed@0.1.2"
        ]
    );
    // A plugin built against 0.1.0 has no batch export, and is still accepted.
    let output = homeport(
        &[
            "plugin",
            "inspect",
            &plugin("one-at-a-time").display().to_string(),
        ],
        "",
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(exports(&report), ["homeport:plugin/handler@0.1.0"]);
    let output = homeport(
        &[
            "plugin",
            "inspect",
            &plugin("future-world").display().to_string(),
        ],
        "",
    );
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("homeport:plugin@0.2.0"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn check_refuses_plugin_stages_at_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plugins.yaml");
    let yaml = format!(
        r"pipelines:
  - name: future
    on: [alarm]
    stages:
      - wasm: {{ plugin: '{}' }}
  - name: refused
    on: [alarm]
    stages:
      - wasm:
          plugin: '{}'
          config: {{ window: never }}
",
        plugin("future-world").display(),
        plugin("debounce").display()
    );
    std::fs::write(&file, yaml).expect("write");
    let output = homeport(&["check", &file.display().to_string()], "");
    assert!(!output.status.success());
    let errors = text(&output.stderr);
    let name = file.display().to_string();
    assert!(
        errors.contains(&format!("{name}:5:")) && errors.contains("homeport:plugin@0.2.0"),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("{name}:11:")) && errors.contains("refused its config"),
        "{errors}"
    );

    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        format!(
            "pipelines:\n  - name: ok\n    on: [alarm]\n    stages:\n      - wasm: {{ plugin: '{}', config: {{ window: 5s }}, grant: [log, kv] }}\n",
            plugin("debounce").display()
        ),
    )
    .expect("write");
    let output = homeport(&["check", &good.display().to_string()], "");
    assert!(output.status.success(), "{}", text(&output.stderr));
}
