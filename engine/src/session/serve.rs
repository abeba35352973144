//! The logged-in loop: alarms in, commands out one at a time, keepalives on the device's
//! framing.
//!
//! - DHIP: `global.keepAlive` twice per interval the device asked for; a keepalive without a
//!   reply in time ends the session.
//! - DVRIP: the `a1` keep-life packet every `dvrip_keepalive` (the vendor SDK: 10 s); the
//!   link is dead after `dvrip_silence` (60 s) without any data from the device.
//! - Snapshots use `snapManager.snapPicture` where the device has it and the DVRIP snapshot
//!   (`0x11` → `0xbc` pieces) where it does not (2010-era firmware, or a JSON "method not
//!   found" on a DVRIP session, remembered for the session).

use bytes::{Bytes, BytesMut};
use homeport_protocol::dvrip::{DvripFrame, DvripPacket};
use homeport_protocol::rpc::keepalive::KeepAliveParams;
use homeport_protocol::rpc::{Reply, codes, method};
use homeport_protocol::wire::Framing;
use serde_json::Map;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant, sleep_until};

use super::legacy::LegacyAlarms;
use super::{End, Events, SessionConfig, publish_alarms};
use crate::device::handle::{RpcReply, json_snapshot, snapshot_params};
use crate::device::link::Link;
use crate::device::login::LoginOk;
use crate::device::{Command, CommandError, EventLabels, Message};
use crate::event::{Event, EventKind, OnlineReason};
use crate::registry::{Registry, Ticket};

/// Largest picture assembled from DVRIP snapshot pieces.
const MAX_SNAPSHOT: usize = 16 * 1024 * 1024;

/// What the one call in flight is for.
enum InFlight {
    /// A JSON-RPC call with this id.
    Rpc(u32, RpcReply, String),
    /// `snapManager.snapPicture` with this id.
    JsonSnapshot(u32, u32, oneshot::Sender<Result<Bytes, CommandError>>),
    /// A DVRIP snapshot with this serial, and the pieces so far.
    DvripSnapshot(u8, BytesMut, oneshot::Sender<Result<Bytes, CommandError>>),
    /// `global.keepAlive` with this id.
    Keepalive(u32),
    /// A probe: answered by the keepalive reply with this id (DHIP) or by anything the
    /// device sends next (DVRIP).
    Probe(Option<u32>, oneshot::Sender<Result<(), CommandError>>),
}

/// The session's state while it serves.
struct Served {
    transport: Framing,
    json: bool,
    json_snapshot: bool,
    next_serial: u8,
    legacy: LegacyAlarms,
}

/// Why a session was told to close, or `SocketClosed`.
pub(super) fn closed(ticket: &Ticket) -> End {
    (
        ticket
            .close_reason
            .get()
            .copied()
            .unwrap_or(OnlineReason::SocketClosed),
        None,
    )
}

