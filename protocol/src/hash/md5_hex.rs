//! Uppercase-hex MD5, the digest format every Dahua MD5 hash is exchanged in.

use md5::{Digest, Md5};

/// MD5 of the concatenated `parts`, as 32 uppercase hex digits.
///
/// Takes the pieces separately so callers hash `U:R:P` without building the joined string.
pub(super) fn md5_upper_hex(parts: &[&[u8]]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(2 * digest.len());
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_of_nothing_is_the_rfc_1321_value_in_uppercase() {
        assert_eq!(md5_upper_hex(&[]), "D41D8CD98F00B204E9800998ECF8427E");
    }

    #[test]
    fn parts_hash_the_same_as_their_concatenation() {
        assert_eq!(md5_upper_hex(&[b"ab", b"", b"c"]), md5_upper_hex(&[b"abc"]));
        assert_eq!(md5_upper_hex(&[b"abc"]), "900150983CD24FB0D6963F7D28E17F72");
    }
}
