//! The steps every native frontend takes around its listeners: parse the command line,
//! log the banner, write the pid file.

use crate::logger::Logger;
use crate::StdConfigSource;
use rnats_engine::cli::{self, CliAction, CliError};
use rnats_engine::options::Options;
use rnats_engine::server::{Server, NATS_VERSION, RNATS_VERSION};
use std::process::ExitCode;

/// What `main` should do after reading the command line.
pub enum Start {
    /// Run a server.
    Run(Options),
    /// Exit now with this code (version, help, bad arguments, config test).
    Exit(ExitCode),
}

/// Parse the process arguments the way nats-server does; print version, help or errors.
pub fn from_args(program: &str) -> Start {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse_args(&args, &StdConfigSource) {
        Ok(CliAction::Run(opts)) => Start::Run(opts),
        Ok(CliAction::Version) => {
            println!("{program}: v{RNATS_VERSION} (nats-server v{NATS_VERSION} compatible)");
            Start::Exit(ExitCode::SUCCESS)
        }
        Ok(CliAction::Help) => {
            println!("{}", cli::usage());
            Start::Exit(ExitCode::SUCCESS)
        }
        Err(CliError::Usage(msg)) => {
            eprintln!("{program}: {msg}");
            eprintln!("{}", cli::usage());
            Start::Exit(ExitCode::from(1))
        }
        Err(CliError::Config(e)) => {
            eprintln!("{program}: {e}");
            Start::Exit(ExitCode::from(1))
        }
    }
}

/// Log nats-server's start banner.
pub fn log_banner(log: &Logger, server: &Server) {
    log.info("Starting nats-server");
    log.info(&format!("  Version:  {NATS_VERSION} (rnats {RNATS_VERSION})"));
    log.info("  Git:      [not set]");
    log.info(&format!("  Name:     {}", server.name()));
    log.info(&format!("  ID:       {}", server.id()));
    if let Some(path) = &server.options().config_file {
        log.info(&format!("Using configuration file: {path}"));
    }
    if server.options().jetstream {
        log.warn("JetStream is not supported yet: the -js option is accepted and ignored");
    }
}

/// Log that clients can connect now (tools read these lines to find the port).
pub fn log_ready(log: &Logger, host: &str, port: u16) {
    log.info(&format!("Listening for client connections on {}", host_port(host, port)));
    log.info("Server is ready");
}

/// Log the monitoring listener.
pub fn log_http(log: &Logger, host: &str, port: u16) {
    log.info(&format!("Starting http monitor on {}", host_port(host, port)));
}

/// `host:port`, with brackets for IPv6 hosts.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Write the pid file if one is configured.
pub fn write_pid_file(opts: &Options) -> std::io::Result<()> {
    if let Some(path) = &opts.pid_file {
        std::fs::write(path, std::process::id().to_string())?;
    }
    Ok(())
}

/// Remove the pid file on shutdown.
pub fn remove_pid_file(opts: &Options) {
    if let Some(path) = &opts.pid_file {
        let _ = std::fs::remove_file(path);
    }
}
