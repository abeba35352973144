//! `configManager.*`, and the typed `DVRIP` table that holds `RegisterServer`.
//!
//! A set writes the *whole* table, so clients read, edit and write back; the typed table
//! keeps every field it does not know in `extra` so nothing is lost on the way.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The config that holds active-registration settings.
pub const DVRIP: &str = "DVRIP";
/// The name that asks `getConfig` for every table at once.
pub const ALL: &str = "All";

/// Params of `configManager.getConfig` (and `getMemberNames`, with an empty name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetConfigParams {
    /// Config name, e.g. `DVRIP`, or `All`.
    pub name: String,
}

/// Params of the `getConfig` reply, and of `setConfig` (with the name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigTable {
    /// Config name (present in `setConfig`, absent in the `getConfig` reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The table: an object, or an array of per-channel objects.
    pub table: Value,
}

/// Params of the `getMemberNames` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberNames {
    /// Config names the device serves.
    pub names: Vec<String>,
}

/// One register server address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerAddress {
    /// Host name or IP the device dials.
    #[serde(rename = "Address")]
    pub address: String,
    /// TCP port (9500 by default on the platform side).
    #[serde(rename = "Port")]
    pub port: u16,
    /// Fields we do not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `RegisterServer` section: where and as whom the device registers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterServer {
    /// The ID the device announces.
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    /// Whether the device registers at all: without it new settings are stored, not used.
    #[serde(rename = "Enable")]
    pub enable: bool,
    /// Servers to dial.
    #[serde(rename = "Servers", default)]
    pub servers: Vec<ServerAddress>,
    /// Fields we do not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `DVRIP` config table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DvripConfig {
    /// The service port (37777).
    #[serde(rename = "TCPPort")]
    pub tcp_port: u16,
    /// Active registration settings.
    #[serde(rename = "RegisterServer")]
    pub register_server: RegisterServer,
    /// Every other field, kept for the write-back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dvrip_table_keeps_unknown_fields_through_a_round_trip() {
        // The Imou Cell 3C dump, plus a field from another firmware.
        let table = json!({"TCPPort":37777,"UDPPort":37778,"MCASTAddress":"","MCASTEnable":false,"MCASTPort":0,
            "MaxConnections":10,
            "RegisterServer":{"DeviceID":"SN1","Enable":true,"Servers":[{"Address":"10.42.0.1","Port":9500}],"Extra":1},
            "StreamPolicy":"None","RegisterServerEx":{"x":[1]}});
        let mut config: DvripConfig = serde_json::from_value(table.clone()).expect("parses");
        assert_eq!(config.register_server.servers[0].port, 9500);
        assert_eq!(serde_json::to_value(&config).expect("serialises"), table);
        config.register_server.device_id = "SN2".to_owned();
        let written = serde_json::to_value(&config).expect("serialises");
        assert_eq!(written["RegisterServer"]["DeviceID"], "SN2");
        assert_eq!(written["RegisterServerEx"], json!({"x":[1]}));
    }
}
