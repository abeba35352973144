//! `homeport token`: prints the admin API's token, for curl, scripts and the console, without
//! the gateway printing it into its log.

use std::path::PathBuf;

use clap::Args;
use homeport::secret::ADMIN_TOKEN_ENV;

use super::devices::read_token_file;

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
    let token = match std::env::var(ADMIN_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        Some(token) => token,
        None => read_token_file(&args.data)?,
    };
    println!("{}", token.trim());
    Ok(())
}
