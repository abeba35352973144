//! The one error type of the login hashes: what was wrong with a challenge or a login body.

use thiserror::Error;

/// Why a hash could not be computed or a peer's login text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HashError {
    /// The login challenge names an `encryption` homeport does not implement
    /// (`Onvif`, `2DCode`, `Ushield` or something newer).
    #[error("login challenge asks for encryption `{0}`, which homeport does not implement")]
    UnsupportedEncryption(String),
    /// The input is longer than any real device sends; refused before it is read.
    #[error("{what} is {len} bytes, over the {max}-byte limit")]
    TooLong {
        /// Which input (`realm challenge`, `DVRIP login body`).
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit it broke.
        max: usize,
    },
    /// The input must be text and is not valid UTF-8.
    #[error("{what} is not UTF-8 text")]
    NotUtf8 {
        /// Which input (`realm challenge`, `DVRIP login body`).
        what: &'static str,
    },
    /// A realm challenge without one of its two lines.
    #[error("realm challenge has no `{0}:` line")]
    MissingField(&'static str),
    /// A realm challenge that gives the same field twice, so which one the device hashes with
    /// is unknowable.
    #[error("realm challenge has more than one `{0}:` line")]
    DuplicateField(&'static str),
    /// A realm challenge line that is not `key:value`.
    #[error("realm challenge line {line} is not `key:value`")]
    MalformedLine {
        /// 1-based line number.
        line: usize,
    },
    /// A realm or random value that is empty or would break the line format (CR, LF or NUL).
    #[error("realm challenge `{0}` value is empty or holds CR, LF or NUL")]
    InvalidField(&'static str),
    /// A DVRIP step-3 login body that is not `user&&<32 hex><32 hex>`.
    #[error("DVRIP login body is malformed: {0}")]
    MalformedLoginBody(&'static str),
}
