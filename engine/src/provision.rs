//! Provisioning (seed chapter 2.1): log in to a camera directly, point its
//! `DVRIP.RegisterServer` at this gateway, write the whole table back, and read it again to
//! confirm. Fields the camera has that homeport does not know are kept.

use std::time::Duration;

use homeport_protocol::rpc::config::{DVRIP, DvripConfig, ServerAddress};
use homeport_protocol::rpc::method;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::device::login::LoginRequest;
use crate::device::{Link, LinkError, LoginError, LoginProtocol, login};

/// What to provision.
#[derive(Debug, Clone)]
pub struct Provision {
    /// The camera's service address (`HOST:37777`).
    pub device: String,
    /// Login user.
    pub user: String,
    /// Login password.
    pub password: String,
    /// Which login to use.
    pub protocol: LoginProtocol,
    /// The register server the camera should dial (`HOST:PORT`).
    pub server_host: String,
    /// Its port.
    pub server_port: u16,
    /// The device ID the camera should announce.
    pub device_id: String,
    /// Per-call timeout.
    pub timeout: Duration,
}

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The camera could not be reached.
    #[error("cannot connect to {device}: {source}")]
    Connect {
        /// The address.
        device: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The login failed.
    #[error("login to {device} failed: {source}")]
    Login {
        /// The address.
        device: String,
        /// Why.
        source: LoginError,
    },
    /// A call failed on the wire.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// The camera refused a call or answered something unusable.
    #[error("{0}")]
    Device(String),
}

/// Provisions one camera; returns the `DVRIP` table read back after the write.
pub async fn provision(request: &Provision) -> Result<Value, ProvisionError> {
    let stream = TcpStream::connect(&request.device)
        .await
        .map_err(|source| ProvisionError::Connect {
            device: request.device.clone(),
            source,
        })?;
    let mut link = Link::new(stream);
    login::login(
        &mut link,
        &LoginRequest::new(
            request.protocol,
            &request.user,
            &request.password,
            request.timeout,
        ),
    )
    .await
    .map_err(|source| ProvisionError::Login {
        device: request.device.clone(),
        source,
    })?;

    // Read before write: the camera wants the whole table back.
    let mut table = get_dvrip(&mut link, request.timeout).await?;
    let mut typed: DvripConfig = serde_json::from_value(table.clone()).map_err(|e| {
        ProvisionError::Device(format!("the camera's DVRIP table is not usable: {e}"))
    })?;
    typed.register_server.enable = true;
    typed.register_server.device_id = request.device_id.clone();
    let server = ServerAddress {
        address: request.server_host.clone(),
        port: request.server_port,
        extra: Default::default(),
    };
    match typed.register_server.servers.first_mut() {
        Some(first) => {
            first.address = server.address;
            first.port = server.port;
        }
        None => typed.register_server.servers.push(server),
    }
    table = serde_json::to_value(&typed).map_err(|e| ProvisionError::Device(e.to_string()))?;
    let (reply, _) = link
        .call(
            method::SET_CONFIG,
            json!({"name": DVRIP, "table": table}),
            request.timeout,
        )
        .await?;
    if !reply.is_ok() {
        return Err(ProvisionError::Device(format!(
            "the camera refused the DVRIP table: {:?}",
            reply.error
        )));
    }
    let confirmed = get_dvrip(&mut link, request.timeout).await?;
    if confirmed.get("RegisterServer") != table.get("RegisterServer") {
        return Err(ProvisionError::Device(format!(
            "the camera stored a different RegisterServer: {}",
            confirmed.get("RegisterServer").unwrap_or(&Value::Null)
        )));
    }
    let _ = link
        .call(method::LOGOUT, Value::Null, request.timeout)
        .await;
    Ok(confirmed)
}

async fn get_dvrip(link: &mut Link<TcpStream>, timeout: Duration) -> Result<Value, ProvisionError> {
    let (reply, _) = link
        .call(method::GET_CONFIG, json!({"name": DVRIP}), timeout)
        .await?;
    if !reply.is_ok() {
        return Err(ProvisionError::Device(format!(
            "the camera refused to read DVRIP: {:?}",
            reply.error
        )));
    }
    reply
        .params
        .get("table")
        .cloned()
        .ok_or_else(|| ProvisionError::Device("DVRIP reply without a table".to_owned()))
}
