//! A quick, criterion-free measurement of the store's batch writes at 10 000 devices.
//!
//! Ignored by default; run in release mode and read the printed timings:
//! `cargo test -p homeport --release --lib store::measure -- --ignored --nocapture`

use std::time::Instant;

use super::StateUpdate;
use super::test_support::{TestStore, creds};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run it in release mode with --ignored --nocapture"]
async fn ten_thousand_device_batches() {
    const N: usize = 10_000;
    let t = TestStore::new();
    let devices: Vec<_> = (0..N)
        .map(|i| creds(&format!("cam-{i:05}"), "pw"))
        .collect();

    let start = Instant::now();
    let report = t
        .store
        .upsert_devices(devices.clone())
        .await
        .expect("imported");
    let insert = start.elapsed();
    assert_eq!(report.added, N);

    let start = Instant::now();
    let report = t.store.upsert_devices(devices).await.expect("re-imported");
    let replace = start.elapsed();
    assert_eq!(report.updated, N);

    let updates = |state: &str, seen: i64| -> Vec<StateUpdate> {
        (0..N)
            .map(|i| StateUpdate {
                last_addr: Some(format!("10.0.{}.{}:37777", i / 256, i % 256)),
                last_seen_ms: Some(seen),
                reason: Some(String::new()),
                ..StateUpdate::new(format!("cam-{i:05}"), state)
            })
            .collect()
    };
    let mut states = Vec::new();
    for (round, state) in ["online", "offline", "online"].into_iter().enumerate() {
        let batch = updates(state, i64::try_from(round).unwrap_or(0));
        let start = Instant::now();
        let updated = t.store.record_states(batch).await.expect("recorded");
        states.push(start.elapsed());
        assert_eq!(updated, N);
    }

    let start = Instant::now();
    let listed = t.store.devices().await.expect("listed");
    let list = start.elapsed();
    assert_eq!(listed.len(), N);

    let start = Instant::now();
    let online = t.store.devices_in_state("online").await.expect("listed");
    let in_state = start.elapsed();
    assert_eq!(online.len(), N);

    println!("upsert_devices {N} new:           {insert:?}");
    println!("upsert_devices {N} existing:      {replace:?}");
    println!("record_states {N} (3 batches):    {states:?}");
    println!("devices() {N} (decrypts all):     {list:?}");
    println!("devices_in_state(online) {N}:     {in_state:?}");
}
