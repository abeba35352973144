//! [`TracedIo`]: a socket wrapper that copies what a traced device's connection reads and
//! writes into its transcript.
//!
//! The device ID is known only after the announcement, so the first inbound bytes (at most
//! [`EARLY`]) are kept until [`TracedIo::attach`] names the device; whether that device is
//! traced is re-checked whenever the set of traced devices changes, so tracing can be turned
//! on and off on a live connection. An untraced connection pays one atomic load per read or
//! write.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Traces;
use super::transcript::{Direction, Stream, Transcript};

/// Inbound bytes kept before the device is named (the announcement is 96).
pub const EARLY: usize = 4096;

/// A socket whose traffic goes to its device's transcript while that device is traced.
#[derive(Debug)]
pub struct TracedIo<S> {
    inner: S,
    traces: Arc<Traces>,
    peer: String,
    id: Option<String>,
    early: Vec<u8>,
    seen: u64,
    active: Option<Active>,
}

/// The decoding state of a traced connection.
#[derive(Debug)]
struct Active {
    transcript: Arc<Mutex<Transcript>>,
    inbound: Stream,
    outbound: Stream,
}

impl<S> TracedIo<S> {
    /// Wraps `inner`, a connection from `peer`.
    pub fn new(inner: S, traces: Arc<Traces>, peer: String) -> Self {
        Self {
            inner,
            traces,
            peer,
            id: None,
            early: Vec::new(),
            seen: u64::MAX,
            active: None,
        }
    }

    /// Names the device behind the connection; its earliest bytes are written now if it is
    /// traced.
    pub fn attach(&mut self, id: &str) {
        self.id = Some(id.to_owned());
        self.refresh();
        let early = std::mem::take(&mut self.early);
        self.record(Direction::FromDevice, &early);
    }

    fn refresh(&mut self) {
        let generation = self.traces.generation();
        if generation == self.seen {
            return;
        }
        self.seen = generation;
        let transcript = self.id.as_deref().and_then(|id| self.traces.transcript(id));
        self.active = match (transcript, self.active.take()) {
            (Some(transcript), Some(active)) if Arc::ptr_eq(&transcript, &active.transcript) => {
                Some(active)
            }
            (Some(transcript), _) => Some(Active {
                transcript,
                inbound: Stream::new(Direction::FromDevice),
                outbound: Stream::new(Direction::ToDevice),
            }),
            (None, _) => None,
        };
    }

    /// Whether bytes going `direction` are recorded (or kept until the device is named).
    fn wants(&mut self, direction: Direction) -> bool {
        if self.id.is_none() {
            // Kept only while some device is traced: idle strangers cost nothing.
            return direction == Direction::FromDevice
                && self.early.len() < EARLY
                && self.traces.any();
        }
        self.refresh();
        self.active.is_some()
    }

    fn record(&mut self, direction: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.id.is_none() {
            if direction == Direction::FromDevice {
                let room = EARLY.saturating_sub(self.early.len());
                self.early
                    .extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            return;
        }
        self.refresh();
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let mut transcript = active
            .transcript
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stream = match direction {
            Direction::FromDevice => &mut active.inbound,
            Direction::ToDevice => &mut active.outbound,
        };
        stream.feed(bytes, &self.peer, &mut transcript);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TracedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
            && this.wants(Direction::FromDevice)
        {
            let new = buf.filled()[before..].to_vec();
            this.record(Direction::FromDevice, &new);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TracedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(written)) = polled
            && this.wants(Direction::ToDevice)
        {
            this.record(Direction::ToDevice, &data[..written]);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
