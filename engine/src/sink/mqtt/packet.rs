//! The MQTT 3.1.1 packets a publishing client needs (OASIS standard, §2–§3): CONNECT,
//! PUBLISH, PUBACK, SUBSCRIBE (QoS 0), PINGREQ and DISCONNECT written; CONNACK, PUBACK,
//! SUBACK, PUBLISH and PINGRESP read. No I/O: packets
//! are appended to a write buffer and parsed from a read buffer, so many publishes go out in
//! one write and many acknowledgements come in with one read.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::publish::QoS;

/// Largest remaining length the protocol can express (four length bytes).
const MAX_REMAINING: usize = 268_435_455;

/// The Last Will a CONNECT carries.
#[derive(Debug, Clone)]
pub(crate) struct Will<'a> {
    pub(crate) topic: &'a str,
    pub(crate) payload: &'a [u8],
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
}

/// What CONNECT says.
#[derive(Debug, Clone)]
pub(crate) struct Connect<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) keep_alive_secs: u16,
    pub(crate) clean_session: bool,
    pub(crate) will: Option<Will<'a>>,
    pub(crate) username: Option<&'a str>,
    pub(crate) password: Option<&'a str>,
}

/// A packet from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// CONNACK with its return code (0 = accepted).
    ConnAck { code: u8 },
    /// PUBACK of a packet id.
    PubAck(u16),
    /// SUBACK of a packet id, with whether the broker refused a topic (return code 0x80).
    SubAck { pkid: u16, refused: bool },
    /// A message on a topic the client subscribed to; `pkid` is there at QoS 1 and 2, and
    /// QoS 1 wants a PUBACK.
    Publish {
        topic: String,
        payload: Bytes,
        qos: u8,
        pkid: Option<u16>,
    },
    /// A PUBLISH larger than the client accepts, dropped: `left` more of its bytes are still
    /// to come and to be discarded ([`discard`]).
    Oversized { len: usize, left: usize },
    /// PINGRESP.
    PingResp,
    /// Any other well-formed packet (type nibble): a publishing client ignores it.
    Other(u8),
}

/// Why bytes from the broker are not MQTT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PacketError {
    /// The remaining length runs past four bytes.
    #[error("malformed remaining length")]
    BadLength,
    /// A packet larger than the client accepts.
    #[error("a {len}-byte packet from the broker (at most {max} accepted)")]
    TooLarge { len: usize, max: usize },
    /// A packet whose body does not fit its type.
    #[error("malformed {0} packet")]
    Malformed(&'static str),
}

/// Appends the fixed header of a packet whose body is `remaining` bytes.
fn header(out: &mut BytesMut, first: u8, remaining: usize) {
    debug_assert!(remaining <= MAX_REMAINING);
    out.put_u8(first);
    let mut left = remaining;
    loop {
        let mut byte = (left % 128) as u8;
        left /= 128;
        if left > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if left == 0 {
            break;
        }
    }
}

fn put_str(out: &mut BytesMut, text: &[u8]) {
    out.put_u16(text.len() as u16);
    out.put_slice(text);
}

fn qos_bits(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
    }
}

/// Appends CONNECT (protocol level 4).
pub(crate) fn connect(out: &mut BytesMut, connect: &Connect<'_>) {
    let mut flags = 0u8;
    let mut remaining = 10 + 2 + connect.client_id.len();
    if connect.clean_session {
        flags |= 0x02;
    }
    if let Some(will) = &connect.will {
        flags |= 0x04 | (qos_bits(will.qos) << 3);
        if will.retain {
            flags |= 0x20;
        }
        remaining += 2 + will.topic.len() + 2 + will.payload.len();
    }
    if let Some(user) = connect.username {
        flags |= 0x80;
        remaining += 2 + user.len();
        if let Some(password) = connect.password {
            flags |= 0x40;
            remaining += 2 + password.len();
        }
    }
    header(out, 0x10, remaining);
    put_str(out, b"MQTT");
    out.put_u8(4);
    out.put_u8(flags);
    out.put_u16(connect.keep_alive_secs);
    put_str(out, connect.client_id.as_bytes());
    if let Some(will) = &connect.will {
        put_str(out, will.topic.as_bytes());
        put_str(out, will.payload);
    }
    if let Some(user) = connect.username {
        put_str(out, user.as_bytes());
        if let Some(password) = connect.password {
            put_str(out, password.as_bytes());
        }
    }
}

