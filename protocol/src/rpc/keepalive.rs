//! `global.keepAlive`: the client's heartbeat, at the interval the login reply gave.

use serde::{Deserialize, Serialize};

/// Params of `global.keepAlive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepAliveParams {
    /// The interval in seconds.
    pub timeout: u32,
    /// Always `true`. One public client spells it `action`; devices tolerate that.
    #[serde(default = "yes", alias = "action")]
    pub active: bool,
}

/// Params of the keepalive reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepAliveReplyParams {
    /// The interval the device will wait for the next keepalive.
    pub timeout: u32,
}

fn yes() -> bool {
    true
}
