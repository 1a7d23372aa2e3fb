//! Time and duration text exactly as nats-server (Go) writes it.
//!
//! * [`go_duration`]: Go's `time.Duration.String()` (`"0s"`, `"500µs"`, `"1.234ms"`,
//!   `"1m30.5s"`, `"2m0s"`, `"1h0m0s"`), used for `rtt`.
//! * [`uptime`]: nats-server's `myUptime` (whole seconds, with days and years:
//!   `"5s"`, `"2m15s"`, `"1h2m3s"`, `"3d4h5m6s"`, `"1y2d3h4m5s"`), used for `uptime`/`idle`.
//! * [`rfc3339_nano`]: Go's `time.Time` JSON form in UTC (RFC 3339 with nanoseconds,
//!   trailing zeros trimmed: `"2026-11-27T16:15:01.5313333Z"`, `"…:01Z"`).
//! * [`http_date`]: the IMF-fixdate of the HTTP `Date` header.

use crate::log::CivilTime;
use crate::prelude::*;
use core::fmt::Write;

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds: the years Go's JSON
/// encoding of a time accepts. Times outside are clamped.
const MIN_UNIX_SECS: i128 = -62_167_219_200;
const MAX_UNIX_SECS: i128 = 253_402_300_799;

/// Go's `time.Duration.String()` for `nanos` nanoseconds (clamped to Go's `int64` range).
pub(crate) fn go_duration(nanos: i128) -> String {
    let nanos = nanos.clamp(i64::MIN as i128, i64::MAX as i128);
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs() as u64;
    // Built back to front, as Go does.
    let mut buf: Vec<u8> = Vec::with_capacity(32);
    if u < 1_000_000_000 {
        if u == 0 {
            return "0s".to_string();
        }
        let (prec, unit): (u32, &[u8]) = if u < 1_000 {
            (0, b"ns")
        } else if u < 1_000_000 {
            (3, "µs".as_bytes())
        } else {
            (6, b"ms")
        };
        buf.extend(unit.iter().rev());
        u = fmt_frac(&mut buf, u, prec);
        fmt_int(&mut buf, u);
    } else {
        buf.push(b's');
        u = fmt_frac(&mut buf, u, 9);
        fmt_int(&mut buf, u % 60);
        u /= 60;
        if u > 0 {
            buf.push(b'm');
            fmt_int(&mut buf, u % 60);
            u /= 60;
            if u > 0 {
                buf.push(b'h');
                fmt_int(&mut buf, u);
            }
        }
    }
    if neg {
        buf.push(b'-');
    }
    buf.reverse();
    String::from_utf8(buf).unwrap_or_default()
}

/// Appends (reversed) the fraction `v / 10^prec` without trailing zeros, and the decimal
/// point when there is a fraction; returns `v / 10^prec`.
fn fmt_frac(rev: &mut Vec<u8>, mut v: u64, prec: u32) -> u64 {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print = print || digit != 0;
        if print {
            rev.push(b'0' + digit);
        }
        v /= 10;
    }
    if print {
        rev.push(b'.');
    }
    v
}

/// Appends (reversed) the decimal digits of `v`.
fn fmt_int(rev: &mut Vec<u8>, mut v: u64) {
    if v == 0 {
        rev.push(b'0');
        return;
    }
    while v > 0 {
        rev.push(b'0' + (v % 10) as u8);
        v /= 10;
    }
}

/// nats-server's `myUptime`: whole seconds, split into years (365 days), days, hours,
/// minutes and seconds, leading zero units left out.
pub(crate) fn uptime(nanos: i128) -> String {
    let secs = (nanos / NANOS_PER_SEC).max(0);
    let mins = secs / 60;
    let hours = mins / 60;
    let days = hours / 24;
    let years = days / 365;
    let (s, m, h, d) = (secs % 60, mins % 60, hours % 24, days % 365);
    if years > 0 {
        format!("{years}y{d}d{h}h{m}m{s}s")
    } else if days > 0 {
        format!("{days}d{h}h{m}m{s}s")
    } else if hours > 0 {
        format!("{hours}h{m}m{s}s")
    } else if mins > 0 {
        format!("{mins}m{s}s")
    } else {
        format!("{secs}s")
    }
}

