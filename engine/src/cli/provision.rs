//! `homeport provision`: point a camera at this gateway over a direct login.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use homeport::device::LoginProtocol;
use homeport::provision::{Provision, provision};

/// Options of `homeport provision`.
#[derive(Debug, Args)]
pub(crate) struct ProvisionArgs {
    /// The camera's service address (HOST:PORT, usually port 37777).
    #[arg(long, value_name = "HOST:PORT")]
    device: String,
    /// Login user on the camera.
    #[arg(long, default_value = "admin")]
    user: String,
    /// Login password on the camera.
    #[arg(long, allow_hyphen_values = true)]
    password: String,
    /// Which login to use: dhip, dvrip or auto.
    #[arg(long, default_value = "auto")]
    protocol: LoginProtocol,
    /// The register server the camera should dial (ADDR:PORT as the camera can reach it).
    #[arg(long, value_name = "ADDR:PORT")]
    server: String,
    /// The device ID the camera should announce.
    #[arg(long, value_name = "ID")]
    device_id: String,
    /// Seconds to wait for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
}

/// Runs `homeport provision` and prints the `RegisterServer` the camera confirmed.
pub(crate) async fn run(args: ProvisionArgs) -> anyhow::Result<()> {
    let (host, port) = args
        .server
        .rsplit_once(':')
        .and_then(|(host, port)| {
            Some((
                host.trim_matches(['[', ']']).to_owned(),
                port.parse::<u16>().ok()?,
            ))
        })
        .context("--server must be ADDR:PORT")?;
    let request = Provision {
        device: args.device,
        user: args.user,
        password: args.password,
        protocol: args.protocol,
        server_host: host,
        server_port: port,
        device_id: args.device_id,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let table = provision(&request).await?;
    println!(
        "{}",
        serde_json::json!({"provisioned": request.device, "RegisterServer": table["RegisterServer"]})
    );
    Ok(())
}
