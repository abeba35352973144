#!/usr/bin/env bash
# Runs homeport's whole test suite: formatting, lints, and every test.
# Installs what the tests need when it is missing: python3 (the independent client),
# mosquitto and nats-server (real brokers for the sink tests), promtool, systemd-analyze,
# curl and prometheus_client (the operations tests), and the wasm32-wasip2 target (the
# plugins the WebAssembly tests load are built with it).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# A C toolchain: SQLite (bundled) and jemalloc are built from source.
{ command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } || need_apt+=(build-essential)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
# Real brokers for the MQTT and NATS tests (mosquitto lives in /usr/sbin).
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v nats-server >/dev/null 2>&1 || need_apt+=(nats-server)
# The operations tests: promtool checks /metrics, systemd-analyze the unit, curl asks the API.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The console's browser tests: Debian's Chromium and its WebDriver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
apt_install() {
  echo "installing: $*"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq "$@"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "$@"
  fi
}
if [ ${#need_apt[@]} -gt 0 ]; then
  apt_install "${need_apt[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
# The reference OpenMetrics and Prometheus text parsers (Python).
python3 -c 'import prometheus_client' 2>/dev/null ||
  python3 -m pip install --quiet prometheus_client 2>/dev/null ||
  python3 -m pip install --quiet --break-system-packages prometheus_client 2>/dev/null ||
  apt_install python3-prometheus-client
rustup target list --installed 2>/dev/null | grep -q '^wasm32-wasip2$' || rustup target add wasm32-wasip2

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== no import cycles between files"
for crate in engine protocol simulator; do python3 scripts/import-cycles.py "$crate/src"; done
echo "== independent client self-test"
python3 tests/clients/fake_device_selftest.py >/dev/null
echo "== plugins (wasm32-wasip2)"
cargo build --release --locked --target wasm32-wasip2 -p code-filter -p debounce -p enrich -p misbehave -p future-world -p one-at-a-time -p batch-world
cargo clippy --locked --target wasm32-wasip2 -p homeport-sdk -p code-filter -p debounce -p enrich -p misbehave -p future-world -p one-at-a-time -p batch-world -- -D warnings
echo "== pipeline tests: the shipped defaults and every example (homeport test)"
cargo run --locked -q -p homeport -- test pipelines pipelines/examples
echo "== cargo test"
cargo test --workspace --locked
# Every engine test that logs in ran against the `dvrip-only` simulated camera (the most
# likely real one); run them again against `dvrip+dhip`.
echo "== engine login tests against the dvrip+dhip firmware profile"
HOMEPORT_TEST_FIRMWARE=dvrip+dhip cargo test --locked -p homeport \
  --test gateway --test admin_api --test accounts_api --test camera_sync \
  --test camera_sync_extra --test half_open --test pipelines_devices \
  --test pipelines_mqtt --test pipelines_nats
