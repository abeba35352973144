//! Building a plugin's answer to an event: pass, drop, route, replace, emit.

use crate::bindings::homeport::plugin::types as wit;
use crate::{Event, Verdict};

/// A plugin's answer to one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What becomes of the event.
    pub verdict: Verdict,
    /// The event as it goes on (new kind data, new fields); `None` keeps it as it came.
    pub replace: Option<Event>,
    /// Further events to publish once this one leaves its pipeline, however it leaves.
    pub emit: Vec<Event>,
}

/// Most events one `process` call may emit; the host refuses a decision with more.
pub const MAX_EMIT: usize = 16;

impl Decision {
    /// The event goes on to the next stage unchanged.
    pub fn pass() -> Self {
        Self::with_verdict(Verdict::Pass)
    }

    /// The event stops here; `reason` is counted in the pipeline's metrics, so keep it a
    /// short snake_case word like the built-in stages' (`filtered`, `debounced`).
    pub fn drop(reason: impl Into<String>) -> Self {
        Self::with_verdict(Verdict::Drop(reason.into()))
    }

    /// The event leaves this pipeline for the one the stage's `routes` maps `output` to.
    pub fn route(output: impl Into<String>) -> Self {
        Self::with_verdict(Verdict::Route(output.into()))
    }

    /// The event goes on as `event` (new kind data, new fields). The host keeps the
    /// original's `id` and `device`.
    pub fn replace(event: Event) -> Self {
        Self::pass().replacing(event)
    }

    /// This decision, with the event going on (or routed) as `event`.
    #[must_use]
    pub fn replacing(mut self, event: Event) -> Self {
        self.replace = Some(event);
        self
    }

    /// This decision, publishing `event` too once the current one is done. An emitted event's
    /// `id` and `at_ms` are assigned by the host; an empty `device` means the same device as
    /// the event being processed. At most [`MAX_EMIT`] per call.
    #[must_use]
    pub fn emit(mut self, event: Event) -> Self {
        self.emit.push(event);
        self
    }

    /// Whether the event goes on to the next stage.
    pub fn is_pass(&self) -> bool {
        matches!(self.verdict, Verdict::Pass)
    }

    /// The drop reason, if the event is dropped.
    pub fn drop_reason(&self) -> Option<&str> {
        match &self.verdict {
            Verdict::Drop(reason) => Some(reason),
            _ => None,
        }
    }

    fn with_verdict(verdict: Verdict) -> Self {
        Self {
            verdict,
            replace: None,
            emit: Vec::new(),
        }
    }

    /// The decision as the host reads it: a replacement's record and, if its fields changed,
    /// the fields; emitted events' records.
    pub(crate) fn into_wit(self) -> wit::Decision {
        let (replace, fields) = match self.replace {
            Some(event) => {
                let (record, fields) = event.into_wit();
                (Some(record), fields)
            }
            None => (None, None),
        };
        wit::Decision {
            verdict: self.verdict,
            replace,
            fields,
            emit: self.emit.into_iter().map(|e| e.into_wit().0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_passes_the_new_event_on() {
        let event = Event::new_alarm("D1", "VideoMotion", "start");
        let decision = Decision::replace(event.clone());
        assert_eq!(decision.verdict, Verdict::Pass);
        assert_eq!(decision.replace, Some(event));
        assert!(decision.emit.is_empty());
    }

    #[test]
    fn emitted_events_accumulate_in_order_on_any_verdict() {
        let first = Event::new_alarm("", "A", "pulse");
        let second = Event::new_alarm("", "B", "pulse");
        let decision = Decision::drop("seen")
            .emit(first.clone())
            .emit(second.clone());
        assert_eq!(decision.drop_reason(), Some("seen"));
        assert_eq!(decision.emit, vec![first, second]);
    }

    #[test]
    fn route_names_the_output() {
        assert_eq!(
            Decision::route("night").verdict,
            Verdict::Route("night".into())
        );
        assert!(!Decision::route("night").is_pass());
    }
}
