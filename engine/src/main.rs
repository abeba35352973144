//! The `homeport` command.
//!
//! - `homeport sim …` — simulated cameras: a registering fleet, or one camera listening like
//!   its 37777 service port ([`cli::sim`]).

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;

/// jemalloc: with its background thread it returns freed memory to the OS within seconds of
/// a burst, where glibc's malloc keeps the high-water mark (`BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
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
