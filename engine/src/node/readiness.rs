//! Whether the node is ready to do its job, check by check: the register listener bound, the
//! camera-sync listener bound with a pipeline answering its apps (when it runs), and every
//! configured sink connected. `/readyz` answers with these; liveness (`/livez`) is only that
//! the process answers.

use serde::Serialize;

use super::Node;

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What is checked: `register`, `camera_sync`, `mqtt`, `nats`.
    pub name: &'static str,
    /// Whether it passes.
    pub ok: bool,
    /// What was found (an address, a state).
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, ok: bool, detail: impl Into<String>) -> Self {
        Self {
            name,
            ok,
            detail: detail.into(),
        }
    }
}

/// The checks of a node and their verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Every check passes.
    pub ready: bool,
    /// The checks, in a fixed order.
    pub checks: Vec<Check>,
}

impl Node {
    /// Whether a running pipeline answers the camera-sync server's apps.
    pub fn answers_apps(&self) -> bool {
        self.pipelines
            .as_ref()
            .is_some_and(|p| p.answers_sync_requests())
    }

    /// Runs the readiness checks now.
    pub fn readiness(&self) -> Readiness {
        let mut checks = Vec::new();
        checks.push(match self.gateway.register_addr() {
            Some(addr) => Check::new("register", true, addr.to_string()),
            None => Check::new("register", false, "the register listener is stopped"),
        });
        if let Some(sync) = &self.sync {
            checks.push(if self.answers_apps() {
                Check::new("camera_sync", true, sync.addr().to_string())
            } else {
                Check::new(
                    "camera_sync",
                    false,
                    format!("{} listens, but no pipeline answers its apps (a camera_sync stage on sync_request)", sync.addr()),
                )
            });
        }
        if let Some(mqtt) = &self.sinks.mqtt {
            checks.push(connection("mqtt", mqtt.is_connected()));
        }
        if let Some(nats) = &self.sinks.nats {
            checks.push(connection("nats", nats.is_connected()));
        }
        Readiness {
            ready: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

fn connection(name: &'static str, connected: bool) -> Check {
    let detail = if connected {
        "connected"
    } else {
        "not connected: messages wait in the sink's buffer until it reconnects"
    };
    Check::new(name, connected, detail)
}
