//! `login`: ask a registered device's session to log in now, at a bounded rate.
//!
//! Sessions log in by themselves when credentials are known (`session.auto_login`, default
//! on); this stage makes a waiting or refused session try at once, and with `auto_login:
//! false` it is the only thing that starts logins — so an integrator decides which devices are
//! logged in, and when. Each device has one session, which runs one login at a time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt};

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::LoginSpec;
use crate::registry::Registry;

/// Builds a `login` stage.
pub fn build(spec: &LoginSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let rate = spec.rate.unwrap_or(100.0);
    if !(rate > 0.0 && rate.is_finite()) {
        return Err(cx.error("login rate must be a positive number"));
    }
    Ok(Box::new(Login::new(
        Arc::clone(&cx.services.registry),
        rate,
    )))
}

/// Requests logins, at most `rate` per second across devices.
#[derive(Debug)]
pub struct Login {
    registry: Arc<Registry>,
    interval: Duration,
    next_slot: Mutex<Instant>,
}

impl Login {
    /// A login stage allowing `rate` logins per second.
    pub fn new(registry: Arc<Registry>, rate: f64) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
        Self {
            registry,
            interval,
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Reserves the next slot and returns how long to wait for it.
    fn reserve(&self) -> Duration {
        let mut next = self
            .next_slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let slot = (*next).max(now);
        *next = slot + self.interval;
        slot - now
    }
}

impl Stage for Login {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let device = flow.event.device.clone();
        async move {
            if !self.registry.is_known(&device) {
                return Ok(Outcome::Drop("unknown_device"));
            }
            let wait = self.reserve();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            if self.registry.request_login(&device) {
                Ok(Outcome::Continue)
            } else {
                Err(StageError::new(format!("device {device} is not connected")))
            }
        }
        .boxed()
    }
}
