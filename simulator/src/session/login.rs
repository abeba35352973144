//! The DHIP two-step `global.login` on the camera side, and entering a session.

use std::sync::Arc;

use homeport_protocol::hash::{self};
use homeport_protocol::rpc::device::ActiveUser;
use homeport_protocol::rpc::login::{
    ChallengeParams, LoginOkParams, LoginParams, LoginRefusedParams,
};
use homeport_protocol::rpc::{Reply, Request, codes};
use homeport_protocol::wire::Framing;
use rand::Rng;
use serde_json::Value;

use crate::camera::LoginCheck;
use crate::clock;

use super::{Change, Login, Session};

impl Session {
    /// A fresh, non-zero session id.
    pub(super) fn new_session_id(&mut self) -> u32 {
        self.rng.random_range(1..=u32::MAX)
    }

    /// Marks the session logged in and lists its user among the camera's active users.
    pub(super) fn enter(&mut self, session: u32, transport: Framing) {
        // A new login on the same connection replaces the old session's user entry.
        self.close();
        self.login = Login::LoggedIn { session, transport };
        self.camera.add_user(ActiveUser {
            name: self.camera.config().user.clone(),
            client_address: self.peer.clone(),
            login_time: clock::format_time(clock::unix_now()),
            client_type: "Dahua3.0-Web3.0".to_owned(),
            id: session,
        });
    }

    /// Answers `global.login`: the challenge for step 1, then the result for step 2.
    pub(super) fn login(
        &mut self,
        request: &Request,
        transport: Framing,
    ) -> (Reply, Option<Change>) {
        let params = match request.params::<LoginParams>() {
            Ok(params) => params,
            Err(e) => {
                return (
                    request.reply_error(codes::BAD_REQUEST, &e.to_string()),
                    None,
                );
            }
        };
        let challenged = match &self.login {
            Login::Challenged { session, random }
                if !params.is_challenge_request() && request.session == *session =>
            {
                Some((*session, random.clone()))
            }
            _ => None,
        };
        let Some((session, random)) = challenged else {
            let session = self.new_session_id();
            let random = self
                .rng
                .random_range(100_000_000u32..=999_999_999)
                .to_string();
            self.login = Login::Challenged {
                session,
                random: random.clone(),
            };
            let mut reply =
                request.reply_error(codes::LOGIN_CHALLENGE, "Component error: login challenge!");
            reply.session = session;
            reply.params = serde_json::to_value(ChallengeParams {
                realm: self.camera.realm().to_owned(),
                random,
                encryption: "Default".to_owned(),
            })
            .unwrap_or(Value::Null);
            return (reply, None);
        };
        let camera = Arc::clone(&self.camera);
        let password = camera.effective_password();
        let user_ok = params.user_name == camera.config().user;
        let kind = params
            .password_type
            .as_deref()
            .or(params.authority_type.as_deref())
            .unwrap_or("Default");
        let expected = match kind {
            "Plain" => Some(password),
            "OldDigest" => Some(hash::old_digest(&password)),
            "Default" => Some(hash::default_hash(
                &params.user_name,
                &password,
                camera.realm(),
                &random,
            )),
            _ => None,
        };
        let password_ok = expected.is_some_and(|expected| expected == params.password);
        let mut reply = match camera.check_login(user_ok, password_ok) {
            LoginCheck::Ok => {
                self.enter(session, transport);
                let interval = camera.config().keep_alive_interval;
                let reply = request.reply(
                    true,
                    LoginOkParams {
                        keep_alive_interval: interval,
                    },
                );
                return (Reply { session, ..reply }, Some(Change::LoggedIn));
            }
            LoginCheck::Refused { tries_left } => {
                let mut reply =
                    request.reply_error(codes::BAD_PASSWORD, "User or password not valid!");
                reply.params = serde_json::to_value(LoginRefusedParams {
                    remain_lock_second: 0,
                    remain_login_times: tries_left,
                })
                .unwrap_or(Value::Null);
                reply
            }
            LoginCheck::Locked { seconds } => {
                let mut reply = request.reply_error(codes::LOCKED, "User locked!");
                reply.params = serde_json::to_value(LoginRefusedParams {
                    remain_lock_second: seconds.min(u64::from(u32::MAX)) as u32,
                    remain_login_times: 0,
                })
                .unwrap_or(Value::Null);
                reply
            }
        };
        self.login = Login::None;
        reply.session = session;
        (reply, Some(Change::LoginRefused))
    }
}
