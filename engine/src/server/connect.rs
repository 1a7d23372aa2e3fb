//! The CONNECT options a client sends, with nats-server's defaults for omitted fields.

use crate::prelude::*;
use serde::Deserialize;

/// Fields of `CONNECT {json}`. Omitted booleans take nats-server's defaults: `verbose`,
/// `pedantic` and `echo` default to true, everything else to false/empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    /// Acknowledge every op with `+OK`.
    pub verbose: bool,
    /// Strict checking of subjects.
    pub pedantic: bool,
    /// The client requires TLS.
    pub tls_required: bool,
    /// Token credential.
    pub auth_token: Option<String>,
    /// User name credential.
    pub user: Option<String>,
    /// Password credential.
    pub pass: Option<String>,
    /// Client name.
    pub name: Option<String>,
    /// Client library language.
    pub lang: Option<String>,
    /// Client library version.
    pub version: Option<String>,
    /// Protocol version: 0 original, 1 dynamic-INFO aware.
    pub protocol: i64,
    /// Deliver this connection's own messages back to it.
    pub echo: bool,
    /// NKey signature of the nonce.
    pub sig: Option<String>,
    /// User JWT.
    pub jwt: Option<String>,
    /// NKey public key.
    pub nkey: Option<String>,
    /// The client understands HPUB/HMSG.
    pub headers: bool,
    /// The client wants 503 status messages when a request reaches nobody.
    pub no_responders: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            name: None,
            lang: None,
            version: None,
            protocol: 0,
            echo: true,
            sig: None,
            jwt: None,
            nkey: None,
            headers: false,
            no_responders: false,
        }
    }
}

impl ConnectOptions {
    /// Parse the JSON of a CONNECT line.
    pub fn parse(json: &[u8]) -> Option<ConnectOptions> {
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_fields_take_nats_server_defaults() {
        let o = ConnectOptions::parse(b"{}").unwrap();
        assert!(o.verbose && o.pedantic && o.echo);
        assert!(!o.headers && !o.no_responders);
        let o = ConnectOptions::parse(br#"{"verbose":false,"headers":true,"extra":1}"#).unwrap();
        assert!(!o.verbose && o.headers && o.pedantic);
        assert!(ConnectOptions::parse(b"{nope").is_none());
    }
}