/// Serves a logged-in device until its session ends.
pub(super) async fn serve<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    config: SessionConfig,
    login: LoginOk,
    events: Events,
    mut commands: mpsc::Receiver<Box<Command>>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut served = Served {
        transport: login.transport,
        json: login.info.speaks_json(),
        json_snapshot: login.info.speaks_json(),
        next_serial: 1,
        legacy: LegacyAlarms::default(),
    };
    let dvrip = served.transport == Framing::Dvrip;
    let interval = Duration::from_secs(u64::from(login.keep_alive));
    // DHIP: twice per interval, so one lost keepalive still leaves the device's session alive.
    let period = if dvrip {
        config.dvrip_keepalive.max(Duration::from_millis(100))
    } else {
        (interval / 2).max(Duration::from_millis(500))
    };
    let keepalive_wait = config.reply_timeout.min(interval);
    let mut next_keepalive = Instant::now() + period;
    let mut last_heard = Instant::now();
    let mut in_flight: Option<(InFlight, Instant)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let deadline = in_flight.as_ref().map_or(far, |(_, deadline)| *deadline);
        let silence_deadline = if dvrip {
            last_heard + config.dvrip_silence
        } else {
            far
        };
        // A DVRIP keep-life packet needs no reply slot; a DHIP keepalive waits for a free one.
        let keepalive_ready = dvrip || in_flight.is_none();
        tokio::select! {
            () = ticket.close.cancelled() => {
                // Best effort: tell the device we are leaving.
                let bye = async {
                    if dvrip {
                        let _ = link.send_dvrip(DvripPacket::Logout { session: link.session() }.to_frame()).await;
                    } else {
                        let _ = link.send(method::LOGOUT, serde_json::Value::Null).await;
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
                return closed(ticket);
            }
            message = link.next() => {
                last_heard = Instant::now();
                if message.is_ok()
                    && matches!(in_flight, Some((InFlight::Probe(None, _), _)))
                    && let Some((InFlight::Probe(_, reply_to), _)) = in_flight.take()
                {
                    let _ = reply_to.send(Ok(()));
                }
                match message {
                    Ok(Message::Reply(reply, payload)) => {
                        if let Err(end) = on_reply(link, &mut served, &mut in_flight, registry, ticket, config, reply, payload).await {
                            return end;
                        }
                    }
                    Ok(Message::Call(call)) if call.method == method::NOTIFY_EVENT_STREAM => {
                        if events == Events::Json {
                            let started = Instant::now();
                            publish_alarms(registry, ticket, &call.params).await;
                            busy(started, &mut last_heard, &mut in_flight);
                        }
                    }
                    Ok(Message::Call(call)) => tracing::debug!(device = %ticket.id, method = %call.method, "ignoring a device call"),
                    Ok(Message::Dvrip(frame)) => {
                        let started = Instant::now();
                        on_dvrip(&frame, &mut served, &mut in_flight, registry, ticket).await;
                        busy(started, &mut last_heard, &mut in_flight);
                    }
                    Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
                }
            }
            command = commands.recv(), if in_flight.is_none() => {
                let Some(command) = command else { continue };
                match start(link, &mut served, *command).await {
                    Ok(started) => in_flight = started,
                    Err(e) => return (OnlineReason::SocketClosed, Some(e)),
                }
            }
            () = sleep_until(next_keepalive), if keepalive_ready => {
                next_keepalive = Instant::now() + period;
                if dvrip {
                    if let Err(e) = link.send_dvrip(DvripPacket::KeepAlive.to_frame()).await {
                        return (OnlineReason::SocketClosed, Some(e.to_string()));
                    }
                } else {
                    let params = KeepAliveParams { timeout: login.keep_alive, active: true };
                    match link.send(method::KEEP_ALIVE, params).await {
                        Ok(id) => in_flight = Some((InFlight::Keepalive(id), Instant::now() + keepalive_wait)),
                        Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
                    }
                }
            }
            () = sleep_until(silence_deadline), if dvrip => {
                return (OnlineReason::KeepaliveLost, Some(format!("nothing heard from the device for {:?}", config.dvrip_silence)));
            }
            () = sleep_until(deadline), if in_flight.is_some() => {
                let Some((purpose, _)) = in_flight.take() else { continue };
                match purpose {
                    InFlight::Keepalive(_) => {
                        return (OnlineReason::KeepaliveLost, Some(format!("no keepalive reply within {keepalive_wait:?}")));
                    }
                    InFlight::Rpc(_, reply_to, method) => {
                        tracing::warn!(device = %ticket.id, %method, "command timed out");
                        let _ = reply_to.send(Err(CommandError::Timeout(config.reply_timeout)));
                    }
                    InFlight::JsonSnapshot(_, _, reply_to) | InFlight::DvripSnapshot(_, _, reply_to) => {
                        tracing::warn!(device = %ticket.id, "snapshot timed out");
                        if served.transport == Framing::Dvrip {
                            // No answer to the JSON call: the next one uses the DVRIP snapshot.
                            served.json_snapshot = false;
                        }
                        let _ = reply_to.send(Err(CommandError::Timeout(config.reply_timeout)));
                    }
                    InFlight::Probe(_, reply_to) => {
                        let _ = reply_to.send(Err(CommandError::Timeout(config.reply_timeout)));
                        return (OnlineReason::KeepaliveLost, Some("no answer to a probe while another connection announced the same ID".to_owned()));
                    }
                }
            }
        }
    }
}

