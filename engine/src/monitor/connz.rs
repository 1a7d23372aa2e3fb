//! `/connz`: the client connections, open and recently closed, as nats-server's `Connz`.

use super::endpoints::{
    bad, decode_bool, decode_int, decode_subs, decode_uint64, pretty, Ctx, Reply, GLOBAL_ACCOUNT,
};
use super::format::{go_duration, rfc3339_nano, uptime};
use super::http::{Query, Response};
use super::json::{Obj, J};
use super::Endpoint;
use crate::prelude::*;
use crate::server::{
    CloseReason, ClosedConn, ClosedSubscription, ConnMeta, ConnShared, Subscription,
};
use crate::time::Instant;
use core::cmp::Reverse;

/// Default and (when `limit` is not positive) fallback page size.
pub(crate) const DEFAULT_LIST_SIZE: i64 = 1024;

/// `state=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    Open,
    Closed,
    Any,
}

/// `sort=`; every order but `cid`/`start`/`uptime` is descending, as in nats-server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl SortBy {
    fn parse(s: &str) -> Option<SortBy> {
        Some(match s {
            "cid" => SortBy::Cid,
            "start" => SortBy::Start,
            "subs" => SortBy::Subs,
            "pending" => SortBy::Pending,
            "msgs_to" => SortBy::MsgsTo,
            "msgs_from" => SortBy::MsgsFrom,
            "bytes_to" => SortBy::BytesTo,
            "bytes_from" => SortBy::BytesFrom,
            "last" => SortBy::Last,
            "idle" => SortBy::Idle,
            "uptime" => SortBy::Uptime,
            "stop" => SortBy::Stop,
            "reason" => SortBy::Reason,
            "rtt" => SortBy::Rtt,
            _ => return None,
        })
    }
}

/// nats-server's `decodeState`.
fn decode_state(q: &Query) -> Result<ConnState, Response> {
    let v = q.get("state");
    match v.to_ascii_lowercase().as_str() {
        "" | "open" => Ok(ConnState::Open),
        "closed" => Ok(ConnState::Closed),
        "any" | "all" => Ok(ConnState::Any),
        _ => Err(bad(format!("Error decoding state for {v}"))),
    }
}

/// Where a row's subscriptions come from.
enum Source {
    Open(Arc<ConnShared>),
    Closed(Arc<ClosedConn>),
}

/// One connection's numbers, taken once so sorting sees a consistent picture.
struct Row {
    cid: u64,
    source: Source,
    meta: ConnMeta,
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
    pending: usize,
    num_subs: usize,
    rtt: i128,
    /// When and why it closed (closed connections only).
    stop: Option<(Instant, CloseReason)>,
}

/// nats-server's RTT: sub-millisecond values truncated to whole microseconds.
fn rtt_nanos(meta: &ConnMeta) -> i128 {
    meta.rtt.map_or(0, |d| {
        let n = d.as_nanos() as i128;
        if n > 1_000 && n < 1_000_000 {
            n - n % 1_000
        } else {
            n
        }
    })
}

impl Row {
    fn open(conn: Arc<ConnShared>) -> Row {
        let meta = conn.meta();
        let (in_msgs, in_bytes, out_msgs, out_bytes) = conn.counters.snapshot();
        Row {
            cid: conn.id(),
            pending: conn.pending_bytes(),
            num_subs: conn.num_subscriptions(),
            rtt: rtt_nanos(&meta),
            source: Source::Open(conn),
            meta,
            in_msgs,
            in_bytes,
            out_msgs,
            out_bytes,
            stop: None,
        }
    }

    fn closed(conn: Arc<ClosedConn>) -> Row {
        let (in_msgs, in_bytes, out_msgs, out_bytes) = conn.counters;
        Row {
            cid: conn.cid,
            meta: conn.meta.clone(),
            pending: conn.pending,
            num_subs: conn.subscriptions.len(),
            rtt: rtt_nanos(&conn.meta),
            stop: Some((conn.stop, conn.reason)),
            source: Source::Closed(conn),
            in_msgs,
            in_bytes,
            out_msgs,
            out_bytes,
        }
    }

    /// The end of the row's life so far: now, or when it closed.
    fn until(&self, now: Instant) -> Instant {
        self.stop.map_or(now, |(stop, _)| stop)
    }
}

