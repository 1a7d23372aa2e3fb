//! The frontend around the engine's client: one `WebSocket` at a time, one timer, and the
//! promises and callbacks waiting for the engine's events.
//!
//! Every entry point (a JS call, a socket event, the timer) changes the engine with the
//! driver borrowed, then [`pump`]s: the driver sends what the engine wants sent, turns
//! events into [`Call`]s and re-arms the timer, all while borrowed; the calls into
//! JavaScript (user callbacks, promise resolvers) run only after the borrow is released,
//! because callbacks re-enter (`msg.respond()`, `nc.publish()` inside a handler).

use crate::js::{self, Resolvers};
use crate::msg::Msg;
use crate::subscription::{Channel, StatusStream, SubShared, Subscription};
use bytes::BytesMut;
use js_sys::{Function, Promise, Uint8Array};
use rnats_engine::client::{ClientConnection, ClientEvent, IdMap, ServerInfo};
use rnats_engine::time::Instant;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

pub(crate) type Shared = Rc<RefCell<Driver>>;

/// A call into JavaScript, made after the driver is released.
pub(crate) enum Call {
    /// `f(arg)` (promise resolvers, iterator waiters).
    One(Function, JsValue),
    /// A subscription callback `cb(null, msg)`, skipped if the subscription was
    /// unsubscribed in the meantime (by an earlier callback of the same batch).
    Deliver(Rc<RefCell<SubShared>>, Function, JsValue),
    /// Mark a subscription ended, in order with its deliveries.
    EndSubscription(Rc<RefCell<SubShared>>),
    /// Drop the connection's reference to itself (after it closed).
    Release(Shared),
}

impl Call {
    fn run(self, more: &mut Vec<Call>) {
        let result = match self {
            Call::One(f, arg) => f.call1(&JsValue::NULL, &arg),
            Call::Deliver(sub, callback, msg) => {
                if sub.borrow().unsubscribed {
                    return;
                }
                callback.call2(&JsValue::NULL, &JsValue::NULL, &msg)
            }
            Call::EndSubscription(sub) => {
                sub.borrow_mut().channel.end(more);
                Ok(JsValue::UNDEFINED)
            }
            Call::Release(shared) => {
                drop(shared);
                Ok(JsValue::UNDEFINED)
            }
        };
        if let Err(e) = result {
            // An exception in a user callback must not stop the connection.
            js::console_error(&e);
        }
    }
}

/// The socket handlers, created once per connection; they find their driver through a
/// weak reference and ignore events of sockets that are no longer current.
struct Handlers {
    open: Closure<dyn FnMut(Event)>,
    message: Closure<dyn FnMut(MessageEvent)>,
    close: Closure<dyn FnMut(CloseEvent)>,
}

impl Handlers {
    fn new(weak: &Weak<RefCell<Driver>>) -> Handlers {
        Handlers {
            open: Closure::new(handler(weak, |d, _: Event| {
                let now = d.now();
                d.conn.transport_opened(now);
            })),
            message: Closure::new(handler(weak, |d, event: MessageEvent| {
                d.received(&event.data());
            })),
            close: Closure::new(handler(weak, |d, event: CloseEvent| {
                d.ws = None;
                let reason = format!("connection closed (code {})", event.code());
                let now = d.now();
                d.conn.transport_closed(now, Some(&reason));
            })),
        }
    }
}

/// A socket event handler: find the driver, ignore events of sockets that are no longer
/// current, run `f`, pump.
fn handler<E: JsCast + 'static>(
    weak: &Weak<RefCell<Driver>>,
    f: fn(&mut Driver, E),
) -> impl FnMut(E) + 'static {
    let weak = weak.clone();
    move |event: E| {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        {
            let mut d = shared.borrow_mut();
            if !d.is_current(event.unchecked_ref()) {
                return;
            }
            f(&mut d, event);
        }
        pump(&shared);
    }
}

/// What waits for the connection to close.
enum ClosedWaiter {
    /// `closed()`: resolves with the error, if any.
    Closed(Resolvers),
    /// `close()` and `drain()`: resolve, or reject with the error.
    Done(Resolvers),
}

