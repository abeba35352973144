//! One connection's state machine on the camera side: no async, no sockets.
//!
//! Frames come in ([`Session::handle`]), replies go out, and the caller learns what changed
//! (logged in, attached, logged out). Login works both ways a platform may try over a
//! register socket or a direct connection: DHIP two-step `global.login`, and the DVRIP realm
//! login (`a0 01` → `b0` → `a0 05`) followed by JSON in `f6` packets.

use std::sync::Arc;

use bytes::Bytes;
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::hash::RealmChallenge;
use homeport_protocol::rpc::event::{AttachParams, EventInfo, NotifyEventStream};
use homeport_protocol::rpc::{Incoming, Reply, Request, method};
use homeport_protocol::wire::WireFrame;
use rand::rngs::SmallRng;

use crate::camera::Camera;

mod calls;
mod dvrip;
mod login;

/// Device model reported by `magicBox.getDeviceType`.
pub const DEVICE_TYPE: &str = "IPC-HFW2431S-S-S2";
/// Device class reported by `magicBox.getDeviceClass`.
pub const DEVICE_CLASS: &str = "IPC";
/// Firmware version reported by `magicBox.getSoftwareVersion` and DVRIP sub-code 8.
pub const SOFTWARE_VERSION: &str = "2.800.0000004.0.R";

/// Which framing the platform logged in with; notifications follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// DHIP messages.
    Dhip,
    /// DVRIP `f6` packets.
    Dvrip,
}

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
        transport: Transport,
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
    /// The platform subscribed to events.
    Attached,
    /// The platform logged out; the connection should close after the reply.
    LoggedOut,
    /// A keepalive arrived.
    KeptAlive,
}

/// What to write back, and what changed.
#[derive(Debug, Default)]
pub struct Output {
    /// The frame to write, if any.
    pub reply: Option<WireFrame>,
    /// What changed, if anything.
    pub change: Option<Change>,
}

/// The camera side of one connection.
#[derive(Debug)]
pub struct Session {
    camera: Arc<Camera>,
    peer: String,
    login: Login,
    subscription: Option<Subscription>,
    next_object: u32,
    rng: SmallRng,
}

impl Session {
    /// A fresh session for a connection from (or to) `peer`.
    pub fn new(camera: Arc<Camera>, peer: String, rng: SmallRng) -> Self {
        Self {
            camera,
            peer,
            login: Login::None,
            subscription: None,
            next_object: 1,
            rng,
        }
    }

    /// The camera this session belongs to.
    pub fn camera(&self) -> &Arc<Camera> {
        &self.camera
    }

    /// The session id, once logged in.
    pub fn logged_in(&self) -> Option<u32> {
        match self.login {
            Login::LoggedIn { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Whether the platform has subscribed to events (and is logged in).
    pub fn is_attached(&self) -> bool {
        self.logged_in().is_some() && self.subscription.is_some()
    }

    /// Handles one frame from the platform.
    pub fn handle(&mut self, frame: WireFrame) -> Output {
        match frame {
            WireFrame::Dhip(message) => self.handle_dhip(&message),
            WireFrame::Dvrip(frame) => self.handle_dvrip(DvripPacket::parse(&frame)),
        }
    }

    /// A `client.notifyEventStream` carrying `events`, if the platform subscribed to any of
    /// their codes; events it did not ask for are left out.
    pub fn notification(&self, events: &[EventInfo]) -> Option<(WireFrame, usize)> {
        let Login::LoggedIn { session, transport } = self.login else {
            return None;
        };
        let subscription = self.subscription.as_ref()?;
        let wanted: Vec<EventInfo> = events
            .iter()
            .filter(|e| subscription.params.wants(&e.code))
            .cloned()
            .collect();
        if wanted.is_empty() {
            return None;
        }
        let count = wanted.len();
        let params = NotifyEventStream {
            sid: subscription.sid,
            event_list: wanted,
        };
        let request = Request::new(
            subscription.attach_id,
            session,
            method::NOTIFY_EVENT_STREAM,
            params,
        );
        // Devices end notifications with a `\n` counted in the length.
        let mut body = request.to_json();
        body.push(b'\n');
        let frame = match transport {
            Transport::Dhip => {
                WireFrame::Dhip(DhipMessage::new(session, subscription.attach_id, body))
            }
            Transport::Dvrip => WireFrame::Dvrip(
                DvripPacket::Json {
                    request_id: subscription.attach_id,
                    session,
                    is_reply: false,
                    body: body.into(),
                }
                .to_frame(),
            ),
        };
        Some((frame, count))
    }

    /// Forgets the session's user (call when the connection ends).
    pub fn close(&mut self) {
        if let Some(session) = self.logged_in() {
            self.camera.remove_user(session);
        }
        self.login = Login::None;
        self.subscription = None;
    }

    fn handle_dhip(&mut self, message: &DhipMessage) -> Output {
        let Ok((json, _)) = message.parts() else {
            tracing::debug!(peer = %self.peer, "ignoring a DHIP body that is not JSON");
            return Output::default();
        };
        let Ok(Incoming::Call(request)) = Incoming::parse(json) else {
            return Output::default();
        };
        let (reply, payload, change) = self.call(&request, Transport::Dhip);
        let reply = reply.map(|reply| {
            let body = encode_reply(&reply, payload);
            WireFrame::Dhip(DhipMessage::new(reply.session, reply.id, body))
        });
        Output { reply, change }
    }
}

fn encode_reply(reply: &Reply, payload: Option<&[u8]>) -> Bytes {
    let mut body = reply.to_json();
    if let Some(payload) = payload {
        body.push(b'\n');
        body.extend_from_slice(payload);
    }
    body.into()
}
