//! `homeport test`: run pipeline test files offline and report every difference.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use homeport::pipeline::suite;

/// Options of `homeport test`.
#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// Test files (`*.test.yaml`) or directories holding them.
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
    /// Keep compiled plugins in this directory, so testing again does not compile them again.
    #[arg(long, value_name = "DIR")]
    plugin_cache: Option<PathBuf>,
}

/// Runs every case of every file; prints `ok`/`FAIL` per case with the differences, and
/// fails if any case failed or any file could not run.
pub(crate) async fn run(args: TestArgs) -> anyhow::Result<()> {
    let files = suite::files(&args.paths).map_err(anyhow::Error::msg)?;
    if files.is_empty() {
        anyhow::bail!("no test files (*.test.yaml) found");
    }
    let plugins = Arc::new(homeport::wasm::PluginHost::new(args.plugin_cache.clone()));
    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    for file in &files {
        println!("{}", file.display());
        match suite::run_file(file, Arc::clone(&plugins)).await {
            Ok(report) => {
                for case in &report.cases {
                    if case.problems.is_empty() {
                        passed += 1;
                        println!("  ok    {}", case.name);
                    } else {
                        failed += 1;
                        println!("  FAIL  {}", case.name);
                        for line in case.problems.iter().flat_map(|p| p.lines()) {
                            println!("        {line}");
                        }
                    }
                }
                if !report.skipped.is_empty() {
                    println!(
                        "  not run here (their `requires` is not met offline): {}",
                        report.skipped.join(", ")
                    );
                }
            }
            Err(e) => {
                broken += 1;
                println!("  ERROR {e}");
            }
        }
    }
    println!(
        "{} file(s), {} case(s): {passed} passed, {failed} failed",
        files.len(),
        passed + failed
    );
    if failed > 0 || broken > 0 {
        anyhow::bail!(
            "{failed} case(s) failed{}",
            if broken > 0 {
                format!(", {broken} file(s) could not run")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}