pub(crate) struct Driver {
    pub(crate) conn: ClientConnection,
    me: Weak<RefCell<Driver>>,
    /// `performance.now()` at creation: the engine's time origin.
    origin: f64,
    ws: Option<WebSocket>,
    handlers: Option<Handlers>,
    rx: BytesMut,
    tx: Vec<u8>,
    timer_fn: Option<Closure<dyn FnMut()>>,
    timer: Option<(JsValue, Instant)>,
    subs: IdMap<Rc<RefCell<SubShared>>>,
    requests: IdMap<Resolvers>,
    flushes: IdMap<Resolvers>,
    connecting: Option<Resolvers>,
    closed_waiters: Vec<ClosedWaiter>,
    /// Set once closed: the error, if any.
    closed: Option<Option<String>>,
    status: Vec<Rc<RefCell<Channel>>>,
    info: Option<ServerInfo>,
    /// The connection keeps itself alive until it closes, like a socket does, so that a
    /// subscription with a callback keeps working after the caller drops `nc`.
    keep_alive: Option<Shared>,
}

/// `connect(opts)`.
pub(crate) fn connect(opts: &JsValue) -> Promise {
    let (promise, resolvers) = js::deferred();
    let options = match js::client_options(opts) {
        Ok(options) => options,
        Err(e) => {
            resolvers.reject(&e);
            return promise;
        }
    };
    let shared = Driver::new();
    {
        let mut d = shared.borrow_mut();
        d.keep_alive = Some(shared.clone());
        d.connecting = Some(resolvers);
        let now = d.now();
        if let Err(e) = d.conn.connect(options, now) {
            if let Some(r) = d.connecting.take() {
                r.reject(&js::engine_error(&e));
            }
            d.keep_alive = None;
            return promise;
        }
    }
    pump(&shared);
    promise
}

/// Let the driver act on the engine's output, then make the calls it collected, until
/// nothing is left.
pub(crate) fn pump(shared: &Shared) {
    loop {
        let mut calls: VecDeque<Call> = shared.borrow_mut().step().into();
        if calls.is_empty() {
            return;
        }
        run_queue(&mut calls);
    }
}

/// Make `calls` (collected outside [`pump`]).
pub(crate) fn run_calls(calls: Vec<Call>) {
    run_queue(&mut calls.into());
}

fn run_queue(calls: &mut VecDeque<Call>) {
    let mut more = Vec::new();
    while let Some(call) = calls.pop_front() {
        call.run(&mut more);
        calls.extend(more.drain(..));
    }
}

impl Driver {
    fn new() -> Shared {
        let seed = js::random_seed();
        let shared = Rc::new(RefCell::new(Driver {
            conn: ClientConnection::new(seed),
            me: Weak::new(),
            origin: js::performance_now(),
            ws: None,
            handlers: None,
            rx: BytesMut::new(),
            tx: Vec::new(),
            timer_fn: None,
            timer: None,
            subs: IdMap::new(),
            requests: IdMap::new(),
            flushes: IdMap::new(),
            connecting: None,
            closed_waiters: Vec::new(),
            closed: None,
            status: Vec::new(),
            info: None,
            keep_alive: None,
        }));
        shared.borrow_mut().me = Rc::downgrade(&shared);
        shared
    }

    /// The engine's clock: milliseconds since this driver was created.
    pub(crate) fn now(&self) -> Instant {
        let ms = (js::performance_now() - self.origin).max(0.0);
        Instant::from_duration(Duration::from_secs_f64(ms / 1000.0))
    }

    pub(crate) fn weak(&self) -> Weak<RefCell<Driver>> {
        self.me.clone()
    }

    /// Send, handle events, re-arm the timer. Returns the calls to make.
    fn step(&mut self) -> Vec<Call> {
        let mut calls = Vec::new();
        self.transmit();
        while let Some(event) = self.conn.poll_event() {
            self.on_event(event, &mut calls);
            self.transmit();
        }
        self.arm_timer();
        calls
    }

    fn transmit(&mut self) {
        if !self.conn.poll_transmit(&mut self.tx) {
            return;
        }
        if let Some(ws) = &self.ws {
            if ws.ready_state() == WebSocket::OPEN {
                // One binary frame per batch; a failure shows up as the socket's close.
                if let Err(e) = ws.send_with_u8_array(&self.tx) {
                    js::console_error(&e);
                }
            }
        }
        self.tx.clear();
    }

    fn arm_timer(&mut self) {
        let due = self.conn.poll_timeout();
        if self.timer.as_ref().map(|(_, at)| *at) == due {
            return;
        }
        if let Some((handle, _)) = self.timer.take() {
            js::clear_timeout(&handle);
        }
        let Some(due) = due else {
            return;
        };
        if self.timer_fn.is_none() {
            let weak = self.weak();
            self.timer_fn = Some(Closure::new(move || {
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                {
                    let mut d = shared.borrow_mut();
                    d.timer = None;
                    let now = d.now();
                    d.conn.handle_timeout(now);
                }
                pump(&shared);
            }));
        }
        // Round up: a timer that fires early would find nothing due and re-arm at 0 ms.
        let wait = due.saturating_since(self.now()).as_millis() + 1;
        let wait = i32::try_from(wait).unwrap_or(i32::MAX);
        if let Some(f) = &self.timer_fn {
            let handle = js::set_timeout(f.as_ref().unchecked_ref(), wait);
            self.timer = Some((handle, due));
        }
    }

