//! Device information calls third-party consoles make right after login: `magicBox.*`,
//! `global.getCurrentTime`, `userManager.getActiveUserInfoAll`, and `system.multicall`.

use serde::{Deserialize, Serialize};

use super::message::{Reply, Request};

/// Reply params of `magicBox.getDeviceType` / `getDeviceClass`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeParams {
    /// e.g. `IPC-HFW1431S` (type) or `IPC` (class).
    #[serde(rename = "type")]
    pub kind: String,
}

/// Reply params of `magicBox.getSerialNo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialParams {
    /// The hardware serial number.
    pub sn: String,
}

/// Reply params of `magicBox.getSoftwareVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareVersionParams {
    /// Version and build date.
    pub version: SoftwareVersion,
}

/// A firmware version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftwareVersion {
    /// e.g. `2.800.0000004.0.R`.
    #[serde(rename = "Version")]
    pub version: String,
    /// e.g. `2024-01-15`.
    #[serde(rename = "BuildDate")]
    pub build_date: String,
}

/// Reply params of `global.getCurrentTime`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentTimeParams {
    /// `yyyy-MM-dd HH:mm:ss`, device local time.
    pub time: String,
}

/// One logged-in user in `userManager.getActiveUserInfoAll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActiveUser {
    /// User name.
    pub name: String,
    /// The user's peer address.
    pub client_address: String,
    /// `yyyy-MM-dd HH:mm:ss`.
    pub login_time: String,
    /// Client kind.
    pub client_type: String,
    /// Session number.
    pub id: u32,
}

/// Reply params of `userManager.getActiveUserInfoAll`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveUsers {
    /// Users logged in now.
    pub users: Vec<ActiveUser>,
}

/// `system.multicall`: `params` is a list of whole requests, the reply's `params` the list of
/// their replies in the same order.
pub fn multicall_requests(request: &Request) -> Result<Vec<Request>, serde_json::Error> {
    request.params()
}

/// The multicall reply carrying `replies`.
pub fn multicall_reply(request: &Request, replies: Vec<Reply>) -> Reply {
    request.reply(true, replies)
}
