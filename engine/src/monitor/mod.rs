//! nats-server's HTTP monitoring endpoints, computed by the engine so that every frontend
//! serves the same bytes.
//!
//! A frontend reads a request head (up to the blank line) from the monitoring port and
//! hands it to [`http_response`], together with the time and this process's resource use
//! ([`HostStats`]); it writes back the returned bytes and closes the connection.
//!
//! | Path | Answer |
//! |------|--------|
//! | `/` | HTML index linking the endpoints |
//! | `/varz` | server information and counters |
//! | `/connz` | open connections; `sort`, `auth`, `subs` (`1`/`true`/`detail`), `offset`, `limit` (1024), `cid`, `state` (`open`/`closed`/`any`), `user`, `acc`, `mqtt_client` |
//! | `/subsz`, `/subscriptionsz` | sublist statistics; `subs=1` lists subscriptions, `test=<subject>` filters them, `offset`, `limit`, `acc` |
//! | `/routez`, `/gatewayz`, `/leafz` | empty cluster, gateway and leaf node reports |
//! | `/accountz` (`acc=`), `/accstatz` (`unused=`) | the global account `$G` |
//! | `/jsz` | JetStream disabled |
//! | `/healthz` | `{"status":"ok"}` |
//!
//! JSON uses nats-server's field names, field order, types and layout (`MarshalIndent`
//! with two spaces): times are RFC 3339 UTC with nanoseconds (`"2026-11-27T16:15:01.5313Z"`),
//! `uptime`/`idle` use nats-server's `"1d2h3m4s"` form, `rtt` is a Go duration string
//! (`"287µs"`), and `ping_interval`/`write_deadline` in `/varz` are integer nanoseconds
//! (Go's `time.Duration`). Any endpoint takes `callback=<fn>` for a JSONP answer.
//!
//! Parameter errors are answered as nats-server does (`400` with a text message such as
//! `invalid sorting option: foo`); unknown paths get `404 page not found`; a request line
//! that does not parse gets `400`; methods other than GET and HEAD get `405`. Every request
//! to a known endpoint is counted for `http_req_stats`.
//!
//! The last 10,000 closed connections are kept (as nats-server does) for `/connz` with
//! `state=closed` or `state=any`: their numbers and subscriptions at close, `stop` and
//! `reason`.

mod connz;
mod endpoints;
mod format;
mod http;
mod json;
mod subsz;

#[cfg(test)]
mod tests;

use crate::prelude::*;
use crate::server::Server;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::sync::Mutex;
use crate::time::Instant;
use core::time::Duration;
use http::{Method, Response};

/// Resource use of the server process, measured by the frontend (`/varz` `mem`, `cpu`,
/// `cores`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HostStats {
    /// Resident set size in bytes.
    pub mem_bytes: u64,
    /// CPU time (user + system) used by the process since it started, in seconds.
    pub cpu_seconds: f64,
    /// Number of logical CPUs available.
    pub cores: usize,
}

/// The answer to one HTTP request on the monitoring port: the complete HTTP/1.1 response
/// (status line, headers including `Content-Type`, `Content-Length` and
/// `Connection: close`, then the body; no body for HEAD).
///
/// `request` is the request head as read from the socket (at least the request line;
/// headers are ignored, anything after the head is ignored). `now` is the engine clock,
/// `unix_nanos` the wall clock at the same moment (nanoseconds since the Unix epoch).
/// Never panics, whatever the bytes.
pub fn http_response(
    server: &Server,
    request: &[u8],
    now: Instant,
    unix_nanos: i128,
    host: &HostStats,
) -> Vec<u8> {
    let req = match http::parse_request(request) {
        Ok(req) => req,
        Err(http::BadRequest) => return Response::bad_request().to_bytes(unix_nanos, false),
    };
    let head_only = match req.method {
        Method::Get => false,
        Method::Head => true,
        Method::Other => return Response::method_not_allowed().to_bytes(unix_nanos, false),
    };
    let Some(endpoint) = Endpoint::from_path(&req.path) else {
        return Response::not_found().to_bytes(unix_nanos, head_only);
    };
    let ctx = endpoints::Ctx {
        server,
        now,
        unix_nanos,
        host,
    };
    let response = match endpoints::handle(&ctx, endpoint, &req.query) {
        Ok(endpoints::Body::Json(body)) => {
            let callback = req.query.get("callback");
            if callback.is_empty() {
                Response::json(body)
            } else {
                // JSONP, as nats-server's ResponseHandler.
                let mut wrapped = Vec::with_capacity(body.len() + callback.len() + 2);
                wrapped.extend_from_slice(callback.as_bytes());
                wrapped.push(b'(');
                wrapped.extend_from_slice(&body);
                wrapped.push(b')');
                Response {
                    status: 200,
                    content_type: "application/javascript",
                    extra_headers: Vec::new(),
                    body: wrapped,
                }
            }
        }
        Ok(endpoints::Body::Html(body)) => Response {
            status: 200,
            content_type: "text/html; charset=utf-8",
            extra_headers: Vec::new(),
            body,
        },
        Err(error) => error,
    };
    response.to_bytes(unix_nanos, head_only)
}

