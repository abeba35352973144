//! `camera_sync`: answer the camera-sync commands of client apps (`sync_request` events).
//!
//! Accounts and bindings live in the store; online status comes from the registry. Login
//! checks the account's argon2id hash through the server's guard (backoff per source address
//! and per account name, a capped number of hashes at once, nothing hashed for a connection
//! that is gone); it runs as a task of the sync server so a slow hash never holds up the
//! pipeline's other sessions, and the connection reads no further command until it is
//! answered. Uploads bind a camera to the account after checking its password against the
//! gateway's own credentials for it (the ones it logs in with, so "verified by a login" for an
//! online camera); wrong camera passwords are counted like wrong logins, per account and per
//! source. A camera the gateway has no credentials for is bound unverified: it takes no
//! binding place and gets no pushes until the camera registers and the password is confirmed
//! (`sync_push`). Downloads list the account's cameras one per request.
//!
//! The commands the truncated seed implies (ours, see `homeport_protocol::sync::command`):
//!
//! | Command | Needs a login | Answer |
//! |---|---|---|
//! | `Logout` | no (idempotent) | `LogoutOk`; the session's account is forgotten, pushes stop |
//! | `DeleteCaramer id` | yes | `DeleteSucess id`, or `DeleteFail id\|reason` (not bound, not logged in) |
//! | `ChangeCaramerPassword id\|pw` | yes | `ChangeSucess id`, or `ChangeFail id\|reason` (mismatch, not bound, not logged in, too many attempts) |
//!
//! `Logout` on a data connection logs out its main session (the one it acts for); the
//! account's other sessions stay logged in. A new password is checked like an upload's:
//! against the gateway's credentials for the camera when it has them, else stored unverified.

use std::net::IpAddr;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use homeport_protocol::sync::{OnlineStatus, SyncMessage};
use tokio_util::sync::CancellationToken;

use super::build::{Build, or_checked};
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::camera_sync::texts::Reason;
use crate::camera_sync::{Attempt, SyncHub, SyncServer};
use crate::event::{EventKind, now_ms};
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::PolicyOnly;
use crate::registry::Registry;
use crate::secret::Secret;
use crate::store::{BindOutcome, LoginCheck, Store, StoreError};
use crate::time::rfc3339;

/// Builds a `camera_sync` stage.
pub fn build(_spec: &PolicyOnly, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    Ok(or_checked(cx.sync("camera_sync")?, |(server, store)| {
        Box::new(CameraSync {
            store,
            registry: Arc::clone(&cx.services.registry),
            server,
        })
    }))
}

/// Answers app commands.
#[derive(Debug)]
pub struct CameraSync {
    /// The store (accounts, bindings).
    pub store: Store,
    /// The registry (online status, camera credentials).
    pub registry: Arc<Registry>,
    /// The sync server (sessions, data ports, guard).
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

/// Tells the connection it may read on once the answer to its login is out (or given up),
/// however the work ends.
struct Answering {
    hub: Arc<SyncHub>,
    session: u64,
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.hub.settle(self.session);
    }
}

/// What the check of a camera password found.
enum CameraCheck {
    /// The gateway's credentials for it match.
    Verified,
    /// The gateway has no credentials for it: nothing to check against.
    Unknown,
    /// They do not match (counted).
    Mismatch,
    /// Not checked: the account or the source is in backoff.
    Refused,
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
            let session = *session;
            let Ok(peer) = peer.parse::<IpAddr>() else {
                return Ok(Outcome::Drop("bad_peer"));
            };
            if crate::camera_sync::server::answer_first(message) {
                self.answer_later(session, peer, Arc::clone(message));
                return Ok(Outcome::Continue);
            }
            let reply = match self.answer(session, peer, message).await {
                Ok(reply) => reply,
                // Input the store refuses (an empty or overlong ID, a control character): the
                // app gets a refusal it can show, not silence.
                Err(StoreError::Invalid(why)) => {
                    tracing::info!(session, %why, "refusing an app command");
                    refusal(self.server.hub(), session, message)
                }
                Err(e) => return Err(StageError::new(e.to_string())),
            };
            if let Some(reply) = reply {
                self.server.hub().send(session, reply);
            }
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}

/// The refusal matching a command whose input the store did not accept.
fn refusal(hub: &SyncHub, session: u64, message: &SyncMessage) -> Option<SyncMessage> {
    let text = |reason| hub.config().language.text(reason).to_owned();
    let reason = text(Reason::IdPasswordMismatch);
    Some(match message {
        SyncMessage::UploadCaramer {
            camera_id, total, ..
        } => SyncMessage::UploadFail {
            camera_id: camera_id.clone(),
            reason,
            synced: hub.synced(session),
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
            reason: text(Reason::WrongLogin),
        },
        SyncMessage::CreatDataSocket { .. } => SyncMessage::ReturnDataSocketPort(None),
        _ => return None,
    })
}

/// A `Login` or `CreatDataSocket` being answered as a task of the sync server.
struct LoginJob {
    store: Store,
    server: Arc<SyncServer>,
    session: u64,
    peer: IpAddr,
    message: Arc<SyncMessage>,
    _answering: Answering,
}

/// How a password check ended, for the answer.
enum Checked {
    /// Logged in (the session now acts for the account).
    In(SyncMessage),
    /// Refused, with the reason to show.
    Refused(Reason),
    /// No answer: the connection is gone, or the store failed (logged).
    Silent,
}

