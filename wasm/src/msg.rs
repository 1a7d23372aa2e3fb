//! Messages and headers as JavaScript sees them.

use crate::driver::{pump, Driver};
use crate::js;
use js_sys::{Array, Uint8Array};
use rnats_engine::client::{Error, Headers, Message};
use std::cell::RefCell;
use std::rc::Weak;
use wasm_bindgen::prelude::*;

/// A received message: `subject`, `data`, `reply`, `headers`, `respond()`.
#[wasm_bindgen]
pub struct Msg {
    inner: Message,
    conn: Weak<RefCell<Driver>>,
}

impl Msg {
    pub(crate) fn new(inner: Message, conn: Weak<RefCell<Driver>>) -> Msg {
        Msg { inner, conn }
    }
}

#[wasm_bindgen]
impl Msg {
    /// The subject it was published to.
    #[wasm_bindgen(getter)]
    pub fn subject(&self) -> String {
        self.inner.subject_str().to_string()
    }

    /// The reply subject (empty if none, as in nats.ws).
    #[wasm_bindgen(getter)]
    pub fn reply(&self) -> String {
        self.inner.reply_str().unwrap_or("").to_string()
    }

    /// The subscription id it was delivered to.
    #[wasm_bindgen(getter)]
    pub fn sid(&self) -> f64 {
        self.inner.sid as f64
    }

    /// The payload (a copy; each read makes a new array).
    #[wasm_bindgen(getter)]
    pub fn data(&self) -> Uint8Array {
        Uint8Array::from(&self.inner.payload[..])
    }

    /// The headers, if the message has any.
    #[wasm_bindgen(getter)]
    pub fn headers(&self) -> Option<MsgHdrs> {
        self.inner
            .decode_headers()
            .and_then(Result::ok)
            .map(|inner| MsgHdrs { inner })
    }

    /// The payload as UTF-8 text.
    pub fn string(&self) -> String {
        String::from_utf8_lossy(&self.inner.payload).into_owned()
    }

    /// The payload parsed as JSON.
    pub fn json(&self) -> Result<JsValue, JsValue> {
        js_sys::JSON::parse(&self.string())
    }

    /// Publish `data` to the reply subject. Options: `headers`. False if the message has
    /// no reply subject.
    pub fn respond(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "Payload")] data: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PublishOptions")] opts: JsValue,
    ) -> Result<bool, JsValue> {
        let Some(reply) = self.inner.reply_str() else {
            return Ok(false);
        };
        let payload = js::payload(&data)?;
        let headers = js::headers_opt(&opts)?;
        let shared = self
            .conn
            .upgrade()
            .ok_or_else(|| js::engine_error(&Error::Closed))?;
        let result = shared
            .borrow_mut()
            .conn
            .publish(reply, None, headers.as_ref(), &payload);
        pump(&shared);
        result.map(|()| true).map_err(|e| js::engine_error(&e))
    }
}

/// Message headers (nats.ws's `MsgHdrs`): ordered, repeatable keys, with an optional
/// status code.
#[wasm_bindgen]
#[derive(Clone, Default)]
pub struct MsgHdrs {
    inner: Headers,
}

/// New headers, optionally with a status `code` and `description`.
#[wasm_bindgen]
pub fn headers(code: Option<u16>, description: Option<String>) -> Result<MsgHdrs, JsValue> {
    let inner = match code {
        Some(code) => Headers::with_status(code, description.as_deref().unwrap_or(""))
            .map_err(|e| js::nats_error("BAD_HEADER", &e.to_string()))?,
        None => Headers::new(),
    };
    Ok(MsgHdrs { inner })
}

#[wasm_bindgen]
impl MsgHdrs {
    /// Empty headers.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MsgHdrs {
        MsgHdrs::default()
    }

    /// The first value of `key` (empty if none).
    pub fn get(&self, key: &str) -> String {
        self.inner.get(key).unwrap_or("").to_string()
    }

    /// True if `key` is present.
    pub fn has(&self, key: &str) -> bool {
        self.inner.get(key).is_some()
    }

    /// Replace the values of `key`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), JsValue> {
        self.inner
            .set(key, value)
            .map_err(|e| js::nats_error("BAD_HEADER", &e.to_string()))
    }

    /// Add a value to `key`.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), JsValue> {
        self.inner
            .append(key, value)
            .map_err(|e| js::nats_error("BAD_HEADER", &e.to_string()))
    }

    /// Remove `key`.
    pub fn delete(&mut self, key: &str) {
        self.inner.remove(key);
    }

    /// Every distinct key, in order.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn keys(&self) -> Array {
        let keys = Array::new();
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in self.inner.iter() {
            if !seen.contains(&k) {
                seen.push(k);
                keys.push(&k.into());
            }
        }
        keys
    }

    /// Every value of `key`, in order.
    #[wasm_bindgen(unchecked_return_type = "string[]")]
    pub fn values(&self, key: &str) -> Array {
        self.inner.get_all(key).map(JsValue::from).collect()
    }

    /// The status code (0 if none).
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> u16 {
        self.inner.status().unwrap_or(0)
    }

    /// The status description.
    #[wasm_bindgen(getter)]
    pub fn description(&self) -> String {
        self.inner.description().to_string()
    }

    /// True for an error status (code ≥ 300).
    #[wasm_bindgen(getter, js_name = hasError)]
    pub fn has_error(&self) -> bool {
        self.inner.status().is_some_and(|c| c >= 300)
    }

    /// The header block as sent on the wire (`NATS/1.0…`).
    pub fn encode(&self) -> Uint8Array {
        let mut block = Vec::with_capacity(self.inner.encoded_len());
        self.inner.encode(&mut block);
        Uint8Array::from(&block[..])
    }
}
