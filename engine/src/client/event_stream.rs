//! The live event stream, `GET /api/events`: opening it, and reading its server-sent events
//! (`text/event-stream`) — lines in, complete messages out, each line bounded.

use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::{AdminClient, ClientError};
use crate::admin_api::EventQuery;

/// Longest server-sent event line accepted.
const MAX_EVENT_LINE: usize = 1024 * 1024;

/// One server-sent message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The `event:` field (`message` when absent).
    pub event: String,
    /// The `id:` field.
    pub id: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An open `/api/events` stream.
pub struct EventStream {
    url: String,
    body: ByteStream,
    buffer: Vec<u8>,
    message: Message,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// Live events, optionally only one device's and only some kinds.
    pub async fn events(
        &self,
        device: Option<&str>,
        kinds: &[String],
    ) -> Result<EventStream, ClientError> {
        let query = EventQuery {
            device: device.map(str::to_owned),
            kind: (!kinds.is_empty()).then(|| kinds.join(",")),
        };
        let request = self
            .http
            .get(self.url(&["api", "events"]))
            .query(&query)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let response = self.send(request).await?;
        Ok(EventStream::new(
            response.url().to_string(),
            Box::pin(response.bytes_stream()),
        ))
    }
}

impl EventStream {
    fn new(url: String, body: ByteStream) -> Self {
        Self {
            url,
            body,
            buffer: Vec::new(),
            message: Message::default(),
        }
    }

    /// The next message; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<Message>, ClientError> {
        loop {
            while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                if let Some(message) = self.message_line(line.trim_end_matches(['\n', '\r'])) {
                    return Ok(Some(message));
                }
            }
            if self.buffer.len() > MAX_EVENT_LINE {
                return Err(ClientError::Decode {
                    url: self.url.clone(),
                    detail: "event line too long".to_owned(),
                });
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(source)) => {
                    return Err(ClientError::Request {
                        url: self.url.clone(),
                        source,
                    });
                }
                None => return Ok(None),
            }
        }
    }

    /// Takes one line; a blank line completes a message.
    fn message_line(&mut self, line: &str) -> Option<Message> {
        if line.is_empty() {
            let message = std::mem::take(&mut self.message);
            if message.event.is_empty() && message.data.is_empty() {
                return None;
            }
            let event = if message.event.is_empty() {
                "message".to_owned()
            } else {
                message.event.clone()
            };
            return Some(Message { event, ..message });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.message.event = value.to_owned(),
            "id" => self.message.id = Some(value.to_owned()),
            "data" => {
                if !self.message.data.is_empty() {
                    self.message.data.push('\n');
                }
                self.message.data.push_str(value);
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines_build_messages() {
        let mut stream = EventStream::new(String::new(), Box::pin(futures::stream::empty()));
        for line in [
            ": subscribed",
            "",
            "event: alarm",
            "id: 1",
            "data: {\"a\":",
            "data: 1}",
        ] {
            assert_eq!(stream.message_line(line), None);
        }
        let message = stream.message_line("").expect("complete");
        assert_eq!(
            message,
            Message {
                event: "alarm".to_owned(),
                id: Some("1".to_owned()),
                data: "{\"a\":\n1}".to_owned()
            }
        );
    }
}
