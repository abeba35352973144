//! The `f4` text RPC on the camera side.
//!
//! The five methods (`GetParameterNames`, `GetParameterValues`, `SetParameterValues`,
//! `AddObject`, `DeleteObject`) are answered `<Method>Response` with `FaultCode:OK` for the
//! parameter names of `reference/dahua-protocol-2.md` §2–§3 ([`PARAMETERS`]). The camera
//! streams no media: `Monitor.General` is acknowledged and nothing follows.
//!
//! Our conventions, where the evidence shows only successes: the non-OK fault codes
//! ([`fault`]), and `AckSubChannel` being accepted before login when its `SessionID` names a
//! session logged in to this camera (it is the first packet of a media sub-connection, §3.2).

use homeport_protocol::dvrip::text::FAULT_OK;
use homeport_protocol::dvrip::{DvripPacket, TextRpc};

use super::{Output, Session};

/// The non-OK `FaultCode` values the simulated camera answers (our convention).
pub mod fault {
    /// The connection has not logged in.
    pub const NOT_LOGGED_IN: &str = "NotLoggedIn";
    /// The method is none of the five.
    pub const UNKNOWN_METHOD: &str = "UnknownMethod";
    /// The `ParameterName` is missing or not one the camera knows.
    pub const UNKNOWN_PARAMETER: &str = "UnknownParameter";
    /// The body cannot be read (not UTF-8, too many lines).
    pub const BAD_REQUEST: &str = "BadRequest";
}

/// The methods of the text RPC.
pub const METHODS: [&str; 5] = [
    "GetParameterNames",
    "GetParameterValues",
    "SetParameterValues",
    "AddObject",
    "DeleteObject",
];

/// Decoder configuration, queried right after login in the capture.
pub const DECODE_CFG: &str = "Dahua.Device.Decode.Cfg";
/// Live video on a channel (protocol ≥ 6).
pub const MONITOR: &str = "Dahua.Device.Network.Monitor.General";
/// A media sub-connection: `AddObject` returns its `ConnectionID`, `IP` and `Port`.
pub const PASSIVE: &str = "Dahua.Device.Network.ControlConnection.Passive";
/// The first packet on a media sub-connection.
pub const ACK_SUB_CHANNEL: &str = "Dahua.Device.Network.ControlConnection.AckSubChannel";
/// Where a redirected registration goes.
pub const CONTROL_PORT: &str = "Dahua.Device.Network.ControlConnection.Port";
/// Which register server is chosen.
pub const REGISTER_CHOOSE: &str = "Dahua.Device.Network.CtrolRegister.Choose";

/// Every parameter name the camera answers.
pub const PARAMETERS: [&str; 6] = [
    DECODE_CFG,
    MONITOR,
    PASSIVE,
    ACK_SUB_CHANNEL,
    CONTROL_PORT,
    REGISTER_CHOOSE,
];

/// The port a sub-connection is opened to (`DVRIP.TCPPort`).
const SERVICE_PORT: &str = "37777";

impl Session {
    /// Answers one `f4` request.
    pub(super) fn text_rpc(&mut self, body: &[u8]) -> Output {
        let reply = match TextRpc::parse(body) {
            Ok(request) => self.text_answer(&request),
            Err(e) => {
                tracing::debug!(peer = %self.peer, error = %e, "unreadable f4 request");
                TextRpc::default().with("FaultCode", fault::BAD_REQUEST)
            }
        };
        let packet = DvripPacket::TextRpc {
            is_reply: true,
            body: reply.encode().into(),
        };
        Output::one(self.dvrip_reply(packet), None)
    }

