//! A packed batch (`packed.process-packed`) turned back into the events plugins see: each
//! record's spans read out of the batch's one text.

use crate::bindings::homeport::plugin::types as wit;
use crate::{Alarm, ConfigApplied, EventKind, OnlineChanged, Registered, SyncRequest};

/// Event `packed`, its texts read from `text`. An error names a span outside `text` or
/// cutting a character (a host that breaks the world's contract).
pub(crate) fn unpack(text: &str, packed: wit::PackedEvent) -> Result<wit::Event, String> {
    let read = |span: wit::Span| -> Result<String, String> {
        let start = span.start as usize;
        start
            .checked_add(span.len as usize)
            .and_then(|end| text.get(start..end))
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "the host sent a span ({}+{}) that is not whole text within the batch's {} bytes",
                    span.start,
                    span.len,
                    text.len()
                )
            })
    };
    let optional = |span: Option<wit::Span>| span.map(read).transpose();
    let kind = match packed.kind {
        wit::PackedKind::Registered(r) => EventKind::Registered(Registered {
            peer: read(r.peer)?,
            registration: r.registration,
            token: optional(r.token)?,
        }),
        wit::PackedKind::OnlineChanged(o) => EventKind::OnlineChanged(OnlineChanged {
            online: o.online,
            state: o.state,
            reason: o.reason,
            detail: optional(o.detail)?,
            since_ms: o.since_ms,
        }),
        wit::PackedKind::Alarm(a) => EventKind::Alarm(Alarm {
            channel: a.channel,
            code: read(a.code)?,
            action: read(a.action)?,
            device_time: optional(a.device_time)?,
            device_utc: a.device_utc,
            data: read(a.data)?,
        }),
        wit::PackedKind::ConfigApplied(c) => EventKind::ConfigApplied(ConfigApplied {
            name: read(c.name)?,
            changed: c.changed,
            dry_run: c.dry_run,
            table: read(c.table)?,
            error: optional(c.error)?,
        }),
        wit::PackedKind::SyncRequest(s) => EventKind::SyncRequest(SyncRequest {
            session: s.session,
            account: optional(s.account)?,
            peer: read(s.peer)?,
            data: s.data,
            command: read(s.command)?,
        }),
    };
    Ok(wit::Event {
        at_ms: packed.at_ms,
        device: read(packed.device)?,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u32, len: u32) -> wit::Span {
        wit::Span { start, len }
    }

    #[test]
    fn an_alarm_is_read_back_from_its_spans() {
        let text = "CAM-1VideoMotionstart2026-12-06 10:00:00{\"a\":1}";
        let packed = wit::PackedEvent {
            at_ms: 42,
            device: span(0, 5),
            kind: wit::PackedKind::Alarm(wit::PackedAlarm {
                channel: 3,
                code: span(5, 11),
                action: span(16, 5),
                device_time: Some(span(21, 19)),
                device_utc: Some(7),
                data: span(40, 7),
            }),
        };
        let event = unpack(text, packed);
        let expected = wit::Event {
            at_ms: 42,
            device: "CAM-1".to_owned(),
            kind: EventKind::Alarm(Alarm {
                channel: 3,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: Some("2026-12-06 10:00:00".to_owned()),
                device_utc: Some(7),
                data: "{\"a\":1}".to_owned(),
            }),
        };
        assert_eq!(event, Ok(expected));
    }

    #[test]
    fn a_span_past_the_text_or_inside_a_character_is_an_error_not_a_panic() {
        let packed = |device| wit::PackedEvent {
            at_ms: 0,
            device,
            kind: wit::PackedKind::Registered(wit::PackedRegistered {
                peer: span(0, 0),
                registration: wit::RegistrationKind::Serial,
                token: None,
            }),
        };
        for bad in [span(2, 5), span(u32::MAX, u32::MAX), span(1, 1)] {
            let error = unpack("é!", packed(bad)).err().unwrap_or_default();
            assert!(error.contains("within the batch"), "{error}");
        }
        assert!(unpack("é!", packed(span(0, 2))).is_ok());
    }
}
