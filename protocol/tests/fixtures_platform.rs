//! Fixtures F13–F24: the platform-side bytes of `reference/dahua-protocol-2.md` (§1 and §6),
//! from the capture of a real Dahua client and the vendor's SDK. Each decodes to the right
//! fields and each writer (used by the engine and the simulator alike) re-creates it byte for
//! byte.

use bytes::Bytes;
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::packet::{SNAP_REQUEST_LEN, alarm, info};
use homeport_protocol::dvrip::{DvripPacket, LoginReply, LoginResult, PlainCredentials, TextRpc};
use homeport_protocol::hash::{Gen0Variant, RealmChallenge, gen0};
use homeport_protocol::rpc::Incoming;

mod common;

use common::{dvrip_round_trip as decode, hex};

/// The realm of the capture (32 hex digits, elided there; any 32 work for the layout).
const REALM: &str = "Login to 0123456789ABCDEF0123456789ABCDEF";

#[test]
fn f13_vendor_client_opening_carries_3des_credentials_and_step_01() {
    let wire = hex(
        "a0 05 00 60 00 00 00 00 c4 a3 af 48 99 56 b6 b4 fa 26 9d ec 29 d8 4a fb 05 02 00 01 00 00 a1 aa",
    );
    let frame = decode(&wire);
    let DvripPacket::LoginOpen { credentials } = DvripPacket::parse(&frame) else {
        panic!("an opening");
    };
    // The user field is the Dahua 3DES of `admin`, as ConfigTool and SmartPSS send it.
    assert_eq!(credentials[..8], gen0(b"admin", Gen0Variant::Dahua));
    assert_eq!(
        DvripPacket::LoginOpen { credentials }.to_frame().to_vec(),
        wire
    );
    // homeport's own opening is the same packet with zeros where the 3DES would be.
    let own = DvripPacket::LoginOpen {
        credentials: [0; 16],
    }
    .to_frame()
    .to_vec();
    assert_eq!(
        own,
        hex("a0 05 00 60 00 00 00 00 00000000 00000000 00000000 00000000 05 02 00 01 00 00 a1 aa")
    );
}

#[test]
fn f14_realm_challenge_header_and_body_as_captured() {
    let body = format!("Realm:{REALM}\r\nRandom:668077460\r\n\r\n");
    assert_eq!(body.len(), 0x45);
    let mut wire = hex(
        "b0 00 00 78 45 00 00 00 01 0e 01 00 00 00 00 00 00 00 00 00 01 00 00 00 06 00 f9 00 00 00 00 02",
    );
    wire.extend_from_slice(body.as_bytes());
    let frame = decode(&wire);
    let DvripPacket::RealmChallenge { text } = DvripPacket::parse(&frame) else {
        panic!("a challenge, although bytes 24..28 carry the result mark");
    };
    let challenge = RealmChallenge::parse(&text).expect("parses");
    assert_eq!(challenge.random(), "668077460");
    assert_eq!(challenge.realm(), REALM);
    // The writer puts the same header and the blank line at the end.
    let ours = RealmChallenge::new(REALM, "668077460").expect("valid");
    assert_eq!(
        DvripPacket::RealmChallenge {
            text: ours.encode().into()
        }
        .to_frame()
        .to_vec(),
        wire
    );
}

#[test]
fn f15_hash_login_is_a0_05_00_60_with_step_08() {
    let body = format!("admin&&{}{}", "A".repeat(32), "B".repeat(32));
    assert_eq!(body.len(), 0x47);
    let mut wire =
        hex("a0 05 00 60 47 00 00 00 00000000 00000000 00000000 00000000 05 02 00 08 00 00 a1 aa");
    wire.extend_from_slice(body.as_bytes());
    let frame = decode(&wire);
    assert_eq!(
        DvripPacket::parse(&frame),
        DvripPacket::LoginHash {
            body: Bytes::from(body.clone())
        }
    );
    assert_eq!(
        DvripPacket::LoginHash { body: body.into() }
            .to_frame()
            .to_vec(),
        wire
    );
}

#[test]
fn f16_login_success_names_channels_type_and_session() {
    let wire = hex(
        "b0 00 00 78 00 00 00 00 00 08 01 00 33 00 00 00 f9 ff ff 7f 01 00 00 00 06 00 f9 00 00 05 00 02",
    );
    let frame = decode(&wire);
    let DvripPacket::LoginReply(reply) = DvripPacket::parse(&frame) else {
        panic!("a login result");
    };
    assert_eq!(reply.result, LoginResult::Success);
    assert_eq!(reply.channels, 1);
    assert_eq!(reply.device_type, 0x33);
    assert_eq!(reply.session, 0x7fff_fff9);
    assert_eq!(reply.version, 7);
    assert_eq!(reply.remaining_tries, 5);
    assert_eq!(
        DvripPacket::LoginReply(LoginReply::success(0x7fff_fff9, 1, 0x33, 5))
            .to_frame()
            .to_vec(),
        wire
    );
}

