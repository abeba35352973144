//! One connection's state machine on the camera side: no async, no sockets.
//!
//! Frames come in ([`Session::handle`]), replies go out, and the caller learns what changed
//! (logged in, subscribed, logged out). What the camera answers depends on its
//! [`Firmware`](crate::firmware::Firmware) and on the [`Link`] it is on: DHIP two-step
//! `global.login`; the DVRIP realm login (opening → `b0` challenge → hash login), the old
//! plain login and the 2010 firmware's 3DES login, followed by JSON in `f6` packets, the `f4`
//! text RPC, `a1` keep-life, `68`/`69` legacy alarms and the DVRIP snapshot.
//!
//! - `login.rs` — the DHIP two-step login, and entering a session.
//! - `dvrip.rs` — DVRIP packets: dispatch, info queries, keep-life, `f6` JSON, logout.
//! - `dvrip_login.rs` — the DVRIP logins: opening, hash, plain and 3DES.
//! - `calls.rs` — JSON-RPC calls on a logged-in session.
//! - [`text_rpc`] — the `f4` text RPC.
//! - `legacy_alarm.rs` — `68` subscriptions and `69` state pushes.
//! - [`dvrip_snapshot`] — the JPEG in `bc` pieces.

use std::sync::Arc;

use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::hash::RealmChallenge;
use homeport_protocol::rpc::event::{AttachParams, EventInfo, NotifyEventStream};
use homeport_protocol::rpc::{Incoming, Request, method};
use homeport_protocol::wire::{Framing, WireFrame};
use rand::rngs::SmallRng;

use crate::camera::Camera;
pub use crate::firmware::Link;

mod calls;
mod dvrip;
mod dvrip_login;
pub mod dvrip_snapshot;
mod legacy_alarm;
mod login;
pub mod text_rpc;

use legacy_alarm::LegacyAlarms;

/// Device model reported by `magicBox.getDeviceType`.
pub const DEVICE_TYPE: &str = "IPC-HFW2431S-S-S2";
/// Device class reported by `magicBox.getDeviceClass`.
pub const DEVICE_CLASS: &str = "IPC";
/// Firmware version reported by `magicBox.getSoftwareVersion` and DVRIP sub-code 8.
pub const SOFTWARE_VERSION: &str = "2.800.0000004.0.R";
/// Product type at +12 of a DVRIP login success, as the captured IPC sends it.
pub const DVRIP_DEVICE_TYPE: u8 = 0x33;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Login {
    None,
    Challenged {
        session: u32,
        random: String,
    },
    RealmChallenged {
        challenge: RealmChallenge,
        session: u32,
    },
    LoggedIn {
        session: u32,
        /// The framing the platform logged in with; JSON notifications follow it.
        transport: Framing,
    },
}

#[derive(Debug, Clone)]
struct Subscription {
    attach_id: u32,
    sid: u32,
    params: AttachParams,
}

/// What handling a frame changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A login succeeded.
    LoggedIn,
    /// A login was refused.
    LoginRefused,
    /// The platform subscribed to events (`eventManager.attach` or a `68` subscription).
    Attached,
    /// The platform logged out; the connection should close after the reply.
    LoggedOut,
    /// A keepalive arrived.
    KeptAlive,
}

/// What to write back, and what changed.
#[derive(Debug, Default)]
pub struct Output {
    /// The frames to write, in order (none when the camera stays silent; several for a
    /// snapshot sent in pieces).
    pub replies: Vec<WireFrame>,
    /// What changed, if anything.
    pub change: Option<Change>,
}

impl Output {
    /// One frame and a change.
    fn one(frame: WireFrame, change: Option<Change>) -> Self {
        Self {
            replies: vec![frame],
            change,
        }
    }
}

/// The camera side of one connection.
#[derive(Debug)]
pub struct Session {
    camera: Arc<Camera>,
    peer: String,
    link: Link,
    login: Login,
    subscription: Option<Subscription>,
    legacy: LegacyAlarms,
    next_object: u32,
    rng: SmallRng,
}

