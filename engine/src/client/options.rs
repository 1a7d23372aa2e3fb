//! What a client is configured with, the CONNECT it sends and the INFO it reads.

use crate::prelude::*;
use core::time::Duration;
use serde::{Deserialize, Serialize};

/// How a [`ClientConnection`](super::ClientConnection) connects, authenticates and
/// reconnects. Defaults follow nats.ws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Server URLs, tried in order (the engine hands them back in
    /// [`ClientEvent::OpenTransport`](super::ClientEvent::OpenTransport); their scheme is the
    /// frontend's business).
    pub servers: Vec<String>,
    /// Client name (shown by `/connz`).
    pub name: Option<String>,
    /// User name.
    pub user: Option<String>,
    /// Password.
    pub pass: Option<String>,
    /// Token (`auth_token` in CONNECT).
    pub token: Option<String>,
    /// Receive this connection's own publications.
    pub echo: bool,
    /// Client library language, reported in CONNECT.
    pub lang: String,
    /// Client library version, reported in CONNECT.
    pub version: String,
    /// Time allowed from opening a transport to the end of the CONNECT handshake.
    pub connect_timeout: Duration,
    /// Idle time between keep-alive PINGs.
    pub ping_interval: Duration,
    /// Unanswered keep-alive PINGs after which the connection is stale.
    pub max_pings_out: u32,
    /// Reconnect after losing an established connection.
    pub reconnect: bool,
    /// Failed reconnect attempts in a row before giving up (`None`: never give up).
    pub max_reconnect_attempts: Option<u32>,
    /// Delay before the first reconnect attempt; it doubles with every failed attempt…
    pub reconnect_initial_wait: Duration,
    /// …up to this.
    pub reconnect_time_wait: Duration,
    /// Up to this much random delay is added to every wait.
    pub reconnect_jitter: Duration,
    /// Bytes of publications kept while disconnected (further publishes fail).
    pub reconnect_buffer_size: usize,
    /// Prefix of inbox subjects.
    pub inbox_prefix: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            servers: Vec::new(),
            name: None,
            user: None,
            pass: None,
            token: None,
            echo: true,
            lang: "rust".to_string(),
            version: crate::server::RNATS_VERSION.to_string(),
            connect_timeout: Duration::from_secs(20),
            ping_interval: Duration::from_secs(120),
            max_pings_out: 2,
            reconnect: true,
            max_reconnect_attempts: Some(10),
            reconnect_initial_wait: Duration::from_millis(100),
            reconnect_time_wait: Duration::from_secs(2),
            reconnect_jitter: Duration::from_millis(100),
            reconnect_buffer_size: 8 * 1024 * 1024,
            inbox_prefix: "_INBOX".to_string(),
        }
    }
}

/// The CONNECT object this client sends.
#[derive(Debug, Serialize)]
struct ConnectJson<'a> {
    verbose: bool,
    pedantic: bool,
    tls_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    lang: &'a str,
    version: &'a str,
    protocol: u8,
    echo: bool,
    headers: bool,
    no_responders: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pass: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_token: Option<&'a str>,
}

impl ClientOptions {
    /// The JSON of this client's CONNECT: protocol 1 (async INFO), not verbose, headers
    /// and no-responders on, credentials if configured.
    pub fn connect_json(&self) -> Vec<u8> {
        let json = ConnectJson {
            verbose: false,
            pedantic: false,
            tls_required: false,
            name: self.name.as_deref(),
            lang: &self.lang,
            version: &self.version,
            protocol: 1,
            echo: self.echo,
            headers: true,
            no_responders: true,
            user: self.user.as_deref(),
            pass: self.pass.as_deref(),
            auth_token: self.token.as_deref(),
        };
        serde_json::to_vec(&json).unwrap_or_default()
    }

    /// Delay before reconnect attempt `attempt` (1 for the first), before jitter:
    /// `reconnect_initial_wait` doubled per earlier failure, capped at
    /// `reconnect_time_wait`.
    pub fn reconnect_backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.reconnect_initial_wait
            .saturating_mul(1u32 << doublings)
            .min(self.reconnect_time_wait)
    }
}

/// The fields of a server's INFO a client uses (others are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ServerInfo {
    /// Server id.
    pub server_id: String,
    /// Server name.
    pub server_name: String,
    /// Server version.
    pub version: String,
    /// Protocol version.
    pub proto: i64,
    /// Host the server listens on.
    pub host: String,
    /// Port the server listens on.
    pub port: u16,
    /// The server understands HPUB/HMSG.
    pub headers: bool,
    /// Largest message (headers + payload) the server accepts.
    pub max_payload: usize,
    /// Credentials are required.
    pub auth_required: bool,
    /// TLS is required.
    pub tls_required: bool,
    /// The server's id for this connection.
    pub client_id: u64,
    /// This client's address as the server sees it.
    pub client_ip: String,
    /// The server is in lame duck mode: move elsewhere.
    pub ldm: bool,
    /// Other cluster members' client URLs.
    pub connect_urls: Vec<String>,
    /// Other cluster members' WebSocket URLs.
    pub ws_connect_urls: Vec<String>,
}

impl ServerInfo {
    /// Parse INFO JSON.
    pub fn parse(json: &[u8]) -> Option<ServerInfo> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_json_fields() {
        let mut o = ClientOptions {
            name: Some("me".into()),
            user: Some("u".into()),
            pass: Some("p".into()),
            ..ClientOptions::default()
        };
        o.version = "1.2.3".into();
        let json = String::from_utf8(o.connect_json()).unwrap();
        assert_eq!(
            json,
            r#"{"verbose":false,"pedantic":false,"tls_required":false,"name":"me","lang":"rust","version":"1.2.3","protocol":1,"echo":true,"headers":true,"no_responders":true,"user":"u","pass":"p"}"#
        );
        let o = ClientOptions {
            token: Some("t".into()),
            ..ClientOptions::default()
        };
        let parsed = crate::server::connect::ConnectOptions::parse(&o.connect_json()).unwrap();
        assert_eq!(parsed.auth_token.as_deref(), Some("t"));
        assert!(!parsed.verbose && parsed.headers && parsed.no_responders);
        assert_eq!(parsed.protocol, 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let o = ClientOptions::default();
        let waits: Vec<u64> = (1..=7)
            .map(|a| o.reconnect_backoff(a).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(o.reconnect_backoff(1000), Duration::from_secs(2));
    }

    #[test]
    fn info_parses_nats_server_json() {
        let i = ServerInfo::parse(br#"{"server_id":"NABC","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576,"client_id":5,"unknown":[1]}"#).unwrap();
        assert_eq!(i.server_id, "NABC");
        assert_eq!(i.max_payload, 1_048_576);
        assert!(i.headers && !i.ldm);
        assert!(ServerInfo::parse(b"{nope").is_none());
    }
}
