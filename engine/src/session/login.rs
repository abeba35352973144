//! Waiting for credentials and logging in, with retries that can never lock a camera.
//!
//! - One attempt at a time per device: only the session logs in; a pipeline's `login` stage or
//!   an API change only wakes it, and nothing wakes it while an attempt or a backoff runs.
//! - A refused login waits out a doubling backoff; new credentials or an operator's request
//!   end the wait at once, a pipeline's request does not.
//! - When the device says one try is left (or none), automatic attempts stop until the
//!   credentials change or an operator asks: the last try is the operator's to spend.
//! - A locked account is left alone for as long as the device says it stays locked.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until};

use super::End;
use crate::device::identity::Mismatch;
use crate::device::link::{Link, LinkError};
use crate::device::login::{self, LoginError, LoginOk, LoginRequest, LoginTimeouts};
use crate::device::{LoginProtocol, Message};
use crate::event::OnlineReason;
use crate::registry::{LoginPlan, Registry, Ticket};

use super::SessionConfig;

/// Waits for credentials and logs in; returns the login and the protocol that worked.
pub(super) async fn log_in<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    config: SessionConfig,
) -> Result<(LoginOk, LoginProtocol), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut backoff = config.login_backoff_min;
    loop {
        let LoginPlan {
            credentials,
            learned,
        } = wait_for_credentials(
            link,
            ticket,
            registry,
            config.pending_timeout,
            config.auto_login,
        )
        .await?;
        registry.logging_in(&ticket.id, ticket.generation);
        let pinned = registry.identity(&ticket.id);
        let request = LoginRequest {
            pinned_realm: pinned.realm.as_ref(),
            protocol: credentials.login_protocol,
            learned,
            user: &credentials.username,
            password: credentials.password.expose(),
            timeouts: LoginTimeouts {
                reply: config.reply_timeout,
                fallback: config.fallback_timeout,
            },
        };
        let refused = match login::login(link, &request).await {
            Ok(ok) => return Ok(ok),
            Err(LoginError::Link(e)) => {
                return Err((OnlineReason::SocketClosed, Some(e.to_string())));
            }
            Err(error @ LoginError::ClosedOn { during }) => {
                let other = if during == LoginProtocol::Dvrip {
                    LoginProtocol::Dhip
                } else {
                    LoginProtocol::Dvrip
                };
                registry.hint_protocol(&ticket.id, other);
                return Err((OnlineReason::SocketClosed, Some(error.to_string())));
            }
            Err(LoginError::IdentityChanged(mismatch)) => {
                // Not the device that proved itself: no hash was sent; close the connection.
                return Err(refuse_identity(registry, ticket, &mismatch));
            }
            Err(refused) => refused,
        };
        let wait = next_wait(&refused, backoff, config.login_backoff_max);
        let detail = match wait {
            Wait::Operator => format!(
                "{refused}; automatic logins stopped until the credentials change or an operator asks for a login"
            ),
            Wait::Locked(d) => format!(
                "{refused}; next try in {} s, when the lock ends",
                d.as_secs()
            ),
            Wait::Backoff(d) => format!("{refused}; next try in {} s", d.as_secs().max(1)),
        };
        tracing::warn!(device = %ticket.id, reason = %detail, "login failed");
        registry.login_failed(&ticket.id, ticket.generation, &detail);
        match wait {
            Wait::Operator => hold(link, ticket, None, Wake::CredentialsOrOperator).await?,
            Wait::Locked(d) => hold(link, ticket, Some(d), Wake::Never).await?,
            Wait::Backoff(d) => {
                hold(link, ticket, Some(d), Wake::CredentialsOrOperator).await?;
                backoff = (backoff * 2).min(config.login_backoff_max);
            }
        }
    }
}

/// Refuses a connection that showed another identity than the pinned one: counted, a
/// `security` event, `login_failed`, and the end of the session.
pub(super) fn refuse_identity(registry: &Registry, ticket: &Ticket, mismatch: &Mismatch) -> End {
    let detail = mismatch.to_string();
    tracing::warn!(device = %ticket.id, reason = %detail, "refusing a login");
    let peer = registry
        .view(&ticket.id)
        .and_then(|v| v.addr)
        .unwrap_or_default();
    registry.identity_refused(&ticket.id, ticket.generation, &peer, &detail);
    (OnlineReason::LoginFailed, Some(detail))
}

/// What to do after a failed login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Nothing automatic can help: wait for new credentials or an operator.
    Operator,
    /// The account is locked this long.
    Locked(Duration),
    /// Try again after this long.
    Backoff(Duration),
}

