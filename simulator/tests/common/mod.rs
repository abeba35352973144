//! An in-test platform: the server side of active registration, built from
//! `homeport-protocol` alone, to drive simulated cameras in tests.
//!
//! Also the few lines every test repeats around it: a camera config, starting a camera in
//! register or direct mode, accepting its announcement, and logins that must succeed.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::{DvripFrame, DvripPacket, LoginReply, LoginResult};
use homeport_protocol::hash::{self, RealmChallenge};
use homeport_protocol::rpc::login::{ChallengeParams, LoginOkParams, LoginParams};
use homeport_protocol::rpc::{Incoming, Reply, Request, codes, method};
use homeport_protocol::wire::{WireCodec, WireFrame};
use homeport_simulator::camera::RegisterTarget;
use homeport_simulator::register::{self, RegisterOptions};
use homeport_simulator::{Camera, CameraConfig, Firmware, Stats, direct};
use serde::Serialize;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::time::timeout;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

/// How long a test waits for any one frame.
pub const WAIT: Duration = Duration::from_secs(10);

/// A platform listening on a free loopback port.
pub struct Platform {
    pub listener: TcpListener,
}

impl Platform {
    pub async fn bind() -> Self {
        Self {
            listener: TcpListener::bind("127.0.0.1:0").await.expect("bind"),
        }
    }

    pub fn addr(&self) -> String {
        self.listener.local_addr().expect("addr").to_string()
    }

    /// Accepts one registering camera.
    pub async fn accept(&self) -> Conn {
        let (stream, _) = timeout(WAIT, self.listener.accept())
            .await
            .expect("a camera dials in time")
            .expect("accept");
        Conn::new(stream)
    }

    /// Accepts one registering camera and reads its announcement.
    pub async fn registered(&self) -> Conn {
        let mut conn = self.accept().await;
        conn.announcement().await;
        conn
    }

    /// Accepts one registering camera and checks that it announces `id`.
    pub async fn registered_as(&self, id: &str) -> Conn {
        let mut conn = self.accept().await;
        assert_eq!(conn.announcement().await, id);
        conn
    }

    /// Starts `config` registering to this platform under its own device ID, redialling
    /// quickly ([`quick_redial`]).
    pub fn start_camera(&self, config: CameraConfig) -> Running {
        self.start_camera_with(config, quick_redial())
    }

    /// Starts `config` registering to this platform under its own device ID, with `options`.
    pub fn start_camera_with(&self, config: CameraConfig, options: RegisterOptions) -> Running {
        let addr = self.listener.local_addr().expect("addr");
        let config = CameraConfig {
            register: Some(RegisterTarget {
                address: addr.ip().to_string(),
                port: addr.port(),
                device_id: config.device_id.clone(),
            }),
            ..config
        };
        let running = Running::new(config);
        tokio::spawn(register::run(
            Arc::clone(&running.camera),
            options,
            Arc::clone(&running.stats),
            running.cancel.clone(),
        ));
        running
    }
}

/// A camera `id`, user `admin`, password `secret`, with `firmware`.
pub fn camera(id: &str, firmware: Firmware) -> CameraConfig {
    CameraConfig {
        firmware,
        ..CameraConfig::new(id, "admin", "secret")
    }
}

/// Register-mode options whose backoff (50–200 ms) lets a test see the camera dial again.
pub fn quick_redial() -> RegisterOptions {
    RegisterOptions {
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..RegisterOptions::default()
    }
}

/// A simulated camera a test started: the camera, its counters, and the token that stops it.
pub struct Running {
    pub camera: Arc<Camera>,
    pub stats: Arc<Stats>,
    pub cancel: CancellationToken,
}

impl Running {
    fn new(config: CameraConfig) -> Self {
        Self {
            camera: Arc::new(Camera::new(config)),
            stats: Arc::new(Stats::default()),
            cancel: CancellationToken::new(),
        }
    }
}

/// Starts `config` in direct mode on a free loopback port; the address it listens on.
pub async fn start_direct(config: CameraConfig) -> (SocketAddr, Running) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let running = Running::new(config);
    tokio::spawn(direct::run(
        listener,
        Arc::clone(&running.camera),
        RegisterOptions::default(),
        Arc::clone(&running.stats),
        running.cancel.clone(),
    ));
    (addr, running)
}

