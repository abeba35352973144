//! Several events in one plugin call (`process-packed`, world 0.1.2): each event keeps its own
//! id, fields and device, and every text of every kind arrives whole; a trap in the middle
//! fails only its event and undoes the call's key-value writes before the others run again
//! one at a time; a plugin built against 0.1.1 gets its batches as lists of records
//! (`process-batch`) and one built against 0.1.0 (no batch export) one call per event; a
//! pipeline stage batches what is queued.

#[path = "support/plugins.rs"]
mod plugins;

use plugins::alarm;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use homeport::event::{DeviceState, Event, EventKind, OnlineReason, RegistrationKind, Reported};
use homeport::pipeline::Services;
use homeport::pipeline::stage::{Flow, Outcome};
use homeport::wasm::PluginHost;
use homeport::wasm::bindings::types::{Decision, Field};
use homeport::wasm::convert;
use homeport::wasm::limits::Limits;
use homeport::wasm::pool::{CallError, Pool};
use homeport::wasm::state::Grants;
use serde_json::{Map, Value, json};

async fn pool(package: &str, grants: Grants) -> Arc<Pool> {
    pool_with(package, grants, Limits::default()).await
}

async fn pool_with(package: &str, grants: Grants, limits: Limits) -> Arc<Pool> {
    pool_configured(package, "{}", grants, limits).await
}

async fn pool_configured(package: &str, config: &str, grants: Grants, limits: Limits) -> Arc<Pool> {
    let host = PluginHost::new(Some(plugins::cache_dir()));
    host.standalone_pool(
        &plugins::plugin(package),
        "batch-test",
        config.to_owned(),
        limits,
        grants,
    )
    .await
    .unwrap_or_else(|e| panic!("{package} loads: {e}"))
}

/// `events` through `pool` in one `process_batch`, event `i` carrying the field `n` = `i`.
async fn batch(pool: &Pool, events: &[Arc<Event>]) -> Vec<Result<Decision, CallError>> {
    let events: Vec<&Event> = events.iter().map(|event| &**event).collect();
    let mut fields: Vec<Map<String, Value>> = (0..events.len())
        .map(|i| {
            let mut fields = Map::new();
            fields.insert("n".to_owned(), json!(i));
            fields
        })
        .collect();
    pool.process_batch(&events, &mut fields).await
}

/// The decision's field `name`, parsed.
fn field(decision: &Decision, name: &str) -> Option<Value> {
    let fields: &[Field] = decision.fields.as_deref()?;
    let field = fields.iter().find(|f| f.name == name)?;
    Some(serde_json::from_str(&field.value).expect("field values are JSON"))
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test]
async fn a_batch_is_one_call_in_which_each_event_reads_its_own_fields() {
    let pool = pool("misbehave", Grants::default()).await;
    // `Time` replaces the event with the field `system_ms` added to the fields it had.
    let events: Vec<Arc<Event>> = (0..5).map(|i| alarm(&format!("cam{i}"), "Time")).collect();
    let results = batch(&pool, &events).await;
    assert_eq!(results.len(), 5);
    for (i, result) in results.iter().enumerate() {
        let decision = result.as_ref().expect("passes");
        assert_eq!(field(decision, "n"), Some(json!(i)), "event {i}");
        assert!(field(decision, "system_ms").is_some(), "event {i}");
    }
    assert_eq!(load(&pool.stats.batches), 1);
    assert_eq!(load(&pool.stats.calls), 5);
}

/// Checks what the fixtures that report what they saw (`one-at-a-time`, `batch-world`) answered:
/// every event passed, having seen its own id and its one field `n` = its index. Gives each
/// decision with its index.
fn saw_their_own_ids_and_fields<'a>(
    results: &'a [Result<Decision, CallError>],
    events: &[Arc<Event>],
) -> Vec<(usize, &'a Decision)> {
    assert_eq!(results.len(), events.len());
    let mut decisions = Vec::new();
    for (i, (result, event)) in results.iter().zip(events).enumerate() {
        let decision = result.as_ref().expect("passes");
        assert_eq!(
            field(decision, "seen_id"),
            Some(json!(event.id.to_string())),
            "event {i}"
        );
        assert_eq!(field(decision, "seen_fields"), Some(json!(1)), "event {i}");
        assert_eq!(field(decision, "n"), Some(json!(i)), "event {i}");
        decisions.push((i, decision));
    }
    decisions
}

