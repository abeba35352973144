//! The DVRIP snapshot on the camera side (`reference/dahua-protocol-2.md` §4): an `11` with
//! +28 = 10 asks for a picture; the JPEG goes back in `bc` packets with +24 = 10, the channel
//! at +8 and the request's serial (low byte) at +25, in pieces of at most [`SNAP_CHUNK`]
//! bytes, and one empty `bc` ends it.
//!
//! Our conventions: only mode 0 (one picture) sends a picture; a bad channel, a timed (1) or
//! stop (-1) request gets just the end packet. Requests before login get no answer.

use bytes::Bytes;
use homeport_protocol::dvrip::DvripPacket;

use crate::snapshot::JPEG;

use super::{Output, Session};

/// Largest JPEG piece in one `bc` packet.
pub const SNAP_CHUNK: usize = 16 * 1024;

/// The `bc` packets carrying `jpeg` in pieces of at most `chunk` bytes, then the empty end.
pub fn pieces(channel: u8, serial: u8, jpeg: &'static [u8], chunk: usize) -> Vec<DvripPacket> {
    let piece = |chunk: Bytes| DvripPacket::SnapData {
        channel,
        serial,
        chunk,
    };
    jpeg.chunks(chunk.max(1))
        .map(|part| piece(Bytes::from_static(part)))
        .chain(std::iter::once(piece(Bytes::new())))
        .collect()
}

impl Session {
    /// Answers a snapshot request.
    pub(super) fn dvrip_snapshot(&mut self, channel: u32, mode: i32, serial: u32) -> Output {
        if self.logged_in().is_none() {
            return self.ignore("a snapshot request before login");
        }
        let serial = serial.to_le_bytes()[0];
        let wire_channel = u8::try_from(channel).unwrap_or(u8::MAX);
        let picture: &'static [u8] = if mode == 0 && channel < self.camera.config().channels {
            JPEG
        } else {
            &[]
        };
        let replies = pieces(wire_channel, serial, picture, SNAP_CHUNK)
            .into_iter()
            .map(|packet| self.dvrip_reply(packet))
            .collect();
        Output {
            replies,
            change: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_bounded_ordered_and_end_with_an_empty_one() {
        let packets = pieces(2, 9, JPEG, 1000);
        assert_eq!(packets.len(), JPEG.len().div_ceil(1000) + 1);
        let mut joined = Vec::new();
        for packet in &packets {
            let DvripPacket::SnapData {
                channel: 2,
                serial: 9,
                chunk,
            } = packet
            else {
                panic!("not a piece of channel 2, serial 9: {packet:?}")
            };
            assert!(chunk.len() <= 1000);
            joined.extend_from_slice(chunk);
        }
        assert!(
            matches!(packets.last(), Some(DvripPacket::SnapData { chunk, .. }) if chunk.is_empty())
        );
        assert_eq!(joined, JPEG);
        assert_eq!(pieces(0, 0, &[], SNAP_CHUNK).len(), 1);
    }
}