pub(crate) fn connz(ctx: &Ctx<'_>, q: &Query) -> Reply {
    // Decoded in nats-server's order; the request counts once they all decoded.
    let sort_text = q.get("sort");
    let auth = decode_bool(q, "auth")?;
    let (subs, subs_detail) = decode_subs(q)?;
    let offset = decode_int(q, "offset")?;
    let limit = decode_int(q, "limit")?;
    let cid = decode_uint64(q, "cid")?;
    let state = decode_state(q)?;
    let user = q.get("user");
    let acc = q.get("acc");
    let mqtt_client = q.get("mqtt_client");
    let server = ctx.server;
    server.monitor.count(Endpoint::Connz);

    let sort = if sort_text.is_empty() {
        SortBy::Cid
    } else {
        SortBy::parse(&sort_text)
            .ok_or_else(|| bad(format!("invalid sorting option: {sort_text}")))?
    };
    let offset = offset.max(0);
    let mut limit = if limit <= 0 { DEFAULT_LIST_SIZE } else { limit };
    if sort == SortBy::Stop && state != ConnState::Closed {
        return Err(bad(
            "sort by stop only valid on closed connections".to_string()
        ));
    }
    if sort == SortBy::Reason && state != ConnState::Closed {
        return Err(bad(
            "sort by reason only valid on closed connections".to_string()
        ));
    }
    if cid > 0 {
        limit = 1;
    }
    if !acc.is_empty() && acc != GLOBAL_ACCOUNT {
        // nats-server answers an unknown account before filling anything in.
        return Ok(pretty(
            Obj::new()
                .put("server_id", "")
                .put("now", ctx.now_text())
                .put("num_connections", 0u64)
                .put("total", 0u64)
                .put("offset", offset)
                .put("limit", limit)
                .put("connections", J::Null),
        ));
    }

    let mut rows: Vec<Row> = Vec::new();
    if state != ConnState::Closed {
        rows.extend(server.connections().into_iter().map(Row::open));
    }
    if state != ConnState::Open {
        rows.extend(server.closed_connections().into_iter().map(Row::closed));
    }
    let total = rows.len();
    if cid > 0 {
        // Open first: a cid is only ever in one of the two lists.
        rows.retain(|r| r.cid == cid);
        rows.truncate(1);
    } else if !mqtt_client.is_empty() {
        rows.clear();
    } else if !user.is_empty() {
        rows.retain(|r| r.meta.user.as_deref() == Some(user.as_str()));
    }

    // Open connections come ordered by cid, closed ones by closing time; the sorts are
    // stable, so ties stay in cid order.
    let now = ctx.now;
    if state != ConnState::Open {
        rows.sort_by_key(|r| r.cid);
    }
    match sort {
        SortBy::Cid | SortBy::Start => {}
        SortBy::Stop => rows.sort_by_key(|r| Reverse(r.until(now))),
        SortBy::Reason => rows.sort_by_key(|r| r.stop.map_or("", |(_, why)| why.as_str())),
        SortBy::Subs => rows.sort_by_key(|r| Reverse(r.num_subs)),
        SortBy::Pending => rows.sort_by_key(|r| Reverse(r.pending)),
        SortBy::MsgsTo => rows.sort_by_key(|r| Reverse(r.out_msgs)),
        SortBy::MsgsFrom => rows.sort_by_key(|r| Reverse(r.in_msgs)),
        SortBy::BytesTo => rows.sort_by_key(|r| Reverse(r.out_bytes)),
        SortBy::BytesFrom => rows.sort_by_key(|r| Reverse(r.in_bytes)),
        SortBy::Last => rows.sort_by_key(|r| Reverse(r.meta.last_activity)),
        SortBy::Idle => {
            rows.sort_by_key(|r| Reverse(r.until(now).saturating_since(r.meta.last_activity)))
        }
        SortBy::Uptime => rows.sort_by_key(|r| r.until(now).saturating_since(r.meta.start)),
        SortBy::Rtt => rows.sort_by_key(|r| Reverse(r.rtt)),
    }

    let (from, to) = page(rows.len(), offset, limit);
    let connections: Vec<J> = rows[from..to]
        .iter()
        .map(|r| conn_info(ctx, r, auth, subs, subs_detail).into())
        .collect();
    Ok(pretty(
        Obj::new()
            .put("server_id", server.id())
            .put("now", ctx.now_text())
            .put("num_connections", connections.len())
            .put("total", total)
            .put("offset", offset)
            .put("limit", limit)
            .put("connections", connections),
    ))
}

/// The `[from, to)` slice of `len` items for `offset` and `limit` (both non-negative).
pub(crate) fn page(len: usize, offset: i64, limit: i64) -> (usize, usize) {
    let len64 = len as u64;
    let from = (offset.max(0) as u64).min(len64);
    let to = (offset.max(0) as u64)
        .saturating_add(limit.max(0) as u64)
        .min(len64);
    (from as usize, to as usize)
}

