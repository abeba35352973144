//! Fixtures F1–F12 of the protocol reference, as conformance tests: captured bytes decode to
//! the right fields and re-encode byte-identically; computed hashes match.

use bytes::{BufMut, BytesMut};
use homeport_protocol::dhip::{DhipCodec, DhipHeader, DhipMessage};
use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::dvrip::packet::info;
use homeport_protocol::hash;
use homeport_protocol::rpc::codes;
use homeport_protocol::rpc::login::{ChallengeParams, LoginParams};
use homeport_protocol::rpc::{Incoming, Reply};
use homeport_protocol::wire::{Framing, detect};
use tokio_util::codec::{Decoder, Encoder};

mod common;

use common::{dvrip_round_trip, hex};

/// Decodes `wire` as one DHIP message and checks it re-encodes to the same bytes.
fn dhip_round_trip(wire: &[u8]) -> DhipMessage {
    let mut buf = BytesMut::from(wire);
    let mut codec = DhipCodec::default();
    let message = codec.decode(&mut buf).expect("decodes").expect("complete");
    assert!(buf.is_empty());
    let mut out = BytesMut::new();
    codec.encode(&message, &mut out).expect("encodes");
    assert_eq!(&out[..], wire, "re-encodes byte-identically");
    message
}

const F1_BODY: &str = r#"{"id": 0, "method": "global.login", "params": {"clientType": "", "ipAddr": "127.0.0.1", "loginType": "Direct", "password": "", "userName": "admin", "Encryption": "None"}, "session": 0}"#;
const F2_BODY: &str = r#"{"result":false,"params":{"realm":"Login to 907F3C6C73FEDA77","random":"1f1e4fbc-858a-47c8-8a50-cb9310ad48cb","encryption":"Default"},"error":{"code":268632079,"message":"Component error: login challenge!"},"id":0,"session":2869194125}"#;

#[test]
fn f1_login_step_one_decodes_and_re_encodes() {
    let mut wire = hex(
        "20 00 00 00 44 48 49 50 00 00 00 00 00 00 00 00 b8 00 00 00 00 00 00 00 b8 00 00 00 00 00 00 00",
    );
    assert_eq!(F1_BODY.len(), 184);
    wire.extend_from_slice(F1_BODY.as_bytes());
    assert_eq!(detect(&wire).expect("detects"), Some(Framing::Dhip));
    let message = dhip_round_trip(&wire);
    assert_eq!((message.session, message.request_id), (0, 0));
    let Incoming::Call(request) = Incoming::parse(&message.body).expect("parses") else {
        panic!("a call")
    };
    assert_eq!(request.method, "global.login");
    let params: LoginParams = request.params().expect("login params");
    assert_eq!(params.user_name, "admin");
    assert!(params.is_challenge_request());
    assert_eq!(params.encryption.as_deref(), Some("None"));
}

#[test]
fn f2_challenge_reply_carries_session_realm_and_random() {
    let mut wire = hex(
        "20 00 00 00 44 48 49 50 8d 6d 04 ab 00 00 00 00 eb 00 00 00 00 00 00 00 eb 00 00 00 00 00 00 00",
    );
    assert_eq!(F2_BODY.len(), 235);
    wire.extend_from_slice(F2_BODY.as_bytes());
    let message = dhip_round_trip(&wire);
    assert_eq!(message.session, 2_869_194_125);
    let Incoming::Reply(reply) = Incoming::parse(&message.body).expect("parses") else {
        panic!("a reply")
    };
    assert_eq!(reply.session, 2_869_194_125);
    assert_eq!(reply.error_code(), Some(codes::LOGIN_CHALLENGE));
    let challenge: ChallengeParams = reply.params().expect("challenge");
    assert_eq!(challenge.realm, "Login to 907F3C6C73FEDA77");
    assert_eq!(challenge.random, "1f1e4fbc-858a-47c8-8a50-cb9310ad48cb");
    assert_eq!(challenge.encryption, "Default");
}

#[test]
fn f3_login_step_two_header_fields() {
    let bytes: [u8; 32] = hex("20 00 00 00 44 48 49 50 8d 6d 04 ab 01 00 00 00 17 01 00 00 00 00 00 00 17 01 00 00 00 00 00 00")
        .try_into()
        .expect("32 bytes");
    let header = DhipHeader::parse(&bytes).expect("DHIP");
    assert_eq!(
        (
            header.session,
            header.request_id,
            header.packet_len,
            header.total_len
        ),
        (2_869_194_125, 1, 0x117, 0x117)
    );
    assert_eq!(header.to_bytes(), bytes);
}

