//! Drives one socket with a [`Session`]: frames in, replies out, alarms pushed while the
//! platform is subscribed, and the camera's own timers (login wait, session expiry, flapping).
//!
//! Buffers start small and shrink back after a large message, so ten thousand idle cameras
//! cost little memory.

use std::time::Duration;

use bytes::BytesMut;
use homeport_protocol::wire::{WireCodec, WireError, WireFrame};
use rand::Rng;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::codec::{Decoder, Encoder};
use tokio_util::sync::CancellationToken;

use crate::alarm::AlarmGenerator;
use crate::fault::Fault;
use crate::session::{Change, Session};
use crate::stats::Stats;

/// Largest message a simulated camera accepts from a platform.
const MAX_MESSAGE: usize = 1024 * 1024;
/// Read buffer size of an idle connection.
const IDLE_BUFFER: usize = 512;
/// A buffer grown past this is dropped once empty.
const SHRINK_ABOVE: usize = 16 * 1024;
/// A write that cannot finish within this means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Silent keepalive intervals after which the camera expires the session and hangs up.
const EXPIRY_INTERVALS: u32 = 3;

/// How long the camera waits for a platform that does not log in.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Hang up if no login succeeds within this (register mode); `None` waits forever.
    pub login_timeout: Option<Duration>,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The platform closed the socket.
    PeerClosed,
    /// The platform logged out.
    LoggedOut,
    /// No login within the login timeout.
    LoginTimeout,
    /// No keepalive for several intervals.
    Expired,
    /// A flapping camera dropped its session on purpose.
    Flapped,
    /// The simulator is stopping.
    Stopped,
    /// Bad bytes or a socket error.
    Error(String),
}

/// What a finished connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Why it ended.
    pub end: End,
    /// Whether a login succeeded on it.
    pub logged_in: bool,
}

/// Serves `stream` until it ends. `ever_logged_in` records whether this camera has logged in before (on any connection).
pub async fn serve<S>(
    stream: &mut S,
    session: &mut Session,
    options: ServeOptions,
    stats: &Stats,
    ever_logged_in: &mut bool,
    cancel: &CancellationToken,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut login = LoginCount::default();
    let end = run(
        stream,
        session,
        options,
        stats,
        ever_logged_in,
        &mut login,
        cancel,
    )
    .await;
    if login.counted {
        stats.logged_out();
    }
    session.close();
    Outcome {
        end,
        logged_in: login.ever,
    }
}

/// Whether this connection's login is counted in [`Stats`], and whether it ever logged in.
#[derive(Debug, Default)]
struct LoginCount {
    counted: bool,
    ever: bool,
}

