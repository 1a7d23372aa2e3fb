//! Dispatch, nats-server's query-parameter decoding, and the endpoints other than
//! `/connz` and `/subsz`.

use super::format::{rfc3339_nano, uptime};
use super::http::{Query, Response};
use super::json::{to_compact, to_pretty, Obj, J};
use super::{connz, subsz, Endpoint, HostStats};
use crate::prelude::*;
use crate::server::{Server, NATS_VERSION, RNATS_VERSION};
use crate::sync::atomic::Ordering;
use crate::time::Instant;

/// The `go` field: what nats-server reports as its Go version (the same text as INFO).
pub(crate) const GO_FIELD: &str = concat!("rnats ", env!("CARGO_PKG_VERSION"));
/// The name of the only account.
pub(crate) const GLOBAL_ACCOUNT: &str = "$G";

/// Everything a handler may look at.
pub(crate) struct Ctx<'a> {
    pub(crate) server: &'a Server,
    pub(crate) now: Instant,
    pub(crate) unix_nanos: i128,
    pub(crate) host: &'a HostStats,
}

impl Ctx<'_> {
    /// The wall-clock time (Unix nanoseconds) of engine instant `t`.
    pub(crate) fn wall(&self, t: Instant) -> i128 {
        if t <= self.now {
            self.unix_nanos
                .saturating_sub(self.now.saturating_since(t).as_nanos() as i128)
        } else {
            self.unix_nanos
                .saturating_add(t.saturating_since(self.now).as_nanos() as i128)
        }
    }

    /// `now` as nats-server prints it.
    pub(crate) fn now_text(&self) -> String {
        rfc3339_nano(self.unix_nanos)
    }

    /// Nanoseconds from `t` to now (0 when `t` is later).
    pub(crate) fn since(&self, t: Instant) -> i128 {
        self.now.saturating_since(t).as_nanos() as i128
    }
}

/// A successful answer.
pub(crate) enum Body {
    Json(Vec<u8>),
    Html(Vec<u8>),
}

/// A handler's result: a body, or an error response (a `400`).
pub(crate) type Reply = Result<Body, Response>;

/// Run the handler of `endpoint`. Requests are counted where nats-server counts them (for
/// `/connz`, after its parameters decoded).
pub(crate) fn handle(ctx: &Ctx<'_>, endpoint: Endpoint, q: &Query) -> Reply {
    let monitor = &ctx.server.monitor;
    if endpoint != Endpoint::Connz {
        monitor.count(endpoint);
    }
    match endpoint {
        Endpoint::Root => Ok(Body::Html(root())),
        Endpoint::Varz => Ok(pretty(varz(ctx))),
        Endpoint::Connz => connz::connz(ctx, q),
        Endpoint::Subsz => subsz::subsz(ctx, q),
        Endpoint::Routez => {
            decode_subs(q)?;
            Ok(pretty(
                Obj::new()
                    .put("server_id", ctx.server.id())
                    .put(
                        "server_name",
                        ctx.server.options().server_name.clone().unwrap_or_default(),
                    )
                    .put("now", ctx.now_text())
                    .put("num_routes", 0u64)
                    .put("routes", Vec::<J>::new()),
            ))
        }
        Endpoint::Gatewayz => {
            decode_subs(q)?;
            decode_bool(q, "accs")?;
            Ok(pretty(
                Obj::new()
                    .put("server_id", ctx.server.id())
                    .put("now", ctx.now_text())
                    .put("outbound_gateways", Obj::new())
                    .put("inbound_gateways", Obj::new()),
            ))
        }
        Endpoint::Leafz => {
            decode_bool(q, "subs")?;
            Ok(pretty(
                Obj::new()
                    .put("server_id", ctx.server.id())
                    .put("now", ctx.now_text())
                    .put("leafnodes", 0u64)
                    .put("leafs", Vec::<J>::new()),
            ))
        }
        Endpoint::Accountz => accountz(ctx, q),
        Endpoint::Accstatz => accstatz(ctx, q),
        Endpoint::Jsz => Ok(pretty(jsz(ctx))),
        Endpoint::Healthz => {
            for name in ["js-enabled", "js-enabled-only", "js-server-only", "details"] {
                decode_bool(q, name)?;
            }
            Ok(Body::Json(to_compact(
                &Obj::new().put("status", "ok").into(),
            )))
        }
    }
}

