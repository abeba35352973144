//! Running homeport as an operator does: the real binary configured from `HOMEPORT_*`
//! variables, its stderr in a file, a simulated fleet, a real mosquitto; then what the
//! operator reads — the log file (JSON lines, no escape codes), `/metrics` through
//! `promtool` and the reference OpenMetrics parser, `/readyz` as the broker goes and comes
//! back, `homeport token`, a secrets export's file mode; and the systemd unit through
//! `systemd-analyze verify`.

#[path = "support/home_assistant.rs"]
mod home_assistant;
#[path = "brokers/mosquitto.rs"]
mod mosquitto;
#[path = "brokers/mqtt_subscriber.rs"]
mod mqtt_subscriber;
#[path = "support/stdin.rs"]
mod stdin;

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mosquitto::{Mosquitto, free_port, terminate};
use serde_json::Value;
use stdin::run_with_stdin;

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");
const WAIT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `homeport run` with its flags in the environment and stderr in `<dir>/homeport.log`.
struct Gateway {
    child: Option<Child>,
    dir: tempfile::TempDir,
    admin: String,
    register: u16,
    sync: u16,
    format: String,
    mqtt: Option<String>,
}

impl Gateway {
    fn start(format: &str, mqtt: Option<&str>) -> Self {
        let mut gateway = Self {
            child: None,
            dir: tempfile::tempdir().expect("temporary directory"),
            admin: format!("127.0.0.1:{}", free_port()),
            register: free_port(),
            sync: free_port(),
            format: format.to_owned(),
            mqtt: mqtt.map(str::to_owned),
        };
        gateway.spawn();
        gateway
    }

    /// Starts the process (again: same ports, same data directory, a fresh log file).
    fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("homeport.log")).expect("log file");
        let mut command = Command::new(HOMEPORT);
        command
            .arg("run")
            .current_dir(self.dir.path())
            .env("HOMEPORT_REGISTER", format!("127.0.0.1:{}", self.register))
            .env("HOMEPORT_ADMIN", &self.admin)
            .env("HOMEPORT_SYNC", format!("127.0.0.1:{}", self.sync))
            .env("HOMEPORT_DATA", self.data())
            .env("HOMEPORT_LOG_FORMAT", &self.format)
            .env("HOMEPORT_NODE", "ops-test")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(url) = &self.mqtt {
            command.env("HOMEPORT_MQTT", url);
        }
        self.child = Some(command.spawn().expect("homeport runs"));
        self.wait_until("the admin API answers /livez", |g| {
            g.get("/livez").is_some_and(|(status, _)| status == 200)
        });
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// A blocking GET (through curl: the test stays free of an HTTP client runtime).
    fn get_with(&self, path: &str, headers: &[&str]) -> Option<(u16, String)> {
        let mut command = Command::new("curl");
        command.args(["-s", "-m", "5", "-w", "\n%{http_code}"]);
        for header in headers {
            command.args(["-H", header]);
        }
        let output = command.arg(self.url(path)).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n')?;
        let status = status.trim().parse().ok().filter(|s| *s != 0)?;
        Some((status, body.to_owned()))
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        self.get_with(path, &[])
    }

    fn wait_until(&self, what: &str, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("timed out waiting until {what}; log:\n{}", self.log());
    }

    /// A CLI command against this gateway, found through the environment alone.
    fn cli(&self, args: &[&str]) -> Output {
        Command::new(HOMEPORT)
            .args(args)
            .current_dir(self.dir.path())
            .env("HOMEPORT_ADMIN_URL", self.url(""))
            .env("HOMEPORT_DATA", self.data())
            .env_remove("HOMEPORT_ADMIN_TOKEN")
            .output()
            .expect("homeport runs")
    }

    /// `homeport devices add ID --user admin --password PASSWORD`, which must succeed.
    fn add_device(&self, id: &str, password: &str) {
        let out = self.cli(&[
            "devices",
            "add",
            id,
            "--user",
            "admin",
            "--password",
            password,
        ]);
        assert!(out.status.success(), "devices add {id}: {out:?}");
    }

    fn devices(&self) -> Vec<Value> {
        let output = self.cli(&["devices", "list", "--json"]);
        serde_json::from_slice(&output.stdout).unwrap_or_default()
    }

    fn state_of(&self, id: &str) -> Option<String> {
        self.devices()
            .into_iter()
            .find(|d| d["id"] == id)
            .and_then(|d| d["state"].as_str().map(str::to_owned))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("homeport.log")).unwrap_or_default()
    }

    /// SIGTERM, then wait for the exit (the log is complete afterwards).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, WAIT);
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `homeport sim` registering `devices` cameras `cam1…` with password `admin`.
struct Sim(Child);

