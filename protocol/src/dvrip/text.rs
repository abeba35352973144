//! The `f4` text RPC: `key:value` lines ending in a blank line.
//!
//! Requests read `TransactionID:n\r\nMethod:<GetParameterNames|GetParameterValues|
//! SetParameterValues|AddObject|DeleteObject>\r\nParameterName:Dahua.Device.…\r\n…\r\n\r\n`;
//! replies name `<Method>Response` and carry `FaultCode:OK` (confirmed bytes,
//! `reference/dahua-protocol-2.md` §3b). Lines without a colon (conditions such as
//! `Port\r\n<ip>\r\n<port>`) are kept as keys with an empty value.

/// Most lines one message may carry.
pub const MAX_LINES: usize = 256;

/// Why an `f4` body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextRpcError {
    /// The body is not UTF-8.
    #[error("f4 body is not UTF-8")]
    NotUtf8,
    /// More lines than [`MAX_LINES`].
    #[error("f4 body has more than {MAX_LINES} lines")]
    TooManyLines,
}

/// One `f4` message: its lines in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextRpc {
    /// `(key, value)` pairs in wire order.
    pub lines: Vec<(String, String)>,
}

/// The fault code of a successful reply.
pub const FAULT_OK: &str = "OK";

impl TextRpc {
    /// A request: transaction id, method and parameter name, then `extra` lines.
    pub fn request(transaction: u32, method: &str, parameter: &str) -> Self {
        Self {
            lines: vec![
                ("TransactionID".to_owned(), transaction.to_string()),
                ("Method".to_owned(), method.to_owned()),
                ("ParameterName".to_owned(), parameter.to_owned()),
            ],
        }
    }

    /// The reply to this request with `fault` (`OK` on success) and `extra` lines after it.
    pub fn reply(&self, fault: &str, extra: &[(&str, &str)]) -> Self {
        let mut lines = Vec::with_capacity(4 + extra.len());
        if let Some(id) = self.get("TransactionID") {
            lines.push(("TransactionID".to_owned(), id.to_owned()));
        }
        lines.push((
            "Method".to_owned(),
            format!("{}Response", self.method().unwrap_or_default()),
        ));
        if let Some(name) = self.parameter_name() {
            lines.push(("ParameterName".to_owned(), name.to_owned()));
        }
        lines.push(("FaultCode".to_owned(), fault.to_owned()));
        lines.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self { lines }
    }

    /// Adds a line.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.lines.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Reads a body. Accepts CRLF or LF and stops at the first blank line or NUL.
    pub fn parse(body: &[u8]) -> Result<Self, TextRpcError> {
        let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
        let text = std::str::from_utf8(&body[..end]).map_err(|_| TextRpcError::NotUtf8)?;
        let mut lines = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                if lines.is_empty() {
                    continue;
                }
                break;
            }
            if lines.len() == MAX_LINES {
                return Err(TextRpcError::TooManyLines);
            }
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            lines.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        Ok(Self { lines })
    }

    /// The wire body: each line ended by CRLF, then a blank line.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for (key, value) in &self.lines {
            out.push_str(key);
            if !value.is_empty() {
                out.push(':');
                out.push_str(value);
            }
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The first value of `key` (case-insensitive).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// `Method`.
    pub fn method(&self) -> Option<&str> {
        self.get("Method")
    }

    /// `ParameterName`.
    pub fn parameter_name(&self) -> Option<&str> {
        self.get("ParameterName")
    }

    /// `TransactionID`, if it is a number.
    pub fn transaction(&self) -> Option<u32> {
        self.get("TransactionID")?.parse().ok()
    }

    /// Whether this is a reply with `FaultCode:OK`.
    pub fn is_ok(&self) -> bool {
        self.get("FaultCode")
            .is_some_and(|code| code.eq_ignore_ascii_case(FAULT_OK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_round_trip_in_the_captured_shape() {
        let request = TextRpc::request(1, "GetParameterValues", "Dahua.Device.Decode.Cfg")
            .with("channel", "0");
        let wire = request.encode();
        assert_eq!(
            wire,
            b"TransactionID:1\r\nMethod:GetParameterValues\r\nParameterName:Dahua.Device.Decode.Cfg\r\nchannel:0\r\n\r\n"
        );
        assert_eq!(TextRpc::parse(&wire), Ok(request.clone()));
        let reply = request.reply(FAULT_OK, &[("Mode", "1")]);
        let parsed = TextRpc::parse(&reply.encode()).expect("parses");
        assert_eq!(parsed.method(), Some("GetParameterValuesResponse"));
        assert_eq!(parsed.transaction(), Some(1));
        assert!(parsed.is_ok());
        assert_eq!(parsed.get("mode"), Some("1"));
    }

    #[test]
    fn lf_lines_nul_padding_and_bare_lines_are_read() {
        let parsed = TextRpc::parse(b"Method:AddObject\nPort\n127.0.0.1\n\n\0\0").expect("parses");
        assert_eq!(parsed.method(), Some("AddObject"));
        assert_eq!(parsed.lines.len(), 3);
        assert_eq!(parsed.lines[1], ("Port".to_owned(), String::new()));
        assert!(!parsed.is_ok());
    }

    #[test]
    fn bad_bodies_are_refused() {
        assert_eq!(TextRpc::parse(b"\xff:1"), Err(TextRpcError::NotUtf8));
        let many = "a:1\r\n".repeat(MAX_LINES + 1);
        assert_eq!(
            TextRpc::parse(many.as_bytes()),
            Err(TextRpcError::TooManyLines)
        );
    }
}
