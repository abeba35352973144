//! `homeport tap`: live events from the admin API, one JSON object per line, until Ctrl-C.

use std::io::Write;

use anyhow::bail;
use clap::Args;

use super::devices::Connect;
use super::signals::shutdown_signal;

/// Options of `homeport tap`.
#[derive(Debug, Args)]
pub(crate) struct TapArgs {
    #[command(flatten)]
    connect: Connect,
    /// Only this device's events.
    #[arg(long, value_name = "ID")]
    device: Option<String>,
    /// Only these kinds: registered, online_changed, alarm (repeat or comma-separate).
    #[arg(long = "kind", value_name = "KIND", value_delimiter = ',')]
    kinds: Vec<String>,
}

/// Prints events until interrupted; fails if the gateway ends the stream.
pub(crate) async fn run(args: TapArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let mut events = client.events(args.device.as_deref(), &args.kinds).await?;
    let print = async {
        while let Some(message) = events.next().await? {
            if message.event == "lagged" {
                eprintln!(
                    "homeport: tap fell behind and missed events: {}",
                    message.data
                );
                continue;
            }
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{}", message.data)?;
            stdout.flush()?;
        }
        bail!("the gateway closed the event stream")
    };
    tokio::select! {
        result = print => result,
        () = shutdown_signal() => Ok(()),
    }
}