    fn text_answer(&mut self, request: &TextRpc) -> TextRpc {
        let method = request.method().unwrap_or_default();
        let name = request.parameter_name().unwrap_or_default();
        let sub_channel = name == ACK_SUB_CHANNEL
            && request
                .get("SessionID")
                .and_then(|id| id.parse().ok())
                .is_some_and(|id| self.camera.has_session(id));
        if self.logged_in().is_none() && !sub_channel {
            return request.reply(fault::NOT_LOGGED_IN, &[]);
        }
        if !METHODS.contains(&method) {
            return request.reply(fault::UNKNOWN_METHOD, &[]);
        }
        match (method, name) {
            ("AddObject", PASSIVE) => {
                let id = self.next_object.to_string();
                self.next_object = self.next_object.wrapping_add(1);
                request.reply(
                    FAULT_OK,
                    &[
                        ("ConnectionID", &id),
                        ("IP", "0.0.0.0"),
                        ("Port", SERVICE_PORT),
                    ],
                )
            }
            ("GetParameterValues", CONTROL_PORT) => {
                let target = self.camera.register_target().borrow().clone();
                let (address, port) = target.map_or_else(
                    || ("0.0.0.0".to_owned(), "0".to_owned()),
                    |t| (t.address, t.port.to_string()),
                );
                request.reply(
                    FAULT_OK,
                    &[("Addr", &address), ("port", &port), ("State", "Success")],
                )
            }
            (_, name) if PARAMETERS.contains(&name) => {
                let connection = request.get("ConnectionID").unwrap_or_default();
                let extra: &[(&str, &str)] = if connection.is_empty() {
                    &[]
                } else {
                    &[("ConnectionID", connection)]
                };
                request.reply(FAULT_OK, extra)
            }
            _ => request.reply(fault::UNKNOWN_PARAMETER, &[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use homeport_protocol::dvrip::{DvripPacket, TextRpc};

    use super::super::Link;
    use super::super::test_support::{config, logged_in, one, session};
    use super::*;
    use crate::firmware::Firmware;

    fn ask(session: &mut Session, method: &str, name: &str, extra: &[(&str, &str)]) -> TextRpc {
        let mut request = TextRpc::request(41, method, name);
        for (key, value) in extra {
            request = request.with(key, value);
        }
        let frame = one(
            session,
            DvripPacket::TextRpc {
                is_reply: false,
                body: request.encode().into(),
            },
        );
        assert_eq!(&frame.header[..4], &[0xf4, 0x00, 0x00, 0x78]);
        let reply = TextRpc::parse(&frame.body).expect("text reply");
        assert_eq!(reply.transaction(), Some(41));
        assert_eq!(
            reply.method().map(str::to_owned),
            Some(format!("{method}Response"))
        );
        reply
    }

    #[test]
    fn every_method_is_answered_ok_for_every_known_parameter() {
        let mut session = logged_in(config(Firmware::DvripOnly, 1));
        for method in METHODS {
            for name in PARAMETERS {
                let reply = ask(&mut session, method, name, &[]);
                assert!(reply.is_ok(), "{method} {name}: {reply:?}");
                assert_eq!(reply.parameter_name(), Some(name));
            }
        }
    }

    #[test]
    fn adding_a_passive_connection_returns_its_id_address_and_port() {
        let mut session = logged_in(config(Firmware::DvripOnly, 1));
        let first = ask(
            &mut session,
            "AddObject",
            PASSIVE,
            &[("ConnectProtocol", "0")],
        );
        let second = ask(
            &mut session,
            "AddObject",
            PASSIVE,
            &[("ConnectProtocol", "0")],
        );
        assert!(first.is_ok());
        assert_eq!(first.get("IP"), Some("0.0.0.0"));
        assert_eq!(first.get("Port"), Some("37777"));
        let id = |reply: &TextRpc| reply.get("ConnectionID").map(str::to_owned);
        assert!(id(&first).is_some());
        assert_ne!(id(&first), id(&second));
        let port = ask(&mut session, "GetParameterValues", CONTROL_PORT, &[]);
        assert_eq!(port.get("State"), Some("Success"));
    }

    #[test]
    fn unknown_names_methods_and_bodies_get_descriptive_fault_codes() {
        let mut session = logged_in(config(Firmware::DvripOnly, 1));
        let reply = ask(&mut session, "GetParameterValues", "Dahua.Device.Nope", &[]);
        assert_eq!(reply.get("FaultCode"), Some(fault::UNKNOWN_PARAMETER));
        let reply = ask(&mut session, "Reboot", DECODE_CFG, &[]);
        assert_eq!(reply.get("FaultCode"), Some(fault::UNKNOWN_METHOD));
        let frame = one(
            &mut session,
            DvripPacket::TextRpc {
                is_reply: false,
                body: bytes::Bytes::from_static(b"\xff\xfe:x\r\n\r\n"),
            },
        );
        let reply = TextRpc::parse(&frame.body).expect("text");
        assert_eq!(reply.get("FaultCode"), Some(fault::BAD_REQUEST));
    }

    #[test]
    fn before_login_only_a_sub_channel_ack_for_a_live_session_is_ok() {
        let camera_config = config(Firmware::DvripOnly, 1);
        let main = logged_in(camera_config);
        let live = main.logged_in().expect("logged in").to_string();
        let mut sub = Session::new(
            std::sync::Arc::clone(main.camera()),
            "127.0.0.1:2".to_owned(),
            Link::Direct,
            rand::SeedableRng::seed_from_u64(2),
        );
        let reply = ask(&mut sub, "GetParameterValues", DECODE_CFG, &[]);
        assert_eq!(reply.get("FaultCode"), Some(fault::NOT_LOGGED_IN));
        let ack = [("SessionID", live.as_str()), ("ConnectionID", "1")];
        let reply = ask(&mut sub, "GetParameterNames", ACK_SUB_CHANNEL, &ack);
        assert!(reply.is_ok(), "{reply:?}");
        let stale = [("SessionID", "12345"), ("ConnectionID", "1")];
        let reply = ask(&mut sub, "GetParameterNames", ACK_SUB_CHANNEL, &stale);
        assert_eq!(reply.get("FaultCode"), Some(fault::NOT_LOGGED_IN));
        let mut fresh = session(config(Firmware::DvripOnly, 1), Link::Register);
        let reply = ask(&mut fresh, "AddObject", PASSIVE, &[]);
        assert_eq!(reply.get("FaultCode"), Some(fault::NOT_LOGGED_IN));
    }
}
