//! JSON-RPC in a frame of either framing: the one place a request, reply or notification
//! becomes a DHIP message or a DVRIP `f6` packet, and where a frame's JSON is found again.
//!
//! DHIP carries the session and id in its header and the JSON as the body. DVRIP `f6` carries
//! them at +24 and +8, and who writes the packet shows: the vendor's clients end their JSON with
//! `\n\0` counted in the lengths and put their protocol version (`0x60`) in byte 3
//! (`reference/dahua-protocol-2.md` §6 item 11); a device flags its replies in byte 3 and ends
//! its notifications with a `\n`, in either framing.

use bytes::Bytes;

use super::{Framing, WireFrame};
use crate::dhip::DhipMessage;
use crate::dvrip::login::CLIENT_VERSION;
use crate::dvrip::{DvripFrame, DvripPacket};
use crate::rpc::{Reply, Request};

/// How the vendor's clients end the JSON of an `f6` request.
const CLIENT_JSON_END: &[u8] = b"\n\0";

impl Framing {
    /// `request` as a platform writes it, with the request's session and id in the header.
    pub fn request_frame(self, request: &Request) -> WireFrame {
        let json = request.to_json();
        match self {
            Self::Dhip => WireFrame::Dhip(DhipMessage::new(request.session, request.id, json)),
            Self::Dvrip => {
                let mut body = json;
                body.extend_from_slice(CLIENT_JSON_END);
                let mut frame = f6(request.id, request.session, false, body.into());
                frame.header[3] = CLIENT_VERSION;
                WireFrame::Dvrip(frame)
            }
        }
    }

    /// `reply` as a device writes it, the binary `payload` after its JSON and one `\n`.
    ///
    /// `request_id` goes in the header: the id of the request answered as its header carried
    /// it, which in an `f6` packet need not be its JSON's. Byte 3 of an `f6` reply is `0x78`.
    pub fn reply_frame(self, request_id: u32, reply: &Reply, payload: Option<&[u8]>) -> WireFrame {
        let mut body = reply.to_json();
        if let Some(payload) = payload {
            body.push(b'\n');
            body.extend_from_slice(payload);
        }
        let body = Bytes::from(body);
        match self {
            Self::Dhip => WireFrame::Dhip(DhipMessage::new(reply.session, request_id, body)),
            Self::Dvrip => WireFrame::Dvrip(f6(request_id, reply.session, true, body)),
        }
    }

    /// `notification` (a `client.notify…` call) as a device pushes it: the JSON ends with a
    /// `\n` counted in the length, and its session and id (the subscribing call's) go in the
    /// header.
    pub fn notification_frame(self, notification: &Request) -> WireFrame {
        let mut body = notification.to_json();
        body.push(b'\n');
        match self {
            Self::Dhip => WireFrame::Dhip(DhipMessage::new(
                notification.session,
                notification.id,
                body,
            )),
            Self::Dvrip => WireFrame::Dvrip(f6(
                notification.id,
                notification.session,
                false,
                body.into(),
            )),
        }
    }
}

impl WireFrame {
    /// The JSON-RPC body the frame carries (a DHIP message's body or an `f6` packet's: JSON,
    /// perhaps followed by `\n` and a binary payload), or the DVRIP frame back if it is
    /// another packet.
    pub fn try_into_rpc_body(self) -> Result<Bytes, DvripFrame> {
        match self {
            Self::Dhip(message) => Ok(message.body),
            Self::Dvrip(frame) => match DvripPacket::parse(&frame) {
                DvripPacket::Json { body, .. } => Ok(body),
                _ => Err(frame),
            },
        }
    }
}

fn f6(request_id: u32, session: u32, is_reply: bool, body: Bytes) -> DvripFrame {
    DvripPacket::Json {
        request_id,
        session,
        is_reply,
        body,
    }
    .to_frame()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Incoming;

    fn request() -> Request {
        Request::new(7, 0x1234, "magicBox.getDeviceType", ())
    }

    fn dvrip(frame: WireFrame) -> DvripFrame {
        match frame {
            WireFrame::Dvrip(frame) => frame,
            WireFrame::Dhip(message) => panic!("DHIP where DVRIP was due: {message:?}"),
        }
    }

    fn dhip(frame: WireFrame) -> DhipMessage {
        match frame {
            WireFrame::Dhip(message) => message,
            WireFrame::Dvrip(frame) => panic!("DVRIP where DHIP was due: {frame:?}"),
        }
    }

    #[test]
    fn a_dhip_request_carries_its_session_and_id_in_the_header_and_bare_json() {
        let request = request();
        let message = dhip(Framing::Dhip.request_frame(&request));
        assert_eq!((message.session, message.request_id), (0x1234, 7));
        assert_eq!(message.body, request.to_json());
    }

    #[test]
    fn an_f6_request_is_framed_as_the_vendor_client_frames_it() {
        let request = request();
        let frame = dvrip(Framing::Dvrip.request_frame(&request));
        assert_eq!(&frame.header[..4], &[0xf6, 0x00, 0x00, 0x60]);
        assert_eq!(frame.dword(8), 7, "the JSON id at +8");
        assert_eq!(frame.dword(24), 0x1234, "the session at +24");
        let mut json = request.to_json();
        json.extend_from_slice(b"\n\0");
        assert_eq!(frame.body, json, "`\\n\\0` ends the JSON");
        assert_eq!(frame.dword(16) as usize, json.len(), "and is counted");
    }

    #[test]
    fn a_reply_carries_the_requests_header_id_and_its_payload_after_a_newline() {
        let reply = request().reply(true, ());
        let frame = dvrip(Framing::Dvrip.reply_frame(9, &reply, Some(b"\xff\xd8")));
        assert_eq!(&frame.header[..4], &[0xf6, 0x00, 0x00, 0x78]);
        assert_eq!((frame.dword(8), frame.dword(24)), (9, 0x1234));
        let mut body = reply.to_json();
        body.extend_from_slice(b"\n\xff\xd8");
        assert_eq!(frame.body, body);
        let message = dhip(Framing::Dhip.reply_frame(7, &reply, None));
        assert_eq!((message.session, message.request_id), (0x1234, 7));
        assert_eq!(message.body, reply.to_json());
    }

    #[test]
    fn a_notification_ends_with_a_newline_in_either_framing() {
        let notification = Request::new(3, 0x1234, "client.notifyEventStream", ());
        let mut json = notification.to_json();
        json.push(b'\n');
        let message = dhip(Framing::Dhip.notification_frame(&notification));
        assert_eq!((message.session, message.request_id), (0x1234, 3));
        assert_eq!(message.body, json);
        let frame = dvrip(Framing::Dvrip.notification_frame(&notification));
        assert_eq!(&frame.header[..4], &[0xf6, 0x00, 0x00, 0x00]);
        assert_eq!((frame.dword(8), frame.dword(24)), (3, 0x1234));
        assert_eq!(frame.body, json);
    }

    #[test]
    fn the_rpc_body_is_found_in_either_framing_and_other_packets_come_back() {
        for framing in [Framing::Dhip, Framing::Dvrip] {
            let body = framing
                .request_frame(&request())
                .try_into_rpc_body()
                .expect("JSON-RPC");
            let message = DhipMessage::new(0, 0, body);
            let json = message.parts().expect("JSON").0;
            assert!(matches!(Incoming::parse(json), Ok(Incoming::Call(call)) if call.id == 7));
        }
        let keep_alive = DvripPacket::KeepAlive.to_frame();
        assert_eq!(
            WireFrame::Dvrip(keep_alive.clone()).try_into_rpc_body(),
            Err(keep_alive)
        );
    }
}