#[test]
fn f4_imou_step_one_and_reply_header() {
    let body = r#"{"method": "global.login", "params": {"userName": "admin", "password": "", "clientType": "Web3.0", "loginType": "Direct"}, "id": 0, "session": 0}"#;
    assert_eq!(body.len(), 0x91);
    let message = DhipMessage::new(0, 0, body.as_bytes().to_vec());
    let mut wire = BytesMut::new();
    DhipCodec::default()
        .encode(&message, &mut wire)
        .expect("encodes");
    assert_eq!(&wire[16..20], &hex("91 00 00 00")[..]);
    let Incoming::Call(request) = Incoming::parse(body.as_bytes()).expect("parses") else {
        panic!("a call")
    };
    assert_eq!(
        request.params::<LoginParams>().expect("params").client_type,
        "Web3.0"
    );
    assert_eq!(
        u32::from_le_bytes(hex("d9 64 9a a9").try_into().expect("4 bytes")),
        2_845_467_865
    );
}

#[test]
fn f5_spaced_challenge_without_message_parses() {
    let body = r#"{ "result": false, "params": { "realm": "Login to ASI1201E", "random": "29757655", "encryption": "Default" }, "error": { "code": 268632079 }, "id": 0, "session": 29757655 }"#;
    assert_eq!(body.len(), 0xac);
    let mut wire = hex(
        "20 00 00 00 44 48 49 50 d7 10 c6 01 00 00 00 00 ac 00 00 00 00 00 00 00 ac 00 00 00 00 00 00 00",
    );
    wire.extend_from_slice(body.as_bytes());
    let message = dhip_round_trip(&wire);
    assert_eq!(message.session, 29_757_655);
    let reply: Reply = message.decode().expect("reply");
    assert_eq!(
        reply.error.as_ref().map(|e| (e.code, e.message.clone())),
        Some((codes::LOGIN_CHALLENGE, None))
    );
    assert_eq!(
        reply.params::<ChallengeParams>().expect("challenge").random,
        "29757655"
    );
}

#[test]
fn f6_notification_with_trailing_newline_decodes() {
    let json = r#"{"id":8,"method":"client.notifyEventStream","params":{"SID":513,"eventList":[{"Code":"VideoMotion","Action":"Start","Index":0,"Data":{"LocaleTime":"2020-03-02 20:44:28","UTC":1583174668}}]},"session":1722306858}"#;
    let body = format!("{json}\n");
    let mut header = DhipHeader::parse(
        &hex("20 00 00 00 44 48 49 50 2a 51 a8 66 08 00 00 00 6d 04 00 00 00 00 00 00 6d 04 00 00 00 00 00 00")
            .try_into()
            .expect("32 bytes"),
    )
    .expect("DHIP");
    assert_eq!(
        (header.session, header.request_id, header.packet_len),
        (1_722_306_858, 8, 0x46d)
    );
    // The captured body was elided; carry ours under the captured header fields.
    header.packet_len = body.len() as u32;
    header.total_len = body.len() as u32;
    let mut wire = header.to_bytes().to_vec();
    wire.extend_from_slice(body.as_bytes());
    let message = dhip_round_trip(&wire);
    assert_eq!(message.payload().expect("splits"), None);
    let Incoming::Call(call) = Incoming::parse(message.parts().expect("splits").0).expect("parses")
    else {
        panic!("a call")
    };
    assert!(call.is_notification());
    assert_eq!(call.id, 8);
}

#[test]
fn f7_serial_query_and_reply() {
    let query = hex(&format!(
        "a4 00 00 00 00 00 00 00 07 00 00 00 {}",
        "00 ".repeat(20)
    ));
    let frame = dvrip_round_trip(&query);
    assert_eq!(
        DvripPacket::parse(&frame),
        DvripPacket::InfoQuery { sub: info::SERIAL }
    );
    assert_eq!(
        DvripPacket::InfoQuery { sub: info::SERIAL }
            .to_frame()
            .to_vec(),
        query
    );

    let mut reply = hex(&format!(
        "b4 00 00 78 0f 00 00 00 07 00 00 00 {}",
        "00 ".repeat(20)
    ));
    reply.extend_from_slice(b"5C0726FPAGEC7C2");
    let frame = dvrip_round_trip(&reply);
    let packet = DvripPacket::parse(&frame);
    assert_eq!(packet.announced_id(), Some(Ok("5C0726FPAGEC7C2")));
    assert_eq!(packet.to_frame().to_vec(), reply);
}

