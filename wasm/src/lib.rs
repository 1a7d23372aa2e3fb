//! # rnats-wasm
//!
//! A NATS client for the browser. The protocol logic — handshake, subscriptions and their
//! replay after a reconnect, request/reply, flush, drain, keep-alive, reconnect backoff —
//! is the engine's sans-IO [`ClientConnection`](rnats_engine::client::ClientConnection);
//! this crate only connects it to a `WebSocket`, a timer and JavaScript promises.
//!
//! The JavaScript API follows nats.ws:
//!
//! ```js
//! import init, { connect, headers } from "./rnats.js";
//! await init();
//! const nc = await connect({ servers: "ws://127.0.0.1:8080", name: "me" });
//! const sub = nc.subscribe("greet.*", { max: 10 });
//! (async () => { for await (const m of sub) m.respond(`hi ${m.subject}`); })();
//! const reply = await nc.request("greet.joe", "hello", { timeout: 1000 });
//! nc.publish("greet.bob", new Uint8Array([1, 2]), { headers: headers() });
//! await nc.flush();
//! await nc.drain();
//! ```
//!
//! `rnats.js` (in `js/`) re-exports the wasm-bindgen module and adds what wasm-bindgen
//! cannot declare: `Symbol.asyncIterator` on [`Subscription`] and [`StatusStream`].

#![warn(missing_docs)]

mod driver;
mod js;
mod msg;
mod subscription;

pub use driver::NatsConnection;
pub use msg::{headers, Msg, MsgHdrs};
pub use subscription::{StatusStream, Subscription};

use wasm_bindgen::prelude::*;

/// Connect to a NATS server over WebSocket.
///
/// Options (all optional): `servers` (a URL or a list; `ws://` is assumed without a
/// scheme; default `ws://127.0.0.1:8080`), `name`, `user`, `pass`, `token`, `timeout`
/// (connect timeout in ms, default 20000), `reconnect` (default true),
/// `maxReconnectAttempts` (default 10, -1 for ever), `reconnectTimeWait` (longest wait
/// between attempts in ms, default 2000), `reconnectJitter` (ms, default 100),
/// `pingInterval` (ms, default 120000), `maxPingOut` (default 2), `noEcho`, `inboxPrefix`.
///
/// Resolves to a [`NatsConnection`] once the server accepted the CONNECT; rejects with an
/// `Error` whose `code` is `CONNECTION_REFUSED`, `AUTHORIZATION_VIOLATION` or `TIMEOUT`.
#[wasm_bindgen(unchecked_return_type = "Promise<NatsConnection>")]
pub fn connect(
    #[wasm_bindgen(unchecked_optional_param_type = "ConnectionOptions")] opts: JsValue,
) -> js_sys::Promise {
    driver::connect(&opts)
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `connect()`, as in nats.ws. Times are in milliseconds. */
export interface ConnectionOptions {
  servers?: string | string[];
  name?: string;
  user?: string;
  pass?: string;
  token?: string;
  timeout?: number;
  reconnect?: boolean;
  maxReconnectAttempts?: number;
  reconnectTimeWait?: number;
  reconnectJitter?: number;
  pingInterval?: number;
  maxPingOut?: number;
  noEcho?: boolean;
  inboxPrefix?: string;
}
/** A payload: bytes, or a string sent as UTF-8. */
export type Payload = Uint8Array | string;
export interface PublishOptions { reply?: string; headers?: MsgHdrs | Record<string, string | string[]>; }
export interface RequestOptions { timeout?: number; headers?: MsgHdrs | Record<string, string | string[]>; }
export interface SubscriptionOptions { queue?: string; max?: number; callback?: (err: Error | null, msg: Msg) => void; }
export interface Status { type: "disconnect" | "reconnect" | "error" | "ldm"; data: string; }
export interface ServerInfo {
  server_id: string; server_name: string; version: string; proto: number; headers: boolean;
  max_payload: number; client_id: number; client_ip: string; ldm: boolean;
}
"#;
