//! The `homeport` command.
//!
//! - `homeport sim …` — simulated cameras: a registering fleet, or one camera listening like
//!   its 37777 service port ([`cli::sim`]).

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    homeport::allocator::start();
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
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
            eprintln!("homeport: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
