//! The INFO a client gets on connect, and the server id.

use super::{ClientType, Server, NATS_VERSION};
use crate::prelude::*;
use serde::Serialize;

/// The INFO object, with nats-server's field names.
#[derive(Debug, Serialize)]
pub(crate) struct Info<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u8,
    go: &'a str,
    host: &'a str,
    port: u16,
    headers: bool,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    tls_verify: bool,
    max_payload: usize,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    jetstream: bool,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    ldm: bool,
    client_id: u64,
    client_ip: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    nonce: &'a str,
}

/// The INFO JSON for client `cid` at `client_ip`, with the `nonce` nkey users sign (none
/// when empty; the INFO updates of lame duck mode leave it out). WebSocket clients see the same INFO,
/// except that `auth_required` follows their own authenticator; `tls_required` describes
/// the client port, for them too (as nats-server 2.9.10 sends it).
pub(crate) fn info_json(
    server: &Server,
    cid: u64,
    client_ip: &str,
    client_type: ClientType,
    nonce: &str,
) -> Vec<u8> {
    let o = server.options();
    let info = Info {
        server_id: server.id(),
        server_name: server.name(),
        version: NATS_VERSION,
        proto: 1,
        go: concat!("rnats ", env!("CARGO_PKG_VERSION")),
        host: &o.host,
        port: o.port.unwrap_or(0),
        headers: true,
        tls_required: o.tls.is_some(),
        tls_verify: o.tls.as_ref().is_some_and(|t| t.verify),
        max_payload: o.max_payload,
        auth_required: server.authenticator_for(client_type).is_required(),
        jetstream: false,
        ldm: server.in_lame_duck(),
        client_id: cid,
        client_ip,
        nonce,
    };
    serde_json::to_vec(&info).unwrap_or_default()
}

pub(crate) use crate::rand::splitmix64;

/// A server id shaped like nats-server's (an NKey server public key: `N` + 55 base32
/// characters). It is an identifier only; no key pair stands behind it.
pub(crate) fn server_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut state = seed;
    let mut id = String::with_capacity(56);
    id.push('N');
    while id.len() < 56 {
        let mut r = splitmix64(&mut state);
        for _ in 0..12 {
            if id.len() == 56 {
                break;
            }
            id.push(ALPHABET[(r & 31) as usize] as char);
            r >>= 5;
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_shape() {
        let id = server_id(42);
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert_ne!(id, server_id(43));
    }
}
