//! Legacy alarms on the camera side: `68` subscriptions per kind, `69` state packets with one
//! byte per channel (1 = active), as the 2010 SDK reads them on the socket it logged in over
//! (`reference/dahua-protocol-2.md` §1.4, §6 item 3).
//!
//! A `68` is answered with the kind's current states and remembered. From then on, every alarm
//! the camera generates whose code maps to a subscribed kind ([`alarm::kind`]) is pushed as a
//! `69` with the states after it: `Start` sets the channel's byte to 1, `Stop` to 0, and a
//! `Pulse` sends a packet with the byte at 1, then one with it back as it was. `State` reports
//! change nothing and are not sent. The operation byte (+8) is echoed, not interpreted (our
//! convention: the public record names only 2, subscribe).

use std::collections::BTreeMap;

use bytes::Bytes;
use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::dvrip::packet::alarm;
use homeport_protocol::rpc::event::{EventAction, EventInfo};

/// What one connection has subscribed to, and the states it reports.
///
/// Bounded: at most 256 subscribed kinds (one byte), states for the kinds of
/// [`alarm::ALL`] only, each one byte per channel (at most 255).
#[derive(Debug, Default)]
pub(super) struct LegacyAlarms {
    /// Subscribed kind → the operation byte it was subscribed with.
    subscribed: BTreeMap<u8, u8>,
    /// Kind → one byte per channel.
    states: BTreeMap<u8, Vec<u8>>,
}

impl LegacyAlarms {
    /// The current state bytes of `kind`, one per channel.
    fn states(&self, kind: u8, channels: usize) -> Bytes {
        let mut states = vec![0u8; channels];
        if let Some(known) = self.states.get(&kind) {
            let n = known.len().min(channels);
            states[..n].copy_from_slice(&known[..n]);
        }
        states.into()
    }

    /// Remembers a subscription (`op` is echoed in every push), and returns the kind's
    /// state bytes now, one per channel of a camera with `channels`.
    pub(super) fn subscribe(&mut self, op: u8, kind: u8, channels: u32) -> Bytes {
        self.subscribed.insert(kind, op);
        self.states(kind, channel_count(channels))
    }

    /// Forgets every subscription (the session ended); states stay as the camera knows them.
    pub(super) fn unsubscribe_all(&mut self) {
        self.subscribed.clear();
    }

    /// Applies one generated alarm to the states, and returns the `69` packets to push for
    /// it (none when its kind is not subscribed).
    pub(super) fn apply(&mut self, event: &EventInfo, channels: u32) -> Vec<DvripPacket> {
        let Some(kind) = alarm::kind(&event.code) else {
            return Vec::new();
        };
        let channels = channel_count(channels);
        let Some(channel) = usize::try_from(event.index).ok().filter(|c| *c < channels) else {
            return Vec::new();
        };
        let steps: &[Option<u8>] = match event.action {
            EventAction::Start => &[Some(1)],
            EventAction::Stop => &[Some(0)],
            // `None`: back to what it was before the pulse.
            EventAction::Pulse => &[Some(1), None],
            EventAction::State | EventAction::Other(_) => return Vec::new(),
        };
        let states = self.states.entry(kind).or_insert_with(|| vec![0; channels]);
        states.resize(channels, 0);
        let before = states[channel];
        let mut packets = Vec::new();
        for step in steps {
            states[channel] = step.unwrap_or(before);
            if let Some(&op) = self.subscribed.get(&kind) {
                packets.push(DvripPacket::AlarmState {
                    op,
                    kind,
                    states: Bytes::copy_from_slice(states),
                });
            }
        }
        packets
    }
}

