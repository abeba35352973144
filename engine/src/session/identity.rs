//! Reading what a device says it is right after it logged in — serial number and type, to
//! pin it at the first login and check it at every later one (see
//! [`crate::device::identity`]), and its firmware version, which only informs (an upgrade
//! changes it).

use std::time::Duration;

use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::dvrip::packet::info;
use homeport_protocol::rpc::device::{SerialParams, SoftwareVersionParams, TypeParams};
use homeport_protocol::rpc::method;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::device::link::{Link, LinkError};

/// What a device said about itself after the login.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Shown {
    /// Its serial number, if it said.
    pub serial: Option<String>,
    /// Its type, if it said.
    pub device_type: Option<String>,
    /// Its firmware version, if it said.
    pub firmware: Option<String>,
}

/// Asks for the serial, type and firmware: JSON (`magicBox.getSerialNo`,
/// `magicBox.getDeviceType`, `magicBox.getSoftwareVersion`) on a device that speaks it, the
/// DVRIP info queries (7, 11, 8) on one that does not. A device that
/// does not answer one of them leaves it `None`; only a broken socket is an error.
pub(super) async fn read<S>(
    link: &mut Link<S>,
    json: bool,
    timeout: Duration,
) -> Result<Shown, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if json {
        let serial = json_value(link, method::GET_SERIAL_NO, timeout)
            .await?
            .and_then(|v| serde_json::from_value::<SerialParams>(v).ok())
            .map(|p| p.sn);
        let device_type = json_value(link, method::GET_DEVICE_TYPE, timeout)
            .await?
            .and_then(|v| serde_json::from_value::<TypeParams>(v).ok())
            .map(|p| p.kind);
        let firmware = json_value(link, method::GET_SOFTWARE_VERSION, timeout)
            .await?
            .and_then(|v| serde_json::from_value::<SoftwareVersionParams>(v).ok())
            .map(|p| p.version.version);
        return Ok(Shown {
            serial: clean(serial),
            device_type: clean(device_type),
            firmware: clean(firmware),
        });
    }
    let serial = dvrip_info(link, info::SERIAL, timeout).await?;
    let device_type = dvrip_info(link, info::DEVICE_TYPE, timeout).await?;
    let firmware = dvrip_info(link, info::VERSION, timeout).await?;
    Ok(Shown {
        serial: clean(serial),
        device_type: clean(device_type),
        firmware: clean(firmware),
    })
}

async fn json_value<S>(
    link: &mut Link<S>,
    method: &str,
    timeout: Duration,
) -> Result<Option<Value>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match link.call(method, Value::Null, timeout).await {
        Ok((reply, _)) if reply.is_ok() => Ok(Some(reply.params)),
        Ok(_) | Err(LinkError::Timeout { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn dvrip_info<S>(
    link: &mut Link<S>,
    sub: u32,
    timeout: Duration,
) -> Result<Option<String>, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    link.send_dvrip(DvripPacket::InfoQuery { sub }.to_frame())
        .await?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = match link.next_dvrip(left).await {
            Ok(frame) => frame,
            Err(LinkError::Timeout { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if let DvripPacket::InfoReply { sub: got, value } = DvripPacket::parse(&frame)
            && got == sub
        {
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            return Ok(String::from_utf8(value[..end].to_vec()).ok());
        }
    }
}

/// Trimmed, non-empty, at most 128 characters without control characters.
fn clean(text: Option<String>) -> Option<String> {
    let text = text?;
    let text = text.trim();
    (!text.is_empty() && text.len() <= 128 && !text.chars().any(char::is_control))
        .then(|| text.to_owned())
}