async fn run<S>(
    stream: &mut S,
    session: &mut Session,
    options: ServeOptions,
    stats: &Stats,
    ever_logged_in: &mut bool,
    login: &mut LoginCount,
    cancel: &CancellationToken,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let camera = session.camera().clone();
    let config = camera.config().clone();
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let mut codec = WireCodec::new(MAX_MESSAGE);
    let mut input = BytesMut::with_capacity(IDLE_BUFFER);
    let mut output = BytesMut::new();
    let mut alarms: Option<AlarmGenerator> = None;
    let interval = Duration::from_secs(u64::from(config.keep_alive_interval.max(1)));
    let mut login_deadline = options.login_timeout.map(|t| Instant::now() + t);
    let mut expiry: Option<Instant> = None;
    let mut flap_at: Option<Instant> = None;

    loop {
        // Answer everything already buffered before waiting again.
        loop {
            let frame = match codec.decode(&mut input) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(e) => return End::Error(describe(&e)),
            };
            let out = session.handle(frame);
            // Any call on a live session keeps it alive, as on devices; silence expires it.
            if session.logged_in().is_some() {
                expiry = Some(Instant::now() + interval * EXPIRY_INTERVALS);
            }
            if !out.replies.is_empty() {
                // One delay per answered request, however many frames the answer takes.
                if camera.has(Fault::Slow) {
                    tokio::select! {
                        () = cancel.cancelled() => return End::Stopped,
                        () = tokio::time::sleep(config.slow_delay) => {}
                    }
                }
                if let Err(e) = write(stream, &mut codec, &mut output, &out.replies).await {
                    return End::Error(e);
                }
            }
            match out.change {
                Some(Change::LoggedIn) => {
                    if !login.counted {
                        stats.logged_in(!*ever_logged_in);
                        login.counted = true;
                    }
                    *ever_logged_in = true;
                    login.ever = true;
                    login_deadline = None;
                    expiry = Some(Instant::now() + interval * EXPIRY_INTERVALS);
                    if camera.has(Fault::Flapping) {
                        let max = config.flap_max.max(Duration::from_millis(200));
                        flap_at = Some(Instant::now() + rng.random_range(max / 5..=max));
                    }
                }
                Some(Change::LoginRefused) => stats.login_refused(),
                // The first subscription starts the alarms; later ones (another legacy kind, a
                // JSON attach) keep the same generator, so open conditions still get their stop.
                Some(Change::Attached) if alarms.is_none() => {
                    let seed = SmallRng::from_rng(&mut rng);
                    alarms = Some(
                        AlarmGenerator::new(
                            config.alarm_rate,
                            config.channels,
                            seed,
                            Instant::now().into_std(),
                        )
                        .with_limit(config.alarm_limit),
                    );
                }
                Some(Change::Attached) => {}
                Some(Change::KeptAlive) => {
                    expiry = Some(Instant::now() + interval * EXPIRY_INTERVALS)
                }
                Some(Change::LoggedOut) => {
                    if login.counted {
                        stats.logged_out();
                        login.counted = false;
                    }
                    return End::LoggedOut;
                }
                None => {}
            }
        }
        if input.is_empty() && input.capacity() > SHRINK_ABOVE {
            input = BytesMut::with_capacity(IDLE_BUFFER);
        }

        let alarm_due = alarms
            .as_ref()
            .and_then(AlarmGenerator::next_due)
            .map(Instant::from_std);
        let timer = [
            login_deadline.map(|t| (t, End::LoginTimeout)),
            expiry.map(|t| (t, End::Expired)),
            flap_at.map(|t| (t, End::Flapped)),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(t, _)| *t);
        let far = Instant::now() + Duration::from_secs(86_400);
        tokio::select! {
            () = cancel.cancelled() => return End::Stopped,
            read = stream.read_buf(&mut input) => match read {
                Ok(0) => {
                    return match codec.decode_eof(&mut input) {
                        Err(e) => End::Error(describe(&e)),
                        Ok(_) => End::PeerClosed,
                    };
                }
                Ok(_) => {}
                Err(e) => return End::Error(e.to_string()),
            },
            () = sleep_until(alarm_due.unwrap_or(far)), if alarm_due.is_some() => {
                let Some(generator) = alarms.as_mut() else { continue };
                let events = generator.due(Instant::now().into_std());
                let (frames, count) = session.alarm_frames(&events);
                if !frames.is_empty() {
                    if let Err(e) = write(stream, &mut codec, &mut output, &frames).await {
                        return End::Error(e);
                    }
                    stats.alarms(count as u64);
                }
            }
            () = sleep_until(timer.as_ref().map_or(far, |(t, _)| *t)), if timer.is_some() => {
                if let Some((_, end)) = timer {
                    return end;
                }
            }
        }
    }
}

/// Writes `frames` in one go.
async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    codec: &mut WireCodec,
    output: &mut BytesMut,
    frames: &[WireFrame],
) -> Result<(), String> {
    output.clear();
    for frame in frames {
        codec.encode(frame, output).map_err(|e| describe(&e))?;
    }
    match timeout(WRITE_TIMEOUT, stream.write_all(output)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("peer stopped reading".to_owned()),
    }
    if output.capacity() > SHRINK_ABOVE {
        *output = BytesMut::new();
    }
    Ok(())
}

fn describe(error: &WireError) -> String {
    error.to_string()
}