/// Channels a state packet covers: the camera's, within one byte.
fn channel_count(channels: u32) -> usize {
    usize::from(u8::try_from(channels).unwrap_or(u8::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::event;

    fn states(packets: &[DvripPacket]) -> Vec<Vec<u8>> {
        packets
            .iter()
            .map(|p| match p {
                DvripPacket::AlarmState { states, .. } => states.to_vec(),
                other => panic!("not a state packet: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn starts_stops_and_pulses_of_a_subscribed_kind_become_state_packets() {
        let mut legacy = LegacyAlarms::default();
        legacy.subscribe(2, alarm::MOTION, 3);
        let start = legacy.apply(&event("VideoMotion", EventAction::Start, 1), 3);
        assert_eq!(states(&start), [vec![0, 1, 0]]);
        let pulse = legacy.apply(&event("VideoMotion", EventAction::Pulse, 0), 3);
        assert_eq!(states(&pulse), [vec![1, 1, 0], vec![0, 1, 0]]);
        // A pulse on a channel already active leaves it active.
        let pulse = legacy.apply(&event("VideoMotion", EventAction::Pulse, 1), 3);
        assert_eq!(states(&pulse), [vec![0, 1, 0], vec![0, 1, 0]]);
        let stop = legacy.apply(&event("VideoMotion", EventAction::Stop, 1), 3);
        assert_eq!(states(&stop), [vec![0, 0, 0]]);
        assert!(matches!(
            stop[0],
            DvripPacket::AlarmState {
                op: 2,
                kind: alarm::MOTION,
                ..
            }
        ));
    }

    #[test]
    fn unsubscribed_kinds_state_reports_and_foreign_channels_are_not_pushed_but_tracked() {
        let mut legacy = LegacyAlarms::default();
        legacy.subscribe(2, alarm::MOTION, 2);
        for (code, action, channel) in [
            ("VideoLoss", EventAction::Start, 0),
            ("VideoMotionInfo", EventAction::State, 0),
            ("CrossLineDetection", EventAction::Pulse, 0),
            ("VideoMotion", EventAction::Start, 7),
        ] {
            let pushed = legacy.apply(&event(code, action.clone(), channel), 2);
            assert!(
                pushed.is_empty(),
                "{code} {action:?} on {channel}: {pushed:?}"
            );
        }
        // The video loss seen before the subscription is in the answer to it.
        assert_eq!(legacy.states(alarm::VIDEO_LOSS, 2).as_ref(), &[1, 0]);
    }
}

#[cfg(test)]
mod session_tests {
    use homeport_protocol::dvrip::DvripPacket;
    use homeport_protocol::dvrip::packet::alarm;
    use homeport_protocol::rpc::event::EventAction;
    use homeport_protocol::wire::WireFrame;

    use super::super::test_support::{config, logged_in, one};
    use crate::alarm::event;
    use crate::firmware::Firmware;
    use crate::session::Change;

    #[test]
    fn a_subscription_is_answered_with_one_state_byte_per_channel_and_then_pushed_to() {
        let mut session = logged_in(config(Firmware::DvripOnly, 3));
        session.alarm_frames(&[event("VideoMotion", EventAction::Start, 2)]);
        let (frames, change) = super::super::test_support::send(
            &mut session,
            DvripPacket::AlarmSubscribe {
                op: 2,
                kind: alarm::MOTION,
            },
        );
        assert_eq!(change, Some(Change::Attached));
        let h = frames[0].header;
        assert_eq!(&h[..4], &[0x69, 0x00, 0x00, 0x78]);
        assert_eq!((h[8], h[12]), (2, alarm::MOTION));
        assert_eq!(frames[0].body.as_ref(), &[0, 0, 1]);
        let (pushed, count) = session.alarm_frames(&[
            event("VideoMotion", EventAction::Stop, 2),
            event("VideoLoss", EventAction::Start, 0),
            event("VideoMotion", EventAction::Pulse, 0),
        ]);
        assert_eq!(count, 2, "the video loss is not subscribed");
        let states: Vec<Vec<u8>> = pushed
            .iter()
            .map(|frame| match frame {
                WireFrame::Dvrip(frame) => frame.body.to_vec(),
                WireFrame::Dhip(_) => panic!("DHIP push"),
            })
            .collect();
        assert_eq!(states, [vec![0, 0, 0], vec![1, 0, 0], vec![0, 0, 0]]);
    }

    #[test]
    fn json_and_legacy_subscribers_both_get_an_alarm_counted_once() {
        let mut session = logged_in(config(Firmware::DvripOnly, 1));
        one(
            &mut session,
            DvripPacket::AlarmSubscribe {
                op: 2,
                kind: alarm::INPUT,
            },
        );
        let id = session.logged_in().expect("logged in");
        let attach = format!(
            r#"{{"id":5,"session":{id},"method":"eventManager.attach","params":{{"codes":["All"]}}}}"#
        );
        one(
            &mut session,
            DvripPacket::Json {
                request_id: 5,
                session: id,
                is_reply: false,
                body: attach.into(),
            },
        );
        let (frames, count) = session.alarm_frames(&[event("AlarmLocal", EventAction::Start, 0)]);
        assert_eq!(count, 1);
        let commands: Vec<u8> = frames
            .iter()
            .map(|frame| match frame {
                WireFrame::Dvrip(frame) => frame.header[0],
                WireFrame::Dhip(_) => 0,
            })
            .collect();
        assert_eq!(commands, [0xf6, 0x69]);
    }
}
