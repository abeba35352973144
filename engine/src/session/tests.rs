//! A session against a scripted device over an in-memory socket, with paused time: the DVRIP
//! login, the identity and event calls, a keepalive cycle, and the end of a device that falls
//! silent. The device side is built from the protocol crate's codecs.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::{DvripPacket, LoginReply};
use homeport_protocol::hash::{LoginBody, RealmChallenge};
use homeport_protocol::rpc::device::{
    SerialParams, SoftwareVersion, SoftwareVersionParams, TypeParams,
};
use homeport_protocol::rpc::{Incoming, Request, method};
use homeport_protocol::wire::{Framing, WireCodec, WireFrame};
use serde::Serialize;
use tokio::io::DuplexStream;
use tokio::sync::broadcast;
use tokio::time::{Instant, advance};
use tokio_util::codec::Framed;

use super::*;
use crate::bus::EventBus;
use crate::device::LoginProtocol;
use crate::event::{DeviceState, RegistrationKind};
use crate::registry::RegistryConfig;
use crate::store::Credentials;

const ID: &str = "cam-1";
const PASSWORD: &str = "pw-1";
const SESSION: u32 = 0x1234;
const SERIAL: &str = "SN-0001";
/// How often the platform sends `a1`.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// How long the device may stay silent.
const SILENCE: Duration = Duration::from_secs(60);

/// The camera's end of the socket.
struct Device {
    framed: Framed<DuplexStream, WireCodec>,
}

impl Device {
    /// The next DVRIP packet the platform sent; `None` once it closed the socket.
    async fn next(&mut self) -> Option<DvripPacket> {
        match self.framed.next().await? {
            Ok(WireFrame::Dvrip(frame)) => Some(DvripPacket::parse(&frame)),
            Ok(WireFrame::Dhip(message)) => panic!("DHIP on a DVRIP session: {message:?}"),
            Err(e) => panic!("unreadable frame from the platform: {e}"),
        }
    }

    async fn send(&mut self, frame: WireFrame) {
        self.framed.send(frame).await.expect("the platform reads");
    }

    /// Answers the DVRIP realm login, checking the hash the platform sends.
    async fn answer_login(&mut self) {
        let opening = self.next().await;
        assert!(
            matches!(opening, Some(DvripPacket::LoginOpen { .. })),
            "{opening:?}"
        );
        let challenge = RealmChallenge::new("Login to TEST", "5512").expect("a challenge");
        let text = challenge.encode().into_bytes().into();
        self.send(WireFrame::Dvrip(
            DvripPacket::RealmChallenge { text }.to_frame(),
        ))
        .await;
        let Some(DvripPacket::LoginHash { body }) = self.next().await else {
            panic!("no hash login");
        };
        let login = LoginBody::parse(&body).expect("a login body");
        assert!(
            login.matches(PASSWORD, &challenge),
            "the hash proves the password"
        );
        let success = LoginReply::success(SESSION, 4, 0x33, 5);
        self.send(WireFrame::Dvrip(
            DvripPacket::LoginReply(success).to_frame(),
        ))
        .await;
    }

    /// The next JSON-RPC call, carried in an `f6` packet.
    async fn next_call(&mut self) -> Request {
        let Some(DvripPacket::Json { body, .. }) = self.next().await else {
            panic!("no JSON call");
        };
        let message = DhipMessage::new(0, 0, body);
        let (json, _) = message.parts().expect("JSON");
        match Incoming::parse(json).expect("JSON-RPC") {
            Incoming::Call(call) => call,
            Incoming::Reply(reply) => panic!("a reply from the platform: {reply:?}"),
        }
    }

    /// Answers what the session asks right after the login: serial, type, firmware version,
    /// event subscription.
    async fn answer_setup(&mut self) {
        let serial = self.next_call().await;
        assert_eq!(serial.method, method::GET_SERIAL_NO);
        assert_eq!(serial.session, SESSION);
        let sn = SERIAL.to_owned();
        self.reply(&serial, SerialParams { sn }).await;
        let kind = self.next_call().await;
        assert_eq!(kind.method, method::GET_DEVICE_TYPE);
        let kind_params = TypeParams {
            kind: "IPC-TEST".to_owned(),
        };
        self.reply(&kind, kind_params).await;
        let version = self.next_call().await;
        assert_eq!(version.method, method::GET_SOFTWARE_VERSION);
        let version_params = SoftwareVersionParams {
            version: SoftwareVersion {
                version: "2.800.1".to_owned(),
                build_date: "2026-01-02".to_owned(),
            },
        };
        self.reply(&version, version_params).await;
        let attach = self.next_call().await;
        assert_eq!(attach.method, method::EVENT_ATTACH);
        self.reply(&attach, ()).await;
    }

