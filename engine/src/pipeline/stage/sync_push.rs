//! `sync_push`: push online changes and alarms of a camera to every live session of every
//! account bound to it (`PrushCaramerOnlineStatus`, `PrushCaramerAlarmInfo`), in the
//! camera's order.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use homeport_protocol::sync::SyncMessage;

use super::{Flow, Outcome, Stage, StageError};
use crate::camera_sync::SyncServer;
use crate::event::EventKind;
use crate::store::Store;

/// Pushes to bound apps.
#[derive(Debug)]
pub struct SyncPush {
    /// The store (bindings).
    pub store: Store,
    /// The sync server (sessions).
    pub server: Arc<SyncServer>,
}

impl Stage for SyncPush {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        async move {
            let camera = flow.event.device.clone();
            let message = match &flow.event.kind {
                EventKind::OnlineChanged { online, .. } => SyncMessage::PrushCaramerOnlineStatus {
                    camera_id: camera.clone(),
                    online: *online,
                },
                EventKind::Alarm { code, .. } => SyncMessage::PrushCaramerAlarmInfo {
                    camera_id: camera.clone(),
                    alarm_type: code.clone(),
                },
                _ => return Ok(Outcome::Drop("not_pushed")),
            };
            let accounts = self
                .store
                .camera_accounts(&camera)
                .await
                .map_err(|e| StageError::new(e.to_string()))?;
            if accounts.is_empty() {
                return Ok(Outcome::Continue);
            }
            self.server.hub().push(&accounts, &message);
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}
