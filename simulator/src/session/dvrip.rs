//! DVRIP packets on the camera side: info queries, the realm login, JSON in `f6`, logout.

use bytes::Bytes;
use homeport_protocol::dvrip::packet::info;
use homeport_protocol::dvrip::{DvripPacket, LoginResult};
use homeport_protocol::hash::{LoginBody, RealmChallenge};
use homeport_protocol::rpc::Incoming;
use homeport_protocol::wire::WireFrame;
use rand::Rng;

use crate::camera::LoginCheck;

use super::{
    Change, DEVICE_TYPE, Login, Output, SOFTWARE_VERSION, Session, Transport, encode_reply,
};

impl Session {
    /// Answers one DVRIP packet.
    pub(super) fn handle_dvrip(&mut self, packet: DvripPacket) -> Output {
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
}
