//! DVRIP packets on the camera side: which packet goes where, info queries, `a1` keep-life,
//! JSON in `f6`, logout, and the protocol version byte of every reply.

use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::dvrip::packet::info;
use homeport_protocol::rpc::Incoming;
use homeport_protocol::wire::{Framing, WireFrame};

use crate::fault::Fault;

use super::{Change, DEVICE_TYPE, Output, SOFTWARE_VERSION, Session};

impl Session {
    /// Answers one DVRIP packet.
    pub(super) fn handle_dvrip(&mut self, packet: DvripPacket) -> Output {
        let firmware = self.camera.firmware();
        match packet {
            DvripPacket::InfoQuery { sub } => {
                let value = match sub {
                    info::SERIAL => self.camera.serial().to_owned(),
                    info::VERSION => SOFTWARE_VERSION.to_owned(),
                    info::DEVICE_TYPE => DEVICE_TYPE.to_owned(),
                    _ => String::new(),
                };
                let reply = DvripPacket::InfoReply {
                    sub,
                    value: value.into(),
                };
                Output::one(self.dvrip_reply(reply), None)
            }
            DvripPacket::LoginOpen { .. }
            | DvripPacket::LoginHash { .. }
            | DvripPacket::PlainLogin { .. }
                if !firmware.speaks_dvrip_login(self.link) =>
            {
                self.ignore("a DVRIP login this firmware does not answer here")
            }
            DvripPacket::LoginOpen { credentials } => self.login_open(credentials),
            DvripPacket::LoginHash { body } => self.login_hash(&body),
            DvripPacket::PlainLogin { credentials } => self.plain_login(credentials),
            DvripPacket::KeepAlive => self.keep_life(),
            DvripPacket::Json { .. } if !firmware.speaks_f6_json() => {
                self.ignore("f6 JSON, which this firmware does not speak")
            }
            DvripPacket::Json {
                request_id,
                session,
                body,
                is_reply: _,
            } => self.f6_call(request_id, session, &body),
            DvripPacket::TextRpc {
                is_reply: false,
                body,
            } => self.text_rpc(&body),
            DvripPacket::AlarmSubscribe { op, kind } => self.alarm_subscribe(op, kind),
            DvripPacket::SnapRequest {
                channel,
                mode,
                serial,
            } => self.dvrip_snapshot(channel, mode, serial),
            DvripPacket::Logout { .. } => {
                self.close();
                Output::one(
                    self.dvrip_reply(DvripPacket::LogoutReply),
                    Some(Change::LoggedOut),
                )
            }
            other => {
                tracing::debug!(peer = %self.peer, ?other, "ignoring a DVRIP packet");
                Output::default()
            }
        }
    }

    /// `packet` framed as this camera writes it (see [`Session::versioned`]).
    pub(super) fn dvrip_reply(&self, packet: DvripPacket) -> WireFrame {
        self.versioned(WireFrame::Dvrip(packet.to_frame()))
    }

    /// `frame` as this camera writes it: in DVRIP, byte 3 carries its protocol version
    /// (`0x78` on current firmware, `0x68` on 2010 firmware) wherever it marks a reply.
    fn versioned(&self, mut frame: WireFrame) -> WireFrame {
        if let WireFrame::Dvrip(frame) = &mut frame
            && frame.header[3] & 0x0f == 0x08
        {
            frame.header[3] = (self.camera.firmware().protocol_version() << 4) | 0x08;
        }
        frame
    }

    /// Nothing to write; says why at debug level.
    pub(super) fn ignore(&self, what: &str) -> Output {
        tracing::debug!(
            peer = %self.peer,
            firmware = %self.camera.firmware(),
            link = ?self.link,
            "ignoring {what}"
        );
        Output::default()
    }