impl Sim {
    fn start(register: u16, devices: u32, alarm_rate: &str) -> Self {
        let child = Command::new(HOMEPORT)
            .args([
                "sim",
                "--server",
                &format!("127.0.0.1:{register}"),
                "--devices",
                &devices.to_string(),
                "--id-prefix",
                "cam",
                "--password",
                "admin",
                "--alarm-rate",
                alarm_rate,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("homeport sim runs");
        Self(child)
    }
}

impl Sim {
    /// One camera announcing `id` (which ends in `1`), with password `admin`, raising a
    /// few alarms a second on its 2 channels.
    fn one(register: u16, id: &str) -> Self {
        let prefix = id
            .strip_suffix('1')
            .expect("the simulator numbers its cameras from 1");
        let child = Command::new(HOMEPORT)
            .args(["sim", "--server", &format!("127.0.0.1:{register}")])
            .args(["--id-prefix", prefix, "--devices", "1"])
            .args([
                "--password",
                "admin",
                "--channels",
                "2",
                "--alarm-rate",
                "5",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("homeport sim runs");
        Self(child)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pipes `input` into `program args…` (installed by the test command) and returns its output.
fn pipe(program: &str, args: &[&str], input: &str) -> Output {
    run_with_stdin(Command::new(program).args(args), input)
}

fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line:?}"))
        })
        .collect()
}

fn find<'a>(lines: &'a [Value], message: &str, device: &str) -> Option<&'a Value> {
    lines
        .iter()
        .find(|l| l["message"] == message && l["device"] == device)
}

