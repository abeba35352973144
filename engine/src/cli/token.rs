//! `homeport token`: prints the admin API's token, for curl, scripts and the console, without
//! the gateway printing it into its log.

use std::path::PathBuf;

use clap::Args;

use super::devices::admin_token;

/// Options of `homeport token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The gateway's data directory, where admin.token is.
    #[arg(
        long,
        value_name = "DIR",
        env = "HOMEPORT_DATA",
        default_value = "./data"
    )]
    data: PathBuf,
}

/// Prints `$HOMEPORT_ADMIN_TOKEN` when set (the gateway uses it then), else the token file's.
pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<()> {
    println!("{}", admin_token(&args.data)?);
    Ok(())
}