/// A JSON body in `MarshalIndent` layout.
pub(crate) fn pretty(obj: Obj) -> Body {
    Body::Json(to_pretty(&J::Obj(obj)))
}

/// A `400` with nats-server's message.
pub(crate) fn bad(message: String) -> Response {
    Response::text(400, message.into_bytes())
}

/// nats-server's `decodeBool`: empty is false; otherwise Go's `strconv.ParseBool`.
pub(crate) fn decode_bool(q: &Query, name: &str) -> Result<bool, Response> {
    let v = q.get(name);
    match v.as_str() {
        "" | "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        _ => Err(bad(format!(
            "Error decoding boolean for '{name}': strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(&v)
        ))),
    }
}

/// nats-server's `decodeInt`: empty is 0; otherwise Go's `strconv.Atoi` (64-bit).
pub(crate) fn decode_int(q: &Query, name: &str) -> Result<i64, Response> {
    let v = q.get(name);
    if v.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match v.as_bytes()[0] {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v.as_str()),
    };
    let err = |why: &str| {
        bad(format!(
            "Error decoding int for '{name}': strconv.Atoi: parsing {}: {why}",
            go_quote(&v)
        ))
    };
    let magnitude = parse_digits(digits).ok_or_else(|| err("invalid syntax"))?;
    let value = match magnitude {
        Some(m) if neg && m <= i64::MIN.unsigned_abs() => 0i64.wrapping_sub_unsigned(m),
        Some(m) if !neg && m <= i64::MAX as u64 => m as i64,
        _ => return Err(err("value out of range")),
    };
    Ok(value)
}

/// nats-server's `decodeUint64`: empty is 0; otherwise Go's `strconv.ParseUint(s, 10, 64)`.
pub(crate) fn decode_uint64(q: &Query, name: &str) -> Result<u64, Response> {
    let v = q.get(name);
    if v.is_empty() {
        return Ok(0);
    }
    let err = |why: &str| {
        bad(format!(
            "Error decoding uint64 for '{name}': strconv.ParseUint: parsing {}: {why}",
            go_quote(&v)
        ))
    };
    match parse_digits(&v) {
        None => Err(err("invalid syntax")),
        Some(None) => Err(err("value out of range")),
        Some(Some(n)) => Ok(n),
    }
}

/// Decimal digits to a number: `None` if not all digits (or empty), `Some(None)` on
/// overflow.
fn parse_digits(s: &str) -> Option<Option<u64>> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    }))
}

/// `subs`: `detail` (any case) asks for details, otherwise a boolean.
/// Returns (subs, detail).
pub(crate) fn decode_subs(q: &Query) -> Result<(bool, bool), Response> {
    if q.get("subs").eq_ignore_ascii_case("detail") {
        return Ok((false, true));
    }
    Ok((decode_bool(q, "subs")?, false))
}

/// Go's `%q` of a string (enough of `strconv.Quote` for error messages).
pub(crate) fn go_quote(s: &str) -> String {
    crate::error::GoQuoted(s).to_string()
}

