//! The DVRIP logins on the camera side.
//!
//! - **Opening** (`a0`, +27 = `01`, incl. the vendor client's `a0 05 00 60` and mcw0's
//!   `a0 01 00 00`): current firmware answers the realm challenge and ignores the 3DES
//!   credentials at +8/+16; 2010 firmware has no realm login and checks them instead.
//! - **Hash login** (`a0`, +27 = `08`, body `user&&<Default hash><DVRIP hash>`): checked
//!   against the last challenge on this connection; without one it is refused `01 13`.
//! - **Plain login** (`a0 00 00 60`, credentials in clear in the header or a `user&&pass`
//!   body, as TaniDVR and gst-dmsssrc send it).
//!
//! Every check counts against the camera's one lockout budget. The result is a `b0` with the
//! channel count at +10, the device type at +12 and the session at +16; byte 3 carries the
//! firmware's protocol version.

use homeport_protocol::dvrip::{DvripPacket, LoginReply, LoginResult, PlainCredentials};
use homeport_protocol::hash::{Gen0Variant, LoginBody, RealmChallenge, gen0};
use homeport_protocol::wire::Framing;
use rand::Rng;

use crate::camera::LoginCheck;

use super::{Change, DVRIP_DEVICE_TYPE, Login, Output, Session};

impl Session {
    /// An opening: the realm challenge, or on 2010 firmware the 3DES login itself.
    pub(super) fn login_open(&mut self, credentials: [u8; 16]) -> Output {
        if !self.camera.firmware().has_realm_login() {
            return self.login_3des(&credentials);
        }
        let random = self
            .rng
            .random_range(100_000_000u32..=999_999_999)
            .to_string();
        let challenge = match RealmChallenge::new(self.camera.realm(), random) {
            Ok(challenge) => challenge,
            // The realm is built from hex digits and the random from decimal ones.
            Err(e) => {
                tracing::warn!(peer = %self.peer, error = %e, "cannot build a realm challenge");
                return Output::default();
            }
        };
        let text = challenge.encode().into();
        self.login = Login::RealmChallenged {
            challenge,
            session: self.new_session_id(),
        };
        Output::one(self.dvrip_reply(DvripPacket::RealmChallenge { text }), None)
    }

    /// The hash login answering this connection's last challenge.
    pub(super) fn login_hash(&mut self, body: &[u8]) -> Output {
        let Login::RealmChallenged { challenge, session } = self.login.clone() else {
            return self.login_reply(
                LoginReply::refused(LoginResult::NotImplemented, 0),
                Change::LoginRefused,
            );
        };
        let parsed = LoginBody::parse(body).ok();
        let user_ok = parsed
            .as_ref()
            .is_some_and(|b| b.user == self.camera.config().user);
        let password_ok = parsed
            .as_ref()
            .is_some_and(|b| b.matches(&self.camera.effective_password(), &challenge));
        self.finish(session, user_ok, password_ok)
    }

    /// The old plain login. Credentials that cannot be read count as a wrong user.
    pub(super) fn plain_login(&mut self, credentials: Option<PlainCredentials>) -> Output {
        let (user_ok, password_ok) = credentials.map_or((false, false), |c| {
            (
                c.user == self.camera.config().user,
                c.password == self.camera.effective_password(),
            )
        });
        let session = self.new_session_id();
        self.finish(session, user_ok, password_ok)
    }

    /// The 2010 firmware's opening: Dahua 3DES of the user at +8 and of the password at +16.
    ///
    /// An all-zero opening (what a modern client sends before the realm challenge) carries no
    /// credentials: it is refused as a bad user with the tries left, and does not count
    /// against the budget (our convention).
    fn login_3des(&mut self, credentials: &[u8; 16]) -> Output {
        if credentials.iter().all(|&b| b == 0) {
            let reply = match self.camera.locked_for() {
                Some(_) => LoginReply::refused(LoginResult::Locked, 0),
                None => {
                    LoginReply::refused(LoginResult::BadUser, saturate(self.camera.tries_left()))
                }
            };
            self.close();
            return self.login_reply(reply, Change::LoginRefused);
        }
        let config = self.camera.config();
        let user = gen0(config.user.as_bytes(), Gen0Variant::Dahua);
        let password = gen0(
            self.camera.effective_password().as_bytes(),
            Gen0Variant::Dahua,
        );
        let user_ok = credentials[..8] == user;
        let password_ok = credentials[8..] == password;
        let session = self.new_session_id();
        self.finish(session, user_ok, password_ok)
    }

