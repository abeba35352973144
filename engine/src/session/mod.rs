//! One registered device's task, from its announcement to its disconnect.
//!
//! Wait for credentials (pending) → log in over the device's own socket, retrying with
//! backoff when refused → subscribe to events → serve: alarms become events, commands from
//! the device's handle run one at a time, keepalives run at the device's interval. A closed
//! socket, a lost keepalive, or an order to close (replaced, removed, shutdown) ends it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use homeport_protocol::rpc::event::{EventAction, NotifyEventStream};
use homeport_protocol::rpc::keepalive::KeepAliveParams;
use homeport_protocol::rpc::{Reply, method};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use crate::device::{
    Command, CommandError, DeviceHandle, Link, LinkError, LoginOk, Message, login,
};
use crate::event::{Event, EventKind, OnlineReason};
use crate::registry::{Credentials, Registry, Ticket};

/// Timers of a device session.
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// How long a device has to answer one call (login steps, commands, keepalives).
    pub reply_timeout: Duration,
    /// How long an unknown device may wait for credentials before it is disconnected.
    pub pending_timeout: Duration,
    /// First wait after a refused login; doubles up to `login_backoff_max`.
    pub login_backoff_min: Duration,
    /// Longest wait between login attempts.
    pub login_backoff_max: Duration,
    /// Log in as soon as credentials are known; when off, a device logs in only when a
    /// pipeline's `login` stage asks.
    pub auto_login: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            reply_timeout: Duration::from_secs(10),
            pending_timeout: Duration::from_secs(600),
            login_backoff_min: Duration::from_secs(5),
            login_backoff_max: Duration::from_secs(300),
            auto_login: true,
        }
    }
}

/// How a session ended.
type End = (OnlineReason, Option<String>);

/// Runs a registered device's session to its end and reports the end to the registry.
pub async fn run<S>(
    mut link: Link<S>,
    mut ticket: Ticket,
    registry: Arc<Registry>,
    config: SessionConfig,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (reason, detail) = drive(&mut link, &mut ticket, &registry, config).await;
    tracing::info!(device = %ticket.id, ?reason, detail = detail.as_deref().unwrap_or(""), "session ended");
    registry.detach(&ticket.id, ticket.generation, reason, detail);
}

async fn drive<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    config: SessionConfig,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let login = match log_in(link, ticket, registry, config).await {
        Ok(login) => login,
        Err(end) => return end,
    };
    // Subscribe to every event code; a device that refuses still serves commands.
    match link
        .call(
            method::EVENT_ATTACH,
            json!({"codes": ["All"]}),
            config.reply_timeout,
        )
        .await
    {
        Ok((reply, _)) if reply.is_ok() => {}
        Ok((reply, _)) => {
            tracing::warn!(device = %ticket.id, error = ?reply.error, "device refused the event subscription")
        }
        Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
    }
    let (handle, commands) = DeviceHandle::channel(config.reply_timeout);
    registry.online(&ticket.id, ticket.generation, handle);
    serve(link, ticket, registry, config, login, commands).await
}

/// Waits for credentials and logs in, retrying refused logins with backoff.
async fn log_in<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    config: SessionConfig,
) -> Result<LoginOk, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut backoff = config.login_backoff_min;
    loop {
        let credentials =
            wait_for_credentials(link, ticket, config.pending_timeout, config.auto_login).await?;
        registry.logging_in(&ticket.id, ticket.generation);
        let attempt = login::login(
            link,
            credentials.protocol,
            &credentials.username,
            credentials.password.expose(),
            config.reply_timeout,
        )
        .await;
        match attempt {
            Ok(login) => return Ok(login),
            Err(login::LoginError::Link(e)) => {
                return Err((OnlineReason::SocketClosed, Some(e.to_string())));
            }
            Err(refused) => {
                tracing::warn!(device = %ticket.id, error = %refused, retry_in = ?backoff, "login failed");
                registry.login_failed(&ticket.id, ticket.generation, &refused.to_string());
                // New credentials retry at once; otherwise wait out the backoff.
                ticket.credentials.mark_unchanged();
                idle(link, ticket, backoff).await?;
                backoff = (backoff * 2).min(config.login_backoff_max);
            }
        }
    }
}

/// The current credentials, waiting (while watching the socket) until there are some and,
/// without `auto_login`, until a login is asked for.
async fn wait_for_credentials<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    timeout: Duration,
    auto_login: bool,
) -> Result<Credentials, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + timeout;
    let mut asked = auto_login;
    let login_now = Arc::clone(&ticket.login_now);
    loop {
        if let Some(credentials) = ticket
            .credentials
            .borrow_and_update()
            .clone()
            .filter(|_| asked)
        {
            return Ok(credentials);
        }
        tokio::select! {
            () = login_now.notified() => asked = true,
            () = ticket.close.cancelled() => return Err(closed(ticket)),
            changed = ticket.credentials.changed() => {
                if changed.is_err() {
                    return Err(closed(ticket));
                }
            }
            () = sleep_until(deadline) => {
                return Err((OnlineReason::SocketClosed, Some(format!("no credentials within {timeout:?}"))));
            }
            message = link.next() => ignore_while_idle(message)?,
        }
    }
}

