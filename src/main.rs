//! cnetstat: every TCP socket of every network namespace on a node, with the
//! pod and container that owns it.

mod app;
mod ascii;
mod attribute;
mod catalog;
mod cgroup;
mod cli;
mod diagnostics;
mod docker;
mod host_root;
mod http;
mod kubelet_logs;
mod model;
mod mountinfo;
mod namespaces;
mod naming;
mod netns_enter;
mod oci;
mod parallel;
mod processes;
mod procfs;
mod render;
mod runtime_state;
mod sock_diag;
mod summary;
mod tcp_table;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Mode::Run(config)) => config,
        Ok(cli::Mode::Help) => return print(cli::HELP),
        Ok(cli::Mode::Version) => {
            return print(concat!("cnetstat ", env!("CARGO_PKG_VERSION"), "\n"))
        }
        Err(err) => {
            eprintln!("cnetstat: {err}\nTry 'cnetstat --help' for more information.");
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = app::run(&config, &mut out).and_then(|()| out.flush());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `cnetstat | head` closes the pipe: that is the reader's choice, not a failure.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cnetstat: error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn print(text: &str) -> ExitCode {
    match io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