/// Sends a command; returns what is now in flight (nothing if it was answered at once).
async fn start<S>(
    link: &mut Link<S>,
    served: &mut Served,
    command: Command,
) -> Result<Option<(InFlight, Instant)>, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match command {
        Command::Probe { timeout, reply } => {
            if served.transport == Framing::Dvrip {
                link.send_dvrip(DvripPacket::KeepAlive.to_frame())
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(Some((
                    InFlight::Probe(None, reply),
                    Instant::now() + timeout,
                )));
            }
            let params = KeepAliveParams {
                timeout: 60,
                active: true,
            };
            let id = link
                .send(method::KEEP_ALIVE, params)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Some((
                InFlight::Probe(Some(id), reply),
                Instant::now() + timeout,
            )))
        }
        Command::Rpc { reply, .. } if !served.json => {
            let _ = reply.send(Err(CommandError::Unsupported(
                "it speaks no JSON-RPC (DVRIP protocol version 6)".to_owned(),
            )));
            Ok(None)
        }
        Command::Rpc {
            method,
            params,
            timeout,
            reply,
        } => match link.send(&method, &params).await {
            Ok(id) => Ok(Some((
                InFlight::Rpc(id, reply, method),
                Instant::now() + timeout,
            ))),
            Err(e) => {
                let _ = reply.send(Err(CommandError::Disconnected));
                Err(e.to_string())
            }
        },
        Command::Snapshot {
            channel,
            timeout,
            reply,
        } => {
            if served.json_snapshot {
                return match link
                    .send(method::SNAP_PICTURE, snapshot_params(channel))
                    .await
                {
                    Ok(id) => Ok(Some((
                        InFlight::JsonSnapshot(id, channel, reply),
                        Instant::now() + timeout,
                    ))),
                    Err(e) => {
                        let _ = reply.send(Err(CommandError::Disconnected));
                        Err(e.to_string())
                    }
                };
            }
            if served.transport != Framing::Dvrip {
                let _ = reply.send(Err(CommandError::Unsupported(
                    "it has no snapshot method".to_owned(),
                )));
                return Ok(None);
            }
            start_dvrip_snapshot(link, served, channel, reply)
                .await
                .map(|inflight| Some((inflight, Instant::now() + timeout)))
        }
    }
}

async fn start_dvrip_snapshot<S>(
    link: &mut Link<S>,
    served: &mut Served,
    channel: u32,
    reply: oneshot::Sender<Result<Bytes, CommandError>>,
) -> Result<InFlight, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let serial = served.next_serial;
    served.next_serial = served.next_serial.wrapping_add(1).max(1);
    let request = DvripPacket::SnapRequest {
        channel,
        mode: 0,
        serial: u32::from(serial),
    };
    match link.send_dvrip(request.to_frame()).await {
        Ok(()) => Ok(InFlight::DvripSnapshot(serial, BytesMut::new(), reply)),
        Err(e) => {
            let _ = reply.send(Err(CommandError::Disconnected));
            Err(e.to_string())
        }
    }
}

