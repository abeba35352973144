//! The client's device calls: list, show, add, modify, delete, import, export, config,
//! snapshots, traces, the operator's trust decisions, and raw RPC.

use bytes::Bytes;
use reqwest::Url;
use serde_json::Value;

use super::{AdminClient, ClientError};
use crate::admin_api::{
    AnnounceReport, DeviceChange, DeviceView, ExportQuery, Format, ImportReport, NewDevice,
    RpcCall, SnapshotQuery, TraceChange, TraceState,
};

impl AdminClient {
    /// `base/api/devices/{id}/rest…`.
    fn device_url(&self, id: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["api", "devices", id];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Every device.
    pub async fn devices(&self) -> Result<Vec<DeviceView>, ClientError> {
        self.json(self.http.get(self.url(&["api", "devices"])))
            .await
    }

    /// One device.
    pub async fn device(&self, id: &str) -> Result<DeviceView, ClientError> {
        self.json(self.http.get(self.device_url(id, &[]))).await
    }

    /// Adds a device.
    pub async fn add_device(&self, device: &NewDevice) -> Result<DeviceView, ClientError> {
        let url = self.url(&["api", "devices"]);
        self.json(self.http.post(url).json(device)).await
    }

    /// Changes a device's credentials.
    pub async fn modify_device(
        &self,
        id: &str,
        change: &DeviceChange,
    ) -> Result<DeviceView, ClientError> {
        let url = self.device_url(id, &[]);
        self.json(self.http.put(url).json(change)).await
    }

    /// Deletes a device and closes its session.
    pub async fn delete_device(&self, id: &str) -> Result<(), ClientError> {
        self.done(self.http.delete(self.device_url(id, &[]))).await
    }

    /// Imports devices from a file's contents.
    pub async fn import(&self, body: Vec<u8>, format: Format) -> Result<ImportReport, ClientError> {
        let request = self
            .http
            .post(self.url(&["api", "devices", "import"]))
            .header(reqwest::header::CONTENT_TYPE, format.media_type())
            .body(body);
        self.json(request).await
    }

    /// Exports every device; with `secrets`, passwords included.
    pub async fn export(&self, format: Format, secrets: bool) -> Result<Bytes, ClientError> {
        let url = self.url(&["api", "devices", "export"]);
        let query = ExportQuery { format, secrets };
        self.bytes(self.http.get(url).query(&query)).await
    }

    /// A device's config table.
    pub async fn config(&self, id: &str, name: &str) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["config", name]);
        self.json(self.http.get(url)).await
    }

    /// Merges `patch` into a device's config table; returns the table written.
    pub async fn update_config(
        &self,
        id: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["config", name]);
        self.json(self.http.put(url).json(patch)).await
    }

    /// A JPEG from a device's channel.
    pub async fn snapshot(&self, id: &str, channel: u32) -> Result<Bytes, ClientError> {
        let url = self.device_url(id, &["snapshot"]);
        let query = SnapshotQuery { channel };
        self.bytes(self.http.get(url).query(&query)).await
    }

    /// Accepts the connection a device is pending on.
    pub async fn accept(&self, id: &str) -> Result<(), ClientError> {
        self.done(self.http.post(self.device_url(id, &["accept"])))
            .await
    }

    /// Announces every device again (`announced` events: Home Assistant discovery).
    pub async fn announce(&self) -> Result<AnnounceReport, ClientError> {
        self.json(self.http.post(self.url(&["api", "devices", "announce"])))
            .await
    }

    /// Forgets what a device proved at its first login.
    pub async fn forget_identity(&self, id: &str) -> Result<(), ClientError> {
        self.done(self.http.delete(self.device_url(id, &["identity"])))
            .await
    }

    /// Asks a connected device's session to log in now, as an operator (it may spend a try
    /// the session keeps in reserve).
    pub async fn login(&self, id: &str) -> Result<(), ClientError> {
        self.done(self.http.post(self.device_url(id, &["login"])))
            .await
    }

    /// Starts or stops the transcript of a device's socket.
    pub async fn set_trace(&self, id: &str, enabled: bool) -> Result<TraceState, ClientError> {
        let url = self.device_url(id, &["trace"]);
        self.json(self.http.post(url).json(&TraceChange { enabled }))
            .await
    }

    /// A device's transcript, as text.
    pub async fn trace(&self, id: &str) -> Result<Bytes, ClientError> {
        self.bytes(self.http.get(self.device_url(id, &["trace"])))
            .await
    }

    /// Calls any method on a device; the device's reply as it is.
    pub async fn rpc(&self, id: &str, method: &str, params: Value) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["rpc"]);
        let call = RpcCall {
            method: method.to_owned(),
            params,
        };
        self.json(self.http.post(url).json(&call)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_device_ids_as_one_segment() {
        let client = AdminClient::new("127.0.0.1:9080", "t").expect("valid");
        assert_eq!(
            client.device_url("a/b c", &["config", "DVRIP"]).as_str(),
            "http://127.0.0.1:9080/api/devices/a%2Fb%20c/config/DVRIP"
        );
        let client = AdminClient::new("http://localhost:9080/prefix/", "t").expect("valid");
        assert_eq!(
            client.url(&["healthz"]).as_str(),
            "http://localhost:9080/prefix/healthz"
        );
        assert!(AdminClient::new("https://example.com", "t").is_err());
    }
}