    fn on_event(&mut self, event: ClientEvent, calls: &mut Vec<Call>) {
        match event {
            ClientEvent::OpenTransport { url } => self.open_socket(&url),
            ClientEvent::CloseTransport => self.close_socket(),
            ClientEvent::Info(info) => {
                if info.ldm {
                    self.push_status("ldm", &info.server_id, calls);
                }
                self.info = Some(*info);
            }
            ClientEvent::Connected { reconnected } => {
                if reconnected {
                    let server = self.conn.current_server().unwrap_or("").to_string();
                    self.push_status("reconnect", &server, calls);
                }
                if let (Some(r), Some(shared)) = (self.connecting.take(), self.me.upgrade()) {
                    calls.push(Call::One(r.resolve, NatsConnection { shared }.into()));
                }
            }
            ClientEvent::Disconnected => {
                let server = self.conn.current_server().unwrap_or("").to_string();
                self.push_status("disconnect", &server, calls);
            }
            ClientEvent::Message(message) => {
                let Some(sub) = self.subs.get(message.sid).cloned() else {
                    return;
                };
                let msg: JsValue = Msg::new(message, self.weak()).into();
                let mut s = sub.borrow_mut();
                s.received += 1;
                match s.callback.clone() {
                    Some(callback) => {
                        drop(s);
                        calls.push(Call::Deliver(sub, callback, msg));
                    }
                    None => s.channel.push(msg, calls),
                }
            }
            ClientEvent::Response { token, message } => {
                if let Some(r) = self.requests.remove(token) {
                    calls.push(Call::One(r.resolve, Msg::new(message, self.weak()).into()));
                }
            }
            ClientEvent::RequestFailed { token, error } => {
                if let Some(r) = self.requests.remove(token) {
                    let e = js::nats_error(error.code(), &error.to_string());
                    calls.push(Call::One(r.reject, e));
                }
            }
            ClientEvent::SubscriptionEnded { sid } => {
                if let Some(sub) = self.subs.remove(sid) {
                    calls.push(Call::EndSubscription(sub));
                }
            }
            ClientEvent::FlushComplete { token } => {
                if let Some(r) = self.flushes.remove(token) {
                    calls.push(Call::One(r.resolve, JsValue::UNDEFINED));
                }
            }
            ClientEvent::Ok => {}
            ClientEvent::Err(text) => self.push_status("error", &text, calls),
            ClientEvent::Closed { error } => self.on_closed(error, calls),
        }
    }

    fn push_status(&mut self, kind: &str, data: &str, calls: &mut Vec<Call>) {
        let status = js::status_object(kind, data);
        for channel in &self.status {
            channel.borrow_mut().push(status.clone(), calls);
        }
    }

    fn on_closed(&mut self, error: Option<String>, calls: &mut Vec<Call>) {
        self.close_socket();
        if let Some((handle, _)) = self.timer.take() {
            js::clear_timeout(&handle);
        }
        let closed = js::nats_error("CONNECTION_CLOSED", "connection closed");
        if let Some(r) = self.connecting.take() {
            let e = match &error {
                Some(text) => js::connect_error(text),
                None => closed.clone(),
            };
            calls.push(Call::One(r.reject, e));
        }
        for (_, r) in std::mem::take(&mut self.requests) {
            calls.push(Call::One(r.reject, closed.clone()));
        }
        for (_, r) in std::mem::take(&mut self.flushes) {
            calls.push(Call::One(r.reject, closed.clone()));
        }
        for (_, sub) in std::mem::take(&mut self.subs) {
            calls.push(Call::EndSubscription(sub));
        }
        for channel in std::mem::take(&mut self.status) {
            channel.borrow_mut().end(calls);
        }
        let error_value = error
            .as_deref()
            .map_or(JsValue::UNDEFINED, js::connect_error);
        for waiter in std::mem::take(&mut self.closed_waiters) {
            match waiter {
                ClosedWaiter::Closed(r) => calls.push(Call::One(r.resolve, error_value.clone())),
                ClosedWaiter::Done(r) if error.is_some() => {
                    calls.push(Call::One(r.reject, error_value.clone()))
                }
                ClosedWaiter::Done(r) => calls.push(Call::One(r.resolve, JsValue::UNDEFINED)),
            }
        }
        self.closed = Some(error);
        if let Some(me) = self.keep_alive.take() {
            calls.push(Call::Release(me));
        }
    }

