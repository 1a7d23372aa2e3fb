//! JavaScript-side plumbing: host functions, promises, option objects, errors.

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use rnats_engine::client::{ClientOptions, Error, Headers, ServerInfo};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// Monotonic milliseconds (windows, workers and Node all have `performance`).
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    pub(crate) fn performance_now() -> f64;
    /// The global `setTimeout` (its handle is a number in browsers, an object in Node).
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(handler: &Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub(crate) fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub(crate) fn console_error(value: &JsValue);
    #[wasm_bindgen(js_namespace = Math, js_name = random)]
    fn math_random() -> f64;
    /// `String(value)`.
    #[wasm_bindgen(js_name = String)]
    fn js_string(value: &JsValue) -> String;
}

/// The two functions that settle a promise.
pub(crate) struct Resolvers {
    pub(crate) resolve: Function,
    pub(crate) reject: Function,
}

impl Resolvers {
    pub(crate) fn resolve(&self, value: &JsValue) {
        let _ = self.resolve.call1(&JsValue::NULL, value);
    }

    pub(crate) fn reject(&self, value: &JsValue) {
        let _ = self.reject.call1(&JsValue::NULL, value);
    }
}

/// A new promise and its resolvers.
pub(crate) fn deferred() -> (Promise, Resolvers) {
    let mut slot = None;
    let promise = Promise::new(&mut |resolve, reject| slot = Some(Resolvers { resolve, reject }));
    // The executor runs synchronously inside `new Promise`.
    let resolvers = slot.unwrap_or_else(|| Resolvers {
        resolve: Function::new_no_args(""),
        reject: Function::new_no_args(""),
    });
    (promise, resolvers)
}

/// Entropy for inbox names and reconnect jitter (not for anything secret).
pub(crate) fn random_seed() -> u64 {
    let high = (math_random() * 4_294_967_296.0) as u64;
    let low = (math_random() * 4_294_967_296.0) as u64;
    (high << 32) ^ low ^ (performance_now() * 1000.0) as u64
}

/// `Error` with nats.js's `code` property.
pub(crate) fn nats_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("NatsError");
    let _ = Reflect::set(&error, &"code".into(), &code.into());
    error.into()
}

/// An engine command error as a JS error.
pub(crate) fn engine_error(error: &Error) -> JsValue {
    nats_error(error.code(), &error.to_string())
}

/// The error that ends a connection (the engine's last error text) as a JS error.
pub(crate) fn connect_error(text: &str) -> JsValue {
    let code = if text.contains("Authorization Violation") {
        "AUTHORIZATION_VIOLATION"
    } else if text == "timeout" {
        "TIMEOUT"
    } else if text == "stale connection" {
        "STALE_CONNECTION"
    } else {
        "CONNECTION_REFUSED"
    };
    nats_error(code, text)
}

/// The message of a thrown value.
pub(crate) fn error_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "error".to_string())
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

pub(crate) fn string_opt(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

pub(crate) fn number_opt(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).as_f64()
}

fn bool_opt(obj: &JsValue, key: &str) -> Option<bool> {
    get(obj, key).as_bool()
}