    /// `a1` → `b1 00 00 78`; a keepalive on a logged-in session. A silent camera keeps quiet.
    fn keep_life(&mut self) -> Output {
        let change = self.logged_in().map(|_| Change::KeptAlive);
        if self.camera.has(Fault::Silent) {
            return Output {
                replies: Vec::new(),
                change,
            };
        }
        Output::one(self.dvrip_reply(DvripPacket::KeepAliveReply), change)
    }

    /// A JSON-RPC call in an `f6` packet, answered in one. The vendor's clients end the JSON
    /// with `\n\0` counted in the length (`reference/dahua-protocol-2.md` §6 item 11).
    fn f6_call(&mut self, request_id: u32, session: u32, body: &[u8]) -> Output {
        let end = body
            .iter()
            .rposition(|b| !matches!(b, b'\n' | b'\r' | b'\0' | b' ' | b'\t'))
            .map_or(0, |last| last + 1);
        let Ok(Incoming::Call(mut request)) = Incoming::parse(&body[..end]) else {
            return self.ignore("an f6 body that is not a JSON-RPC call");
        };
        // The header carries the id and session; the JSON may repeat them or not.
        if request.id == 0 {
            request.id = request_id;
        }
        if request.session == 0 {
            request.session = session;
        }
        let (answer, payload, change) = self.call(&request, Framing::Dvrip);
        let replies = answer
            .map(|answer| self.versioned(Framing::Dvrip.reply_frame(request_id, &answer, payload)))
            .into_iter()
            .collect();
        Output { replies, change }
    }

    /// A `68` on a logged-in session: the kind's states now, and the subscription remembered.
    fn alarm_subscribe(&mut self, op: u8, kind: u8) -> Output {
        if self.logged_in().is_none() {
            return self.ignore("an alarm subscription before login");
        }
        let states = self
            .legacy
            .subscribe(op, kind, self.camera.config().channels);
        let reply = DvripPacket::AlarmState { op, kind, states };
        Output::one(self.dvrip_reply(reply), Some(Change::Attached))
    }
}

#[cfg(test)]
mod tests {
    use homeport_protocol::dvrip::packet::info;
    use homeport_protocol::dvrip::{DvripPacket, LoginResult};
    use homeport_protocol::rpc::login::LoginParams;
    use homeport_protocol::rpc::{Incoming, Request, codes, method};
    use homeport_protocol::wire::{Framing, WireFrame};

    use super::super::Link;
    use super::super::test_support::{config, logged_in, one, plain, result, send, session};
    use crate::camera::CameraConfig;
    use crate::fault::Fault;
    use crate::firmware::Firmware;
    use crate::session::{Change, Session};
    use crate::snapshot::JPEG;

    fn dhip_login_step1() -> WireFrame {
        let request = Request::new(1, 0, method::LOGIN, LoginParams::challenge_request("admin"));
        Framing::Dhip.request_frame(&request)
    }

