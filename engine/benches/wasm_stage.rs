//! The cost of a WebAssembly stage: the same logic as a built-in stage and as a plugin, run
//! on one thread (a current-thread runtime: one core), in the same process and the same
//! rounds, so the ratio is fair on a noisy machine.
//!
//! Pairs measured, per event, each stage called on fresh flows as a pipeline worker does —
//! once with one event per call (a pipeline with nothing queued) and once with the events in
//! batches of 32 (a worker's batch when events queue up: one `process-packed` call each):
//! - pass-through: a built-in stage that lets every event through, and the `misbehave` test
//!   plugin on an alarm it has no mode for (it looks at the code and passes);
//! - the same filter: `filter: { when: 'event.code not in ["VideoLoss"]' }`, and the
//!   `code-filter` plugin with `drop: [VideoLoss]`;
//! - the `enrich` plugin (a replacement with fields: the event crosses the boundary both
//!   ways) against `set` with the same fields.
//!
//! `cargo bench -p homeport --bench wasm_stage [-- --events 200000 --rounds 5]`
//! (builds the plugins for wasm32-wasip2 first). Prints medians and ratios, then where a
//! pass-through call's time goes; `--breakdown-only` prints just that, and `--only NAME
//! [--batch N]` runs only one plugin (for profiling).

#[path = "../tests/support/plugins.rs"]
mod plugins;
mod support;

use support::median;

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use homeport::event::{Event, EventKind};
use homeport::pipeline::Services;
use homeport::pipeline::stage::{Flow, Outcome, Stage, StageError};
use serde_json::{Map, Value};

/// The built-in pass-through.
#[derive(Debug)]
struct Pass;

impl Stage for Pass {
    fn run<'a>(&'a self, _flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        Box::pin(async { Ok(Outcome::Continue) })
    }
}

fn alarm(i: usize) -> Arc<Event> {
    let mut data = Map::new();
    data.insert("Name".to_owned(), Value::from("zone 1"));
    data.insert("Id".to_owned(), Value::from(i % 7));
    Event::new(
        format!("LYON-B{}", i % 100),
        EventKind::Alarm {
            channel: (i % 4) as i64,
            code: "VideoMotion".to_owned(),
            action: "start".to_owned(),
            device_time: Some("2026-11-21 10:00:00".to_owned()),
            device_utc: Some(1_795_000_000),
            data,
        },
    )
}

/// A pipeline worker's largest batch.
const BATCH: usize = 32;

/// Nanoseconds per event for `stage` over `events`, `batch` events per call (1: `run`, more:
/// `run_batch`).
async fn per_event(stage: &dyn Stage, events: &[Arc<Event>], batch: usize) -> f64 {
    let started = Instant::now();
    if batch == 1 {
        for event in events {
            let mut flow = Flow::new(Arc::clone(event));
            let outcome = stage.run(&mut flow).await.expect("stage runs");
            assert_eq!(outcome, Outcome::Continue);
        }
    } else {
        for chunk in events.chunks(batch) {
            let mut flows: Vec<Flow> = chunk.iter().map(|e| Flow::new(Arc::clone(e))).collect();
            let results = stage.run_batch(flows.iter_mut().collect()).await;
            assert_eq!(results.len(), chunk.len());
            for result in results {
                assert_eq!(result.expect("stage runs"), Outcome::Continue);
            }
        }
    }
    started.elapsed().as_nanos() as f64 / events.len() as f64
}

