//! `sync_push`: push online changes and alarms of a camera to every live session of every
//! account bound to it with a verified password (`PrushCaramerOnlineStatus`,
//! `PrushCaramerAlarmInfo`), in the camera's order.
//!
//! Unverified bindings (uploaded while the gateway had no credentials for the camera) get no
//! pushes. When the camera comes online — the gateway knows its credentials and is logged in
//! — the unverified bindings whose uploaded password matches those credentials are verified,
//! earliest first, while the camera has free places (`max_accounts_per_camera`); the others
//! stay unverified and silent.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use homeport_protocol::sync::SyncMessage;

use super::build::{Build, or_checked};
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::camera_sync::SyncServer;
use crate::event::EventKind;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::PolicyOnly;
use crate::registry::Registry;
use crate::store::{Store, StoreError};

/// Builds a `sync_push` stage.
pub fn build(_spec: &PolicyOnly, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    Ok(or_checked(cx.sync("sync_push")?, |(server, store)| {
        Box::new(SyncPush {
            store,
            registry: Arc::clone(&cx.services.registry),
            server,
        })
    }))
}

/// Pushes to bound apps.
#[derive(Debug)]
pub struct SyncPush {
    /// The store (bindings).
    pub store: Store,
    /// The registry (the camera's credentials, to verify bindings).
    pub registry: Arc<Registry>,
    /// The sync server (sessions).
    pub server: Arc<SyncServer>,
}

impl SyncPush {
    /// Verifies the unverified bindings of `camera` whose password matches the gateway's.
    async fn verify_bindings(&self, camera: &str) -> Result<(), StoreError> {
        let max = self.server.hub().config().max_accounts_per_camera;
        for (account, password) in self.store.unverified_bindings(camera).await? {
            if self.registry.password_matches(camera, password.expose()) != Some(true) {
                continue;
            }
            if self.store.verify_binding(&account, camera, max).await? {
                tracing::info!(%camera, %account, "camera registered: an unverified binding is verified");
            } else {
                tracing::info!(%camera, %account, "camera registered: a matching binding stays unverified, the camera's places are taken");
            }
        }
        Ok(())
    }
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
            if matches!(
                flow.event.kind,
                EventKind::OnlineChanged { online: true, .. }
            ) {
                self.verify_bindings(&camera)
                    .await
                    .map_err(|e| StageError::new(e.to_string()))?;
            }
            let accounts = self
                .store
                .verified_camera_accounts(&camera)
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