/// One `ConnInfo`.
fn conn_info(ctx: &Ctx<'_>, r: &Row, auth: bool, subs: bool, subs_detail: bool) -> Obj {
    let m = &r.meta;
    let until = r.until(ctx.now);
    let mut info = Obj::new()
        .put("cid", r.cid)
        .put("kind", "Client")
        .put("type", m.client_type.as_str())
        .put("ip", m.ip.as_str())
        .put("port", m.port)
        .put("start", rfc3339_nano(ctx.wall(m.start)))
        .put("last_activity", rfc3339_nano(ctx.wall(m.last_activity)));
    if let Some((stop, reason)) = r.stop {
        info = info
            .put("stop", rfc3339_nano(ctx.wall(stop)))
            .put("reason", reason.as_str());
    }
    let mut info = info
        .put("rtt", go_duration(r.rtt))
        .put(
            "uptime",
            uptime(until.saturating_since(m.start).as_nanos() as i128),
        )
        .put(
            "idle",
            uptime(until.saturating_since(m.last_activity).as_nanos() as i128),
        )
        .put("pending_bytes", r.pending)
        .put("in_msgs", r.in_msgs)
        .put("out_msgs", r.out_msgs)
        .put("in_bytes", r.in_bytes)
        .put("out_bytes", r.out_bytes)
        .put("subscriptions", r.num_subs)
        .put_str_nonempty("name", &m.name)
        .put_str_nonempty("lang", &m.lang)
        .put_str_nonempty("version", &m.version);
    if let Some(tls) = &m.tls {
        info = info
            .put("tls_version", tls.version.as_str())
            .put("tls_cipher_suite", tls.cipher_suite.as_str());
    }
    if auth {
        // `account` is left out for the global account, the only one.
        info = info.put_str_nonempty("authorized_user", m.user.as_deref().unwrap_or(""));
    }
    if subs || subs_detail {
        let open;
        let mut list: Vec<SubView<'_>> = match &r.source {
            Source::Open(conn) => {
                open = sorted_subscriptions(conn);
                open.iter().map(SubView::open).collect()
            }
            Source::Closed(closed) => closed
                .subscriptions
                .iter()
                .map(|s| SubView::closed(s, r.cid))
                .collect(),
        };
        list.sort_by(|a, b| sid_key(a.sid).cmp(&sid_key(b.sid)));
        info = with_subscriptions(info, list, subs_detail);
    }
    info
}

/// A subscription as `/connz` and `/subsz` show it, open or of a closed connection.
pub(crate) struct SubView<'a> {
    pub(crate) subject: &'a [u8],
    pub(crate) queue: Option<&'a [u8]>,
    pub(crate) sid: &'a [u8],
    pub(crate) delivered: u64,
    pub(crate) max: Option<u64>,
    pub(crate) cid: u64,
}

impl<'a> SubView<'a> {
    pub(crate) fn closed(sub: &'a ClosedSubscription, cid: u64) -> SubView<'a> {
        SubView {
            subject: &sub.subject,
            queue: sub.queue.as_deref(),
            sid: &sub.sid,
            delivered: sub.delivered,
            max: sub.max,
            cid,
        }
    }

    pub(crate) fn open(sub: &'a Arc<Subscription>) -> SubView<'a> {
        SubView {
            subject: &sub.subject,
            queue: sub.queue.as_deref(),
            sid: &sub.sid,
            delivered: sub.delivered(),
            max: sub.max(),
            cid: sub.conn.id(),
        }
    }
}

/// `info` with the subscriptions listed (subjects, or details), if there are any.
fn with_subscriptions(info: Obj, list: Vec<SubView<'_>>, detail: bool) -> Obj {
    if list.is_empty() {
        info
    } else if detail {
        let details: Vec<J> = list.iter().map(|s| sub_detail(s, None).into()).collect();
        info.put("subscriptions_list_detail", details)
    } else {
        let subjects: Vec<J> = list.iter().map(|s| J::Str(lossy(s.subject))).collect();
        info.put("subscriptions_list", subjects)
    }
}

/// A connection's subscriptions ordered by sid (numerically when the sids are numbers).
pub(crate) fn sorted_subscriptions(conn: &ConnShared) -> Vec<Arc<Subscription>> {
    let mut list = conn.subscriptions();
    list.sort_by(|a, b| sid_key(&a.sid).cmp(&sid_key(&b.sid)));
    list
}

fn sid_key(sid: &[u8]) -> (u64, &[u8]) {
    let n = core::str::from_utf8(sid)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    (n, sid)
}

/// One `SubDetail`; `account` is set in `/subsz`, left out in `/connz`.
pub(crate) fn sub_detail(sub: &SubView<'_>, account: Option<&str>) -> Obj {
    let queue = sub.queue.unwrap_or(&[]);
    Obj::new()
        .put_if(account.is_some(), "account", account.unwrap_or(""))
        .put("subject", lossy(sub.subject))
        .put_if(!queue.is_empty(), "qgroup", lossy(queue))
        .put("sid", lossy(sub.sid))
        .put("msgs", sub.delivered)
        .put_if(sub.max.is_some(), "max", sub.max.unwrap_or(0))
        .put("cid", sub.cid)
}

/// Bytes as text (invalid UTF-8 replaced, as Go's JSON encoder does).
pub(crate) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