    fn json_call(session: &mut Session, method: &str, params: &str) -> String {
        let id = session.logged_in().expect("logged in");
        let body = format!(r#"{{"id":9,"session":{id},"method":"{method}","params":{params}}}"#);
        let frame = one(
            session,
            DvripPacket::Json {
                request_id: 9,
                session: id,
                is_reply: false,
                body: body.into(),
            },
        );
        String::from_utf8_lossy(&frame.body).into_owned()
    }

    #[test]
    fn a1_is_answered_b1_00_00_78_and_keeps_a_logged_in_session_alive() {
        let mut fresh = session(config(Firmware::DvripOnly, 1), Link::Register);
        let (frames, change) = send(&mut fresh, DvripPacket::KeepAlive);
        assert_eq!(frames[0].to_vec(), {
            let mut wire = vec![0u8; 32];
            wire[..4].copy_from_slice(&[0xb1, 0x00, 0x00, 0x78]);
            wire
        });
        assert_eq!(change, None, "no session to keep alive yet");
        let mut session = logged_in(config(Firmware::DvripOnly, 1));
        let (frames, change) = send(&mut session, DvripPacket::KeepAlive);
        assert_eq!(&frames[0].header[..4], &[0xb1, 0x00, 0x00, 0x78]);
        assert_eq!(change, Some(Change::KeptAlive));
    }

    #[test]
    fn a_silent_camera_answers_neither_a1_nor_global_keepalive() {
        let silent = CameraConfig {
            faults: vec![Fault::Silent],
            ..config(Firmware::DvripOnly, 1)
        };
        let mut session = logged_in(silent);
        let (frames, change) = send(&mut session, DvripPacket::KeepAlive);
        assert!(frames.is_empty());
        assert_eq!(change, Some(Change::KeptAlive));
        let id = session.logged_in().expect("logged in");
        let body = format!(
            r#"{{"id":3,"session":{id},"method":"global.keepAlive","params":{{"timeout":60}}}}"#
        );
        let (frames, change) = send(
            &mut session,
            DvripPacket::Json {
                request_id: 3,
                session: id,
                is_reply: false,
                body: body.into(),
            },
        );
        assert!(frames.is_empty());
        assert_eq!(change, Some(Change::KeptAlive));
    }

    #[test]
    fn an_f6_call_in_the_vendor_clients_spaced_form_ending_in_newline_nul_is_answered() {
        let mut session = logged_in(config(Firmware::DvripOnly, 1));
        let id = session.logged_in().expect("logged in");
        let body = format!(
            "{{ \"id\" : 564, \"method\" : \"magicBox.getDeviceType\", \"params\" : null, \"session\" : {id} }}\n\0"
        );
        let frame = one(
            &mut session,
            DvripPacket::Json {
                request_id: 564,
                session: id,
                is_reply: false,
                body: body.into(),
            },
        );
        assert_eq!(frame.dword(8), 564);
        assert_eq!(frame.dword(24), id);
        let text = String::from_utf8_lossy(&frame.body);
        assert!(text.contains(r#""result":true"#), "{text}");
    }

    #[test]
    fn legacy_firmware_writes_version_6_in_byte_3_of_every_reply() {
        let mut session = session(config(Firmware::Legacy2010, 1), Link::Register);
        let login = one(&mut session, plain("pw"));
        assert_eq!(result(&login).result, LoginResult::Success);
        for packet in [
            DvripPacket::KeepAlive,
            DvripPacket::InfoQuery { sub: info::SERIAL },
            DvripPacket::AlarmSubscribe { op: 2, kind: 2 },
            DvripPacket::TextRpc {
                is_reply: false,
                body: "TransactionID:1\r\nMethod:GetParameterValues\r\nParameterName:Dahua.Device.Decode.Cfg\r\n\r\n".into(),
            },
            DvripPacket::SnapRequest {
                channel: 0,
                mode: 0,
                serial: 1,
            },
            DvripPacket::Logout { session: 1 },
        ] {
            let (frames, _) = send(&mut session, packet.clone());
            assert!(!frames.is_empty(), "{packet:?} unanswered");
            for frame in frames {
                assert_eq!(frame.header[3], 0x68, "{packet:?} → {frame:?}");
            }
        }
    }

    #[test]
    fn legacy_firmware_ignores_dhip_and_f6_json() {
        let mut session = session(config(Firmware::Legacy2010, 1), Link::Direct);
        assert!(session.handle(dhip_login_step1()).replies.is_empty());
        assert_eq!(
            result(&one(&mut session, plain("pw"))).result,
            LoginResult::Success
        );
        let id = session.logged_in().expect("logged in");
        let (frames, _) = send(
            &mut session,
            DvripPacket::Json {
                request_id: 1,
                session: id,
                is_reply: false,
                body: format!(r#"{{"id":1,"session":{id},"method":"magicBox.getDeviceType"}}"#)
                    .into(),
            },
        );
        assert!(frames.is_empty());
    }

    #[test]
    fn dvrip_only_ignores_dhip_on_its_registration_socket_but_not_on_a_direct_connection() {
        let mut register = session(config(Firmware::DvripOnly, 1), Link::Register);
        assert!(register.handle(dhip_login_step1()).replies.is_empty());
        let mut direct = session(config(Firmware::DvripOnly, 1), Link::Direct);
        let out = direct.handle(dhip_login_step1());
        let [WireFrame::Dhip(message)] = &out.replies[..] else {
            panic!("one DHIP answer expected: {:?}", out.replies)
        };
        let Ok(Incoming::Reply(reply)) = Incoming::parse(message.parts().expect("json").0) else {
            panic!("not a reply")
        };
        assert_eq!(reply.error_code(), Some(codes::LOGIN_CHALLENGE));
    }

    #[test]
    fn dhip_only_ignores_dvrip_logins_on_its_registration_socket_but_not_on_a_direct_connection() {
        let mut register = session(config(Firmware::DhipOnly, 1), Link::Register);
        for packet in [
            DvripPacket::LoginOpen {
                credentials: [0; 16],
            },
            DvripPacket::LoginHash {
                body: "admin&&00".into(),
            },
            plain("pw"),
        ] {
            let (frames, change) = send(&mut register, packet);
            assert!(frames.is_empty() && change.is_none());
        }
        assert_eq!(register.camera().tries_left(), 5);
        assert!(!register.handle(dhip_login_step1()).replies.is_empty());
        let mut direct = session(config(Firmware::DhipOnly, 1), Link::Direct);
        assert_eq!(
            result(&one(&mut direct, plain("pw"))).result,
            LoginResult::Success
        );
    }

    #[test]
    fn dvrip_only_has_no_json_snapshot_but_dvrip_plus_dhip_has() {
        let mut dvrip_only = logged_in(config(Firmware::DvripOnly, 1));
        let reply = json_call(&mut dvrip_only, method::SNAP_PICTURE, r#"{"channel":0}"#);
        assert!(
            reply.contains(&codes::METHOD_NOT_FOUND.to_string()),
            "{reply}"
        );
        assert!(
            reply.contains("method snapManager.snapPicture not found"),
            "{reply}"
        );
        let mut both = logged_in(config(Firmware::DvripDhip, 1));
        let reply = json_call(&mut both, method::SNAP_PICTURE, r#"{"channel":0}"#);
        assert!(reply.contains(r#""result":true"#), "{reply}");
    }

    #[test]
    fn a_dvrip_snapshot_reassembles_to_the_jpeg_byte_for_byte() {
        let mut session = logged_in(config(Firmware::DvripOnly, 2));
        let (frames, _) = send(
            &mut session,
            DvripPacket::SnapRequest {
                channel: 1,
                mode: 0,
                serial: 0x1234,
            },
        );
        let mut picture = Vec::new();
        for (n, frame) in frames.iter().enumerate() {
            let h = frame.header;
            assert_eq!(&h[..4], &[0xbc, 0x00, 0x00, 0x78]);
            assert_eq!((h[8], h[24], h[25]), (1, 10, 0x34));
            assert!(frame.body.len() <= super::super::dvrip_snapshot::SNAP_CHUNK);
            assert_eq!(
                frame.body.is_empty(),
                n == frames.len() - 1,
                "only the last is empty"
            );
            picture.extend_from_slice(&frame.body);
        }
        assert_eq!(picture, JPEG);
        // Channel 2 does not exist: just the end.
        let (frames, _) = send(
            &mut session,
            DvripPacket::SnapRequest {
                channel: 2,
                mode: 0,
                serial: 1,
            },
        );
        assert_eq!(frames.len(), 1);
        assert!(frames[0].body.is_empty());
    }

    #[test]
    fn dvrip_features_need_a_login() {
        let mut session = session(config(Firmware::DvripOnly, 1), Link::Register);
        for packet in [
            DvripPacket::SnapRequest {
                channel: 0,
                mode: 0,
                serial: 1,
            },
            DvripPacket::AlarmSubscribe { op: 2, kind: 2 },
        ] {
            assert!(send(&mut session, packet).0.is_empty());
        }
    }
}