    /// Checks a login against the budget and answers it.
    fn finish(&mut self, session: u32, user_ok: bool, password_ok: bool) -> Output {
        match self.camera.check_login(user_ok, password_ok) {
            LoginCheck::Ok => {
                self.enter(session, Framing::Dvrip);
                let config = self.camera.config();
                let reply = LoginReply::success(
                    session,
                    saturate(config.channels),
                    DVRIP_DEVICE_TYPE,
                    saturate(config.max_login_tries),
                );
                self.login_reply(reply, Change::LoggedIn)
            }
            LoginCheck::Refused { tries_left } => {
                self.close();
                let result = if user_ok {
                    LoginResult::BadPassword
                } else {
                    LoginResult::BadUser
                };
                self.login_reply(
                    LoginReply::refused(result, saturate(tries_left)),
                    Change::LoginRefused,
                )
            }
            LoginCheck::Locked { .. } => {
                self.close();
                self.login_reply(
                    LoginReply::refused(LoginResult::Locked, 0),
                    Change::LoginRefused,
                )
            }
        }
    }

    fn login_reply(&self, reply: LoginReply, change: Change) -> Output {
        let reply = LoginReply {
            version: self.camera.firmware().protocol_version(),
            ..reply
        };
        Output::one(
            self.dvrip_reply(DvripPacket::LoginReply(reply)),
            Some(change),
        )
    }
}