#[test]
fn f17_login_refusals_carry_the_reason_at_9_and_tries_at_29() {
    let wire = hex(
        "b0 00 00 78 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 06 00 f9 00 00 03 00 02",
    );
    let DvripPacket::LoginReply(reply) = DvripPacket::parse(&decode(&wire)) else {
        panic!("a login result");
    };
    assert_eq!(
        (reply.result, reply.remaining_tries),
        (LoginResult::BadPassword, 3)
    );
    assert_eq!(
        DvripPacket::LoginReply(LoginReply::refused(LoginResult::BadPassword, 3))
            .to_frame()
            .to_vec(),
        wire
    );
    // S6: +9 = 4 locked, 5 blocklisted.
    for (code, want) in [(4, LoginResult::Locked), (5, LoginResult::Blocklisted)] {
        let mut locked = wire.clone();
        locked[9] = code;
        let DvripPacket::LoginReply(reply) = DvripPacket::parse(&decode(&locked)) else {
            panic!("a login result");
        };
        assert_eq!(reply.result, want);
    }
}

#[test]
fn f18_keep_life_a1_is_answered_b1() {
    let mut request = vec![0u8; 32];
    request[0] = 0xa1;
    assert_eq!(
        DvripPacket::parse(&decode(&request)),
        DvripPacket::KeepAlive
    );
    assert_eq!(DvripPacket::KeepAlive.to_frame().to_vec(), request);
    let mut reply = hex("b1 00 00 78");
    reply.resize(32, 0);
    assert_eq!(
        DvripPacket::parse(&decode(&reply)),
        DvripPacket::KeepAliveReply
    );
    assert_eq!(DvripPacket::KeepAliveReply.to_frame().to_vec(), reply);
    // An old DVR's answer reads the same.
    let mut old = hex("b1 00 00 58");
    old.resize(32, 0);
    assert_eq!(
        DvripPacket::parse(&decode(&old)),
        DvripPacket::KeepAliveReply
    );
}

#[test]
fn f19_spaced_f6_json_ending_in_newline_nul() {
    let json = "{ \"id\" : 564, \"method\" : \"alarm.getAllInSlots\", \"params\" : null, \"session\" : 2147483641 }\n\0";
    let len = json.len() as u32;
    let mut wire = vec![0xf6, 0, 0, 0x60];
    wire.extend_from_slice(&len.to_le_bytes());
    wire.extend_from_slice(&0x234u32.to_le_bytes());
    wire.extend_from_slice(&[0; 4]);
    wire.extend_from_slice(&len.to_le_bytes());
    wire.extend_from_slice(&[0; 4]);
    wire.extend_from_slice(&2_147_483_641u32.to_le_bytes());
    wire.extend_from_slice(&[0; 4]);
    wire.extend_from_slice(json.as_bytes());
    let DvripPacket::Json {
        request_id,
        session,
        is_reply,
        body,
    } = DvripPacket::parse(&decode(&wire))
    else {
        panic!("f6");
    };
    assert_eq!(
        (request_id, session, is_reply),
        (0x234, 2_147_483_641, false)
    );
    let message = DhipMessage::new(0, 0, body);
    let (json, payload) = message.parts().expect("the \\n\\0 is padding");
    assert!(payload.is_none());
    let Incoming::Call(call) = Incoming::parse(json).expect("parses") else {
        panic!("a call");
    };
    assert_eq!(
        (call.id, call.method.as_str()),
        (564, "alarm.getAllInSlots")
    );
}

#[test]
fn f20_f4_text_rpc_request_and_reply() {
    let request = b"TransactionID:1\r\nMethod:GetParameterValues\r\nParameterName:Dahua.Device.Decode.Cfg\r\n\r\n";
    let mut wire = vec![0xf4, 0, 0, 0];
    wire.extend_from_slice(&(request.len() as u32).to_le_bytes());
    wire.resize(32, 0);
    wire.extend_from_slice(request);
    let DvripPacket::TextRpc { is_reply, body } = DvripPacket::parse(&decode(&wire)) else {
        panic!("f4");
    };
    assert!(!is_reply);
    let rpc = TextRpc::parse(&body).expect("parses");
    assert_eq!(rpc.method(), Some("GetParameterValues"));
    assert_eq!(rpc.parameter_name(), Some("Dahua.Device.Decode.Cfg"));
    assert_eq!(
        TextRpc::request(1, "GetParameterValues", "Dahua.Device.Decode.Cfg").encode(),
        request
    );
    let reply = rpc.reply("OK", &[]);
    let frame = DvripPacket::TextRpc {
        is_reply: true,
        body: reply.encode().into(),
    }
    .to_frame();
    assert_eq!(&frame.header[..4], &[0xf4, 0, 0, 0x78]);
    assert!(
        String::from_utf8_lossy(&frame.body)
            .contains("Method:GetParameterValuesResponse\r\nParameterName:Dahua.Device.Decode.Cfg\r\nFaultCode:OK\r\n")
    );
}