#[test]
fn a_busy_gateway_logs_json_serves_valid_metrics_and_is_ready_only_with_its_broker() {
    let mut broker = Mosquitto::start();
    let mut gateway = Gateway::start("json", Some(&broker.url()));
    let token = gateway.cli(&["token"]);
    assert!(token.status.success(), "homeport token: {token:?}");
    let token = String::from_utf8(token.stdout).expect("utf-8");
    assert_eq!(token.trim().len(), 64, "the token: {token:?}");
    assert_eq!(
        std::fs::read_to_string(gateway.data().join("admin.token"))
            .expect("token file")
            .trim(),
        token.trim()
    );

    // A busy gateway: three cameras logged in sending alarms, one with a wrong password,
    // one pending.
    for id in ["cam1", "cam2", "cam3"] {
        gateway.add_device(id, "admin");
    }
    gateway.add_device("cam4", "wrong");
    let sim = Sim::start(gateway.register, 5, "20");
    gateway.wait_until("cam1–cam3 are online and cam4's login failed", |g| {
        ["cam1", "cam2", "cam3"]
            .iter()
            .all(|id| g.state_of(id).as_deref() == Some("online"))
            && g.state_of("cam4").as_deref() == Some("login_failed")
    });
    gateway.wait_until("alarms went through the pipelines", |g| {
        g.get("/metrics").is_some_and(|(_, body)| {
            body.lines().any(|l| {
                l.starts_with("homeport_pipeline_events_total{pipeline=\"")
                    && l.contains("alarm")
                    && l.contains("outcome=\"out\"")
                    && !l.ends_with(" 0")
            })
        })
    });

    // /metrics: promtool, and both reference parsers.
    let (status, prometheus_text) = gateway.get("/metrics").expect("metrics");
    assert_eq!(status, 200);
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
        "homeport_build_info",
        "homeport_uptime_seconds",
        "homeport_device_connections_open",
        "homeport_mqtt_connected",
    ] {
        assert!(
            prometheus_text.contains(&format!("# TYPE {family} ")),
            "{family} in /metrics:\n{prometheus_text}"
        );
    }
    let promtool = pipe("promtool", &["check", "metrics"], &prometheus_text);
    assert!(
        promtool.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&promtool.stdout),
        String::from_utf8_lossy(&promtool.stderr)
    );
    let script = repo().join("tests/clients/check_metrics.py");
    let script = script.to_str().expect("path");
    let parsed = pipe("python3", &[script, "prometheus"], &prometheus_text);
    assert!(parsed.status.success(), "prometheus parser: {parsed:?}");
    let (status, openmetrics_text) = gateway
        .get_with(
            "/metrics",
            &["Accept: application/openmetrics-text; version=1.0.0"],
        )
        .expect("metrics");
    assert_eq!(status, 200);
    assert!(openmetrics_text.ends_with("# EOF\n"));
    let parsed = pipe("python3", &[script, "openmetrics"], &openmetrics_text);
    assert!(
        parsed.status.success(),
        "OpenMetrics parser: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );

    // A secrets export is readable by its owner only.
    let export = gateway.dir.path().join("devices.csv");
    let out = gateway.cli(&[
        "devices",
        "export",
        "--format",
        "csv",
        "--secrets",
        "-o",
        export.to_str().expect("path"),
    ]);
    assert!(out.status.success(), "export: {out:?}");
    let mode = std::fs::metadata(&export)
        .expect("export")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the secrets export's mode is {mode:o}");

    // Readiness follows the broker; liveness does not.
    let ready = |g: &Gateway| g.get("/readyz");
    let (status, body) = ready(&gateway).expect("readyz");
    assert_eq!(status, 200, "{body}");
    broker.kill();
    gateway.wait_until("/readyz fails without the broker", |g| {
        ready(g).is_some_and(|(s, b)| {
            s == 503 && {
                let v: Value = serde_json::from_str(&b).unwrap_or_default();
                v["ready"] == false
                    && v["checks"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["name"] == "mqtt" && c["ok"] == false))
            }
        })
    });
    assert_eq!(gateway.get("/livez").map(|(s, _)| s), Some(200));
    broker.restart();
    gateway.wait_until("/readyz passes with the broker back", |g| {
        ready(g).is_some_and(|(s, _)| s == 200)
    });

    // A camera that goes away is logged offline with its reason.
    drop(sim);
    gateway.wait_until("cam1 is offline", |g| {
        g.state_of("cam1").as_deref() == Some("offline")
    });
    gateway.stop();

    let log = gateway.log();
    assert!(!log.contains('\u{1b}'), "escape codes in a log file");
    let lines = json_lines(&log);
    let start = lines
        .iter()
        .find(|l| l["message"] == "homeport started")
        .expect("a start line");
    assert!(
        start["token_file"]
            .as_str()
            .is_some_and(|p| p.ends_with("admin.token")),
        "{start}"
    );
    assert!(
        !log.contains(token.trim()),
        "the admin token's value is in the log"
    );
    for id in ["cam1", "cam2", "cam3"] {
        find(&lines, "device registered", id).unwrap_or_else(|| panic!("{id} registered"));
        let online = find(&lines, "device online", id).unwrap_or_else(|| panic!("{id} online"));
        assert!(online["protocol"].is_string(), "{online}");
    }
    let failed = find(&lines, "login failed", "cam4").expect("cam4's failed login");
    assert!(
        failed["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{failed}"
    );
    let offline = find(&lines, "device offline", "cam1").expect("cam1 offline");
    assert!(
        offline["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{offline}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string()),
        "every line has a level and a time"
    );
}

#[test]
fn a_text_log_file_has_no_escape_codes_and_names_the_token_file_at_every_start() {
    let mut gateway = Gateway::start("text", None);
    for start in 0..2 {
        if start > 0 {
            // The same data directory: the token file exists now and is not created again.
            gateway.spawn();
        }
        let sim = Sim::start(gateway.register, 1, "0");
        gateway.wait_until("cam1 is pending", |g| {
            g.state_of("cam1").as_deref() == Some("pending")
        });
        drop(sim);
        gateway.stop();
        let log = gateway.log();
        assert!(
            !log.contains('\u{1b}'),
            "escape codes in a log file:\n{log}"
        );
        assert!(log.contains("device registered"), "start {start}:\n{log}");
        let token_file = gateway.data().join("admin.token");
        assert!(
            log.contains(&token_file.display().to_string()),
            "start {start} names the token file:\n{log}"
        );
        let token = std::fs::read_to_string(&token_file).expect("token file");
        assert!(
            !log.contains(token.trim()),
            "start {start} wrote the token's value into its log"
        );
    }
}

#[test]
fn the_systemd_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(repo().join("packaging/homeport.service")).expect("unit");
    assert!(unit.contains("ExecStart=/usr/bin/homeport run"));
    for option in [
        "StateDirectory=homeport",
        "LimitNOFILE=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ] {
        assert!(unit.contains(option), "the unit sets {option}");
    }
    // Verified as installed, with the binary this build made in place of /usr/bin/homeport.
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("homeport.service");
    std::fs::write(&path, unit.replace("/usr/bin/homeport", HOMEPORT)).expect("written");
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze runs (the test command installs systemd)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "systemd-analyze verify: {stderr}");
    let own: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("homeport.service"))
        .collect();
    assert!(own.is_empty(), "warnings about the unit: {own:?}");
}