/// `/varz`.
fn varz(ctx: &Ctx<'_>) -> Obj {
    let server = ctx.server;
    let o = server.options();
    let stats = &server.stats;
    let (in_msgs, in_bytes, out_msgs, out_bytes) = stats.counters.snapshot();
    let start = rfc3339_nano(ctx.wall(server.start_time()));
    let cpu = server
        .monitor
        .cpu_percent(ctx.now, server.start_time(), ctx.host.cpu_seconds);
    let mut http_req_stats = Obj::new();
    for (path, n) in server.monitor.request_stats() {
        http_req_stats = http_req_stats.put(path, n);
    }
    Obj::new()
        .put("server_id", server.id())
        .put("server_name", server.name())
        .put("version", NATS_VERSION)
        .put("proto", 1u64)
        .put("go", GO_FIELD)
        .put("host", o.host.as_str())
        .put("port", o.port.unwrap_or(0))
        .put_if(server.authenticator().is_required(), "auth_required", true)
        .put_if(o.tls.is_some(), "tls_required", true)
        .put_if(o.tls.as_ref().is_some_and(|t| t.verify), "tls_verify", true)
        .put("max_connections", o.max_connections)
        .put_if(
            o.max_subscriptions > 0,
            "max_subscriptions",
            o.max_subscriptions,
        )
        .put("ping_interval", duration_nanos(o.ping_interval))
        .put("ping_max", o.ping_max)
        .put("http_host", o.http_host.as_str())
        .put("http_port", o.http_port.unwrap_or(0))
        .put("http_base_path", "")
        .put("https_port", 0u64)
        .put("auth_timeout", o.auth_timeout().as_secs_f64())
        .put("max_control_line", o.max_control_line)
        .put("max_payload", o.max_payload)
        .put("max_pending", o.max_pending)
        .put("cluster", Obj::new())
        .put("gateway", Obj::new())
        .put("leaf", Obj::new())
        .put("mqtt", Obj::new())
        .put("websocket", websocket_varz(o.websocket.as_ref()))
        .put("jetstream", Obj::new())
        .put("tls_timeout", o.tls_timeout().as_secs_f64())
        .put("write_deadline", duration_nanos(o.write_deadline))
        .put("start", start.clone())
        .put("now", ctx.now_text())
        .put("uptime", uptime(ctx.since(server.start_time())))
        .put("mem", ctx.host.mem_bytes)
        .put("cores", ctx.host.cores)
        .put("gomaxprocs", ctx.host.cores)
        .put("cpu", cpu)
        .put("connections", server.num_connections())
        .put(
            "total_connections",
            stats.total_connections.load(Ordering::Relaxed),
        )
        .put("routes", 0u64)
        .put("remotes", 0u64)
        .put("leafnodes", 0u64)
        .put("in_msgs", in_msgs)
        .put("out_msgs", out_msgs)
        .put("in_bytes", in_bytes)
        .put("out_bytes", out_bytes)
        .put(
            "slow_consumers",
            stats.slow_consumers.load(Ordering::Relaxed),
        )
        .put(
            "stale_connections",
            stats.stale_connections.load(Ordering::Relaxed),
        )
        .put("subscriptions", server.num_subscriptions())
        .put("http_req_stats", http_req_stats)
        .put("config_load_time", start)
        .put(
            "slow_consumer_stats",
            Obj::new()
                .put("clients", stats.slow_consumers.load(Ordering::Relaxed))
                .put("routes", 0u64)
                .put("gateways", 0u64)
                .put("leafs", 0u64),
        )
}

/// `/varz` `websocket`: nats-server's `WebsocketOptsVarz` (every field `omitempty`).
fn websocket_varz(ws: Option<&crate::options::WebsocketOptions>) -> Obj {
    let Some(ws) = ws else {
        return Obj::new();
    };
    let handshake = ws.handshake_timeout.unwrap_or_default();
    let auth_timeout = ws.auth_timeout.unwrap_or_default();
    Obj::new()
        .put_str_nonempty("host", &ws.host)
        .put_if(ws.port.unwrap_or(0) != 0, "port", ws.port.unwrap_or(0))
        .put_str_nonempty("advertise", ws.advertise.as_deref().unwrap_or(""))
        .put_str_nonempty("no_auth_user", ws.no_auth_user.as_deref().unwrap_or(""))
        .put_str_nonempty("jwt_cookie", ws.jwt_cookie.as_deref().unwrap_or(""))
        .put_if(
            !handshake.is_zero(),
            "handshake_timeout",
            duration_nanos(handshake),
        )
        .put_if(
            !auth_timeout.is_zero(),
            "auth_timeout",
            auth_timeout.as_secs_f64(),
        )
        .put_if(ws.no_tls, "no_tls", true)
        .put_if(ws.same_origin, "same_origin", true)
        .put_if(
            !ws.allowed_origins.is_empty(),
            "allowed_origins",
            ws.allowed_origins.clone(),
        )
        .put_if(ws.compression, "compression", true)
}

