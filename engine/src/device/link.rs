//! JSON-RPC over one device socket, with the platform as the RPC client.
//!
//! After a DHIP login every message is a DHIP message; after a DVRIP realm login, JSON travels
//! in `f6` packets. Reads are bounded by the codec's maximum message size, and buffers start
//! empty and grow only as messages need, so thousands of idle links cost little.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use homeport_protocol::dhip::DhipMessage;
use homeport_protocol::dvrip::DvripFrame;
use homeport_protocol::rpc::{Incoming, Reply, Request};
use homeport_protocol::wire::{Framing, WireCodec, WireError, WireFrame};
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, FramedParts};

/// Largest message accepted from a device: room for a high-resolution snapshot.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Notifications held while a sequential call waits for its reply.
const MAX_HELD: usize = 256;

/// What went wrong on a link. Any of these ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The device sent bytes neither framing accepts, or the socket failed.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// The device closed the connection.
    #[error("connection closed by the device")]
    Closed,
    /// No reply within the timeout.
    #[error("no reply to {method} within {timeout:?}")]
    Timeout {
        /// The method called.
        method: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The device sent a frame that is not JSON-RPC where JSON-RPC was due.
    #[error("unexpected message from the device: {0}")]
    Unexpected(String),
}

/// A message from the device.
#[derive(Debug)]
pub enum Message {
    /// A reply, with the binary payload that followed its JSON, if any.
    Reply(Reply, Option<Bytes>),
    /// A notification (`client.notify…`) or a device-initiated call.
    Call(Request),
    /// A DVRIP packet that is not JSON (login replies and the like).
    Dvrip(DvripFrame),
}

/// JSON-RPC over one socket.
#[derive(Debug)]
pub struct Link<S> {
    framed: Framed<S, WireCodec>,
    /// The framing JSON-RPC travels in: DHIP messages, or DVRIP `f6` packets.
    transport: Framing,
    session: u32,
    next_id: u32,
    held: VecDeque<Request>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Link<S> {
    /// A link over `io`, with empty buffers.
    pub fn new(io: S) -> Self {
        Self::from_framed(Framed::from_parts(FramedParts::new::<&DhipMessage>(
            io,
            WireCodec::new(MAX_MESSAGE),
        )))
    }

    /// A link over an already-framed socket (bytes read past the announcement stay buffered).
    pub fn from_framed(framed: Framed<S, WireCodec>) -> Self {
        Self {
            framed,
            transport: Framing::Dhip,
            session: 0,
            next_id: 1,
            held: VecDeque::new(),
        }
    }

    /// The session id, once logged in.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Sets the session id and framing after a login.
    pub fn set_session(&mut self, session: u32, transport: Framing) {
        self.session = session;
        self.transport = transport;
    }

    /// The framing in use.
    pub fn transport(&self) -> Framing {
        self.transport
    }

    /// Lets the device send messages of up to [`MAX_MESSAGE`] bytes (snapshots): call once it
    /// has logged in. Until then the listener's announcement bound applies.
    /// Frames with undocumented DVRIP command bytes are then read and skipped rather than
    /// ending the connection.
    pub fn trust(&mut self) {
        let codec = self.framed.codec_mut();
        codec.set_max_message(MAX_MESSAGE);
        codec.set_lenient(true);
    }

    /// The underlying framed socket.
    pub fn framed_mut(&mut self) -> &mut Framed<S, WireCodec> {
        &mut self.framed
    }

    /// Sends a request and returns its id.
    pub async fn send(&mut self, method: &str, params: impl Serialize) -> Result<u32, LinkError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let request = Request::new(id, self.session, method, params);
        let frame = self.transport.request_frame(&request);
        self.framed.send(frame).await?;
        Ok(id)
    }

    /// Writes a raw DVRIP frame (the realm login).
    pub async fn send_dvrip(&mut self, frame: DvripFrame) -> Result<(), LinkError> {
        Ok(self.framed.send(WireFrame::Dvrip(frame)).await?)
    }

    /// The next message from the device (held notifications first). Cancel-safe.
    pub async fn next(&mut self) -> Result<Message, LinkError> {
        if let Some(call) = self.held.pop_front() {
            return Ok(Message::Call(call));
        }
        let frame = self.framed.next().await.ok_or(LinkError::Closed)??;
        classify(frame)
    }

    /// Calls `method` and waits up to `timeout` for its reply; notifications arriving
    /// meanwhile are held for [`Link::next`].
    pub async fn call(
        &mut self,
        method: &str,
        params: impl Serialize,
        timeout: Duration,
    ) -> Result<(Reply, Option<Bytes>), LinkError> {
        let id = self.send(method, params).await?;
        let wait = async {
            loop {
                let frame = self.framed.next().await.ok_or(LinkError::Closed)??;
                match classify(frame)? {
                    Message::Reply(reply, payload) if reply.id == id => {
                        return Ok((reply, payload));
                    }
                    Message::Reply(..) => {} // a late reply to an abandoned call
                    Message::Call(call) => {
                        if self.held.len() == MAX_HELD {
                            self.held.pop_front();
                        }
                        self.held.push_back(call);
                    }
                    Message::Dvrip(frame) => {
                        // A keep-life answer or a late login answer: not this call's reply.
                        tracing::debug!(
                            command = frame.command(),
                            "ignoring a DVRIP packet while waiting for a reply"
                        );
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| LinkError::Timeout {
                method: method.to_owned(),
                timeout,
            })?
    }

    /// Waits up to `timeout` for the next raw DVRIP frame (login steps); DHIP messages
    /// arriving meanwhile (a late answer to an abandoned DHIP login) are skipped.
    pub async fn next_dvrip(&mut self, timeout: Duration) -> Result<DvripFrame, LinkError> {
        let wait = async {
            loop {
                match self.framed.next().await.ok_or(LinkError::Closed)?? {
                    WireFrame::Dvrip(frame) => return Ok(frame),
                    WireFrame::Dhip(_) => {
                        tracing::debug!("ignoring a DHIP message during a DVRIP login");
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| LinkError::Timeout {
                method: "DVRIP login".to_owned(),
                timeout,
            })?
    }
}

/// Reads a frame as a JSON-RPC message (or a bare DVRIP packet).
fn classify(frame: WireFrame) -> Result<Message, LinkError> {
    let body = match frame.try_into_rpc_body() {
        Ok(body) => body,
        Err(frame) => return Ok(Message::Dvrip(frame)),
    };
    let message = DhipMessage::new(0, 0, body);
    let (json, payload) = message
        .parts()
        .map_err(|e| LinkError::Unexpected(e.to_string()))?;
    match Incoming::parse(json).map_err(|e| LinkError::Unexpected(e.to_string()))? {
        Incoming::Reply(reply) => Ok(Message::Reply(reply, payload.map(Bytes::copy_from_slice))),
        Incoming::Call(call) => Ok(Message::Call(call)),
    }
}
