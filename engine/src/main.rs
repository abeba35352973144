//! The `homeport` command: argument parsing over the library (everything that runs lives in
//! the library; see its crate map).
//!
//! - `cli::run` — `homeport run`: flags and config file into a `NodeConfig`, `Node::start`, the
//!   banner, then wait for a signal (`cli::signals`: SIGINT/SIGTERM stop, SIGHUP reloads
//!   pipelines) and `Node::shutdown`; `cli::limits` sizes the connection cap to the descriptor
//!   limit.
//! - `cli::devices`, `cli::accounts`, `cli::dlq`, `cli::tap` — admin API commands through
//!   `homeport::client`.
//! - `cli::check` — `homeport check`: pipeline files checked offline.
//! - `cli::plugin` — `homeport plugin run`: one WebAssembly stage on events from stdin.
//! - `cli::logging` — stderr as text or JSON lines; `cli::report` — a failed command's
//!   causes, each once, and a hint; `cli::token` — `homeport token`.
//! - `cli::provision` — point a camera's register server at the gateway over a direct login.
//! - `cli::sim` — simulated cameras: a registering fleet, or one camera listening like its
//!   37777 service port.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    homeport::allocator::start();
    let args = cli::Cli::parse();
    cli::init_logging(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("homeport: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("homeport: {}", cli::report::render(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
