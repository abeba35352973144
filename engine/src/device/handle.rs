//! The cheap, cloneable handle to a logged-in device: commands go to its session task, which
//! runs them one at a time over the device's socket.

use std::time::Duration;

use bytes::Bytes;
use homeport_protocol::rpc::config::ConfigTable;
use homeport_protocol::rpc::snapshot::{SnapParams, SnapReplyParams};
use homeport_protocol::rpc::{Reply, method};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// Commands waiting for a device, per device.
pub const COMMAND_QUEUE: usize = 32;

/// Where the answer to an RPC goes: the reply and the binary payload that followed it.
pub type RpcReply = oneshot::Sender<Result<(Reply, Option<Bytes>), CommandError>>;

/// A command for a device's session.
#[derive(Debug)]
pub enum Command {
    /// A JSON-RPC call.
    Rpc {
        /// The RPC method.
        method: String,
        /// Its params.
        params: Value,
        /// How long to wait for the reply.
        timeout: Duration,
        /// Where the reply goes.
        reply: RpcReply,
    },
    /// Is the device still there? A keepalive (DHIP) or keep-life packet (DVRIP) that must be
    /// answered in time; a session that fails it ends. Asked when another connection announces
    /// the same ID: a live session is never replaced by an unproven newcomer.
    Probe {
        /// How long the device has to answer.
        timeout: Duration,
        /// Whether it answered.
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// A JPEG of one channel, by whichever means the device has: the JSON snapshot call, or
    /// the DVRIP snapshot (`0x11` → `0xbc` pieces) where it has no JSON one.
    Snapshot {
        /// The channel.
        channel: u32,
        /// How long to wait for the whole picture.
        timeout: Duration,
        /// Where the picture goes.
        reply: oneshot::Sender<Result<Bytes, CommandError>>,
    },
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The device is not connected and logged in.
    #[error("device is not online")]
    NotOnline,
    /// Too many commands are already waiting for this device.
    #[error("device is busy: {COMMAND_QUEUE} commands already queued")]
    Busy,
    /// No reply in time.
    #[error("device did not answer within {0:?}")]
    Timeout(Duration),
    /// The session ended before the reply.
    #[error("device disconnected before answering")]
    Disconnected,
    /// The device answered with an error.
    #[error("device refused {method}: {code} {message}")]
    Device {
        /// The method called.
        method: String,
        /// Its error code.
        code: i64,
        /// Its text.
        message: String,
    },
    /// The device cannot do this (a 2010-era device speaks no JSON-RPC).
    #[error("the device cannot do this: {0}")]
    Unsupported(String),
    /// The device answered something unusable.
    #[error("unexpected reply to {method}: {detail}")]
    BadReply {
        /// The method called.
        method: String,
        /// What was wrong.
        detail: String,
    },
}

/// A handle to one device session.
#[derive(Debug, Clone)]
pub struct DeviceHandle {
    // Boxed: the channel allocates its slots up front, and a box is a pointer.
    commands: mpsc::Sender<Box<Command>>,
    timeout: Duration,
}

impl DeviceHandle {
    /// A handle and the receiving end its session serves.
    pub fn channel(timeout: Duration) -> (Self, mpsc::Receiver<Box<Command>>) {
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        (Self { commands, timeout }, receiver)
    }

    /// Whether the session behind the handle is gone.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    /// Calls any method; the reply and its binary payload come back as they are.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<(Reply, Option<Bytes>), CommandError> {
        let (reply, receiver) = oneshot::channel();
        self.send(Command::Rpc {
            method: method.to_owned(),
            params,
            timeout: self.timeout,
            reply,
        })?;
        receiver.await.map_err(|_| CommandError::Disconnected)?
    }