    fn handlers(&mut self) -> &Handlers {
        let weak = self.weak();
        self.handlers.get_or_insert_with(|| Handlers::new(&weak))
    }

    fn is_current(&self, event: &Event) -> bool {
        match (&self.ws, event.target()) {
            (Some(ws), Some(target)) => {
                let ws: &JsValue = ws.as_ref();
                let target: &JsValue = target.as_ref();
                ws == target
            }
            _ => false,
        }
    }

    fn received(&mut self, data: &JsValue) {
        if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
            let bytes = Uint8Array::new(buffer);
            let start = self.rx.len();
            self.rx.resize(start + bytes.length() as usize, 0);
            bytes.copy_to(&mut self.rx[start..]);
        } else if let Some(text) = data.as_string() {
            self.rx.extend_from_slice(text.as_bytes());
        } else {
            return;
        }
        let now = self.now();
        self.conn.handle_bytes(&mut self.rx, now);
    }

    fn open_socket(&mut self, url: &str) {
        self.rx.clear();
        match WebSocket::new(url) {
            Ok(ws) => {
                ws.set_binary_type(BinaryType::Arraybuffer);
                let h = self.handlers();
                ws.set_onopen(Some(h.open.as_ref().unchecked_ref()));
                ws.set_onmessage(Some(h.message.as_ref().unchecked_ref()));
                // No onerror: an error event is always followed by a close event.
                ws.set_onclose(Some(h.close.as_ref().unchecked_ref()));
                self.ws = Some(ws);
            }
            Err(e) => {
                // A malformed URL, or no WebSocket in this JS host.
                let text = js::error_text(&e);
                let now = self.now();
                self.conn.transport_closed(now, Some(&text));
            }
        }
    }

    fn close_socket(&mut self) {
        if let Some(ws) = self.ws.take() {
            // This socket's events no longer matter; detach the handlers so that none
            // arrives after the driver (and the handlers with it) is gone.
            ws.set_onopen(None);
            ws.set_onmessage(None);
            ws.set_onclose(None);
            // 1000: a normal close (a close frame without a code makes nats-server 2.9
            // answer with the reserved code 1005).
            let _ = ws.close_with_code(1000);
        }
    }

    pub(crate) fn add_subscription(&mut self, sub: Rc<RefCell<SubShared>>) {
        let sid = sub.borrow().sid;
        self.subs.insert(sid, sub);
    }
}

/// A connection, as returned by `connect()`.
#[wasm_bindgen]
pub struct NatsConnection {
    shared: Shared,
}

impl NatsConnection {
    /// Run `f` on the driver, then pump.
    fn with<T>(&self, f: impl FnOnce(&mut Driver) -> Result<T, JsValue>) -> Result<T, JsValue> {
        let result = f(&mut self.shared.borrow_mut());
        pump(&self.shared);
        result
    }

    /// A promise settled by the driver (`register` stores the resolvers).
    fn promise(
        &self,
        register: impl FnOnce(&mut Driver, Resolvers) -> Result<(), JsValue>,
    ) -> Promise {
        let (promise, resolvers) = js::deferred();
        let reject = resolvers.reject.clone();
        if let Err(e) = self.with(|d| register(d, resolvers)) {
            let _ = reject.call1(&JsValue::NULL, &e);
        }
        promise
    }
}

