//! A fake camera built from the protocol crate: it announces an ID and then says exactly
//! what a test wants, to play the stranger (or check the bytes the gateway sends).

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::{DvripFrame, DvripPacket};
use homeport_protocol::wire::{WireCodec, WireFrame};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// One fake camera connection.
pub struct FakeCamera {
    pub framed: Framed<TcpStream, WireCodec>,
}

/// What the gateway did next.
#[derive(Debug)]
pub enum Next {
    /// It sent this frame.
    Frame(WireFrame),
    /// It closed the connection.
    Closed,
    /// It sent nothing within the wait.
    Silence,
}

impl FakeCamera {
    /// Connects to `addr` and announces `id`.
    pub async fn announce(addr: SocketAddr, id: &str) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connects");
        let mut framed = Framed::new(stream, WireCodec::default());
        let announcement = DvripPacket::announcement(id).expect("valid").to_frame();
        framed
            .send(WireFrame::Dvrip(announcement))
            .await
            .expect("announces");
        Self { framed }
    }

    /// What the gateway does within `wait`.
    pub async fn next(&mut self, wait: Duration) -> Next {
        match tokio::time::timeout(wait, self.framed.next()).await {
            Err(_) => Next::Silence,
            Ok(None) | Ok(Some(Err(_))) => Next::Closed,
            Ok(Some(Ok(frame))) => Next::Frame(frame),
        }
    }

    /// The next frame, which must come within the test wait.
    pub async fn frame(&mut self) -> WireFrame {
        match self.next(super::WAIT).await {
            Next::Frame(frame) => frame,
            other => panic!("expected a frame from the gateway, got {other:?}"),
        }
    }

    /// The next DVRIP frame (failing on DHIP).
    pub async fn dvrip(&mut self) -> DvripFrame {
        match self.frame().await {
            WireFrame::Dvrip(frame) => frame,
            WireFrame::Dhip(message) => panic!("a DHIP message: {message:?}"),
        }
    }

    /// The next DHIP message, skipping DVRIP frames (a DVRIP opening `auto` tried first).
    pub async fn dhip(&mut self) -> DhipMessage {
        loop {
            if let WireFrame::Dhip(message) = self.frame().await {
                return message;
            }
        }
    }

    /// Sends a DVRIP packet.
    pub async fn send(&mut self, packet: DvripPacket) {
        self.framed
            .send(WireFrame::Dvrip(packet.to_frame()))
            .await
            .expect("sends");
    }

    /// Sends a DHIP message with `json` as its body.
    pub async fn send_dhip(&mut self, session: u32, id: u32, json: String) {
        self.framed
            .send(WireFrame::Dhip(DhipMessage::new(session, id, json)))
            .await
            .expect("sends");
    }

    /// Sends JSON in an `f6` packet.
    pub async fn send_f6(&mut self, request_id: u32, session: u32, is_reply: bool, json: String) {
        self.send(DvripPacket::Json {
            request_id,
            session,
            is_reply,
            body: json.into(),
        })
        .await;
    }

    /// Waits until the gateway closes the connection (failing if it does not).
    pub async fn closed(&mut self) {
        let deadline = tokio::time::Instant::now() + super::WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Next::Closed => return,
                Next::Frame(_) => {}
                Next::Silence => panic!("the gateway kept the connection open"),
            }
        }
    }
}
