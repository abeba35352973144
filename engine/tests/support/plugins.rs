//! The plugin components the WebAssembly tests load, built for `wasm32-wasip2` once per test
//! process (a no-op when they are up to date; the test command builds them first anyway).

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use homeport::event::{Event, EventKind};
use serde_json::Map;

/// Every plugin package the tests use.
const PACKAGES: [&str; 7] = [
    "code-filter",
    "debounce",
    "enrich",
    "misbehave",
    "future-world",
    "one-at-a-time",
    "batch-world",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// A compilation cache shared by the test processes (compiling a plugin with an unoptimised
/// wasmtime takes seconds; loading it from the cache, milliseconds).
pub fn cache_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| workspace().join("target"), PathBuf::from)
        .join("tmp/plugin-test-cache")
}

/// The built component of `package` (e.g. `code-filter` → `…/code_filter.wasm`).
pub fn plugin(package: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = Command::new(cargo);
        command
            .current_dir(workspace())
            .args(["build", "--release", "--target", "wasm32-wasip2"]);
        for package in PACKAGES {
            command.args(["-p", package]);
        }
        let status = command.status().expect("cargo runs");
        assert!(
            status.success(),
            "building the test plugins failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
        );
    });
    let target = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| workspace().join("target"), PathBuf::from);
    let path = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// A `start` alarm of `code` on channel 0 from `device`, with no data.
pub fn alarm(device: &str, code: &str) -> Arc<Event> {
    Event::new(
        device,
        EventKind::Alarm {
            channel: 0,
            code: code.to_owned(),
            action: "start".to_owned(),
            device_time: None,
            device_utc: None,
            data: Map::new(),
        },
    )
}