    fn send(&self, command: Command) -> Result<(), CommandError> {
        self.commands
            .try_send(Box::new(command))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => CommandError::Busy,
                mpsc::error::TrySendError::Closed(_) => CommandError::NotOnline,
            })
    }

    /// Calls a method and fails on an error reply.
    pub async fn call_ok(
        &self,
        method: &str,
        params: Value,
    ) -> Result<(Reply, Option<Bytes>), CommandError> {
        let (reply, payload) = self.call(method, params).await?;
        if reply.is_ok() {
            return Ok((reply, payload));
        }
        let (code, message) = reply.error.map_or((0, String::new()), |e| {
            (e.code, e.message.unwrap_or_default())
        });
        Err(CommandError::Device {
            method: method.to_owned(),
            code,
            message,
        })
    }

    /// Reads a config table.
    pub async fn get_config(&self, name: &str) -> Result<Value, CommandError> {
        let (reply, _) = self
            .call_ok(method::GET_CONFIG, json!({ "name": name }))
            .await?;
        let table: ConfigTable = reply.params().map_err(|e| bad(method::GET_CONFIG, e))?;
        Ok(table.table)
    }

    /// Writes a whole config table.
    pub async fn set_config(&self, name: &str, table: Value) -> Result<(), CommandError> {
        self.call_ok(method::SET_CONFIG, json!({ "name": name, "table": table }))
            .await
            .map(|_| ())
    }

    /// Read, merge `patch` into the table (objects merge key by key, anything else replaces),
    /// write the whole table back, and return what was written: fields the patch does not
    /// name are kept as the device had them.
    pub async fn update_config(&self, name: &str, patch: &Value) -> Result<Value, CommandError> {
        let mut table = self.get_config(name).await?;
        merge(&mut table, patch);
        self.set_config(name, table.clone()).await?;
        Ok(table)
    }

    /// Checks that the device still answers within `timeout` (see [`Command::Probe`]).
    pub async fn probe(&self, timeout: Duration) -> Result<(), CommandError> {
        let (reply, receiver) = oneshot::channel();
        match self.send(Command::Probe { timeout, reply }) {
            // A full queue is a busy session, not a dead one.
            Err(CommandError::Busy) => return Ok(()),
            other => other?,
        }
        tokio::time::timeout(timeout + Duration::from_secs(1), receiver)
            .await
            .map_err(|_| CommandError::Timeout(timeout))?
            .map_err(|_| CommandError::Disconnected)?
    }

    /// Takes a JPEG snapshot of `channel`.
    pub async fn snapshot(&self, channel: u32) -> Result<Bytes, CommandError> {
        let (reply, receiver) = oneshot::channel();
        self.send(Command::Snapshot {
            channel,
            timeout: self.timeout,
            reply,
        })?;
        receiver.await.map_err(|_| CommandError::Disconnected)?
    }
}

/// The JPEG in the reply to `snapManager.snapPicture`.
pub fn json_snapshot(reply: &Reply, payload: Option<&[u8]>) -> Result<Bytes, CommandError> {
    if let Some(error) = &reply.error {
        return Err(CommandError::Device {
            method: method::SNAP_PICTURE.to_owned(),
            code: error.code,
            message: error.message.clone().unwrap_or_default(),
        });
    }
    let params: SnapReplyParams = reply.params().map_err(|e| bad(method::SNAP_PICTURE, e))?;
    let image = params
        .check(payload)
        .map_err(|e| bad(method::SNAP_PICTURE, e))?;
    Ok(Bytes::copy_from_slice(image))
}

/// The params of `snapManager.snapPicture` for `channel`.
pub fn snapshot_params(channel: u32) -> Value {
    json!(SnapParams { channel })
}

fn bad(method: &str, detail: impl ToString) -> CommandError {
    CommandError::BadReply {
        method: method.to_owned(),
        detail: detail.to_string(),
    }
}

/// Merges `patch` into `target`: objects key by key (recursively), anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_fields_the_patch_does_not_name() {
        let mut table = json!({"TCPPort": 37777, "RegisterServer": {"Enable": false, "DeviceID": "a", "Servers": [{"Address": "x", "Port": 1}]}, "Unknown": [1]});
        merge(
            &mut table,
            &json!({"RegisterServer": {"Enable": true, "Servers": [{"Address": "y", "Port": 9500}]}}),
        );
        assert_eq!(
            table,
            json!({"TCPPort": 37777, "RegisterServer": {"Enable": true, "DeviceID": "a", "Servers": [{"Address": "y", "Port": 9500}]}, "Unknown": [1]})
        );
    }
}