/// One event of every kind the world has, with texts that are empty, absent, quoted and not
/// ASCII.
fn every_kind() -> Vec<Arc<Event>> {
    let mut data = Map::new();
    data.insert("Zone".to_owned(), json!("Entrée \"A\""));
    data.insert("Count".to_owned(), json!(2));
    vec![
        Event::new(
            "caméra 1",
            EventKind::Alarm {
                channel: 3,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: Some("2026-12-06 23:40:01".to_owned()),
                device_utc: Some(1_796_600_401),
                data,
            },
        ),
        Event::new(
            "",
            EventKind::Alarm {
                channel: -1,
                code: String::new(),
                action: String::new(),
                device_time: None,
                device_utc: None,
                data: Map::new(),
            },
        ),
        Event::new(
            "CAM-2",
            EventKind::Registered {
                peer: "127.0.0.1:40000".to_owned(),
                registration: RegistrationKind::SerialToken,
                token: Some("tøken".to_owned()),
            },
        ),
        Event::new(
            "CAM-3",
            EventKind::OnlineChanged {
                online: false,
                state: DeviceState::LoginFailed,
                reason: OnlineReason::LoginFailed,
                detail: Some("the device said: « mot de passe »".to_owned()),
                since_ms: Some(1_796_600_000_000),
                reported: Reported::default(),
            },
        ),
        Event::new(
            "CAM-4",
            EventKind::ConfigApplied {
                name: "DVRIP".to_owned(),
                changed: true,
                dry_run: false,
                table: json!({"RegisterServer": {"Enable": true, "Servers": [{"Port": 7000}]}}),
                error: Some("partly written".to_owned()),
            },
        ),
        Event::new(
            "CAM-5",
            EventKind::SyncRequest {
                session: 77,
                account: Some("opérateur".to_owned()),
                peer: "127.0.0.1:40001".to_owned(),
                data: true,
                command: "UploadCaramer".to_owned(),
                message: None,
            },
        ),
    ]
}

#[tokio::test]
async fn a_packed_batch_carries_every_kind_with_every_text_whole() {
    let pool = pool_configured(
        "misbehave",
        r#"{"echo": true}"#,
        Grants::default(),
        Limits::default(),
    )
    .await;
    let events = every_kind();
    let results = batch(&pool, &events).await;
    assert_eq!(results.len(), events.len());
    for (i, (result, event)) in results.into_iter().zip(&events).enumerate() {
        let decision = result.unwrap_or_else(|e| panic!("event {i} fails: {e}"));
        let echoed = decision.replace.expect("the plugin sends the event back");
        assert_eq!(echoed.device, event.device, "event {i}");
        assert_eq!(echoed.at_ms, event.at_ms, "event {i}");
        let kind = convert::kind_from_wit(echoed.kind, &event.kind).expect("a valid record");
        assert_eq!(kind, event.kind, "event {i}");
    }
    assert_eq!(load(&pool.stats.batches), 1, "one packed call");
    assert_eq!(load(&pool.stats.calls), events.len() as u64);
}

#[tokio::test]
async fn a_plugin_built_against_0_1_1_gets_its_batch_as_records_in_one_call() {
    let pool = pool("batch-world", Grants::default()).await;
    let codes = ["VideoMotion", "Détection", "", "VideoLoss"];
    let events: Vec<Arc<Event>> = codes.iter().map(|code| alarm("cam1", code)).collect();
    let results = batch(&pool, &events).await;
    for (i, decision) in saw_their_own_ids_and_fields(&results, &events) {
        assert_eq!(
            field(decision, "seen_code"),
            Some(json!(codes[i])),
            "event {i}"
        );
    }
    assert_eq!(load(&pool.stats.batches), 1, "one process-batch call");
    assert_eq!(load(&pool.stats.calls), 4);
}

#[tokio::test]
async fn a_plugin_built_against_0_1_0_gets_one_call_per_event_with_its_own_id_and_fields() {
    let pool = pool("one-at-a-time", Grants::default()).await;
    let events: Vec<Arc<Event>> = (0..4).map(|i| alarm(&format!("cam{i}"), "X")).collect();
    let results = batch(&pool, &events).await;
    saw_their_own_ids_and_fields(&results, &events);
    assert_eq!(
        load(&pool.stats.batches),
        0,
        "no batch export: no batch call"
    );
    assert_eq!(load(&pool.stats.calls), 4);
}