    async fn reply(&mut self, call: &Request, params: impl Serialize) {
        let reply = call.reply(true, params);
        self.send(Framing::Dvrip.reply_frame(call.id, &reply, None))
            .await;
    }
}

/// The next online/offline change of the device.
async fn next_change(events: &mut broadcast::Receiver<Arc<Event>>) -> EventKind {
    loop {
        let event = events.recv().await.expect("the bus is open");
        if matches!(event.kind, EventKind::OnlineChanged { .. }) {
            return event.kind.clone();
        }
    }
}

/// Lets every task run what it can without moving the clock past `now`.
async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_device_that_stops_answering_keepalives_goes_offline_after_the_silence_timeout() {
    let config = SessionConfig {
        dvrip_keepalive: KEEPALIVE,
        dvrip_silence: SILENCE,
        ..SessionConfig::default()
    };
    let registry = Arc::new(Registry::new(
        EventBus::default(),
        RegistryConfig::default(),
    ));
    registry.set_credentials(
        ID,
        Credentials::new("admin", PASSWORD, LoginProtocol::Dvrip),
        None,
    );
    let mut events = registry.bus().subscribe();
    let ticket = registry
        .register(ID, "192.0.2.1:5000", RegistrationKind::Serial, false)
        .expect("registered");
    let (platform, device) = tokio::io::duplex(64 * 1024);
    let mut device = Device {
        framed: Framed::new(device, WireCodec::new(64 * 1024)),
    };
    let session = tokio::spawn(run(
        Link::new(platform),
        ticket,
        Arc::clone(&registry),
        config,
    ));

    // Login.
    device.answer_login().await;
    device.answer_setup().await;
    let online = next_change(&mut events).await;
    assert!(
        matches!(
            online,
            EventKind::OnlineChanged {
                online: true,
                reason: OnlineReason::LoginOk,
                ..
            }
        ),
        "{online:?}"
    );
    let online_at = Instant::now();
    assert_eq!(
        registry.identity(ID).serial.as_deref(),
        Some(SERIAL),
        "the first login pins what the device showed"
    );

    // A keepalive cycle: one `a1` per interval, answered.
    advance(KEEPALIVE).await;
    assert_eq!(device.next().await, Some(DvripPacket::KeepAlive));
    assert_eq!(online_at.elapsed(), KEEPALIVE);
    device
        .send(WireFrame::Dvrip(DvripPacket::KeepAliveReply.to_frame()))
        .await;
    let answered_at = Instant::now();
    settle().await;

    // Silence: the device still reads but answers nothing; the platform keeps its interval.
    let mut waited = Duration::ZERO;
    while waited + KEEPALIVE < SILENCE {
        advance(KEEPALIVE).await;
        waited += KEEPALIVE;
        assert_eq!(device.next().await, Some(DvripPacket::KeepAlive));
    }
    advance(SILENCE - waited - Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(
        registry.view(ID).map(|v| v.state),
        Some(DeviceState::Online),
        "still within the silence timeout"
    );

    // Death: the next timer due is the silence timeout.
    let offline = next_change(&mut events).await;
    let EventKind::OnlineChanged {
        online: false,
        reason,
        detail,
        ..
    } = &offline
    else {
        panic!("{offline:?}");
    };
    assert_eq!(*reason, OnlineReason::KeepaliveLost);
    assert!(
        detail
            .as_deref()
            .is_some_and(|d| d.contains("nothing heard")),
        "{detail:?}"
    );
    assert_eq!(
        answered_at.elapsed(),
        SILENCE,
        "dead after exactly the silence timeout"
    );
    session.await.expect("the session task ends");
    assert_eq!(
        registry.view(ID).map(|v| v.state),
        Some(DeviceState::Offline)
    );
    // The platform closed the socket (after at most the `a1` due at the same instant).
    while let Some(packet) = device.next().await {
        assert_eq!(packet, DvripPacket::KeepAlive);
    }
}
