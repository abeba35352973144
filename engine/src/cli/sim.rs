//! `homeport sim`: run simulated cameras from the command line.

use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use homeport_simulator::fault::FaultShare;
use homeport_simulator::register::RegisterOptions;
use homeport_simulator::{
    Camera, CameraConfig, FaultPlan, Firmware, Fleet, FleetConfig, Stats, direct,
};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::signals::shutdown_signal;

/// Options of `homeport sim`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["server", "listen"])))]
pub(crate) struct SimArgs {
    /// Register mode: the platform's register address the cameras dial (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Direct mode: listen here like a camera's 37777 service port (HOST:PORT; port 0 picks one).
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["devices", "id_prefix", "ramp", "source_ip"])]
    listen: Option<String>,
    /// Number of cameras (register mode).
    #[arg(long, default_value_t = 1)]
    devices: usize,
    /// Device IDs are PFX1 … PFXN (register mode).
    #[arg(long, value_name = "PFX", default_value = "sim")]
    id_prefix: String,
    /// Device ID of the direct-mode camera.
    #[arg(long, default_value = "sim1", requires = "listen")]
    id: String,
    /// Login password of the cameras.
    #[arg(long, allow_hyphen_values = true)]
    password: String,
    /// Login user of the cameras.
    #[arg(long, default_value = "admin")]
    user: String,
    /// Mean alarms per camera per second, once a platform subscribes (random arrivals).
    #[arg(
        long,
        allow_negative_numbers = true,
        value_name = "PER_DEVICE_PER_SECOND",
        default_value_t = 0.0
    )]
    alarm_rate: f64,
    /// Each camera stops raising alarms after this many (it stays connected), so a run can
    /// wait for every alarm to arrive before it stops the cameras.
    #[arg(long, value_name = "N")]
    alarm_count: Option<u64>,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Video channels per camera.
    #[arg(long, default_value_t = 1)]
    channels: u32,
    /// Keepalive interval the cameras ask for at login, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    keepalive_interval: u32,
    /// A fault for a share of the cameras: wrong-password, silent, slow, flapping, garbage;
    /// `KIND:SHARE` for a share (e.g. silent:0.1), `KIND` for all. Repeatable.
    #[arg(long = "fault", value_name = "KIND[:SHARE]")]
    faults: Vec<FaultShare>,
    /// Reply delay of slow cameras, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    slow_delay: f64,
    /// Longest session of flapping cameras, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    flap_max: f64,
    /// Start this many cameras per second (default: all at once).
    #[arg(long, value_name = "PER_SECOND")]
    ramp: Option<f64>,
    /// Local address to dial from; repeat to spread connections over several (e.g. 127.0.0.2).
    #[arg(long = "source-ip", value_name = "IP")]
    source_ip: Vec<IpAddr>,
    /// A registering camera hangs up if the platform does not log in within this, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 120.0)]
    login_timeout: f64,
    /// Firmware profile of every camera: dvrip-only, dvrip+dhip, dhip-only or legacy-2010
    /// (docs/simulator.md, "Firmware profiles").
    #[arg(long, value_name = "NAME", default_value_t = Firmware::DvripOnly)]
    firmware: Firmware,
}