/// One platform-side connection to a camera.
pub struct Conn {
    pub framed: Framed<TcpStream, WireCodec>,
    pub session: u32,
    next_id: u32,
    dvrip: bool,
    /// Notifications that arrived while waiting for a reply.
    pub notifications: VecDeque<Request>,
    /// Non-JSON DVRIP packets that arrived while waiting for a reply.
    pub pushed: VecDeque<DvripFrame>,
}

/// The end of a login attempt.
#[derive(Debug)]
pub enum LoginOutcome {
    Ok { session: u32, keep_alive: u32 },
    Refused(Reply),
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            framed: Framed::new(stream, WireCodec::default()),
            session: 0,
            next_id: 1,
            dvrip: false,
            notifications: VecDeque::new(),
            pushed: VecDeque::new(),
        }
    }

    pub async fn connect(addr: impl ToSocketAddrs) -> Self {
        Self::new(TcpStream::connect(addr).await.expect("connect"))
    }

    pub async fn next_frame(&mut self) -> Option<WireFrame> {
        match timeout(WAIT, self.framed.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(frame)) => Some(frame),
            Some(Err(e)) => panic!("camera sent bad bytes: {e}"),
            None => None,
        }
    }

    /// Reads the announcement and returns the device ID.
    pub async fn announcement(&mut self) -> String {
        let Some(WireFrame::Dvrip(frame)) = self.next_frame().await else {
            panic!("expected a DVRIP announcement")
        };
        let packet = DvripPacket::parse(&frame);
        packet
            .announced_id()
            .expect("an announcement")
            .expect("a valid ID")
            .to_owned()
    }

    async fn send_request(&mut self, request: &Request) {
        if self.dvrip {
            self.send_dvrip(DvripPacket::Json {
                request_id: request.id,
                session: self.session,
                is_reply: false,
                body: request.to_json().into(),
            })
            .await;
        } else {
            self.send_dhip(request).await;
        }
    }

    /// Sends `request` in a DHIP message (its session and id in the header) without waiting
    /// for an answer.
    pub async fn send_dhip(&mut self, request: &Request) {
        let message = DhipMessage::new(request.session, request.id, request.to_json());
        self.framed
            .send(WireFrame::Dhip(message))
            .await
            .expect("send");
    }

    /// Calls `method` and waits for its reply (queueing notifications); the binary payload
    /// after the JSON comes along.
    pub async fn call(&mut self, method: &str, params: impl Serialize) -> (Reply, Option<Bytes>) {
        let id = self.next_id;
        self.next_id += 1;
        let request = Request::new(id, self.session, method, params);
        self.send_request(&request).await;
        loop {
            let frame = self
                .next_frame()
                .await
                .expect("camera closed before replying");
            let body: Bytes = match frame {
                WireFrame::Dhip(message) => message.body,
                WireFrame::Dvrip(frame) => match DvripPacket::parse(&frame) {
                    DvripPacket::Json { body, .. } => body,
                    _ => {
                        self.pushed.push_back(frame);
                        continue;
                    }
                },
            };
            let message = DhipMessage::new(0, 0, body);
            let (json, payload) = message.parts().expect("JSON body");
            match Incoming::parse(json).expect("JSON-RPC") {
                Incoming::Call(call) => self.notifications.push_back(call),
                Incoming::Reply(reply) if reply.id == id => {
                    return (reply, payload.map(Bytes::copy_from_slice));
                }
                Incoming::Reply(reply) => panic!("reply to an unknown id: {reply:?}"),
            }
        }
    }

    /// DHIP two-step login.
    pub async fn login(&mut self, user: &str, password: &str) -> LoginOutcome {
        self.session = 0;
        let (challenge, _) = self
            .call(method::LOGIN, LoginParams::challenge_request(user))
            .await;
        assert_eq!(challenge.error_code(), Some(codes::LOGIN_CHALLENGE));
        let params: ChallengeParams = challenge.params().expect("challenge params");
        self.session = challenge.session;
        let hash = hash::default_hash(user, password, &params.realm, &params.random);
        let (reply, _) = self
            .call(method::LOGIN, LoginParams::answer(user, hash, "Default"))
            .await;
        if reply.is_ok() {
            let ok: LoginOkParams = reply.params().expect("login params");
            LoginOutcome::Ok {
                session: self.session,
                keep_alive: ok.keep_alive_interval,
            }
        } else {
            LoginOutcome::Refused(reply)
        }
    }

    /// DHIP two-step login that must succeed; the session.
    pub async fn logged_in(&mut self, user: &str, password: &str) -> u32 {
        match self.login(user, password).await {
            LoginOutcome::Ok { session, .. } => session,
            LoginOutcome::Refused(reply) => panic!("login refused: {reply:?}"),
        }
    }

    /// DVRIP realm login that must succeed; the reply.
    pub async fn logged_in_dvrip(&mut self, user: &str, password: &str) -> LoginReply {
        let reply = self.login_dvrip(user, password).await;
        assert_eq!(reply.result, LoginResult::Success, "DVRIP login: {reply:?}");
        reply
    }

    /// DVRIP realm login as the vendor's clients open it (`a0 05 00 60`, zeros at +8..+24);
    /// later calls go in `f6` packets.
    pub async fn login_dvrip(&mut self, user: &str, password: &str) -> LoginReply {
        self.send_dvrip(DvripPacket::LoginOpen {
            credentials: [0; 16],
        })
        .await;
        let text = match self.next_dvrip().await {
            DvripPacket::RealmChallenge { text } => text,
            other => panic!("expected a realm challenge, got {other:?}"),
        };
        let challenge = RealmChallenge::parse(&text).expect("challenge text");
        let body = challenge.login_body(user, password);
        self.send_dvrip(DvripPacket::LoginHash { body: body.into() })
            .await;
        self.login_result().await
    }

    /// Reads a DVRIP login result; a success switches later calls to `f6`.
    pub async fn login_result(&mut self) -> LoginReply {
        let reply = match self.next_dvrip().await {
            DvripPacket::LoginReply(reply) => reply,
            other => panic!("expected a login reply, got {other:?}"),
        };
        if reply.result == LoginResult::Success {
            self.session = reply.session;
            self.dvrip = true;
        }
        reply
    }

    /// Sends one DVRIP packet.
    pub async fn send_dvrip(&mut self, packet: DvripPacket) {
        self.framed
            .send(WireFrame::Dvrip(packet.to_frame()))
            .await
            .expect("send");
    }

    /// The next DVRIP frame, raw (pushed packets queued by [`Conn::call`] come first).
    pub async fn next_dvrip_frame(&mut self) -> DvripFrame {
        if let Some(frame) = self.pushed.pop_front() {
            return frame;
        }
        match self.next_frame().await {
            Some(WireFrame::Dvrip(frame)) => frame,
            other => panic!("expected a DVRIP frame, got {other:?}"),
        }
    }

    /// The next DVRIP packet.
    pub async fn next_dvrip(&mut self) -> DvripPacket {
        DvripPacket::parse(&self.next_dvrip_frame().await)
    }

    /// True if the camera writes nothing within `within` (and keeps the socket open).
    pub async fn silent_for(&mut self, within: Duration) -> bool {
        timeout(within, self.framed.next()).await.is_err()
    }

    /// The next notification, from the queue or the wire.
    pub async fn notification(&mut self) -> Request {
        if let Some(call) = self.notifications.pop_front() {
            return call;
        }
        loop {
            let frame = self
                .next_frame()
                .await
                .expect("camera closed while waiting for a notification");
            let body = match frame {
                WireFrame::Dhip(message) => message,
                WireFrame::Dvrip(frame) => match DvripPacket::parse(&frame) {
                    DvripPacket::Json { body, .. } => DhipMessage::new(0, 0, body),
                    _ => continue,
                },
            };
            if let Ok(Incoming::Call(call)) = Incoming::parse(body.parts().expect("JSON").0) {
                return call;
            }
        }
    }

    /// Waits for the camera to close the connection; true if it did within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        matches!(
            timeout(within, async {
                while let Some(Ok(_)) = self.framed.next().await {}
            })
            .await,
            Ok(())
        )
    }
}

/// `{"name": name}`.
pub fn name(name: &str) -> Value {
    serde_json::json!({ "name": name })
}