/// Waits `wait`, or less if credentials change; watches the socket meanwhile.
async fn idle<S>(link: &mut Link<S>, ticket: &mut Ticket, wait: Duration) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + wait;
    let login_now = Arc::clone(&ticket.login_now);
    loop {
        tokio::select! {
            () = login_now.notified() => return Ok(()),
            () = ticket.close.cancelled() => return Err(closed(ticket)),
            changed = ticket.credentials.changed() => {
                return if changed.is_err() { Err(closed(ticket)) } else { Ok(()) };
            }
            () = sleep_until(deadline) => return Ok(()),
            message = link.next() => ignore_while_idle(message)?,
        }
    }
}

fn ignore_while_idle(message: Result<Message, LinkError>) -> Result<(), End> {
    match message {
        Ok(_) => Ok(()),
        Err(e) => Err((OnlineReason::SocketClosed, Some(e.to_string()))),
    }
}

fn closed(ticket: &Ticket) -> End {
    (
        ticket
            .close_reason
            .get()
            .copied()
            .unwrap_or(OnlineReason::SocketClosed),
        None,
    )
}

/// What the one call in flight is for.
enum InFlight {
    Command(
        oneshot::Sender<Result<(Reply, Option<Bytes>), CommandError>>,
        String,
    ),
    Keepalive,
}

/// Serves a logged-in device until its session ends.
async fn serve<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    config: SessionConfig,
    login: LoginOk,
    mut commands: mpsc::Receiver<Box<Command>>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let interval = Duration::from_secs(u64::from(login.keep_alive));
    // Twice per interval, so one lost keepalive still leaves the device's session alive.
    let period = (interval / 2).max(Duration::from_millis(500));
    let mut next_keepalive = Instant::now() + period;
    let mut in_flight: Option<(u32, InFlight, Instant)> = None;
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    loop {
        let deadline = in_flight.as_ref().map_or(far, |(_, _, deadline)| *deadline);
        tokio::select! {
            () = ticket.close.cancelled() => {
                // Best effort: tell the device we are leaving.
                let _ = tokio::time::timeout(Duration::from_secs(1), link.send(method::LOGOUT, serde_json::Value::Null)).await;
                return closed(ticket);
            }
            message = link.next() => match message {
                Ok(Message::Reply(reply, payload)) => {
                    let Some((id, _, _)) = &in_flight else { continue };
                    if reply.id != *id {
                        continue; // a late reply to a call that already timed out
                    }
                    let (_, purpose, _) = in_flight.take().expect("in flight");
                    match purpose {
                        InFlight::Command(reply_to, _) => {
                            let _ = reply_to.send(Ok((reply, payload)));
                        }
                        InFlight::Keepalive => registry.seen(&ticket.id, ticket.generation),
                    }
                }
                Ok(Message::Call(call)) if call.method == method::NOTIFY_EVENT_STREAM => {
                    publish_alarms(registry, &ticket.id, &call.params);
                }
                Ok(Message::Call(call)) => tracing::debug!(device = %ticket.id, method = %call.method, "ignoring a device call"),
                Ok(Message::Dvrip(frame)) => tracing::debug!(device = %ticket.id, command = frame.command(), "ignoring a DVRIP packet"),
                Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
            },
            command = commands.recv(), if in_flight.is_none() => {
                let Some(command) = command else { continue };
                match link.send(&command.method, &command.params).await {
                    Ok(id) => in_flight = Some((id, InFlight::Command(command.reply, command.method), Instant::now() + command.timeout)),
                    Err(e) => {
                        let _ = command.reply.send(Err(CommandError::Disconnected));
                        return (OnlineReason::SocketClosed, Some(e.to_string()));
                    }
                }
            }
            () = sleep_until(next_keepalive), if in_flight.is_none() => {
                next_keepalive = Instant::now() + period;
                let params = KeepAliveParams { timeout: login.keep_alive, active: true };
                match link.send(method::KEEP_ALIVE, params).await {
                    Ok(id) => in_flight = Some((id, InFlight::Keepalive, Instant::now() + config.reply_timeout.min(interval))),
                    Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
                }
            }
            () = sleep_until(deadline), if in_flight.is_some() => {
                let (_, purpose, _) = in_flight.take().expect("in flight");
                match purpose {
                    InFlight::Keepalive => {
                        return (OnlineReason::KeepaliveLost, Some(format!("no keepalive reply within {:?}", config.reply_timeout.min(interval))));
                    }
                    InFlight::Command(reply_to, method) => {
                        tracing::warn!(device = %ticket.id, %method, "command timed out");
                        let _ = reply_to.send(Err(CommandError::Timeout(config.reply_timeout)));
                    }
                }
            }
        }
    }
}

/// Turns a `client.notifyEventStream` into alarm events, one per entry, in order.
fn publish_alarms(registry: &Registry, id: &str, params: &serde_json::Value) {
    let stream: NotifyEventStream = match serde_json::from_value(params.clone()) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(device = %id, error = %e, "malformed event notification");
            return;
        }
    };
    for info in stream.event_list {
        let action = match &info.action {
            EventAction::Start => "start".to_owned(),
            EventAction::Stop => "stop".to_owned(),
            EventAction::Pulse => "pulse".to_owned(),
            EventAction::State => "state".to_owned(),
            EventAction::Other(other) => other.clone(),
        };
        let kind = EventKind::Alarm {
            channel: info.index,
            device_time: info.locale_time().map(str::to_owned),
            device_utc: info.utc(),
            code: info.code,
            action,
            data: info.data,
        };
        registry.bus().publish(Event::new(id, kind));
    }
}
