//! Command-line parsing and dispatch.

pub(crate) mod accounts;
pub(crate) mod check;
pub(crate) mod devices;
pub(crate) mod dlq;
pub(crate) mod limits;
pub(crate) mod logging;
pub(crate) mod plugin;
pub(crate) mod provision;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod signals;
pub(crate) mod sim;
pub(crate) mod tap;
pub(crate) mod test;
pub(crate) mod token;

use clap::{Parser, Subcommand};

/// homeport — a gateway that IP cameras actively register to.
#[derive(Debug, Parser)]
#[command(name = "homeport", version, about)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug); `RUST_LOG` overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Log line format on stderr: text (coloured only on a terminal, never with NO_COLOR)
    /// or json (one object per line).
    #[arg(
        long,
        value_enum,
        default_value_t,
        global = true,
        env = "HOMEPORT_LOG_FORMAT"
    )]
    pub(crate) log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: register listener, device sessions, admin API (embedded defaults:
    /// no external server needed).
    Run(Box<run::RunArgs>),
    /// Validate pipeline files offline; every problem is printed as file:line:column.
    Check(check::CheckArgs),
    /// Run pipeline test files (`*.test.yaml`) offline: input events against the messages,
    /// outcomes and dead letters they must give; sinks are captured, nothing connects.
    Test(test::TestArgs),
    /// Dead letters: list them, or replay them into their pipelines.
    Dlq(Box<dlq::DlqArgs>),
    /// Running pipelines: reload them from their files.
    Pipelines(Box<dlq::PipelinesArgs>),
    /// Simulated Dahua cameras: a fleet registering to a platform (--server), or one camera
    /// accepting direct logins (--listen).
    Sim(Box<sim::SimArgs>),
    /// Manage devices through the admin API: list, add, modify, delete, import, export,
    /// config, snapshot.
    Devices(Box<devices::DevicesArgs>),
    /// Manage camera-sync accounts through the admin API: list, add, delete, cameras,
    /// password.
    Accounts(Box<accounts::AccountsArgs>),
    /// Print live events from the admin API, one JSON object per line, until Ctrl-C.
    Tap(tap::TapArgs),
    /// Try a plugin component: inspect it, or run it on events given as JSON lines.
    Plugin(plugin::PluginArgs),
    /// Log in to a camera directly and point its DVRIP.RegisterServer at this gateway.
    Provision(provision::ProvisionArgs),
    /// Print the admin API's token (from $HOMEPORT_ADMIN_TOKEN or <DATA>/admin.token).
    Token(token::TokenArgs),
}

/// Logs to stderr as `--log-format` says; `homeport run` logs the gateway's info lines by
/// default, the other commands warnings only (see [`logging`]).
pub(crate) fn init_logging(cli: &Cli) {
    let gateway = matches!(cli.command, Command::Run(_));
    logging::init(cli.verbose, cli.log_format, gateway);
}

/// Runs the parsed command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run::run(*args, cli.log_format).await,
        Command::Check(args) => check::run(args).await,
        Command::Test(args) => test::run(args).await,
        Command::Dlq(args) => dlq::run(*args).await,
        Command::Pipelines(args) => dlq::run_pipelines(*args).await,
        Command::Sim(args) => sim::run(*args).await,
        Command::Devices(args) => devices::run(*args).await,
        Command::Accounts(args) => accounts::run(*args).await,
        Command::Tap(args) => tap::run(args).await,
        Command::Plugin(args) => plugin::run(args).await,
        Command::Provision(args) => provision::run(args).await,
        Command::Token(args) => token::run(&args),
    }
}
