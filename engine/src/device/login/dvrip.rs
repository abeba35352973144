//! The DVRIP login as the vendor's platform and clients send it.
//!
//! 1. `a0 05 00 60`, trailer +27 = `01`: the opening. Bytes +8..+24 carry the 3DES (Gen0)
//!    user and password only for a device configured `legacy`; otherwise zeros, as a modern
//!    third-party client sends them.
//! 2. The device answers `b0` with the `Realm:`/`Random:` challenge (current firmware) or,
//!    2010-era firmware, the login result directly.
//! 3. `a0 05 00 60`, trailer +27 = `08`, body `user&&<Default hash><realm hash>`.
//! 4. The `b0` result: verdict at +8/+9, channels at +10, device type at +12, session at +16,
//!    tries left at +29, protocol version in byte 3.

use std::time::Duration;

use bytes::Bytes;
use homeport_protocol::dvrip::{DvripPacket, LoginReply, LoginResult};
use homeport_protocol::hash::{Gen0Variant, RealmChallenge, gen0};
use homeport_protocol::wire::Framing;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Attempt, DeviceInfo, LoginError, LoginOk};
use crate::device::LoginProtocol;
use crate::device::link::Link;

/// The keepalive interval reported for a DVRIP session (the device does not say; the session
/// keeps DVRIP links alive with `a1` packets on its own timer).
const DVRIP_KEEPALIVE: u32 = 10;

/// The DVRIP login. `attempt.weak` allows the 3DES opening and a result without a
/// challenge; a challenge whose realm contradicts the pin gets no hash.
pub async fn login_dvrip<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    attempt: &Attempt<'_>,
) -> Result<LoginOk, LoginError> {
    let (user, password) = (attempt.user, attempt.password);
    let mut credentials = [0u8; 16];
    if attempt.weak {
        credentials[..8].copy_from_slice(&gen0(user.as_bytes(), Gen0Variant::Dahua));
        credentials[8..].copy_from_slice(&gen0(password.as_bytes(), Gen0Variant::Dahua));
    }
    link.send_dvrip(DvripPacket::LoginOpen { credentials }.to_frame())
        .await?;
    let answer = next_login_answer(link, attempt.first).await?;
    let text = match answer {
        Answer::Challenge(text) => text,
        Answer::Result(result) if attempt.weak => return finish(link, result, None),
        Answer::Result(LoginReply {
            result: LoginResult::NotImplemented | LoginResult::Other(_),
            ..
        }) => {
            return Err(LoginError::Protocol(
                "the device refused the DVRIP login opening".to_owned(),
            ));
        }
        Answer::Result(LoginReply {
            result: LoginResult::Success,
            ..
        }) => {
            return Err(LoginError::Protocol(
                "the device accepted a DVRIP login without a challenge; refused, as it proves nothing"
                    .to_owned(),
            ));
        }
        Answer::Result(_) => return Err(LoginError::NoRealm),
    };
    let challenge =
        RealmChallenge::parse(&text).map_err(|e| LoginError::Protocol(e.to_string()))?;
    attempt.check_realm(LoginProtocol::Dvrip, challenge.realm())?;
    let body = challenge.login_body(user, password);
    link.send_dvrip(DvripPacket::LoginHash { body: body.into() }.to_frame())
        .await?;
    match next_login_answer(link, attempt.reply).await? {
        Answer::Result(result) => finish(link, result, Some(challenge.realm().to_owned())),
        Answer::Challenge(_) => Err(LoginError::Protocol(
            "a second realm challenge instead of the login result".to_owned(),
        )),
    }
}

/// A device's `b0` answer.
enum Answer {
    Challenge(Bytes),
    Result(LoginReply),
}

/// The next `b0` answer (challenge or result), skipping anything else the device sends
/// meanwhile.
async fn next_login_answer<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    timeout: Duration,
) -> Result<Answer, LoginError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = link.next_dvrip(left).await?;
        match DvripPacket::parse(&frame) {
            DvripPacket::RealmChallenge { text } => return Ok(Answer::Challenge(text)),
            DvripPacket::LoginReply(reply) => return Ok(Answer::Result(reply)),
            other => tracing::debug!(?other, "ignoring a DVRIP packet during login"),
        }
    }
}

fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    reply: LoginReply,
    realm: Option<String>,
) -> Result<LoginOk, LoginError> {
    match reply.result {
        LoginResult::Success => {
            link.set_session(reply.session, Framing::Dvrip);
            Ok(LoginOk {
                session: reply.session,
                keep_alive: DVRIP_KEEPALIVE,
                transport: Framing::Dvrip,
                info: DeviceInfo {
                    channels: Some(reply.channels),
                    device_type: Some(reply.device_type),
                    protocol_version: Some(reply.version),
                },
                realm,
            })
        }
        LoginResult::Locked => Err(LoginError::Locked { seconds: None }),
        LoginResult::NotImplemented => Err(LoginError::Protocol(
            "the device answered the hash login \"not implemented\"".to_owned(),
        )),
        result => Err(LoginError::Refused {
            code: i64::from(u16::from_be_bytes(result.to_bytes())),
            message: describe(result).to_owned(),
            remaining: Some(u32::from(reply.remaining_tries)),
        }),
    }
}

fn describe(result: LoginResult) -> &'static str {
    match result {
        LoginResult::BadPassword => "wrong password",
        LoginResult::BadUser => "unknown user",
        LoginResult::Blocklisted => "this address is on the device's block list",
        LoginResult::NotInitialised => "the device is not initialised (no admin password set)",
        LoginResult::AlreadyLoggedIn => "the user is already logged in",
        _ => "login refused",
    }
}
