//! `homeport run`: the gateway on its embedded defaults, or as the config file and flags say.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use homeport::config::{FileConfig, Flags};
use homeport::gateway::Gateway;

use super::shutdown_signal;

/// Options of `homeport run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Where cameras register (default 0.0.0.0:9500).
    #[arg(long, value_name = "ADDR")]
    register: Option<SocketAddr>,
    /// The camera-sync listener for client apps (default 0.0.0.0:9600).
    #[arg(long, value_name = "ADDR")]
    sync: Option<SocketAddr>,
    /// The admin HTTP API (default 127.0.0.1:9080).
    #[arg(long, value_name = "ADDR")]
    admin: Option<SocketAddr>,
    /// Data directory: SQLite store, secret key, admin token (default ./data).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// YAML config file; flags win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs the gateway until SIGINT or SIGTERM.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let flags = Flags {
        register: args.register,
        sync: args.sync,
        admin: args.admin,
        data: args.data.clone(),
    };
    let (addresses, config) = file.resolve(&flags);
    let _ = rlimit::increase_nofile_limit(config.listener.max_connections as u64 + 1024);
    std::fs::create_dir_all(&addresses.data).with_context(|| {
        format!(
            "cannot create the data directory {}",
            addresses.data.display()
        )
    })?;
    let (token, created) =
        homeport::secret::admin_token(&addresses.data).context("cannot set up the admin token")?;
    let gateway = Gateway::start(config).await?;
    let register = gateway
        .register_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    let admin_listener = tokio::net::TcpListener::bind(addresses.admin)
        .await
        .with_context(|| format!("cannot listen on {} for the admin API", addresses.admin))?;
    let admin = admin_listener.local_addr()?;
    let stop_admin = tokio_util::sync::CancellationToken::new();
    let router = homeport::admin::router(std::sync::Arc::clone(&gateway), token.clone());
    let admin_task = tokio::spawn(homeport::admin::serve(
        admin_listener,
        router,
        stop_admin.clone(),
    ));
    eprintln!(
        "homeport: registering cameras on {register}; admin API on http://{admin}; data in {}",
        addresses.data.display()
    );
    if created {
        eprintln!(
            "homeport: admin token (saved in {}): {token}",
            addresses
                .data
                .join(homeport::secret::ADMIN_TOKEN_FILE)
                .display()
        );
    }
    eprintln!(
        "homeport: the camera-sync server ({}) is not part of this build yet",
        addresses.sync
    );
    shutdown_signal().await;
    eprintln!("homeport: shutting down");
    stop_admin.cancel();
    gateway.shutdown().await;
    if let Ok(Err(e)) = admin_task.await {
        tracing::warn!(error = %e, "admin API ended with an error");
    }
    Ok(())
}
