//! One reassembled DHIP message: the header's session and request id, and the whole body.
//!
//! The body is JSON text, optionally followed by one `\n` and a binary payload (how devices
//! send file contents). Devices also end notifications with a `\n` or a NUL counted in the
//! length; [`DhipMessage::parts`] tolerates both.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};

/// A whole DHIP message, after its packets were reassembled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhipMessage {
    /// Session id from the (first) packet header.
    pub session: u32,
    /// Request id from the (first) packet header.
    pub request_id: u32,
    /// The body: JSON, then optionally `\n` and binary bytes.
    pub body: Bytes,
}

/// Why a body could not be split into its JSON and payload.
#[derive(Debug, thiserror::Error)]
#[error("DHIP body is not JSON: {0}")]
pub struct BodyError(#[from] serde_json::Error);

impl DhipMessage {
    /// A message with the given body.
    pub fn new(session: u32, request_id: u32, body: impl Into<Bytes>) -> Self {
        Self {
            session,
            request_id,
            body: body.into(),
        }
    }

    /// A message whose body is `value` serialised as compact JSON.
    pub fn json<T: Serialize + ?Sized>(
        session: u32,
        request_id: u32,
        value: &T,
    ) -> Result<Self, BodyError> {
        Ok(Self::new(session, request_id, serde_json::to_vec(value)?))
    }

    /// A message carrying `value` as JSON, one `\n`, then `payload` (the "JSON, newline,
    /// binary" layout devices use for file contents).
    pub fn json_with_payload<T: Serialize + ?Sized>(
        session: u32,
        request_id: u32,
        value: &T,
        payload: &[u8],
    ) -> Result<Self, BodyError> {
        let json = serde_json::to_vec(value)?;
        let mut body = BytesMut::with_capacity(json.len() + 1 + payload.len());
        body.put_slice(&json);
        body.put_u8(b'\n');
        body.put_slice(payload);
        Ok(Self::new(session, request_id, body.freeze()))
    }

    /// The JSON text and the binary payload, if any.
    ///
    /// The JSON ends where its first value ends (so spaced or multi-line JSON is fine). What
    /// follows is a payload only if it starts with `\n` and is more than padding: a trailing
    /// `\n`, `\r` or NUL run is tolerated and dropped.
    pub fn parts(&self) -> Result<(&[u8], Option<&[u8]>), BodyError> {
        let mut stream = serde_json::Deserializer::from_slice(&self.body).into_iter::<IgnoredAny>();
        match stream.next() {
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err.into()),
            None => {
                return Err(serde_json::from_slice::<IgnoredAny>(b"")
                    .expect_err("empty input is never JSON")
                    .into());
            }
        }
        let end = stream.byte_offset();
        let (json, rest) = self.body.split_at(end);
        let is_padding = |rest: &[u8]| {
            rest.iter()
                .all(|b| matches!(b, b'\n' | b'\r' | b'\0' | b' ' | b'\t'))
        };
        match rest.split_first() {
            Some((b'\n', payload)) if !payload.is_empty() && !is_padding(payload) => {
                Ok((json, Some(payload)))
            }
            _ if is_padding(rest) => Ok((json, None)),
            _ => Err(serde_json::from_slice::<IgnoredAny>(&self.body)
                .expect_err("trailing bytes are not JSON")
                .into()),
        }
    }

    /// The JSON part decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, BodyError> {
        let (json, _) = self.parts()?;
        Ok(serde_json::from_slice(json)?)
    }

    /// The binary payload, if the body carries one.
    pub fn payload(&self) -> Result<Option<&[u8]>, BodyError> {
        Ok(self.parts()?.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn trailing_newline_and_nul_are_tolerated() {
        for body in [
            &b"{\"a\":1}\n"[..],
            b"{\"a\":1}\0",
            b"{\"a\":1}\n\0",
            b"{\"a\":1}",
        ] {
            let message = DhipMessage::new(0, 0, Bytes::copy_from_slice(body));
            let (json, payload) = message.parts().expect("body splits");
            assert_eq!(json, b"{\"a\":1}");
            assert_eq!(payload, None);
        }
    }

    #[test]
    fn binary_payload_follows_one_newline() {
        let jpeg = [0xff, 0xd8, 0x0a, 0x00, 0xff, 0xd9];
        let message =
            DhipMessage::json_with_payload(7, 3, &json!({"length": 6}), &jpeg).expect("encodes");
        let (json, payload) = message.parts().expect("body splits");
        assert_eq!(
            serde_json::from_slice::<Value>(json).expect("json")["length"],
            6
        );
        assert_eq!(payload, Some(&jpeg[..]));
    }

    #[test]
    fn spaced_multiline_json_is_one_value() {
        let message = DhipMessage::new(0, 0, &b"{ \"result\": false,\n  \"id\": 0 }\n"[..]);
        let value: Value = message.decode().expect("decodes");
        assert_eq!(value["result"], false);
        assert_eq!(message.payload().expect("splits"), None);
    }

    #[test]
    fn garbage_after_json_without_newline_is_an_error() {
        let message = DhipMessage::new(0, 0, &b"{\"a\":1}xyz"[..]);
        assert!(message.parts().is_err());
        assert!(DhipMessage::new(0, 0, &b""[..]).parts().is_err());
        assert!(DhipMessage::new(0, 0, &b"not json"[..]).parts().is_err());
    }
}