impl LoginJob {
    async fn run(self) {
        let hub = self.server.hub();
        let reply = match &*self.message {
            SyncMessage::Login { user, password } => match self.login(user, password).await {
                Checked::In(ok) => Some(ok),
                Checked::Refused(reason) => Some(SyncMessage::LoginError {
                    reason: hub.config().language.text(reason).to_owned(),
                }),
                Checked::Silent => None,
            },
            SyncMessage::CreatDataSocket {
                user,
                password,
                token,
            } => {
                // The session asking must be logged in as that user, or prove it now.
                let allowed = match hub.account_of(self.session) {
                    Some(account) => account == *user,
                    None => matches!(self.login(user, password).await, Checked::In(_)),
                };
                let port = if allowed {
                    self.server.open_data_port(self.session, *token).await
                } else {
                    None
                };
                Some(SyncMessage::ReturnDataSocketPort(port))
            }
            _ => None,
        };
        if let Some(reply) = reply {
            hub.send(self.session, reply);
        }
    }

    /// Checks `user`/`password` through the guard; on success the session is logged in.
    async fn login(&self, user: &str, password: &str) -> Checked {
        let hub = self.server.hub();
        let gone = hub.close_token(self.session).unwrap_or_else(|| {
            let gone = CancellationToken::new();
            gone.cancel();
            gone
        });
        let attempt = self
            .server
            .guard()
            .login(
                &self.store,
                &gone,
                self.peer,
                user,
                &Secret::new(password.to_owned()),
                now_ms(),
            )
            .await;
        match attempt {
            Ok(Attempt::Checked(LoginCheck::Ok {
                previous_login_ms,
                previous_ip,
                cameras,
            })) => {
                hub.set_account(self.session, user);
                Checked::In(SyncMessage::LoginOk {
                    camera_count: u32::try_from(cameras).unwrap_or(u32::MAX),
                    last_login_time: previous_login_ms.map(local_time),
                    last_login_ip: previous_ip,
                })
            }
            // The same text for an unknown name and a wrong password.
            Ok(Attempt::Checked(LoginCheck::Wrong | LoginCheck::Unknown)) => {
                Checked::Refused(Reason::WrongLogin)
            }
            Ok(Attempt::Refused) => Checked::Refused(Reason::TooManyAttempts),
            Ok(Attempt::Cancelled) => Checked::Silent,
            Err(StoreError::Invalid(why)) => {
                tracing::info!(session = self.session, %why, "refusing an app login");
                Checked::Refused(Reason::WrongLogin)
            }
            Err(e) => {
                tracing::error!(session = self.session, error = %e, "an app login failed");
                Checked::Silent
            }
        }
    }
}

impl CameraSync {
    fn text(&self, reason: Reason) -> String {
        self.server.hub().config().language.text(reason).to_owned()
    }

    /// Answers a `Login` or `CreatDataSocket` as a task of the sync server.
    fn answer_later(&self, session: u64, peer: IpAddr, message: Arc<SyncMessage>) {
        let job = LoginJob {
            store: self.store.clone(),
            server: Arc::clone(&self.server),
            session,
            peer,
            message,
            _answering: Answering {
                hub: Arc::clone(self.server.hub()),
                session,
            },
        };
        self.server.spawn(job.run());
    }

    /// Checks a camera password an app sent for `account` from `peer`.
    fn check_camera(
        &self,
        account: &str,
        peer: IpAddr,
        camera: &str,
        password: &str,
    ) -> CameraCheck {
        if !self.registry.is_known(camera) {
            return CameraCheck::Unknown;
        }
        let guard = self.server.guard();
        if !guard.camera_allowed(account, peer) {
            return CameraCheck::Refused;
        }
        match self.registry.password_matches(camera, password) {
            Some(true) => CameraCheck::Verified,
            Some(false) => {
                guard.camera_failed(account, peer);
                CameraCheck::Mismatch
            }
            None => CameraCheck::Unknown,
        }
    }

    async fn answer(
        &self,
        session: u64,
        peer: IpAddr,
        message: &SyncMessage,
    ) -> Result<Option<SyncMessage>, StoreError> {
        let hub = self.server.hub();
        Ok(Some(match message {
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
                let verified = match self.check_camera(&account, peer, camera_id, camera_password) {
                    CameraCheck::Refused => {
                        return Ok(Some(fail(self.text(Reason::TooManyAttempts))));
                    }
                    CameraCheck::Mismatch => {
                        return Ok(Some(fail(self.text(Reason::IdPasswordMismatch))));
                    }
                    CameraCheck::Verified => true,
                    CameraCheck::Unknown => false,
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
                self.change_password(session, peer, camera_id, camera_password)
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
            // Logins (answered by a task), server-to-app commands sent by an app, and
            // heartbeats (answered by the server).
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
        peer: IpAddr,
        camera_id: &str,
        camera_password: &str,
    ) -> Result<SyncMessage, StoreError> {
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
        let verified = match self.check_camera(&account, peer, camera_id, camera_password) {
            CameraCheck::Refused => return Ok(fail(Reason::TooManyAttempts)),
            CameraCheck::Mismatch => return Ok(fail(Reason::IdPasswordMismatch)),
            CameraCheck::Verified => true,
            CameraCheck::Unknown => false,
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
            // Verified now, but the camera's verified places are taken: the binding stays as
            // it was.
            BindOutcome::Full => fail(Reason::BindingsFull),
        })
    }
}

/// `yyyy-MM-dd HH:mm:ss` (UTC) for a Unix ms time, as `LoginOk` carries it.
fn local_time(ms: i64) -> String {
    rfc3339(ms).get(..19).unwrap_or_default().replace('T', " ")
}