/// A JSON reply: matched against the call in flight.
#[allow(clippy::too_many_arguments)]
async fn on_reply<S>(
    link: &mut Link<S>,
    served: &mut Served,
    in_flight: &mut Option<(InFlight, Instant)>,
    registry: &Registry,
    ticket: &Ticket,
    config: SessionConfig,
    reply: Reply,
    payload: Option<Bytes>,
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let matches = match in_flight {
        Some((
            InFlight::Rpc(id, ..) | InFlight::JsonSnapshot(id, ..) | InFlight::Keepalive(id),
            _,
        )) => *id == reply.id,
        _ => false,
    };
    if !matches {
        return Ok(()); // a late reply to a call that already timed out
    }
    let Some((purpose, _)) = in_flight.take() else {
        return Ok(());
    };
    match purpose {
        InFlight::Rpc(_, reply_to, _) => {
            let _ = reply_to.send(Ok((reply, payload)));
        }
        InFlight::Keepalive(_) => registry.seen(&ticket.id, ticket.generation),
        InFlight::Probe(_, reply_to) => {
            registry.seen(&ticket.id, ticket.generation);
            let _ = reply_to.send(Ok(()));
        }
        InFlight::JsonSnapshot(_, channel, reply_to) => {
            // Any refusal over DVRIP (not only "method not found": firmware words it in its own
            // codes) means the device has the DVRIP snapshot to offer instead.
            if let Some(error) = reply.error.as_ref()
                && served.transport == Framing::Dvrip
            {
                let code = error.code;
                tracing::info!(device = %ticket.id, code, not_found = code == codes::METHOD_NOT_FOUND, "the JSON snapshot was refused; using the DVRIP snapshot");
                served.json_snapshot = false;
                let started = start_dvrip_snapshot(link, served, channel, reply_to)
                    .await
                    .map_err(|e| (OnlineReason::SocketClosed, Some(e)))?;
                *in_flight = Some((started, Instant::now() + config.reply_timeout));
            } else {
                let _ = reply_to.send(json_snapshot(&reply, payload.as_deref()));
            }
        }
        InFlight::DvripSnapshot(..) => {}
    }
    Ok(())
}

/// Time the session spent waiting for the pipelines to take its alarms (since `started`) is
/// not the device's silence: the timers move on by as much.
fn busy(started: Instant, last_heard: &mut Instant, in_flight: &mut Option<(InFlight, Instant)>) {
    let waited = started.elapsed();
    if waited < Duration::from_millis(10) {
        return;
    }
    *last_heard = (*last_heard + waited).min(Instant::now());
    if let Some((_, deadline)) = in_flight.as_mut() {
        *deadline += waited;
    }
}

/// A DVRIP packet that is not JSON: keep-life answers, legacy alarms, snapshot pieces.
async fn on_dvrip(
    frame: &DvripFrame,
    served: &mut Served,
    in_flight: &mut Option<(InFlight, Instant)>,
    registry: &Registry,
    ticket: &Ticket,
) {
    match DvripPacket::parse(frame) {
        DvripPacket::KeepAliveReply => registry.seen(&ticket.id, ticket.generation),
        DvripPacket::AlarmState { kind, states, .. } => {
            for change in served.legacy.apply(kind, &states) {
                let event = EventKind::Alarm {
                    channel: change.channel,
                    code: change.code,
                    action: change.action.to_owned(),
                    device_time: None,
                    device_utc: None,
                    data: Map::new(),
                };
                let labels = EventLabels::from(&*ticket.labels.borrow());
                registry
                    .bus()
                    .send(Event::labelled(&ticket.id, labels, event))
                    .await;
            }
        }
        DvripPacket::SnapData { serial, chunk, .. } => {
            let Some((InFlight::DvripSnapshot(want, picture, _), _)) = in_flight.as_mut() else {
                return;
            };
            if serial != *want {
                return;
            }
            if !chunk.is_empty() && picture.len() + chunk.len() <= MAX_SNAPSHOT {
                picture.extend_from_slice(&chunk);
                return;
            }
            let Some((InFlight::DvripSnapshot(_, picture, reply_to), _)) = in_flight.take() else {
                return;
            };
            let result = if !chunk.is_empty() {
                Err(CommandError::BadReply {
                    method: "DVRIP snapshot".to_owned(),
                    detail: format!("picture larger than {MAX_SNAPSHOT} bytes"),
                })
            } else if picture.is_empty() {
                Err(CommandError::Device {
                    method: "DVRIP snapshot".to_owned(),
                    code: 0,
                    message: "the device sent no picture".to_owned(),
                })
            } else {
                Ok(picture.freeze())
            };
            let _ = reply_to.send(result);
        }
        other => tracing::debug!(device = %ticket.id, ?other, "ignoring a DVRIP packet"),
    }
}
