//! One registered device's task, from its announcement to its disconnect.
//!
//! Wait for credentials (pending) → log in over the device's own socket (`login`: DVRIP
//! first, retries that never spend the device's last try) → subscribe to events (JSON
//! `eventManager.attach`, or the legacy `0x68` subscriptions on a device that has no JSON) →
//! serve (`serve`): alarms become events, commands from the device's handle run one at a
//! time, keepalives run on the device's framing. A closed socket, a lost keepalive, or an
//! order to close (replaced, removed, shutdown) ends it.
//!
//! - `login` — waiting for credentials and logging in, with the retry rules.
//! - `serve` — the logged-in loop.
//! - `identity` — reading the serial and type a device shows after its login, checked
//!   against what it proved at its first one.
//! - `legacy` — legacy `0x69` alarm states turned into start / stop alarms.

mod identity;
mod legacy;
mod login;
mod serve;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::dvrip::packet::alarm;
use homeport_protocol::rpc::event::{EventAction, NotifyEventStream};
use homeport_protocol::rpc::method;
use homeport_protocol::wire::Framing;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::device::identity::{Identity, PinnedRealm};
use crate::device::{DeviceHandle, EventLabels, Link, LinkError};
use crate::event::{Event, EventKind, OnlineReason};
use crate::registry::{Online, Registry, Ticket};

/// Timers of a device session (the config file's `session:` section).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionConfig {
    /// How long a device has to answer one call (login steps, commands, keepalives).
    #[serde(deserialize_with = "crate::de::duration")]
    pub reply_timeout: Duration,
    /// How long `auto` waits for the first answer of the first protocol before it tries the
    /// other (the vendor SDK waits 5 s).
    #[serde(deserialize_with = "crate::de::duration")]
    pub fallback_timeout: Duration,
    /// How long an unknown device may wait for credentials before it is disconnected.
    #[serde(deserialize_with = "crate::de::duration")]
    pub pending_timeout: Duration,
    /// First wait after a refused login; doubles up to `login_backoff_max`.
    #[serde(deserialize_with = "crate::de::duration")]
    pub login_backoff_min: Duration,
    /// Longest wait between login attempts.
    #[serde(deserialize_with = "crate::de::duration")]
    pub login_backoff_max: Duration,
    /// Log in as soon as credentials are known; when off, a device logs in only when a
    /// pipeline's `login` stage asks.
    pub auto_login: bool,
    /// How often a DVRIP session sends the `a1` keep-life packet (the vendor SDK: 10 s).
    #[serde(deserialize_with = "crate::de::duration")]
    pub dvrip_keepalive: Duration,
    /// How long a DVRIP session may stay silent before it is declared dead (the vendor SDK:
    /// 60 s without any data).
    #[serde(deserialize_with = "crate::de::duration")]
    pub dvrip_silence: Duration,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            reply_timeout: Duration::from_secs(10),
            fallback_timeout: Duration::from_secs(5),
            pending_timeout: Duration::from_secs(600),
            login_backoff_min: Duration::from_secs(5),
            login_backoff_max: Duration::from_secs(300),
            auto_login: true,
            dvrip_keepalive: Duration::from_secs(10),
            dvrip_silence: Duration::from_secs(60),
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
    let mut was_online = false;
    let (reason, detail) = drive(&mut link, &mut ticket, &registry, config, &mut was_online).await;
    let message = if was_online {
        "device offline"
    } else {
        "session ended"
    };
    tracing::info!(device = %ticket.id, reason = reason.as_str(), detail = detail.as_deref().unwrap_or(""), "{message}");
    registry.detach(&ticket.id, ticket.generation, reason, detail);
}

async fn drive<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    config: SessionConfig,
    online: &mut bool,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (login, protocol) = match login::log_in(link, ticket, registry, config).await {
        Ok(login) => login,
        Err(end) => return end,
    };
    // What it says it is must match what it proved at its first login.
    let shown = match identity::read(link, login.info.speaks_json(), config.reply_timeout).await {
        Ok(shown) => shown,
        Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
    };
    let pinned = registry.identity(&ticket.id);
    if let Err(mismatch) = pinned.check(shown.serial.as_deref(), shown.device_type.as_deref()) {
        return login::refuse_identity(registry, ticket, &mismatch);
    }
    if pinned.is_empty() {
        let realm = login
            .realm
            .clone()
            .map(|realm| PinnedRealm { protocol, realm });
        registry.pin(
            &ticket.id,
            ticket.generation,
            Identity {
                realm,
                serial: shown.serial,
                device_type: shown.device_type,
            },
        );
    }
    // The device proved who it is: it may now send large messages (snapshots).
    link.trust();
    let events = match subscribe(link, ticket, login.info.speaks_json(), config).await {
        Ok(events) => events,
        Err(e) => return (OnlineReason::SocketClosed, Some(e.to_string())),
    };
    let (handle, commands) = DeviceHandle::channel(config.reply_timeout);
    tracing::info!(device = %ticket.id, protocol = %protocol, transport = ?login.transport, "device online");
    registry.online(
        &ticket.id,
        ticket.generation,
        handle,
        Online {
            protocol,
            transport: login.transport,
            info: login.info,
            firmware: shown.firmware,
        },
    );
    *online = true;
    serve::serve(link, ticket, registry, config, login, events, commands).await
}

/// How alarms reach the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Events {
    /// `client.notifyEventStream` after `eventManager.attach`.
    Json,
    /// `0x69` alarm states after `0x68` subscriptions.
    Legacy,
    /// The device refused every subscription.
    None,
}

/// Subscribes to every event code: JSON where the device speaks it, the legacy DVRIP
/// subscriptions where it does not (or refuses JSON over DVRIP). A device that refuses both
/// still serves commands.
async fn subscribe<S>(
    link: &mut Link<S>,
    ticket: &Ticket,
    json: bool,
    config: SessionConfig,
) -> Result<Events, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if json {
        match link
            .call(
                method::EVENT_ATTACH,
                json!({"codes": ["All"]}),
                config.reply_timeout,
            )
            .await
        {
            Ok((reply, _)) if reply.is_ok() => return Ok(Events::Json),
            Ok((reply, _)) => {
                tracing::warn!(device = %ticket.id, error = ?reply.error, "device refused the event subscription");
            }
            Err(LinkError::Timeout { .. }) if link.transport() == Framing::Dvrip => {
                tracing::warn!(device = %ticket.id, "no answer to eventManager.attach; using the legacy alarm subscription");
            }
            Err(e) => return Err(e),
        }
        if link.transport() != Framing::Dvrip {
            return Ok(Events::None);
        }
    }
    for kind in alarm::ALL {
        link.send_dvrip(DvripPacket::AlarmSubscribe { op: 2, kind }.to_frame())
            .await?;
    }
    Ok(Events::Legacy)
}

/// Turns a `client.notifyEventStream` into alarm events, one per entry, in order, each sent
/// once the pipelines have room for it (so a camera the pipelines cannot keep up with is not
/// read meanwhile).
async fn publish_alarms(registry: &Registry, ticket: &Ticket, params: &serde_json::Value) {
    let id = ticket.id.as_str();
    let labels = EventLabels::from(&*ticket.labels.borrow());
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
        registry
            .bus()
            .send(Event::labelled(id, labels.clone(), kind))
            .await;
    }
}
