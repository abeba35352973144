//! One connection's state machine on the camera side: no async, no sockets.
//!
//! Frames come in ([`Session::handle`]), replies go out, and the caller learns what changed
//! (logged in, attached, logged out). Login works both ways a platform may try over a
//! register socket or a direct connection: DHIP two-step `global.login`, and the DVRIP realm
//! login (`a0 01` → `b0` → `a0 05`) followed by JSON in `f6` packets.

use std::sync::Arc;

use bytes::Bytes;
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::packet::info;
use homeport_protocol::dvrip::{DvripPacket, LoginResult};
use homeport_protocol::hash::{self, LoginBody, RealmChallenge};
use homeport_protocol::rpc::config::{ALL, ConfigTable, GetConfigParams, MemberNames};
use homeport_protocol::rpc::device::{
    self, ActiveUser, ActiveUsers, CurrentTimeParams, SerialParams, SoftwareVersion,
    SoftwareVersionParams, TypeParams,
};
use homeport_protocol::rpc::event::{
    AttachParams, AttachReplyParams, EventInfo, NotifyEventStream,
};
use homeport_protocol::rpc::keepalive::KeepAliveReplyParams;
use homeport_protocol::rpc::login::{
    ChallengeParams, LoginOkParams, LoginParams, LoginRefusedParams,
};
use homeport_protocol::rpc::snapshot::{SnapParams, SnapReplyParams};
use homeport_protocol::rpc::{Incoming, Reply, Request, codes, method};
use homeport_protocol::wire::WireFrame;
use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::Value;