#[test]
fn the_config_file_is_found_in_the_working_directory_and_named_at_start() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let admin = format!("127.0.0.1:{}", free_port());
    let register = free_port();
    std::fs::write(
        dir.path().join("homeport.yaml"),
        format!(
            "register: 127.0.0.1:{register}\nadmin: {admin}\nsync: 127.0.0.1:{}\ndata: ./state\n",
            free_port()
        ),
    )
    .expect("config");
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(HOMEPORT)
        .arg("run")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("homeport runs");
    let deadline = Instant::now() + WAIT;
    let mut answered = false;
    while Instant::now() < deadline && !answered {
        answered = Command::new("curl")
            .args(["-sf", "-m", "2", &format!("http://{admin}/livez")])
            .output()
            .is_ok_and(|o| o.status.success());
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        answered,
        "the gateway did not use the config's admin address:\n{text}"
    );
    assert!(
        text.contains("homeport.yaml"),
        "the start names the config file:\n{text}"
    );
    assert!(Path::new(&dir.path().join("state/admin.token")).exists());
}

/// Sends `Login user|password` on the camera-sync port and returns the first line answered
/// (waiting up to `wait`).
fn sync_login(port: u16, wait: Duration) -> String {
    use std::io::{BufRead, BufReader};
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("the sync listener accepts");
    stream.set_read_timeout(Some(wait)).expect("timeout");
    stream.write_all(b"Login nobody|guess\n").expect("sent");
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .expect("an answer line before the timeout");
    line.trim_end().to_owned()
}

#[test]
fn an_app_login_is_answered_with_or_without_a_pipeline_that_serves_apps() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let only_login = dir.path().join("login-only.yaml");
    std::fs::write(
        &only_login,
        "pipelines:\n  - name: login-registered\n    on: [registered]\n    stages:\n      - login: { rate: 10 }\n",
    )
    .expect("pipeline file");
    for custom in [false, true] {
        // Every listener on port 0: the start line says which ports they got.
        let log = dir.path().join(format!("custom-{custom}.log"));
        let mut command = Command::new(HOMEPORT);
        command
            .arg("run")
            .current_dir(dir.path())
            .env("HOMEPORT_REGISTER", "127.0.0.1:0")
            .env("HOMEPORT_SYNC", "127.0.0.1:0")
            .env("HOMEPORT_ADMIN", "127.0.0.1:0")
            .env("HOMEPORT_DATA", dir.path().join(format!("data-{custom}")))
            .env("HOMEPORT_LOG_FORMAT", "json")
            .env_remove("RUST_LOG")
            .stderr(std::fs::File::create(&log).expect("log"));
        if custom {
            command.env("HOMEPORT_PIPELINES", &only_login);
        }
        let mut child = command.spawn().expect("homeport runs");
        let deadline = Instant::now() + WAIT;
        let mut started = None;
        while Instant::now() < deadline && started.is_none() {
            std::thread::sleep(Duration::from_millis(100));
            started = std::fs::read_to_string(&log).ok().and_then(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .find(|l| l["message"] == "homeport started")
            });
        }
        let Some(started) = started else {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("no start line:\n{text}");
        };
        let address = |field: &str| started[field].as_str().expect("an address").to_owned();
        let admin = address("admin");
        let sync: u16 = address("sync")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        let ready: Value = Command::new("curl")
            .args(["-s", "-m", "5", &format!("http://{admin}/readyz")])
            .output()
            .ok()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .expect("a /readyz answer");
        // The server waits at most 30 s for a pipeline's answer, then refuses.
        let answer = sync_login(sync, Duration::from_secs(45));
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let check = ready["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == "camera_sync").cloned())
            .expect("a camera_sync check");
        assert!(
            answer.starts_with("LoginError "),
            "custom={custom}: {answer:?}"
        );
        if custom {
            assert_eq!(check["ok"], false, "{ready}");
            assert_eq!(ready["ready"], false, "{ready}");
            assert!(
                text.contains("no pipeline answers its apps"),
                "the start warns:\n{text}"
            );
            assert!(answer.contains("服务暂时不可用"), "{answer:?}");
        } else {
            assert_eq!(check["ok"], true, "{ready}");
            assert!(!text.contains("no pipeline answers its apps"), "{text}");
            // The built-in pipeline refuses an unknown account at once.
            assert!(answer.contains("用户名或者密码错误"), "{answer:?}");
        }
    }
}

