//! WebAssembly plugin stages in real pipelines: the example plugins do what they say; every
//! limit holds (time, memory, a trap) while the engine keeps serving; the key-value store
//! survives pipeline and plugin reloads; grants, routes and emitted events work; plugins of
//! another world version, missing files and bad configs are refused at their line.

mod support;

#[path = "support/plugins.rs"]
mod plugins;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use homeport::event::{Event, EventKind};
use homeport::pipeline::{PipelineHost, Services};
use homeport::wasm::PluginHost;
use plugins::{alarm, plugin};
use support::TestGateway;

/// A gateway (for its registry, store and bus) and pipelines from one YAML file.
struct Bench {
    gw: TestGateway,
    host: Arc<PipelineHost>,
    plugins: Arc<PluginHost>,
    _dir: tempfile::TempDir,
    file: PathBuf,
}

/// Replaces `{name}` placeholders with the built plugin's path.
fn with_plugins(yaml: &str) -> String {
    let mut text = yaml.to_owned();
    for package in [
        "code-filter",
        "debounce",
        "enrich",
        "misbehave",
        "future-world",
    ] {
        let placeholder = format!("{{{package}}}");
        if text.contains(&placeholder) {
            text = text.replace(&placeholder, &plugin(package).display().to_string());
        }
    }
    text
}

fn services(gw: &TestGateway, plugins: &Arc<PluginHost>) -> Services {
    Services::new(
        Arc::clone(gw.gateway.registry()),
        Some(gw.gateway.store().clone()),
        Arc::clone(plugins),
    )
}

impl Bench {
    async fn start(yaml: &str) -> Self {
        let gw = TestGateway::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("pipelines.yaml");
        std::fs::write(&file, with_plugins(yaml)).expect("write");
        let plugins = Arc::new(PluginHost::new(Some(plugins::cache_dir())));
        let host = PipelineHost::start(
            vec![file.clone()],
            services(&gw, &plugins),
            gw.gateway.bus().clone(),
        )
        .unwrap_or_else(|e| panic!("pipelines compile: {e}"));
        Self {
            gw,
            host,
            plugins,
            _dir: dir,
            file,
        }
    }

    fn publish(&self, event: Arc<Event>) {
        self.gw.gateway.bus().publish(event);
    }