pub(crate) fn function_opt(obj: &JsValue, key: &str) -> Option<Function> {
    get(obj, key).dyn_into::<Function>().ok()
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// nats.ws options → engine options.
pub(crate) fn client_options(opts: &JsValue) -> Result<ClientOptions, JsValue> {
    let mut o = ClientOptions {
        lang: "rnats-wasm".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..ClientOptions::default()
    };
    let servers = get(opts, "servers");
    o.servers = if let Some(one) = servers.as_string() {
        vec![one]
    } else if Array::is_array(&servers) {
        Array::from(&servers)
            .iter()
            .filter_map(|s| s.as_string())
            .collect()
    } else {
        vec!["ws://127.0.0.1:8080".to_string()]
    };
    for url in &mut o.servers {
        if !url.contains("://") {
            url.insert_str(0, "ws://");
        }
    }
    o.name = string_opt(opts, "name");
    o.user = string_opt(opts, "user");
    o.pass = string_opt(opts, "pass");
    o.token = string_opt(opts, "token");
    if let Some(ms) = number_opt(opts, "timeout") {
        o.connect_timeout = millis(ms);
    }
    if let Some(reconnect) = bool_opt(opts, "reconnect") {
        o.reconnect = reconnect;
    }
    if let Some(n) = number_opt(opts, "maxReconnectAttempts") {
        o.max_reconnect_attempts = (n >= 0.0).then_some(n as u32);
    }
    if let Some(ms) = number_opt(opts, "reconnectTimeWait") {
        o.reconnect_time_wait = millis(ms);
        o.reconnect_initial_wait = o.reconnect_initial_wait.min(o.reconnect_time_wait);
    }
    if let Some(ms) = number_opt(opts, "reconnectJitter") {
        o.reconnect_jitter = millis(ms);
    }
    if let Some(ms) = number_opt(opts, "pingInterval") {
        o.ping_interval = millis(ms);
    }
    if let Some(n) = number_opt(opts, "maxPingOut") {
        o.max_pings_out = n.max(1.0) as u32;
    }
    if let Some(no_echo) = bool_opt(opts, "noEcho") {
        o.echo = !no_echo;
    }
    if let Some(prefix) = string_opt(opts, "inboxPrefix") {
        o.inbox_prefix = prefix;
    }
    Ok(o)
}

/// A payload argument: bytes, a string (UTF-8), or nothing.
pub(crate) fn payload(data: &JsValue) -> Result<Vec<u8>, JsValue> {
    if data.is_undefined() || data.is_null() {
        Ok(Vec::new())
    } else if let Some(bytes) = data.dyn_ref::<Uint8Array>() {
        Ok(bytes.to_vec())
    } else if let Some(text) = data.as_string() {
        Ok(text.into_bytes())
    } else if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
        Ok(Uint8Array::new(buffer).to_vec())
    } else {
        Err(nats_error(
            "API_ERROR",
            "data must be a Uint8Array, an ArrayBuffer or a string",
        ))
    }
}

/// The `headers` option: a `MsgHdrs` (anything with an `encode()` that returns a header
/// block), or a plain object of `key: value | value[]`.
pub(crate) fn headers_opt(opts: &JsValue) -> Result<Option<Headers>, JsValue> {
    let value = get(opts, "headers");
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let bad = |e: rnats_engine::client::HeaderError| nats_error("BAD_HEADER", &e.to_string());
    if let Some(encode) = function_opt(&value, "encode") {
        let block = encode.call0(&value)?;
        let block = payload(&block)?;
        return Headers::decode(&block).map(Some).map_err(bad);
    }
    let mut headers = Headers::new();
    let object: &Object = value
        .dyn_ref()
        .ok_or_else(|| nats_error("BAD_HEADER", "headers must be a MsgHdrs or an object"))?;
    for entry in Object::entries(object).iter() {
        let entry = Array::from(&entry);
        let key = entry.get(0).as_string().unwrap_or_default();
        let values = entry.get(1);
        if Array::is_array(&values) {
            for v in Array::from(&values).iter() {
                headers
                    .append(&key, &v.as_string().unwrap_or_default())
                    .map_err(bad)?;
            }
        } else {
            // Numbers and booleans as JS prints them (`String(v)`): Rust's float
            // formatting would add ~20 KB to the module.
            let v = match values.as_string() {
                Some(text) => text,
                None => js_string(&values),
            };
            headers.append(&key, &v).map_err(bad)?;
        }
    }
    Ok(Some(headers))
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in entries {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
    }
    obj.into()
}

/// `{ type, data }` of `nc.status()`.
pub(crate) fn status_object(kind: &str, data: &str) -> JsValue {
    object(&[("type", kind.into()), ("data", data.into())])
}

/// `nc.info`.
pub(crate) fn info_object(info: &ServerInfo) -> JsValue {
    object(&[
        ("server_id", info.server_id.as_str().into()),
        ("server_name", info.server_name.as_str().into()),
        ("version", info.version.as_str().into()),
        ("proto", (info.proto as f64).into()),
        ("headers", info.headers.into()),
        ("max_payload", (info.max_payload as f64).into()),
        ("client_id", (info.client_id as f64).into()),
        ("client_ip", info.client_ip.as_str().into()),
        ("ldm", info.ldm.into()),
    ])
}
