//! Gen1 / `OldDigest`: the 8-character password hash of old firmware, also inside the DVRIP login.

use md5::{Digest, Md5};

/// The 62 characters a Gen1 hash is written in, in value order.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The Gen1 (`OldDigest`) hash of `password`: 8 characters from `0-9A-Za-z`.
///
/// Each character is one pair of bytes of `MD5(password)`, summed mod 62. The hash depends on
/// the password only, so it is a password equivalent: treat it like the clear text.
pub fn old_digest(password: &str) -> String {
    Md5::digest(password.as_bytes())
        .chunks_exact(2)
        .map(|pair| {
            let value = (u16::from(pair[0]) + u16::from(pair[1])) % 62;
            char::from(ALPHABET[usize::from(value)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_digest_matches_fixture_f12() {
        assert_eq!(old_digest("admin"), "6QNMIQGe");
        assert_eq!(old_digest("888888"), "4WzwxXxM");
        assert_eq!(old_digest("666666"), "sh15yfFM");
    }

    #[test]
    fn old_digest_is_eight_alphanumeric_characters_for_any_password() {
        for password in [
            "",
            "a",
            "a much longer password than any camera allows",
            "pässwörd",
        ] {
            let hash = old_digest(password);
            assert_eq!(hash.len(), 8, "hash of {password:?}");
            assert!(
                hash.bytes().all(|b| b.is_ascii_alphanumeric()),
                "hash of {password:?}"
            );
        }
    }
}
