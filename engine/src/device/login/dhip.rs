//! DHIP two-step `global.login`: step 1 with an empty password gets the challenge (error
//! 268632079 with realm, random and encryption), step 2 sends the hash it asks for.
//!
//! Only the `Default` hash (an MD5 digest over the device's realm and random) is sent unless
//! the device is configured `legacy`: `Plain`, `Basic` and `OldDigest` give the password away
//! to whoever answers, and a device that "accepts" without a challenge has proved nothing.

use homeport_protocol::hash::{self, Encryption};
use homeport_protocol::rpc::login::{
    ChallengeParams, LoginOkParams, LoginParams, LoginRefusedParams,
};
use homeport_protocol::rpc::{Reply, codes, method};
use homeport_protocol::wire::Framing;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Attempt, DEFAULT_KEEPALIVE, DeviceInfo, LoginError, LoginOk};
use crate::device::LoginProtocol;
use crate::device::link::Link;

/// DHIP two-step `global.login`. `attempt.weak` allows the hashes that expose the password;
/// a challenge whose realm contradicts the pin gets no hash.
pub async fn login_dhip<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    attempt: &Attempt<'_>,
) -> Result<LoginOk, LoginError> {
    let (user, password) = (attempt.user, attempt.password);
    link.set_session(0, Framing::Dhip);
    let (challenge, _) = link
        .call(
            method::LOGIN,
            LoginParams::challenge_request(user),
            attempt.first,
        )
        .await?;
    if challenge.is_ok() {
        return Err(LoginError::Protocol(
            "the device accepted a login without a challenge; refused, as it proves nothing"
                .to_owned(),
        ));
    }
    if challenge.error_code() != Some(codes::LOGIN_CHALLENGE) {
        return Err(refusal(&challenge));
    }
    let params: ChallengeParams = challenge
        .params()
        .map_err(|e| LoginError::Protocol(format!("challenge without realm/random: {e}")))?;
    attempt.check_realm(LoginProtocol::Dhip, &params.realm)?;
    let encryption = Encryption::parse(&params.encryption);
    if !attempt.weak && encryption != Encryption::Default {
        return Err(match encryption {
            Encryption::Other(other) => LoginError::Unsupported(other),
            weak_one => LoginError::Weak(weak_one.as_str().to_owned()),
        });
    }
    let (hashed, kind) =
        hash::password_for(&encryption, user, password, &params.realm, &params.random)
            .map_err(|_| LoginError::Unsupported(params.encryption.clone()))?;
    link.set_session(challenge.session, Framing::Dhip);
    let (answer, _) = link
        .call(
            method::LOGIN,
            LoginParams::answer(user, hashed, kind),
            attempt.reply,
        )
        .await?;
    if !answer.is_ok() {
        return Err(refusal(&answer));
    }
    let session = if answer.session != 0 {
        answer.session
    } else {
        challenge.session
    };
    let keep_alive = serde_json::from_value::<LoginOkParams>(answer.params.clone())
        .map(|p| p.keep_alive_interval)
        .unwrap_or(DEFAULT_KEEPALIVE)
        .max(1);
    link.set_session(session, Framing::Dhip);
    Ok(LoginOk {
        session,
        keep_alive,
        transport: Framing::Dhip,
        info: DeviceInfo::default(),
        realm: Some(params.realm),
    })
}

fn refusal(reply: &Reply) -> LoginError {
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