/// Appends PUBLISH; `pkid` is used for QoS 1 only (never 0 there). Topics are at most 65 535
/// bytes and payloads within the protocol's limit, which the sink checks before queueing.
pub(crate) fn publish(
    out: &mut BytesMut,
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    pkid: u16,
) {
    let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    let remaining = 2 + topic.len() + id_len + payload.len();
    header(
        out,
        0x30 | (qos_bits(qos) << 1) | u8::from(retain),
        remaining,
    );
    put_str(out, topic.as_bytes());
    if qos != QoS::AtMostOnce {
        out.put_u16(pkid);
    }
    out.put_slice(payload);
}

/// Appends PUBACK of `pkid`.
pub(crate) fn puback(out: &mut BytesMut, pkid: u16) {
    out.put_u8(0x40);
    out.put_u8(2);
    out.put_u16(pkid);
}

/// Appends SUBSCRIBE of `topics`, each at QoS 0. Topics are valid topic names (checked by
/// the sink's config).
pub(crate) fn subscribe(out: &mut BytesMut, pkid: u16, topics: &[String]) {
    let remaining = 2 + topics.iter().map(|t| 2 + t.len() + 1).sum::<usize>();
    header(out, 0x82, remaining);
    out.put_u16(pkid);
    for topic in topics {
        put_str(out, topic.as_bytes());
        out.put_u8(0);
    }
}

/// Drops up to `left` bytes from the front of `buf` (the rest of an oversized packet);
/// returns how many are still to come.
pub(crate) fn discard(buf: &mut BytesMut, left: usize) -> usize {
    let now = left.min(buf.len());
    buf.advance(now);
    left - now
}

/// Appends PINGREQ.
pub(crate) fn ping(out: &mut BytesMut) {
    out.put_slice(&[0xC0, 0x00]);
}

/// Appends DISCONNECT.
pub(crate) fn disconnect(out: &mut BytesMut) {
    out.put_slice(&[0xE0, 0x00]);
}

/// Takes one whole packet off the front of `buf`: `Ok(None)` while it is incomplete.
pub(crate) fn next(buf: &mut BytesMut, max: usize) -> Result<Option<Incoming>, PacketError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    let mut at = 1;
    loop {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        remaining |= usize::from(byte & 0x7F) << (7 * (at - 1));
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
        if at > 4 {
            return Err(PacketError::BadLength);
        }
    }
    if at + remaining > max {
        if first >> 4 == 3 {
            // Someone else's message: too big to take, but no reason to drop the connection.
            let len = at + remaining;
            return Ok(Some(Incoming::Oversized {
                len,
                left: discard(buf, len),
            }));
        }
        return Err(PacketError::TooLarge {
            len: at + remaining,
            max,
        });
    }
    if buf.len() < at + remaining {
        return Ok(None);
    }
    buf.advance(at);
    let mut body = buf.split_to(remaining);
    let packet = match first >> 4 {
        2 => {
            if body.len() != 2 {
                return Err(PacketError::Malformed("CONNACK"));
            }
            Incoming::ConnAck { code: body[1] }
        }
        4 => {
            if body.len() != 2 {
                return Err(PacketError::Malformed("PUBACK"));
            }
            Incoming::PubAck(body.get_u16())
        }
        3 => publish_in(first, body.freeze())?,
        9 => {
            if body.len() < 3 {
                return Err(PacketError::Malformed("SUBACK"));
            }
            let pkid = body.get_u16();
            Incoming::SubAck {
                pkid,
                refused: body.contains(&0x80),
            }
        }
        13 => Incoming::PingResp,
        other => Incoming::Other(other),
    };
    Ok(Some(packet))
}

