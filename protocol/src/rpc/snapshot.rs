//! Snapshot — homeport's own convention (no public capture shows one).
//!
//! Request `snapManager.snapPicture` with `{"channel":N}`; the reply is JSON
//! `{"result":true,"params":{"length":L,"type":"jpg"}}`, one `\n`, then `L` bytes of JPEG,
//! all in the same DHIP message (the "JSON, newline, binary" layout devices use for files).

use serde::{Deserialize, Serialize};

/// Params of `snapManager.snapPicture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapParams {
    /// Video channel, 0-based.
    #[serde(default)]
    pub channel: u32,
}

/// Params of the snapshot reply; the image follows the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapReplyParams {
    /// Length of the image in bytes.
    pub length: u64,
    /// Image type: `jpg`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Why a snapshot reply's image is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SnapError {
    /// No payload followed the JSON.
    #[error("snapshot reply carries no image")]
    Missing,
    /// The payload's length differs from `params.length`.
    #[error("snapshot reply announces {announced} bytes but carries {actual}")]
    LengthMismatch {
        /// `params.length`.
        announced: u64,
        /// Bytes present.
        actual: usize,
    },
    /// The payload is not a JPEG (no `FF D8` start or `FF D9` end).
    #[error("snapshot payload is not a JPEG")]
    NotJpeg,
}

impl SnapReplyParams {
    /// Checks the image that followed the JSON against these params.
    pub fn check<'a>(&self, payload: Option<&'a [u8]>) -> Result<&'a [u8], SnapError> {
        let image = payload.ok_or(SnapError::Missing)?;
        if image.len() as u64 != self.length {
            return Err(SnapError::LengthMismatch {
                announced: self.length,
                actual: image.len(),
            });
        }
        if !(image.starts_with(&[0xff, 0xd8]) && image.ends_with(&[0xff, 0xd9])) {
            return Err(SnapError::NotJpeg);
        }
        Ok(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_checked_against_its_announced_length_and_markers() {
        let params = SnapReplyParams {
            length: 4,
            kind: "jpg".to_owned(),
        };
        assert_eq!(
            params.check(Some(&[0xff, 0xd8, 0xff, 0xd9])),
            Ok(&[0xff, 0xd8, 0xff, 0xd9][..])
        );
        assert_eq!(params.check(None), Err(SnapError::Missing));
        assert_eq!(
            params.check(Some(&[0xff, 0xd8, 0xff])),
            Err(SnapError::LengthMismatch {
                announced: 4,
                actual: 3
            })
        );
        assert_eq!(params.check(Some(&[0, 0, 0, 0])), Err(SnapError::NotJpeg));
    }
}
