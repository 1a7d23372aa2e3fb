//! The steps every native frontend takes around its listeners: parse the command line,
//! log the banner, write the pid file.

use crate::logger::Logger;
use crate::StdConfigSource;
use rnats_engine::cli::{self, CliAction, CliError, SignalCommand};
use rnats_engine::options::Options;
use rnats_engine::server::{Server, NATS_VERSION, RNATS_VERSION};
use std::process::ExitCode;
use std::sync::Arc;

/// What `main` should do after reading the command line.
pub enum Start {
    /// Run a server.
    Run(Box<Options>),
    /// Exit now with this code (version, help, bad arguments, config test).
    Exit(ExitCode),
}

/// Every frontend's `main`: read the command line (printing version, help or errors and
/// exiting as nats-server does), open the logger, then call `run` with both and return
/// its exit code.
pub fn main(program: &str, run: impl FnOnce(Options, Arc<Logger>) -> ExitCode) -> ExitCode {
    let opts = match from_args(program) {
        Start::Run(opts) => *opts,
        Start::Exit(code) => return code,
    };
    match Logger::new(&opts) {
        Ok(log) => run(opts, Arc::new(log)),
        Err(e) => {
            eprintln!("{program}: cannot open log file: {e}");
            ExitCode::from(1)
        }
    }
}

/// Parse the process arguments the way nats-server does; print version, help or errors.
pub fn from_args(program: &str) -> Start {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = cli::parse_command_line(&args, &StdConfigSource).map(|cli| {
        for warning in &cli.config_warnings {
            eprintln!("{program}: {}", warning.message);
        }
        for flag in &cli.ignored_flags {
            eprintln!("{program}: {flag} is accepted but has no effect in rnats yet");
        }
        cli.action
    });
    match parsed {
        Ok(CliAction::Run(opts)) => Start::Run(Box::new(opts)),
        Ok(CliAction::TestConfig(opts)) => {
            let file = opts.config_file.as_deref().unwrap_or("");
            eprintln!("{program}: configuration file {file} is valid");
            Start::Exit(ExitCode::SUCCESS)
        }
        Ok(CliAction::Version) => {
            println!("{program}: v{RNATS_VERSION} (nats-server v{NATS_VERSION} compatible)");
            Start::Exit(ExitCode::SUCCESS)
        }
        Ok(CliAction::Help) => {
            println!("{}", cli::usage());
            Start::Exit(ExitCode::SUCCESS)
        }
        Ok(CliAction::HelpTls) => {
            println!("{}", cli::tls_usage());
            Start::Exit(ExitCode::SUCCESS)
        }
        Ok(CliAction::Signal { command, pid }) => Start::Exit(send_signal(program, command, pid)),
        Err(CliError::Usage(msg)) => {
            // nats-server prints the flag error, then the usage, and exits 0.
            eprintln!("{msg}");
            println!("{}", cli::usage());
            Start::Exit(ExitCode::SUCCESS)
        }
        Err(CliError::Config(e)) => {
            eprintln!("{program}: {e}");
            Start::Exit(ExitCode::from(1))
        }
        Err(CliError::Invalid(msg)) => {
            eprintln!("{program}: {msg}");
            Start::Exit(ExitCode::from(1))
        }
    }
}

/// `-sl COMMAND[=PID]`: signal a running server, as nats-server does.
fn send_signal(program: &str, command: SignalCommand, pid: Option<String>) -> ExitCode {
    let pid = match pid {
        Some(p) if p.chars().all(|c| c.is_ascii_digit()) => p,
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => text.trim().to_string(),
            Err(e) => {
                eprintln!("{program}: could not read pid file {path}: {e}");
                return ExitCode::from(1);
            }
        },
        None => {
            eprintln!("{program}: -sl needs a pid or a pid file (no process lookup by name)");
            return ExitCode::from(1);
        }
    };
    let signal = command.unix_signal().trim_start_matches("SIG");
    match std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(&pid)
        .status()
    {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        _ => {
            eprintln!(
                "{program}: could not send {} to process {pid}",
                command.unix_signal()
            );
            ExitCode::from(1)
        }
    }
}

/// Log nats-server's start banner.
pub fn log_banner(log: &Logger, server: &Server) {
    log.info("Starting nats-server");
    log.info(&format!(
        "  Version:  {NATS_VERSION} (rnats {RNATS_VERSION})"
    ));
    log.info("  Git:      [not set]");
    log.info(&format!("  Name:     {}", server.name()));
    log.info(&format!("  ID:       {}", server.id()));
    if server.options().has_plaintext_passwords() {
        log.warn("Plaintext passwords detected, use nkeys or bcrypt");
    }
    if let Some(path) = &server.options().config_file {
        log.info(&format!("Using configuration file: {path}"));
    }
    if server.options().jetstream {
        log.warn("JetStream is not supported yet: the -js option is accepted and ignored");
    }
}

/// Log that clients can connect now (tools read these lines to find the port).
pub fn log_ready(log: &Logger, host: &str, port: u16, tls: bool) {
    log.info(&format!(
        "Listening for client connections on {}",
        host_port(host, port)
    ));
    if tls {
        log.info("TLS required for client connections");
    }
    log.info("Server is ready");
}

/// Log the monitoring listener.
pub fn log_http(log: &Logger, host: &str, port: u16) {
    log.info(&format!(
        "Starting http monitor on {}",
        host_port(host, port)
    ));
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

/// Read the command line and config file again (SIGHUP), for [`Server::reload`].
pub fn reload_options() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse_args(&args, &StdConfigSource) {
        Ok(CliAction::Run(opts)) => Ok(opts),
        Ok(_) => Err("the command line no longer starts a server".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Reload the configuration and log the outcome as nats-server does.
pub fn reload(log: &Logger, server: &Server) {
    match reload_options() {
        Ok(opts) => {
            for what in server.reload(opts) {
                log.warn(&format!(
                    "Config reload: {what} cannot change while running; kept"
                ));
            }
            log.info("Reloaded server configuration");
        }
        Err(e) => log.error(&format!("Failed to reload server configuration: {e}")),
    }
}