/// A Go `time.Duration` as JSON: integer nanoseconds.
fn duration_nanos(d: core::time::Duration) -> J {
    J::Int(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `/accountz`: the account list, or `acc=$G`'s details.
fn accountz(ctx: &Ctx<'_>, q: &Query) -> Reply {
    let server = ctx.server;
    let acc = q.get("acc");
    let base = Obj::new()
        .put("server_id", server.id())
        .put("now", ctx.now_text());
    if acc.is_empty() {
        return Ok(pretty(base.put("accounts", vec![J::from(GLOBAL_ACCOUNT)])));
    }
    if acc != GLOBAL_ACCOUNT {
        return Err(bad(format!("Account {acc} does not exist")));
    }
    let detail = Obj::new()
        .put("account_name", GLOBAL_ACCOUNT)
        .put("update_time", rfc3339_nano(ctx.wall(server.start_time())))
        .put("expired", false)
        .put("complete", true)
        .put("jetstream_enabled", false)
        .put("leafnode_connections", 0u64)
        .put("client_connections", server.num_connections())
        .put("subscriptions", server.account().sublist.count())
        .put("sublist_stats", subsz::sublist_stats(server));
    Ok(pretty(base.put("account_detail", detail)))
}

/// `/accstatz`: the global account's counters (it holds every connection), listed when it
/// has connections or `unused=1`.
fn accstatz(ctx: &Ctx<'_>, q: &Query) -> Reply {
    let unused = decode_bool(q, "unused")?;
    let server = ctx.server;
    let conns = server.num_connections();
    let mut list = Vec::new();
    if unused || conns != 0 {
        let (in_msgs, in_bytes, out_msgs, out_bytes) = server.stats.counters.snapshot();
        list.push(J::from(
            Obj::new()
                .put("acc", GLOBAL_ACCOUNT)
                .put("conns", conns)
                .put("leafnodes", 0u64)
                .put("total_conns", conns)
                .put(
                    "sent",
                    Obj::new().put("msgs", out_msgs).put("bytes", out_bytes),
                )
                .put(
                    "received",
                    Obj::new().put("msgs", in_msgs).put("bytes", in_bytes),
                )
                .put(
                    "slow_consumers",
                    server.stats.slow_consumers.load(Ordering::Relaxed),
                ),
        ));
    }
    Ok(pretty(
        Obj::new()
            .put("server_id", server.id())
            .put("now", ctx.now_text())
            .put("account_statz", list),
    ))
}

/// `/jsz`: JetStream is not running.
fn jsz(ctx: &Ctx<'_>) -> Obj {
    Obj::new()
        .put("server_id", ctx.server.id())
        .put("now", ctx.now_text())
        .put("disabled", true)
        .put(
            "config",
            Obj::new().put("max_memory", 0u64).put("max_storage", 0u64),
        )
        .put("memory", 0u64)
        .put("storage", 0u64)
        .put("reserved_memory", 0u64)
        .put("reserved_storage", 0u64)
        .put("accounts", 0u64)
        .put("ha_assets", 0u64)
        .put("api", Obj::new().put("total", 0u64).put("errors", 0u64))
        .put("streams", 0u64)
        .put("consumers", 0u64)
        .put("messages", 0u64)
        .put("bytes", 0u64)
}

/// `/`: links to the endpoints.
fn root() -> Vec<u8> {
    const LINKS: [(&str, &str); 10] = [
        ("varz", "General"),
        ("jsz", "JetStream"),
        ("connz", "Connections"),
        ("accountz", "Accounts"),
        ("accstatz", "Account Stats"),
        ("subsz", "Subscriptions"),
        ("routez", "Routes"),
        ("leafz", "LeafNodes"),
        ("gatewayz", "Gateways"),
        ("healthz", "Health Probe"),
    ];
    let mut html = String::with_capacity(1024);
    html.push_str(
        "<html lang=\"en\">\n<head>\n<title>rnats monitoring</title>\n<style type=\"text/css\">\n",
    );
    html.push_str("body { font-family: ui-sans-serif,system-ui,sans-serif; margin-left: 32px }\n");
    html.push_str("a { display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }\n");
    html.push_str(
        "a:hover { font-weight: 600; color: rgb(59 50 202) }\n</style>\n</head>\n<body>\n",
    );
    html.push_str(&format!(
        "<h1>rnats</h1>\n<p>v{RNATS_VERSION} (nats-server {NATS_VERSION} protocol)</p>\n"
    ));
    for (path, label) in LINKS {
        html.push_str(&format!("<a href=./{path}>{label}</a>\n"));
    }
    html.push_str("<a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring>Help</a>\n</body>\n</html>\n");
    html.into_bytes()
}
