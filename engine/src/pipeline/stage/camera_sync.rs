//! `camera_sync`: answer the camera-sync commands of client apps (`sync_request` events).
//!
//! Accounts and bindings live in the store; online status comes from the registry. Login
//! checks the account (argon2id, lockout); uploads bind a camera to the account after checking
//! its password against the gateway's own credentials for it (the ones it logs in with, so
//! "verified by a login" for an online camera) — a camera the gateway has no credentials for
//! is bound unverified; downloads list the account's cameras one per request.
//!
//! The commands the truncated seed implies (ours, see `homeport_protocol::sync::command`):
//!
//! | Command | Needs a login | Answer |
//! |---|---|---|
//! | `Logout` | no (idempotent) | `LogoutOk`; the session's account is forgotten, pushes stop |
//! | `DeleteCaramer id` | yes | `DeleteSucess id`, or `DeleteFail id\|reason` (not bound, not logged in) |
//! | `ChangeCaramerPassword id\|pw` | yes | `ChangeSucess id`, or `ChangeFail id\|reason` (mismatch, not bound, not logged in) |
//!
//! `Logout` on a data connection logs out its main session (the one it acts for); the
//! account's other sessions stay logged in. A new password is checked like an upload's: against the gateway's credentials for the
//! camera when it has them, else stored unverified.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use homeport_protocol::sync::{OnlineStatus, SyncMessage};

use super::{Flow, Outcome, Stage, StageError};
use crate::camera_sync::SyncServer;
use crate::camera_sync::texts::Reason;
use crate::event::{EventKind, now_ms};
use crate::registry::{Registry, rfc3339};
use crate::secret::Secret;
use crate::store::{BindOutcome, LockPolicy, LoginCheck, Store};

/// Answers app commands.
#[derive(Debug)]
pub struct CameraSync {
    /// The store (accounts, bindings).
    pub store: Store,
    /// The registry (online status, camera credentials).
    pub registry: Arc<Registry>,
    /// The sync server (sessions, data ports).
    pub server: Arc<SyncServer>,
}

/// A camera's status as apps see it.
pub fn status_of(registry: &Registry, camera: &str) -> OnlineStatus {
    match registry.view(camera) {
        Some(view) if view.online => OnlineStatus::Online,
        Some(_) => OnlineStatus::Offline,
        None => OnlineStatus::Unknown,
    }
}

impl Stage for CameraSync {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        async move {
            let EventKind::SyncRequest {
                session,
                peer,
                message: Some(message),
                ..
            } = &flow.event.kind
            else {
                return Ok(Outcome::Drop("not_a_sync_request"));
            };
            let reply = match self.answer(*session, peer, message).await {
                Ok(reply) => reply,
                // Input the store refuses (an empty or overlong ID, a control character): the
                // app gets a refusal it can show, not silence.
                Err(crate::store::StoreError::Invalid(why)) => {
                    tracing::info!(session = *session, %why, "refusing an app command");
                    self.refusal(*session, message)
                }
                Err(e) => return Err(StageError::new(e.to_string())),
            };
            if let Some(reply) = reply {
                self.server.hub().send(*session, reply);
            }
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}

impl CameraSync {
    /// The refusal matching a command whose input the store did not accept.
    fn refusal(&self, session: u64, message: &SyncMessage) -> Option<SyncMessage> {
        let reason = self.text(Reason::IdPasswordMismatch);
        Some(match message {
            SyncMessage::UploadCaramer {
                camera_id, total, ..
            } => SyncMessage::UploadFail {
                camera_id: camera_id.clone(),
                reason,
                synced: self.server.hub().synced(session),
                total: *total,
            },
            SyncMessage::ChangeCaramerPassword { camera_id, .. } => SyncMessage::ChangeFail {
                camera_id: camera_id.clone(),
                reason,
            },
            SyncMessage::DeleteCaramer { camera_id } => SyncMessage::DeleteFail {
                camera_id: camera_id.clone(),
                reason,
            },
            SyncMessage::Login { .. } => SyncMessage::LoginError {
                reason: self.text(Reason::WrongLogin),
            },
            SyncMessage::CreatDataSocket { .. } => SyncMessage::ReturnDataSocketPort(None),
            _ => return None,
        })
    }

