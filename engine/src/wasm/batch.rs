//! How several events go into a plugin in one call, by the world it was built against:
//! `packed.process-packed` (0.1.2: every text of the batch in one string, the events as
//! records of spans into it) or `batch.process-batch` (0.1.1: a list of records, each string
//! its own). Plugins built against 0.1.0 have neither and get one call per event.
//!
//! Why packed: the component model copies each string of a call into the guest with a call
//! of its own into the guest's allocator. A packed batch is two allocations in the guest
//! whatever it holds, instead of one per text of each event.

use wasmtime::component::{Component, ComponentExportIndex};

use super::bindings::types as wit;
use super::convert;
use crate::event::{Event, EventKind};

/// The interface holding `process-packed`, as a component exports it (semver-compatible
/// versions match).
pub const PACKED_EXPORT: &str = "homeport:plugin/packed@0.1.2";
/// The packed batch function's name in it.
pub const PACKED_FUNC: &str = "process-packed";
/// The interface holding `process-batch` (plugins built against 0.1.1).
pub const BATCH_EXPORT: &str = "homeport:plugin/batch@0.1.1";
/// The batch function's name in it.
pub const BATCH_FUNC: &str = "process-batch";

/// `process-packed`'s parameters: the batch's text and its events.
pub type PackedParams<'a> = (&'a str, &'a [wit::PackedEvent]);
/// `process-batch`'s parameters: the events, borrowed.
pub type BatchParams<'a> = (&'a [wit::EventParam<'a>],);
/// What both answer: one result per event.
pub type BatchResults = (Vec<Result<wit::Decision, String>>,);

/// Which batch export a plugin has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `packed.process-packed` (0.1.2 and later).
    Packed,
    /// `batch.process-batch` (0.1.1).
    Records,
}

impl Form {
    /// The function, as the world names it.
    pub fn function(self) -> &'static str {
        match self {
            Form::Packed => "packed.process-packed",
            Form::Records => "batch.process-batch",
        }
    }
}

/// The batch export of `component`, the packed one first.
pub(crate) fn export(component: &Component) -> Option<(Form, ComponentExportIndex)> {
    let find = |interface: &str, func: &str| {
        component
            .get_export_index(None, interface)
            .and_then(|interface| component.get_export_index(Some(&interface), func))
    };
    find(PACKED_EXPORT, PACKED_FUNC)
        .map(|index| (Form::Packed, index))
        .or_else(|| find(BATCH_EXPORT, BATCH_FUNC).map(|index| (Form::Records, index)))
}

/// A batch's text passed the 4 GiB a span can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the batch's text is larger than a span can address")]
pub struct TooLarge;

/// A packed batch, ready for a call.
#[derive(Debug)]
pub struct PackedBatch {
    text: String,
    events: Vec<wit::PackedEvent>,
}

impl PackedBatch {
    /// The call's parameters.
    pub fn params(&self) -> PackedParams<'_> {
        (&self.text, &self.events)
    }
}

/// A packed batch being built: the events' texts one after the other in `text`, and one
/// record of spans per event.
#[derive(Debug, Default)]
pub struct Packed {
    /// UTF-8: only `&str`s and serde_json's output (UTF-8 only) are appended, so a span
    /// boundary is always a character boundary.
    text: Vec<u8>,
    events: Vec<wit::PackedEvent>,
}

impl Packed {
    /// Room for about `events` events.
    pub fn with_capacity(events: usize) -> Self {
        Self {
            text: Vec::with_capacity(events * 128),
            events: Vec::with_capacity(events),
        }
    }

    /// The batch, ready for the call. `None` cannot happen (the text is UTF-8 by
    /// construction); checking it is one pass over the batch's text, without a copy.
    pub fn finish(self) -> Option<PackedBatch> {
        Some(PackedBatch {
            text: String::from_utf8(self.text).ok()?,
            events: self.events,
        })
    }

    /// Appends `event`. `Ok(false)` for a kind the world does not have (nothing appended,
    /// as [`convert::to_wit`] gives no record for it).
    pub fn push(&mut self, event: &Event) -> Result<bool, TooLarge> {
        let mark = self.text.len();
        let record = self.record(event);
        if !matches!(record, Ok(Some(_))) {
            self.text.truncate(mark);
        }
        let record = record?;
        let packed = record.is_some();
        self.events.extend(record);
        Ok(packed)
    }

    /// `event`'s record, its texts appended; `None` for a kind the world does not have.
    fn record(&mut self, event: &Event) -> Result<Option<wit::PackedEvent>, TooLarge> {
        let Some(kind) = self.kind(&event.kind)? else {
            return Ok(None);
        };
        Ok(Some(wit::PackedEvent {
            at_ms: event.at_ms,
            device: self.span(&event.device)?,
            kind,
        }))
    }

