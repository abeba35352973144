//! Logging in to a device as a client, over a register socket or a direct connection.
//!
//! DHIP: `global.login` with an empty password, then again with the hash the challenge asks
//! for. DVRIP: `a0 01` for the realm, `a0 05` with `user&&hashes`, then JSON in `f6` packets.

use std::time::Duration;

use homeport_protocol::dvrip::{DvripPacket, LoginResult};
use homeport_protocol::hash::{self, Encryption, RealmChallenge};
use homeport_protocol::rpc::login::{
    ChallengeParams, LoginOkParams, LoginParams, LoginRefusedParams,
};
use homeport_protocol::rpc::{codes, method};
use tokio::io::{AsyncRead, AsyncWrite};

use super::link::{Link, LinkError, Transport};
use super::protocol::LoginProtocol;

/// Keepalive interval assumed when a device does not say (60 s on every public capture).
pub const DEFAULT_KEEPALIVE: u32 = 60;

/// A successful login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginOk {
    /// The session id.
    pub session: u32,
    /// Seconds between keepalives the device asked for.
    pub keep_alive: u32,
    /// The framing JSON-RPC uses from now on.
    pub transport: Transport,
}

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The device refused the user or password.
    #[error("the device refused the credentials ({code}: {message}){}", remaining.map(|n| format!(", {n} tries left")).unwrap_or_default())]
    Refused {
        /// The device's error code.
        code: i64,
        /// The device's text.
        message: String,
        /// Tries left before the device locks the account, if it said.
        remaining: Option<u32>,
    },
    /// The device locked the account.
    #[error("the device locked the account{}", seconds.map(|s| format!(" for {s} s")).unwrap_or_default())]
    Locked {
        /// Seconds until it unlocks, if it said.
        seconds: Option<u32>,
    },
    /// The device asked for a hash homeport does not implement.
    #[error("unsupported login encryption {0:?}")]
    Unsupported(String),
    /// The device answered something that is not a login reply.
    #[error("unexpected login reply: {0}")]
    Protocol(String),
    /// The connection failed.
    #[error(transparent)]
    Link(#[from] LinkError),
}

impl LoginError {
    /// Whether the device was reached and said no (so trying another protocol is pointless).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Locked { .. })
    }
}

/// Logs in with `protocol`; `Auto` tries DHIP first and falls back to DVRIP on a protocol
/// error (not on a refusal).
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    protocol: LoginProtocol,
    user: &str,
    password: &str,
    timeout: Duration,
) -> Result<LoginOk, LoginError> {
    match protocol {
        LoginProtocol::Dhip => login_dhip(link, user, password, timeout).await,
        LoginProtocol::Dvrip => login_dvrip(link, user, password, timeout).await,
        LoginProtocol::Auto => match login_dhip(link, user, password, timeout).await {
            Err(
                LoginError::Protocol(_)
                | LoginError::Unsupported(_)
                | LoginError::Link(LinkError::Timeout { .. }),
            ) => login_dvrip(link, user, password, timeout).await,
            other => other,
        },
    }
}

/// DHIP two-step `global.login`.
pub async fn login_dhip<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    user: &str,
    password: &str,
    timeout: Duration,
) -> Result<LoginOk, LoginError> {
    link.set_session(0, Transport::Dhip);
    let (challenge, _) = link
        .call(method::LOGIN, LoginParams::challenge_request(user), timeout)
        .await?;
    if challenge.is_ok() {
        // Some devices accept without a challenge.
        return Ok(accepted(
            link,
            challenge.session,
            &challenge.params,
            Transport::Dhip,
        ));
    }
    if challenge.error_code() != Some(codes::LOGIN_CHALLENGE) {
        return Err(refusal(&challenge));
    }
    let params: ChallengeParams = challenge
        .params()
        .map_err(|e| LoginError::Protocol(format!("challenge without realm/random: {e}")))?;
    let encryption = Encryption::parse(&params.encryption);
    let (hashed, kind) =
        hash::password_for(&encryption, user, password, &params.realm, &params.random)
            .map_err(|_| LoginError::Unsupported(params.encryption.clone()))?;
    link.set_session(challenge.session, Transport::Dhip);
    let (reply, _) = link
        .call(
            method::LOGIN,
            LoginParams::answer(user, hashed, kind),
            timeout,
        )
        .await?;
    if reply.is_ok() {
        let session = if reply.session != 0 {
            reply.session
        } else {
            challenge.session
        };
        return Ok(accepted(link, session, &reply.params, Transport::Dhip));
    }
    Err(refusal(&reply))
}

/// The DVRIP realm login; JSON-RPC then travels in `f6` packets.
pub async fn login_dvrip<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    user: &str,
    password: &str,
    timeout: Duration,
) -> Result<LoginOk, LoginError> {
    link.send_dvrip(DvripPacket::RealmRequest.to_frame())
        .await?;
    let frame = link.next_dvrip(timeout).await?;
    let DvripPacket::RealmChallenge { text } = DvripPacket::parse(&frame) else {
        return Err(LoginError::Protocol(format!(
            "expected a realm challenge, got command {:#04x}",
            frame.command()
        )));
    };
    let challenge =
        RealmChallenge::parse(&text).map_err(|e| LoginError::Protocol(e.to_string()))?;
    let body = challenge.login_body(user, password);
    link.send_dvrip(DvripPacket::LoginHash { body: body.into() }.to_frame())
        .await?;
    let frame = link.next_dvrip(timeout).await?;
    match DvripPacket::parse(&frame) {
        DvripPacket::LoginReply {
            result: LoginResult::Success,
            session,
            ..
        } => {
            link.set_session(session, Transport::Dvrip);
            Ok(LoginOk {
                session,
                keep_alive: DEFAULT_KEEPALIVE,
                transport: Transport::Dvrip,
            })
        }
        DvripPacket::LoginReply {
            result: LoginResult::Locked,
            ..
        } => Err(LoginError::Locked { seconds: None }),
        DvripPacket::LoginReply {
            result,
            remaining_tries,
            ..
        } => Err(LoginError::Refused {
            code: i64::from(match result {
                LoginResult::BadUser => 0x0101,
                LoginResult::BadPassword => 0x0100,
                _ => 0,
            }),
            message: format!("{result:?}"),
            remaining: Some(u32::from(remaining_tries)),
        }),
        other => Err(LoginError::Protocol(format!(
            "expected a login reply, got {other:?}"
        ))),
    }
}

fn accepted<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    session: u32,
    params: &serde_json::Value,
    transport: Transport,
) -> LoginOk {
    let keep_alive = serde_json::from_value::<LoginOkParams>(params.clone())
        .map(|p| p.keep_alive_interval)
        .unwrap_or(DEFAULT_KEEPALIVE)
        .max(1);
    link.set_session(session, transport);
    LoginOk {
        session,
        keep_alive,
        transport,
    }
}

fn refusal(reply: &homeport_protocol::rpc::Reply) -> LoginError {
    let Some(error) = &reply.error else {
        return LoginError::Protocol(format!(
            "login reply without result or error: {}",
            String::from_utf8_lossy(&reply.to_json())
        ));
    };
    let params: Option<LoginRefusedParams> = reply.params().ok();
    if error.code == codes::LOCKED {
        return LoginError::Locked {
            seconds: params.map(|p| p.remain_lock_second),
        };
    }
    LoginError::Refused {
        code: error.code,
        message: error.message.clone().unwrap_or_default(),
        remaining: params.map(|p| p.remain_login_times),
    }
}
