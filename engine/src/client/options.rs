//! What a client is configured with, the CONNECT it sends and the INFO it reads.

use super::json::{Reader, Writer};
use crate::prelude::*;
use core::time::Duration;

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

impl ClientOptions {
    /// The JSON of this client's CONNECT: protocol 1 (async INFO), not verbose, headers
    /// and no-responders on, credentials if configured.
    pub fn connect_json(&self) -> Vec<u8> {
        let mut json = Writer::new();
        json.boolean("verbose", false);
        json.boolean("pedantic", false);
        json.boolean("tls_required", false);
        json.string_opt("name", self.name.as_deref());
        json.string("lang", &self.lang);
        json.string("version", &self.version);
        json.uint("protocol", 1);
        json.boolean("echo", self.echo);
        json.boolean("headers", true);
        json.boolean("no_responders", true);
        json.string_opt("user", self.user.as_deref());
        json.string_opt("pass", self.pass.as_deref());
        json.string_opt("auth_token", self.token.as_deref());
        json.finish()
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Parse INFO JSON: an object whose known fields have the right types (missing ones
    /// take their defaults, unknown ones are ignored); otherwise `None`. Accepts what
    /// serde_json accepts for this struct, except that a repeated field is not an error
    /// (the last one counts).
    pub fn parse(json: &[u8]) -> Option<ServerInfo> {
        let mut info = ServerInfo::default();
        Reader::new(json)
            .object(|key, value| {
                match key {
                    "server_id" => info.server_id = value.string()?,
                    "server_name" => info.server_name = value.string()?,
                    "version" => info.version = value.string()?,
                    "proto" => info.proto = value.integer()?,
                    "host" => info.host = value.string()?,
                    "port" => info.port = value.integer()?,
                    "headers" => info.headers = value.boolean()?,
                    "max_payload" => info.max_payload = value.integer()?,
                    "auth_required" => info.auth_required = value.boolean()?,
                    "tls_required" => info.tls_required = value.boolean()?,
                    "client_id" => info.client_id = value.integer()?,
                    "client_ip" => info.client_ip = value.string()?,
                    "ldm" => info.ldm = value.boolean()?,
                    "connect_urls" => info.connect_urls = value.strings()?,
                    "ws_connect_urls" => info.ws_connect_urls = value.strings()?,
                    _ => value.skip()?,
                }
                Ok(())
            })
            .ok()?;
        Some(info)
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

/// The hand-written JSON above against serde_json, which the rest of the engine uses.
#[cfg(test)]
mod serde_agreement {
    extern crate std;

    use super::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};
    use serde_json::{json, Map, Value};

    /// [`ServerInfo`] as serde would read it.
    #[derive(Debug, Default, PartialEq, Deserialize)]
    #[serde(default)]
    struct SerdeInfo {
        server_id: String,
        server_name: String,
        version: String,
        proto: i64,
        host: String,
        port: u16,
        headers: bool,
        max_payload: usize,
        auth_required: bool,
        tls_required: bool,
        client_id: u64,
        client_ip: String,
        ldm: bool,
        connect_urls: Vec<String>,
        ws_connect_urls: Vec<String>,
    }

    impl From<SerdeInfo> for ServerInfo {
        fn from(s: SerdeInfo) -> ServerInfo {
            ServerInfo {
                server_id: s.server_id,
                server_name: s.server_name,
                version: s.version,
                proto: s.proto,
                host: s.host,
                port: s.port,
                headers: s.headers,
                max_payload: s.max_payload,
                auth_required: s.auth_required,
                tls_required: s.tls_required,
                client_id: s.client_id,
                client_ip: s.client_ip,
                ldm: s.ldm,
                connect_urls: s.connect_urls,
                ws_connect_urls: s.ws_connect_urls,
            }
        }
    }

    fn serde_parse(json: &[u8]) -> Option<ServerInfo> {
        serde_json::from_slice::<SerdeInfo>(json)
            .ok()
            .map(Into::into)
    }

    /// The CONNECT object as serde would write it.
    #[derive(Serialize)]
    struct SerdeConnect<'a> {
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

    const FIELDS: &[&str] = &[
        "server_id",
        "server_name",
        "version",
        "proto",
        "host",
        "port",
        "headers",
        "max_payload",
        "auth_required",
        "tls_required",
        "client_id",
        "client_ip",
        "ldm",
        "connect_urls",
        "ws_connect_urls",
        "nonce",
        "jetstream",
        "cluster",
    ];

    /// Any JSON value, nested a little.
    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|f| json!(f)),
            Just(json!(65535)),
            Just(json!(65536)),
            Just(json!(-1)),
            "\\PC{0,12}".prop_map(Value::String),
            "[\\x00-\\x1f\"\\\\/é€😀a-z]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(("[a-z_]{1,8}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// An INFO-like object: known fields with values of any type, unknown fields.
    fn info_object() -> impl Strategy<Value = String> {
        let field = (proptest::sample::select(FIELDS), any_value());
        (proptest::collection::vec(field, 0..12), any::<bool>()).prop_map(|(fields, pretty)| {
            let object: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            if pretty {
                serde_json::to_string_pretty(&Value::Object(object)).unwrap()
            } else {
                serde_json::to_string(&Value::Object(object)).unwrap()
            }
        })
    }

    /// Same for well-typed values, so that most of them parse.
    fn valid_info() -> impl Strategy<Value = String> {
        (
            "\\PC{0,20}",
            any::<u16>(),
            any::<bool>(),
            any::<u32>(),
            any::<u64>(),
            proptest::collection::vec("\\PC{0,10}", 0..3),
            any_value(),
        )
            .prop_map(|(id, port, headers, max_payload, cid, urls, extra)| {
                json!({
                    "server_id": id, "version": "2.9.10", "proto": 1, "port": port,
                    "headers": headers, "max_payload": max_payload, "client_id": cid,
                    "connect_urls": urls, "unknown": extra,
                })
                .to_string()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn info_parses_like_serde(json in info_object()) {
            prop_assert_eq!(ServerInfo::parse(json.as_bytes()), serde_parse(json.as_bytes()));
        }

        #[test]
        fn valid_info_parses_like_serde(json in valid_info()) {
            let ours = ServerInfo::parse(json.as_bytes());
            prop_assert!(ours.is_some());
            prop_assert_eq!(ours, serde_parse(json.as_bytes()));
        }

        #[test]
        fn damaged_info_is_judged_like_serde(
            json in valid_info(),
            cut in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut bytes = json.into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            bytes.truncate(cut.index(bytes.len() + 1).max(i));
            let theirs = serde_json::from_slice::<SerdeInfo>(&bytes);
            // serde rejects a repeated field; this reader lets the last one count.
            let duplicate = theirs.as_ref().is_err_and(|e| e.to_string().contains("duplicate field"));
            if !duplicate {
                prop_assert_eq!(ServerInfo::parse(&bytes), theirs.ok().map(Into::into));
            }
        }

        #[test]
        fn connect_is_written_like_serde(
            name in proptest::option::of("\\PC{0,12}|[\\x00-\\x1f\"\\\\]{1,4}"),
            user in proptest::option::of("\\PC{0,8}"),
            pass in proptest::option::of("[\\x00-\\x7f]{0,8}"),
            token in proptest::option::of("\\PC{0,8}"),
            echo in any::<bool>(),
            version in "\\PC{0,6}",
        ) {
            let o = ClientOptions { name, user, pass, token, echo, version, ..ClientOptions::default() };
            let expected = serde_json::to_vec(&SerdeConnect {
                verbose: false,
                pedantic: false,
                tls_required: false,
                name: o.name.as_deref(),
                lang: &o.lang,
                version: &o.version,
                protocol: 1,
                echo: o.echo,
                headers: true,
                no_responders: true,
                user: o.user.as_deref(),
                pass: o.pass.as_deref(),
                auth_token: o.token.as_deref(),
            }).unwrap();
            prop_assert_eq!(o.connect_json(), expected);
        }
    }

    #[test]
    fn real_info_lines() {
        let nats_server = br#"{"server_id":"NDRTYOVR6IYAWGOIPX","server_name":"NDRTYOVR6IYAWGOIPX","version":"2.9.10","proto":1,"go":"go1.19.8","host":"127.0.0.1","port":4222,"headers":true,"max_payload":1048576,"jetstream":false,"client_id":6,"client_ip":"127.0.0.1","nonce":"abc","cluster":"c","connect_urls":["10.0.0.1:4222"],"ws_connect_urls":["10.0.0.1:8080"]}"#;
        let info = ServerInfo::parse(nats_server).unwrap();
        assert_eq!(Some(&info), serde_parse(nats_server).as_ref());
        assert_eq!(info.ws_connect_urls, ["10.0.0.1:8080"]);
        assert_eq!(info.client_id, 6);
        assert_eq!(ServerInfo::parse(b"{} x"), None);
        assert_eq!(ServerInfo::parse(b"null"), None);
        assert_eq!(ServerInfo::parse(br#"{"port":"4222"}"#), None);
    }
}