/// Split Unix nanoseconds into a UTC civil time (years clamped to 0..=9999, as Go's JSON
/// time encoding accepts no others) and its weekday (0 = Sunday).
pub(crate) fn civil(unix_nanos: i128) -> (CivilTime, u32) {
    let secs = unix_nanos.div_euclid(NANOS_PER_SEC);
    let clamped = if secs < MIN_UNIX_SECS {
        MIN_UNIX_SECS * NANOS_PER_SEC
    } else if secs > MAX_UNIX_SECS {
        MAX_UNIX_SECS * NANOS_PER_SEC + (NANOS_PER_SEC - 1)
    } else {
        unix_nanos
    };
    let days = clamped.div_euclid(NANOS_PER_SEC).div_euclid(86_400);
    // 1970-01-01 was a Thursday.
    let weekday = (days + 4).rem_euclid(7) as u32;
    (CivilTime::from_unix_nanos(clamped), weekday)
}

/// Go's JSON form of a UTC `time.Time`: RFC 3339 with up to nine fraction digits,
/// trailing zeros (and a bare point) removed.
pub(crate) fn rfc3339_nano(unix_nanos: i128) -> String {
    let (c, _) = civil(unix_nanos);
    let mut s = String::with_capacity(30);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if c.nanos != 0 {
        let frac = format!("{:09}", c.nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// The HTTP `Date` header value (IMF-fixdate): `Fri, 27 Nov 2026 16:15:04 GMT`.
pub(crate) fn http_date(unix_nanos: i128) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (c, weekday) = civil(unix_nanos);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(weekday % 7) as usize],
        c.day,
        MONTHS[((c.month + 11) % 12) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i128 = 1_000_000;
    const S: i128 = 1_000_000_000;

    #[test]
    fn go_durations() {
        for (nanos, want) in [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (287_000, "287µs"),
            (287_456, "287.456µs"),
            (500_000, "500µs"),
            (1_234_000, "1.234ms"),
            (1_234_567, "1.234567ms"),
            (S, "1s"),
            (1_500 * MS, "1.5s"),
            (90 * S + 500 * MS, "1m30.5s"),
            (120 * S, "2m0s"),
            (3600 * S, "1h0m0s"),
            (3723 * S + 1, "1h2m3.000000001s"),
            (-1_500 * MS, "-1.5s"),
            (i128::MAX, "2562047h47m16.854775807s"),
        ] {
            assert_eq!(go_duration(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn uptimes() {
        for (secs, want) in [
            (0, "0s"),
            (2, "2s"),
            (135, "2m15s"),
            (3723, "1h2m3s"),
            (3 * 86_400 + 4 * 3600 + 5 * 60 + 6, "3d4h5m6s"),
            (366 * 86_400 + 3 * 3600, "1y1d3h0m0s"),
            (-5, "0s"),
        ] {
            assert_eq!(uptime(secs * S), want, "{secs}");
        }
        assert_eq!(uptime(2 * S - 1), "1s");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        // 2026-11-27T16:15:01.531333328Z, as nats-server printed it.
        let t = 1_795_796_101 * S + 531_333_328;
        assert_eq!(rfc3339_nano(t), "2026-11-27T16:15:01.531333328Z");
        assert_eq!(
            rfc3339_nano(1_795_796_101 * S + 437_782_650),
            "2026-11-27T16:15:01.43778265Z"
        );
        assert_eq!(
            rfc3339_nano(1_795_796_101 * S + 500 * MS),
            "2026-11-27T16:15:01.5Z"
        );
        assert_eq!(rfc3339_nano(951_782_400 * S), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339_nano(i128::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(i128::MAX), "9999-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date(1_795_796_104 * S),
            "Fri, 27 Nov 2026 16:15:04 GMT"
        );
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(i128::MIN), "Sat, 01 Jan 0000 00:00:00 GMT");
    }
}