/// A count in one header byte.
fn saturate(count: u32) -> u8 {
    u8::try_from(count).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use homeport_protocol::dvrip::{DvripPacket, LoginResult};
    use homeport_protocol::hash::{Gen0Variant, gen0};

    use super::super::Link;
    use super::super::test_support::{
        config, one, opening, plain, realm_login, result, send, session,
    };
    use crate::firmware::Firmware;
    use crate::session::Change;

    fn des(user: &str, password: &str) -> [u8; 16] {
        let mut credentials = [0u8; 16];
        credentials[..8].copy_from_slice(&gen0(user.as_bytes(), Gen0Variant::Dahua));
        credentials[8..].copy_from_slice(&gen0(password.as_bytes(), Gen0Variant::Dahua));
        credentials
    }

    #[test]
    fn an_opening_with_3des_credentials_gets_the_captured_challenge_header() {
        let mut session = session(config(Firmware::DvripOnly, 1), Link::Register);
        let frame = opening(&mut session, des("admin", "pw"));
        let h = frame.header;
        assert_eq!(&h[..4], &[0xb0, 0x00, 0x00, 0x78]);
        assert_eq!(frame.dword(4) as usize, frame.body.len());
        assert_eq!(&h[8..12], &[0x01, 0x0e, 0x01, 0x00]);
        assert_eq!(&h[12..20], &[0; 8]);
        assert_eq!(&h[20..24], &[0x01, 0, 0, 0]);
        assert_eq!(
            &h[24..32],
            &[0x06, 0x00, 0xf9, 0x00, 0x00, 0x00, 0x00, 0x02]
        );
        let text = std::str::from_utf8(&frame.body).expect("text");
        assert!(text.starts_with("Realm:Login to "), "{text}");
        assert!(text.contains("\r\nRandom:"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[test]
    fn mcw0s_opening_is_an_opening_too() {
        let mut session = session(config(Firmware::DvripOnly, 1), Link::Register);
        let mut frame = DvripPacket::LoginOpen {
            credentials: [0; 16],
        }
        .to_frame();
        frame.header[..4].copy_from_slice(&[0xa0, 0x01, 0x00, 0x00]);
        frame.header[24..].copy_from_slice(&[0x05, 0x02, 0x01, 0x01, 0x00, 0x00, 0xa1, 0xaa]);
        let out = session.handle(homeport_protocol::wire::WireFrame::Dvrip(frame));
        let [homeport_protocol::wire::WireFrame::Dvrip(reply)] = &out.replies[..] else {
            panic!("one DVRIP answer expected: {:?}", out.replies)
        };
        assert!(matches!(
            DvripPacket::parse(reply),
            DvripPacket::RealmChallenge { .. }
        ));
    }

    #[test]
    fn a_realm_login_succeeds_with_channels_device_type_and_budget_in_the_header() {
        let mut session = session(config(Firmware::DvripOnly, 4), Link::Register);
        let frame = realm_login(&mut session, "pw");
        let h = frame.header;
        assert_eq!(&h[..8], &[0xb0, 0x00, 0x00, 0x78, 0, 0, 0, 0]);
        assert_eq!(&h[8..12], &[0x00, 0x08, 0x04, 0x00]);
        assert_eq!(&h[12..16], &[0x33, 0, 0, 0]);
        let id = session.logged_in().expect("logged in");
        assert_ne!(id, 0);
        assert_eq!(frame.dword(16), id);
        assert_eq!(&h[20..24], &[0x01, 0, 0, 0]);
        assert_eq!(
            &h[24..32],
            &[0x06, 0x00, 0xf9, 0x00, 0x00, 0x05, 0x00, 0x02]
        );
        assert!(frame.body.is_empty());
    }

    #[test]
    fn a_wrong_password_is_refused_with_the_tries_left_then_locked() {
        let mut session = session(config(Firmware::DvripOnly, 1), Link::Register);
        for left in [4u8, 3, 2, 1] {
            let frame = realm_login(&mut session, "nope");
            let h = frame.header;
            assert_eq!(&h[..4], &[0xb0, 0x00, 0x00, 0x78]);
            assert_eq!(&h[8..10], &[0x01, 0x00]);
            assert_eq!(h[10], 0, "no channels on a refusal");
            assert_eq!(frame.dword(16), 0, "no session on a refusal");
            assert_eq!(&h[24..28], &[0x06, 0x00, 0xf9, 0x00]);
            assert_eq!((h[28], h[29]), (0, left));
        }
        let fifth = realm_login(&mut session, "nope");
        assert_eq!(&fifth.header[8..10], &[0x01, 0x04]);
        // Locked: even the right password is refused.
        let frame = realm_login(&mut session, "pw");
        assert_eq!(&frame.header[8..10], &[0x01, 0x04]);
        assert_eq!(frame.header[29], 0);
        assert_eq!(session.camera().refused_logins(), 6);
        assert_eq!(session.camera().tries_left(), 0);
        assert_eq!(session.logged_in(), None);
    }

    #[test]
    fn a_hash_login_without_an_opening_is_not_implemented_and_costs_no_try() {
        let mut session = session(config(Firmware::DvripOnly, 1), Link::Register);
        let (frames, change) = send(
            &mut session,
            DvripPacket::LoginHash {
                body: "admin&&00".into(),
            },
        );
        assert_eq!(result(&frames[0]).result, LoginResult::NotImplemented);
        assert_eq!(&frames[0].header[8..10], &[0x01, 0x13]);
        assert_eq!(change, Some(Change::LoginRefused));
        assert_eq!(session.camera().tries_left(), 5);
        assert_eq!(session.camera().refused_logins(), 0);
    }

    #[test]
    fn a_plain_login_in_the_header_logs_in_and_json_follows_in_f6() {
        let mut session = session(config(Firmware::DvripOnly, 1), Link::Register);
        // Both fit 8 bytes, so the writer puts them in the header.
        assert!(plain("pw").to_frame().body.is_empty());
        let frame = one(&mut session, plain("wrong"));
        assert_eq!(result(&frame).result, LoginResult::BadPassword);
        assert_eq!(result(&frame).remaining_tries, 4);
        let (frames, change) = send(&mut session, plain("pw"));
        assert_eq!(result(&frames[0]).result, LoginResult::Success);
        assert_eq!(change, Some(Change::LoggedIn));
        let id = session.logged_in().expect("logged in");
        let call = DvripPacket::Json {
            request_id: 7,
            session: id,
            is_reply: false,
            body: format!(
                r#"{{"id":7,"session":{id},"method":"magicBox.getDeviceType","params":null}}"#
            )
            .into(),
        };
        let reply = one(&mut session, call);
        assert_eq!(&reply.header[..4], &[0xf6, 0x00, 0x00, 0x78]);
        let text = String::from_utf8_lossy(&reply.body);
        assert!(text.contains("IPC-HFW2431S-S-S2"), "{text}");
    }

    #[test]
    fn a_plain_login_in_a_body_logs_in_as_gst_dmsssrc_sends_it() {
        let mut session = session(
            crate::camera::CameraConfig {
                password: "a much longer password".to_owned(),
                ..config(Firmware::DvripOnly, 1)
            },
            Link::Direct,
        );
        let mut frame = homeport_protocol::dvrip::DvripFrame::new(
            {
                let mut h = [0u8; 32];
                h[..4].copy_from_slice(&[0xa0, 0x00, 0x00, 0x60]);
                h[24..31].copy_from_slice(&[0x04, 0x02, 0x03, 0x00, 0x01, 0xa1, 0xaa]);
                h
            },
            &b"admin&&a much longer password"[..],
        );
        let out = session.handle(homeport_protocol::wire::WireFrame::Dvrip(frame.clone()));
        assert_eq!(out.change, Some(Change::LoggedIn));
        assert!(session.logged_in().is_some());
        // The same body with a wrong password is refused and counted.
        frame.body = bytes::Bytes::from_static(b"admin&&guess");
        let out = session.handle(homeport_protocol::wire::WireFrame::Dvrip(frame));
        assert_eq!(out.change, Some(Change::LoginRefused));
        assert_eq!(session.camera().refused_logins(), 1);
    }

    #[test]
    fn legacy_firmware_logs_in_with_dahua_3des_and_answers_in_version_6() {
        let mut session = session(config(Firmware::Legacy2010, 2), Link::Register);
        let frame = opening(&mut session, des("admin", "pw"));
        assert_eq!(&frame.header[..4], &[0xb0, 0x00, 0x00, 0x68]);
        let reply = result(&frame);
        assert_eq!(
            (
                reply.result,
                reply.version,
                reply.channels,
                reply.device_type
            ),
            (LoginResult::Success, 6, 2, 0x33)
        );
        assert_eq!(session.logged_in(), Some(reply.session));
    }

    #[test]
    fn legacy_firmware_counts_wrong_3des_credentials_against_the_budget() {
        let mut session = session(config(Firmware::Legacy2010, 1), Link::Register);
        let wrong_password = opening(&mut session, des("admin", "nope"));
        assert_eq!(&wrong_password.header[..4], &[0xb0, 0x00, 0x00, 0x68]);
        assert_eq!(&wrong_password.header[8..10], &[0x01, 0x00]);
        assert_eq!(wrong_password.header[29], 4);
        let wrong_user = opening(&mut session, des("root", "pw"));
        assert_eq!(&wrong_user.header[8..10], &[0x01, 0x01]);
        assert_eq!(wrong_user.header[29], 3);
        assert_eq!(session.camera().tries_left(), 3);
        assert_eq!(session.camera().refused_logins(), 2);
    }

    #[test]
    fn legacy_firmware_refuses_an_all_zero_opening_without_counting_it() {
        let mut session = session(config(Firmware::Legacy2010, 1), Link::Register);
        for _ in 0..10 {
            let (frames, change) = send(
                &mut session,
                DvripPacket::LoginOpen {
                    credentials: [0; 16],
                },
            );
            let h = frames[0].header;
            assert_eq!(&h[..4], &[0xb0, 0x00, 0x00, 0x68]);
            assert_eq!(&h[8..10], &[0x01, 0x01], "bad user");
            assert_eq!(h[29], 5, "the whole budget is left");
            assert_eq!(change, Some(Change::LoginRefused));
        }
        assert_eq!(session.camera().tries_left(), 5);
        assert_eq!(session.camera().refused_logins(), 0);
    }

    #[test]
    fn legacy_firmware_has_no_realm_login() {
        let mut session = session(config(Firmware::Legacy2010, 1), Link::Register);
        // Its opening answer is a result, never a challenge, and a hash login is refused.
        let frame = realm_login_attempt(&mut session);
        assert_eq!(result(&frame).result, LoginResult::NotImplemented);
        assert_eq!(frame.header[3], 0x68);
    }

    fn realm_login_attempt(
        session: &mut crate::session::Session,
    ) -> homeport_protocol::dvrip::DvripFrame {
        let answer = opening(session, [0; 16]);
        assert!(matches!(
            DvripPacket::parse(&answer),
            DvripPacket::LoginReply(_)
        ));
        one(
            session,
            DvripPacket::LoginHash {
                body: "admin&&00000000000000000000000000000000".into(),
            },
        )
    }
}
