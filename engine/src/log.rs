//! nats-server's log line format.
//!
//! ```text
//! [1234] 2024/01/31 13:05:09.123456 [INF] Server is ready
//! [1234] [INF] Server is ready                            (logtime off: -T=false)
//! [1234] [\x1b[32mINF\x1b[0m] Server is ready               (colors: stderr is a terminal)
//! ```
//!
//! nats-server prints local time; the engine has no time zone database, so the time is
//! formatted in UTC (the same thing on a machine whose zone is UTC). Frontends wanting local
//! time can add their UTC offset to the timestamp they pass.

use crate::prelude::*;
use core::fmt::Write;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `[FTL]`: the server stops.
    Fatal,
    /// `[ERR]`
    Error,
    /// `[WRN]`
    Warn,
    /// `[INF]`
    Info,
    /// `[DBG]`: only with `debug` (`-D`).
    Debug,
    /// `[TRC]`: only with `trace` (`-V`).
    Trace,
}

impl Level {
    /// The three-letter label nats-server prints.
    pub fn label(self) -> &'static str {
        match self {
            Level::Fatal => "FTL",
            Level::Error => "ERR",
            Level::Warn => "WRN",
            Level::Info => "INF",
            Level::Debug => "DBG",
            Level::Trace => "TRC",
        }
    }

    /// The ANSI color nats-server gives the label when standard error is a terminal.
    pub fn color(self) -> &'static str {
        match self {
            Level::Fatal | Level::Error => "31",
            Level::Warn => "0;93",
            Level::Info => "32",
            Level::Debug => "36",
            Level::Trace => "33",
        }
    }
}

/// A civil (proleptic Gregorian, UTC) date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CivilTime {
    /// Year (may be negative or above 9999 for absurd inputs).
    pub year: i64,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31.
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl CivilTime {
    /// The UTC civil time `unix_nanos` nanoseconds after 1970-01-01T00:00:00Z (negative:
    /// before it).
    pub fn from_unix_nanos(unix_nanos: i128) -> CivilTime {
        let secs = unix_nanos.div_euclid(1_000_000_000);
        let nanos = unix_nanos.rem_euclid(1_000_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i128::from(month <= 2);
        CivilTime {
            year: i64::try_from(year).unwrap_or(if year < 0 { i64::MIN } else { i64::MAX }),
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            nanos,
        }
    }
}

/// Append one log line, without the trailing newline, to `out`:
/// `[pid] YYYY/MM/DD HH:MM:SS.micros [LVL] message`, or `[pid] [LVL] message` when
/// `unix_time_nanos` is `None` (logtime off). The time is UTC.
pub fn format_line(
    out: &mut String,
    pid: u32,
    unix_time_nanos: Option<i128>,
    level: Level,
    message: &str,
) {
    format_line_with_colors(out, pid, unix_time_nanos, level, message, false);
}

/// [`format_line`], with the label colored as nats-server does on a terminal when
/// `colors` is set: `[\x1b[32mINF\x1b[0m]`.
pub fn format_line_with_colors(
    out: &mut String,
    pid: u32,
    unix_time_nanos: Option<i128>,
    level: Level,
    message: &str,
    colors: bool,
) {
    let _ = write!(out, "[{pid}] ");
    if let Some(nanos) = unix_time_nanos {
        let t = CivilTime::from_unix_nanos(nanos);
        let _ = write!(
            out,
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:06} ",
            t.year,
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            t.nanos / 1000
        );
    }
    if colors {
        let _ = write!(out, "[\x1b[{}m{}\x1b[0m] ", level.color(), level.label());
    } else {
        let _ = write!(out, "[{}] ", level.label());
    }
    out.push_str(message);
}

