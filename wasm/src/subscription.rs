//! Subscriptions and the status stream: queues that JavaScript reads with `next()` (and,
//! through `rnats.js`, with `for await`).

use crate::driver::{pump, run_calls, Call, Driver};
use crate::js::{self, Resolvers};
use js_sys::Promise;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;

/// Values waiting for a reader, and readers waiting for values. `next()` resolves with
/// the next value, or with `undefined` once the channel ended and is empty.
#[derive(Default)]
pub(crate) struct Channel {
    queue: VecDeque<JsValue>,
    waiting: VecDeque<Resolvers>,
    ended: bool,
    /// `sub.closed` promises.
    on_end: Vec<Resolvers>,
}

impl Channel {
    pub(crate) fn push(&mut self, value: JsValue, calls: &mut Vec<Call>) {
        if self.ended {
            return;
        }
        match self.waiting.pop_front() {
            Some(r) => calls.push(Call::One(r.resolve, value)),
            None => self.queue.push_back(value),
        }
    }

    pub(crate) fn end(&mut self, calls: &mut Vec<Call>) {
        self.ended = true;
        for r in self.waiting.drain(..).chain(self.on_end.drain(..)) {
            calls.push(Call::One(r.resolve, JsValue::UNDEFINED));
        }
    }

    fn next(&mut self) -> Promise {
        if let Some(value) = self.queue.pop_front() {
            return Promise::resolve(&value);
        }
        if self.ended {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let (promise, resolvers) = js::deferred();
        self.waiting.push_back(resolvers);
        promise
    }

    fn closed(&mut self) -> Promise {
        if self.ended {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        let (promise, resolvers) = js::deferred();
        self.on_end.push(resolvers);
        promise
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

/// A subscription's JS-side state.
pub(crate) struct SubShared {
    pub(crate) sid: u64,
    subject: String,
    max: Option<u64>,
    pub(crate) callback: Option<js_sys::Function>,
    pub(crate) channel: Channel,
    pub(crate) received: u64,
    /// Set by `unsubscribe()`: deliveries already collected are skipped.
    pub(crate) unsubscribed: bool,
}

impl SubShared {
    pub(crate) fn new(
        sid: u64,
        subject: String,
        max: Option<u64>,
        callback: Option<js_sys::Function>,
    ) -> SubShared {
        SubShared {
            sid,
            subject,
            max,
            callback,
            channel: Channel::default(),
            received: 0,
            unsubscribed: false,
        }
    }
}

/// A subscription, as returned by `nc.subscribe()`. Without a callback it is an async
/// iterator of [`Msg`](crate::Msg)s that ends when the subscription does.
#[wasm_bindgen]
pub struct Subscription {
    sub: Rc<RefCell<SubShared>>,
    conn: Weak<RefCell<Driver>>,
}

impl Subscription {
    pub(crate) fn new(sub: Rc<RefCell<SubShared>>, conn: Weak<RefCell<Driver>>) -> Subscription {
        Subscription { sub, conn }
    }

    fn with_conn(
        &self,
        f: impl FnOnce(&mut Driver, u64) -> Result<(), rnats_engine::client::Error>,
    ) -> Result<(), JsValue> {
        let Some(shared) = self.conn.upgrade() else {
            return Ok(());
        };
        let sid = self.sub.borrow().sid;
        let result = f(&mut shared.borrow_mut(), sid);
        pump(&shared);
        match result {
            // Already ended (reached its max, drained, connection closed): nothing to do.
            Err(rnats_engine::client::Error::UnknownSubscription)
            | Err(rnats_engine::client::Error::Closed) => Ok(()),
            other => other.map_err(|e| js::engine_error(&e)),
        }
    }
}

#[wasm_bindgen]
impl Subscription {
    /// The next message, or `undefined` once the subscription ended.
    #[wasm_bindgen(unchecked_return_type = "Promise<Msg | undefined>")]
    pub fn next(&self) -> Promise {
        self.sub.borrow_mut().channel.next()
    }

    /// Stop now, or (with `max`) after `max` messages in total.
    pub fn unsubscribe(&self, max: Option<f64>) -> Result<(), JsValue> {
        let max = max.filter(|m| *m >= 1.0).map(|m| m as u64);
        if max.is_none() {
            self.sub.borrow_mut().unsubscribed = true;
        }
        self.with_conn(|d, sid| d.conn.unsubscribe(sid, max))
    }

    /// Stop, but deliver what the server already sent. Resolves when the subscription
    /// ended.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn drain(&self) -> Promise {
        let closed = self.sub.borrow_mut().channel.closed();
        match self.with_conn(|d, sid| d.conn.drain_subscription(sid)) {
            Ok(()) => closed,
            Err(e) => Promise::reject(&e),
        }
    }

    /// Resolves when the subscription ends.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<void>")]
    pub fn closed(&self) -> Promise {
        self.sub.borrow_mut().channel.closed()
    }

    /// True once the subscription ended.
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.sub.borrow().channel.ended
    }

    /// The subject subscribed to.
    #[wasm_bindgen(js_name = getSubject)]
    pub fn get_subject(&self) -> String {
        self.sub.borrow().subject.clone()
    }

    /// Messages received so far.
    #[wasm_bindgen(js_name = getReceived)]
    pub fn get_received(&self) -> f64 {
        self.sub.borrow().received as f64
    }

    /// Messages received but not yet read by the iterator.
    #[wasm_bindgen(js_name = getPending)]
    pub fn get_pending(&self) -> f64 {
        self.sub.borrow().channel.len() as f64
    }

    /// The `max` given at subscribe time (undefined if none).
    #[wasm_bindgen(js_name = getMax)]
    pub fn get_max(&self) -> Option<f64> {
        self.sub.borrow().max.map(|m| m as f64)
    }

    /// The subscription id.
    #[wasm_bindgen(js_name = getID)]
    pub fn get_id(&self) -> f64 {
        self.sub.borrow().sid as f64
    }
}

/// `nc.status()`: connection status changes, `{ type, data }`, as an async iterator.
#[wasm_bindgen]
pub struct StatusStream {
    channel: Rc<RefCell<Channel>>,
}

impl StatusStream {
    pub(crate) fn new(channel: Rc<RefCell<Channel>>) -> StatusStream {
        StatusStream { channel }
    }
}

#[wasm_bindgen]
impl StatusStream {
    /// The next status, or `undefined` once the connection closed.
    #[wasm_bindgen(unchecked_return_type = "Promise<Status | undefined>")]
    pub fn next(&self) -> Promise {
        self.channel.borrow_mut().next()
    }

    /// Stop listening (for the iterator's `return()`).
    pub fn unsubscribe(&self) {
        let mut calls = Vec::new();
        self.channel.borrow_mut().end(&mut calls);
        run_calls(calls);
    }
}
