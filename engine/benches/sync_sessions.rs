//! Camera-sync sessions: N concurrent app connections to an in-process sync server (a gateway
//! with the default pipelines), held by a client child process so the server's RSS is its own.
//!
//! Per run (a fresh server process, which spawns a fresh client process):
//! - `--logins L` sessions connect and log in (64 logins in flight; accounts round-robin over
//!   `--accounts A`, created up front), then the remaining N − L connect without logging in.
//!   Every session sends `Heartbeat` every 5 s (phases spread evenly) and expects it back.
//! - Heartbeat round trips are sampled for 10 s with all N open; the server's `VmRSS` is read
//!   five times in that window and its median minus the baseline (before any app connected),
//!   divided by N, is the memory per session.
//! - Push fan-out: camera `fan1` is bound to enough accounts that `--bound B` logged-in
//!   sessions receive its pushes. Each cycle publishes `OnlineChanged` online, then offline,
//!   on the bus; the latency of each session is from just before the offline publish
//!   (`SystemTime`) to the client's receipt of `PrushCaramerOnlineStatus fan1:false`.
//!
//! `cargo bench -p homeport --bench sync_sessions -- [--sessions 10000] [--logins 1000]
//! [--accounts 100] [--bound 1000] [--cycles 5] [--runs 3]`

mod support;

use support::{arg, median, rerun, rss_kib};

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use homeport::camera_sync::{SyncConfig, SyncServer};
use homeport::event::{DeviceState, Event, EventKind, OnlineReason};
use homeport::gateway::{Gateway, GatewayConfig};
use homeport::pipeline::PipelineHost;
use homeport::secret::Secret;
use homeport_protocol::sync::{SyncLineCodec, SyncMessage};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

const CAMERA: &str = "fan1";
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const HEARTBEAT_WINDOW: Duration = Duration::from_secs(10);
const LOGINS_IN_FLIGHT: usize = 64;
const CONNECTS_IN_FLIGHT: usize = 256;

fn num(name: &str, default: usize) -> usize {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// The value at quantile `q` of sorted `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// The plan shared by the server and client processes.
#[derive(Debug, Clone, Copy)]
struct Plan {
    sessions: usize,
    logins: usize,
    accounts: usize,
    bound: usize,
    cycles: usize,
}

impl Plan {
    fn from_args() -> Self {
        let sessions = num("--sessions", 10_000).max(1);
        let logins = num("--logins", 1000).min(sessions);
        let accounts = num("--accounts", 100).clamp(1, logins.max(1));
        let bound = num("--bound", 1000).min(logins);
        Self {
            sessions,
            logins,
            accounts,
            bound,
            cycles: num("--cycles", 5),
        }
    }

    fn args(&self) -> Vec<String> {
        [
            ("--sessions", self.sessions),
            ("--logins", self.logins),
            ("--accounts", self.accounts),
            ("--bound", self.bound),
            ("--cycles", self.cycles),
        ]
        .iter()
        .flat_map(|(k, v)| [(*k).to_owned(), v.to_string()])
        .collect()
    }

    fn account(i: usize) -> String {
        format!("bench{i:05}")
    }

    /// The account logged-in session `i` uses.
    fn account_of_login(&self, i: usize) -> String {
        Self::account(i % self.accounts)
    }

    /// How many accounts the camera is bound to so that at least `bound` sessions get pushes
    /// (the first accounts; sessions are spread round-robin).
    fn bound_accounts(&self) -> usize {
        (0..=self.accounts)
            .find(|&k| self.sessions_of_first(k) >= self.bound)
            .unwrap_or(self.accounts)
    }

    /// Logged-in sessions of the first `k` accounts.
    fn sessions_of_first(&self, k: usize) -> usize {
        (0..self.logins).filter(|i| i % self.accounts < k).count()
    }
}

// ---------------------------------------------------------------------------------------------
// Client process: holds the app sessions.

#[derive(Default)]
struct Shared {
    measuring: AtomicBool,
    rtt_us: Mutex<Vec<f64>>,
    pushes_ns: Mutex<Vec<i128>>,
    ended: AtomicUsize,
}

type App = Framed<TcpStream, SyncLineCodec>;

async fn connect(port: u16) -> App {
    Framed::new(
        TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect"),
        SyncLineCodec::new(),
    )
}

async fn login(app: &mut App, user: String) {
    app.send(SyncMessage::Login {
        user,
        password: "secret".to_owned(),
    })
    .await
    .expect("send login");
    match tokio::time::timeout(Duration::from_secs(120), app.next()).await {
        Ok(Some(Ok(Ok(SyncMessage::LoginOk { .. })))) => {}
        other => panic!("login failed: {other:?}"),
    }
}

/// One app session: heartbeats every 5 s from `phase`, records round trips and offline pushes.
async fn session(mut app: App, phase: Duration, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + phase, HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut outstanding: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if outstanding.is_none() {
                    if app.send(SyncMessage::Heartbeat).await.is_err() {
                        break;
                    }
                    outstanding = Some(Instant::now());
                }
            }
            line = app.next() => match line {
                Some(Ok(Ok(SyncMessage::Heartbeat))) => {
                    if let Some(sent) = outstanding.take()
                        && shared.measuring.load(Ordering::Relaxed)
                    {
                        let us = sent.elapsed().as_secs_f64() * 1e6;
                        shared.rtt_us.lock().expect("lock").push(us);
                    }
                }
                Some(Ok(Ok(SyncMessage::PrushCaramerOnlineStatus { online: false, camera_id }))) if camera_id == CAMERA => {
                    let at = now_ns();
                    shared.pushes_ns.lock().expect("lock").push(at);
                }
                Some(Ok(Ok(_))) => {}
                _ => break,
            }
        }
    }
    shared.ended.fetch_add(1, Ordering::Relaxed);
}

