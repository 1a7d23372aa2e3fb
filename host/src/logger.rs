//! The logger: nats-server's line format (from the engine) written to standard error or
//! to the `log_file`.

use crate::clock;
use rnats_engine::log::{format_line, Level};
use rnats_engine::options::Options;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Mutex;

/// Writes log lines; cheap to share behind an `Arc`.
pub struct Logger {
    pid: u32,
    logtime: bool,
    debug: bool,
    trace: bool,
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger").field("pid", &self.pid).finish()
    }
}

impl Logger {
    /// A logger as the options ask for (`log_file`, `logtime`, `debug`, `trace`).
    pub fn new(opts: &Options) -> std::io::Result<Logger> {
        let sink: Box<dyn Write + Send> = match &opts.log_file {
            Some(path) => Box::new(OpenOptions::new().create(true).append(true).open(path)?),
            None => Box::new(std::io::stderr()),
        };
        Ok(Logger {
            pid: std::process::id(),
            logtime: opts.logtime,
            debug: opts.debug,
            trace: opts.trace,
            sink: Mutex::new(sink),
        })
    }

    /// Whether debug lines are written.
    pub fn debug_enabled(&self) -> bool {
        self.debug
    }

    /// Whether trace lines are written.
    pub fn trace_enabled(&self) -> bool {
        self.trace
    }

    /// Write one line at `level` (debug and trace only when enabled).
    pub fn log(&self, level: Level, message: &str) {
        match level {
            Level::Debug if !self.debug => return,
            Level::Trace if !self.trace => return,
            _ => {}
        }
        let mut line = String::with_capacity(64 + message.len());
        let time = self.logtime.then(clock::unix_nanos);
        format_line(&mut line, self.pid, time, level, message);
        line.push('\n');
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        let _ = sink.write_all(line.as_bytes());
        let _ = sink.flush();
    }

    /// `[INF]`
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// `[WRN]`
    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }

    /// `[ERR]`
    pub fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }

    /// `[DBG]`
    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message);
    }

    /// `[FTL]`
    pub fn fatal(&self, message: &str) {
        self.log(Level::Fatal, message);
    }
}

/// The engine's own lines (protocol traces) go to the process log.
impl rnats_engine::log::LogSink for Logger {
    fn log(&self, level: Level, message: &str) {
        Logger::log(self, level, message);
    }
}
