//! `homeport accounts …`: the camera-sync accounts client apps log in to, managed through the
//! admin API.

use std::io::Write;

use clap::{Args, Subcommand};
use homeport::admin_api::{Account, AccountCamera};

use super::devices::{Connect, PasswordArgs};

/// Options of `homeport accounts`.
#[derive(Debug, Args)]
pub(crate) struct AccountsArgs {
    #[command(flatten)]
    connect: Connect,
    #[command(subcommand)]
    command: AccountsCommand,
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// List every account with its camera count, last login and lock.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create an account (1 to 64 bytes, no whitespace, '|', ';', ':' or '\').
    Add {
        /// The name the app logs in with.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Delete an account and its camera bindings.
    Delete {
        /// Account name.
        name: String,
    },
    /// List the cameras bound to an account, with their online state.
    Cameras {
        /// Account name.
        name: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Set an account's password (this also lifts a lockout).
    Password {
        /// Account name.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

/// Runs a `homeport accounts` command.
pub(crate) async fn run(args: AccountsArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    match args.command {
        AccountsCommand::List { json } => {
            let accounts = client.accounts().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&accounts)?);
            } else {
                print_accounts(&accounts);
            }
        }
        AccountsCommand::Add { name, password } => {
            let account = client.add_account(&name, &password.read()?).await?;
            println!("added account {}", account.name);
        }
        AccountsCommand::Delete { name } => {
            client.delete_account(&name).await?;
            println!("deleted account {name}");
        }
        AccountsCommand::Cameras { name, json } => {
            let cameras = client.account_cameras(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&cameras)?);
            } else {
                print_cameras(&cameras);
            }
        }
        AccountsCommand::Password { name, password } => {
            let account = client
                .set_account_password(&name, &password.read()?)
                .await?;
            println!("changed the password of account {}", account.name);
        }
    }
    Ok(())
}

fn print_accounts(accounts: &[Account]) {
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.cameras.to_string(),
                a.last_login.clone().unwrap_or_else(dash),
                a.last_login_ip.clone().unwrap_or_else(dash),
                a.locked_until.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &["NAME", "CAMERAS", "LAST LOGIN", "FROM", "LOCKED UNTIL"],
        &rows,
        "(no accounts)",
    );
}

fn print_cameras(cameras: &[AccountCamera]) {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows: Vec<Vec<String>> = cameras
        .iter()
        .map(|c| vec![c.camera_id.clone(), yes_no(c.online), yes_no(c.verified)])
        .collect();
    print_table(&["CAMERA", "ONLINE", "VERIFIED"], &rows, "(no cameras)");
}

/// Columns sized to their widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>], empty: &str) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut out = std::io::stdout().lock();
    for row in std::iter::once(&header).chain(rows) {
        let line = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if rows.is_empty() {
        let _ = writeln!(out, "{empty}");
    }
}