/// Home Assistant's view of the shipped discovery, through a real mosquitto: device IDs with
/// `.`, a space, `:`, `"` and non-ASCII characters get valid discovery topics, JSON and
/// unique ids (and `gate.1` does not collide with `gate_1`); every entity is available while
/// the gateway and its camera are, with a motion sensor per channel; a deleted camera's
/// entities go away; when the gateway dies, its Last Will makes every entity unavailable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_sees_valid_discovery_loses_deleted_cameras_and_the_dead_gateway() {
    use home_assistant::HomeAssistant;
    let broker = Mosquitto::start();
    let mut messages = mqtt_subscriber::Subscriber::connect(broker.port(), "ha", true, "#").await;
    let ids = [
        "gate.1",
        "gate_1",
        "front door1",
        "cam:1",
        "yard\"1",
        "カメラ1",
    ];
    let (mut gateway, _sims) = tokio::task::block_in_place(|| {
        let gateway = Gateway::start("json", Some(&broker.url()));
        for id in ids {
            gateway.add_device(id, "admin");
        }
        let sims: Vec<Sim> = ids
            .iter()
            .map(|id| Sim::one(gateway.register, id))
            .collect();
        (gateway, sims)
    });

    let mut ha = HomeAssistant::default();
    let deadline = Instant::now() + WAIT;
    // Four entities per camera (connectivity, alarm events, motion on each of the 2 channels
    // it reported at login): 4 × 6, all available.
    loop {
        while let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(200), messages.rx.recv()).await
        {
            ha.see(&m.topic, &m.raw);
        }
        let entities = ha
            .entities()
            .unwrap_or_else(|e| panic!("against HA's rules: {e}"));
        if entities.len() == 4 * ids.len() && entities.iter().all(|e| ha.available(e)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {} entities, unavailable: {:?}\nlog:\n{}",
            entities.len(),
            entities
                .iter()
                .filter(|e| !ha.available(e))
                .map(|e| e.config["unique_id"].clone())
                .collect::<Vec<_>>(),
            gateway.log()
        );
    }
    let entities = ha.entities().expect("valid");
    // Each camera is one device, named by its ID as it is (the JSON keeps `"` and UTF-8).
    for id in ids {
        let found = ha.latest.iter().any(|(topic, config)| {
            topic.starts_with("homeassistant/device/")
                && serde_json::from_str::<Value>(config).is_ok_and(|c| c["dev"]["name"] == id)
        });
        assert!(found, "{id} has a device config: {:?}", ha.latest.keys());
    }
    // Channel 1's motion is its own: its state topic is not channel 0's.
    let motion: HashSet<&str> = entities
        .iter()
        .filter(|e| e.config["device_class"] == "motion")
        .filter_map(|e| e.config["state_topic"].as_str())
        .collect();
    assert_eq!(motion.len(), 2 * ids.len(), "{motion:?}");

    // A camera deleted: its device config is cleared and Home Assistant drops its entities;
    // the others stay, available.
    let deleted = tokio::task::block_in_place(|| gateway.cli(&["devices", "delete", "gate.1"]));
    assert!(deleted.status.success(), "devices delete: {deleted:?}");
    let deadline = Instant::now() + WAIT;
    loop {
        while let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(200), messages.rx.recv()).await
        {
            ha.see(&m.topic, &m.raw);
        }
        let entities = ha.entities().expect("valid");
        let of_deleted = entities
            .iter()
            .filter(|e| {
                e.config["unique_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("homeport_gate_1_ed52c99f_"))
            })
            .count();
        if of_deleted == 0 {
            assert_eq!(entities.len(), 4 * (ids.len() - 1), "the others stay");
            assert!(
                entities.iter().all(|e| ha.available(e)),
                "and stay available"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{of_deleted} entities of the deleted camera remain"
        );
    }
    assert_eq!(
        ha.latest
            .get("homeport/device/gate.1/status")
            .map(String::as_str),
        Some(""),
        "its retained status is cleared"
    );

    // The gateway dies: its Last Will makes every entity unavailable.
    tokio::task::block_in_place(|| {
        if let Some(mut child) = gateway.child.take() {
            child.kill().expect("kill");
            child.wait().expect("wait");
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        while let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(200), messages.rx.recv()).await
        {
            ha.see(&m.topic, &m.raw);
        }
        let entities = ha.entities().expect("valid");
        if entities.iter().all(|e| !ha.available(e)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still available after the gateway died: {:?}",
            entities
                .iter()
                .filter(|e| ha.available(e))
                .map(|e| e.config["unique_id"].clone())
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(
        ha.latest
            .get("homeport/gateway/ops-test/status")
            .map(String::as_str),
        Some("offline"),
        "the Last Will"
    );
}

/// Reads messages into `ha` until `done` holds, or fails after the wait with `what`.
async fn see_until(
    messages: &mut mqtt_subscriber::Subscriber,
    ha: &mut home_assistant::HomeAssistant,
    what: &str,
    done: impl Fn(&home_assistant::HomeAssistant, &mqtt_subscriber::Message) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(m)) = tokio::time::timeout(left, messages.rx.recv()).await else {
            panic!(
                "timed out waiting until {what}; seen: {:?}",
                ha.latest.keys()
            );
        };
        ha.see(&m.topic, &m.raw);
        if done(ha, &m) {
            return;
        }
    }
}

/// A camera added that never logged in is in Home Assistant at once — its connectivity off,
/// its motion unavailable — so HA shows which cameras are down; Home Assistant's birth
/// message (`online` on `homeassistant/status`) and a gateway restart each publish every
/// device's discovery again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_lists_cameras_that_never_logged_in_and_gets_them_again_on_its_birth() {
    use home_assistant::HomeAssistant;
    const CONFIG: &str = "homeassistant/device/homeport_never_1_b74f8fbc/config";
    let broker = Mosquitto::start();
    let mut messages = mqtt_subscriber::Subscriber::connect(broker.port(), "ha", true, "#").await;
    let mut gateway = tokio::task::block_in_place(|| {
        let gateway = Gateway::start("json", Some(&broker.url()));
        gateway.add_device("never.1", "admin");
        gateway
    });
    let mut ha = HomeAssistant::default();
    see_until(
        &mut messages,
        &mut ha,
        "never.1 is in HA, offline",
        |ha, _| {
            let Ok(entities) = ha.entities() else {
                return false;
            };
            let status = ha.latest.get("homeport/device/never.1/status");
            entities.len() == 3
                && status.is_some_and(|s| s.contains("\"online\":false"))
                && ha.latest.contains_key("homeport/gateway/ops-test/status")
        },
    )
    .await;
    let entities = ha
        .entities()
        .unwrap_or_else(|e| panic!("against HA's rules: {e}"));
    assert!(
        ha.latest.contains_key(CONFIG),
        "the object id is the strict key: {:?}",
        ha.latest.keys()
    );
    for entity in &entities {
        let connectivity = entity.config["device_class"] == "connectivity";
        // Connectivity shows the camera is down; what needs the camera is unavailable.
        assert_eq!(ha.available(entity), connectivity, "{}", entity.config);
    }

    // Home Assistant restarts and says so: every device's discovery comes again (live, not
    // the broker's retained copy).
    let _ = messages.drain(Duration::from_millis(300)).await;
    mqtt_subscriber::publish_once(broker.port(), "ha-birth", "homeassistant/status", "online")
        .await;
    see_until(
        &mut messages,
        &mut ha,
        "discovery again after HA's birth",
        |_, m| m.topic == CONFIG && !m.retain && !m.raw.is_empty(),
    )
    .await;
    assert!(
        gateway
            .log()
            .contains("Home Assistant came online; devices announced again"),
        "{}",
        gateway.log()
    );

    // The gateway restarts: it announces every stored device once its pipelines run.
    tokio::task::block_in_place(|| gateway.stop());
    let _ = messages.drain(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| gateway.spawn());
    see_until(
        &mut messages,
        &mut ha,
        "discovery again after a restart",
        |_, m| m.topic == CONFIG && !m.retain && !m.raw.is_empty(),
    )
    .await;
    assert!(ha.entities().is_ok_and(|e| e.len() == 3));
}