/// The monitored endpoints (each with its own `http_req_stats` counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Root,
    Varz,
    Connz,
    Routez,
    Gatewayz,
    Leafz,
    Subsz,
    Accountz,
    Accstatz,
    Jsz,
    Healthz,
}

impl Endpoint {
    const ALL: [Endpoint; 11] = [
        Endpoint::Root,
        Endpoint::Varz,
        Endpoint::Connz,
        Endpoint::Routez,
        Endpoint::Gatewayz,
        Endpoint::Leafz,
        Endpoint::Subsz,
        Endpoint::Accountz,
        Endpoint::Accstatz,
        Endpoint::Jsz,
        Endpoint::Healthz,
    ];

    /// The `http_req_stats` key (nats-server counts `/subscriptionsz` under `/subsz`).
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::Root => "/",
            Endpoint::Varz => "/varz",
            Endpoint::Connz => "/connz",
            Endpoint::Routez => "/routez",
            Endpoint::Gatewayz => "/gatewayz",
            Endpoint::Leafz => "/leafz",
            Endpoint::Subsz => "/subsz",
            Endpoint::Accountz => "/accountz",
            Endpoint::Accstatz => "/accstatz",
            Endpoint::Jsz => "/jsz",
            Endpoint::Healthz => "/healthz",
        }
    }

    fn from_path(path: &[u8]) -> Option<Endpoint> {
        if path == b"/subscriptionsz" {
            return Some(Endpoint::Subsz);
        }
        Endpoint::ALL
            .into_iter()
            .find(|e| e.path().as_bytes() == path)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The last CPU sample, to report CPU use over the last second or so as nats-server does.
#[derive(Debug, Clone, Copy)]
struct CpuSample {
    at: Instant,
    cpu_seconds: f64,
    percent: f64,
}

/// Monitoring state kept in the [`Server`]: request counters per endpoint
/// (`http_req_stats`) and the last CPU sample (`cpu`).
#[derive(Debug, Default)]
pub struct MonitorState {
    requests: [AtomicU64; Endpoint::ALL.len()],
    cpu: Mutex<Option<CpuSample>>,
}

impl MonitorState {
    /// Count one request to `endpoint`.
    pub(crate) fn count(&self, endpoint: Endpoint) {
        self.requests[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The endpoints requested so far and how often, sorted by path (Go sorts map keys).
    pub(crate) fn request_stats(&self) -> Vec<(&'static str, u64)> {
        let mut stats: Vec<_> = Endpoint::ALL
            .into_iter()
            .map(|e| (e.path(), self.requests[e.index()].load(Ordering::Relaxed)))
            .filter(|&(_, n)| n > 0)
            .collect();
        stats.sort_unstable_by_key(|&(path, _)| path);
        stats
    }

    /// Process CPU use in percent, with one decimal (truncated) like nats-server's `pse`:
    /// measured over the time since the previous sample when that is at least a second
    /// old, the previous value otherwise; the first sample averages over the uptime.
    pub(crate) fn cpu_percent(&self, now: Instant, start: Instant, cpu_seconds: f64) -> f64 {
        let cpu_seconds = if cpu_seconds.is_finite() && cpu_seconds > 0.0 {
            cpu_seconds
        } else {
            0.0
        };
        let mut last = self.cpu.lock();
        let percent = match *last {
            Some(s) if now.saturating_since(s.at) < Duration::from_secs(1) => return s.percent,
            Some(s) => {
                let spent = (cpu_seconds - s.cpu_seconds).max(0.0);
                spent / now.saturating_since(s.at).as_secs_f64() * 100.0
            }
            None => {
                let up = now.saturating_since(start).as_secs_f64();
                if up > 0.0 {
                    cpu_seconds / up * 100.0
                } else {
                    0.0
                }
            }
        };
        // Truncate to tenths; `as` saturates and maps NaN to 0.
        let percent = (percent * 10.0) as u64 as f64 / 10.0;
        *last = Some(CpuSample {
            at: now,
            cpu_seconds,
            percent,
        });
        percent
    }
}
