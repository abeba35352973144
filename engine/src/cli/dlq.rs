//! `homeport dlq` and `homeport pipelines`: dead letters and pipeline reload, through the
//! admin API.

use clap::{Args, Subcommand};

use super::devices::Connect;

/// Options of `homeport dlq`.
#[derive(Debug, Args)]
pub(crate) struct DlqArgs {
    #[command(flatten)]
    connect: Connect,
    #[command(subcommand)]
    command: DlqCommand,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// List dead letters (oldest first) as JSON.
    List {
        /// Only this pipeline's.
        #[arg(long)]
        pipeline: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send dead letters back into their pipelines: one by id, or all (of one pipeline).
    Replay {
        /// The dead letter's id; without it, all.
        id: Option<i64>,
        /// Only this pipeline's (when replaying all).
        #[arg(long)]
        pipeline: Option<String>,
    },
}

/// Runs `homeport dlq …`.
pub(crate) async fn run(args: DlqArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    let json = match args.command {
        DlqCommand::List { pipeline, limit } => {
            let letters = client.dead_letters(pipeline.as_deref(), limit).await?;
            serde_json::to_string_pretty(&letters)?
        }
        DlqCommand::Replay { id, pipeline } => {
            let replayed = client.replay(id, pipeline.as_deref()).await?;
            serde_json::to_string_pretty(&replayed)?
        }
    };
    println!("{json}");
    Ok(())
}

/// Options of `homeport pipelines`.
#[derive(Debug, Args)]
pub(crate) struct PipelinesArgs {
    #[command(flatten)]
    connect: Connect,
    #[command(subcommand)]
    command: PipelinesCommand,
}

#[derive(Debug, Subcommand)]
enum PipelinesCommand {
    /// Rebuild the running pipelines from their files; on errors the running ones stay.
    Reload,
}

/// Runs `homeport pipelines …`.
pub(crate) async fn run_pipelines(args: PipelinesArgs) -> anyhow::Result<()> {
    let client = args.connect.client()?;
    match args.command {
        PipelinesCommand::Reload => {
            let running = client.reload_pipelines().await?;
            println!("{}", serde_json::to_string(&running)?);
        }
    }
    Ok(())
}