#[tokio::test]
async fn a_trap_mid_batch_fails_only_its_event_and_its_writes_do_not_count_twice() {
    let mut grants = Grants::default();
    grants.grant("kv");
    let pool = pool("misbehave", grants).await;
    // `Count` adds one to the KV key `count`; the two before the trap ran in the batch call
    // and run again alone: the count must still be one per event.
    let codes = ["Count", "Count", "Trap", "Fail", "Count", "VideoMotion"];
    let events: Vec<Arc<Event>> = codes.iter().map(|code| alarm("cam1", code)).collect();
    let results = batch(&pool, &events).await;
    let counts: Vec<Option<Value>> = results
        .iter()
        .map(|r| r.as_ref().ok().and_then(|d| field(d, "count")))
        .collect();
    assert_eq!(
        counts,
        [
            Some(json!(1)),
            Some(json!(2)),
            None,
            None,
            Some(json!(3)),
            None
        ]
    );
    match &results[2] {
        Err(CallError::Trap(message)) => assert!(message.contains("asked to trap"), "{message}"),
        other => panic!("the trapping event: {other:?}"),
    }
    match &results[3] {
        Err(CallError::Plugin(message)) => assert_eq!(message, "asked to fail"),
        other => panic!("the failing event: {other:?}"),
    }
    assert!(results[5].is_ok());
    assert_eq!(
        load(&pool.stats.traps),
        1,
        "the trap ran once, in the batch"
    );
    assert_eq!(load(&pool.stats.recycled), 1);
    // The next batch starts from the count the events left, on a fresh instance.
    let results = batch(&pool, &[alarm("cam1", "Count"), alarm("cam1", "Count")]).await;
    let decision = results[1].as_ref().expect("passes");
    assert_eq!(field(decision, "count"), Some(json!(5)));
}

#[tokio::test]
async fn an_event_that_spins_in_a_batch_gets_one_event_s_time_and_the_others_pass() {
    let limit = Duration::from_millis(200);
    let limits = Limits {
        time: limit,
        ..Limits::default()
    };
    let pool = pool_with("misbehave", Grants::default(), limits).await;
    let mut events: Vec<Arc<Event>> = (0..20).map(|_| alarm("cam1", "VideoMotion")).collect();
    events[3] = alarm("cam1", "Spin");
    let started = Instant::now();
    let results = batch(&pool, &events).await;
    let took = started.elapsed();
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (3, Err(CallError::Timeout(after))) => assert_eq!(*after, limit),
            (3, other) => panic!("the spinning event: {other:?}"),
            (_, other) => assert!(other.is_ok(), "event {i}: {other:?}"),
        }
    }
    assert_eq!(load(&pool.stats.timeouts), 1);
    // Its own time from `current.enter`, not the whole call's (20 × 200 ms).
    assert!(took < limit * 10, "the batch took {took:?}");
}

/// Log lines written by `tracing`, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        lines.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn log_lines_in_a_batch_name_each_event_s_own_device() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let pool = pool("misbehave", Grants::default()).await;
    let events = [
        alarm("gate", "Log"),
        alarm("hall", "VideoMotion"),
        alarm("yard", "Log"),
    ];
    let results = batch(&pool, &events).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(load(&pool.stats.batches), 1);
    let text = String::from_utf8(captured.0.lock().expect("lines").clone()).expect("UTF-8");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("asked to log"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("device=gate"), "{}", lines[0]);
    assert!(lines[1].contains("device=yard"), "{}", lines[1]);
}

#[tokio::test]
async fn a_wasm_stage_takes_flows_in_one_batch_call_and_keeps_their_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("batch.yaml");
    std::fs::write(
        &file,
        format!(
            "pipelines:\n  - name: p\n    on: [alarm]\n    stages: [ {{ wasm: {{ plugin: '{}', grant: [kv] }} }} ]\n",
            plugins::plugin("misbehave").display()
        ),
    )
    .expect("write");
    let services = Services::offline(Arc::default(), false);
    let compiled = homeport::pipeline::runtime::build(std::slice::from_ref(&file), &services)
        .unwrap_or_else(|e| panic!("{e}"));
    let stage = compiled[0].stages[0].1.as_ref();
    let codes = ["Count", "Split", "Fail", "Count", "Route"];
    let mut flows: Vec<Flow> = codes
        .iter()
        .map(|code| Flow::new(alarm("cam1", code)))
        .collect();
    let results = stage.run_batch(flows.iter_mut().collect()).await;
    assert_eq!(results.len(), codes.len());
    assert_eq!(results[0].as_ref().ok(), Some(&Outcome::Continue));
    assert_eq!(results[1].as_ref().ok(), Some(&Outcome::Drop("split")));
    assert!(
        results[2]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("asked to fail"))
    );
    assert_eq!(results[3].as_ref().ok(), Some(&Outcome::Continue));
    assert!(
        results[4]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("does not name")),
        "a route to an output the stage does not map"
    );
    assert_eq!(flows[0].fields.get("count"), Some(&json!(1)));
    assert_eq!(flows[3].fields.get("count"), Some(&json!(2)));
    assert_eq!(flows[1].emitted.len(), 2, "Split emits two parts");
    let mut metrics = homeport::metrics::Exposition::new();
    stage.render_metrics(&[("pipeline", "p")], &mut metrics);
    let text = metrics.finish();
    assert!(
        text.contains("homeport_wasm_batches_total{pipeline=\"p\"} 1"),
        "{text}"
    );
}