    fn text(&self, reason: Reason) -> String {
        self.server.hub().config().language.text(reason).to_owned()
    }

    fn policy(&self) -> LockPolicy {
        let config = self.server.hub().config();
        LockPolicy {
            max_failures: config.max_failures,
            lock_for: config.lock_for,
        }
    }

    async fn answer(
        &self,
        session: u64,
        peer: &str,
        message: &SyncMessage,
    ) -> Result<Option<SyncMessage>, crate::store::StoreError> {
        let hub = self.server.hub();
        let ip = peer.to_owned();
        Ok(Some(match message {
            SyncMessage::Login { user, password } => {
                match self
                    .store
                    .check_login(
                        user,
                        &Secret::new(password.clone()),
                        &ip,
                        now_ms(),
                        self.policy(),
                    )
                    .await?
                {
                    LoginCheck::Ok {
                        previous_login_ms,
                        previous_ip,
                        cameras,
                    } => {
                        hub.set_account(session, user);
                        SyncMessage::LoginOk {
                            camera_count: u32::try_from(cameras).unwrap_or(u32::MAX),
                            last_login_time: previous_login_ms.map(local_time),
                            last_login_ip: previous_ip,
                        }
                    }
                    LoginCheck::Locked { .. } => SyncMessage::LoginError {
                        reason: self.text(Reason::Locked),
                    },
                    LoginCheck::Wrong { .. } | LoginCheck::Unknown => SyncMessage::LoginError {
                        reason: self.text(Reason::WrongLogin),
                    },
                }
            }
            SyncMessage::CreatDataSocket { user, password } => {
                // The session asking must be logged in as that user, or prove it now.
                let allowed = match hub.account_of(session) {
                    Some(account) => account == *user,
                    None => {
                        matches!(
                            self.store
                                .check_login(
                                    user,
                                    &Secret::new(password.clone()),
                                    &ip,
                                    now_ms(),
                                    self.policy()
                                )
                                .await?,
                            LoginCheck::Ok { .. }
                        ) && {
                            hub.set_account(session, user);
                            true
                        }
                    }
                };
                let port = if allowed {
                    self.server.open_data_port(session).await
                } else {
                    None
                };
                SyncMessage::ReturnDataSocketPort(port)
            }
            SyncMessage::UploadCaramer {
                camera_id,
                camera_password,
                total,
                ..
            } => {
                let Some(account) = hub.account_of(session) else {
                    return Ok(Some(SyncMessage::UploadFail {
                        camera_id: camera_id.clone(),
                        reason: self.text(Reason::NotLoggedIn),
                        synced: hub.synced(session),
                        total: *total,
                    }));
                };
                let fail = |reason| SyncMessage::UploadFail {
                    camera_id: camera_id.clone(),
                    reason,
                    synced: hub.synced(session),
                    total: *total,
                };
                let verified = match self.registry.password_matches(camera_id, camera_password) {
                    Some(false) => return Ok(Some(fail(self.text(Reason::IdPasswordMismatch)))),
                    Some(true) => true,
                    None => false,
                };
                let max = hub.config().max_accounts_per_camera;
                match self
                    .store
                    .bind_camera(
                        &account,
                        camera_id,
                        &Secret::new(camera_password.clone()),
                        verified,
                        max,
                    )
                    .await?
                {
                    BindOutcome::Full => fail(self.text(Reason::BindingsFull)),
                    BindOutcome::Added | BindOutcome::Updated => SyncMessage::UploadSucess {
                        camera_id: camera_id.clone(),
                        online: status_of(&self.registry, camera_id),
                        synced: hub.count_synced(session),
                        total: *total,
                    },
                }
            }
            SyncMessage::DownLoadCaramer { downloaded } => {
                let Some(account) = hub.account_of(session) else {
                    return Ok(Some(SyncMessage::DownloadFail {
                        reason: self.text(Reason::NotLoggedIn),
                    }));
                };
                let cameras = self.store.account_cameras(&account).await?;
                let total = u32::try_from(cameras.len()).unwrap_or(u32::MAX);
                match cameras.get(*downloaded as usize) {
                    _ if cameras.is_empty() => SyncMessage::DownloadFail {
                        reason: self.text(Reason::NoCameras),
                    },
                    Some(camera) => SyncMessage::DownloadSucess {
                        camera_id: camera.camera_id.clone(),
                        camera_password: camera.password.expose().to_owned(),
                        online: status_of(&self.registry, &camera.camera_id),
                        current: downloaded + 1,
                        total,
                    },
                    // Past the end: the app already has them all.
                    None => SyncMessage::DownloadFail {
                        reason: self.text(Reason::NoCameras),
                    },
                }
            }
            SyncMessage::Logout => {
                if let Some(account) = hub.logout(session) {
                    tracing::debug!(session, %account, "app logged out");
                }
                SyncMessage::LogoutOk
            }
            SyncMessage::DeleteCaramer { camera_id } => {
                let fail = |reason| SyncMessage::DeleteFail {
                    camera_id: camera_id.clone(),
                    reason,
                };
                let Some(account) = hub.account_of(session) else {
                    return Ok(Some(fail(self.text(Reason::NotLoggedIn))));
                };
                if self.store.unbind_camera(&account, camera_id).await? {
                    SyncMessage::DeleteSucess {
                        camera_id: camera_id.clone(),
                    }
                } else {
                    fail(self.text(Reason::NotBound))
                }
            }
            SyncMessage::ChangeCaramerPassword {
                camera_id,
                camera_password,
            } => {
                self.change_password(session, camera_id, camera_password)
                    .await?
            }
            // Before login nothing is told: every status is `null` ("no data"), so the online
            // state of cameras cannot be probed without an account.
            SyncMessage::CheckCaramerOnlineStatus(ids) if hub.account_of(session).is_none() => {
                SyncMessage::ReturnCaramerOnlineStatus(
                    ids.iter()
                        .map(|id| (id.clone(), OnlineStatus::Unknown))
                        .collect(),
                )
            }
            SyncMessage::CheckCaramerOnlineStatus(ids) => SyncMessage::ReturnCaramerOnlineStatus(
                ids.iter()
                    .map(|id| (id.clone(), status_of(&self.registry, id)))
                    .collect(),
            ),
            // Server-to-app commands sent by an app, and heartbeats (answered by the server).
            _ => return Ok(None),
        }))
    }
}

impl CameraSync {
    /// `ChangeCaramerPassword`: re-checks the password like an upload and replaces it on an
    /// existing binding only (it never creates one).
    async fn change_password(
        &self,
        session: u64,
        camera_id: &str,
        camera_password: &str,
    ) -> Result<SyncMessage, crate::store::StoreError> {
        let hub = self.server.hub();
        let fail = |reason: Reason| SyncMessage::ChangeFail {
            camera_id: camera_id.to_owned(),
            reason: self.text(reason),
        };
        let Some(account) = hub.account_of(session) else {
            return Ok(fail(Reason::NotLoggedIn));
        };
        if !self
            .store
            .camera_accounts(camera_id)
            .await?
            .contains(&account)
        {
            return Ok(fail(Reason::NotBound));
        }
        let verified = match self.registry.password_matches(camera_id, camera_password) {
            Some(false) => return Ok(fail(Reason::IdPasswordMismatch)),
            Some(true) => true,
            None => false,
        };
        let outcome = self
            .store
            .bind_camera(
                &account,
                camera_id,
                &Secret::new(camera_password.to_owned()),
                verified,
                hub.config().max_accounts_per_camera,
            )
            .await?;
        Ok(match outcome {
            BindOutcome::Updated => SyncMessage::ChangeSucess {
                camera_id: camera_id.to_owned(),
            },
            // Unbound by a concurrent `DeleteCaramer` since the check: a change must not
            // bring the binding back.
            BindOutcome::Added => {
                self.store.unbind_camera(&account, camera_id).await?;
                fail(Reason::NotBound)
            }
            BindOutcome::Full => fail(Reason::NotBound),
        })
    }
}

/// `yyyy-MM-dd HH:mm:ss` (UTC) for a Unix ms time, as `LoginOk` carries it.
fn local_time(ms: i64) -> String {
    rfc3339(ms).get(..19).unwrap_or_default().replace('T', " ")
}