async fn client(port: u16, plan: Plan) {
    let shared = Arc::new(Shared::default());
    let phase =
        |i: usize| HEARTBEAT_EVERY.mul_f64((i % plan.sessions) as f64 / plan.sessions as f64);
    // Logged-in sessions: connect, log in, start heartbeating; 64 in flight.
    let started = Instant::now();
    futures::stream::iter(0..plan.logins)
        .for_each_concurrent(LOGINS_IN_FLIGHT, |i| {
            let shared = Arc::clone(&shared);
            async move {
                let mut app = connect(port).await;
                login(&mut app, plan.account_of_login(i)).await;
                tokio::spawn(session(app, phase(i), shared));
            }
        })
        .await;
    let login_s = started.elapsed().as_secs_f64();
    println!("logged_in {login_s}");
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let _ = stdin.next_line().await;
    // The rest: connect only.
    let started = Instant::now();
    futures::stream::iter(plan.logins..plan.sessions)
        .for_each_concurrent(CONNECTS_IN_FLIGHT, |i| {
            let shared = Arc::clone(&shared);
            async move {
                let app = connect(port).await;
                tokio::spawn(session(app, phase(i), shared));
            }
        })
        .await;
    let connect_s = started.elapsed().as_secs_f64();
    println!("established {connect_s}");

    while let Ok(Some(line)) = stdin.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["heartbeats"] => {
                // Let the connection burst settle, then sample a full window.
                tokio::time::sleep(HEARTBEAT_EVERY).await;
                shared.rtt_us.lock().expect("lock").clear();
                shared.measuring.store(true, Ordering::Relaxed);
                tokio::time::sleep(HEARTBEAT_WINDOW).await;
                shared.measuring.store(false, Ordering::Relaxed);
                let mut rtt = std::mem::take(&mut *shared.rtt_us.lock().expect("lock"));
                rtt.sort_by(f64::total_cmp);
                println!(
                    "heartbeats {} {} {} {} {}",
                    rtt.len(),
                    quantile(&rtt, 0.5),
                    quantile(&rtt, 0.99),
                    rtt.last().copied().unwrap_or(f64::NAN),
                    shared.ended.load(Ordering::Relaxed)
                );
            }
            ["arm"] => {
                shared.pushes_ns.lock().expect("lock").clear();
                println!("armed");
            }
            ["published", t0] => {
                let t0: i128 = t0.parse().expect("t0");
                let deadline = Instant::now() + Duration::from_secs(30);
                while shared.pushes_ns.lock().expect("lock").len() < plan.bound
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                let mut ms: Vec<f64> = shared
                    .pushes_ns
                    .lock()
                    .expect("lock")
                    .iter()
                    .map(|t| (t - t0) as f64 / 1e6)
                    .collect();
                ms.sort_by(f64::total_cmp);
                println!(
                    "fanout {} {} {} {} {}",
                    ms.len(),
                    ms.first().copied().unwrap_or(f64::NAN),
                    quantile(&ms, 0.5),
                    quantile(&ms, 0.99),
                    ms.last().copied().unwrap_or(f64::NAN)
                );
            }
            _ => break,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server process: the gateway, the sync server, the default pipelines.

#[derive(Debug, Default)]
struct Run {
    login_s: f64,
    connect_s: f64,
    accounts_s: f64,
    rtt_samples: f64,
    rtt_p50_us: f64,
    rtt_p99_us: f64,
    rtt_max_us: f64,
    per_session_kib: f64,
    per_plain_session_kib: f64,
    baseline_mib: f64,
    after_logins_mib: f64,
    held_mib: f64,
    fan_first_ms: f64,
    fan_p50_ms: f64,
    fan_p99_ms: f64,
    fan_max_ms: f64,
    fan_received: f64,
}

fn online_event(online: bool) -> Arc<Event> {
    Event::new(
        CAMERA,
        EventKind::OnlineChanged {
            online,
            state: if online {
                DeviceState::Online
            } else {
                DeviceState::Offline
            },
            reason: if online {
                OnlineReason::LoginOk
            } else {
                OnlineReason::SocketClosed
            },
            detail: None,
            since_ms: None,
            reported: homeport::event::Reported::default(),
        },
    )
}

async fn server_run(plan: Plan) -> Run {
    let data = tempfile::tempdir().expect("tempdir");
    let config = GatewayConfig::loopback(data.path());
    let gateway = Gateway::start(config).await.expect("gateway");
    let sync = SyncConfig {
        max_accounts_per_camera: 1000.max(plan.accounts),
        ..SyncConfig::default()
    };
    let server = SyncServer::start(
        "127.0.0.1:0".parse().expect("addr"),
        sync,
        gateway.bus().clone(),
    )
    .await
    .expect("sync listens");
    let services = gateway.services().with_sync(Arc::clone(&server));
    let host = PipelineHost::start(Vec::new(), services, gateway.bus().clone()).expect("pipelines");

    let started = Instant::now();
    let store = gateway.store().clone();
    futures::future::join_all((0..plan.accounts).map(|i| {
        let store = store.clone();
        async move {
            store
                .add_account(&Plan::account(i), &Secret::new("secret"))
                .await
                .expect("account");
        }
    }))
    .await;
    let accounts_s = started.elapsed().as_secs_f64();
    for i in 0..plan.bound_accounts() {
        store
            .bind_camera(
                &Plan::account(i),
                CAMERA,
                &Secret::new("pw"),
                true,
                1000.max(plan.accounts),
            )
            .await
            .expect("bind");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = rss_kib();

    let mut child = tokio::process::Command::new(std::env::current_exe().expect("own path"))
        .args(["--client", &server.addr().port().to_string()])
        .args(plan.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("client runs");
    let mut to_client = child.stdin.take().expect("stdin");
    let mut from_client = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next = async move |expect: &str| -> Vec<f64> {
        let line = from_client
            .next_line()
            .await
            .expect("client output")
            .unwrap_or_else(|| panic!("client ended before {expect}"));
        let mut words = line.split_whitespace();
        assert_eq!(words.next(), Some(expect), "{line}");
        words.map(|w| w.parse().unwrap_or(f64::NAN)).collect()
    };
    let mut run = Run {
        accounts_s,
        ..Run::default()
    };
    run.login_s = next("logged_in").await[0];
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after_logins = rss_kib();
    to_client.write_all(b"connect\n").await.expect("write");
    run.connect_s = next("established").await[0];
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.hub().sessions() < plan.sessions {
        assert!(
            Instant::now() < deadline,
            "{} of {} sessions open",
            server.hub().sessions(),
            plan.sessions
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    to_client.write_all(b"heartbeats\n").await.expect("write");
    // The client waits one heartbeat period, then samples for the window; read RSS in it.
    tokio::time::sleep(HEARTBEAT_EVERY + Duration::from_secs(2)).await;
    let mut readings = Vec::new();
    for _ in 0..5 {
        readings.push(rss_kib());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    readings.sort_unstable();
    let held = readings[readings.len() / 2];
    eprintln!(
        "RSS KiB: baseline {baseline}, after {} logins {after_logins}, with {} sessions {held}",
        plan.logins, plan.sessions
    );
    (run.baseline_mib, run.after_logins_mib, run.held_mib) = (
        baseline as f64 / 1024.0,
        after_logins as f64 / 1024.0,
        held as f64 / 1024.0,
    );
    run.per_session_kib = held.saturating_sub(baseline) as f64 / plan.sessions as f64;
    run.per_plain_session_kib =
        held.saturating_sub(after_logins) as f64 / (plan.sessions - plan.logins).max(1) as f64;
    let hb = next("heartbeats").await;
    (
        run.rtt_samples,
        run.rtt_p50_us,
        run.rtt_p99_us,
        run.rtt_max_us,
    ) = (hb[0], hb[1], hb[2], hb[3]);
    assert_eq!(hb[4], 0.0, "no session ended during the heartbeat window");
    assert_eq!(
        server.hub().sessions(),
        plan.sessions,
        "every session still open"
    );

    let (mut first, mut p50, mut p99, mut max, mut received) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..plan.cycles {
        gateway.bus().publish(online_event(true));
        tokio::time::sleep(Duration::from_millis(1000)).await;
        to_client.write_all(b"arm\n").await.expect("write");
        next("armed").await;
        let t0 = now_ns();
        gateway.bus().publish(online_event(false));
        to_client
            .write_all(format!("published {t0}\n").as_bytes())
            .await
            .expect("write");
        let f = next("fanout").await;
        received.push(f[0]);
        first.push(f[1]);
        p50.push(f[2]);
        p99.push(f[3]);
        max.push(f[4]);
    }
    if plan.cycles > 0 {
        run.fan_received = received.iter().copied().fold(f64::INFINITY, f64::min);
        run.fan_first_ms = median(first);
        run.fan_p50_ms = median(p50);
        run.fan_p99_ms = median(p99);
        run.fan_max_ms = median(max);
    }
    drop(to_client);
    let _ = child.wait().await;
    host.shutdown().await;
    server.shutdown().await;
    gateway.shutdown().await;
    run
}

/// Runs this benchmark binary again for one whole measurement in a fresh process.
fn run_in_child(plan: Plan) -> Run {
    let mut args = vec!["--one-run".to_owned()];
    args.extend(plan.args());
    let v: Vec<f64> = rerun(&args)
        .iter()
        .map(|w| w.parse().expect("number"))
        .collect();
    Run {
        login_s: v[0],
        connect_s: v[1],
        accounts_s: v[2],
        rtt_samples: v[3],
        rtt_p50_us: v[4],
        rtt_p99_us: v[5],
        rtt_max_us: v[6],
        per_session_kib: v[7],
        fan_p50_ms: v[8],
        fan_p99_ms: v[9],
        fan_max_ms: v[10],
        fan_received: v[11],
        per_plain_session_kib: v[12],
        baseline_mib: v[13],
        after_logins_mib: v[14],
        held_mib: v[15],
        fan_first_ms: v[16],
    }
}

fn main() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let plan = Plan::from_args();
    if let Some(port) = arg("--client").and_then(|p| p.parse().ok()) {
        runtime.block_on(client(port, plan));
        return;
    }
    if std::env::args().any(|a| a == "--one-run") {
        let r = runtime.block_on(server_run(plan));
        println!(
            "result {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            r.login_s,
            r.connect_s,
            r.accounts_s,
            r.rtt_samples,
            r.rtt_p50_us,
            r.rtt_p99_us,
            r.rtt_max_us,
            r.per_session_kib,
            r.fan_p50_ms,
            r.fan_p99_ms,
            r.fan_max_ms,
            r.fan_received,
            r.per_plain_session_kib,
            r.baseline_mib,
            r.after_logins_mib,
            r.held_mib,
            r.fan_first_ms
        );
        return;
    }
    let runs = num("--runs", 3).max(1);
    // Memory without argon2: the same sessions, none logged in, in its own process (the
    // logins' argon2 buffers stay in the allocator's arenas and would be counted, and then
    // reused by the sessions, hiding their growth).
    let plain = Plan {
        logins: 0,
        accounts: 1,
        bound: 0,
        cycles: 0,
        ..plan
    };
    let mut plain_kib = Vec::new();
    let mut results = Vec::new();
    for i in 0..runs {
        let r = run_in_child(plain);
        eprintln!("run {} without logins: {r:?}", i + 1);
        plain_kib.push(r.per_session_kib);
        let r = run_in_child(plan);
        eprintln!("run {}: {r:?}", i + 1);
        results.push(r);
    }
    let m = |f: fn(&Run) -> f64| median(results.iter().map(f).collect());
    let login_s = m(|r| r.login_s);
    let connect_s = m(|r| r.connect_s);
    println!(
        "sessions {}, logged in {} over {} accounts, camera bound to {} accounts = {} sessions; {runs} runs, medians\n",
        plan.sessions,
        plan.logins,
        plan.accounts,
        plan.bound_accounts(),
        plan.sessions_of_first(plan.bound_accounts()),
    );
    println!("| measure | median of {runs} runs |\n|---|---:|");
    println!(
        "| create {} accounts (argon2 hash each) | {:.2} s |",
        plan.accounts,
        m(|r| r.accounts_s)
    );
    println!(
        "| connect + log in {} sessions ({LOGINS_IN_FLIGHT} in flight) | {login_s:.2} s ({:.0} logins/s) |",
        plan.logins,
        plan.logins as f64 / login_s
    );
    println!(
        "| connect {} more sessions ({CONNECTS_IN_FLIGHT} in flight) | {connect_s:.2} s ({:.0} connections/s) |",
        plan.sessions - plan.logins,
        (plan.sessions - plan.logins) as f64 / connect_s
    );
    println!(
        "| all {} sessions established after | {:.2} s |",
        plan.sessions,
        login_s + connect_s
    );
    println!(
        "| heartbeat round trip p50 / p99 / max ({:.0} samples in 10 s) | {:.2} / {:.2} / {:.1} ms |",
        m(|r| r.rtt_samples),
        m(|r| r.rtt_p50_us) / 1e3,
        m(|r| r.rtt_p99_us) / 1e3,
        m(|r| r.rtt_max_us) / 1e3
    );
    println!(
        "| gateway RSS per open session, no logins (separate process; growth over baseline / {}) | {:.2} KiB |",
        plan.sessions,
        median(plain_kib)
    );
    println!(
        "| gateway RSS in the run with logins: after creating {} accounts / after {} logins / with all {} sessions | {:.0} / {:.0} / {:.0} MiB |",
        plan.accounts,
        plan.logins,
        plan.sessions,
        m(|r| r.baseline_mib),
        m(|r| r.after_logins_mib),
        m(|r| r.held_mib)
    );
    println!(
        "| offline push fan-out to {} sessions first / p50 / p99 / max (median of {} cycles, then of runs) | {:.2} / {:.2} / {:.2} / {:.2} ms |",
        plan.bound,
        plan.cycles,
        m(|r| r.fan_first_ms),
        m(|r| r.fan_p50_ms),
        m(|r| r.fan_p99_ms),
        m(|r| r.fan_max_ms)
    );
    println!(
        "| pushes received (fewest in any cycle) | {:.0} of {} |",
        results
            .iter()
            .map(|r| r.fan_received)
            .fold(f64::INFINITY, f64::min),
        plan.bound
    );
}