/// A PUBLISH from the broker (§3.3): topic, packet id at QoS 1 and 2, payload.
fn publish_in(first: u8, mut body: Bytes) -> Result<Incoming, PacketError> {
    let malformed = PacketError::Malformed("PUBLISH");
    let qos = (first >> 1) & 0x03;
    if body.len() < 2 {
        return Err(malformed);
    }
    let len = usize::from(body.get_u16());
    if body.len() < len {
        return Err(malformed);
    }
    let topic = String::from_utf8(body.split_to(len).to_vec()).map_err(|_| malformed.clone())?;
    let pkid = match qos {
        0 => None,
        1 | 2 => {
            if body.len() < 2 {
                return Err(malformed);
            }
            Some(body.get_u16())
        }
        _ => return Err(malformed),
    };
    Ok(Incoming::Publish {
        topic,
        payload: body,
        qos,
        pkid,
    })
}

/// What a CONNACK return code means (§3.2.2.3).
pub(crate) fn refusal(code: u8) -> &'static str {
    match code {
        1 => "the broker refused the connection: unacceptable protocol version",
        2 => "the broker refused the connection: client identifier rejected",
        3 => "the broker refused the connection: server unavailable",
        4 => "the broker refused the connection: bad user name or password",
        5 => "the broker refused the connection: not authorized",
        _ => "the broker refused the connection",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_matches_the_standard_layout() {
        let mut out = BytesMut::new();
        connect(
            &mut out,
            &Connect {
                client_id: "gw",
                keep_alive_secs: 30,
                clean_session: true,
                will: Some(Will {
                    topic: "s",
                    payload: b"off",
                    qos: QoS::AtLeastOnce,
                    retain: true,
                }),
                username: Some("u"),
                password: Some("p"),
            },
        );
        let expected: &[u8] = &[
            0x10,
            28, // CONNECT, remaining length
            0,
            4,
            b'M',
            b'Q',
            b'T',
            b'T',
            4,           // protocol name and level
            0b1110_1110, // user, password, will retain, will QoS 1, will, clean session
            0,
            30, // keep alive
            0,
            2,
            b'g',
            b'w', // client id
            0,
            1,
            b's',
            0,
            3,
            b'o',
            b'f',
            b'f', // will topic and message
            0,
            1,
            b'u',
            0,
            1,
            b'p', // user name and password
        ];
        assert_eq!(&out[..], expected);
    }

    #[test]
    fn publish_carries_a_packet_id_only_at_qos_1_and_long_lengths_use_more_bytes() {
        let mut out = BytesMut::new();
        publish(&mut out, "a/b", b"hi", QoS::AtMostOnce, false, 7);
        assert_eq!(&out[..], &[0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i']);
        out.clear();
        publish(&mut out, "a", b"x", QoS::AtLeastOnce, true, 0x0102);
        assert_eq!(&out[..], &[0x33, 6, 0, 1, b'a', 1, 2, b'x']);
        out.clear();
        let payload = vec![0u8; 200];
        publish(&mut out, "t", &payload, QoS::AtMostOnce, false, 0);
        // 2 + 1 + 200 = 203 = 0x4B + 1·128: two length bytes.
        assert_eq!(&out[..3], &[0x30, 0xCB, 0x01]);
        assert_eq!(out.len(), 3 + 203);
    }

    #[test]
    fn incoming_packets_are_taken_whole_and_split_ones_wait() {
        let mut buf = BytesMut::from(&[0x20, 2, 0, 0, 0x40, 2, 0, 9, 0xD0, 0, 0x40, 2, 0][..]);
        assert_eq!(next(&mut buf, 64), Ok(Some(Incoming::ConnAck { code: 0 })));
        assert_eq!(next(&mut buf, 64), Ok(Some(Incoming::PubAck(9))));
        assert_eq!(next(&mut buf, 64), Ok(Some(Incoming::PingResp)));
        assert_eq!(next(&mut buf, 64), Ok(None), "half a PUBACK waits");
        buf.put_u8(10);
        assert_eq!(next(&mut buf, 64), Ok(Some(Incoming::PubAck(10))));
        assert!(buf.is_empty());
    }

    #[test]
    fn bad_packets_are_errors() {
        let mut long = BytesMut::from(&[0x40, 0x80, 0x80, 0x80, 0x80, 0x01][..]);
        assert_eq!(next(&mut long, 64), Err(PacketError::BadLength));
        let mut big = BytesMut::from(&[0x40, 0xFF, 0x7F][..]);
        assert!(matches!(
            next(&mut big, 1024),
            Err(PacketError::TooLarge { .. })
        ));
        let mut short = BytesMut::from(&[0x40, 1, 0][..]);
        assert_eq!(next(&mut short, 64), Err(PacketError::Malformed("PUBACK")));
        let mut other = BytesMut::from(&[0xB0, 2, 0, 1][..]);
        assert_eq!(next(&mut other, 64), Ok(Some(Incoming::Other(11))));
    }

    #[test]
    fn subscribe_and_its_answers_match_the_standard_layout() {
        let mut out = BytesMut::new();
        subscribe(&mut out, 5, &["ha/status".to_owned()]);
        assert_eq!(
            &out[..],
            &[
                0x82, 14, 0, 5, 0, 9, b'h', b'a', b'/', b's', b't', b'a', b't', b'u', b's', 0
            ]
        );
        let mut buf = BytesMut::from(&[0x90, 3, 0, 5, 0, 0x90, 3, 0, 6, 0x80][..]);
        assert_eq!(
            next(&mut buf, 64),
            Ok(Some(Incoming::SubAck {
                pkid: 5,
                refused: false
            }))
        );
        assert_eq!(
            next(&mut buf, 64),
            Ok(Some(Incoming::SubAck {
                pkid: 6,
                refused: true
            }))
        );
        // A QoS 1 message: topic "t", packet id 7, payload "online".
        let mut buf = BytesMut::from(
            &[
                0x32, 11, 0, 1, b't', 0, 7, b'o', b'n', b'l', b'i', b'n', b'e',
            ][..],
        );
        assert_eq!(
            next(&mut buf, 64),
            Ok(Some(Incoming::Publish {
                topic: "t".to_owned(),
                payload: Bytes::from_static(b"online"),
                qos: 1,
                pkid: Some(7),
            }))
        );
        out.clear();
        puback(&mut out, 7);
        assert_eq!(&out[..], &[0x40, 2, 0, 7]);
    }

    #[test]
    fn an_oversized_message_is_dropped_without_dropping_the_connection() {
        // A 200-byte PUBLISH arriving in two parts, then a PINGRESP.
        let mut message = BytesMut::new();
        publish(&mut message, "t", &[b'x'; 197], QoS::AtMostOnce, false, 0);
        let whole = message.len();
        let mut buf = BytesMut::from(&message[..50]);
        let Ok(Some(Incoming::Oversized { len, left })) = next(&mut buf, 64) else {
            panic!("not dropped as oversized");
        };
        assert_eq!((len, left), (whole, whole - 50));
        assert!(buf.is_empty());
        buf.extend_from_slice(&message[50..]);
        buf.extend_from_slice(&[0xD0, 0]);
        assert_eq!(discard(&mut buf, left), 0);
        assert_eq!(next(&mut buf, 64), Ok(Some(Incoming::PingResp)));
        // Other packets that large are still errors.
        let mut big = BytesMut::from(&[0x90, 0xFF, 0x01][..]);
        assert!(matches!(
            next(&mut big, 64),
            Err(PacketError::TooLarge { .. })
        ));
    }
}
