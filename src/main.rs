//! cnetstat: every TCP socket of every network namespace on a node, with the
//! pod and container that owns it.
//!
//! main → cli (argv → Args) → config (Args → Config) → app: collect (or
//! replay) a snapshot, analyse it, render it.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use cnetstat::{app, cli, config, diag};

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Mode::Run(args)) => *args,
        Ok(cli::Mode::Help) => return print(cli::HELP),
        Ok(cli::Mode::Version) => {
            return print(concat!("cnetstat ", env!("CARGO_PKG_VERSION"), "\n"))
        }
        Err(err) => {
            eprintln!("cnetstat: {err}\nTry 'cnetstat --help' for more information.");
            return ExitCode::from(2);
        }
    };
    let config = match config::resolve(args) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    for note in &config.notes {
        diag::note(note);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result =
        app::run(&config, &mut out).and_then(|()| out.flush().map_err(app::AppError::Output));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `cnetstat | head` closes the pipe: that is the reader's choice, not a failure.
        Err(app::AppError::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

fn fail(err: &dyn std::fmt::Display) -> ExitCode {
    diag::error(&err.to_string());
    ExitCode::FAILURE
}

fn print(text: &str) -> ExitCode {
    match io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
