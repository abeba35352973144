//! Logging in to a device as a client, over a register socket or a direct connection.
//!
//! - `dvrip` — the DVRIP login as the vendor's own platform and clients send it: the
//!   `a0 05 00 60` opening, the realm challenge, the `user&&hashes` hash login; JSON then
//!   travels in `f6` packets.
//! - `dhip` — DHIP two-step `global.login`.
//!
//! `auto` tries DVRIP first (the vendor's platform speaks nothing else on the registration
//! socket) and falls back to DHIP on the same socket when the device refuses DVRIP or does not
//! answer within the fallback window; the protocol that worked last time goes first. A device
//! that answers and says no is never asked again in the other protocol: that would spend one
//! more of its login tries.

mod dhip;
mod dvrip;

use std::time::Duration;

use homeport_protocol::wire::Framing;
use tokio::io::{AsyncRead, AsyncWrite};

use super::identity::{Mismatch, PinnedRealm};
use super::link::{Link, LinkError};
use super::protocol::LoginProtocol;

pub use dhip::login_dhip;
pub use dvrip::login_dvrip;

/// Keepalive interval assumed when a device does not say (60 s on every public capture).
pub const DEFAULT_KEEPALIVE: u32 = 60;

/// What a device says about itself in a DVRIP login result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Video channels (+10 of the result).
    pub channels: Option<u8>,
    /// Product type (+12).
    pub device_type: Option<u8>,
    /// Protocol version (byte 3 >> 4): 7 on current firmware, 6 on 2010-era firmware, which
    /// speaks no JSON.
    pub protocol_version: Option<u8>,
}

impl DeviceInfo {
    /// Whether the device speaks JSON-RPC (every DHIP device; DVRIP protocol version ≥ 7).
    pub fn speaks_json(&self) -> bool {
        self.protocol_version.is_none_or(|v| v >= 7)
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOk {
    /// The session id.
    pub session: u32,
    /// Seconds between keepalives the device asked for (DHIP; DVRIP does not say).
    pub keep_alive: u32,
    /// The framing JSON-RPC uses from now on.
    pub transport: Framing,
    /// What the device said about itself.
    pub info: DeviceInfo,
    /// The realm of the challenge the login answered.
    pub realm: Option<String>,
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
    /// The device asked for a login that exposes the password, and the device is not
    /// configured for it.
    #[error(
        "the device asks for the {0} login, which exposes the password; set its login protocol to `legacy` to allow it"
    )]
    Weak(String),
    /// The device answered the DVRIP opening with a result instead of a realm challenge: it
    /// has only the 2010-era 3DES login.
    #[error(
        "the device has no realm login, only the legacy 3DES one; set its login protocol to `legacy` to allow it (the password then crosses the network in a reversible form)"
    )]
    NoRealm,
    /// The device's realm differs from the one it showed at its first login; no hash was
    /// sent.
    #[error("{0}")]
    IdentityChanged(Mismatch),
    /// The device closed the connection on the first protocol `auto` tried: the other one
    /// goes first on its next connection.
    #[error("the device closed the connection on the {during} login; {} goes first next time", if *during == LoginProtocol::Dvrip { "DHIP" } else { "DVRIP" })]
    ClosedOn {
        /// The protocol it refused that way.
        during: LoginProtocol,
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

    /// Whether retrying with the same credentials and settings cannot help: automatic
    /// attempts stop until the credentials or settings change, or an operator asks.
    pub fn needs_operator(&self) -> bool {
        match self {
            Self::Refused {
                remaining: Some(n), ..
            } => *n <= 1,
            Self::Weak(_) | Self::NoRealm | Self::Unsupported(_) | Self::IdentityChanged(_) => true,
            _ => false,
        }
    }

    /// Whether the device did not speak this protocol at all (silence, a refusal of the
    /// protocol, bytes of the other framing), so the other one may be tried on the socket.
    fn wrong_protocol(&self) -> bool {
        matches!(
            self,
            Self::Protocol(_) | Self::Link(LinkError::Timeout { .. } | LinkError::Unexpected(_))
        )
    }
}

/// How long the steps of a login wait.
#[derive(Debug, Clone, Copy)]
pub struct LoginTimeouts {
    /// Each step's reply.
    pub reply: Duration,
    /// The first reply of the first protocol `auto` tries, before it falls back (the vendor
    /// SDK waits 5 s).
    pub fallback: Duration,
}