#[wasm_bindgen]
impl NatsConnection {
    /// Publish `data` (bytes or a UTF-8 string) to `subject`. Options: `reply`, `headers`.
    pub fn publish(
        &self,
        subject: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "Payload")] data: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PublishOptions")] opts: JsValue,
    ) -> Result<(), JsValue> {
        let payload = js::payload(&data)?;
        let reply = js::string_opt(&opts, "reply");
        let headers = js::headers_opt(&opts)?;
        self.with(|d| {
            d.conn
                .publish(subject, reply.as_deref(), headers.as_ref(), &payload)
                .map_err(|e| js::engine_error(&e))
        })
    }

    /// Subscribe. Options: `queue`, `max`, `callback(err, msg)`. Without a callback,
    /// iterate the subscription with `for await`.
    pub fn subscribe(
        &self,
        subject: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "SubscriptionOptions")] opts: JsValue,
    ) -> Result<Subscription, JsValue> {
        let queue = js::string_opt(&opts, "queue");
        let max = js::number_opt(&opts, "max")
            .filter(|m| *m >= 1.0)
            .map(|m| m as u64);
        let callback = js::function_opt(&opts, "callback");
        self.with(|d| {
            let sid = d
                .conn
                .subscribe(subject, queue.as_deref(), max)
                .map_err(|e| js::engine_error(&e))?;
            let sub = Rc::new(RefCell::new(SubShared::new(
                sid,
                subject.to_string(),
                max,
                callback,
            )));
            d.add_subscription(sub.clone());
            Ok(Subscription::new(sub, d.weak()))
        })
    }

    /// Publish a request and resolve with the first response. Options: `timeout` (ms,
    /// default 1000), `headers`. Rejects with `code` `503` when nobody listens and
    /// `TIMEOUT` when the time runs out.
    #[wasm_bindgen(unchecked_return_type = "Promise<Msg>")]
    pub fn request(
        &self,
        subject: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "Payload")] data: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RequestOptions")] opts: JsValue,
    ) -> Promise {
        let timeout = js::number_opt(&opts, "timeout").unwrap_or(1000.0);
        let parsed = js::payload(&data).and_then(|p| Ok((p, js::headers_opt(&opts)?)));
        self.promise(|d, resolvers| {
            let (payload, headers) = parsed?;
            let now = d.now();
            let timeout = Some(Duration::from_secs_f64(timeout.max(0.0) / 1000.0));
            let token = d
                .conn
                .request(subject, headers.as_ref(), &payload, timeout, now)
                .map_err(|e| js::engine_error(&e))?;
            d.requests.insert(token, resolvers);
            Ok(())
        })
    }

    /// Resolve when the server has processed everything sent so far.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn flush(&self) -> Promise {
        self.promise(|d, resolvers| {
            let token = d.conn.flush().map_err(|e| js::engine_error(&e))?;
            d.flushes.insert(token, resolvers);
            Ok(())
        })
    }

    /// Unsubscribe everything, deliver what is in flight, flush, close. Resolves once
    /// closed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn drain(&self) -> Promise {
        self.promise(|d, resolvers| {
            d.conn.drain().map_err(|e| js::engine_error(&e))?;
            d.closed_waiters.push(ClosedWaiter::Done(resolvers));
            Ok(())
        })
    }

    /// Close now (what was published is sent first). Resolves once closed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        self.promise(|d, resolvers| {
            if d.closed.is_some() {
                resolvers.resolve(&JsValue::UNDEFINED);
                return Ok(());
            }
            d.closed_waiters.push(ClosedWaiter::Done(resolvers));
            d.conn.close();
            Ok(())
        })
    }

    /// Resolves when the connection closes: with nothing, or with the `Error` that
    /// closed it.
    #[wasm_bindgen(unchecked_return_type = "Promise<void | Error>")]
    pub fn closed(&self) -> Promise {
        let (promise, resolvers) = js::deferred();
        let mut d = self.shared.borrow_mut();
        match &d.closed {
            Some(error) => {
                let value = error
                    .as_deref()
                    .map_or(JsValue::UNDEFINED, js::connect_error);
                resolvers.resolve(&value);
            }
            None => d.closed_waiters.push(ClosedWaiter::Closed(resolvers)),
        }
        promise
    }

    /// Status changes (`disconnect`, `reconnect`, `error`, `ldm`), for `for await`.
    pub fn status(&self) -> StatusStream {
        let channel = Rc::new(RefCell::new(Channel::default()));
        let mut d = self.shared.borrow_mut();
        if d.closed.is_some() {
            // Ended before anyone could wait on it: no calls to make.
            channel.borrow_mut().end(&mut Vec::new());
        } else {
            d.status.push(channel.clone());
        }
        StatusStream::new(channel)
    }

    /// A fresh unique inbox subject.
    #[wasm_bindgen(js_name = newInbox)]
    pub fn new_inbox(&self) -> Result<String, JsValue> {
        self.with(|d| Ok(d.conn.new_inbox()))
    }

    /// True once closed.
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.shared.borrow().conn.is_closed()
    }

    /// True while draining.
    #[wasm_bindgen(js_name = isDraining)]
    pub fn is_draining(&self) -> bool {
        let d = self.shared.borrow();
        d.conn.is_draining() && !d.conn.is_closed()
    }

    /// The URL of the current server.
    #[wasm_bindgen(js_name = getServer)]
    pub fn get_server(&self) -> String {
        let d = self.shared.borrow();
        d.conn.current_server().unwrap_or("").to_string()
    }

    /// The server's INFO.
    #[wasm_bindgen(getter, unchecked_return_type = "ServerInfo | undefined")]
    pub fn info(&self) -> JsValue {
        let d = self.shared.borrow();
        d.info.as_ref().map_or(JsValue::UNDEFINED, js::info_object)
    }
}
