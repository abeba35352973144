//! JSON-RPC messages: requests (and device notifications, which have the same shape) and
//! replies, with untyped `params` that the typed modules convert.
//!
//! Request: `{"id":N,"session":S,"magic":"0x1234","method":"svc.func","params":…,"object":O}`.
//! Reply: `{"id":N,"session":S,"result":true|false|<number>,"params":…,"error":{…}}`.
//! A notification is a request whose method is `client.notify…` and that expects no reply.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A call: a request from the client, or a notification pushed by the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Request id; a notification carries the id of the call that subscribed.
    #[serde(default)]
    pub id: u32,
    /// Session id (0 before login).
    #[serde(default, deserialize_with = "lenient_session")]
    pub session: u32,
    /// The optional `magic` field some clients send (`"0x1234"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magic: Option<String>,
    /// `service.function`.
    pub method: String,
    /// Method params; `null` when there are none.
    #[serde(default)]
    pub params: Value,
    /// The object id, for calls on a `factory.instance` object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<u32>,
}

/// The error object of a failed reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// Device error code (see [`super::codes`]).
    pub code: i64,
    /// Human text; some firmware omits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A reply to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The id of the request answered.
    #[serde(default)]
    pub id: u32,
    /// Session id.
    #[serde(default, deserialize_with = "lenient_session")]
    pub session: u32,
    /// `true`/`false`, or a value such as an object id.
    #[serde(default)]
    pub result: Value,
    /// Reply params, `null` or absent when there are none.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
    /// Set when the call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorObject>,
}

/// A decoded JSON-RPC message whose kind was read from its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Has a `method`: a request or a notification.
    Call(Request),
    /// Has a `result` or an `error`: a reply.
    Reply(Reply),
}

/// Why a JSON-RPC message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// Not valid JSON, or the fields have the wrong types.
    #[error("malformed JSON-RPC message: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON with neither `method` nor `result`/`error`.
    #[error("JSON-RPC message has neither method nor result")]
    NoKind,
}

impl Incoming {
    /// Reads a JSON-RPC message and tells a call from a reply.
    pub fn parse(json: &[u8]) -> Result<Self, MessageError> {
        let value: Value = serde_json::from_slice(json)?;
        Self::from_value(value)
    }

    /// As [`Incoming::parse`], from an already-parsed value.
    pub fn from_value(value: Value) -> Result<Self, MessageError> {
        let Some(object) = value.as_object() else {
            return Err(MessageError::NoKind);
        };
        if object.contains_key("method") {
            Ok(Self::Call(serde_json::from_value(value)?))
        } else if object.contains_key("result") || object.contains_key("error") {
            Ok(Self::Reply(serde_json::from_value(value)?))
        } else {
            Err(MessageError::NoKind)
        }
    }
}

impl Request {
    /// A request with `params` serialised from a typed value.
    pub fn new(id: u32, session: u32, method: &str, params: impl Serialize) -> Self {
        Self {
            id,
            session,
            magic: None,
            method: method.to_owned(),
            params: serde_json::to_value(params).unwrap_or(Value::Null),
            object: None,
        }
    }

    /// The params as a typed value.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.params)
    }

    /// Whether this is a device notification (`client.notify…`), which gets no reply.
    pub fn is_notification(&self) -> bool {
        self.method.starts_with("client.notify")
    }

    /// The successful reply to this request.
    pub fn reply(&self, result: impl Into<Value>, params: impl Serialize) -> Reply {
        Reply {
            id: self.id,
            session: self.session,
            result: result.into(),
            params: serde_json::to_value(params).unwrap_or(Value::Null),
            error: None,
        }
    }

    /// A failed reply to this request.
    pub fn reply_error(&self, code: i64, message: &str) -> Reply {
        Reply {
            id: self.id,
            session: self.session,
            result: Value::Bool(false),
            params: Value::Null,
            error: Some(ErrorObject {
                code,
                message: Some(message.to_owned()),
            }),
        }
    }

    /// Compact JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a request always serialises")
    }
}

impl Reply {
    /// Whether the call succeeded: `result` is `true` or a non-zero number, with no error.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
            && match &self.result {
                Value::Bool(ok) => *ok,
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => false,
            }
    }

    /// The params as a typed value.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.params)
    }

    /// The error code, if the reply carries one.
    pub fn error_code(&self) -> Option<i64> {
        self.error.as_ref().map(|e| e.code)
    }

    /// Compact JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a reply always serialises")
    }
}

/// Sessions are integers on TCP devices and 32-hex strings on HTTP RPC2 ones; a numeric
/// string is read as its number and anything else as 0 (no TCP session).
fn lenient_session<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn call_and_reply_are_told_apart() {
        let call = Incoming::parse(br#"{"id":8,"method":"client.notifyEventStream","params":{"SID":513},"session":1722306858}"#)
            .expect("parses");
        let Incoming::Call(call) = call else {
            panic!("expected a call")
        };
        assert!(call.is_notification());
        assert_eq!(call.session, 1_722_306_858);
        let reply = Incoming::parse(
            br#"{"result":true,"params":{"keepAliveInterval":60},"id":1,"session":5}"#,
        )
        .expect("parses");
        let Incoming::Reply(reply) = reply else {
            panic!("expected a reply")
        };
        assert!(reply.is_ok());
        assert_eq!(reply.params["keepAliveInterval"], 60);
        assert!(matches!(
            Incoming::parse(br#"{"id":1}"#),
            Err(MessageError::NoKind)
        ));
        assert!(matches!(
            Incoming::parse(b"[1,2]"),
            Err(MessageError::NoKind)
        ));
    }

    #[test]
    fn object_id_result_counts_as_success() {
        let reply: Reply =
            serde_json::from_value(json!({"id":1,"session":2,"result":1234})).expect("parses");
        assert!(reply.is_ok());
        let failed: Reply = serde_json::from_value(
            json!({"id":1,"session":2,"result":false,"error":{"code":268632085}}),
        )
        .expect("parses");
        assert!(!failed.is_ok());
        assert_eq!(failed.error_code(), Some(268_632_085));
    }

    #[test]
    fn string_sessions_are_tolerated() {
        let reply: Reply =
            serde_json::from_value(json!({"id":1,"session":"123","result":true})).expect("parses");
        assert_eq!(reply.session, 123);
        let reply: Reply = serde_json::from_value(json!({"id":1,"session":"a1b2c3","result":true}))
            .expect("parses");
        assert_eq!(reply.session, 0);
    }

    #[test]
    fn request_serialises_without_absent_fields() {
        let request = Request::new(3, 9, "global.logout", Value::Null);
        assert_eq!(
            String::from_utf8(request.to_json()).expect("utf8"),
            r#"{"id":3,"session":9,"method":"global.logout","params":null}"#
        );
    }
}
