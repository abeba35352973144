//! Helpers for the session's unit tests: a session on a fresh camera, and DVRIP in and out.

use std::sync::Arc;

use homeport_protocol::dvrip::{
    DvripFrame, DvripPacket, LoginReply, LoginResult, PlainCredentials,
};
use homeport_protocol::hash::RealmChallenge;
use homeport_protocol::wire::WireFrame;
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::{Change, Link, Session};
use crate::camera::{Camera, CameraConfig};
use crate::firmware::Firmware;

/// A camera `cam1`, user `admin`, password `pw`, with `firmware` and `channels`.
pub(super) fn config(firmware: Firmware, channels: u32) -> CameraConfig {
    CameraConfig {
        firmware,
        channels,
        ..CameraConfig::new("cam1", "admin", "pw")
    }
}

/// A session on `link` of a fresh camera built from `config`.
pub(super) fn session(config: CameraConfig, link: Link) -> Session {
    Session::new(
        Arc::new(Camera::new(config)),
        "127.0.0.1:1".to_owned(),
        link,
        SmallRng::seed_from_u64(1),
    )
}

/// Hands `packet` to the session; the DVRIP frames it writes and what changed.
pub(super) fn send(
    session: &mut Session,
    packet: DvripPacket,
) -> (Vec<DvripFrame>, Option<Change>) {
    let out = session.handle(WireFrame::Dvrip(packet.to_frame()));
    let frames = out
        .replies
        .into_iter()
        .map(|frame| match frame {
            WireFrame::Dvrip(frame) => frame,
            WireFrame::Dhip(message) => panic!("a DHIP answer to DVRIP: {message:?}"),
        })
        .collect();
    (frames, out.change)
}

/// Hands `packet` to the session and expects exactly one frame back.
pub(super) fn one(session: &mut Session, packet: DvripPacket) -> DvripFrame {
    let (mut frames, _) = send(session, packet);
    assert_eq!(frames.len(), 1, "{frames:?}");
    frames.remove(0)
}

/// Hands the session a login opening carrying `credentials` at +8..+24; the one frame back.
pub(super) fn opening(session: &mut Session, credentials: [u8; 16]) -> DvripFrame {
    one(session, DvripPacket::LoginOpen { credentials })
}

/// The old plain login as `admin` with `password`.
pub(super) fn plain(password: &str) -> DvripPacket {
    DvripPacket::PlainLogin {
        credentials: Some(PlainCredentials {
            user: "admin".to_owned(),
            password: password.to_owned(),
        }),
    }
}

/// The realm login with `password`, as the vendor's clients send it; the result frame.
pub(super) fn realm_login(session: &mut Session, password: &str) -> DvripFrame {
    let challenge = opening(session, [0; 16]);
    let DvripPacket::RealmChallenge { text } = DvripPacket::parse(&challenge) else {
        panic!("not a challenge: {challenge:?}")
    };
    let challenge = RealmChallenge::parse(&text).expect("challenge text");
    let body = challenge.login_body("admin", password);
    one(session, DvripPacket::LoginHash { body: body.into() })
}

/// The login result in `frame`.
pub(super) fn result(frame: &DvripFrame) -> LoginReply {
    match DvripPacket::parse(frame) {
        DvripPacket::LoginReply(reply) => reply,
        other => panic!("not a login result: {other:?}"),
    }
}

/// A session logged in over DVRIP.
pub(super) fn logged_in(config: CameraConfig) -> Session {
    let mut session = session(config, Link::Register);
    let frame = realm_login(&mut session, "pw");
    assert_eq!(result(&frame).result, LoginResult::Success);
    session
}
