//! The 32-byte DHIP packet header.
//!
//! | offset | field |
//! |---|---|
//! | 0 | `20 00 00 00` (header length 32, little-endian) |
//! | 4 | ASCII `DHIP` |
//! | 8 | session id, u32 LE |
//! | 12 | request id, u32 LE |
//! | 16 | body length carried in this packet, u32 LE |
//! | 20 | reserved, zero on every capture |
//! | 24 | total body length of the whole message, u32 LE |
//! | 28 | reserved, zero on every capture |

/// Length of every DHIP packet header.
pub const HEADER_LEN: usize = 32;

/// The first eight bytes of every DHIP packet: the header length (32) and `DHIP`.
pub const DHIP_MAGIC: [u8; 8] = [0x20, 0x00, 0x00, 0x00, b'D', b'H', b'I', b'P'];

/// One DHIP packet header, as read from or written to the wire.
///
/// The reserved dwords at offsets 20 and 28 are kept so that a decoded packet re-encodes
/// byte-identically even if a firmware ever fills them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DhipHeader {
    /// Session id; 0 before login.
    pub session: u32,
    /// Request id; mirrors the JSON `id`.
    pub request_id: u32,
    /// Body bytes that follow this header in this packet.
    pub packet_len: u32,
    /// Reserved dword at offset 20.
    pub reserved20: u32,
    /// Body bytes of the whole message, summed over its packets.
    pub total_len: u32,
    /// Reserved dword at offset 28.
    pub reserved28: u32,
}

impl DhipHeader {
    /// Whether `bytes` starts with the DHIP magic. Needs at least 8 bytes to say yes.
    pub fn is_dhip(bytes: &[u8]) -> bool {
        bytes.len() >= DHIP_MAGIC.len() && bytes[..DHIP_MAGIC.len()] == DHIP_MAGIC
    }

    /// Reads a header from its 32 bytes; `None` if the magic is wrong.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Option<Self> {
        if !Self::is_dhip(bytes) {
            return None;
        }
        let dword = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        Some(Self {
            session: dword(8),
            request_id: dword(12),
            packet_len: dword(16),
            reserved20: dword(20),
            total_len: dword(24),
            reserved28: dword(28),
        })
    }

    /// The header's 32 wire bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&DHIP_MAGIC);
        out[8..12].copy_from_slice(&self.session.to_le_bytes());
        out[12..16].copy_from_slice(&self.request_id.to_le_bytes());
        out[16..20].copy_from_slice(&self.packet_len.to_le_bytes());
        out[20..24].copy_from_slice(&self.reserved20.to_le_bytes());
        out[24..28].copy_from_slice(&self.total_len.to_le_bytes());
        out[28..32].copy_from_slice(&self.reserved28.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_its_bytes() {
        let header = DhipHeader {
            session: 0xab04_6d8d,
            request_id: 1,
            packet_len: 0x117,
            reserved20: 0,
            total_len: 0x117,
            reserved28: 0,
        };
        let bytes = header.to_bytes();
        assert_eq!(&bytes[..8], &DHIP_MAGIC);
        assert_eq!(&bytes[8..12], &[0x8d, 0x6d, 0x04, 0xab]);
        assert_eq!(DhipHeader::parse(&bytes), Some(header));
    }

    #[test]
    fn header_with_wrong_magic_is_not_dhip() {
        let mut bytes = DhipHeader::default().to_bytes();
        bytes[4] = b'X';
        assert_eq!(DhipHeader::parse(&bytes), None);
        assert!(!DhipHeader::is_dhip(&bytes[..7]));
    }
}
