//! Legacy alarm states (`0x69`: one byte per channel for one alarm kind) turned into the same
//! start / stop alarms a `client.notifyEventStream` gives.
//!
//! The device reports the whole state of a kind each time; a channel whose byte goes from 0
//! to non-zero starts, one going back to 0 stops. The first report after the subscription is
//! compared with "nothing active", so alarms already active then are reported as started.

use std::collections::HashMap;

use homeport_protocol::dvrip::packet::alarm;

/// Most channels one state report is read for.
pub(super) const MAX_CHANNELS: usize = 256;
/// Most alarm kinds remembered per device.
const MAX_KINDS: usize = 64;

/// One alarm derived from a state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Change {
    /// The channel (0-based).
    pub channel: i64,
    /// The event code (`VideoMotion`, …; `LegacyAlarm<n>` for kinds without a name).
    pub code: String,
    /// `start` or `stop`.
    pub action: &'static str,
}

/// The last reported state of each kind.
#[derive(Debug, Default)]
pub(super) struct LegacyAlarms {
    states: HashMap<u8, Vec<bool>>,
}

impl LegacyAlarms {
    /// Applies a report of `kind`; returns the alarms it starts and stops, by channel.
    pub(super) fn apply(&mut self, kind: u8, report: &[u8]) -> Vec<Change> {
        if !self.states.contains_key(&kind) && self.states.len() == MAX_KINDS {
            return Vec::new();
        }
        let now: Vec<bool> = report.iter().take(MAX_CHANNELS).map(|&b| b != 0).collect();
        let before = self.states.entry(kind).or_default();
        let code = alarm::code(kind).map_or_else(|| format!("LegacyAlarm{kind}"), str::to_owned);
        let width = now.len().max(before.len());
        let changes = (0..width)
            .filter_map(|channel| {
                let was = before.get(channel).copied().unwrap_or(false);
                let is = now.get(channel).copied().unwrap_or(false);
                (was != is).then(|| Change {
                    channel: channel as i64,
                    code: code.clone(),
                    action: if is { "start" } else { "stop" },
                })
            })
            .collect();
        *before = now;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(channel: i64, code: &str, action: &'static str) -> Change {
        Change {
            channel,
            code: code.to_owned(),
            action,
        }
    }

    #[test]
    fn state_reports_become_starts_and_stops_per_channel() {
        let mut alarms = LegacyAlarms::default();
        assert_eq!(alarms.apply(alarm::MOTION, &[0, 0]), vec![]);
        assert_eq!(
            alarms.apply(alarm::MOTION, &[1, 0]),
            vec![change(0, "VideoMotion", "start")]
        );
        assert_eq!(
            alarms.apply(alarm::MOTION, &[1, 1]),
            vec![change(1, "VideoMotion", "start")]
        );
        assert_eq!(
            alarms.apply(alarm::MOTION, &[0, 1]),
            vec![change(0, "VideoMotion", "stop")]
        );
        // Other kinds keep their own state.
        assert_eq!(
            alarms.apply(alarm::VIDEO_LOSS, &[0, 1]),
            vec![change(1, "VideoLoss", "start")]
        );
    }

    #[test]
    fn an_alarm_active_at_subscription_is_reported_started() {
        let mut alarms = LegacyAlarms::default();
        assert_eq!(
            alarms.apply(alarm::INPUT, &[0, 0, 1]),
            vec![change(2, "AlarmLocal", "start")]
        );
    }

    #[test]
    fn a_shorter_report_stops_the_channels_it_no_longer_lists() {
        let mut alarms = LegacyAlarms::default();
        alarms.apply(0x9c, &[1, 1]);
        assert_eq!(
            alarms.apply(0x9c, &[1]),
            vec![change(1, "LegacyAlarm156", "stop")]
        );
    }

    #[test]
    fn reports_are_bounded() {
        let mut alarms = LegacyAlarms::default();
        assert_eq!(alarms.apply(1, &[1; 10_000]).len(), MAX_CHANNELS);
        for kind in 0..=255u8 {
            alarms.apply(kind, &[0]);
        }
        assert!(alarms.states.len() <= MAX_KINDS);
    }
}
