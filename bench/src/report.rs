//! Human-readable tables and JSON for runs and comparisons.

use crate::scenarios::Outcome;
use serde_json::{json, Value};

/// `12.3M`, `456k`, `7.89`: three significant digits with an SI suffix.
pub fn si(x: f64) -> String {
    let (v, suffix) = if x.abs() >= 1e9 {
        (x / 1e9, "G")
    } else if x.abs() >= 1e6 {
        (x / 1e6, "M")
    } else if x.abs() >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    if v.abs() >= 100.0 {
        format!("{v:.0}{suffix}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}{suffix}")
    } else {
        format!("{v:.2}{suffix}")
    }
}

/// Bytes as `12.3 MB` (decimal) per second.
pub fn bytes_rate(x: f64) -> String {
    format!("{}B/s", si(x))
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "-".to_string(), f)
}

/// What the `details` column of a row shows for scenarios with extra figures.
pub fn details(o: &Outcome) -> String {
    if let Some(l) = &o.latency {
        return format!(
            "p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} us",
            l.p50, l.p90, l.p99, l.p999, l.max
        );
    }
    if let Some(c) = &o.conns {
        let mib = |b: Option<u64>| opt(b.map(|b| b as f64 / 1048576.0), |m| format!("{m:.1}"));
        return format!(
            "{} conns in {:.2}s, RSS {} -> {} MiB, {} KiB/conn",
            c.count,
            c.connect_secs,
            mib(c.rss_before),
            mib(c.rss_after),
            opt(c.rss_per_conn(), |b| format!("{:.1}", b / 1024.0))
        );
    }
    let rate = (o.payload >= 1024).then(|| bytes_rate(o.bytes_rate()));
    match (rate, &o.tls) {
        (Some(rate), Some(tls)) => format!("{rate}, {tls}"),
        (Some(rate), None) => rate,
        (None, Some(tls)) => tls.clone(),
        (None, None) => String::new(),
    }
}

/// The table printed after a run.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut rows = vec![[
        "scenario".to_string(),
        "published".into(),
        "delivered".into(),
        "secs".into(),
        "msgs/s".into(),
        "srv cpu s".into(),
        "cpu s/1M".into(),
        "bench cpu s".into(),
        "details".into(),
    ]];
    for o in outcomes {
        rows.push([
            o.scenario.clone(),
            o.published.to_string(),
            o.delivered.to_string(),
            format!("{:.3}", o.secs),
            si(o.rate()),
            opt(o.server_cpu, |c| format!("{c:.2}")),
            opt(o.cpu_per_million(), |c| format!("{c:.3}")),
            opt(o.bench_cpu, |c| format!("{c:.2}")),
            details(o),
        ]);
    }
    render(&rows)
}

/// Left-aligned first and last column, right-aligned numbers.
pub fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (ri, r) in rows.iter().enumerate() {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            if i == 0 || i == N - 1 {
                line.push_str(&format!("{c:<w$}"));
            } else {
                line.push_str(&format!("{c:>w$}"));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if ri == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (N - 1)));
            out.push('\n');
        }
    }
    out
}

/// One outcome as JSON.
pub fn outcome_json(o: &Outcome) -> Value {
    json!({
        "scenario": o.scenario,
        "msgs": o.msgs,
        "published": o.published,
        "delivered": o.delivered,
        "payload_bytes": o.payload,
        "secs": o.secs,
        "msgs_per_sec": o.rate(),
        "bytes_per_sec": o.bytes_rate(),
        "server_cpu_secs": o.server_cpu,
        "server_cpu_secs_per_million": o.cpu_per_million(),
        "bench_cpu_secs": o.bench_cpu,
        "latency_us": o.latency.as_ref().map(|l| json!({
            "p50": l.p50, "p90": l.p90, "p99": l.p99, "p99_9": l.p999, "max": l.max,
        })),
        "connections": o.conns.as_ref().map(|c| json!({
            "count": c.count,
            "connect_secs": c.connect_secs,
            "rss_before": c.rss_before,
            "rss_after": c.rss_after,
            "rss_per_conn": c.rss_per_conn(),
        })),
        "tls": o.tls,
    })
}