#[test]
fn f21_legacy_alarm_subscription_and_state() {
    // TaniDVR: the vendor's client subscribes with 68, +8 = 2, +12 = the alarm kind.
    let mut subscribe = vec![0x68, 0, 0, 0];
    subscribe.resize(32, 0);
    subscribe[8] = 2;
    subscribe[12] = alarm::MOTION;
    assert_eq!(
        DvripPacket::parse(&decode(&subscribe)),
        DvripPacket::AlarmSubscribe {
            op: 2,
            kind: alarm::MOTION
        }
    );
    assert_eq!(
        DvripPacket::AlarmSubscribe {
            op: 2,
            kind: alarm::MOTION
        }
        .to_frame()
        .to_vec(),
        subscribe
    );
    let state = DvripPacket::AlarmState {
        op: 2,
        kind: alarm::MOTION,
        states: Bytes::from_static(&[0, 1, 0, 0]),
    };
    let wire = state.to_frame().to_vec();
    assert_eq!(
        &wire[..13],
        &hex("69 00 00 78 04 00 00 00 02 00 00 00 02")[..]
    );
    assert_eq!(DvripPacket::parse(&decode(&wire)), state);
}

#[test]
fn f22_dvrip_snapshot_request_and_pieces() {
    let request = DvripPacket::SnapRequest {
        channel: 0,
        mode: 0,
        serial: 7,
    }
    .to_frame()
    .to_vec();
    let mut want = hex("11 00 00 00 28 00 00 00");
    want.resize(32, 0);
    want[28] = 10;
    let mut body = [0u8; SNAP_REQUEST_LEN];
    body[20] = 7;
    body[24] = 1;
    want.extend_from_slice(&body);
    assert_eq!(request, want);
    assert!(matches!(
        DvripPacket::parse(&decode(&request)),
        DvripPacket::SnapRequest { serial: 7, .. }
    ));
    let piece = DvripPacket::SnapData {
        channel: 0,
        serial: 7,
        chunk: Bytes::from_static(&[0xff, 0xd8, 0xff]),
    }
    .to_frame();
    assert_eq!(
        (piece.header[0], piece.header[24], piece.header[25]),
        (0xbc, 10, 7)
    );
    let end = DvripPacket::SnapData {
        channel: 0,
        serial: 7,
        chunk: Bytes::new(),
    }
    .to_frame();
    assert_eq!(end.to_vec().len(), 32, "an empty piece ends the picture");
    // A 0xbc without the snapshot mark is a media piece, kept as it is.
    let mut media = end.clone();
    media.header[24] = 0;
    assert!(matches!(DvripPacket::parse(&media), DvripPacket::Other(_)));
}

#[test]
fn f23_old_plain_login_in_the_header_and_in_the_body() {
    let header_form = hex(
        "a0 00 00 60 00 00 00 00 61 64 6d 69 6e 00 00 00 61 64 6d 69 6e 00 00 00 04 01 00 00 00 00 a1 aa",
    );
    let creds = |user: &str, password: &str| PlainCredentials {
        user: user.to_owned(),
        password: password.to_owned(),
    };
    assert_eq!(
        DvripPacket::parse(&decode(&header_form)),
        DvripPacket::PlainLogin {
            credentials: Some(creds("admin", "admin"))
        }
    );
    assert_eq!(
        DvripPacket::PlainLogin {
            credentials: Some(creds("admin", "admin"))
        }
        .to_frame()
        .to_vec(),
        header_form
    );
    let long = DvripPacket::PlainLogin {
        credentials: Some(creds("installer", "a-password-of-20-chr")),
    }
    .to_frame();
    assert_eq!(&long.body[..], b"installer&&a-password-of-20-chr");
    assert!(long.header[8..24].iter().all(|&b| b == 0));
}

#[test]
fn f24_announcement_of_any_length_and_the_vendor_checks() {
    // The vendor's listener: byte 0 = b4, +8 = 7, under 1024 bytes; the ID is the body up to
    // its first NUL, whatever the body length.
    let mut wire = hex("b4 00 00 78 05 00 00 00 07 00 00 00");
    wire.resize(32, 0);
    wire.extend_from_slice(b"cam9\0");
    let packet = DvripPacket::parse(&decode(&wire));
    assert_eq!(packet.announced_id(), Some(Ok("cam9")));
    assert!(matches!(
        packet,
        DvripPacket::InfoReply {
            sub: info::SERIAL,
            ..
        }
    ));
}
