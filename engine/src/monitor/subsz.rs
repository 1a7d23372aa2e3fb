//! `/subsz` (and `/subscriptionsz`): sublist statistics and, with `subs=1`, the
//! subscriptions, as nats-server's `Subsz`.

use super::connz::{page, sorted_subscriptions, sub_detail, SubView, DEFAULT_LIST_SIZE};
use super::endpoints::{bad, decode_bool, decode_int, pretty, Ctx, Reply, GLOBAL_ACCOUNT};
use super::http::Query;
use super::json::{Obj, J};
use crate::prelude::*;
use crate::server::Server;
use crate::subject;

/// `/subsz`. Like nats-server, answers with the bare statistics unless the requested page
/// of subscriptions has something in it.
pub(crate) fn subsz(ctx: &Ctx<'_>, q: &Query) -> Reply {
    let subs = decode_bool(q, "subs")?;
    let offset = decode_int(q, "offset")?.max(0);
    let limit = match decode_int(q, "limit")? {
        l if l <= 0 => DEFAULT_LIST_SIZE,
        l => l,
    };
    let test = q.get("test");
    let acc = q.get("acc");
    if !test.is_empty() && !subject::is_valid_literal_subject(test.as_bytes()) {
        return Err(bad(format!(
            "invalid test subject, must be valid publish subject: {test}"
        )));
    }
    let server = ctx.server;
    let ours = acc.is_empty() || acc == GLOBAL_ACCOUNT;
    let stats = if ours {
        sublist_stats(server)
    } else {
        zero_stats()
    };
    if subs && ours {
        let mut details: Vec<J> = Vec::new();
        for conn in server.connections() {
            for sub in sorted_subscriptions(&conn) {
                if !test.is_empty() && !subject::matches(&sub.subject, test.as_bytes()) {
                    continue;
                }
                details.push(sub_detail(&SubView::open(&sub), Some(GLOBAL_ACCOUNT)).into());
            }
        }
        let (from, to) = page(details.len(), offset, limit);
        if from < to {
            let list: Vec<J> = details.drain(from..to).collect();
            let mut obj = Obj::new()
                .put("server_id", server.id())
                .put("now", ctx.now_text());
            obj.0.extend(stats.0);
            // nats-server reports the size of the page as `total`.
            let obj = obj
                .put("total", list.len())
                .put("offset", offset)
                .put("limit", limit)
                .put("subscriptions_list", list);
            return Ok(pretty(obj));
        }
    }
    Ok(pretty(stats))
}

/// nats-server's `SublistStats` for the global account. There is no shared match cache
/// (each connection keeps its own), so `num_cache`, `max_fanout` and `avg_fanout`, which
/// nats-server computes over its cache, are 0.
pub(crate) fn sublist_stats(server: &Server) -> Obj {
    let s = server.account().sublist.stats();
    Obj::new()
        .put("num_subscriptions", s.num_subscriptions)
        .put("num_cache", 0u64)
        .put("num_inserts", s.num_inserts)
        .put("num_removes", s.num_removes)
        .put("num_matches", s.num_matches)
        .put("cache_hit_rate", s.cache_hit_rate())
        .put("max_fanout", 0u64)
        .put("avg_fanout", 0.0)
}

/// The statistics of an account that does not exist.
fn zero_stats() -> Obj {
    Obj::new()
        .put("num_subscriptions", 0u64)
        .put("num_cache", 0u64)
        .put("num_inserts", 0u64)
        .put("num_removes", 0u64)
        .put("num_matches", 0u64)
        .put("cache_hit_rate", 0.0)
        .put("max_fanout", 0u64)
        .put("avg_fanout", 0.0)
}
