//! A plugin's stdout and stderr: kept as a short tail, so a trap can be reported with the
//! last thing the plugin printed (a Rust panic message, typically), and never unbounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Bytes of output kept.
const TAIL: usize = 2048;

/// The last bytes a plugin instance wrote to stdout or stderr.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    bytes: Arc<Mutex<VecDeque<u8>>>,
}

impl Tail {
    fn push(&self, data: &[u8]) {
        let mut bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let data = &data[data.len().saturating_sub(TAIL)..];
        let excess = (bytes.len() + data.len()).saturating_sub(TAIL);
        bytes.drain(..excess);
        bytes.extend(data);
    }

    /// What the plugin last said, in one line: a Rust panic's location and message when
    /// there is one, else the last non-empty line.
    pub fn last_line(&self) -> Option<String> {
        let bytes = self.bytes.lock().unwrap_or_else(PoisonError::into_inner);
        let copy: Vec<u8> = bytes.iter().copied().collect();
        drop(bytes);
        let text = String::from_utf8_lossy(&copy);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("note: run with `RUST_BACKTRACE"))
            .collect();
        let summary = match lines.iter().rposition(|line| line.contains("panicked at")) {
            Some(at) => {
                let start = lines[at].find("panicked at").unwrap_or(0);
                let mut summary = lines[at][start..].trim_end_matches(':').to_owned();
                if let Some(message) = lines.get(at + 1) {
                    summary.push_str(": ");
                    summary.push_str(message);
                }
                summary
            }
            None => (*lines.last()?).to_owned(),
        };
        Some(summary.chars().take(300).collect())
    }
}

impl IsTerminal for Tail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Tail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for Tail {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for Tail {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Tail {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_line_and_stays_bounded() {
        let tail = Tail::default();
        tail.push(b"first\n");
        tail.push(&vec![b'x'; 10_000]);
        tail.push(b"\nthread '<unnamed>' panicked at src/lib.rs:9:5:\nasked to trap\n");
        tail.push(
            b"note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        );
        assert_eq!(
            tail.last_line().as_deref(),
            Some("panicked at src/lib.rs:9:5: asked to trap")
        );
        tail.push(b"plain words\n");
        let other = Tail::default();
        other.push(b"one\ntwo\n\n");
        assert_eq!(other.last_line().as_deref(), Some("two"));
        assert!(tail.bytes.lock().expect("lock").len() <= TAIL);
    }
}