/// Where the engine sends the log lines it makes itself (protocol traces with `trace`,
/// `-V`). Implemented by the frontend's logger; the engine only formats the message.
pub trait LogSink: Send + Sync {
    /// Write `message` at `level`.
    fn log(&self, level: Level, message: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i128 = 1_000_000_000;

    fn line(pid: u32, t: Option<i128>, level: Level, msg: &str) -> String {
        let mut s = String::new();
        format_line(&mut s, pid, t, level, msg);
        s
    }

    #[test]
    fn nats_server_shape() {
        // Observed from nats-server 2.9.10 (TZ=UTC):
        // [15017] 2026/11/27 16:13:15.951122 [INF] Starting nats-server
        // 2026-11-27T16:13:15Z = 1795795995
        let t = 1_795_795_995 * SEC + 951_122_000;
        assert_eq!(
            line(15017, Some(t), Level::Info, "Starting nats-server"),
            "[15017] 2026/11/27 16:13:15.951122 [INF] Starting nats-server"
        );
        // [21972] [INF] Starting nats-server   (-T=false)
        assert_eq!(
            line(21972, None, Level::Info, "Starting nats-server"),
            "[21972] [INF] Starting nats-server"
        );
        assert_eq!(line(1, None, Level::Debug, "x"), "[1] [DBG] x");
        assert_eq!(line(1, None, Level::Trace, "x"), "[1] [TRC] x");
        assert_eq!(line(1, None, Level::Warn, "x"), "[1] [WRN] x");
        assert_eq!(line(1, None, Level::Error, "x"), "[1] [ERR] x");
        assert_eq!(line(1, None, Level::Fatal, "x"), "[1] [FTL] x");
    }

    #[test]
    fn colors_like_nats_server_on_a_tty() {
        // Observed: "[21922] [\x1b[32mINF\x1b[0m] Starting nats-server"
        let mut s = String::new();
        format_line_with_colors(&mut s, 21922, None, Level::Info, "Starting", true);
        assert_eq!(s, "[21922] [\x1b[32mINF\x1b[0m] Starting");
        s.clear();
        format_line_with_colors(&mut s, 1, None, Level::Debug, "d", true);
        assert_eq!(s, "[1] [\x1b[36mDBG\x1b[0m] d");
        s.clear();
        format_line_with_colors(&mut s, 1, None, Level::Trace, "t", true);
        assert_eq!(s, "[1] [\x1b[33mTRC\x1b[0m] t");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(
            line(7, Some(0), Level::Info, "epoch"),
            "[7] 1970/01/01 00:00:00.000000 [INF] epoch"
        );
        // Leap day and a microsecond truncation.
        // 2024-02-29T23:59:59Z = 1709251199
        assert_eq!(
            line(7, Some(1_709_251_199 * SEC + 999_999_999), Level::Info, "m"),
            "[7] 2024/02/29 23:59:59.999999 [INF] m"
        );
        // 2000-03-01T00:00:00Z = 951868800
        let t = CivilTime::from_unix_nanos(951_868_800 * SEC);
        assert_eq!((t.year, t.month, t.day), (2000, 3, 1));
        // 1969-12-31T23:59:59.5Z
        let t = CivilTime::from_unix_nanos(-SEC / 2);
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second, t.nanos),
            (1969, 12, 31, 23, 59, 59, 500_000_000)
        );
        // 2100-01-01 (not a leap year) = 4102444800
        let t = CivilTime::from_unix_nanos(4_102_444_800 * SEC - SEC);
        assert_eq!((t.year, t.month, t.day), (2099, 12, 31));
        // Extremes must not panic.
        let _ = CivilTime::from_unix_nanos(i128::MAX);
        let _ = CivilTime::from_unix_nanos(i128::MIN);
    }

    #[test]
    fn every_day_round_trips() {
        // Walk 1000 years of days and check the calendar is continuous.
        let mut prev = CivilTime::from_unix_nanos(-200 * 365 * 86_400 * SEC);
        for d in 1..(1000 * 366) {
            let t = CivilTime::from_unix_nanos((-200 * 365 + d) * 86_400 * SEC);
            let next_day = t.day == prev.day + 1 && t.month == prev.month && t.year == prev.year;
            let next_month = t.day == 1 && t.month == prev.month + 1 && t.year == prev.year;
            let next_year =
                t.day == 1 && t.month == 1 && prev.month == 12 && t.year == prev.year + 1;
            assert!(next_day || next_month || next_year, "{prev:?} -> {t:?}");
            prev = t;
        }
    }
}