impl SimArgs {
    fn fault_plan(&self) -> anyhow::Result<FaultPlan> {
        Ok(FaultPlan {
            shares: self.faults.clone(),
            slow_delay: seconds(self.slow_delay, "--slow-delay")?,
            flap_max: seconds(self.flap_max, "--flap-max")?,
        })
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a non-negative number of seconds"))
}

/// Runs `homeport sim`.
pub(crate) async fn run(args: SimArgs) -> anyhow::Result<()> {
    if !(args.alarm_rate >= 0.0 && args.alarm_rate.is_finite()) {
        bail!("--alarm-rate must be a non-negative number");
    }
    raise_file_limit(args.devices);
    let stop = CancellationToken::new();
    {
        let stop = stop.clone();
        let duration = args
            .duration
            .map(|d| seconds(d, "--duration"))
            .transpose()?;
        tokio::spawn(async move {
            match duration {
                Some(duration) => tokio::select! {
                    () = shutdown_signal() => {}
                    () = tokio::time::sleep(duration) => {}
                },
                None => shutdown_signal().await,
            }
            stop.cancel();
        });
    }
    match (&args.server, &args.listen) {
        (Some(server), None) => run_fleet(server.clone(), &args, stop).await,
        (None, Some(listen)) => run_direct(listen, &args, stop).await,
        _ => bail!("give exactly one of --server and --listen"),
    }
}

async fn run_fleet(server: String, args: &SimArgs, stop: CancellationToken) -> anyhow::Result<()> {
    if args.devices == 0 {
        bail!("--devices must be at least 1");
    }
    let config = FleetConfig {
        user: args.user.clone(),
        alarm_rate: args.alarm_rate,
        alarm_limit: args.alarm_count,
        channels: args.channels,
        keep_alive_interval: args.keepalive_interval,
        faults: args.fault_plan()?,
        sources: args.source_ip.clone(),
        ramp: args.ramp,
        login_timeout: seconds(args.login_timeout, "--login-timeout")?,
        firmware: args.firmware,
        ..FleetConfig::new(
            server,
            args.devices,
            args.id_prefix.clone(),
            args.password.clone(),
        )
    };
    config.validate()?;
    let started = Instant::now();
    let fleet = Fleet::start(config);
    let progress = progress_bar(fleet.stats(), fleet.devices(), stop.clone());
    stop.cancelled().await;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(progress) = progress {
        progress.await.ok();
    }
    // Stop first: once every camera has hung up, no alarm can be written after the count.
    let stats = Arc::clone(fleet.stats());
    let devices = fleet.devices() as u64;
    fleet.stop().await;
    let summary = stats.summary(devices, elapsed);
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

async fn run_direct(listen: &str, args: &SimArgs, stop: CancellationToken) -> anyhow::Result<()> {
    let plan = args.fault_plan()?;
    let config = CameraConfig {
        alarm_rate: args.alarm_rate,
        alarm_limit: args.alarm_count,
        channels: args.channels,
        keep_alive_interval: args.keepalive_interval,
        // One camera: every fault named applies, whatever its share.
        faults: plan.shares.iter().map(|share| share.fault).collect(),
        slow_delay: plan.slow_delay,
        flap_max: plan.flap_max,
        firmware: args.firmware,
        ..CameraConfig::new(args.id.clone(), args.user.clone(), args.password.clone())
    };
    config.validate()?;
    let camera = Arc::new(Camera::new(config));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    // One machine-readable line, so scripts (and tests) can use port 0.
    println!(
        "{}",
        serde_json::json!({"listening": local.to_string(), "id": args.id})
    );
    eprintln!(
        "homeport sim: camera {} accepting direct logins on {local}",
        args.id
    );
    let register = RegisterOptions {
        login_timeout: seconds(args.login_timeout, "--login-timeout")?,
        ..RegisterOptions::default()
    };
    direct::run(listener, camera, register, Arc::new(Stats::default()), stop).await;
    Ok(())
}

/// A live progress line on a terminal; nothing when stderr is not one.
fn progress_bar(
    stats: &Arc<Stats>,
    devices: usize,
    stop: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(devices as u64);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} logged in · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let stats = Arc::clone(stats);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = tick.tick() => {
                    let now = stats.snapshot();
                    bar.set_position(now.logged_in_now);
                    bar.set_message(format!(
                        "{} connected · {} alarms · {} refused logins",
                        now.connected_now, now.alarms_sent, now.login_refusals
                    ));
                }
            }
        }
        bar.finish_and_clear();
    }))
}

/// Each camera holds one socket; make sure the process may open that many.
fn raise_file_limit(devices: usize) {
    let wanted = devices as u64 + 256;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => {
            tracing::warn!(
                wanted,
                got,
                "the open-file limit is below the fleet size; some cameras will fail to connect"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}