#[test]
fn f8_auto_register_announcement() {
    let mut wire = hex(&format!(
        "b4 00 00 78 40 00 00 00 07 00 00 00 {}",
        "00 ".repeat(20)
    ));
    let mut id = b"test894".to_vec();
    id.resize(64, 0);
    wire.extend_from_slice(&id);
    assert_eq!(wire.len(), 96);
    assert_eq!(detect(&wire).expect("detects"), Some(Framing::Dvrip));
    let frame = dvrip_round_trip(&wire);
    assert_eq!(
        DvripPacket::parse(&frame).announced_id(),
        Some(Ok("test894"))
    );
    assert_eq!(
        DvripPacket::announcement("test894")
            .expect("valid")
            .to_frame()
            .to_vec(),
        wire
    );
}

#[test]
fn f9_probe_is_the_keep_life_packet() {
    let mut wire = vec![0u8; 32];
    wire[0] = 0xa1;
    let frame = dvrip_round_trip(&wire);
    assert_eq!(DvripPacket::parse(&frame), DvripPacket::KeepAlive);
    assert_eq!(&hex("b1 00 00 58 00 00 00 00")[..4], &[0xb1, 0, 0, 0x58]);
}

#[test]
fn f10_logout_and_its_reply() {
    let session = 0x1234_5678u32;
    let mut wire = hex("0a 00 00 00 00 00 00 00");
    wire.extend_from_slice(&session.to_le_bytes());
    wire.resize(32, 0);
    let frame = dvrip_round_trip(&wire);
    assert_eq!(DvripPacket::parse(&frame), DvripPacket::Logout { session });
    assert_eq!(DvripPacket::Logout { session }.to_frame().to_vec(), wire);

    let mut reply = hex("0b 01 00 78");
    reply.resize(32, 0);
    assert_eq!(
        DvripPacket::parse(&dvrip_round_trip(&reply)),
        DvripPacket::LogoutReply
    );
    assert_eq!(DvripPacket::LogoutReply.to_frame().to_vec(), reply);
}

#[test]
fn f11_json_keepalive_over_dvrip() {
    let session = 0x0102_0304u32;
    let json = format!(
        r#"{{"method":"global.keepAlive","magic":"0x1234","params":{{"timeout":30,"active":true}},"id":12,"session":{session}}}"#
    );
    let len = json.len() as u32;
    let mut wire = BytesMut::new();
    wire.put_slice(&[0xf6, 0, 0, 0]);
    wire.put_u32_le(len);
    wire.put_u32_le(2);
    wire.put_u32_le(0);
    wire.put_u32_le(len);
    wire.put_u32_le(0);
    wire.put_u32_le(session);
    wire.put_u32_le(0);
    wire.put_slice(json.as_bytes());
    let frame = dvrip_round_trip(&wire);
    let DvripPacket::Json {
        request_id,
        session: got,
        is_reply,
        body,
    } = DvripPacket::parse(&frame)
    else {
        panic!("f6")
    };
    assert_eq!((request_id, got, is_reply), (2, session, false));
    let Incoming::Call(call) = Incoming::parse(&body).expect("parses") else {
        panic!("a call")
    };
    assert_eq!(call.method, "global.keepAlive");
    assert_eq!(call.params["timeout"], 30);
}

#[test]
fn f12_computed_hashes_match() {
    let realm = "Login to 907F3C6C73FEDA77";
    let random = "1f1e4fbc-858a-47c8-8a50-cb9310ad48cb";
    assert_eq!(
        hash::ha1("admin", realm, "admin"),
        "36EABD301A1E820D46A4D351F97D7AB0"
    );
    assert_eq!(
        hash::default_hash("admin", "admin", realm, random),
        "ACA2FCA2D2C540BA451FAF0B4F8A2510"
    );
    assert_eq!(hash::old_digest("admin"), "6QNMIQGe");
    assert_eq!(hash::old_digest("888888"), "4WzwxXxM");
    assert_eq!(hash::old_digest("666666"), "sh15yfFM");
    assert_eq!(
        hash::dvrip_hash("admin", "admin", random),
        "75B997E3ED7B723105A69F2C28BFD66B"
    );
    assert_eq!(hash::login_body("admin", "admin", realm, random).len(), 71);
}
