//! `debounce`: one event per key per window; repeats inside the window are dropped.
//!
//! The default key is the device, the event kind, and for alarms the code, channel and
//! action — so a camera flooding `VideoMotion start` sends one per window while its `stop`
//! still goes through. Keys are kept for one window and swept, so memory follows the number
//! of active keys.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::event::EventKind;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::DebounceSpec;
use crate::pipeline::template::{Flavor, Template};

/// Builds a `debounce` stage.
pub fn build(spec: &DebounceSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let window = cx.duration(&spec.window)?;
    let key = spec
        .key
        .as_ref()
        .map(|k| cx.template(k, Flavor::Plain))
        .transpose()?;
    Ok(Box::new(Debounce::new(window, key)))
}

/// Most keys remembered; past this the oldest are forgotten early.
const MAX_KEYS: usize = 100_000;

/// Lets the first event per key through, then drops repeats for `window`.
#[derive(Debug)]
pub struct Debounce {
    /// The window.
    pub window: Duration,
    /// The key template; `None` uses the default key.
    pub key: Option<Template>,
    seen: Mutex<HashMap<String, Instant>>,
}

impl Debounce {
    /// A debounce stage.
    pub fn new(window: Duration, key: Option<Template>) -> Self {
        Self {
            window,
            key,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn default_key(flow: &Flow) -> String {
        let event = &flow.event;
        match &event.kind {
            EventKind::Alarm {
                code,
                channel,
                action,
                ..
            } => format!(
                "{}\u{0}alarm\u{0}{code}\u{0}{channel}\u{0}{action}",
                event.device
            ),
            _ => format!("{}\u{0}{}", event.device, event.kind_name()),
        }
    }

    fn admit(&self, key: String, now: Instant) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= MAX_KEYS {
            let window = self.window;
            seen.retain(|_, at| now.duration_since(*at) < window);
            if seen.len() >= MAX_KEYS {
                seen.clear();
            }
        }
        match seen.get(&key) {
            Some(at) if now.duration_since(*at) < self.window => false,
            _ => {
                seen.insert(key, now);
                true
            }
        }
    }
}

impl Stage for Debounce {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let key = match &self.key {
            Some(template) => template
                .render(flow.context())
                .map_err(StageError::permanent),
            None => Ok(Self::default_key(flow)),
        };
        let result = key.map(|key| {
            if self.admit(key, Instant::now()) {
                Outcome::Continue
            } else {
                Outcome::Drop("debounced")
            }
        });
        async move { result }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_inside_the_window_are_dropped_and_pass_after_it() {
        let debounce = Debounce::new(Duration::from_secs(5), None);
        let start = Instant::now();
        assert!(debounce.admit("k".to_owned(), start));
        assert!(!debounce.admit("k".to_owned(), start + Duration::from_secs(1)));
        assert!(debounce.admit("other".to_owned(), start + Duration::from_secs(1)));
        assert!(debounce.admit("k".to_owned(), start + Duration::from_secs(6)));
    }
}