    fn span(&mut self, text: &str) -> Result<wit::Span, TooLarge> {
        let start = self.text.len();
        self.text.extend_from_slice(text.as_bytes());
        self.since(start)
    }

    fn optional(&mut self, text: Option<&str>) -> Result<Option<wit::Span>, TooLarge> {
        text.map(|text| self.span(text)).transpose()
    }

    /// The span from `start` to the end of the text.
    fn since(&self, start: usize) -> Result<wit::Span, TooLarge> {
        let end = u32::try_from(self.text.len()).map_err(|_| TooLarge)?;
        let start = u32::try_from(start).map_err(|_| TooLarge)?;
        Ok(wit::Span {
            start,
            len: end - start,
        })
    }

    /// `kind` with its texts appended; `None` for a kind the world does not have.
    fn kind(&mut self, kind: &EventKind) -> Result<Option<wit::PackedKind>, TooLarge> {
        // An alarm's data or a config table (an empty span for the other kinds, whose arms
        // below do not read it).
        let mark = self.text.len();
        convert::write_json(kind, &mut self.text);
        let json = self.since(mark)?;
        Ok(Some(match kind {
            EventKind::Registered {
                peer,
                registration,
                token,
            } => wit::PackedKind::Registered(wit::PackedRegistered {
                peer: self.span(peer)?,
                registration: convert::registration_to_wit(*registration),
                token: self.optional(token.as_deref())?,
            }),
            EventKind::OnlineChanged {
                online,
                state,
                reason,
                detail,
                since_ms,
                reported: _,
            } => wit::PackedKind::OnlineChanged(wit::PackedOnlineChanged {
                online: *online,
                state: convert::state_to_wit(*state),
                reason: convert::reason_to_wit(*reason),
                detail: self.optional(detail.as_deref())?,
                since_ms: *since_ms,
            }),
            EventKind::Alarm {
                channel,
                code,
                action,
                device_time,
                device_utc,
                ..
            } => wit::PackedKind::Alarm(wit::PackedAlarm {
                channel: *channel,
                code: self.span(code)?,
                action: self.span(action)?,
                device_time: self.optional(device_time.as_deref())?,
                device_utc: *device_utc,
                data: json,
            }),
            EventKind::ConfigApplied {
                name,
                changed,
                dry_run,
                error,
                ..
            } => wit::PackedKind::ConfigApplied(wit::PackedConfigApplied {
                name: self.span(name)?,
                changed: *changed,
                dry_run: *dry_run,
                table: json,
                error: self.optional(error.as_deref())?,
            }),
            EventKind::SyncRequest {
                session,
                account,
                peer,
                data,
                command,
                ..
            } => wit::PackedKind::SyncRequest(wit::PackedSyncRequest {
                session: *session,
                account: self.optional(account.as_deref())?,
                peer: self.span(peer)?,
                data: *data,
                command: self.span(command)?,
            }),
            EventKind::Security { .. } | EventKind::Announced { .. } => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    fn text(batch: &PackedBatch, span: wit::Span) -> &str {
        let start = span.start as usize;
        &batch.text[start..start + span.len as usize]
    }

    #[test]
    fn an_alarm_s_texts_are_spans_of_one_text_and_read_back_whole() {
        let mut data = Map::new();
        data.insert("Zone".to_owned(), json!("Entrée"));
        let alarm = Event::new(
            "caméra",
            EventKind::Alarm {
                channel: 1,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: None,
                device_utc: Some(5),
                data,
            },
        );
        let mut packed = Packed::with_capacity(2);
        assert_eq!(packed.push(&alarm), Ok(true));
        assert_eq!(packed.push(&alarm), Ok(true));
        let batch = packed.finish().expect("UTF-8");
        let (all, events) = batch.params();
        assert_eq!(events.len(), 2);
        assert_eq!(all.matches("caméra").count(), 2);
        for event in events {
            assert_eq!(text(&batch, event.device), "caméra");
            let wit::PackedKind::Alarm(a) = event.kind else {
                panic!("an alarm packs as an alarm: {:?}", event.kind);
            };
            assert_eq!(
                (text(&batch, a.code), text(&batch, a.action)),
                ("VideoMotion", "start")
            );
            assert_eq!(text(&batch, a.data), r#"{"Zone":"Entrée"}"#);
            assert_eq!((a.channel, a.device_utc), (1, Some(5)));
            assert!(a.device_time.is_none());
        }
    }

    #[test]
    fn a_kind_the_world_does_not_have_packs_nothing() {
        let mut packed = Packed::default();
        let announced = Event::new(
            "CAM-1",
            EventKind::Announced {
                cause: crate::event::AnnounceCause::Requested,
                online: false,
                state: crate::event::DeviceState::Offline,
                reported: crate::event::Reported::default(),
            },
        );
        assert_eq!(packed.push(&announced), Ok(false));
        assert!(packed.text.is_empty() && packed.events.is_empty());
    }
}
