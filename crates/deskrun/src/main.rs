//! The `deskrun` command line: parses arguments, calls the engine, prints results. Errors
//! are printed as `deskrun: ` and their chain; the exit codes are in `--help`.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("deskrun: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stops_by_itself = args.stops_by_itself();
    let outcome = runtime.block_on(async move {
        if stops_by_itself {
            return Some(cli::run(args).await);
        }
        // NB: the run is dropped on Ctrl-C or SIGTERM rather than killed by the default
        // handler, so its temporary kubeconfig (cluster-admin keys) is removed and helm/kind
        // children are killed with it.
        // NB: biased, the command first: one that prompts before its first await (add's
        // token prompt) reads before the handler exists, so Ctrl-C there ends it as usual.
        tokio::select! {
            biased;
            result = cli::run(args) => Some(result),
            () = cli::stop_requested() => None,
        }
    });
    let Some(outcome) = outcome else {
        eprintln!("deskrun: interrupted; run the command again to finish what it started");
        // NB: exit at once: dropping the runtime would wait for a blocking read of stdin (a
        // question being asked) that nobody will answer. The command's files are gone already.
        std::process::exit(130);
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if cli::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("deskrun: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}