impl LoginTimeouts {
    /// Both waits the same.
    pub fn uniform(timeout: Duration) -> Self {
        Self {
            reply: timeout,
            fallback: timeout,
        }
    }
}

/// One login to make.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    /// The configured protocol.
    pub protocol: LoginProtocol,
    /// The protocol `auto` succeeded with last time, tried first.
    pub learned: Option<LoginProtocol>,
    /// Login user.
    pub user: &'a str,
    /// Login password.
    pub password: &'a str,
    /// The realm the device showed at its first login: a challenge with another one gets no
    /// hash.
    pub pinned_realm: Option<&'a PinnedRealm>,
    /// How long to wait.
    pub timeouts: LoginTimeouts,
}

impl<'a> LoginRequest<'a> {
    /// A login with nothing learned and one timeout for every step.
    pub fn new(
        protocol: LoginProtocol,
        user: &'a str,
        password: &'a str,
        timeout: Duration,
    ) -> Self {
        Self {
            protocol,
            learned: None,
            user,
            password,
            pinned_realm: None,
            timeouts: LoginTimeouts::uniform(timeout),
        }
    }
}

/// One login in one protocol.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Login user.
    pub user: &'a str,
    /// Login password.
    pub password: &'a str,
    /// Whether the logins that expose the password are allowed (`legacy`).
    pub weak: bool,
    /// The pinned realm, if any.
    pub pinned_realm: Option<&'a PinnedRealm>,
    /// How long the device's first answer may take.
    pub first: Duration,
    /// How long each later answer may take.
    pub reply: Duration,
}

impl<'a> Attempt<'a> {
    fn of(request: &LoginRequest<'a>, weak: bool, first: Duration) -> Self {
        Self {
            user: request.user,
            password: request.password,
            weak,
            pinned_realm: request.pinned_realm,
            first,
            reply: request.timeouts.reply,
        }
    }

    /// Refuses a challenge whose realm contradicts the pin, before any hash is sent.
    fn check_realm(&self, protocol: LoginProtocol, realm: &str) -> Result<(), LoginError> {
        match self.pinned_realm {
            Some(pin) if pin.contradicts(protocol, realm) => {
                Err(LoginError::IdentityChanged(Mismatch {
                    what: "realm",
                    pinned: pin.realm.clone(),
                    seen: realm.to_owned(),
                }))
            }
            _ => Ok(()),
        }
    }
}

/// Logs in as `request` says. Returns the protocol that worked with the session.
pub async fn login<S: AsyncRead + AsyncWrite + Unpin>(
    link: &mut Link<S>,
    request: &LoginRequest<'_>,
) -> Result<(LoginOk, LoginProtocol), LoginError> {
    let reply = request.timeouts.reply;
    match request.protocol {
        LoginProtocol::Dhip => login_dhip(link, &Attempt::of(request, false, reply))
            .await
            .map(|ok| (ok, LoginProtocol::Dhip)),
        LoginProtocol::Dvrip => login_dvrip(link, &Attempt::of(request, false, reply))
            .await
            .map(|ok| (ok, LoginProtocol::Dvrip)),
        LoginProtocol::Auto | LoginProtocol::Legacy => {
            let weak = request.protocol == LoginProtocol::Legacy;
            let dhip_first = request.learned == Some(LoginProtocol::Dhip);
            let first = Attempt::of(request, weak, request.timeouts.fallback);
            let first = if dhip_first {
                login_dhip(link, &first).await
            } else {
                login_dvrip(link, &first).await
            };
            match first {
                Err(e) if e.wrong_protocol() => {
                    tracing::debug!(error = %e, dhip_first, "login: trying the other protocol");
                    let second = Attempt::of(request, weak, reply);
                    if dhip_first {
                        login_dvrip(link, &second)
                            .await
                            .map(|ok| (ok, LoginProtocol::Dvrip))
                    } else {
                        login_dhip(link, &second)
                            .await
                            .map(|ok| (ok, LoginProtocol::Dhip))
                    }
                }
                Err(LoginError::Link(LinkError::Closed)) => Err(LoginError::ClosedOn {
                    during: if dhip_first {
                        LoginProtocol::Dhip
                    } else {
                        LoginProtocol::Dvrip
                    },
                }),
                Ok(ok) if dhip_first => Ok((ok, LoginProtocol::Dhip)),
                Ok(ok) => Ok((ok, LoginProtocol::Dvrip)),
                Err(e) => Err(e),
            }
        }
    }
}