fn main() {
    let events: usize = support::arg("--events")
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let rounds: usize = support::arg("--rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bench.yaml");
    std::fs::write(
        &file,
        format!(
            r#"pipelines:
  - name: wasm-pass
    on: [alarm]
    stages: [ {{ wasm: {{ plugin: '{misbehave}' }} }} ]
  - name: native-filter
    on: [alarm]
    stages: [ {{ filter: {{ when: 'event.code not in ["VideoLoss"]' }} }} ]
  - name: wasm-filter
    on: [alarm]
    stages: [ {{ wasm: {{ plugin: '{code_filter}', config: {{ drop: [VideoLoss] }} }} }} ]
  - name: native-set
    on: [alarm]
    stages: [ {{ set: {{ fields: {{ site: lyon, building: B }} }} }} ]
  - name: wasm-enrich
    on: [alarm]
    stages: [ {{ wasm: {{ plugin: '{enrich}', config: {{ by_prefix: {{ "LYON-": {{ site: lyon, building: B }} }} }} }} }} ]
"#,
            misbehave = plugins::plugin("misbehave").display(),
            code_filter = plugins::plugin("code-filter").display(),
            enrich = plugins::plugin("enrich").display(),
        ),
    )
    .expect("write");
    let services = Services::offline(Arc::default(), false);
    let compiled = runtime.block_on(async {
        homeport::pipeline::runtime::build(std::slice::from_ref(&file), &services)
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let stage = |name: &str| -> &dyn Stage {
        let pipeline = compiled.iter().find(|p| p.name == name).expect("pipeline");
        pipeline.stages[0].1.as_ref()
    };
    let pass = Pass;
    let pairs: [(&str, &dyn Stage, &dyn Stage); 3] = [
        ("pass-through", &pass, stage("wasm-pass")),
        ("code filter", stage("native-filter"), stage("wasm-filter")),
        (
            "enrich (replace + 2 fields)",
            stage("native-set"),
            stage("wasm-enrich"),
        ),
    ];
    let events: Vec<Arc<Event>> = (0..events).map(alarm).collect();
    println!(
        "wasm_stage: {} events per measurement, {rounds} rounds, one thread",
        events.len()
    );
    if std::env::args().any(|a| a == "--breakdown-only") {
        runtime.block_on(breakdown(&services, &events));
        return;
    }
    // For profiling: only the plugin of one pair, at one batch size, for every round.
    if let Some(only) = support::arg("--only") {
        let batch = support::arg("--batch")
            .and_then(|v| v.parse().ok())
            .unwrap_or(BATCH);
        let (_, _, wasm) = pairs
            .iter()
            .find(|(name, _, _)| name.starts_with(only.as_str()))
            .expect("--only names a pair: pass-through, code filter or enrich");
        runtime.block_on(async {
            for _ in 0..rounds {
                let ns = per_event(*wasm, &events, batch).await;
                println!("  {only}: {ns:.0} ns/event, {batch} per call");
            }
        });
        return;
    }
    runtime.block_on(async {
        // Warm up: instances created, code paged in.
        for (_, native, wasm) in &pairs {
            per_event(*native, &events[..1000], BATCH).await;
            per_event(*wasm, &events[..1000], BATCH).await;
        }
        for batch in [1, BATCH] {
            println!("{batch} event(s) per call:");
            for (name, native, wasm) in &pairs {
                let (mut natives, mut wasms) = (Vec::new(), Vec::new());
                for _ in 0..rounds {
                    natives.push(per_event(*native, &events, batch).await);
                    wasms.push(per_event(*wasm, &events, batch).await);
                }
                let (native, wasm) = (median(natives), median(wasms));
                println!(
                    "  {name:28} built-in {native:8.0} ns/event   wasm {wasm:8.0} ns/event   added {:6.0} ns   wasm {:9.0} events/s   ratio {:.2}",
                    wasm - native,
                    1e9 / wasm,
                    wasm / native.max(1.0)
                );
            }
        }
        breakdown(&services, &events).await;
    });
}

/// Where a pass-through call's time goes: converting the event to its WIT record, and the
/// call itself (lowering, the guest, lifting the decision), alone and in batches, with the
/// bench's alarm, the same alarm without its `Data` (what the data JSON costs), and the
/// smallest alarm record the world allows.
async fn breakdown(services: &Services, events: &[Arc<Event>]) {
    use homeport::wasm::convert;
    use homeport::wasm::limits::Limits;
    use homeport::wasm::state::Grants;
    let plugin = plugins::plugin("misbehave");
    let pool = services
        .plugins
        .standalone_pool(
            &plugin,
            "bench",
            "{}".to_owned(),
            Limits::default(),
            Grants::default(),
        )
        .await
        .expect("loads");
    let started = Instant::now();
    for event in events {
        let texts = convert::Texts::of(event);
        std::hint::black_box(convert::to_wit(event, texts.get(0)).expect("in the world"));
    }
    let convert_ns = started.elapsed().as_nanos() as f64 / events.len() as f64;
    let small = Event::new(
        "",
        EventKind::Alarm {
            channel: 0,
            code: String::new(),
            action: String::new(),
            device_time: None,
            device_utc: None,
            data: Map::new(),
        },
    );
    let smallest: Vec<Arc<Event>> = (0..events.len()).map(|_| Arc::clone(&small)).collect();
    let no_data: Vec<Arc<Event>> = events
        .iter()
        .map(|event| {
            let mut event = Event::clone(event);
            if let EventKind::Alarm { data, .. } = &mut event.kind {
                data.clear();
            }
            Arc::new(event)
        })
        .collect();
    let mut row = format!("pass-through breakdown   to WIT record {convert_ns:5.0} ns");
    for batch in [1, BATCH] {
        for (what, events) in [
            ("call", events),
            ("no data", &no_data[..]),
            ("smallest record", &smallest[..]),
        ] {
            let started = Instant::now();
            for events in events.chunks(batch) {
                let events: Vec<&Event> = events.iter().map(|event| &**event).collect();
                let mut fields = vec![Map::new(); events.len()];
                for result in pool.process_batch(&events, &mut fields).await {
                    result.expect("passes");
                }
            }
            let ns = started.elapsed().as_nanos() as f64 / events.len() as f64;
            row.push_str(&format!("   {what} ({batch}/call) {ns:5.0} ns"));
        }
    }
    println!("{row}");
}
