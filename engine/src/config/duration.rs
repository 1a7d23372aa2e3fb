//! Go's `time.ParseDuration` and `Duration.String`, with Go's error texts.

use crate::prelude::*;

const NS: u64 = 1;
const US: u64 = 1000 * NS;
const MS: u64 = 1000 * US;
const SEC: u64 = 1000 * MS;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;

fn quote(s: &str) -> String {
    crate::error::GoQuoted(s).to_string()
}

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NS,
        "us" | "\u{b5}s" | "\u{3bc}s" => US,
        "ms" => MS,
        "s" => SEC,
        "m" => MIN,
        "h" => HOUR,
        _ => return None,
    })
}

/// Parse a Go duration (`"1h30m"`, `"1.5s"`, `"-2m"`, `"0"`) into signed nanoseconds.
/// Errors carry Go's text, e.g. `time: unknown unit "d" in duration "1d"`.
pub(crate) fn parse_go_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Leading integer.
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > (1u64 << 63) / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > 1u64 << 63 {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // Fraction.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut i = 0;
            let mut overflow = false;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > ((1u64 << 63) - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > 1u64 << 63 {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let i = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let u = String::from_utf8_lossy(&s[..i]).into_owned();
        s = &s[i..];
        let unit = match unit(&u) {
            Some(unit) => unit,
            None => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(&u),
                    quote(orig)
                ))
            }
        };
        if v > (1u64 << 63) / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > 1u64 << 63 {
                return Err(invalid());
            }
        }
        d = match d.checked_add(v) {
            Some(d) if d <= 1u64 << 63 => d,
            _ => return Err(invalid()),
        };
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > (1u64 << 63) - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `time.Duration.String` of signed nanoseconds (`"1h2m3.5s"`, `"500ms"`, `"0s"`).
pub(crate) fn go_duration_string(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < SEC {
        let (unit, div) = if u == 0 {
            return "0s".to_string();
        } else if u < US {
            ("ns", 1)
        } else if u < MS {
            ("\u{b5}s", US)
        } else {
            ("ms", MS)
        };
        out.push_str(&frac_string(u, div));
        out.push_str(unit);
    } else {
        let h = u / HOUR;
        u -= h * HOUR;
        let m = u / MIN;
        u -= m * MIN;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac_string(u, SEC));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / div` with the fraction written without trailing zeros.
fn frac_string(v: u64, div: u64) -> String {
    let whole = v / div;
    let mut frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let mut digits = 0;
    let mut d = div;
    while d > 1 {
        d /= 10;
        digits += 1;
    }
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    format!("{whole}.{frac:0digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        assert_eq!(parse_go_duration("2m"), Ok(120 * SEC as i64));
        assert_eq!(parse_go_duration("1h30m"), Ok(90 * MIN as i64));
        assert_eq!(parse_go_duration("500ms"), Ok(500 * MS as i64));
        assert_eq!(parse_go_duration("1.5s"), Ok(1500 * MS as i64));
        assert_eq!(parse_go_duration(".5s"), Ok(500 * MS as i64));
        assert_eq!(parse_go_duration("-5s"), Ok(-5 * SEC as i64));
        assert_eq!(parse_go_duration("+5s"), Ok(5 * SEC as i64));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("1\u{b5}s"), Ok(1000));
        assert_eq!(parse_go_duration("3us"), Ok(3000));
        assert_eq!(parse_go_duration("1h1m1s1ms1us1ns"), Ok(3_661_001_001_001));
        assert_eq!(
            parse_go_duration("10"),
            Err("time: missing unit in duration \"10\"".to_string())
        );
        assert_eq!(
            parse_go_duration("abc"),
            Err("time: invalid duration \"abc\"".to_string())
        );
        assert_eq!(
            parse_go_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_string())
        );
        assert_eq!(
            parse_go_duration(""),
            Err("time: invalid duration \"\"".to_string())
        );
        assert_eq!(
            parse_go_duration("."),
            Err("time: invalid duration \".\"".to_string())
        );
        assert!(parse_go_duration("99999999999h").is_err());
        assert!(parse_go_duration("9223372036854775808ns").is_err());
        assert_eq!(parse_go_duration("-9223372036854775808ns"), Ok(i64::MIN));
        assert!(parse_go_duration("9223372036854775808ns9223372036854775808ns").is_err());
        assert!(parse_go_duration("1.99999999999999999999999999h").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "[-+0-9.a-zµμ]{0,40}") {
            if let Ok(n) = parse_go_duration(&s) {
                let _ = go_duration_string(n);
            }
        }
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(go_duration_string(0), "0s");
        assert_eq!(go_duration_string(10 * SEC as i64), "10s");
        assert_eq!(go_duration_string(90 * MIN as i64), "1h30m0s");
        assert_eq!(go_duration_string(1500 * MS as i64), "1.5s");
        assert_eq!(go_duration_string(500 * MS as i64), "500ms");
        assert_eq!(go_duration_string(1500), "1.5\u{b5}s");
        assert_eq!(go_duration_string(7), "7ns");
        assert_eq!(go_duration_string(-2 * MIN as i64), "-2m0s");
        assert_eq!(go_duration_string(i64::MIN), "-2562047h47m16.854775808s");
    }
}