    /// Waits until `pipeline` has taken `count` events and has none in flight.
    async fn settle(&self, pipeline: &str, count: u64) -> Totals {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (input, out, failed, dropped, in_flight) =
                self.host.totals(pipeline).await.expect("pipeline runs");
            if input >= count && in_flight == 0 {
                return Totals {
                    input,
                    out,
                    failed,
                    dropped,
                };
            }
            assert!(
                Instant::now() < deadline,
                "{pipeline}: in {input}/{count}, in flight {in_flight}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The errors of the dead letters stored so far.
    async fn dead_letter_errors(&self) -> Vec<String> {
        let letters = self.gw.gateway.store().dead_letters(None, 100).await;
        letters
            .expect("dead letters")
            .into_iter()
            .map(|letter| letter.error)
            .collect()
    }

    async fn metric(&self, sample: &str) -> u64 {
        let metrics = self.host.render_metrics().await;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Totals {
    input: u64,
    out: u64,
    failed: u64,
    dropped: u64,
}

#[tokio::test]
async fn code_filter_drops_listed_codes_and_passes_the_rest() {
    let bench = Bench::start(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: '{code-filter}', config: { drop: [VideoLoss, VideoBlind] } }
",
    )
    .await;
    for i in 0..30 {
        let code = ["VideoMotion", "VideoLoss", "VideoBlind"][i % 3];
        bench.publish(alarm(&format!("cam{}", i % 5), code));
    }
    let totals = bench.settle("p", 30).await;
    assert_eq!(
        totals,
        Totals {
            input: 30,
            out: 10,
            failed: 0,
            dropped: 20
        }
    );
    assert_eq!(
        bench
            .metric(r#"homeport_pipeline_dropped_total{pipeline="p",reason="code_filtered"}"#)
            .await,
        20
    );
    assert_eq!(
        bench
            .metric(r##"homeport_wasm_calls_total{pipeline="p",stage="#1 wasm",result="calls"}"##)
            .await,
        30
    );
}

#[tokio::test]
async fn debounce_lets_one_alarm_per_window_through_and_its_state_survives_a_reload() {
    let bench = Bench::start(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: '{debounce}', config: { window: 3s }, grant: [log, kv] }
",
    )
    .await;
    for _ in 0..5 {
        bench.publish(alarm("cam1", "VideoMotion"));
    }
    bench.publish(alarm("cam2", "VideoMotion"));
    let totals = bench.settle("p", 6).await;
    assert_eq!(
        (totals.out, totals.dropped),
        (2, 4),
        "one per device and key"
    );
    // A reload builds new stages and instances; the window's state is in the host's store.
    bench.host.reload().await.expect("reloads");
    bench.publish(alarm("cam1", "VideoMotion"));
    let totals = bench.settle("p", 1).await;
    assert_eq!(
        (totals.out, totals.dropped),
        (0, 1),
        "still inside the window after the reload"
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    bench.publish(alarm("cam1", "VideoMotion"));
    let totals = bench.settle("p", 2).await;
    assert_eq!(totals.out, 1, "the window has passed");
}

#[tokio::test]
async fn enrich_adds_fields_by_device_prefix_for_later_stages() {
    let bench = Bench::start(
        r#"
pipelines:
  - name: p
    on: [alarm]
    stages:
      # A field from an earlier stage: the plugin reads it from the host and keeps it.
      - set: { fields: { camera_group: outdoor } }
      - wasm:
          plugin: '{enrich}'
          config:
            fields: { region: eu }
            by_prefix: { "LYON-": { site: lyon }, "LYON-B": { site: lyon-b, floor: 2 } }
      - filter: { when: 'fields.camera_group == "outdoor" and fields.region == "eu" and fields.site == "lyon-b" and fields.floor == 2' }
"#,
    )
    .await;
    bench.publish(alarm("LYON-B7", "VideoMotion"));
    bench.publish(alarm("LYON-A1", "VideoMotion"));
    bench.publish(alarm("PARIS-1", "VideoMotion"));
    let totals = bench.settle("p", 3).await;
    assert_eq!(
        (totals.out, totals.dropped),
        (1, 2),
        "only the longest prefix gives lyon-b"
    );
}

/// The loop runs on a single-threaded runtime: the engine keeps serving only because the
/// plugin's call yields at every epoch tick until its deadline stops it.
#[tokio::test(flavor = "current_thread")]
async fn an_infinite_loop_is_stopped_at_the_deadline_while_other_events_keep_flowing() {
    let bench = Bench::start(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: '{misbehave}', limits: { time: 1500ms } }
    on_error: { retry: { max: 0 }, then: drop }
  - name: q
    on: [alarm]
    stages:
      - filter: { when: 'true' }
",
    )
    .await;
    let started = Instant::now();
    bench.publish(alarm("spinner", "Spin"));
    // Let the spinning call start, then send other devices' alarms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let others = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for device in others {
        bench.publish(alarm(device, "VideoMotion"));
    }
    // Another pipeline handles every alarm while the loop is still running.
    let q = bench.settle("q", 9).await;
    let served_at = started.elapsed();
    assert_eq!(q.out, 9);
    assert!(
        served_at < Duration::from_millis(1500),
        "the engine stalled behind the loop: {served_at:?}"
    );
    let totals = bench.settle("p", 9).await;
    let stopped_at = started.elapsed();
    assert!(
        stopped_at >= Duration::from_millis(1500) && stopped_at < Duration::from_secs(5),
        "the loop was stopped at its deadline: {stopped_at:?}"
    );
    assert_eq!(
        totals.dropped, 1,
        "the spinning event failed under the policy"
    );
    assert_eq!(totals.out, others.len() as u64);
    assert_eq!(
        bench
            .metric(r##"homeport_wasm_calls_total{pipeline="p",stage="#1 wasm",result="timeout"}"##)
            .await,
        1
    );
    // The spinning instance was thrown away; the device's next event gets a fresh one.
    bench.publish(alarm("spinner", "VideoMotion"));
    let totals = bench.settle("p", 10).await;
    assert_eq!(totals.out, others.len() as u64 + 1);
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit_and_the_next_event_gets_a_fresh_instance() {
    let bench = Bench::start(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      # A generous time limit: on a loaded machine growing memory is slow, and only the
      # memory limit may stop this one.
      - wasm: { plugin: '{misbehave}', limits: { memory: 16MiB, time: 10s } }
    on_error: { retry: { max: 0 }, then: drop }
",
    )
    .await;
    bench.publish(alarm("cam1", "Bomb"));
    bench.publish(alarm("cam1", "VideoMotion"));
    let totals = bench.settle("p", 2).await;
    assert_eq!((totals.out, totals.dropped), (1, 1));
    let sample = |result: &str| {
        format!(r##"homeport_wasm_calls_total{{pipeline="p",stage="#1 wasm",result="{result}"}}"##)
    };
    assert_eq!(
        bench.metric(&sample("out_of_memory")).await,
        1,
        "{}",
        bench.host.render_metrics().await
    );
    assert_eq!(
        bench
            .metric(r##"homeport_wasm_recycled_total{pipeline="p",stage="#1 wasm"}"##)
            .await,
        1
    );
}

#[tokio::test]
async fn a_trap_fails_only_its_event_and_is_dead_lettered_with_the_panic_message() {
    let bench = Bench::start(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: '{misbehave}' }
    on_error: { retry: { max: 1, backoff: 10ms }, then: dead_letter }
",
    )
    .await;
    bench.publish(alarm("cam1", "VideoMotion"));
    bench.publish(alarm("cam1", "Trap"));
    bench.publish(alarm("cam1", "VideoMotion"));
    bench.publish(alarm("cam2", "VideoMotion"));
    let totals = bench.settle("p", 4).await;
    assert_eq!((totals.out, totals.failed), (3, 1));
    let errors = bench.dead_letter_errors().await;
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("trapped") && errors[0].contains("asked to trap"),
        "{}",
        errors[0]
    );
    assert_eq!(
        bench
            .metric(r##"homeport_wasm_calls_total{pipeline="p",stage="#1 wasm",result="trap"}"##)
            .await,
        2,
        "the first attempt and its one retry"
    );
}

#[tokio::test]
async fn ungranted_host_calls_fail_the_event_with_a_clear_error() {
    let bench = Bench::start(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: '{misbehave}', grant: [] }
    on_error: { then: dead_letter }
",
    )
    .await;
    bench.publish(alarm("cam1", "Count"));
    bench.publish(alarm("cam1", "Clock"));
    bench.publish(alarm("cam1", "VideoMotion"));
    let totals = bench.settle("p", 3).await;
    assert_eq!((totals.out, totals.failed), (1, 2));
    let errors = bench.dead_letter_errors().await;
    assert!(
        errors.iter().any(|e| e.contains("does not grant `kv`")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("does not grant `clock`")),
        "{errors:?}"
    );
}

#[tokio::test]
async fn emitted_events_reach_the_bus_and_routes_carry_fields_into_the_target_pipeline() {
    let bench = Bench::start(
        r#"
pipelines:
  - name: p
    on: [alarm]
    when: 'event.code != "Emitted"'
    stages:
      - set: { fields: { site: lyon } }
      - wasm: { plugin: '{misbehave}', routes: { other: q } }
  - name: q
    on: [registered]
    stages:
      - filter: { when: 'fields.site == "lyon" and event.code == "Route"' }
"#,
    )
    .await;
    let mut events = bench.gw.gateway.bus().subscribe();
    bench.publish(alarm("cam1", "Emit"));
    bench.publish(alarm("cam1", "Route"));
    let emitted = support::wait_for(
        &mut events,
        "the emitted alarm",
        |e| matches!(&e.kind, EventKind::Alarm { code, .. } if code == "Emitted"),
    )
    .await;
    assert_eq!(emitted.device, "cam1");
    assert_eq!(emitted.hops, 1);
    let p = bench.settle("p", 2).await;
    assert_eq!(p.out, 1, "the Emit alarm passes");
    let q = bench.settle("q", 1).await;
    assert_eq!((q.input, q.out), (1, 1), "routed with its fields");
    assert_eq!(
        bench
            .metric(r#"homeport_pipeline_events_total{pipeline="p",outcome="routed"}"#)
            .await,
        1
    );
}

#[tokio::test]
async fn events_emitted_with_a_drop_are_published_in_place_of_the_dropped_one() {
    let bench = Bench::start(
        r#"
pipelines:
  - name: p
    on: [alarm]
    when: 'event.code != "Part"'
    stages:
      - wasm: { plugin: '{misbehave}' }
"#,
    )
    .await;
    let mut events = bench.gw.gateway.bus().subscribe();
    bench.publish(alarm("cam1", "Split"));
    for _ in 0..2 {
        let part = support::wait_for(
            &mut events,
            "a part",
            |e| matches!(&e.kind, EventKind::Alarm { code, .. } if code == "Part"),
        )
        .await;
        assert_eq!(part.device, "cam1");
    }
    let totals = bench.settle("p", 3).await;
    assert_eq!(
        bench
            .metric(r#"homeport_pipeline_dropped_total{pipeline="p",reason="split"}"#)
            .await,
        1
    );
    assert_eq!(totals.input, 3, "the split alarm and its two parts");
}

#[tokio::test]
async fn a_changed_plugin_file_is_reloaded_and_the_kv_store_survives_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live.wasm");
    std::fs::copy(plugin("misbehave"), &live).expect("copy");
    let yaml = format!(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: {{ plugin: '{}', grant: [kv] }}
      - filter: {{ when: 'fields.count == {{{{ expected }}}}' }}
",
        live.display()
    );
    // The filter checks the counter through the event's fields: expected is set per phase.
    let phase = |expected: u64| yaml.replace("{{ expected }}", &expected.to_string());
    let bench = Bench::start(&phase(1)).await;
    bench.publish(alarm("cam1", "Count"));
    assert_eq!(bench.settle("p", 1).await.out, 1, "count 1");

    // A different build lands in place of the file: code-filter, which ignores `Count`.
    std::fs::copy(plugin("code-filter"), &live).expect("copy");
    let reloaded = bench.plugins.reload_changed().await;
    assert_eq!(reloaded.len(), 1);
    bench.publish(alarm("cam1", "Count"));
    let totals = bench.settle("p", 2).await;
    assert_eq!(
        totals.dropped, 1,
        "the new build sets no count, so the filter drops it"
    );

    // The original build comes back; its counter continues where it was.
    std::fs::copy(plugin("misbehave"), &live).expect("copy");
    std::fs::write(&bench.file, phase(2)).expect("write");
    bench.plugins.reload_changed().await;
    bench.host.reload().await.expect("reloads");
    bench.publish(alarm("cam1", "Count"));
    assert_eq!(
        bench.settle("p", 1).await.out,
        1,
        "count 2: the store kept 1"
    );
    assert!(bench.metric("homeport_wasm_reloads_total").await >= 2);
}

#[tokio::test]
async fn a_changed_plugin_that_fails_to_load_keeps_the_previous_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("live.wasm");
    std::fs::copy(plugin("code-filter"), &live).expect("copy");
    let bench = Bench::start(&format!(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: {{ plugin: '{}', config: {{ drop: [VideoLoss] }} }}
",
        live.display()
    ))
    .await;
    // A build for another world version, then one refusing the stage's config.
    for replacement in ["future-world", "misbehave"] {
        std::fs::copy(plugin(replacement), &live).expect("copy");
        assert!(bench.plugins.reload_changed().await.is_empty());
    }
    // A pipeline reload takes the file as it is and reports why it cannot run it.
    let errors = bench.host.reload().await.expect_err("refused").to_string();
    assert!(errors.contains("refused its config"), "{errors}");
    bench.publish(alarm("cam1", "VideoLoss"));
    bench.publish(alarm("cam1", "VideoMotion"));
    let totals = bench.settle("p", 2).await;
    assert_eq!(
        (totals.out, totals.dropped),
        (1, 1),
        "code-filter still runs"
    );
    assert_eq!(bench.metric("homeport_wasm_reload_failures_total").await, 2);
}

#[tokio::test]
async fn compiled_plugins_are_cached_on_disk_by_content() {
    let cache = tempfile::tempdir().expect("tempdir");
    let path = plugin("code-filter");
    let first = PluginHost::new(Some(cache.path().to_owned()));
    first.load(&path).expect("loads");
    let engine = first.engine().expect("engine");
    assert_eq!(engine.cache_stats(), Some((0, 1)), "compiled once");
    // A new host (a restart) finds the compiled component in the cache.
    let second = PluginHost::new(Some(cache.path().to_owned()));
    second.load(&path).expect("loads");
    let engine = second.engine().expect("engine");
    assert_eq!(engine.cache_stats(), Some((1, 0)), "taken from the cache");
}

/// Builds `yaml` as a pipeline file and returns the errors' text.
fn refused(yaml: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, with_plugins(yaml)).expect("write");
    let services = Services::offline(Arc::default(), true);
    match homeport::pipeline::runtime::build(std::slice::from_ref(&file), &services) {
        Ok(_) => panic!("accepted:\n{yaml}"),
        Err(errors) => errors
            .to_string()
            .replace(&file.display().to_string(), "FILE"),
    }
}

#[test]
fn a_plugin_built_against_another_world_version_is_refused_with_a_clear_message() {
    let errors = refused(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: '{future-world}' }
",
    );
    assert!(errors.contains("FILE:6:"), "{errors}");
    assert!(errors.contains("homeport:plugin@0.2.0"), "{errors}");
    assert!(errors.contains("homeport:plugin@0.1.x"), "{errors}");
}

#[test]
fn a_missing_plugin_file_is_refused_at_its_line() {
    let errors = refused(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm: { plugin: nowhere/none.wasm }
",
    );
    assert!(errors.contains("FILE:6:"), "{errors}");
    assert!(errors.contains("none.wasm"), "{errors}");
    assert!(errors.contains("cannot read"), "{errors}");
}

#[test]
fn a_config_the_plugin_refuses_is_an_error_at_the_config_line() {
    let errors = refused(
        r"
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm:
          plugin: '{code-filter}'
          config: { drop: VideoLoss }
",
    );
    assert!(errors.contains("FILE:8:"), "{errors}");
    assert!(errors.contains("refused its config"), "{errors}");
    assert!(errors.contains("drop"), "{errors}");
}

#[test]
fn unknown_grants_routes_and_limits_are_errors_at_their_line() {
    for (option, expected) in [
        ("grant: [log, network]", "unknown grant \"network\""),
        (
            "routes: { urgent: nowhere }",
            "\"nowhere\", which is not defined",
        ),
        ("routes: { back: p }", "would loop"),
        ("limits: { memory: 12 parsecs }", "unknown size unit"),
        ("limits: { time: 0s }", "above zero"),
    ] {
        let errors = refused(&format!(
            "
pipelines:
  - name: p
    on: [alarm]
    stages:
      - wasm:
          plugin: '{{code-filter}}'
          {option}
"
        ));
        assert!(
            errors.contains("FILE:8:") && errors.contains(expected),
            "{option}: {errors}"
        );
    }
}

#[test]
fn a_core_module_is_not_taken_for_a_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let module = dir.path().join("module.wasm");
    // The smallest core module: magic and version 1.
    std::fs::write(&module, b"\0asm\x01\0\0\0").expect("write");
    let error = PluginHost::default()
        .load(Path::new(&module))
        .expect_err("refused");
    assert!(error.to_string().contains("not a component"), "{error}");
}