impl Session {
    /// A fresh session on `link` for a connection from (or to) `peer`.
    pub fn new(camera: Arc<Camera>, peer: String, link: Link, rng: SmallRng) -> Self {
        Self {
            camera,
            peer,
            link,
            login: Login::None,
            subscription: None,
            legacy: LegacyAlarms::default(),
            next_object: 1,
            rng,
        }
    }

    /// The camera this session belongs to.
    pub fn camera(&self) -> &Arc<Camera> {
        &self.camera
    }

    /// The socket this session is on.
    pub fn link(&self) -> Link {
        self.link
    }

    /// The session id, once logged in.
    pub fn logged_in(&self) -> Option<u32> {
        match self.login {
            Login::LoggedIn { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Whether the platform has subscribed to JSON events (and is logged in).
    pub fn is_attached(&self) -> bool {
        self.logged_in().is_some() && self.subscription.is_some()
    }

    /// Handles one frame from the platform.
    pub fn handle(&mut self, frame: WireFrame) -> Output {
        match frame {
            WireFrame::Dhip(message) if self.camera.firmware().speaks_dhip(self.link) => {
                self.handle_dhip(&message)
            }
            WireFrame::Dhip(_) => self.ignore("a DHIP frame this firmware does not answer here"),
            WireFrame::Dvrip(frame) => self.handle_dvrip(DvripPacket::parse(&frame)),
        }
    }

    /// What to push for `events`, the camera's alarms that fell due together, and how many of
    /// them the platform gets: one `client.notifyEventStream` with the events it attached
    /// for, then a `69` state packet per change of a subscribed legacy kind.
    pub fn alarm_frames(&mut self, events: &[EventInfo]) -> (Vec<WireFrame>, usize) {
        let Login::LoggedIn { session, transport } = self.login else {
            return (Vec::new(), 0);
        };
        let mut delivered = vec![false; events.len()];
        let mut frames = Vec::new();
        if let Some(subscription) = &self.subscription {
            let mut wanted = Vec::new();
            for (event, sent) in events.iter().zip(delivered.iter_mut()) {
                if subscription.params.wants(&event.code) {
                    wanted.push(event.clone());
                    *sent = true;
                }
            }
            if !wanted.is_empty() {
                frames.push(notification(subscription, session, transport, wanted));
            }
        }
        let channels = self.camera.config().channels;
        for (event, sent) in events.iter().zip(delivered.iter_mut()) {
            for packet in self.legacy.apply(event, channels) {
                frames.push(self.dvrip_reply(packet));
                *sent = true;
            }
        }
        (frames, delivered.iter().filter(|sent| **sent).count())
    }

    /// Forgets the session's user and subscriptions (call when the connection ends).
    pub fn close(&mut self) {
        if let Some(session) = self.logged_in() {
            self.camera.remove_user(session);
        }
        self.login = Login::None;
        self.subscription = None;
        self.legacy.unsubscribe_all();
    }

    fn handle_dhip(&mut self, message: &DhipMessage) -> Output {
        let Ok((json, _)) = message.parts() else {
            tracing::debug!(peer = %self.peer, "ignoring a DHIP body that is not JSON");
            return Output::default();
        };
        let Ok(Incoming::Call(request)) = Incoming::parse(json) else {
            return Output::default();
        };
        let (reply, payload, change) = self.call(&request, Framing::Dhip);
        Output {
            replies: reply
                .map(|reply| Framing::Dhip.reply_frame(reply.id, &reply, payload))
                .into_iter()
                .collect(),
            change,
        }
    }
}

/// A `client.notifyEventStream` carrying `events`, in the framing the platform logged in with.
fn notification(
    subscription: &Subscription,
    session: u32,
    transport: Framing,
    events: Vec<EventInfo>,
) -> WireFrame {
    let params = NotifyEventStream {
        sid: subscription.sid,
        event_list: events,
    };
    let request = Request::new(
        subscription.attach_id,
        session,
        method::NOTIFY_EVENT_STREAM,
        params,
    );
    transport.notification_frame(&request)
}

#[cfg(test)]
mod test_support;