/// The wait that follows `error`, given the current backoff.
fn next_wait(error: &LoginError, backoff: Duration, longest: Duration) -> Wait {
    if error.needs_operator() {
        return Wait::Operator;
    }
    match error {
        // A lock of unknown length (DVRIP does not say) is waited out as the longest backoff.
        LoginError::Locked { seconds } => Wait::Locked(
            seconds
                .map(|s| Duration::from_secs(u64::from(s) + 1))
                .unwrap_or(longest),
        ),
        _ => Wait::Backoff(backoff),
    }
}

/// What may end a wait early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// New credentials, or an operator asking for a login.
    CredentialsOrOperator,
    /// Nothing: a locked account is not tried before the lock ends.
    Never,
}

/// The current credentials, waiting (while watching the socket) until there are some, the
/// connection is accepted (see [`Ticket::accepted`]) and, without `auto_login`, until a login
/// is asked for.
async fn wait_for_credentials<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    registry: &Registry,
    timeout: Duration,
    auto_login: bool,
) -> Result<LoginPlan, End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let deadline = Instant::now() + timeout;
    let mut asked = auto_login;
    let mut told = false;
    let login_now = Arc::clone(&ticket.login_now);
    let operator = Arc::clone(&ticket.operator_login);
    loop {
        let plan = ticket.credentials.borrow_and_update().clone();
        if let Some(plan) = plan {
            if !ticket.accepted.load(Ordering::Acquire) {
                if !told {
                    registry.awaiting_accept(&ticket.id, ticket.generation);
                    told = true;
                }
            } else if asked {
                return Ok(plan);
            }
        }
        tokio::select! {
            () = login_now.notified() => asked = true,
            () = operator.notified() => asked = true,
            () = ticket.close.cancelled() => return Err(super::serve::closed(ticket)),
            changed = ticket.credentials.changed() => {
                if changed.is_err() {
                    return Err(super::serve::closed(ticket));
                }
            }
            () = sleep_until(deadline) => {
                return Err((OnlineReason::SocketClosed, Some(format!("no credentials within {timeout:?}"))));
            }
            message = link.next() => ignore_while_idle(message)?,
        }
    }
}

/// Waits `wait` (forever if `None`), or less if `wake` allows; watches the socket meanwhile.
async fn hold<S>(
    link: &mut Link<S>,
    ticket: &mut Ticket,
    wait: Option<Duration>,
    wake: Wake,
) -> Result<(), End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let deadline = wait.map_or(far, |w| Instant::now() + w);
    let operator = Arc::clone(&ticket.operator_login);
    let wakes = wake == Wake::CredentialsOrOperator;
    loop {
        tokio::select! {
            () = operator.notified(), if wakes => return Ok(()),
            () = ticket.close.cancelled() => return Err(super::serve::closed(ticket)),
            changed = ticket.credentials.changed(), if wakes => {
                return if changed.is_err() { Err(super::serve::closed(ticket)) } else { Ok(()) };
            }
            () = sleep_until(deadline) => return Ok(()),
            message = link.next() => ignore_while_idle(message)?,
        }
    }
}

fn ignore_while_idle(message: Result<Message, LinkError>) -> Result<(), End> {
    match message {
        Ok(_) => Ok(()),
        Err(e) => Err((OnlineReason::SocketClosed, Some(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(5);
    const MAX: Duration = Duration::from_secs(300);

    fn refused(remaining: Option<u32>) -> LoginError {
        LoginError::Refused {
            code: 268_632_085,
            message: "wrong".to_owned(),
            remaining,
        }
    }

    #[test]
    fn the_last_try_is_left_to_the_operator() {
        assert_eq!(next_wait(&refused(Some(1)), MIN, MAX), Wait::Operator);
        assert_eq!(next_wait(&refused(Some(0)), MIN, MAX), Wait::Operator);
        assert_eq!(next_wait(&refused(Some(2)), MIN, MAX), Wait::Backoff(MIN));
        assert_eq!(next_wait(&refused(None), MIN, MAX), Wait::Backoff(MIN));
    }

    #[test]
    fn a_lock_is_waited_out_for_as_long_as_the_device_says() {
        assert_eq!(
            next_wait(&LoginError::Locked { seconds: Some(30) }, MIN, MAX),
            Wait::Locked(Duration::from_secs(31))
        );
        assert_eq!(
            next_wait(&LoginError::Locked { seconds: None }, MIN, MAX),
            Wait::Locked(MAX)
        );
    }

    #[test]
    fn settings_problems_wait_for_the_operator() {
        assert_eq!(next_wait(&LoginError::NoRealm, MIN, MAX), Wait::Operator);
        assert_eq!(
            next_wait(&LoginError::Weak("Plain".to_owned()), MIN, MAX),
            Wait::Operator
        );
        assert_eq!(
            next_wait(&LoginError::Protocol("x".to_owned()), MIN, MAX),
            Wait::Backoff(MIN)
        );
    }
}