use crate::camera::{CONFIG_NAMES, Camera, LoginCheck};
use crate::clock;
use crate::fault::Fault;
use crate::snapshot::JPEG;

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

    fn handle_dvrip(&mut self, packet: DvripPacket) -> Output {
        let reply = |packet: DvripPacket| Some(WireFrame::Dvrip(packet.to_frame()));
        match packet {
            DvripPacket::InfoQuery { sub } => {
                let value = match sub {
                    info::SERIAL => self.camera.serial().to_owned(),
                    info::VERSION => SOFTWARE_VERSION.to_owned(),
                    info::DEVICE_TYPE => DEVICE_TYPE.to_owned(),
                    _ => String::new(),
                };
                Output {
                    reply: reply(DvripPacket::InfoReply {
                        sub,
                        value: value.into(),
                    }),
                    change: None,
                }
            }
            DvripPacket::RealmRequest => {
                let random = self
                    .rng
                    .random_range(100_000_000u32..=999_999_999)
                    .to_string();
                let challenge = RealmChallenge::new(self.camera.realm(), random)
                    .expect("realm and random are one line");
                let text = Bytes::from(challenge.encode());
                self.login = Login::RealmChallenged {
                    challenge,
                    session: self.new_session_id(),
                };
                Output {
                    reply: reply(DvripPacket::RealmChallenge { text }),
                    change: None,
                }
            }
            DvripPacket::LoginHash { body } => {
                let Login::RealmChallenged { challenge, session } = self.login.clone() else {
                    return Output {
                        reply: reply(DvripPacket::LoginReply {
                            result: LoginResult::NotImplemented,
                            session: 0,
                            remaining_tries: 0,
                        }),
                        change: Some(Change::LoginRefused),
                    };
                };
                let parsed = LoginBody::parse(&body).ok();
                let user_ok = parsed
                    .as_ref()
                    .is_some_and(|b| b.user == self.camera.config().user);
                let password_ok = parsed
                    .as_ref()
                    .is_some_and(|b| b.matches(&self.camera.effective_password(), &challenge));
                let (result, remaining_tries, change) =
                    match self.camera.check_login(user_ok, password_ok) {
                        LoginCheck::Ok => {
                            self.enter(session, Transport::Dvrip);
                            (LoginResult::Success, 0, Change::LoggedIn)
                        }
                        LoginCheck::Refused { tries_left } => {
                            self.login = Login::None;
                            let result = if user_ok {
                                LoginResult::BadPassword
                            } else {
                                LoginResult::BadUser
                            };
                            (result, tries_left.min(255) as u8, Change::LoginRefused)
                        }
                        LoginCheck::Locked { .. } => {
                            self.login = Login::None;
                            (LoginResult::Locked, 0, Change::LoginRefused)
                        }
                    };
                let session = if result == LoginResult::Success {
                    session
                } else {
                    0
                };
                Output {
                    reply: reply(DvripPacket::LoginReply {
                        result,
                        session,
                        remaining_tries,
                    }),
                    change: Some(change),
                }
            }
            DvripPacket::Json {
                request_id,
                session,
                body,
                ..
            } => {
                let Ok(Incoming::Call(mut request)) = Incoming::parse(&body) else {
                    return Output::default();
                };
                // The header carries the id and session; the JSON may repeat them or not.
                if request.id == 0 {
                    request.id = request_id;
                }
                if request.session == 0 {
                    request.session = session;
                }
                let (answer, payload, change) = self.call(&request, Transport::Dvrip);
                let reply = answer.map(|answer| {
                    let body = encode_reply(&answer, payload);
                    WireFrame::Dvrip(
                        DvripPacket::Json {
                            request_id,
                            session: answer.session,
                            is_reply: true,
                            body,
                        }
                        .to_frame(),
                    )
                });
                Output { reply, change }
            }
            DvripPacket::Logout { .. } => {
                self.close();
                Output {
                    reply: reply(DvripPacket::LogoutReply),
                    change: Some(Change::LoggedOut),
                }
            }
            other => {
                tracing::debug!(peer = %self.peer, ?other, "ignoring a DVRIP packet");
                Output::default()
            }
        }
    }

    fn new_session_id(&mut self) -> u32 {
        self.rng.random_range(1..=u32::MAX)
    }

    fn enter(&mut self, session: u32, transport: Transport) {
        // A new login on the same connection replaces the old session's user entry.
        self.close();
        self.login = Login::LoggedIn { session, transport };
        self.camera.add_user(ActiveUser {
            name: self.camera.config().user.clone(),
            client_address: self.peer.clone(),
            login_time: clock::format_time(clock::unix_now()),
            client_type: "Dahua3.0-Web3.0".to_owned(),
            id: session,
        });
    }

    /// Answers one call: the reply (none for an ignored keepalive), an optional binary
    /// payload to follow it, and what changed.
    fn call(
        &mut self,
        request: &Request,
        transport: Transport,
    ) -> (Option<Reply>, Option<&'static [u8]>, Option<Change>) {
        if request.method == method::LOGIN {
            let (reply, change) = self.login(request, transport);
            return (Some(reply), None, change);
        }
        let Some(session) = self.logged_in() else {
            return (
                Some(
                    request.reply_error(codes::INVALID_SESSION, "Invalid session in request data!"),
                ),
                None,
                None,
            );
        };
        if request.session != session {
            return (
                Some(
                    request.reply_error(codes::INVALID_SESSION, "Invalid session in request data!"),
                ),
                None,
                None,
            );
        }
        match request.method.as_str() {
            method::KEEP_ALIVE => {
                let reply = (!self.camera.has(Fault::Silent)).then(|| {
                    request.reply(
                        true,
                        KeepAliveReplyParams {
                            timeout: self.camera.config().keep_alive_interval,
                        },
                    )
                });
                (reply, None, Some(Change::KeptAlive))
            }
            method::LOGOUT => {
                let reply = request.reply(true, Value::Null);
                self.close();
                (Some(reply), None, Some(Change::LoggedOut))
            }
            method::SNAP_PICTURE => match request.params::<SnapParams>() {
                Ok(SnapParams { channel }) if channel < self.camera.config().channels => {
                    let params = SnapReplyParams {
                        length: JPEG.len() as u64,
                        kind: "jpg".to_owned(),
                    };
                    (Some(request.reply(true, params)), Some(JPEG), None)
                }
                Ok(SnapParams { channel }) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &format!("no channel {channel}"))),
                    None,
                    None,
                ),
                Err(e) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &e.to_string())),
                    None,
                    None,
                ),
            },
            method::EVENT_ATTACH => match request.params::<AttachParams>() {
                Ok(params) => {
                    let sid = 513 + self.next_object;
                    self.next_object += 1;
                    self.subscription = Some(Subscription {
                        attach_id: request.id,
                        sid,
                        params,
                    });
                    (
                        Some(request.reply(true, AttachReplyParams { sid })),
                        None,
                        Some(Change::Attached),
                    )
                }
                Err(e) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &e.to_string())),
                    None,
                    None,
                ),
            },
            method::MULTICALL => match device::multicall_requests(request) {
                Ok(calls) => {
                    let replies = calls.iter().map(|call| self.info_call(call)).collect();
                    (Some(device::multicall_reply(request, replies)), None, None)
                }
                Err(e) => (
                    Some(request.reply_error(codes::BAD_REQUEST, &e.to_string())),
                    None,
                    None,
                ),
            },
            _ => (Some(self.info_call(request)), None, None),
        }
    }

    /// Calls with a plain JSON answer: config, device info, event teardown.
    fn info_call(&mut self, request: &Request) -> Reply {
        let camera = Arc::clone(&self.camera);
        match request.method.as_str() {
            method::GET_CONFIG => match request.params::<GetConfigParams>() {
                Ok(GetConfigParams { name }) if name == ALL => request.reply(
                    true,
                    ConfigTable {
                        name: None,
                        table: camera.all_configs(),
                    },
                ),
                Ok(GetConfigParams { name }) => match camera.get_config(&name) {
                    Some(table) => request.reply(true, ConfigTable { name: None, table }),
                    None => request
                        .reply_error(codes::BAD_REQUEST, &format!("no config named {name:?}")),
                },
                Err(e) => request.reply_error(codes::BAD_REQUEST, &e.to_string()),
            },
            method::SET_CONFIG => match request.params::<ConfigTable>() {
                Ok(ConfigTable {
                    name: Some(name),
                    table,
                }) => match camera.set_config(&name, table) {
                    Ok(()) => request.reply(true, Value::Null),
                    Err(message) => request.reply_error(codes::BAD_REQUEST, &message),
                },
                Ok(ConfigTable { name: None, .. }) => {
                    request.reply_error(codes::BAD_REQUEST, "setConfig needs a name")
                }
                Err(e) => request.reply_error(codes::BAD_REQUEST, &e.to_string()),
            },
            method::GET_MEMBER_NAMES => request.reply(
                true,
                MemberNames {
                    names: CONFIG_NAMES.iter().map(|n| (*n).to_owned()).collect(),
                },
            ),
            method::EVENT_INSTANCE => {
                let object = self.next_object;
                self.next_object += 1;
                request.reply(object, Value::Null)
            }
            method::EVENT_DETACH | method::EVENT_DESTROY => {
                self.subscription = None;
                request.reply(true, Value::Null)
            }
            method::GET_DEVICE_TYPE => request.reply(
                true,
                TypeParams {
                    kind: DEVICE_TYPE.to_owned(),
                },
            ),
            method::GET_DEVICE_CLASS => request.reply(
                true,
                TypeParams {
                    kind: DEVICE_CLASS.to_owned(),
                },
            ),
            method::GET_SERIAL_NO => request.reply(
                true,
                SerialParams {
                    sn: camera.serial().to_owned(),
                },
            ),
            method::GET_SOFTWARE_VERSION => request.reply(
                true,
                SoftwareVersionParams {
                    version: SoftwareVersion {
                        version: SOFTWARE_VERSION.to_owned(),
                        build_date: "2024-01-15".to_owned(),
                    },
                },
            ),
            method::GET_CURRENT_TIME => request.reply(
                true,
                CurrentTimeParams {
                    time: clock::format_time(clock::unix_now()),
                },
            ),
            method::GET_ACTIVE_USERS => request.reply(
                true,
                ActiveUsers {
                    users: camera.users(),
                },
            ),
            _ => request.reply_error(
                codes::METHOD_NOT_FOUND,
                &format!("method {} not found", request.method),
            ),
        }
    }

    fn login(&mut self, request: &Request, transport: Transport) -> (Reply, Option<Change>) {
        let params = match request.params::<LoginParams>() {
            Ok(params) => params,
            Err(e) => {
                return (
                    request.reply_error(codes::BAD_REQUEST, &e.to_string()),
                    None,
                );
            }
        };
        let challenged = match &self.login {
            Login::Challenged { session, random }
                if !params.is_challenge_request() && request.session == *session =>
            {
                Some((*session, random.clone()))
            }
            _ => None,
        };
        let Some((session, random)) = challenged else {
            let session = self.new_session_id();
            let random = self
                .rng
                .random_range(100_000_000u32..=999_999_999)
                .to_string();
            self.login = Login::Challenged {
                session,
                random: random.clone(),
            };
            let mut reply =
                request.reply_error(codes::LOGIN_CHALLENGE, "Component error: login challenge!");
            reply.session = session;
            reply.params = serde_json::to_value(ChallengeParams {
                realm: self.camera.realm().to_owned(),
                random,
                encryption: "Default".to_owned(),
            })
            .unwrap_or(Value::Null);
            return (reply, None);
        };
        let camera = Arc::clone(&self.camera);
        let password = camera.effective_password();
        let user_ok = params.user_name == camera.config().user;
        let kind = params
            .password_type
            .as_deref()
            .or(params.authority_type.as_deref())
            .unwrap_or("Default");
        let expected = match kind {
            "Plain" => Some(password),
            "OldDigest" => Some(hash::old_digest(&password)),
            "Default" => Some(hash::default_hash(
                &params.user_name,
                &password,
                camera.realm(),
                &random,
            )),
            _ => None,
        };
        let password_ok = expected.is_some_and(|expected| expected == params.password);
        let mut reply = match camera.check_login(user_ok, password_ok) {
            LoginCheck::Ok => {
                self.enter(session, transport);
                let interval = camera.config().keep_alive_interval;
                let reply = request.reply(
                    true,
                    LoginOkParams {
                        keep_alive_interval: interval,
                    },
                );
                return (Reply { session, ..reply }, Some(Change::LoggedIn));
            }
            LoginCheck::Refused { tries_left } => {
                let mut reply =
                    request.reply_error(codes::BAD_PASSWORD, "User or password not valid!");
                reply.params = serde_json::to_value(LoginRefusedParams {
                    remain_lock_second: 0,
                    remain_login_times: tries_left,
                })
                .unwrap_or(Value::Null);
                reply
            }
            LoginCheck::Locked { seconds } => {
                let mut reply = request.reply_error(codes::LOCKED, "User locked!");
                reply.params = serde_json::to_value(LoginRefusedParams {
                    remain_lock_second: seconds.min(u64::from(u32::MAX)) as u32,
                    remain_login_times: 0,
                })
                .unwrap_or(Value::Null);
                reply
            }
        };
        self.login = Login::None;
        reply.session = session;
        (reply, Some(Change::LoginRefused))
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
